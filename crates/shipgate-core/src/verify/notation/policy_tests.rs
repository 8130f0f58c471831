//! Verification levels and trust policy documents: every validation rule, and the vectors'
//! policies.

use std::collections::BTreeMap;

use super::*;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/vectors/notation"
);

fn level(name: &str, overrides: &[(&str, &str)]) -> Result<VerificationLevel, String> {
    let o: BTreeMap<String, String> = overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    VerificationLevel::new(name, &o)
}

fn actions(l: &VerificationLevel) -> Vec<Action> {
    use Step::*;
    [
        Integrity,
        Authenticity,
        AuthenticTimestamp,
        Expiry,
        Revocation,
    ]
    .into_iter()
    .map(|s| l.action(s))
    .collect()
}

#[test]
fn levels_are_the_specifications_table() {
    use Action::{Enforce as E, Log as L, Skip as S};
    assert_eq!(actions(&level("strict", &[]).unwrap()), [E, E, E, E, E]);
    assert_eq!(actions(&level("permissive", &[]).unwrap()), [E, E, L, L, L]);
    assert_eq!(actions(&level("audit", &[]).unwrap()), [E, L, L, L, L]);
    assert_eq!(actions(&level("skip", &[]).unwrap()), [S, S, S, S, S]);
    let custom = level("strict", &[("expiry", "log"), ("revocation", "skip")]).unwrap();
    assert_eq!(actions(&custom), [E, E, E, L, S]);
    assert_eq!(custom.name, "strict");
    let up = level("audit", &[("authenticity", "enforce")]).unwrap();
    assert_eq!(actions(&up), [E, E, L, L, L]);
}

#[test]
fn level_overrides_are_refused_as_notation_refuses_them() {
    for (name, overrides, needle) in [
        (
            "strict",
            vec![("integrity", "log")],
            "integrity verification cannot be overridden",
        ),
        (
            "strict",
            vec![("authenticity", "skip")],
            "authenticity verification cannot be skipped",
        ),
        (
            "strict",
            vec![("authenticTimestamp", "skip")],
            "cannot be skipped",
        ),
        ("permissive", vec![("expiry", "skip")], "cannot be skipped"),
        ("skip", vec![("revocation", "log")], "cannot be customized"),
        (
            "strict",
            vec![("Expiry", "log")],
            "verification type \"Expiry\"",
        ),
        (
            "strict",
            vec![("expiry", "warn")],
            "verification action \"warn\"",
        ),
        ("lenient", vec![], "invalid signature verification level"),
        ("", vec![], "missing"),
    ] {
        let e = level(name, &overrides).unwrap_err();
        assert!(e.contains(needle), "{name} {overrides:?}: {e}");
    }
}

fn doc(statements: serde_json::Value) -> Result<TrustPolicyDocument, String> {
    let d = serde_json::json!({"version": "1.0", "trustPolicies": statements});
    TrustPolicyDocument::from_json(&serde_json::to_vec(&d).unwrap())
}

fn statement(name: &str, scopes: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "registryScopes": scopes,
        "signatureVerification": {"level": "strict"},
        "trustStores": ["ca:acme"],
        "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Acme"],
    })
}

fn with(mut s: serde_json::Value, key: &str, value: serde_json::Value) -> serde_json::Value {
    s[key] = value;
    s
}

#[test]
fn a_policy_parses_and_selects_its_statement() {
    let d = doc(serde_json::json!([
        statement("exact", &["registry.acme.io/team/app", "localhost:5000/e2e"]),
        with(statement("global", &["*"]), "trustedIdentities", serde_json::json!(["*"])),
        {"name": "unsigned", "registryScopes": ["registry.acme.io/legacy"],
         "signatureVerification": {"level": "skip"}, "unknownField": true},
    ]))
    .unwrap();
    let s = d.statement_for("registry.acme.io/team/app").unwrap();
    assert_eq!(s.name, "exact");
    assert_eq!(s.trust_stores, vec![(StoreKind::Ca, "acme".to_string())]);
    assert_eq!(
        s.trusted_identities,
        vec![TrustedIdentity::X509Subject(vec![
            ("C".into(), "US".into()),
            ("ST".into(), "WA".into()),
            ("O".into(), "Acme".into()),
        ])]
    );
    assert_eq!(
        d.statement_for("localhost:5000/e2e@sha256:ab")
            .unwrap()
            .name,
        "exact"
    );
    assert_eq!(
        d.statement_for("registry.acme.io/other").unwrap().name,
        "global"
    );
    assert_eq!(
        d.statement_for("registry.acme.io/legacy").unwrap().name,
        "unsigned"
    );
    let only = doc(serde_json::json!([statement(
        "exact",
        &["registry.acme.io/team/app"]
    )]))
    .unwrap();
    let e = only.statement_for("registry.acme.io/other").unwrap_err();
    assert!(e.contains("no trust policy statement applies"), "{e}");
}

#[test]
fn every_validation_rule_is_enforced() {
    let s = || statement("a", &["registry.acme.io/app"]);
    let sv = |v: serde_json::Value| with(s(), "signatureVerification", v);
    for (statements, needle) in [
        (serde_json::json!([]), "no trust policy statements"),
        (
            serde_json::json!([with(s(), "name", "".into())]),
            "has no name",
        ),
        (
            serde_json::json!([s(), statement("a", &["registry.acme.io/b"])]),
            "names must be unique",
        ),
        (
            serde_json::json!([with(s(), "signatureVerification", serde_json::Value::Null)]),
            "no signatureVerification",
        ),
        (
            serde_json::json!([sv(serde_json::json!({"level": "skip"}))]),
            "skips verification but names",
        ),
        (
            serde_json::json!([with(s(), "trustStores", serde_json::json!([]))]),
            "needs both",
        ),
        (
            serde_json::json!([with(s(), "trustedIdentities", serde_json::json!([]))]),
            "needs both",
        ),
        (
            serde_json::json!([with(s(), "trustStores", serde_json::json!(["acme"]))]),
            "not TYPE:NAME",
        ),
        (
            serde_json::json!([with(s(), "trustStores", serde_json::json!(["x509:acme"]))]),
            "trust store type \"x509\"",
        ),
        (
            serde_json::json!([with(s(), "trustStores", serde_json::json!(["ca:ac me"]))]),
            "must match",
        ),
        (
            serde_json::json!([with(
                s(),
                "trustedIdentities",
                serde_json::json!(["*", "x509.subject: C=US,ST=WA,O=A"])
            )]),
            "`*` must stand alone",
        ),
        (
            serde_json::json!([with(
                s(),
                "trustedIdentities",
                serde_json::json!([
                    "x509.subject: C=US,ST=WA,O=A",
                    "x509.subject: C=US,ST=WA,O=A,CN=b"
                ])
            )]),
            "overlapping",
        ),
        (
            serde_json::json!([with(
                s(),
                "trustedIdentities",
                serde_json::json!(["x509.subject: CN=e2e,L=Seattle,ST=WA,C=US"])
            )]),
            "lacks O",
        ),
        (
            serde_json::json!([with(s(), "trustedIdentities", serde_json::json!(["shop"]))]),
            "without a `type:` prefix",
        ),
        (
            serde_json::json!([with(
                s(),
                "trustedIdentities",
                serde_json::json!(["kms:key"])
            )]),
            "other verification plugins",
        ),
        (
            serde_json::json!([sv(
                serde_json::json!({"level": "strict", "override": {"integrity": "log"}})
            )]),
            "cannot be overridden",
        ),
        (
            serde_json::json!([sv(
                serde_json::json!({"level": "strict", "verifyTimestamp": "never"})
            )]),
            "verifyTimestamp \"never\"",
        ),
        (
            serde_json::json!([with(s(), "registryScopes", serde_json::json!([]))]),
            "has no registryScopes",
        ),
        (
            serde_json::json!([with(
                s(),
                "registryScopes",
                serde_json::json!(["*", "registry.acme.io/app"])
            )]),
            "`*` must stand alone",
        ),
        (
            serde_json::json!([statement("a", &["*"]), statement("b", &["*"])]),
            "registry scope \"*\" is in several",
        ),
        (
            serde_json::json!([s(), statement("b", &["registry.acme.io/app"])]),
            "is in several",
        ),
        (
            serde_json::json!([statement("a", &["registry.acme.io/app:latest"])]),
            "is not valid",
        ),
        (
            serde_json::json!([statement("a", &["app"])]),
            "is not valid",
        ),
        (
            serde_json::json!([statement("a", &["registry.acme.io/*"])]),
            "is not valid",
        ),
        (
            serde_json::json!([statement("a", &["https://registry.acme.io/app"])]),
            "is not valid",
        ),
    ] {
        let e = doc(statements.clone()).unwrap_err();
        assert!(e.contains(needle), "{statements}: {e}");
    }
}

#[test]
fn documents_are_bounded_and_versioned() {
    let e = |bytes: &[u8]| TrustPolicyDocument::from_json(bytes).unwrap_err();
    assert!(e(b"{\"trustPolicies\": []}").contains("no version"));
    assert!(e(b"{\"version\": \"2.0\"}").contains("\"2.0\" is not supported"));
    assert!(e(b"[]").contains("not valid JSON"));
    assert!(e(&vec![b' '; 256 * 1024 + 1]).contains("larger than 256 KiB"));
    let many: Vec<_> = (0..65)
        .map(|i| statement(&format!("s{i}"), &[&format!("registry.acme.io/app{i}")]))
        .collect();
    assert!(doc(serde_json::Value::Array(many))
        .unwrap_err()
        .contains("more than 64"));
    // verifyTimestamp is read (afterCertExpiry is verified as always).
    let s = with(
        statement("a", &["*"]),
        "signatureVerification",
        serde_json::json!({"level": "strict", "verifyTimestamp": "afterCertExpiry"}),
    );
    assert!(doc(serde_json::json!([s])).is_ok());
}

#[test]
fn the_vectors_policies_load_or_fail_as_notation_says() {
    let load = |path: &str| {
        TrustPolicyDocument::from_json(&std::fs::read(format!("{VECTORS}/{path}")).unwrap())
    };
    let e2e = "notation/test/e2e/testdata/config/trustpolicies";
    for ok in [
        "audit_trustpolicy.json",
        "invalid_trusted_identity_trustpolicy.json",
        "override_strict_trustpolicy.json",
        "permissive_trustpolicy.json",
        "trustpolicy.json",
        "valid_trusted_identity_trustpolicy.json",
    ] {
        load(&format!("{e2e}/{ok}")).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    let e = load(&format!(
        "{e2e}/missing_organization_trusted_identity_trustpolicy.json"
    ));
    assert!(e.unwrap_err().contains("lacks O"));
    let e = load(&format!(
        "{e2e}/overlapped_trusted_identity_trustpolicy.json"
    ));
    assert!(e.unwrap_err().contains("overlapping"));
    for p in [
        "audit",
        "json",
        "untrusted-store.json",
        "wrong-identity.json",
    ] {
        let name = match p {
            "json" => "trustpolicy.dummy-oci.json".to_string(),
            "audit" => "trustpolicy.dummy-oci.audit.json".to_string(),
            other => format!("trustpolicy.dummy-oci.{other}"),
        };
        load(&format!("notation-go/derived/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    load("notation-go/derived/trustpolicy.test-timestamp.json").unwrap();
    let aws = load("aws/k8s-notary-admission/charts/notary-admission/trustpolicy.json").unwrap();
    let s = aws
        .statement_for("123.dkr.ecr.us-east-1.amazonaws.com/app")
        .unwrap();
    assert!(matches!(
        s.trusted_identities.as_slice(),
        [TrustedIdentity::AwsSignerProfile(arn)] if arn.ends_with("/signing-profiles/notary_admission")
    ));
    assert_eq!(
        s.trust_stores,
        vec![(StoreKind::SigningAuthority, "aws-signer-ts".to_string())]
    );
}
