//! `shipgate quarantine release|list`: the operator's side of the quarantine.
//!
//! Exit codes: 0 done; 1 refused (not quarantined, a tag belongs to another image) or not
//! finished (the image is still being restored from ARCHIVE: run it again); 2 usage, a missing
//! image or an AWS error. Region and registry come from the image's host name; credentials and
//! endpoints from the standard AWS environment (`AWS_ENDPOINT_URL_ECR` is honoured).

use clap::Subcommand;

use super::{EcrImage, QuarantineError};
use crate::reference::ImageRef;
use crate::registry::ecr::parse_ecr_host;
use crate::setup::{usage, EXIT_FAIL, EXIT_PASS};

#[derive(Subcommand, Debug)]
pub enum QuarantineCommand {
    /// Give a quarantined image its tags back, then remove its quarantine tags.
    ///
    /// An archived image is first restored to STANDARD; ECR takes a while to activate it, so
    /// run the same command again when it says so. An image that still fails its policies is
    /// quarantined again by the next push event of a restored tag: fix the policy first.
    Release {
        /// ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY@sha256:…
        image: String,
        /// A tag to restore (repeatable): the `removed_tags` of the quarantine's audit line.
        #[arg(long = "tag", required = true, value_name = "TAG")]
        tags: Vec<String>,
        /// Restore the tags but keep the quarantine tags (it stays listed as quarantined).
        #[arg(long)]
        keep_quarantine_tag: bool,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the images of a repository that carry a quarantine tag.
    List {
        /// ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY
        repository: String,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run_command(command: QuarantineCommand) -> u8 {
    match command {
        QuarantineCommand::Release {
            image,
            tags,
            keep_quarantine_tag,
            json,
        } => release(&image, &tags, keep_quarantine_tag, json).await,
        QuarantineCommand::List { repository, json } => list(&repository, json).await,
    }
}

async fn client(region: &str) -> aws_sdk_ecr::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .load()
        .await;
    aws_sdk_ecr::Client::new(&config)
}

fn exit_for(e: QuarantineError) -> u8 {
    match e {
        QuarantineError::Refused(why) => {
            eprintln!("shipgate: refused: {why}");
            EXIT_FAIL
        }
        other => usage(other.to_string()),
    }
}

async fn release(image: &str, tags: &[String], keep_quarantine_tag: bool, json: bool) -> u8 {
    let image = match EcrImage::parse(image) {
        Ok(i) => i,
        Err(e) => return exit_for(e),
    };
    let client = client(&image.region).await;
    let outcome = match super::release(&client, &image, tags, keep_quarantine_tag).await {
        Ok(o) => o,
        Err(e) => return exit_for(e),
    };
    tracing::info!(
        target: "shipgate::audit",
        audit = true,
        action = "release",
        image = %outcome.image,
        restored_tags = ?outcome.restored_tags,
        removed_quarantine_tags = ?outcome.removed_quarantine_tags,
        activating = outcome.activating,
        "quarantine release"
    );
    if json {
        match serde_json::to_string_pretty(&outcome) {
            Ok(s) => println!("{s}"),
            Err(e) => return usage(format!("cannot render the outcome: {e}")),
        }
    } else if outcome.activating {
        println!(
            "{}: restoring from ARCHIVE to STANDARD; no tag changed yet. Run this command again once the image is ACTIVE.",
            outcome.image
        );
    } else {
        println!(
            "released {}\n  tags restored: {}\n  quarantine tags removed: {}",
            outcome.image,
            outcome.restored_tags.join(", "),
            if outcome.removed_quarantine_tags.is_empty() {
                "none (kept)".to_string()
            } else {
                outcome.removed_quarantine_tags.join(", ")
            }
        );
    }
    if outcome.activating {
        EXIT_FAIL
    } else {
        EXIT_PASS
    }
}

async fn list(repository: &str, json: bool) -> u8 {
    let parsed: Result<ImageRef, _> = repository.trim().parse();
    let (host, name) = match parsed {
        Ok(r) if r.tag.is_none() && r.digest.is_none() => {
            match parse_ecr_host(&r.repository.registry) {
                Some(host) => (host, r.repository.name),
                None => return usage(format!(
                    "`{repository}` is not an Amazon ECR repository: expected ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY"
                )),
            }
        }
        Ok(_) => {
            return usage(format!(
                "`{repository}`: name the repository without a tag or digest"
            ))
        }
        Err(e) => return usage(e.to_string()),
    };
    let client = client(&host.region).await;
    let images = match super::list(&client, &host.account, &host.region, &name).await {
        Ok(i) => i,
        Err(e) => return exit_for(e),
    };
    if json {
        match serde_json::to_string_pretty(&images) {
            Ok(s) => println!("{s}"),
            Err(e) => return usage(format!("cannot render the list: {e}")),
        }
    } else if images.is_empty() {
        println!("no quarantined images in {repository}");
    } else {
        for image in &images {
            let others = if image.other_tags.is_empty() {
                String::new()
            } else {
                format!("  (also tagged {})", image.other_tags.join(", "))
            };
            println!(
                "{}@{}  {}{others}",
                repository.trim(),
                image.digest,
                image.quarantine_tags.join(", ")
            );
        }
    }
    EXIT_PASS
}
