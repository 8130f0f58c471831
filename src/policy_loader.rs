//! Loading policies in the service: the one place every entry point (`check`, `serve`,
//! `policy validate`, the GitHub step, the Lambda function, reloads) reads policy files.
//!
//! Two phases keep the core free of I/O runtimes: the core parses and checks the files
//! (`PolicySet::drafts`) and says which AWS KMS keys they name; those are fetched here, each
//! distinct URI once; then the core finishes the policies with the keys (`PolicySet::resolve`).
//! A file that names no KMS key costs no AWS call.

use std::path::PathBuf;

use crate::kms::{fetch_keys, AwsKms, KmsKeys};
use crate::policy::{FetchedKmsKeys, PolicyError, PolicySet};

/// Loads the policies at `paths` (files, or directories of `*.yaml`/`*.yml`), fetching their
/// AWS KMS keys with the standard AWS configuration chain.
pub async fn load_policies(paths: &[PathBuf]) -> Result<PolicySet, PolicyError> {
    load_policies_with(paths, &AwsKms::new()).await
}

/// [`load_policies`] with the KMS keys from `kms`.
pub async fn load_policies_with(
    paths: &[PathBuf],
    kms: &dyn KmsKeys,
) -> Result<PolicySet, PolicyError> {
    let drafts = PolicySet::drafts(paths)?;
    let named = drafts.iter().any(|d| d.kms_keys().next().is_some());
    let keys = if named {
        fetch_keys(drafts.iter().flat_map(|d| d.kms_keys()), kms).await
    } else {
        FetchedKmsKeys::new()
    };
    PolicySet::resolve(drafts, &keys)
}

#[cfg(test)]
mod tests {
    /// The hot reload runs the loader on a spawned task, so its future must be `Send`.
    #[test]
    fn the_loader_future_is_send() {
        fn send<T: Send>(_: &T) {}
        let paths = Vec::new();
        let kms = crate::kms::AwsKms::new();
        send(&super::load_policies_with(&paths, &kms));
        send(&super::load_policies(&paths));
    }
}
