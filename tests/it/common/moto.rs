//! The `moto` server lives in the workspace's test-support crate (shared with `lambda/tests`).
pub use shipgate_test_support::moto::*;
