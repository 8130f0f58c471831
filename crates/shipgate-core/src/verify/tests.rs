//! End-to-end checks of `Verifier::verify_signature` on real, third-party Sigstore data
//! (`tests/data/vectors`, copied from the shared vectors), with tampered variants for the negative cases.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::evidence::{BundleArtifact, LegacySignature, SignatureArtifact};
use crate::policy::authority::{Authority, Identity, Matcher, TlogRequirement};
use crate::reference::Digest;

use super::*;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/vectors");
const TESTIMAGE: &str = "connaisseur/test-testdata-cosign/securesystemsengineering/testimage";
const KEYLESS_DIGEST: &str =
    "sha256:31dc72a13a0c34b40eb95419d2b2fd67320c856baf3b72da518023ee8d370aee";
const ALICE_DIGEST: &str =
    "sha256:071bf7a986f1ca9cb2a1f0bc8392822a7777f90d58f2d2c6f271913e08de7c81";
const MULTI_DIGEST: &str =
    "sha256:bfec161fecb0a887df7cb85e4da327c65986ccda7060cf3cd92171c6c90d7533";
const V03_DIGEST: &str = "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
const V03_IDENTITY: &str =
    "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0";
const GHA: &str = "https://token.actions.githubusercontent.com";

fn path(rel: &str) -> PathBuf {
    Path::new(VECTORS).join(rel)
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn public_good() -> Arc<TrustRoot> {
    static ROOT: std::sync::OnceLock<Arc<TrustRoot>> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| Arc::new(TrustRoot::public_good().unwrap()))
        .clone()
}

fn verifier() -> Verifier {
    Verifier::new(public_good())
}

fn digest(s: &str) -> Digest {
    s.parse().unwrap()
}

fn key_authority(name: &str, key_file: &str, tlog: TlogRequirement) -> Authority {
    let pem = String::from_utf8(read(&format!(
        "connaisseur/test-testdata-cosign/{key_file}"
    )))
    .unwrap();
    Authority {
        name: name.into(),
        identity: Identity::Key(PublicKey::from_pem(&pem).unwrap()),
        tlog,
        trust_root: None,
    }
}

fn keyless(name: &str, issuer: &str, subject: &str) -> Authority {
    Authority {
        name: name.into(),
        identity: Identity::Keyless {
            issuer: Matcher::Exact(issuer.into()),
            subject: Matcher::Exact(subject.into()),
            claims: Vec::new(),
        },
        tlog: TlogRequirement::Required,
        trust_root: None,
    }
}

/// The layers of a legacy `.sig` manifest of the connaisseur test image.
fn legacy_layers(d: &str) -> Vec<LegacySignature> {
    let manifest: serde_json::Value = serde_json::from_slice(&read(&format!(
        "{TESTIMAGE}/manifests/{}.sig.json",
        d.replace(':', "-")
    )))
    .unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    layers
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let ann = &layer["annotations"];
            let get = |k: &str| ann[k].as_str().map(str::to_string);
            let blob = layer["digest"].as_str().unwrap();
            LegacySignature {
                payload: read(&format!("{TESTIMAGE}/blobs/{blob}.json")),
                signature: get("dev.cosignproject.cosign/signature").unwrap(),
                certificate: get("dev.sigstore.cosign/certificate"),
                chain: get("dev.sigstore.cosign/chain"),
                rekor_bundle: get("dev.sigstore.cosign/bundle"),
                rfc3161_timestamp: get("dev.sigstore.cosign/rfc3161timestamp"),
                source: format!("tag {}.sig, layer {i}", d.replace(':', "-")),
            }
        })
        .collect()
}

fn legacy(l: LegacySignature) -> SignatureArtifact {
    SignatureArtifact::Legacy(l)
}

fn bundle_artifact(json: Vec<u8>) -> SignatureArtifact {
    SignatureArtifact::Bundle(BundleArtifact {
        json,
        media_type: "application/vnd.dev.sigstore.bundle.v0.3+json".into(),
        source: "referrer sha256:121e…".into(),
    })
}

fn one(
    v: &Verifier,
    a: &SignatureArtifact,
    d: &str,
    auth: Authority,
) -> Result<VerifiedSignature, Rejection> {
    let mut r = v.verify_subject(a, &Subject::sha256(&digest(d)), &[auth]);
    assert_eq!(r.len(), 1);
    r.remove(0)
}

#[test]
fn only_cosign_sign_statements_are_image_signatures() {
    let case = "happy-path-intoto-in-dsse-v3";
    let v = Verifier::new(Arc::new(TrustRoot::public_good().unwrap()));
    let bundle = bundle_artifact(conformance_bundle(case));
    let d = digest(&a_txt());
    let auth = [keyless("c", GHA, DEFAULT_IDENTITY)];
    assert!(v.verify_subject(&bundle, &Subject::sha256(&d), &auth)[0].is_ok());
    let r = v.verify_signature(&bundle, &d, &auth).remove(0);
    expect_reject(r, "not a cosign image signature");
}

fn expect_reject(r: Result<VerifiedSignature, Rejection>, needle: &str) {
    match r {
        Ok(v) => panic!("accepted, expected a rejection containing {needle:?}: {v:?}"),
        Err(Rejection { reason: m, .. }) => {
            assert!(m.contains(needle), "rejection {m:?} lacks {needle:?}")
        }
    }
}

/// Edits a JSON document with `f`.
fn edit_json(bytes: &[u8], f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

// ---------------------------------------------------------------- legacy, keyless

#[test]
fn legacy_keyless_verifies_for_its_identity() {
    let v = verifier();
    let sig = legacy(legacy_layers(KEYLESS_DIGEST).remove(0));
    let ok = one(
        &v,
        &sig,
        KEYLESS_DIGEST,
        keyless(
            "philipp",
            "https://github.com/login/oauth",
            "philipp.belitz@securesystems.de",
        ),
    )
    .unwrap();
    assert_eq!(ok.signer, "philipp.belitz@securesystems.de");
    assert_eq!(ok.issuer.as_deref(), Some("https://github.com/login/oauth"));
    assert_eq!(ok.tlog_index, Some(98_235_800));
    assert_eq!(ok.integrated_time, Some(1_717_082_297));
    assert_eq!(
        ok.source,
        format!("tag {}.sig, layer 0", KEYLESS_DIGEST.replace(':', "-"))
    );
}

#[test]
fn legacy_keyless_rejects_other_identities_and_issuers() {
    let v = verifier();
    let sig = legacy(legacy_layers(KEYLESS_DIGEST).remove(0));
    let results = v.verify_signature(
        &sig,
        &digest(KEYLESS_DIGEST),
        &[
            keyless("bob", "https://accounts.google.com", "bob@gmail.com"),
            keyless(
                "wrong-issuer",
                "https://accounts.google.com",
                "philipp.belitz@securesystems.de",
            ),
            Authority {
                name: "regex".into(),
                identity: Identity::Keyless {
                    issuer: Matcher::Regex(regex::Regex::new("^https://github\\.com/").unwrap()),
                    subject: Matcher::Regex(
                        regex::Regex::new("^[a-z.]+@securesystems\\.de$").unwrap(),
                    ),
                    claims: Vec::new(),
                },
                tlog: TlogRequirement::Required,
                trust_root: None,
            },
            key_authority("alice", "alice.key", TlogRequirement::Optional),
        ],
    );
    assert_eq!(results.len(), 4);
    expect_reject(
        results[0].clone(),
        "certificate subject philipp.belitz@securesystems.de does not match bob@gmail.com",
    );
    expect_reject(
        results[1].clone(),
        "certificate issuer https://github.com/login/oauth does not match",
    );
    assert!(results[2].is_ok(), "{:?}", results[2]);
    expect_reject(
        results[3].clone(),
        "signature does not verify with key sha256:",
    );
}

#[test]
fn legacy_keyless_replay_on_another_digest_is_rejected() {
    let v = verifier();
    let sig = legacy(legacy_layers(KEYLESS_DIGEST).remove(0));
    let r = one(
        &v,
        &sig,
        ALICE_DIGEST,
        keyless(
            "p",
            "https://github.com/login/oauth",
            "philipp.belitz@securesystems.de",
        ),
    );
    expect_reject(
        r,
        &format!("payload names {KEYLESS_DIGEST}, not this image {ALICE_DIGEST}"),
    );
}

#[test]
fn legacy_keyless_tampering_is_rejected() {
    let v = verifier();
    let auth = || {
        keyless(
            "p",
            "https://github.com/login/oauth",
            "philipp.belitz@securesystems.de",
        )
    };
    let base = legacy_layers(KEYLESS_DIGEST).remove(0);

    // Payload altered (still naming the right digest): the signature no longer verifies.
    let mut l = base.clone();
    l.payload = String::from_utf8(l.payload)
        .unwrap()
        .replace("rekor-test", "rekor-evil")
        .into_bytes();
    expect_reject(
        one(&v, &legacy(l), KEYLESS_DIGEST, auth()),
        "signature does not verify with the certificate's key",
    );

    // SET removed.
    let mut l = base.clone();
    l.rekor_bundle = None;
    expect_reject(
        one(&v, &legacy(l), KEYLESS_DIGEST, auth()),
        "no transparency-log entry",
    );

    // SET tampered.
    let mut l = base.clone();
    let json = l.rekor_bundle.clone().unwrap();
    let bundle: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut set = unb64(bundle["SignedEntryTimestamp"].as_str().unwrap());
    let last = set.len() - 3;
    set[last] ^= 1;
    l.rekor_bundle = Some(
        String::from_utf8(edit_json(json.as_bytes(), |b| {
            b["SignedEntryTimestamp"] = b64(&set).into()
        }))
        .unwrap(),
    );
    expect_reject(
        one(&v, &legacy(l), KEYLESS_DIGEST, auth()),
        "signed entry timestamp (SET) does not verify",
    );

    // integratedTime moved outside the certificate's 10 minutes: the SET no longer covers it.
    let mut l = base.clone();
    l.rekor_bundle = Some(
        String::from_utf8(edit_json(json.as_bytes(), |b| {
            b["Payload"]["integratedTime"] = 1_717_182_297i64.into()
        }))
        .unwrap(),
    );
    expect_reject(
        one(&v, &legacy(l), KEYLESS_DIGEST, auth()),
        "signed entry timestamp (SET) does not verify",
    );

    // Certificate removed: a keyless authority has nothing to match.
    let mut l = base.clone();
    l.certificate = None;
    expect_reject(
        one(&v, &legacy(l), KEYLESS_DIGEST, auth()),
        "not a Fulcio certificate",
    );

    // Garbage in the signature annotation.
    let mut l = base.clone();
    l.signature = "%%%".into();
    expect_reject(one(&v, &legacy(l), KEYLESS_DIGEST, auth()), "not base64");

    // Oversized chain.
    let mut l = base;
    l.chain = Some(format!("{}\n", l.chain.clone().unwrap()).repeat(6));
    expect_reject(one(&v, &legacy(l), KEYLESS_DIGEST, auth()), "more than 10");
}

#[test]
fn legacy_keyless_fails_under_another_trust_root() {
    let other = TrustRoot::from_json(&read(
        "public-good-trust/github-instance-trusted_root.from-sigstore-java.json",
    ))
    .unwrap();
    let v = Verifier::new(Arc::new(other));
    let sig = legacy(legacy_layers(KEYLESS_DIGEST).remove(0));
    let r = one(
        &v,
        &sig,
        KEYLESS_DIGEST,
        keyless(
            "p",
            "https://github.com/login/oauth",
            "philipp.belitz@securesystems.de",
        ),
    );
    expect_reject(r, "trust root does not list");
}

/// The public-good root with `f` applied to its JSON.
fn edited_root(f: impl FnOnce(&mut serde_json::Value)) -> Verifier {
    let json = edit_json(
        &read("public-good-trust/root-signing/targets/trusted_root.json"),
        f,
    );
    Verifier::new(Arc::new(TrustRoot::from_json(&json).unwrap()))
}

#[test]
fn keyless_needs_the_fulcio_ca_and_ct_of_the_root() {
    let sig = legacy(legacy_layers(KEYLESS_DIGEST).remove(0));
    let auth = || {
        keyless(
            "p",
            "https://github.com/login/oauth",
            "philipp.belitz@securesystems.de",
        )
    };
    // No Fulcio CAs: nothing to chain to.
    let v = edited_root(|r| r["certificateAuthorities"] = serde_json::json!([]));
    expect_reject(
        one(&v, &sig, KEYLESS_DIGEST, auth()),
        "no Fulcio CA valid at the signing time",
    );
    // Only the 2021-2022 CA: not valid in 2024.
    let v = edited_root(|r| {
        let first = r["certificateAuthorities"][0].clone();
        r["certificateAuthorities"] = serde_json::json!([first]);
    });
    expect_reject(one(&v, &sig, KEYLESS_DIGEST, auth()), "no Fulcio CA valid");
    // The current CA, but its validity ended before the signature.
    let v = edited_root(|r| {
        r["certificateAuthorities"][1]["validFor"]["end"] = "2024-01-01T00:00:00Z".into()
    });
    expect_reject(one(&v, &sig, KEYLESS_DIGEST, auth()), "no Fulcio CA valid");
    // CT logs swapped for one with another key: the SCT no longer verifies.
    let v = edited_root(|r| {
        let rekor_key = r["tlogs"][0]["publicKey"].clone();
        r["ctlogs"][1]["publicKey"] = rekor_key;
    });
    expect_reject(one(&v, &sig, KEYLESS_DIGEST, auth()), "no valid SCT");
    // A private root with no CT logs needs no SCT.
    let v = edited_root(|r| r["ctlogs"] = serde_json::json!([]));
    assert!(one(&v, &sig, KEYLESS_DIGEST, auth()).is_ok());
    // The Rekor key expired before the entry was integrated.
    let v = edited_root(|r| {
        r["tlogs"][0]["publicKey"]["validFor"]["end"] = "2024-01-01T00:00:00Z".into()
    });
    expect_reject(
        one(&v, &sig, KEYLESS_DIGEST, auth()),
        "was not valid at the entry's integration time",
    );
}

// ---------------------------------------------------------------- legacy, keys

#[test]
fn legacy_key_signature_verifies_with_alice_only() {
    let v = verifier();
    let sig = legacy(legacy_layers(ALICE_DIGEST).remove(0));
    let results = v.verify_signature(
        &sig,
        &digest(ALICE_DIGEST),
        &[
            key_authority("alice", "alice.key", TlogRequirement::Optional),
            key_authority("bob", "bob.key", TlogRequirement::Optional),
            key_authority("alice-strict", "alice.key", TlogRequirement::Required),
            keyless("k", GHA, "x"),
        ],
    );
    let alice = results[0].clone().unwrap();
    assert!(alice.signer.starts_with("sha256:"));
    assert_eq!(alice.tlog_index, None);
    expect_reject(
        results[1].clone(),
        "signature does not verify with key sha256:",
    );
    expect_reject(
        results[2].clone(),
        "no transparency-log entry, and authority `alice-strict` requires one",
    );
    expect_reject(results[3].clone(), "made with a key");
}

#[test]
fn legacy_key_signature_rejects_replay_and_tampering() {
    let v = verifier();
    let base = legacy_layers(ALICE_DIGEST).remove(0);
    let alice = || key_authority("alice", "alice.key", TlogRequirement::Optional);
    expect_reject(
        one(&v, &legacy(base.clone()), MULTI_DIGEST, alice()),
        "a signature of another image",
    );
    let mut l = base.clone();
    l.payload.push(b' ');
    expect_reject(
        one(&v, &legacy(l), ALICE_DIGEST, alice()),
        "signature does not verify with key",
    );
    let mut l = base;
    l.payload = br#"{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"sha256:071bf7a986f1ca9cb2a1f0bc8392822a7777f90d58f2d2c6f271913e08de7c81"},"type":"something else"}}"#.to_vec();
    expect_reject(
        one(&v, &legacy(l), ALICE_DIGEST, alice()),
        "not `cosign container image signature`",
    );
}

#[test]
fn a_log_entry_of_another_signature_does_not_count() {
    let v = verifier();
    let mut l = legacy_layers(ALICE_DIGEST).remove(0);
    l.rekor_bundle = legacy_layers(KEYLESS_DIGEST).remove(0).rekor_bundle;
    let r = one(
        &v,
        &legacy(l),
        ALICE_DIGEST,
        key_authority("alice", "alice.key", TlogRequirement::Required),
    );
    expect_reject(r, "the transparency-log entry is for other content");
}

#[test]
fn legacy_multi_signature_layers_each_verify_for_their_key() {
    let v = verifier();
    let layers = legacy_layers(MULTI_DIGEST);
    assert_eq!(layers.len(), 3);
    let auths = [
        key_authority("alice", "alice.key", TlogRequirement::Optional),
        key_authority("bob", "bob.key", TlogRequirement::Optional),
        key_authority("charlie", "charlie.key", TlogRequirement::Optional),
    ];
    let mut signers = Vec::new();
    for layer in layers {
        let r = v.verify_signature(&legacy(layer), &digest(MULTI_DIGEST), &auths);
        let ok: Vec<&str> = r
            .iter()
            .filter_map(|x| x.as_ref().ok())
            .map(|x| x.authority.as_str())
            .collect();
        assert_eq!(ok.len(), 1, "{r:?}");
        signers.push(ok[0].to_string());
    }
    signers.sort();
    assert_eq!(signers, ["alice", "bob", "charlie"]);
}

// ---------------------------------------------------------------- cosign v3 bundle

#[test]
fn cosign_v3_bundle_verifies_for_digest_and_identity() {
    let v = verifier();
    let b = bundle_artifact(read("sigstore-rs/bundle_v03.json"));
    let ok = one(&v, &b, V03_DIGEST, keyless("kw", GHA, V03_IDENTITY)).unwrap();
    assert_eq!(ok.signer, V03_IDENTITY);
    assert_eq!(ok.tlog_index, Some(1_261_105_807));
    assert_eq!(ok.integrated_time, Some(1_775_719_409));
}

#[test]
fn cosign_v3_bundle_rejects_other_digest_identity_and_tampering() {
    let v = verifier();
    let json = read("sigstore-rs/bundle_v03.json");
    let b = bundle_artifact(json.clone());
    expect_reject(
        one(&v, &b, ALICE_DIGEST, keyless("kw", GHA, V03_IDENTITY)),
        "a signature of another image",
    );
    expect_reject(
        one(
            &v,
            &b,
            V03_DIGEST,
            keyless("kw", GHA, &V03_IDENTITY.replace("v1.34.0", "v1.34.1")),
        ),
        "does not match",
    );
    expect_reject(
        one(
            &v,
            &b,
            V03_DIGEST,
            keyless("kw", "https://accounts.google.com", V03_IDENTITY),
        ),
        "certificate issuer",
    );
    expect_reject(
        one(
            &v,
            &b,
            V03_DIGEST,
            key_authority("alice", "alice.key", TlogRequirement::Optional),
        ),
        "does not verify with key",
    );

    // Statement rewritten to name the image but with another payload: the signature fails.
    let tampered = edit_json(&json, |j| {
        let p = String::from_utf8(unb64(j["dsseEnvelope"]["payload"].as_str().unwrap())).unwrap();
        let p = p.replace("\"annotations\":{}", "\"annotations\":{\"x\":\"y\"}");
        j["dsseEnvelope"]["payload"] = b64(p.as_bytes()).into();
    });
    expect_reject(
        one(
            &v,
            &bundle_artifact(tampered),
            V03_DIGEST,
            keyless("kw", GHA, V03_IDENTITY),
        ),
        "signature does not verify",
    );

    // SET and inclusion proof removed.
    let no_tlog = edit_json(&json, |j| {
        j["verificationMaterial"]["tlogEntries"] = serde_json::json!([])
    });
    expect_reject(
        one(
            &v,
            &bundle_artifact(no_tlog),
            V03_DIGEST,
            keyless("kw", GHA, V03_IDENTITY),
        ),
        "no transparency-log entry",
    );

    // SET removed (v0.3 keeps the inclusion proof): the RFC 3161 timestamp still proves the time.
    let no_set = edit_json(&json, |j| {
        j["verificationMaterial"]["tlogEntries"][0]
            .as_object_mut()
            .unwrap()
            .remove("inclusionPromise");
    });
    let ok = one(
        &v,
        &bundle_artifact(no_set.clone()),
        V03_DIGEST,
        keyless("kw", GHA, V03_IDENTITY),
    )
    .unwrap();
    assert_eq!(ok.integrated_time, None);
    // ... and without the timestamp too, nothing proves when it was signed.
    let no_time = edit_json(&no_set, |j| {
        j["verificationMaterial"]
            .as_object_mut()
            .unwrap()
            .remove("timestampVerificationData");
    });
    expect_reject(
        one(
            &v,
            &bundle_artifact(no_time),
            V03_DIGEST,
            keyless("kw", GHA, V03_IDENTITY),
        ),
        "signing time is unproven",
    );

    // integratedTime shifted: the SET no longer verifies.
    let moved = edit_json(&json, |j| {
        j["verificationMaterial"]["tlogEntries"][0]["integratedTime"] = "1775719999".into()
    });
    expect_reject(
        one(
            &v,
            &bundle_artifact(moved),
            V03_DIGEST,
            keyless("kw", GHA, V03_IDENTITY),
        ),
        "(SET) does not verify",
    );

    // Oversized bundle.
    let mut big = json.clone();
    big.extend(std::iter::repeat_n(b' ', bundle::MAX_BUNDLE_LEN));
    expect_reject(
        one(
            &v,
            &bundle_artifact(big),
            V03_DIGEST,
            keyless("kw", GHA, V03_IDENTITY),
        ),
        "larger than 1 MiB",
    );

    // Wrong trust root.
    let other = TrustRoot::from_json(&read(
        "public-good-trust/github-instance-trusted_root.from-sigstore-java.json",
    ))
    .unwrap();
    let r = one(
        &Verifier::new(Arc::new(other)),
        &b,
        V03_DIGEST,
        keyless("kw", GHA, V03_IDENTITY),
    );
    assert!(r.is_err());
}

#[test]
fn garbage_never_panics() {
    let v = verifier();
    let auths = [
        keyless("k", GHA, "x"),
        key_authority("alice", "alice.key", TlogRequirement::Optional),
    ];
    let json = read("sigstore-rs/bundle_v03.json");
    for cut in [0, 1, 10, 100, 1000, json.len() / 2, json.len() - 1] {
        let r = v.verify_signature(
            &bundle_artifact(json[..cut].to_vec()),
            &digest(V03_DIGEST),
            &auths,
        );
        assert!(r.iter().all(Result::is_err));
    }
    let mut l = legacy_layers(KEYLESS_DIGEST).remove(0);
    l.certificate = Some("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n".into());
    l.rekor_bundle = Some("{\"SignedEntryTimestamp\":\"\",\"Payload\":{}}".into());
    let r = v.verify_signature(&legacy(l), &digest(KEYLESS_DIGEST), &auths);
    assert!(r.iter().all(Result::is_err));
    assert!(v
        .verify_signature(
            &legacy(legacy_layers(KEYLESS_DIGEST).remove(0)),
            &digest(KEYLESS_DIGEST),
            &[]
        )
        .is_empty());
}

// ---------------------------------------------------------------- sigstore-conformance

const CONFORMANCE: &str = "sigstore-conformance/assets/bundle-verify";
const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";

fn conformance_case(dir: &Path) -> Result<VerifiedSignature, Rejection> {
    let file = |n: &str| std::fs::read(dir.join(n)).ok();
    let text = |n: &str| file(n).map(|b| String::from_utf8(b).unwrap().trim().to_string());
    let artifact = file("artifact").unwrap_or_else(|| read(&format!("{CONFORMANCE}/a.txt")));
    let root = match file("trusted_root.json") {
        Some(j) => match TrustRoot::from_json(&j) {
            Ok(r) => Arc::new(r),
            Err(e) => return Err(Rejection::new(format!("trust root refused: {e}"))),
        },
        None => public_good(),
    };
    let authority = match text("key.pub") {
        Some(pem) => Authority {
            name: "key".into(),
            identity: Identity::Key(
                PublicKey::from_pem(&pem)
                    .map_err(|e| Rejection::new(format!("key refused: {e}")))?,
            ),
            tlog: TlogRequirement::Required,
            trust_root: None,
        },
        None => keyless(
            "conformance",
            &text("issuer").unwrap_or_else(|| GHA.to_string()),
            &text("identity").unwrap_or_else(|| DEFAULT_IDENTITY.to_string()),
        ),
    };
    let bundle = file("bundle.sigstore.json").unwrap();
    one(
        &Verifier::new(root),
        &bundle_artifact(bundle),
        Digest::of(&artifact).as_str(),
        authority,
    )
}

#[test]
fn sigstore_conformance_bundles() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(path(CONFORMANCE))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut failures = Vec::new();
    let mut passed = 0;
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let r = conformance_case(dir);
        let expected_pass = !name.ends_with("_fail");
        match (&r, expected_pass) {
            (Ok(_), true) => passed += 1,
            (Err(Rejection { reason: m, .. }), false) => {
                eprintln!("{name}: rejected: {m}");
            }
            _ => failures.push(format!(
                "{name}: expected {}, got {r:?}",
                if expected_pass { "PASS" } else { "FAIL" }
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "conformance mismatches:\n{}",
        failures.join("\n")
    );
    assert!(passed >= 21, "only {passed} happy paths passed");
}

// ---------------------------------------------------------------- Rekor v2 and RFC 3161

fn conformance_root(case: &str) -> Arc<TrustRoot> {
    Arc::new(
        TrustRoot::from_json(&read(&format!("{CONFORMANCE}/{case}/trusted_root.json"))).unwrap(),
    )
}

fn conformance_bundle(case: &str) -> Vec<u8> {
    read(&format!("{CONFORMANCE}/{case}/bundle.sigstore.json"))
}

fn a_txt() -> String {
    Digest::of(&read(&format!("{CONFORMANCE}/a.txt")))
        .as_str()
        .to_string()
}

#[test]
fn rekor_v2_bundle_verifies_on_its_rfc3161_time() {
    let v = Verifier::new(conformance_root("rekor2-happy-path"));
    let json = conformance_bundle("rekor2-happy-path");
    let ok = one(
        &v,
        &bundle_artifact(json.clone()),
        &a_txt(),
        keyless("c", GHA, DEFAULT_IDENTITY),
    )
    .unwrap();
    assert_eq!(ok.integrated_time, None);
    assert!(ok.tlog_index.is_some());

    // No timestamp: nothing proves the signing time.
    let no_ts = edit_json(&json, |j| {
        j["verificationMaterial"]
            .as_object_mut()
            .unwrap()
            .remove("timestampVerificationData");
    });
    expect_reject(
        one(
            &v,
            &bundle_artifact(no_ts),
            &a_txt(),
            keyless("c", GHA, DEFAULT_IDENTITY),
        ),
        "signing time is unproven",
    );
    // A Rekor v2 entry claiming a SET or an integration time is not a Rekor v2 entry.
    let with_time = edit_json(&json, |j| {
        j["verificationMaterial"]["tlogEntries"][0]["integratedTime"] = "1749729740".into()
    });
    expect_reject(
        one(
            &v,
            &bundle_artifact(with_time),
            &a_txt(),
            keyless("c", GHA, DEFAULT_IDENTITY),
        ),
        "never records",
    );
    // The log's key must be valid at the timestamp's time.
    let expired_log = {
        let mut root: serde_json::Value = serde_json::from_slice(&read(&format!(
            "{CONFORMANCE}/rekor2-happy-path/trusted_root.json"
        )))
        .unwrap();
        for t in root["tlogs"].as_array_mut().unwrap() {
            t["publicKey"]["validFor"]["end"] = "2025-06-01T00:00:00Z".into();
        }
        Verifier::new(Arc::new(
            TrustRoot::from_json(&serde_json::to_vec(&root).unwrap()).unwrap(),
        ))
    };
    expect_reject(
        one(
            &expired_log,
            &bundle_artifact(json.clone()),
            &a_txt(),
            keyless("c", GHA, DEFAULT_IDENTITY),
        ),
        "was not valid at the RFC 3161 timestamp's time",
    );
    // The same entry body under another signature fails the binding.
    let other_sig = edit_json(&json, |j| {
        let mut sig = unb64(j["messageSignature"]["signature"].as_str().unwrap());
        let n = sig.len();
        sig[n - 2] ^= 1;
        j["messageSignature"]["signature"] = b64(&sig).into();
    });
    assert!(one(
        &v,
        &bundle_artifact(other_sig),
        &a_txt(),
        keyless("c", GHA, DEFAULT_IDENTITY)
    )
    .is_err());
    // In a v0.2 bundle a Rekor v2 entry is refused.
    let v02 = edit_json(&json, |j| {
        j["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2".into()
    });
    expect_reject(
        one(
            &v,
            &bundle_artifact(v02),
            &a_txt(),
            keyless("c", GHA, DEFAULT_IDENTITY),
        ),
        "needs a v0.3 bundle",
    );
}

#[test]
fn rekor_v2_timestamp_outside_the_certificate_validity_fails() {
    let case = "rekor2-timestamp-with-incorrect-time_fail";
    let v = Verifier::new(conformance_root(case));
    expect_reject(
        one(
            &v,
            &bundle_artifact(conformance_bundle(case)),
            &a_txt(),
            keyless("c", GHA, DEFAULT_IDENTITY),
        ),
        "outside the certificate's validity",
    );
}

#[test]
fn rekor_v2_dsse_binds_the_envelope_pae() {
    let case = "rekor2-dsse-happy-path";
    let v = Verifier::new(conformance_root(case));
    let json = conformance_bundle(case);
    one(
        &v,
        &bundle_artifact(json.clone()),
        &a_txt(),
        keyless("c", GHA, DEFAULT_IDENTITY),
    )
    .unwrap();
    for (bad, needle) in [
        ("rekor2-dsse-mismatch-envelope_fail", "other content"),
        ("rekor2-dsse-mismatch-sig_fail", "logs another signature"),
        ("rekor2-dsse-invalid-sig_fail", "signature does not verify"),
    ] {
        expect_reject(
            one(
                &Verifier::new(conformance_root(bad)),
                &bundle_artifact(conformance_bundle(bad)),
                &a_txt(),
                keyless("c", GHA, DEFAULT_IDENTITY),
            ),
            needle,
        );
    }
}

#[test]
fn legacy_rfc3161_annotation_covers_the_raw_signature() {
    // A cosign-style annotation built from a real staging timestamp over a real signature.
    let bundle: serde_json::Value =
        serde_json::from_slice(&conformance_bundle("rekor2-happy-path")).unwrap();
    let sig_b64 = bundle["messageSignature"]["signature"].as_str().unwrap();
    let ts = bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
        ["signedTimestamp"]
        .as_str()
        .unwrap();
    let d = KEYLESS_DIGEST;
    let payload = format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"x"}},"image":{{"docker-manifest-digest":"{d}"}},"type":"cosign container image signature"}},"optional":null}}"#
    );
    let root = conformance_root("rekor2-happy-path");
    let layer = |signature: &str, annotation: Option<String>| LegacySignature {
        payload: payload.clone().into_bytes(),
        signature: signature.to_string(),
        certificate: None,
        chain: None,
        rekor_bundle: None,
        rfc3161_timestamp: annotation,
        source: "test".into(),
    };
    let ann = Some(format!(r#"{{"SignedRFC3161Timestamp":"{ts}"}}"#));
    let m = legacy::prepare(&layer(sig_b64, ann.clone()), &digest(d), &root).unwrap();
    assert_eq!(m.timestamps.verified.len(), 1);
    assert!(m.timestamps.failures.is_empty());
    // Another signature: the imprint no longer matches, the timestamp proves nothing.
    let mut other = unb64(sig_b64);
    other[10] ^= 1;
    let m = legacy::prepare(&layer(&b64(&other), ann), &digest(d), &root).unwrap();
    assert!(m.timestamps.verified.is_empty());
    assert!(m.timestamps.failures[0].reason.contains("message imprint"));
    // A malformed annotation refuses the layer.
    let r = legacy::prepare(&layer(sig_b64, Some("{}".into())), &digest(d), &root);
    assert!(r.is_err_and(|e| e.reason.contains("SignedRFC3161Timestamp")));
}

/// Rough cost of one verification, for comparison with the bare crypto floor:
/// `cargo test --release --lib verify::tests::timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing() {
    let v = verifier();
    let cases = [
        (
            "legacy keyless",
            legacy(legacy_layers(KEYLESS_DIGEST).remove(0)),
            KEYLESS_DIGEST,
            keyless(
                "p",
                "https://github.com/login/oauth",
                "philipp.belitz@securesystems.de",
            ),
        ),
        (
            "legacy key",
            legacy(legacy_layers(ALICE_DIGEST).remove(0)),
            ALICE_DIGEST,
            key_authority("alice", "alice.key", TlogRequirement::Optional),
        ),
        (
            "bundle v0.3",
            bundle_artifact(read("sigstore-rs/bundle_v03.json")),
            V03_DIGEST,
            keyless("kw", GHA, V03_IDENTITY),
        ),
    ];
    for (name, artifact, d, auth) in cases {
        let d = digest(d);
        let auths = [auth];
        let n = 200;
        let start = std::time::Instant::now();
        for _ in 0..n {
            assert!(v.verify_signature(&artifact, &d, &auths)[0].is_ok());
        }
        eprintln!("{name}: {:?} per verification", start.elapsed() / n);
    }
}

#[test]
fn a_key_with_a_validity_window_needs_a_proven_time_inside_it() {
    let case = "managed-key-happy-path";
    let pem = String::from_utf8(read(&format!("{CONFORMANCE}/{case}/key.pub"))).unwrap();
    let bundle = bundle_artifact(conformance_bundle(case));
    let with = |key: PublicKey| Authority {
        name: "k".into(),
        identity: Identity::Key(key),
        tlog: TlogRequirement::Optional,
        trust_root: None,
    };
    let key = PublicKey::from_pem(&pem).unwrap();
    let v = verifier();
    one(&v, &bundle, &a_txt(), with(key.clone())).unwrap();
    one(
        &v,
        &bundle,
        &a_txt(),
        with(key.clone().with_validity(0, i64::MAX)),
    )
    .unwrap();
    expect_reject(
        one(&v, &bundle, &a_txt(), with(key.with_validity(0, 1))),
        "outside the validity window",
    );
    // alice's legacy signature has neither a log entry nor a timestamp: no time is proven.
    let alice = legacy_layers(ALICE_DIGEST).remove(0);
    let auth = key_authority("alice", "alice.key", TlogRequirement::Optional);
    let Identity::Key(k) = auth.identity.clone() else {
        unreachable!()
    };
    let windowed = Authority {
        identity: Identity::Key(k.with_validity(0, i64::MAX)),
        ..auth.clone()
    };
    one(&v, &legacy(alice.clone()), ALICE_DIGEST, auth).unwrap();
    expect_reject(
        one(&v, &legacy(alice), ALICE_DIGEST, windowed),
        "nothing proves when",
    );
}

// ---- issue 13: P-384 / P-521, SHA-384 / SHA-512 message digests, raw DSSE payloads ----

use aws_lc_rs::signature::{EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair as _};

fn generated(alg: &'static EcdsaSigningAlgorithm) -> (EcdsaKeyPair, Authority) {
    let kp = EcdsaKeyPair::generate(alg).unwrap();
    let key = PublicKey::from_spki_der(
        aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(
            kp.public_key(),
        )
        .unwrap()
        .as_ref(),
    )
    .unwrap();
    let auth = Authority {
        name: "k".into(),
        identity: Identity::Key(key),
        tlog: TlogRequirement::Optional,
        trust_root: None,
    };
    (kp, auth)
}

fn sign(kp: &EcdsaKeyPair, msg: &[u8]) -> Vec<u8> {
    kp.sign(&aws_lc_rs::rand::SystemRandom::new(), msg)
        .unwrap()
        .as_ref()
        .to_vec()
}

fn artifact_subject(bytes: &[u8]) -> Subject {
    use sha2::Digest as _;
    Subject::of_bytes(Digest::of(bytes), hex::encode(sha2::Sha512::digest(bytes)))
        .with_sha384(hex::encode(sha2::Sha384::digest(bytes)))
}

fn key_bundle(content: serde_json::Value) -> SignatureArtifact {
    let mut j = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": "generated"}},
    });
    for (k, v) in content.as_object().unwrap() {
        j[k] = v.clone();
    }
    bundle_artifact(serde_json::to_vec(&j).unwrap())
}

fn message_bundle(alg: &str, digest: &[u8], sig: &[u8]) -> SignatureArtifact {
    key_bundle(serde_json::json!({"messageSignature": {
        "messageDigest": {"algorithm": alg, "digest": b64(digest)},
        "signature": b64(sig),
    }}))
}

fn only(r: Vec<Result<VerifiedSignature, Rejection>>) -> Result<VerifiedSignature, Rejection> {
    let [r] = <[_; 1]>::try_from(r).unwrap();
    r
}

#[test]
fn message_signatures_over_sha384_and_sha512_digests_verify() {
    use aws_lc_rs::signature::{ECDSA_P384_SHA384_ASN1_SIGNING, ECDSA_P521_SHA512_ASN1_SIGNING};
    use sha2::Digest as _;
    let v = verifier();
    let artifact = b"release tarball bytes".to_vec();
    let subject = artifact_subject(&artifact);
    let d384 = sha2::Sha384::digest(&artifact).to_vec();
    let d512 = sha2::Sha512::digest(&artifact).to_vec();
    for (signing, alg, d, other_alg, other_d) in [
        (
            &ECDSA_P384_SHA384_ASN1_SIGNING,
            "SHA2_384",
            &d384,
            "SHA2_512",
            &d512,
        ),
        (
            &ECDSA_P521_SHA512_ASN1_SIGNING,
            "SHA2_512",
            &d512,
            "SHA2_384",
            &d384,
        ),
    ] {
        let (kp, auth) = generated(signing);
        let (_, other_key) = generated(signing);
        let sig = sign(&kp, &artifact);
        let bundle = message_bundle(alg, d, &sig);
        only(v.verify_subject(&bundle, &subject, std::slice::from_ref(&auth))).unwrap();
        // Another key of the same curve.
        expect_reject(
            only(v.verify_subject(&bundle, &subject, &[other_key])),
            "does not verify",
        );
        // Another artifact.
        expect_reject(
            only(v.verify_subject(
                &bundle,
                &artifact_subject(b"other"),
                std::slice::from_ref(&auth),
            )),
            "other content",
        );
        // A tampered signature.
        let mut bad = sig.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        expect_reject(
            only(v.verify_subject(
                &message_bundle(alg, d, &bad),
                &subject,
                std::slice::from_ref(&auth),
            )),
            "does not verify",
        );
        // Only a SHA-256 is known: a SHA-384/512 digest cannot be compared.
        expect_reject(
            only(v.verify_subject(
                &bundle,
                &Subject::sha256(&Digest::of(&artifact)),
                std::slice::from_ref(&auth),
            )),
            "give the artifact file",
        );
        // The digest of the other algorithm: right artifact, but not what the key signed.
        expect_reject(
            only(v.verify_subject(
                &message_bundle(other_alg, other_d, &sig),
                &subject,
                std::slice::from_ref(&auth),
            )),
            "does not verify",
        );
        // The label and the digest length disagree.
        expect_reject(
            only(v.verify_subject(
                &message_bundle(other_alg, d, &sig),
                &subject,
                std::slice::from_ref(&auth),
            )),
            "is not a SHA-",
        );
        expect_reject(
            only(v.verify_subject(&message_bundle("SHA3_256", d, &sig), &subject, &[auth])),
            "not SHA2_256, SHA2_384 or SHA2_512",
        );
    }
}

#[test]
fn a_dsse_payload_that_is_not_in_toto_is_the_artifact_itself() {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING};
    let v = verifier();
    let artifact = b"hello, raw DSSE".to_vec();
    let subject = artifact_subject(&artifact);
    for signing in [
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        &ECDSA_P384_SHA384_ASN1_SIGNING,
    ] {
        let (kp, auth) = generated(signing);
        let envelope = |payload: &[u8], sig: &[u8]| {
            key_bundle(serde_json::json!({"dsseEnvelope": {
                "payloadType": "text/plain",
                "payload": b64(payload),
                "signatures": [{"sig": b64(sig)}],
            }}))
        };
        let sig = sign(&kp, &dsse::pae("text/plain", &artifact));
        let bundle = envelope(&artifact, &sig);
        only(v.verify_subject(&bundle, &subject, std::slice::from_ref(&auth))).unwrap();
        // Known by its sha256 only, as `verify-bundle sha256:…` gives it.
        only(v.verify_subject(
            &bundle,
            &Subject::sha256(&Digest::of(&artifact)),
            std::slice::from_ref(&auth),
        ))
        .unwrap();
        // Another artifact.
        expect_reject(
            only(v.verify_subject(
                &bundle,
                &artifact_subject(b"other"),
                std::slice::from_ref(&auth),
            )),
            "is not this artifact",
        );
        // A tampered payload, checked against itself: the signature no longer verifies.
        let tampered = b"hello, raw DSSF".to_vec();
        expect_reject(
            only(v.verify_subject(
                &envelope(&tampered, &sig),
                &artifact_subject(&tampered),
                std::slice::from_ref(&auth),
            )),
            "does not verify",
        );
        // Another key.
        let (_, other_key) = generated(signing);
        expect_reject(
            only(v.verify_subject(&bundle, &subject, &[other_key])),
            "does not verify",
        );
        // Never an image signature: an image needs an in-toto statement naming it.
        expect_reject(
            only(v.verify_signature(&bundle, &Digest::of(&artifact), &[auth])),
            "not `application/vnd.in-toto+json`",
        );
    }
}
