//! Keyless identity rules on certificates made by rcgen: subject, issuer and Fulcio's claim
//! extensions (`1.3.6.1.4.1.57264.1.9`–`.22`).

use super::*;
use crate::verify::x509::Cert;
use crate::verify::RejectionKind;

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const SUBJECT: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";

fn der_utf8(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = vec![0x0c];
    match b.len() {
        n if n < 0x80 => out.push(n as u8),
        n if n < 0x100 => out.extend_from_slice(&[0x81, n as u8]),
        n => out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(b);
    out
}

fn oid(arc: u32) -> Vec<u64> {
    vec![1, 3, 6, 1, 4, 1, 57264, 1, u64::from(arc)]
}

/// A self-signed leaf with a SAN URI, the issuer extension and `claims` (raw extension contents).
fn leaf_with(claims: &[(FulcioClaim, Vec<u8>)]) -> Leaf {
    let mut params = rcgen::CertificateParams::default();
    let san = rcgen::string::Ia5String::try_from(SUBJECT.to_string()).unwrap();
    params.subject_alt_names = vec![rcgen::SanType::URI(san)];
    params.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
        &oid(8),
        der_utf8(ISSUER),
    )];
    for (claim, content) in claims {
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &oid(claim.arc()),
                content.clone(),
            ));
    }
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Leaf::new(Cert::from_der(cert.der()).unwrap())
}

fn github_leaf() -> Leaf {
    leaf_with(&[
        (
            FulcioClaim::SourceRepositoryUri,
            der_utf8("https://github.com/acme/app"),
        ),
        (
            FulcioClaim::SourceRepositoryRef,
            der_utf8("refs/heads/main"),
        ),
        (
            FulcioClaim::SourceRepositoryDigest,
            der_utf8("0123456789abcdef0123456789abcdef01234567"),
        ),
        (FulcioClaim::BuildTrigger, der_utf8("push")),
    ])
}

fn authority() -> Authority {
    Authority {
        name: "ci".into(),
        identity: Identity::Keyless {
            issuer: Matcher::Exact(ISSUER.into()),
            subject: Matcher::Exact(SUBJECT.into()),
            claims: Vec::new(),
        },
        tlog: TlogRequirement::Required,
        trust_root: None,
    }
}

fn judge(leaf: &Leaf, claims: &[(FulcioClaim, Matcher)]) -> Result<(String, String), Rejection> {
    let issuer = Matcher::Exact(ISSUER.into());
    let subject = Matcher::Exact(SUBJECT.into());
    let rule = KeylessRule {
        issuer: &issuer,
        subject: &subject,
        claims,
    };
    keyless_identity(leaf, &authority(), &rule).map(|(s, i)| (s.to_string(), i.to_string()))
}

fn exact(s: &str) -> Matcher {
    Matcher::Exact(s.into())
}

fn regex(s: &str) -> Matcher {
    Matcher::Regex(regex::Regex::new(s).unwrap())
}

#[test]
fn the_leaf_reads_each_claim_extension() {
    let all: Vec<(FulcioClaim, Vec<u8>)> = FulcioClaim::ALL
        .iter()
        .map(|c| (*c, der_utf8(&format!("value of {c}"))))
        .collect();
    let leaf = leaf_with(&all);
    assert_eq!(leaf.issuer.as_deref(), Some(ISSUER));
    assert_eq!(leaf.claims.len(), 14);
    for c in FulcioClaim::ALL {
        assert_eq!(leaf.claim(c), Some(format!("value of {c}").as_str()));
    }
}

#[test]
fn claims_that_are_not_bounded_utf8_strings_are_absent() {
    let leaf = leaf_with(&[
        // Raw bytes, as the deprecated `.1.2`–`.1.6` extensions were: not a DER UTF8String.
        (FulcioClaim::BuildTrigger, b"push".to_vec()),
        (
            FulcioClaim::SourceRepositoryRef,
            der_utf8(&"r".repeat(5000)),
        ),
        (FulcioClaim::RunnerEnvironment, der_utf8("github-hosted")),
    ]);
    assert_eq!(leaf.claim(FulcioClaim::BuildTrigger), None);
    assert_eq!(leaf.claim(FulcioClaim::SourceRepositoryRef), None);
    assert_eq!(
        leaf.claim(FulcioClaim::RunnerEnvironment),
        Some("github-hosted")
    );
}

#[test]
fn every_required_claim_must_match() {
    let leaf = github_leaf();
    let ok = [
        (
            FulcioClaim::SourceRepositoryUri,
            exact("https://github.com/acme/app"),
        ),
        (FulcioClaim::SourceRepositoryRef, exact("refs/heads/main")),
        (FulcioClaim::SourceRepositoryDigest, regex("^[0-9a-f]{40}$")),
        (FulcioClaim::BuildTrigger, exact("push")),
    ];
    assert_eq!(
        judge(&leaf, &ok).unwrap(),
        (SUBJECT.to_string(), ISSUER.to_string())
    );
    assert!(judge(&leaf, &[]).is_ok());

    let r = judge(
        &leaf,
        &[(FulcioClaim::SourceRepositoryRef, exact("refs/heads/dev"))],
    )
    .unwrap_err();
    assert_eq!(r.kind, RejectionKind::Identity);
    assert!(
        r.reason.contains(
            "certificate claim sourceRepositoryRef is `refs/heads/main`, not `refs/heads/dev`"
        ),
        "{}",
        r.reason
    );
    assert!(r.reason.contains("`ci`"), "{}", r.reason);

    let r = judge(&leaf, &[(FulcioClaim::BuildTrigger, regex("^release$"))]).unwrap_err();
    assert_eq!(r.kind, RejectionKind::Identity);
    assert!(
        r.reason
            .contains("certificate claim buildTrigger is `push`, not matching /^release$/"),
        "{}",
        r.reason
    );
}

#[test]
fn a_required_claim_the_certificate_lacks_is_an_identity_mismatch() {
    let leaf = github_leaf();
    let r = judge(
        &leaf,
        &[(FulcioClaim::RunnerEnvironment, exact("github-hosted"))],
    )
    .unwrap_err();
    assert_eq!(r.kind, RejectionKind::Identity);
    for needle in [
        "certificate claim runnerEnvironment is absent",
        "1.3.6.1.4.1.57264.1.11",
        "`github-hosted`",
    ] {
        assert!(r.reason.contains(needle), "{needle}: {}", r.reason);
    }
}

#[test]
fn the_subject_and_issuer_are_judged_before_the_claims() {
    let leaf = github_leaf();
    let claims = [(FulcioClaim::RunnerEnvironment, exact("github-hosted"))];
    let issuer = Matcher::Exact(ISSUER.into());
    let subject = Matcher::Exact("someone else".into());
    let rule = KeylessRule {
        issuer: &issuer,
        subject: &subject,
        claims: &claims,
    };
    let r = keyless_identity(&leaf, &authority(), &rule).unwrap_err();
    assert!(r.reason.contains("certificate subject"), "{}", r.reason);
}

#[test]
fn claim_names_and_oids_follow_fulcio() {
    let arcs: Vec<u32> = FulcioClaim::ALL.iter().map(|c| c.arc()).collect();
    assert_eq!(arcs, (9..=22).collect::<Vec<u32>>());
    assert_eq!(
        FulcioClaim::SourceRepositoryUri.oid(),
        "1.3.6.1.4.1.57264.1.12"
    );
    assert_eq!(
        FulcioClaim::SourceRepositoryVisibilityAtSigning.name(),
        "sourceRepositoryVisibilityAtSigning"
    );
    let mut names: Vec<&str> = FulcioClaim::ALL.iter().map(|c| c.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 14);
}
