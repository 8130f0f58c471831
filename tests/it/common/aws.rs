//! The real `shipgate` binary pointed at a local AWS API (moto, or a wire-checking stub) with
//! nothing else of the environment, and the runtime the AWS SDK fixtures run on.

use std::process::{Command, Output};

use super::moto::REGION;

/// The environment that points the AWS SDK at `endpoint` with test credentials and no
/// configuration files, instance metadata or profile of the machine running the tests.
pub fn aws_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", REGION.into()),
        ("AWS_CONFIG_FILE", "/nonexistent".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("NO_PROXY", "127.0.0.1,localhost".into()),
    ]
}

/// `shipgate ARGS` with [`aws_env`] (and `PATH`) as its whole environment.
pub fn shipgate_with_aws(endpoint: &str, args: &[&str]) -> Output {
    // `option_env!`: this module is also compiled into the examples, where cargo defines no
    // binary path.
    let Some(binary) = option_env!("CARGO_BIN_EXE_shipgate") else {
        panic!("`shipgate` can only be run from the integration tests");
    };
    Command::new(binary)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(aws_env(endpoint))
        .output()
        .expect("run shipgate")
}

/// A two-worker runtime for the SDK clients that set fixtures up in moto.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}
