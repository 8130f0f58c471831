//! Quarantine of failing images in Amazon ECR, and its manual release.
//!
//! Quarantine never deletes an image. On a failing digest it:
//! 1. adds a tag `quarantine-YYYYMMDDTHHMMSSZ-<12 hex of the digest>` (a new tag, so it works on
//!    immutable repositories too) by `PutImage` of the digest's own manifest;
//! 2. removes every other tag of the digest (`BatchDeleteImage` by tag), which is safe only
//!    because step 1 keeps the digest referenced: a digest with no quarantine tag is never
//!    untagged;
//! 3. optionally moves it to the ARCHIVE storage class (`UpdateImageStorageClass`).
//!
//! ECR has no conditional untag: if someone removes every quarantine tag between the confirm of
//! step 2 and its `BatchDeleteImage`, ECR deletes the image with its last tag. The quarantine
//! then puts the manifest it read just before back under its quarantine tag (and says so in
//! `restored_after_deletion`). Every race and its outcome: `docs/quarantine-safety.md`.
//!
//! Every step is skipped when already done, so repeated and duplicate events are harmless. A
//! later pass never restores anything: [`release`] (the `shipgate quarantine release` command)
//! does, on an operator's explicit request. Used by `shipgate-lambda` and by the CLI.

mod actions;
mod command;
mod ecr;

pub use actions::{quarantine, release};
pub use command::{run_command, QuarantineCommand};
pub use ecr::{image_exists, list, scans_on_push};

use serde::Serialize;

use crate::reference::{Digest, ImageRef};
use crate::registry::ecr::parse_ecr_host;

/// Every tag the quarantine adds starts with this; pushes of such tags are the quarantine's own.
pub const QUARANTINE_TAG_PREFIX: &str = "quarantine-";

/// Whether `tag` was added by a quarantine.
pub fn is_quarantine_tag(tag: &str) -> bool {
    tag.starts_with(QUARANTINE_TAG_PREFIX)
}

/// `quarantine-YYYYMMDDTHHMMSSZ-HHHHHHHHHHHH` for `at` (UTC) and the first 12 hex characters of
/// `digest`: only characters ECR allows in tags. The digest part keeps two images quarantined in
/// the same second from sharing a tag, which in a MUTABLE repository would move it from the
/// first image (already stripped of its other tags) to the second.
pub fn quarantine_tag(at: time::OffsetDateTime, digest: &Digest) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{QUARANTINE_TAG_PREFIX}{:04}{:02}{:02}T{:02}{:02}{:02}Z-{}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        &digest.hex()[..12]
    )
}

/// One image in ECR, by digest: `{registry_id}.dkr.ecr.{region}.amazonaws.com/{repository}@{digest}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EcrImage {
    /// The 12-digit account of the registry (ECR's `registryId`).
    pub registry_id: String,
    pub region: String,
    pub repository: String,
    pub digest: Digest,
}

impl EcrImage {
    /// Parses `ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY@sha256:…`; a tag is refused
    /// because quarantine and release are about one digest, never what a tag points to now.
    pub fn parse(reference: &str) -> Result<EcrImage, QuarantineError> {
        let image: ImageRef = reference
            .trim()
            .parse()
            .map_err(|e| QuarantineError::Usage(format!("{e}")))?;
        let host = parse_ecr_host(&image.repository.registry).ok_or_else(|| {
            QuarantineError::Usage(format!(
                "`{reference}` is not an Amazon ECR image: expected ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY@sha256:…"
            ))
        })?;
        let digest = image.digest.ok_or_else(|| {
            QuarantineError::Usage(format!(
                "`{reference}` names no digest: give the quarantined image as …/REPOSITORY@sha256:… (`shipgate quarantine list` shows them)"
            ))
        })?;
        if image.tag.is_some() {
            return Err(QuarantineError::Usage(format!(
                "`{reference}` has a tag: name the image by digest only (…/REPOSITORY@sha256:…)"
            )));
        }
        Ok(EcrImage {
            registry_id: host.account,
            region: host.region,
            repository: image.repository.name,
            digest,
        })
    }

    /// The registry host: `ACCOUNT.dkr.ecr.REGION.amazonaws.com` (`….amazonaws.com.cn` in the
    /// China regions, whose images exist under no other name).
    pub fn registry_host(&self) -> String {
        let domain = if self.region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("{}.dkr.ecr.{}.{domain}", self.registry_id, self.region)
    }

    /// The full reference by digest.
    pub fn reference(&self) -> String {
        format!(
            "{}/{}@{}",
            self.registry_host(),
            self.repository,
            self.digest
        )
    }
}

/// Why a quarantine, release or listing could not be done.
#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    /// The caller's input is unusable.
    #[error("{0}")]
    Usage(String),
    /// The image or repository does not exist (any more).
    #[error("{0}")]
    NotFound(String),
    /// Done nothing, on purpose: the request would lose a reference or steal a tag.
    #[error("{0}")]
    Refused(String),
    /// ECR answered with an error or could not be reached; retrying is safe.
    #[error("{0}")]
    Aws(String),
}

/// The switches of a quarantine (`SHIPGATE_DRY_RUN`, `SHIPGATE_ARCHIVE` in the Lambda).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuarantineSettings {
    /// Report the planned actions, change nothing.
    pub dry_run: bool,
    /// Also move the image to the ARCHIVE storage class.
    pub archive: bool,
}

/// What a quarantine did (or, in a dry run, would do). The Lambda returns it and writes it into
/// its audit line; `removed_tags` is what an operator gives back to `shipgate quarantine release`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantineOutcome {
    pub registry_id: String,
    pub region: String,
    pub repository: String,
    pub digest: String,
    /// The quarantine tag added now, or the one already there.
    pub quarantine_tag: String,
    /// Tags removed (in a dry run: that would be removed).
    pub removed_tags: Vec<String>,
    /// Whether the image was moved to ARCHIVE by this call (in a dry run: would be).
    pub archived: bool,
    pub dry_run: bool,
    /// The image already carried a quarantine tag; no second one was added.
    pub already_quarantined: bool,
    /// ECR deleted the image during the untag (someone removed its quarantine tag between the
    /// confirm and the untag) and the quarantine put it back under its quarantine tag.
    pub restored_after_deletion: bool,
    /// One sentence per action, in order: taken, or planned in a dry run.
    pub actions: Vec<String>,
}

/// What a release did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseOutcome {
    pub image: String,
    /// Tags now pointing at the digest again (including ones that already did).
    pub restored_tags: Vec<String>,
    /// Quarantine tags removed (none with `--keep-quarantine-tag`).
    pub removed_quarantine_tags: Vec<String>,
    /// A restore from ARCHIVE was requested; ECR is still activating the image, so no tags were
    /// changed yet: run the same release again once it is ACTIVE.
    pub activating: bool,
}

/// A digest that carries a quarantine tag, as `shipgate quarantine list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantinedImage {
    pub digest: String,
    pub quarantine_tags: Vec<String>,
    /// Tags besides the quarantine ones (normally none).
    pub other_tags: Vec<String>,
}

/// Checks a tag against ECR's rules: 1 to 128 of `[A-Za-z0-9_.-]`, not starting with `.` or `-`.
pub(crate) fn check_tag(tag: &str) -> Result<(), QuarantineError> {
    if crate::reference::is_valid_tag(tag) {
        Ok(())
    } else {
        Err(QuarantineError::Usage(format!(
            "`{tag}` is not a valid tag: 1 to 128 of [A-Za-z0-9_.-], not starting with . or -"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:31dc72a13a0c34b40eb95419d2b2fd67320c856baf3b72da518023ee8d370aee";

    #[test]
    fn quarantine_tag_is_a_valid_utc_tag() {
        let at = time::macros::datetime!(2026-11-23 15:04:05 +02:00);
        let tag = quarantine_tag(at, &D.parse().unwrap());
        assert_eq!(tag, "quarantine-20261123T130405Z-31dc72a13a0c");
        assert!(is_quarantine_tag(&tag));
        check_tag(&tag).unwrap();
        assert!(!is_quarantine_tag("latest"));
        // Two images in the same second get different tags.
        let other = format!("sha256:{}", "e".repeat(64)).parse().unwrap();
        assert_ne!(quarantine_tag(at, &other), tag);
    }

    #[test]
    fn parses_ecr_images_by_digest_only() {
        let image = EcrImage::parse(&format!(
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app@{D}"
        ))
        .unwrap();
        assert_eq!(image.registry_id, "123456789012");
        assert_eq!(image.region, "eu-west-1");
        assert_eq!(image.repository, "team/app");
        assert_eq!(
            image.reference(),
            format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app@{D}")
        );
        // China regions keep their own domain; a reference names the image it was parsed from.
        let cn = format!("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app@{D}");
        assert_eq!(EcrImage::parse(&cn).unwrap().reference(), cn);
        for bad in [
            format!("ghcr.io/team/app@{D}"),
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:v1".to_string(),
            format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:v1@{D}"),
            "not a reference".to_string(),
        ] {
            assert!(
                matches!(EcrImage::parse(&bad), Err(QuarantineError::Usage(_))),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn tags_follow_ecr_rules() {
        check_tag("v1.2_3-rc").unwrap();
        for bad in ["", "-x", ".x", "a b", &"x".repeat(129)] {
            assert!(check_tag(bad).is_err(), "{bad:?}");
        }
    }
}
