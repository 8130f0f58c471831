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
//! - Only a decided fail quarantines ([`Decision::is_decided_fail`]: an enforced check is
//!   `fail`). A failing decision whose denying checks are all `error` (registry
//!   unreachable or unresolvable, ECR unanswered, evidence cut short) was not decided: nothing
//!   is changed, a warning is logged, and the handler returns an error, so that Lambda's
//!   asynchronous invocation retries the event (`MaximumRetryAttempts`, 0 to 2, default 2: one
//!   minute, then two minutes later) and then hands it to the function's on-failure
//!   destination or dead-letter queue. The one `error` that is decided here: a pending scan on
//!   a push to a repository that does not scan on push (no scan will ever come).
//! - A basic scan event whose scan-status is not COMPLETE (FAILED) is decided too: the findings
//!   API then reports the status, and the `vulnerabilities` check fails on it (a scan that
//!   cannot complete cannot show the budget is met), so a push deferred for its scan ends in a
//!   decision.
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
        .map_err(|e| {
            let why = format!("the gate refused or could not run the evaluation: {e}");
            undecided(&event, &image, &why)
        })?;
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
    // A pending scan is an `error`, so a decision that only waits for it is never a decided
    // fail; it is one here when the repository will never scan the image by itself.
    let mut decided_by_missing_scan = false;
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
        decided_by_missing_scan = true;
    }
    if !decided_by_missing_scan && !decision.is_decided_fail() {
        let checks: Vec<String> = decision
            .undecided_checks()
            .map(|c| match &c.policy {
                Some(p) => format!("{p}/{}: {}", c.check, c.reason),
                None => format!("{}: {}", c.check, c.reason),
            })
            .collect();
        let why = if checks.is_empty() {
            "the decision fails without a failing enforced check".to_string()
        } else {
            checks.join("; ")
        };
        // An image deleted since the event (its findings are then an ECR error) needs no
        // decision: retrying could never decide it.
        if let Ok(false) = quarantine::image_exists(&client, &event.image).await {
            let why =
                format!("{image} does not exist in ECR any more: nothing to decide or quarantine");
            tracing::warn!(event_id = %event.origin.id, image = %image, why = %why, "image gone; nothing to decide");
            return Ok(json!({"action": "ignored", "reason": why, "image": image}));
        }
        return Err(undecided(&event, &image, &why));
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

/// The error for an image that was not decided: logged, and returned so that Lambda retries
/// the event. Says what happened, that nothing changed, and what the operator does next.
fn undecided(event: &ImageEvent, image: &str, why: &str) -> HandlerError {
    let why = shipgate::decision::truncate_text(why, MAX_UNDECIDED_REASON);
    tracing::warn!(event_id = %event.origin.id, image = %image, why = %why, "not decided: not quarantined, tags untouched; returned as an error for Lambda to retry");
    HandlerError::Undecided(format!(
        "{image}: the gate could not decide ({why}), so nothing was quarantined and its tags are untouched. Lambda retries this event (asynchronous invocation: up to the function's MaximumRetryAttempts, default 2), then sends it to the function's on-failure destination or dead-letter queue if one is configured. Fix the cause (registry or ECR reachable from the function, its credentials and network, the gate's timeout), then re-send the event from there, or decide the image by hand with `shipgate check {image}`"
    ))
}

/// Longest reason quoted in an undecided error (a Lambda error message is logged and stored by
/// the DLQ; reasons can quote hostile registry text).
const MAX_UNDECIDED_REASON: usize = 2000;

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
        restored_after_deletion = outcome.restored_after_deletion,
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
