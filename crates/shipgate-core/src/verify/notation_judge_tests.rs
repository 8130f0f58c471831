//! Dispatch between signature kinds and authority kinds. What the Notary Project verifier says
//! about an envelope is its own module's business; these tests only rely on it rejecting bytes
//! that are not an envelope.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::evidence::notation::{NotationArtifact, NotationTarget, RevocationCheck};
use crate::evidence::{LegacySignature, SignatureArtifact};
use crate::reference::Digest;
use crate::verify::authority::{Authority, Identity, Matcher, TlogRequirement};
use crate::verify::notation::{TrustPolicy, TrustStores, TrustedIdentity, VerificationLevel};
use crate::verify::notation_authority::{NotationAuthority, NotationKind, NotationTrust};
use crate::verify::{RejectionKind, Subject, TrustRoot, Verifier};

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn verifier() -> Verifier {
    Verifier::new(Arc::new(TrustRoot::public_good().unwrap()))
}

/// A Notation authority built from parts (a strict level: every step enforced).
fn notation_authority(name: &str) -> Authority {
    let statement = TrustPolicy {
        name: name.into(),
        registry_scopes: vec!["*".into()],
        level: VerificationLevel {
            name: "strict".into(),
            actions: BTreeMap::new(),
        },
        trust_stores: Vec::new(),
        trusted_identities: vec![TrustedIdentity::Any],
    };
    Authority {
        name: name.into(),
        identity: Identity::Notation(Arc::new(NotationAuthority {
            kind: NotationKind::Notation,
            stores: TrustStores::new(),
            trust: NotationTrust::Statement(statement),
        })),
        tlog: TlogRequirement::Optional,
        trust_root: None,
    }
}

fn keyless_authority() -> Authority {
    Authority {
        name: "ci".into(),
        identity: Identity::Keyless {
            issuer: Matcher::Exact("https://issuer".into()),
            subject: Matcher::Exact("someone".into()),
            claims: Vec::new(),
        },
        tlog: TlogRequirement::Required,
        trust_root: None,
    }
}

fn notation_artifact(digest: &str) -> SignatureArtifact {
    SignatureArtifact::Notation(NotationArtifact {
        envelope: b"not an envelope".to_vec(),
        media_type: "application/jose+json".into(),
        target: NotationTarget {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest: digest.into(),
            size: 1,
        },
        repository: "registry.example/app".into(),
        checked_at: 1_800_000_000,
        revocation: RevocationCheck::NotChecked,
        source: "Notary Project signature sha256:22… (referrers API)".into(),
    })
}

#[test]
fn a_notation_signature_never_satisfies_a_cosign_authority() {
    let digest: Digest = DIGEST.parse().unwrap();
    let results = verifier().verify_signature(
        &notation_artifact(DIGEST),
        &digest,
        &[keyless_authority(), notation_authority("release")],
    );
    let keyless = results[0].as_ref().unwrap_err();
    assert!(
        keyless
            .reason
            .contains("a Notary Project signature cannot satisfy cosign authority `ci` (keyless)"),
        "{keyless:?}"
    );
    // Bytes that are not an envelope never verify (today the verifier is a stub that refuses
    // everything; once it lands, it refuses these as no envelope).
    let notation = results[1].as_ref().unwrap_err();
    assert_eq!(notation.kind, RejectionKind::Invalid, "{notation:?}");
}

#[test]
fn a_cosign_signature_never_satisfies_a_notation_authority() {
    let digest: Digest = DIGEST.parse().unwrap();
    let broken = SignatureArtifact::Legacy(LegacySignature {
        payload: b"{}".to_vec(),
        signature: "AAAA".into(),
        certificate: None,
        chain: None,
        rekor_bundle: None,
        rfc3161_timestamp: None,
        source: "tag sha256-11….sig, layer 0".into(),
    });
    let results = verifier().verify_signature(&broken, &digest, &[notation_authority("release")]);
    let why = results[0].as_ref().unwrap_err();
    assert!(
        why.reason.contains(
            "this is a cosign (Sigstore) signature; authority `release` expects a Notary Project signature"
        ),
        "{why:?}"
    );
}

#[test]
fn a_notation_signature_counts_only_for_its_own_image_and_never_as_an_attestation() {
    let other = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    let digest: Digest = DIGEST.parse().unwrap();
    let authorities = [notation_authority("release")];
    let results = verifier().verify_signature(&notation_artifact(other), &digest, &authorities);
    let why = results[0].as_ref().unwrap_err();
    assert!(why.reason.contains("collected for sha256:2222"), "{why:?}");

    let results = verifier().verify_subject(
        &notation_artifact(DIGEST),
        &Subject::sha256(&digest),
        &authorities,
    );
    let why = results[0].as_ref().unwrap_err();
    assert!(why.reason.contains("not an attestation"), "{why:?}");
}
