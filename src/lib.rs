//! shipgate: may this image be deployed?
//!
//! One decision flows one way: resolve the tag → collect the evidence the policies need
//! (`evidence`, behind the `Registry` and `ScanFindings` ports) → `evaluate` (pure, in
//! `shipgate-core`) → `Decision` → adapters (HTTP with caller auth, CLI, GitHub Actions, ECR
//! quarantine; the Lambda adapter is the `lambda/` crate).
#![forbid(unsafe_code)]

// The pure core, under the paths the service has always used.
pub use shipgate_core::{decision, evaluate, policy, reference, verify};

pub mod evidence;
pub mod registry;

pub mod cache;
pub mod gate;

pub mod api_docs;
pub mod auth;
pub mod cli;
pub mod config;
pub mod github_action;
pub mod kms;
pub mod net;
pub mod policy_loader;
pub mod quarantine;
pub mod reload;
pub mod server;
pub mod setup;
pub mod trust;
pub mod verify_bundle;
pub mod verify_notation;
