//! `shipgate-lambda`: the gate on AWS Lambda (CodePipeline jobs, ECR push/scan events).
//!
//! Skeleton: the event handling arrives with the integrations issue. Until then the binary
//! loads its policies (so a broken bundle is caught at deploy time) and refuses every event,
//! which is the fail-closed answer for a gate that cannot yet decide.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::var_os("SHIPGATE_POLICIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("policies"));
    match shipgate::policy::PolicySet::load(&[dir]) {
        Ok(set) => {
            eprintln!(
                "shipgate-lambda: {} policies load; event handling is not implemented yet, refusing",
                set.iter().count()
            );
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("shipgate-lambda: {e}");
            ExitCode::from(2)
        }
    }
}
