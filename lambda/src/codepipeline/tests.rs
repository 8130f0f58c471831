use std::time::Instant;

use shipgate::decision::{Check, CheckCode, CheckResult, Decision, PolicyRef};
use shipgate::policy::Mode;

use super::*;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn decision(checks: Vec<Check>) -> Decision {
    Decision::conclude(
        format!("host.example/app@{DIGEST}"),
        Some(DIGEST.into()),
        vec![PolicyRef {
            name: "scan".into(),
            sha256: "sha256:00".into(),
            mode: Mode::Enforce,
            on_error: Default::default(),
        }],
        checks,
        Instant::now(),
    )
}

fn pending() -> Check {
    Check::new(
        "vulnerabilities",
        CheckCode::ScanPending,
        Some("scan"),
        CheckResult::Error,
        "not yet".into(),
    )
    .with_evidence(serde_json::json!({"scan_pending": true}))
}

#[test]
fn user_parameters_are_strict_and_bounded() {
    assert!(user_parameters(None).unwrap().images.is_none());
    assert!(user_parameters(Some("  ")).unwrap().images.is_none());
    let p = user_parameters(Some(
        r#"{"images": ["a:1", " a:1 ", "b:2"], "policy": "x"}"#,
    ))
    .unwrap();
    assert_eq!(p.images.unwrap(), ["a:1", "b:2"]);
    assert_eq!(p.policy.as_deref(), Some("x"));
    for bad in [
        "a:1",
        r#"{"image": "a:1"}"#,
        r#"{"images": []}"#,
        r#"{"images": [""]}"#,
        r#"{"images": "a:1"}"#,
        r#"{"policy": ""}"#,
    ] {
        assert!(user_parameters(Some(bad)).is_err(), "{bad}");
    }
    let many: Vec<String> = (0..=MAX_IMAGES).map(|i| format!("a:{i}")).collect();
    let text = serde_json::json!({ "images": many }).to_string();
    assert!(user_parameters(Some(&text))
        .unwrap_err()
        .contains("at most 20"));
}

#[test]
fn continuation_tokens_round_trip_and_foreign_ones_are_refused() {
    let c = Continuation {
        shipgate: 1,
        first_attempt_at: 1_700_000_000,
        attempt: 3,
    };
    assert_eq!(Continuation::parse(&c.encode()).unwrap(), c);
    for bad in [
        "A continuation token if continuing job",
        r#"{"shipgate":2,"firstAttemptAt":1,"attempt":1}"#,
        r#"{"shipgate":1,"firstAttemptAt":1,"attempt":0}"#,
        r#"{"shipgate":1,"firstAttemptAt":1,"attempt":1,"x":1}"#,
    ] {
        assert!(Continuation::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_pending_scan_continues_until_the_bound_then_fails() {
    let now = 1_800_000_000;
    let waiting = [decision(vec![pending()])];
    let Outcome::Continue {
        token,
        percent_complete,
        ..
    } = conclude(&waiting, None, now)
    else {
        panic!("a pending scan continues");
    };
    let c = Continuation::parse(&token).unwrap();
    assert_eq!((c.first_attempt_at, c.attempt), (now, 1));
    assert_eq!(percent_complete, 0);

    let Outcome::Continue { token, .. } = conclude(&waiting, Some(c), now + 60) else {
        panic!("still within the bound");
    };
    assert_eq!(Continuation::parse(&token).unwrap().attempt, 2);

    let late = Continuation {
        first_attempt_at: now - MAX_WAIT.as_secs(),
        ..c
    };
    let out = conclude(&waiting, Some(late), now);
    assert_eq!(out.word(), "fail", "{out:?}");
    let many = Continuation {
        attempt: MAX_ATTEMPTS - 1,
        ..c
    };
    assert_eq!(conclude(&waiting, Some(many), now).word(), "fail");
}

#[test]
fn a_real_failure_does_not_wait_and_leads_the_message() {
    let failed = Check::new(
        "vulnerabilities",
        CheckCode::FindingOverBudget,
        Some("scan"),
        CheckResult::Fail,
        "2 HIGH".into(),
    );
    let decisions = [
        decision(vec![Check::new(
            "signature",
            CheckCode::SignatureVerified,
            Some("scan"),
            CheckResult::Pass,
            "ok".into(),
        )]),
        decision(vec![pending(), failed]),
    ];
    let Outcome::Fail { kind, message } = conclude(&decisions, None, 0) else {
        panic!("fails");
    };
    assert_eq!(kind, FailureKind::JobFailed);
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(
        lines,
        [
            format!("FAIL host.example/app@{DIGEST}: scan/vulnerabilities: not yet; scan/vulnerabilities: 2 HIGH"),
            format!("PASS host.example/app@{DIGEST}"),
        ]
    );
}
