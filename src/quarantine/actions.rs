//! Quarantine and release: the order of the ECR calls, which is what keeps them safe.
//!
//! - A tag is only deleted while the digest carries another reference (a quarantine tag during
//!   quarantine, the restored tags during release), confirmed by reading the image again just
//!   before, so ECR never deletes the image itself.
//! - Every step is skipped when already done: repeating a call changes nothing more.

use aws_sdk_ecr::types::ImageStatus;
use aws_sdk_ecr::Client;

use super::ecr::{
    delete_tags, describe, put_manifest, put_tag, read_manifest, set_storage_class, tag_owner,
};
use super::{
    check_tag, is_quarantine_tag, quarantine_tag, EcrImage, QuarantineError, QuarantineOutcome,
    QuarantineSettings, ReleaseOutcome,
};

/// Quarantines `image` (see the module documentation); `now` names the quarantine tag.
pub async fn quarantine(
    client: &Client,
    image: &EcrImage,
    settings: QuarantineSettings,
    now: time::OffsetDateTime,
) -> Result<QuarantineOutcome, QuarantineError> {
    let state = describe(client, image).await?;
    let existing = state.tags.iter().find(|t| is_quarantine_tag(t)).cloned();
    let already_quarantined = existing.is_some();
    let tag = existing.unwrap_or_else(|| quarantine_tag(now, &image.digest));
    let mut to_remove: Vec<String> = state
        .tags
        .iter()
        .filter(|t| !is_quarantine_tag(t))
        .cloned()
        .collect();
    to_remove.sort();
    let archive = settings.archive && !state.archived;

    let mut outcome = QuarantineOutcome {
        registry_id: image.registry_id.clone(),
        region: image.region.clone(),
        repository: image.repository.clone(),
        digest: image.digest.to_string(),
        quarantine_tag: tag.clone(),
        removed_tags: Vec::new(),
        archived: false,
        dry_run: settings.dry_run,
        already_quarantined,
        restored_after_deletion: false,
        actions: Vec::new(),
    };
    if settings.dry_run {
        if !already_quarantined {
            outcome.actions.push(format!("would add tag {tag}"));
        }
        if !to_remove.is_empty() {
            outcome
                .actions
                .push(format!("would remove tags {}", to_remove.join(", ")));
        }
        if archive {
            outcome
                .actions
                .push("would move the image to the ARCHIVE storage class".into());
        }
        if outcome.actions.is_empty() {
            outcome
                .actions
                .push("nothing to do: already quarantined".into());
        }
        outcome.removed_tags = to_remove;
        outcome.archived = archive;
        return Ok(outcome);
    }

    if !already_quarantined {
        put_tag(client, image, &tag).await?;
        outcome.actions.push(format!("added tag {tag}"));
    }
    if !to_remove.is_empty() {
        // Read again: only tags that are still this digest's are removed, and only while a
        // quarantine tag is confirmed to keep the digest referenced.
        let now_tags = describe(client, image).await?.tags;
        if !now_tags.iter().any(|t| is_quarantine_tag(t)) {
            return Err(QuarantineError::Aws(format!(
                "{} shows no quarantine tag after adding {tag}; not removing any tag, retry",
                image.reference()
            )));
        }
        let still: Vec<String> = now_tags
            .into_iter()
            .filter(|t| !is_quarantine_tag(t))
            .collect();
        if !still.is_empty() {
            // Kept to put the image back if ECR deletes it: ECR has no conditional untag, and
            // removing the digest's last tag deletes it. That happens only if every quarantine
            // tag is removed by someone else between the confirm above and this untag
            // (docs/quarantine-safety.md).
            let manifest = read_manifest(client, image).await?;
            outcome.removed_tags = delete_tags(client, image, &still).await?;
            outcome
                .actions
                .push(format!("removed tags {}", outcome.removed_tags.join(", ")));
            if deleted_by_untag(client, image).await? {
                put_manifest(client, image, &manifest, &tag).await.map_err(|e| {
                    QuarantineError::Aws(format!(
                        "ECR deleted {} when its last tags were removed (its quarantine tag was removed by someone else meanwhile), and putting it back as {tag} failed: {e}; re-push the image by digest",
                        image.reference()
                    ))
                })?;
                outcome.restored_after_deletion = true;
                outcome.actions.push(format!(
                    "ECR deleted the image when its last tags were removed (its quarantine tag was removed by someone else meanwhile): put it back as {tag}"
                ));
            }
        }
    }
    if archive {
        set_storage_class(
            client,
            image,
            aws_sdk_ecr::types::TargetStorageClass::Archive,
        )
        .await?;
        outcome.archived = true;
        outcome
            .actions
            .push("moved the image to the ARCHIVE storage class".into());
    }
    if outcome.actions.is_empty() {
        outcome
            .actions
            .push("nothing to do: already quarantined".into());
    }
    Ok(outcome)
}

/// Gives a quarantined image its `tags` back, then removes its quarantine tags (unless
/// `keep_quarantine_tag`). An archived image is first restored to STANDARD; while ECR activates
/// it, nothing else changes and the outcome says `activating` (run the release again).
pub async fn release(
    client: &Client,
    image: &EcrImage,
    tags: &[String],
    keep_quarantine_tag: bool,
) -> Result<ReleaseOutcome, QuarantineError> {
    let mut wanted: Vec<String> = tags.to_vec();
    wanted.sort();
    wanted.dedup();
    if wanted.is_empty() {
        // Without a tag to restore, removing the quarantine tags would delete the image.
        return Err(QuarantineError::Usage(
            "give at least one --tag to restore (the audit line's `removed_tags` lists them)"
                .into(),
        ));
    }
    for tag in &wanted {
        check_tag(tag)?;
        if is_quarantine_tag(tag) {
            return Err(QuarantineError::Usage(format!(
                "`{tag}` is a quarantine tag; give the tags to restore"
            )));
        }
    }
    let state = describe(client, image).await?;
    let quarantine_tags: Vec<String> = state
        .tags
        .iter()
        .filter(|t| is_quarantine_tag(t))
        .cloned()
        .collect();
    if quarantine_tags.is_empty() {
        return Err(QuarantineError::Refused(format!(
            "{} is not quarantined (it has no quarantine-* tag); nothing to release",
            image.reference()
        )));
    }
    let mut outcome = ReleaseOutcome {
        image: image.reference(),
        restored_tags: Vec::new(),
        removed_quarantine_tags: Vec::new(),
        activating: false,
    };
    if state.archived || state.activating {
        let status = if state.archived {
            set_storage_class(
                client,
                image,
                aws_sdk_ecr::types::TargetStorageClass::Standard,
            )
            .await?
        } else {
            Some(ImageStatus::Activating)
        };
        if status != Some(ImageStatus::Active) {
            outcome.activating = true;
            return Ok(outcome);
        }
    }
    // Every tag is checked before any is changed: a tag now on another digest belongs to that
    // image, and moving it is not a release.
    let missing: Vec<&String> = wanted.iter().filter(|t| !state.tags.contains(t)).collect();
    for tag in &missing {
        if let Some(other) = tag_owner(client, image, tag).await? {
            return Err(QuarantineError::Refused(format!(
                "tag `{tag}` now points at {other} in {}; choose another tag, or move it by hand",
                image.repository
            )));
        }
    }
    for tag in missing {
        put_tag(client, image, tag).await?;
    }
    outcome.restored_tags = wanted.clone();
    if !keep_quarantine_tag {
        let now_tags = describe(client, image).await?.tags;
        if !wanted.iter().all(|t| now_tags.contains(t)) {
            return Err(QuarantineError::Aws(format!(
                "{} does not show every restored tag yet ({now_tags:?}); not removing its quarantine tags, retry",
                image.reference()
            )));
        }
        let remove: Vec<String> = now_tags
            .into_iter()
            .filter(|t| is_quarantine_tag(t))
            .collect();
        if let Some(anchor) = remove.first() {
            // The mirror of the quarantine's race: if someone removes the restored tags between
            // the confirm above and this untag, ECR deletes the image with its last tag. Put it
            // back in the safe state, quarantined, and say so.
            let manifest = read_manifest(client, image).await?;
            outcome.removed_quarantine_tags = delete_tags(client, image, &remove).await?;
            if deleted_by_untag(client, image).await? {
                put_manifest(client, image, &manifest, anchor).await.map_err(|e| {
                    QuarantineError::Aws(format!(
                        "ECR deleted {} when the release removed its quarantine tags (its restored tags were removed by someone else meanwhile), and putting it back as {anchor} failed: {e}; re-push the image by digest",
                        image.reference()
                    ))
                })?;
                return Err(QuarantineError::Refused(format!(
                    "the restored tags of {} were removed by someone else while the release removed its quarantine tags, and ECR deleted the image; it was put back, quarantined, as {anchor}: find out who removed the tags, then run the release again",
                    image.reference()
                )));
            }
        }
    }
    Ok(outcome)
}

/// After an untag: whether ECR deleted the image with its last tag. Any other failure to
/// find out is an error (retried), never read as "still there", so a deletion is not missed.
async fn deleted_by_untag(client: &Client, image: &EcrImage) -> Result<bool, QuarantineError> {
    match describe(client, image).await {
        Ok(_) => Ok(false),
        Err(QuarantineError::NotFound(_)) => Ok(true),
        Err(e) => Err(QuarantineError::Aws(format!(
            "could not confirm that {} still exists after removing its tags ({e}): check it with `shipgate quarantine list`; ECR deletes an image whose last tag is removed, which happens only if someone removed its quarantine tag meanwhile",
            image.reference()
        ))),
    }
}
