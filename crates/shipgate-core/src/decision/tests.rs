use super::*;

fn policy(name: &str, mode: Mode) -> PolicyRef {
    PolicyRef {
        name: name.into(),
        sha256: "sha256:00".into(),
        mode,
        on_error: Default::default(),
    }
}

fn check(policy: Option<&str>, result: CheckResult) -> Check {
    let code = match result {
        CheckResult::Pass => CheckCode::SignatureVerified,
        CheckResult::Error => CheckCode::EvidenceUnavailable,
        _ => CheckCode::SignatureMissing,
    };
    Check::new("signature", code, policy, result, "because".into())
}

fn conclude(policies: Vec<PolicyRef>, checks: Vec<Check>) -> Decision {
    Decision::conclude(
        "img".into(),
        None,
        policies,
        checks,
        std::time::Instant::now(),
    )
}

#[test]
fn enforce_fail_and_error_deny_audit_does_not() {
    let d = conclude(
        vec![policy("a", Mode::Enforce)],
        vec![check(Some("a"), CheckResult::Fail)],
    );
    assert_eq!(d.decision, Verdict::Fail);
    let d = conclude(
        vec![policy("a", Mode::Enforce)],
        vec![check(Some("a"), CheckResult::Error)],
    );
    assert_eq!(d.decision, Verdict::Fail);
    let d = conclude(
        vec![policy("a", Mode::Audit)],
        vec![check(Some("a"), CheckResult::Fail)],
    );
    assert_eq!(d.decision, Verdict::Pass);
    assert_eq!(d.mode, Mode::Audit);
    let d = conclude(
        vec![policy("a", Mode::Audit), policy("b", Mode::Enforce)],
        vec![
            check(Some("a"), CheckResult::Pass),
            check(Some("b"), CheckResult::Fail),
        ],
    );
    assert_eq!(d.decision, Verdict::Fail);
    assert_eq!(d.mode, Mode::Enforce);
}

#[test]
fn checks_outside_any_policy_always_count() {
    let d = conclude(vec![], vec![check(None, CheckResult::Fail)]);
    assert_eq!(d.decision, Verdict::Fail);
    let d = conclude(
        vec![policy("a", Mode::Audit)],
        vec![check(None, CheckResult::Error)],
    );
    assert_eq!(d.decision, Verdict::Fail);
    let d = conclude(
        vec![policy("a", Mode::Enforce)],
        vec![check(Some("a"), CheckResult::Skip)],
    );
    assert_eq!(d.decision, Verdict::Pass);
}

#[test]
fn only_waiting_for_scan_needs_every_enforced_denial_to_be_a_pending_scan() {
    let pending = || {
        Check::new(
            "vulnerabilities",
            CheckCode::ScanPending,
            Some("a"),
            CheckResult::Error,
            "wait".into(),
        )
        .with_evidence(serde_json::json!({"scan_pending": true}))
    };
    let d = conclude(vec![policy("a", Mode::Enforce)], vec![pending()]);
    assert!(d.only_waiting_for_scan());
    let d = conclude(
        vec![policy("a", Mode::Enforce)],
        vec![pending(), check(Some("a"), CheckResult::Fail)],
    );
    assert!(!d.only_waiting_for_scan(), "a real failure does not wait");
    let d = conclude(
        vec![policy("a", Mode::Enforce)],
        vec![Check::new(
            "vulnerabilities",
            CheckCode::ScanUnavailable,
            Some("a"),
            CheckResult::Error,
            "x".into(),
        )],
    );
    assert!(
        !d.only_waiting_for_scan(),
        "an ECR error is not a pending scan"
    );
    let d = conclude(vec![policy("a", Mode::Enforce)], vec![]);
    assert!(!d.only_waiting_for_scan(), "a pass is not waiting");
}

#[test]
fn json_shape_is_stable() {
    let d = conclude(
        vec![policy("a", Mode::Enforce)],
        vec![check(Some("a"), CheckResult::Pass)],
    );
    let v = serde_json::to_value(&d).unwrap();
    for key in [
        "decision",
        "mode",
        "image",
        "policies",
        "checks",
        "evaluated_at",
        "duration_ms",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["decision"], "pass");
    assert_eq!(v["checks"][0]["check"], "signature");
    assert_eq!(v["checks"][0]["result"], "pass");
    assert_eq!(v["policies"][0]["sha256"], "sha256:00");
}

#[test]
fn truncate_text_cuts_on_a_char_boundary_and_says_how_much() {
    assert_eq!(truncate_text("short", 10), "short");
    let t = truncate_text("ééééé", 3);
    assert_eq!(t, "é… [8 more bytes truncated]");
    let long = "x".repeat(10_000);
    let t = truncate_text(&long, 100);
    assert!(t.starts_with(&"x".repeat(100)));
    assert!(t.ends_with("… [9900 more bytes truncated]"), "{t}");
}

#[test]
fn evidence_lists_strings_and_depth_are_bounded() {
    let mut v = serde_json::json!({
        "list": (0..100).collect::<Vec<_>>(),
        "text": "a".repeat(5000),
        "ok": [1, 2, 3],
    });
    bound_evidence(&mut v);
    let list = v["list"].as_array().unwrap();
    assert_eq!(list.len(), MAX_EVIDENCE_ITEMS + 1);
    assert_eq!(list[MAX_EVIDENCE_ITEMS], "… 68 more");
    assert!(v["text"].as_str().unwrap().len() < MAX_EVIDENCE_STRING_BYTES + 64);
    assert!(v["text"].as_str().unwrap().contains("more bytes truncated"));
    assert_eq!(v["ok"], serde_json::json!([1, 2, 3]));

    let mut map = serde_json::Map::new();
    for i in 0..100 {
        map.insert(format!("k{i:03}"), serde_json::json!(i));
    }
    map.insert("x".repeat(5000), serde_json::json!(1));
    let mut v = serde_json::Value::Object(map);
    bound_evidence(&mut v);
    let obj = v.as_object().unwrap();
    assert_eq!(obj.len(), MAX_EVIDENCE_ITEMS + 1);
    assert_eq!(obj["…"], "69 more entries");

    let mut deep = serde_json::json!(1);
    for _ in 0..50 {
        deep = serde_json::json!([deep]);
    }
    bound_evidence(&mut deep);
    assert!(serde_json::to_string(&deep)
        .unwrap()
        .contains("nested too deep"));
}

#[test]
fn a_decision_stays_small_whatever_the_checks_quote() {
    // Many checks, each quoting as much as it can: a huge reason, many large strings.
    let checks: Vec<Check> = (0..40)
        .map(|i| {
            Check::new(
                "signature",
                CheckCode::SignatureVerified,
                Some("a"),
                if i == 0 {
                    CheckResult::Error
                } else {
                    CheckResult::Pass
                },
                "r".repeat(100_000),
            )
            .with_evidence(serde_json::json!({
                "looked_at": vec!["n".repeat(10_000); 100],
                "nested": {"more": vec![vec!["z".repeat(2000); 40]; 40]},
            }))
        })
        .collect();
    let d = conclude(vec![policy("a", Mode::Enforce)], checks);
    let bytes = serde_json::to_vec(&d).unwrap();
    assert!(bytes.len() <= 64 * 1024, "{} bytes", bytes.len());
    // Results are never changed by bounding: the error still denies.
    assert_eq!(d.decision, Verdict::Fail);
    assert_eq!(d.checks.len(), 40);
    assert!(d.checks[0].reason.contains("more bytes truncated"));

    // A small decision is left exactly as it was.
    let d = conclude(
        vec![policy("a", Mode::Enforce)],
        vec![check(Some("a"), CheckResult::Pass).with_evidence(serde_json::json!({"k": [1]}))],
    );
    assert_eq!(d.checks[0].reason, "because");
    assert_eq!(d.checks[0].evidence, serde_json::json!({"k": [1]}));
}

#[test]
fn on_error_audit_reports_errors_without_failing_but_never_hides_a_fail() {
    let audit_errors = |mode| PolicyRef {
        on_error: OnError::Audit,
        ..policy("a", mode)
    };
    let d = conclude(
        vec![audit_errors(Mode::Enforce)],
        vec![check(Some("a"), CheckResult::Error)],
    );
    assert_eq!(
        d.decision,
        Verdict::Pass,
        "an error of an onError: audit policy is reported"
    );
    assert_eq!(
        d.checks[0].result,
        CheckResult::Error,
        "and still shown as an error"
    );
    let d = conclude(
        vec![audit_errors(Mode::Enforce)],
        vec![
            check(Some("a"), CheckResult::Error),
            check(Some("a"), CheckResult::Fail),
        ],
    );
    assert_eq!(d.decision, Verdict::Fail, "a fail still denies");
    let d = conclude(
        vec![audit_errors(Mode::Enforce)],
        vec![check(None, CheckResult::Error)],
    );
    assert_eq!(
        d.decision,
        Verdict::Fail,
        "errors before any policy applies always count"
    );
    let d = conclude(
        vec![policy("a", Mode::Enforce)],
        vec![check(Some("a"), CheckResult::Error)],
    );
    assert_eq!(d.decision, Verdict::Fail, "onError defaults to deny");
}
