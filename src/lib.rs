//! shipgate: may this image be deployed?
//!
//! The library reads top-down: policy model → evidence collection (registry) → verification →
//! evaluation → decision → adapters (HTTP, CLI).
#![forbid(unsafe_code)]

pub mod policy;
pub mod reference;

pub mod evidence;
pub mod registry;

pub mod verify;

pub mod evaluate;

pub mod cache;
pub mod decision;
pub mod gate;

pub mod cli;
pub mod config;
pub mod server;
pub mod verify_bundle;
