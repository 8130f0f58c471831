//! Table-driven over `tests/data/vectors/notation/cases.json`: the AWS Signer trusted-identity
//! cases, the tspclient-go timestamp tokens, and (once envelopes parse) every envelope and OCI
//! layout case through [`verify`] at the current time.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::super::timestamp::verify_with_roots;
use super::super::x509::Cert;
use super::*;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/vectors/notation"
);

fn cases(check: &[&str]) -> Vec<Value> {
    let text = std::fs::read(format!("{VECTORS}/cases.json")).unwrap();
    let all: Vec<Value> = serde_json::from_slice(&text).unwrap();
    all.into_iter()
        .filter(|c| check.contains(&c["check"].as_str().unwrap_or("")))
        .collect()
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(format!("{VECTORS}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Compares outcomes with expectations; prints every case, fails listing the mismatches.
fn report(results: Vec<(String, String, Result<String, String>)>) {
    let mut wrong = Vec::new();
    for (id, expected, got) in &results {
        let verdict = if got.is_ok() { "PASS" } else { "FAIL" };
        let detail = match got {
            Ok(d) | Err(d) => d,
        };
        eprintln!("{id}: expected {expected}, got {verdict} ({detail})");
        if verdict != expected {
            wrong.push(id.clone());
        }
    }
    assert!(wrong.is_empty(), "cases with another outcome: {wrong:?}");
}

#[test]
fn aws_signer_trusted_identity_cases() {
    let results = cases(&["trusted-identity"])
        .iter()
        .map(|c| {
            let attrs = &c["signed_attributes"];
            let version = attrs["com.amazonaws.signer.signingProfileVersion"]
                .as_str()
                .unwrap();
            let got = aws_signer::identity_matches(&strs(&c["trusted_identities"]), version, None);
            (id(c), expected(c), got)
        })
        .collect();
    report(results);
}

#[test]
fn tspclient_timestamp_token_cases() {
    let results = cases(&["timestamp-token"])
        .iter()
        .map(|c| {
            let roots: Vec<Cert> = strs(&c["tsa_roots"])
                .iter()
                .flat_map(|p| trust_store::parse_certificates(&read(p)).unwrap())
                .collect();
            let token = read(c["token"].as_str().unwrap());
            let message = c["message"].as_str().unwrap().as_bytes();
            let got = verify_with_roots(&token, message, &roots)
                .map(|v| format!("genTime {} ± {} ns by {}", v.secs(), v.accuracy_ns, v.tsa))
                .map_err(|r| r.reason);
            if let (Ok(_), Some(g)) = (&got, c["gen_time"].as_str()) {
                assert!(got.as_ref().unwrap().contains(&unix(g).to_string()), "{g}");
            }
            (id(c), expected(c), got)
        })
        .collect();
    report(results);
}

fn id(c: &Value) -> String {
    c["id"].as_str().unwrap().to_string()
}

fn expected(c: &Value) -> String {
    c["expected"].as_str().unwrap().to_string()
}

fn unix(rfc3339: &str) -> i64 {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .unix_timestamp()
}

fn target_of(v: &Value) -> Target {
    Target {
        media_type: v["mediaType"].as_str().unwrap().to_string(),
        digest: v["digest"].as_str().unwrap().to_string(),
        size: v["size"].as_u64().unwrap(),
    }
}

fn stores_of(c: &Value) -> TrustStores {
    let mut stores = TrustStores::new();
    for (store, files) in c["trust_stores"].as_object().into_iter().flatten() {
        let (kind, name) = store.split_once(':').unwrap();
        let kind = match kind {
            "ca" => StoreKind::Ca,
            "signingAuthority" => StoreKind::SigningAuthority,
            _ => StoreKind::Tsa,
        };
        for f in strs(files) {
            stores.add_certificates(kind, name, &read(f)).unwrap();
        }
    }
    stores
}

/// `(envelope bytes, media type)` of each signature of a case.
fn signatures_of(c: &Value) -> Vec<(Vec<u8>, String)> {
    if let Some(path) = c["envelope"].as_str() {
        let mt = c["envelope_media_type"].as_str().unwrap().to_string();
        return vec![(read(path), mt)];
    }
    let layout = c["layout"].as_str().unwrap();
    c["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            // The signature manifest's one layer is the envelope; its media type says which.
            let manifest: Value =
                serde_json::from_slice(&read(s["signature_manifest"].as_str().unwrap())).unwrap();
            let layer = &manifest["layers"][0];
            let digest = layer["digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:");
            let blob = read(&format!("{layout}/blobs/sha256/{digest}"));
            (blob, layer["mediaType"].as_str().unwrap().to_string())
        })
        .collect()
}

/// One envelope or OCI-layout case through [`verify`]: PASS when some signature verifies.
fn run_case(c: &Value, now: i64) -> Result<String, String> {
    let doc = TrustPolicyDocument::from_json(&read(c["trust_policy"].as_str().unwrap()))?;
    let reference = c["artifact_reference"].as_str().unwrap();
    let mut statement = doc.statement_for(reference)?.clone();
    if c["check"] == "step:authenticTimestamp" {
        // Upstream asserted only this step: the others are logged, it stays enforced.
        for step in [Step::Authenticity, Step::Expiry, Step::Revocation] {
            statement.level.actions.insert(step, Action::Log);
        }
    }
    let stores = stores_of(c);
    let target = target_of(&c["target"]);
    let mut why = Vec::new();
    for (bytes, media_type) in signatures_of(c) {
        let revocation = RevocationStatus::NotChecked;
        match verify(
            &bytes,
            &media_type,
            &target,
            &statement,
            &stores,
            now,
            &revocation,
        ) {
            Ok(v) => {
                return Ok(format!(
                    "{} {:?} logged {:?}",
                    v.signer, v.timestamp, v.logged
                ))
            }
            Err(r) => why.push(format!("{:?}: {}", r.kind, r.reason)),
        }
    }
    Err(why.join("; "))
}

#[test]
fn envelope_and_oci_layout_cases() {
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let results = cases(&["full", "step:authenticTimestamp"])
        .iter()
        .map(|c| (id(c), expected(c), run_case(c, now)))
        .collect();
    report(results);
}

/// A real signature (notation's e2e JWS, signed by the self-signed e2e.crt) and its context.
fn e2e() -> (Value, TrustPolicy, TrustStores, Target) {
    let layout = "notation/test/e2e/testdata/registry/oci_layout/e2e-valid-signature";
    let blob = "c9af07e038b2b1a463e648986ad7273157511ffeba0b689f33e5472bae471f50";
    let jws: Value =
        serde_json::from_slice(&read(&format!("{layout}/blobs/sha256/{blob}"))).unwrap();
    let policy = "notation/test/e2e/testdata/config/trustpolicies/trustpolicy.json";
    let doc = TrustPolicyDocument::from_json(&read(policy)).unwrap();
    let statement = doc.statement_for("localhost:5000/e2e").unwrap().clone();
    let mut stores = TrustStores::new();
    let crt = read("notation/test/e2e/testdata/config/localkeys/e2e.crt");
    stores.add_certificates(StoreKind::Ca, "e2e", &crt).unwrap();
    let target = Target {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9".into(),
        size: 517,
    };
    (jws, statement, stores, target)
}

#[test]
fn tampering_with_a_real_envelope_fails_integrity() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (jws, policy, stores, target) = e2e();
    let run = |env: &Value, target: &Target| {
        let bytes = serde_json::to_vec(env).unwrap();
        let nc = RevocationStatus::NotChecked;
        verify(
            &bytes,
            JWS_MEDIA_TYPE,
            target,
            &policy,
            &stores,
            1_767_225_600,
            &nc,
        )
    };
    let v = run(&jws, &target).unwrap();
    assert_eq!(v.signer, "CN=e2e,O=Notary,L=Seattle,ST=WA,C=US");
    assert_eq!(
        aws_signer_revocation_query(&serde_json::to_vec(&jws).unwrap(), JWS_MEDIA_TYPE),
        None
    );
    // The payload rewritten to name another image: the signature no longer covers it.
    let payload = b64.decode(jws["payload"].as_str().unwrap()).unwrap();
    let other = String::from_utf8(payload)
        .unwrap()
        .replace("b8479de3", "00000000");
    let mut tampered = jws.clone();
    tampered["payload"] = b64.encode(other).into();
    let e = run(&tampered, &target).unwrap_err();
    assert!(
        e.reason.contains("the signature does not verify"),
        "{}",
        e.reason
    );
    // A flipped signature byte.
    let mut sig = b64.decode(jws["signature"].as_str().unwrap()).unwrap();
    sig[10] ^= 1;
    let mut flipped = jws.clone();
    flipped["signature"] = b64.encode(sig).into();
    assert!(run(&flipped, &target)
        .unwrap_err()
        .reason
        .contains("does not verify"));
    // A genuine signature for another image, size or media type.
    let mut other = target.clone();
    other.digest = format!("sha256:{}", "0".repeat(64));
    let e = run(&jws, &other).unwrap_err();
    assert!(
        e.reason
            .contains("integrity failed: the signature is for sha256:b8479de3"),
        "{}",
        e.reason
    );
    let mut other = target.clone();
    other.size = 518;
    assert!(run(&jws, &other)
        .unwrap_err()
        .reason
        .contains("of 517 bytes, not 518"));
}
