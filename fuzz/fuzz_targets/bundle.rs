//! Arbitrary bytes as a Sigstore bundle, verified against the embedded public-good trusted root
//! for one fixed digest, by a keyless and a managed-key authority: the verifier must return a
//! result per authority, never panic, hang or allocate without bound.
//!
//! The digest is the SHA-256 of the sigstore-conformance `a.txt`, and the authorities are that
//! suite's signing identity and its `managed-key-happy-path` key, so the seed bundles (copied
//! from the suite) verify all the way and mutations explore the deep checks, not only parsing.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use shipgate::evidence::{BundleArtifact, SignatureArtifact};
use shipgate::policy::{Authority, Identity, Matcher, TlogRequirement};
use shipgate::reference::Digest;
use shipgate::verify::{PublicKey, TrustRoot, Verifier};

/// sha256 of sigstore-conformance `assets/bundle-verify/a.txt`.
const DIGEST: &str = "sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf";
const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const KEY_PEM: &str = include_str!("../keys/managed-key-happy-path.pub");

struct Fixture {
    verifier: Verifier,
    digest: Digest,
    authorities: Vec<Authority>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = TrustRoot::public_good().expect("embedded public-good trusted root");
        Fixture {
            verifier: Verifier::new(Arc::new(root)),
            digest: DIGEST.parse().expect("digest"),
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
    let artifact = SignatureArtifact::Bundle(BundleArtifact {
        json: data.to_vec(),
        media_type: String::new(),
        source: "fuzz".into(),
    });
    let results = f
        .verifier
        .verify_signature(&artifact, &f.digest, &f.authorities);
    assert_eq!(
        results.len(),
        f.authorities.len(),
        "one result per authority"
    );
});
