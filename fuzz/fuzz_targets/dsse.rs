//! Arbitrary bytes as a DSSE envelope: as a cosign `.att` layer (the envelope JSON) through the
//! public `Verifier::verify_attestation` with a keyless and a key authority, and as a DSSE
//! payload read as an in-toto Statement about a fixed subject (with its PAE). Must return one
//! result per authority, never panic, hang or allocate without bound.
//!
//! The subject is the conformance suite's `a.txt`, which its DSSE seeds name.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use shipgate::evidence::attestations::{AttestationArtifact, LegacyAttestation};
use shipgate::policy::{Authority, Identity, Matcher, TlogRequirement};
use shipgate::reference::Digest;
use shipgate::verify::{fuzzing, PublicKey, Subject, TrustRoot, Verifier};

/// sha256 of sigstore-conformance `assets/bundle-verify/a.txt`.
const DIGEST: &str = "sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf";
const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const KEY_PEM: &str = include_str!("../keys/managed-key-happy-path.pub");

struct Fixture {
    verifier: Verifier,
    subject: Subject,
    authorities: Vec<Authority>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = TrustRoot::public_good().expect("embedded public-good trusted root");
        let digest: Digest = DIGEST.parse().expect("digest");
        Fixture {
            verifier: Verifier::new(Arc::new(root)),
            subject: Subject::sha256(&digest),
            authorities: vec![
                Authority {
                    name: "keyless".into(),
                    identity: Identity::Keyless {
                        issuer: Matcher::Exact(ISSUER.into()),
                        subject: Matcher::Exact(IDENTITY.into()),
                    },
                    tlog: TlogRequirement::Required,
                },
                Authority {
                    name: "key".into(),
                    identity: Identity::Key(PublicKey::from_pem(KEY_PEM).expect("key PEM")),
                    tlog: TlogRequirement::Optional,
                },
            ],
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let artifact = AttestationArtifact::Legacy(LegacyAttestation {
        envelope: data.to_vec(),
        certificate: None,
        chain: None,
        rekor_bundle: None,
        rfc3161_timestamp: None,
        predicate_type: None,
        source: "fuzz".into(),
    });
    let results = f
        .verifier
        .verify_attestation(&artifact, &f.subject, &f.authorities);
    assert_eq!(
        results.len(),
        f.authorities.len(),
        "one result per authority"
    );
    let _ = fuzzing::dsse_statement("application/vnd.in-toto+json", data, &f.subject);
});
