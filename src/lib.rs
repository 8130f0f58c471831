//! shipgate: may this image be deployed?
//!
//! The library reads top-down: policy model → evidence collection (registry) → verification →
//! evaluation → decision → adapters (HTTP with caller auth, CLI, GitHub Actions, ECR quarantine;
//! the Lambda adapter is the `lambda/` crate).
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

pub mod auth;
pub mod cli;
pub mod config;
pub mod github_action;
pub mod net;
pub mod quarantine;
pub mod server;
pub mod verify_bundle;
