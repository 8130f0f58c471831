//! Integration tests: one binary, a module per concern (linking the AWS SDK once, not per file).

mod common;
mod fixtures_selftest;
mod http_api;
mod registry_client;
mod gate_harness;
mod signatures_e2e;
mod vectors;
