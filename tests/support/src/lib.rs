//! Test servers shared by the workspace's integration tests (the root `tests/it` and
//! `lambda/tests`): a real `moto` server, free loopback ports, and a loopback implementation of
//! the AWS Lambda Runtime API. Test code only; never a dependency of a shipped binary.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

pub mod lambda_runtime_api;
pub mod moto;
pub mod oidc;

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}
