//! `shipgate github-action`: the logic of `github-action/action.yml`, tested in Rust.
//! (Skeleton: filled in by the integrations work.)

use clap::Args;

#[derive(Args, Debug)]
pub struct GithubActionArgs {
    /// An image to decide. Repeatable.
    #[arg(long = "image", required = true)]
    pub images: Vec<String>,
}

pub async fn run(_args: GithubActionArgs) -> u8 {
    crate::cli::usage("github-action is not implemented yet".into())
}
