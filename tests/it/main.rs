//! Integration tests: one binary, a module per concern (linking the AWS SDK once, not per file).

mod common;
mod fixtures_selftest;
mod gate_harness;
mod http_api;
mod registry_client;
mod serve;
mod signatures_e2e;
mod vectors;
