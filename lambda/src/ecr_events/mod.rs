//! EventBridge ECR push/scan and Inspector2 events → decide the digest → quarantine on fail.
//!
//! - Only repositories that at least one policy governs are decided: the function is usually
//!   subscribed to every repository, and the gate's `unmatched: deny` would otherwise quarantine
//!   every image of every ungoverned repository. Ungoverned → ignored, with a log line.
//! - A push whose only failure is an unfinished ECR scan is deferred when the repository scans
//!   on push (`BatchGetRepositoryScanningConfiguration`: scan on push, or a SCAN_ON_PUSH or
//!   CONTINUOUS_SCAN frequency): the scan event decides. Repositories without scanning are
//!   decided on push (their `vulnerabilities` check fails on the missing scan). A scan event
//!   that still finds the scan pending is an error, so that Lambda retries it (and a
//!   dead-letter queue keeps it) rather than letting the image through undecided.
//! - A pass never restores a quarantined image: `shipgate quarantine release` does.
//! - Every quarantine (and dry run) writes one audit line, target `shipgate::audit`.

mod event;

pub use event::{parse, ImageEvent, Origin, Parsed, Trigger};

use serde_json::{json, Value};
use shipgate::decision::Decision;
use shipgate::gate::DecisionRequest;
use shipgate::quarantine::{
    self, is_quarantine_tag, QuarantineError, QuarantineOutcome, QuarantineSettings,
};
use shipgate::reference::Repository;

use crate::{HandlerError, Lambda};

pub async fn handle(lambda: &Lambda, event: Value) -> Result<Value, HandlerError> {
    let event = match parse(&event)? {
        Parsed::Ignore { origin, why } => {
            tracing::info!(event_id = %origin.id, detail_type = %origin.detail_type, why = %why, "event ignored");
            return Ok(json!({"action": "ignored", "reason": why}));
        }
        Parsed::Decide(e) => e,
    };
    let image = event.image.reference();
    let repository = Repository {
        registry: event.image.registry_host(),
        name: event.image.repository.clone(),
    };
    if lambda.gate.policies().governing(&repository).is_empty() {
        let why = format!("no policy governs {repository}; ignored (quarantine only acts on governed repositories)");
        tracing::info!(event_id = %event.origin.id, image = %image, why = %why, "event ignored");
        return Ok(json!({"action": "ignored", "reason": why, "image": image}));
    }

    let decision = lambda
        .gate
        .decide(&DecisionRequest {
            image: image.clone(),
            policy: None,
        })
        .await
        .map_err(|e| HandlerError::Malformed(format!("cannot decide {image}: {e}")))?;
    let summary = summary(&decision);

    if decision.passed() {
        let why = if event.tags.iter().any(|t| is_quarantine_tag(t)) {
            "passes now, but stays quarantined: a pass never restores; release it with `shipgate quarantine release`"
        } else {
            "passes; nothing to do"
        };
        tracing::info!(event_id = %event.origin.id, image = %image, why, "decision pass");
        return Ok(json!({"action": "passed", "reason": why, "image": image, "decision": summary}));
    }
    let client = regional_client(lambda, &event.image.region);
    if decision.only_waiting_for_scan() {
        if event.trigger != Trigger::Push {
            return Err(HandlerError::Aws(format!(
                "{image}: the scan-complete event arrived but ECR still reports the scan as pending; retry"
            )));
        }
        let scanning = quarantine::scans_on_push(&client, &event.image)
            .await
            .map_err(|e| HandlerError::Aws(format!("{image}: {e}")))?;
        if scanning {
            let why = "the ECR scan has not finished; the scan-complete event will decide";
            tracing::info!(event_id = %event.origin.id, image = %image, why, "decision deferred");
            return Ok(
                json!({"action": "deferred", "reason": why, "image": image, "decision": summary}),
            );
        }
        // No scan will come on its own: the missing scan is the fail it says it is.
        tracing::info!(event_id = %event.origin.id, image = %image, "the repository does not scan on push: decided on push");
    }

    let settings = QuarantineSettings {
        dry_run: lambda.settings.dry_run,
        archive: lambda.settings.archive,
    };
    let outcome = match quarantine::quarantine(
        &client,
        &event.image,
        settings,
        time::OffsetDateTime::now_utc(),
    )
    .await
    {
        Ok(o) => o,
        Err(QuarantineError::NotFound(why)) => {
            // Deleted since the event: nothing is left to quarantine.
            tracing::warn!(event_id = %event.origin.id, image = %image, why = %why, "image gone; nothing to quarantine");
            return Ok(json!({"action": "ignored", "reason": why, "image": image}));
        }
        Err(e) => return Err(HandlerError::Aws(format!("quarantine of {image}: {e}"))),
    };
    let outcome_json = serde_json::to_value(&outcome)
        .map_err(|e| HandlerError::Aws(format!("cannot render the quarantine outcome: {e}")))?;
    audit(&event.origin, &image, &summary, &outcome);
    Ok(json!({
        "action": if outcome.dry_run { "dry_run" } else { "quarantined" },
        "image": image,
        "decision": summary,
        "outcome": outcome_json,
    }))
}

/// The decision's essentials: verdict, policies (name, sha256) and the reasons it fails.
fn summary(decision: &Decision) -> Value {
    json!({
        "decision": decision.decision,
        "policies": decision.policies.iter().map(|p| json!({"name": p.name, "sha256": p.sha256})).collect::<Vec<_>>(),
        "reasons": crate::denial_reasons(decision),
    })
}

/// ONE structured line per quarantine (or dry run): who (the event), what, why.
fn audit(origin: &Origin, image: &str, summary: &Value, outcome: &QuarantineOutcome) {
    tracing::info!(
        target: "shipgate::audit",
        audit = true,
        actor = "shipgate-lambda",
        event_id = %origin.id,
        event_source = %origin.source,
        event_detail_type = %origin.detail_type,
        event_time = %origin.time,
        image = %image,
        repository = %outcome.repository,
        digest = %outcome.digest,
        quarantine_tag = %outcome.quarantine_tag,
        removed_tags = %json!(outcome.removed_tags),
        archived = outcome.archived,
        dry_run = outcome.dry_run,
        already_quarantined = outcome.already_quarantined,
        actions = %json!(outcome.actions),
        policies = %summary["policies"],
        reasons = %summary["reasons"],
        "quarantine"
    );
}

/// The ECR client for the event's region (events come from the region of the image; the
/// function's own region may differ when events are forwarded between buses): the one built at
/// cold start when the regions agree, else one made for the event.
fn regional_client(lambda: &Lambda, region: &str) -> aws_sdk_ecr::Client {
    if lambda.sdk.region().is_some_and(|r| r.as_ref() == region) {
        return lambda.ecr.clone();
    }
    let config = aws_sdk_ecr::config::Builder::from(&lambda.sdk)
        .region(aws_sdk_ecr::config::Region::new(region.to_string()))
        .build();
    aws_sdk_ecr::Client::from_conf(config)
}
