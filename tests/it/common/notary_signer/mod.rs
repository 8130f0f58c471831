//! Notary Project (Notation) signatures made in Rust as `notation sign` makes them
//! (notation-core-go's JWS and COSE envelopes), with a private PKI and an RFC 3161 TSA made in
//! the test, so tests can make valid signatures and every kind of broken one.
//!
//! - PKI: [`Ca`] (root, intermediates) issuing code-signing or time-stamping leaves ([`LeafOptions`]);
//!   [`Pki`] is root → optional intermediate → leaf; [`Tsa`] is a root plus a TSA certificate.
//! - Envelopes: [`NotarySigner`] signs the Notary payload for a subject descriptor into a flattened
//!   JWS (`application/jose+json`) or a COSE_Sign1 (`application/cose`), optionally timestamped.
//! - Registry: [`signature_manifest`] / [`attach_signature`] store it as Notation does (an OCI 1.1
//!   referrer, listed in the referrers tag index since the test registry has no referrers API).
//!
//! DER and CBOR are hand-encoded here (definite lengths, DER-sorted SET OF, core-deterministic maps).
//!
//! Layout: `keys` (key types, algorithms, [`Key`]), `pki` (certificates, CAs, [`Pki`], trust
//! stores), `der` (DER encoder), `tsa` (RFC 3161 tokens), `cbor` (CBOR encoder), `envelope`
//! ([`NotarySigner`], JWS / COSE_Sign1), `oci` (signature manifest, attaching it). Everything
//! public is re-exported here, so users name it `notary_signer::X`.

mod cbor;
mod der;
mod envelope;
mod keys;
mod oci;
mod pki;
mod tsa;

use time::OffsetDateTime;

// The helper's API, whether or not a test uses each item yet: rustc reports unused re-exports in
// a test binary (the `unused_imports` counterpart of `common`'s `#![allow(dead_code)]`).
#[allow(unused_imports)]
pub use self::{
    cbor::Cbor,
    envelope::{notary_payload, EnvelopeFormat, NotarySigner, Scheme, Tamper},
    keys::{HashAlg, Key, KeyKind, SigAlg},
    oci::{attach_signature, signature_manifest, thumbprints},
    pki::{write_trust_store, Ca, Cert, LeafOptions, Pki, Purpose},
    tsa::{CertHash, TokenOptions, Tsa},
};

pub const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
pub const JWS_MEDIA_TYPE: &str = "application/jose+json";
pub const COSE_MEDIA_TYPE: &str = "application/cose";
/// The signature manifest's `artifactType`.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";
/// Manifest annotation: JSON array of the hex SHA-256 of each certificate in the chain.
pub const THUMBPRINT_ANNOTATION: &str = "io.cncf.notary.x509chain.thumbprint#S256";
pub const DEFAULT_SIGNING_AGENT: &str = "notation-go/1.3.0";
/// The leaf subject used by default (what a trust policy's `x509.subject:` names).
pub const DEFAULT_SUBJECT: &str = "C=US, ST=WA, L=Seattle, O=Acme, CN=release";
pub const SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
pub const SIGNING_TIME: &str = "io.cncf.notary.signingTime";
pub const AUTHENTIC_SIGNING_TIME: &str = "io.cncf.notary.authenticSigningTime";
pub const EXPIRY: &str = "io.cncf.notary.expiry";
pub const SIGNING_AGENT: &str = "io.cncf.notary.signingAgent";
pub const TIMESTAMP_SIGNATURE: &str = "io.cncf.notary.timestampSignature";

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
}
fn days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}
