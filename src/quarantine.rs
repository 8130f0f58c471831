//! Quarantine of failing images in Amazon ECR, and its manual release.
//! (Skeleton: filled in by the integrations work.)

use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum QuarantineCommand {
    /// Restore tags of a quarantined image.
    Release {
        /// registry/repository@sha256:…
        image: String,
    },
}

pub async fn run_command(_command: QuarantineCommand) -> u8 {
    crate::cli::usage("quarantine is not implemented yet".into())
}
