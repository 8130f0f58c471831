//! DSSE envelopes and the in-toto Statements cosign puts in them.

use serde::Deserialize;

use crate::reference::Digest;

use super::{Rejection, Subject};

/// The only payload type an image signature envelope may carry.
pub(crate) const IN_TOTO: &str = "application/vnd.in-toto+json";
const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// Most subjects we look through.
const MAX_SUBJECTS: usize = 1024;

/// DSSE pre-authentication encoding: what the envelope signature covers.
pub(crate) fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

#[derive(Deserialize)]
struct Statement {
    #[serde(rename = "_type")]
    type_: String,
    #[serde(default)]
    subject: Vec<StatementSubject>,
    #[serde(rename = "predicateType")]
    predicate_type: Option<String>,
}

#[derive(Deserialize)]
struct StatementSubject {
    #[serde(default)]
    digest: std::collections::BTreeMap<String, String>,
}

/// Checks that an in-toto Statement names `subject` (by SHA-256 or SHA-512) among its
/// subjects; returns its predicateType.
pub(crate) fn check_statement(payload: &[u8], subject: &Subject) -> Result<String, Rejection> {
    let st: Statement = serde_json::from_slice(payload).map_err(|e| {
        Rejection::new(format!("the DSSE payload is not an in-toto Statement: {e}"))
    })?;
    if st.type_ != STATEMENT_V1 && st.type_ != STATEMENT_V01 {
        return Err(Rejection::new(format!(
            "the DSSE payload has _type `{}`, not an in-toto Statement v1 or v0.1",
            st.type_
        )));
    }
    if st.subject.len() > MAX_SUBJECTS {
        return Err(Rejection::new(
            "the in-toto Statement has too many subjects".into(),
        ));
    }
    let same = |named: Option<&String>, ours: Option<&str>| match (named, ours) {
        (Some(h), Some(o)) => h.eq_ignore_ascii_case(o),
        _ => false,
    };
    let found = st.subject.iter().any(|s| {
        same(
            s.digest.get("sha256"),
            subject.sha256.as_ref().map(Digest::hex),
        ) || same(s.digest.get("sha512"), subject.sha512.as_deref())
    });
    if !found {
        let named: Vec<String> = st
            .subject
            .iter()
            .flat_map(|s| s.digest.iter())
            .filter(|(alg, _)| matches!(alg.as_str(), "sha256" | "sha512"))
            .take(3)
            .map(|(alg, h)| format!("{alg}:{h}"))
            .collect();
        return Err(Rejection::new(format!(
            "the in-toto Statement names {}, not this artifact {} (a signature of another image or artifact)",
            if named.is_empty() { "no sha256 or sha512 subject".to_string() } else { named.join(", ") },
            subject.describe()
        )));
    }
    Ok(st.predicate_type.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_spec_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn statement_subject_must_match() {
        let d: Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        let d = Subject::sha256(&d);
        let ok = format!(
            r#"{{"_type":"{STATEMENT_V1}","subject":[{{"digest":{{"sha256":"{}"}}}}],"predicateType":"p"}}"#,
            "ab".repeat(32)
        );
        assert_eq!(check_statement(ok.as_bytes(), &d).unwrap(), "p");
        let other = ok.replace(&"ab".repeat(32), &"cd".repeat(32));
        let err = check_statement(other.as_bytes(), &d).unwrap_err().reason;
        assert!(err.contains("another image"), "{err}");
        assert!(check_statement(b"{}", &d).is_err());
    }

    #[test]
    fn a_sha512_subject_matches_only_the_sha512_of_the_artifact() {
        let st = format!(
            r#"{{"_type":"{STATEMENT_V1}","subject":[{{"digest":{{"sha512":"{}"}}}}]}}"#,
            "ef".repeat(64)
        );
        let sha256: Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        assert!(check_statement(st.as_bytes(), &Subject::sha256(&sha256)).is_err());
        let both = Subject::of_bytes(sha256.clone(), "ef".repeat(64));
        assert!(check_statement(st.as_bytes(), &both).is_ok());
        let wrong = Subject::of_bytes(sha256, "ee".repeat(64));
        let err = check_statement(st.as_bytes(), &wrong).unwrap_err().reason;
        assert!(
            err.contains(&format!("sha512:{}", "ef".repeat(64))),
            "{err}"
        );
    }
}
