//! Shared test fixtures: a real registry, images pushed to it, and real signatures.
#![allow(dead_code)]

pub mod registry;
