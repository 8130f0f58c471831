use super::*;

const GOOD: &str = r#"
name: production
images: ["127.0.0.1:*/**", "*.dkr.ecr.*.amazonaws.com/prod/**"]
mode: enforce
signatures:
  threshold: 1
  authorities:
    - name: ci
      keyless:
        issuer: https://token.actions.githubusercontent.com
        subjectRegExp: ^https://github\.com/acme/app/\.github/workflows/release\.yml@refs/heads/main$
      transparencyLog: required
"#;

fn parse(text: &str) -> Result<Policy, String> {
    Policy::from_yaml(text, Path::new("policies/test.yaml")).map_err(|e| e.to_string())
}

fn repo(registry: &str, name: &str) -> Repository {
    Repository {
        registry: registry.into(),
        name: name.into(),
    }
}

#[test]
fn the_documented_policy_means_what_it_says() {
    let p = parse(GOOD).unwrap();
    assert_eq!(p.name, "production");
    assert_eq!(p.mode, Mode::Enforce);
    assert!(p.governs(&repo("127.0.0.1:5000", "app")));
    assert!(!p.governs(&repo("ghcr.io", "acme/app")));
    let s = p.signatures.as_ref().unwrap();
    assert_eq!(s.threshold, 1);
    let a = &s.authorities[0];
    assert_eq!(a.tlog, TlogRequirement::Required);
    let Identity::Keyless {
        issuer, subject, ..
    } = &a.identity
    else {
        panic!("keyless expected")
    };
    assert!(issuer.matches("https://token.actions.githubusercontent.com"));
    assert!(!issuer.matches("https://token.actions.githubusercontent.com.evil"));
    assert!(subject
        .matches("https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"));
    assert!(!subject
        .matches("https://github.com/acme/app/.github/workflows/release.yml@refs/heads/dev"));
    assert!(p.sha256.starts_with("sha256:") && p.sha256.len() == 71);
}

#[test]
fn the_hash_changes_with_the_file() {
    let a = parse(GOOD).unwrap();
    let b = parse(&GOOD.replace("mode: enforce", "mode: audit")).unwrap();
    assert_ne!(a.sha256, b.sha256);
    assert_eq!(b.mode, Mode::Audit);
}

/// Each broken policy must be refused with the field and the line in the message.
#[test]
fn errors_name_file_field_and_line() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "mode: enforce",
            "mode: enforce\ncolour: blue",
            &["unknown field `colour`", "line"],
        ),
        (
            "mode: enforce",
            "mode: sometimes",
            &["mode", "unknown variant `sometimes`", "line 4"],
        ),
        (
            "subjectRegExp: ^https",
            "subjectRegExp: (^https",
            &[
                "signatures.authorities[0].keyless.subjectRegExp",
                "regex",
                "at line 11",
            ],
        ),
        (
            "threshold: 1",
            "threshold: 2",
            &["signatures.threshold", "between 1 and", "line 6"],
        ),
        ("threshold: 1", "threshold: 0", &["signatures.threshold"]),
        (
            "        issuer: https://token.actions.githubusercontent.com\n",
            "",
            &["keyless.issuer: required"],
        ),
        (
            "      keyless:",
            "      key: nope\n      keyless:",
            &["exactly one of"],
        ),
        ("name: production", "name: prod uction", &["name"]),
        (
            "images: [",
            "images: [\"ghcr.io/acme/app:latest\", ",
            &["images[0]", "tag or digest"],
        ),
    ];
    for (from, to, wants) in cases {
        let text = GOOD.replacen(from, to, 1);
        assert_ne!(text, GOOD, "case {from:?} did not change the policy");
        let err = parse(&text).expect_err(&format!("accepted: {to:?}"));
        assert!(err.starts_with("policies/test.yaml: "), "{err}");
        for want in *wants {
            assert!(err.contains(want), "error {err:?} lacks {want:?}");
        }
    }
}

#[test]
fn duplicate_authority_names_are_refused() {
    let text = GOOD.replace("  threshold: 1\n", "  threshold: 2\n").replace(
        "      transparencyLog: required\n",
        "      transparencyLog: required\n    - name: ci\n      keyless:\n        issuer: x\n        subject: y\n",
    );
    let err = parse(&text).unwrap_err();
    assert!(err.contains("`ci` is used twice"), "{err}");
}

#[test]
fn a_policy_without_checks_is_refused() {
    let err = parse("name: x\nimages: [\"ghcr.io/**\"]\n").unwrap_err();
    assert!(err.contains("at least one check"), "{err}");
}

#[test]
fn policy_sets_refuse_duplicate_names_and_select_by_glob() {
    let a = parse(GOOD).unwrap();
    let b = parse(GOOD).unwrap();
    assert!(PolicySet::new(vec![a.clone(), b]).is_err());
    let other = parse(
        &GOOD
            .replace("name: production", "name: ecr")
            .replace("\"127.0.0.1:*/**\", ", ""),
    )
    .unwrap();
    let set = PolicySet::new(vec![a, other]).unwrap();
    let names = |r: &Repository| {
        set.governing(r)
            .iter()
            .map(|p| p.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&repo("1.dkr.ecr.eu-west-1.amazonaws.com", "prod/app")),
        ["ecr", "production"]
    );
    assert_eq!(names(&repo("127.0.0.1:9", "x")), ["production"]);
    assert!(names(&repo("docker.io", "library/alpine")).is_empty());
}

#[test]
fn loads_a_directory_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.yaml"), GOOD.replace("production", "b")).unwrap();
    std::fs::write(dir.path().join("a.yml"), GOOD.replace("production", "a")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a policy").unwrap();
    let set = PolicySet::load(&[dir.path().to_path_buf()]).unwrap();
    let names: Vec<_> = set.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    let empty = tempfile::tempdir().unwrap();
    assert!(PolicySet::load(&[empty.path().to_path_buf()]).is_err());
}

#[test]
fn key_ref_is_resolved_next_to_the_policy_and_errors_name_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = "name: k\nimages: [\"ghcr.io/**\"]\nsignatures:\n  authorities:\n    - name: release\n      keyRef: keys/missing.pem\n";
    let path = dir.path().join("k.yaml");
    std::fs::write(&path, text).unwrap();
    let err = Policy::load(&path).unwrap_err().to_string();
    assert!(err.contains("signatures.authorities[0].keyRef"), "{err}");
    assert!(
        err.contains("missing.pem") && err.contains("line 6"),
        "{err}"
    );
}

#[test]
fn the_schema_names_the_fields() {
    let schema = serde_json::to_string(&schemars::schema_for!(model::PolicyFile)).unwrap();
    for field in [
        "images",
        "threshold",
        "subjectRegExp",
        "transparencyLog",
        "keyRef",
    ] {
        assert!(schema.contains(field), "schema lacks {field}");
    }
}

const CLAIMS: &str = r#"
name: claims
images: ["ghcr.io/acme/**"]
signatures:
  authorities:
    - name: ci
      keyless:
        issuer: https://token.actions.githubusercontent.com
        subjectRegExp: ^https://github\.com/acme/app/
        claims:
          sourceRepositoryUri: https://github.com/acme/app
          sourceRepositoryRef: refs/heads/main
          sourceRepositoryDigestRegExp: ^[0-9a-f]{40}$
          buildTrigger: push
          runnerEnvironment: github-hosted
          sourceRepositoryOwnerUri: https://github.com/acme
"#;

#[test]
fn keyless_claims_compile_in_oid_order() {
    let p = parse(CLAIMS).unwrap();
    let a = &p.signatures.as_ref().unwrap().authorities[0];
    let Identity::Keyless { claims, .. } = &a.identity else {
        panic!("keyless expected")
    };
    let got: Vec<(FulcioClaim, String)> = claims.iter().map(|(c, m)| (*c, m.to_string())).collect();
    assert_eq!(
        got,
        vec![
            (FulcioClaim::RunnerEnvironment, "github-hosted".to_string()),
            (
                FulcioClaim::SourceRepositoryUri,
                "https://github.com/acme/app".to_string()
            ),
            (
                FulcioClaim::SourceRepositoryDigest,
                "/^[0-9a-f]{40}$/".to_string()
            ),
            (
                FulcioClaim::SourceRepositoryRef,
                "refs/heads/main".to_string()
            ),
            (
                FulcioClaim::SourceRepositoryOwnerUri,
                "https://github.com/acme".to_string()
            ),
            (FulcioClaim::BuildTrigger, "push".to_string()),
        ]
    );
    let (_, digest) = &claims[2];
    assert!(digest.matches("0123456789abcdef0123456789abcdef01234567"));
    assert!(!digest.matches("main"));
    // No `claims:` at all: nothing required beyond issuer and subject.
    let Identity::Keyless { claims, .. } =
        &parse(GOOD).unwrap().signatures.unwrap().authorities[0].identity
    else {
        panic!("keyless expected")
    };
    assert!(claims.is_empty());
}

#[test]
fn every_claim_field_is_accepted_exact_or_as_a_regex() {
    for claim in FulcioClaim::ALL {
        for (key, value) in [
            (claim.name().to_string(), "x"),
            (format!("{claim}RegExp"), "^x$"),
        ] {
            let text = CLAIMS.replace(
                "          sourceRepositoryUri: https://github.com/acme/app\n",
                &format!("          sourceRepositoryUri: https://github.com/acme/app\n          {key}: {value}\n"),
            );
            // The claims already in CLAIMS would then be given twice.
            let result = parse(&text);
            let duplicate = CLAIMS.contains(&format!("          {}", claim.name()));
            assert_eq!(result.is_ok(), !duplicate, "{key}: {result:?}");
        }
    }
}

#[test]
fn bad_claims_are_refused() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "buildTrigger: push",
            "buildTrigger: push\n          workflowRef: main",
            &["unknown field `workflowRef`"],
        ),
        (
            "buildTrigger: push",
            "buildTrigger: push\n          buildTriggerRegExp: ^push$",
            &["keyless.claims.buildTrigger", "not both"],
        ),
        (
            "sourceRepositoryDigestRegExp: ^[0-9a-f]{40}$",
            "sourceRepositoryDigestRegExp: ([0-9a-f]{40}$",
            &["keyless.claims.sourceRepositoryDigestRegExp"],
        ),
        (
            "sourceRepositoryDigestRegExp: ^[0-9a-f]{40}$",
            "sourceRepositoryDigestRegExp: ^[0-9a-f]{40000}$",
            &["keyless.claims.sourceRepositoryDigestRegExp"],
        ),
    ];
    for (from, to, needles) in cases {
        assert!(CLAIMS.contains(from), "{from}");
        let e = parse(&CLAIMS.replace(from, to)).unwrap_err();
        for n in *needles {
            assert!(e.contains(n), "{to}: {n:?} not in {e}");
        }
    }
}

#[test]
fn an_authority_names_its_trusted_root_by_a_plain_name() {
    let p = parse(&GOOD.replace(
        "      transparencyLog: required\n",
        "      transparencyLog: required\n      trustRoot: github\n",
    ))
    .unwrap();
    let a = &p.signatures.as_ref().unwrap().authorities[0];
    assert_eq!(a.trust_root.as_deref(), Some("github"));
    assert_eq!(
        parse(GOOD).unwrap().signatures.unwrap().authorities[0].trust_root,
        None
    );
    for bad in ["GitHub", "../roots", "a b", "-x", "", &"x".repeat(64)] {
        let err = parse(&GOOD.replace(
            "      transparencyLog: required\n",
            &format!("      trustRoot: '{bad}'\n"),
        ))
        .unwrap_err();
        assert!(
            err.contains("signatures.authorities[0].trustRoot")
                && err.contains("not a trust root name"),
            "{bad}: {err}"
        );
    }
    // A Notary Project signer has no Sigstore root to pick.
    let err = parse(
        "name: n\nimages: [\"r/**\"]\nsignatures:\n  authorities:\n    - name: signer\n      trustRoot: github\n      awsSigner:\n        profileArn: arn:aws:signer:us-east-1:123456789012:/signing-profiles/release\n",
    )
    .unwrap_err();
    assert!(
        err.contains("trustRoot") && err.contains("Notary Project"),
        "{err}"
    );
}

#[test]
fn check_trust_root_name_accepts_what_configs_write() {
    for good in ["github", "public-good", "ghes-2", "a", &"x".repeat(63)] {
        assert!(check_trust_root_name(good).is_ok(), "{good}");
    }
}
