//! Integration tests: one binary, a module per concern (linking the AWS SDK once, not per file).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod action_install;
mod api_docs;
mod auth;
mod base_images;
mod cases;
mod common;
mod conformance;
mod deadlines;
mod docs_examples;
mod ecr_findings;
mod ecr_signing;
mod evidence_bounds;
mod fixtures_selftest;
mod fulcio_claims;
mod gate_harness;
mod github_action;
mod hostile_server;
mod http_api;
mod kms;
mod notary_signer_selftest;
mod notation;
mod notation_e2e;
mod notation_vectors;
mod outbound;
mod packaging;
mod provenance;
mod quarantine;
mod registry_client;
mod reload;
mod serve;
mod signatures_e2e;
mod snapshots;
mod trust_roots;
mod tuf;
mod vectors;
