//! The fixtures do what they claim. Checked with raw HTTP and raw crypto only, never with the
//! shipgate verifier (which these fixtures exist to test).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::Value;
use shipgate::reference::Digest;
use x509_cert::der::{Decode, Encode};

use crate::common::cosign::{
    self, attach_bundle_via_tag_fallback, attach_legacy_signature, b64, key_bundle_v03, pae,
    pem_decode_all, sha256, simple_signing_payload, spki_raw_public_key, verify_raw, KeyAlgorithm,
    LegacyLayer, SigningKey, StatementOptions, TlogParams,
};
use crate::common::oci::{self, Index, Manifest};
use crate::common::private_sigstore::{
    merkle_leaf_hash, merkle_root_from_path, verify_p256_spki, PrivateSigstore, TransparencyLog,
};
use crate::common::registry::TestRegistry;
use crate::common::replay::{self, ReplayRegistry};

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn p256_verifies(public_pem: &str, msg: &[u8], sig: &[u8]) -> bool {
    let spki = &pem_decode_all(public_pem)[0];
    verify_raw(
        KeyAlgorithm::EcdsaP256Sha256,
        &spki_raw_public_key(spki),
        msg,
        sig,
    )
}

/// Checks a SET the way a verifier must: log key signature over canonical `Payload`.
fn set_verifies(log_spki: &[u8], set_b64: &str, payload: &Value) -> bool {
    let canonical = serde_json_canonicalizer::to_vec(payload).expect("canonical");
    verify_p256_spki(log_spki, &canonical, &B64.decode(set_b64).expect("SET b64"))
}

#[test]
fn pushed_image_resolves_by_tag_and_serves_its_blobs() {
    let reg = TestRegistry::start();
    let url = reg.url();
    let img = oci::push_image(&url, "team/app", "v1");
    assert_eq!(
        oci::resolve(&url, "team/app", "v1"),
        Some(img.digest.clone())
    );
    let m = oci::get_manifest(&url, "team/app", "v1").expect("manifest");
    assert_eq!(m.bytes, img.manifest_bytes);
    assert_eq!(m.digest, img.digest);
    assert_eq!(m.media_type, oci::OCI_MANIFEST);
    let parsed: Manifest = serde_json::from_slice(&m.bytes).expect("manifest json");
    assert_eq!(parsed.layers.len(), 2);
    assert_eq!(parsed.layers[0].media_type, oci::OCI_LAYER_TAR_GZIP);
    assert_eq!(parsed.layers[1].media_type, oci::OCI_LAYER_TAR);
    for (d, layer) in parsed.layers.iter().zip(&img.layers) {
        let blob = oci::get_blob(&url, "team/app", &d.digest);
        assert_eq!(Digest::of(&blob), d.digest);
        assert_eq!(blob, layer.data);
    }
    assert_eq!(&img.layers[0].data[..2], &[0x1f, 0x8b], "gzip magic");
    assert_eq!(&img.layers[1].data[257..262], b"ustar", "tar magic");
    let config: Value =
        serde_json::from_slice(&oci::get_blob(&url, "team/app", &parsed.config.digest))
            .expect("config");
    assert_eq!(
        config["rootfs"]["diff_ids"][1].as_str(),
        Some(img.layers[1].descriptor.digest.as_str()),
        "an uncompressed layer's diff ID is its digest"
    );
    // Random: a second push makes another digest.
    let other = oci::push_image(&url, "team/app", "v2");
    assert_ne!(other.digest, img.digest);
    assert_eq!(oci::resolve(&url, "team/app", "nope"), None);
}

#[test]
fn index_retag_and_derived_images() {
    let reg = TestRegistry::start();
    let url = reg.url();
    let a = oci::push_image(&url, "multi", "amd64");
    let b = oci::push_image(&url, "multi", "arm64");
    let idx = oci::push_index(
        &url,
        "multi",
        "latest",
        &[a.digest.clone(), b.digest.clone()],
    );
    let m = oci::get_manifest(&url, "multi", "latest").expect("index");
    assert_eq!(m.digest, idx);
    assert_eq!(m.media_type, oci::OCI_INDEX);
    let index: Index = serde_json::from_slice(&m.bytes).expect("index json");
    assert_eq!(index.manifests[0].digest, a.digest);
    assert_eq!(index.manifests[0].size, a.manifest_bytes.len() as u64);
    assert_eq!(index.manifests[1].digest, b.digest);
    assert_eq!(
        index.manifests[1].platform.as_ref().unwrap()["architecture"],
        "arm64"
    );

    oci::retag(&url, "multi", &a.digest, "stable");
    assert_eq!(
        oci::resolve(&url, "multi", "stable"),
        Some(a.digest.clone())
    );

    let base = oci::push_image(&url, "base/os", "12");
    let derived = oci::push_image_with_layers(&url, "team/derived", "v1", &base.layers, 2);
    assert_eq!(derived.layers.len(), 4);
    let dm: Manifest = serde_json::from_slice(&derived.manifest_bytes).unwrap();
    let bm: Manifest = serde_json::from_slice(&base.manifest_bytes).unwrap();
    assert_eq!(&dm.layers[..2], &bm.layers[..]);
    // The base layers were pushed into the derived repository too.
    oci::get_blob(&url, "team/derived", &bm.layers[0].digest);
}

#[test]
fn keys_sign_and_verify() {
    for key in [
        SigningKey::generate_p256(),
        SigningKey::generate_p384(),
        SigningKey::generate_ed25519(),
    ] {
        let sig = key.sign(b"hello");
        assert!(key.verify(b"hello", &sig), "{key:?}");
        assert!(!key.verify(b"hellO", &sig), "{key:?}");
        let spki = &pem_decode_all(&key.public_pem())[0];
        assert_eq!(spki.as_slice(), key.public_spki_der());
        assert_eq!(spki_raw_public_key(spki), key.raw_public_key());
        assert!(key
            .private_pem()
            .starts_with("-----BEGIN PRIVATE KEY-----\n"));
    }
}

#[test]
fn simple_signing_payload_is_byte_identical_to_cosign() {
    // The blob real cosign wrote for connaisseur's multi-cosigned-alice image.
    let real = std::fs::read(replay::connaisseur_dump_dir().join(
        "blobs/sha256:d8ee807d96efe7441b132967ad94eaffbc0172a763e69f2cd8df8f583f0ba0d4.json",
    ))
    .expect("dump blob");
    let digest: Digest = "sha256:071bf7a986f1ca9cb2a1f0bc8392822a7777f90d58f2d2c6f271913e08de7c81"
        .parse()
        .unwrap();
    assert_eq!(
        simple_signing_payload(
            "index.docker.io/securesystemsengineering/testimage",
            &digest
        ),
        real
    );
    // The config blob digest of a one-layer .sig image in that dump is reproduced, too.
    let sig_manifest: Manifest = serde_json::from_slice(
        &std::fs::read(replay::connaisseur_dump_dir().join(
            "manifests/sha256-071bf7a986f1ca9cb2a1f0bc8392822a7777f90d58f2d2c6f271913e08de7c81.sig.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let config = cosign::cosign_signature_config(&sig_manifest.layers);
    assert_eq!(Digest::of(&config), sig_manifest.config.digest);
    assert_eq!(config.len() as u64, sig_manifest.config.size);
}

#[test]
fn legacy_sig_manifest_is_fetchable_and_verifies() {
    let reg = TestRegistry::start();
    let url = reg.url();
    let img = oci::push_image(&url, "team/app", "v1");
    let docker_ref = format!("{}/team/app", reg.host);
    let alice = SigningKey::generate_p256();
    let bob = SigningKey::generate_p256();
    attach_legacy_signature(
        &url,
        "team/app",
        &img.digest,
        vec![LegacyLayer::signed(&alice, &docker_ref, &img.digest)],
    );
    let sig_digest = attach_legacy_signature(
        &url,
        "team/app",
        &img.digest,
        vec![LegacyLayer::signed(&bob, &docker_ref, &img.digest)],
    );
    let tag = img.digest.cosign_tag(".sig");
    assert_eq!(oci::resolve(&url, "team/app", &tag), Some(sig_digest));
    let m = oci::get_manifest(&url, "team/app", &tag).expect(".sig manifest");
    assert_eq!(m.media_type, oci::OCI_MANIFEST);
    let manifest: Manifest = serde_json::from_slice(&m.bytes).unwrap();
    assert_eq!(manifest.layers.len(), 2, "signatures are appended");
    let config = oci::get_blob(&url, "team/app", &manifest.config.digest);
    assert_eq!(config, cosign::cosign_signature_config(&manifest.layers));
    for (layer, key) in manifest.layers.iter().zip([&alice, &bob]) {
        assert_eq!(layer.media_type, cosign::SIMPLESIGNING_MEDIA_TYPE);
        let payload = oci::get_blob(&url, "team/app", &layer.digest);
        let v: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(
            v["critical"]["image"]["docker-manifest-digest"],
            img.digest.as_str()
        );
        let sig = B64
            .decode(&layer.annotations.as_ref().unwrap()[cosign::SIGNATURE_ANNOTATION])
            .unwrap();
        assert!(p256_verifies(&key.public_pem(), &payload, &sig));
        let other = if std::ptr::eq(key, &alice) {
            &bob
        } else {
            &alice
        };
        assert!(!p256_verifies(&other.public_pem(), &payload, &sig));
    }
}

#[test]
fn keyless_legacy_signature_has_valid_cert_and_set() {
    let reg = TestRegistry::start();
    let url = reg.url();
    let img = oci::push_image(&url, "team/app", "v1");
    let ps = PrivateSigstore::new();
    let now = time::OffsetDateTime::now_utc();
    let signer = ps.keyless_signer(
        "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1",
        "https://token.actions.githubusercontent.com",
        now - time::Duration::minutes(1),
    );
    let layer = ps.keyless_legacy_layer(
        &signer,
        &format!("{}/team/app", reg.host),
        &img.digest,
        now_unix(),
        42,
    );
    attach_legacy_signature(&url, "team/app", &img.digest, vec![layer]);

    let m = oci::get_manifest(&url, "team/app", &img.digest.cosign_tag(".sig")).unwrap();
    let manifest: Manifest = serde_json::from_slice(&m.bytes).unwrap();
    let ann = manifest.layers[0].annotations.clone().unwrap();
    let payload = oci::get_blob(&url, "team/app", &manifest.layers[0].digest);
    let sig_b64 = &ann[cosign::SIGNATURE_ANNOTATION];

    // The certificate: issued by the root, binds the key, has the Fulcio extensions.
    let cert_pem = &ann[cosign::CERTIFICATE_ANNOTATION];
    let cert_der = &pem_decode_all(cert_pem)[0];
    let cert = x509_cert::Certificate::from_der(cert_der).expect("leaf parses");
    let root_der = &pem_decode_all(&ann[cosign::CHAIN_ANNOTATION])[0];
    let root = x509_cert::Certificate::from_der(root_der).expect("root parses");
    let root_spki = root
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .unwrap();
    let tbs = cert.tbs_certificate().to_der().unwrap();
    assert!(
        verify_p256_spki(&root_spki, &tbs, cert.signature().raw_bytes()),
        "leaf signed by root"
    );
    let leaf_spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .unwrap();
    assert!(verify_p256_spki(
        &leaf_spki,
        &payload,
        &B64.decode(sig_b64).unwrap()
    ));
    let exts = cert.tbs_certificate().extensions().expect("extensions");
    let find = |oid: &str| {
        exts.iter()
            .find(|e| e.extn_id.to_string() == oid)
            .unwrap_or_else(|| panic!("extension {oid}"))
    };
    let issuer = b"https://token.actions.githubusercontent.com";
    assert_eq!(find("1.3.6.1.4.1.57264.1.1").extn_value.as_bytes(), issuer);
    let v2 = find("1.3.6.1.4.1.57264.1.8").extn_value.as_bytes();
    assert_eq!((v2[0], v2[1] as usize), (0x0c, issuer.len()));
    assert_eq!(&v2[2..], issuer);
    let san = find("2.5.29.17");
    assert!(san.critical, "SAN is critical with an empty subject");
    assert!(String::from_utf8_lossy(san.extn_value.as_bytes())
        .contains("https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1"));
    let eku = find("2.5.29.37").extn_value.as_bytes().to_vec();
    assert!(
        eku.windows(10)
            .any(|w| w == [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03]),
        "codeSigning EKU"
    );

    // The Rekor bundle: SET by the log key over the canonical Payload, body = hashedrekord.
    let bundle: Value = serde_json::from_str(&ann[cosign::BUNDLE_ANNOTATION]).unwrap();
    assert!(set_verifies(
        ps.log.public_spki_der(),
        bundle["SignedEntryTimestamp"].as_str().unwrap(),
        &bundle["Payload"],
    ));
    assert_eq!(bundle["Payload"]["logID"], ps.log.log_id_hex());
    assert_eq!(bundle["Payload"]["logIndex"], 42);
    let body: Value = serde_json::from_slice(
        &B64.decode(bundle["Payload"]["body"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(body["kind"], "hashedrekord");
    assert_eq!(
        body["spec"]["data"]["hash"]["value"],
        hex::encode(sha256(&payload))
    );
    assert_eq!(body["spec"]["signature"]["content"], sig_b64.as_str());
    assert_eq!(
        body["spec"]["signature"]["publicKey"]["content"],
        b64(cert_pem)
    );
    // A tampered Payload no longer verifies.
    let mut tampered = bundle["Payload"].clone();
    tampered["logIndex"] = 43.into();
    assert!(!set_verifies(
        ps.log.public_spki_der(),
        bundle["SignedEntryTimestamp"].as_str().unwrap(),
        &tampered,
    ));
}

#[test]
fn trusted_root_names_the_private_ca_and_log() {
    let ps = PrivateSigstore::new();
    let root: Value = serde_json::from_str(&ps.trusted_root_json()).unwrap();
    assert_eq!(
        root["mediaType"],
        "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
    );
    let tlog = &root["tlogs"][0];
    let raw = B64
        .decode(tlog["publicKey"]["rawBytes"].as_str().unwrap())
        .unwrap();
    assert_eq!(raw, ps.log.public_spki_der());
    assert_eq!(tlog["logId"]["keyId"], b64(sha256(&raw)));
    assert_eq!(tlog["publicKey"]["keyDetails"], "PKIX_ECDSA_P256_SHA_256");
    let ca = B64
        .decode(
            root["certificateAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(ca, ps.ca.root_der);
    x509_cert::Certificate::from_der(&ca).expect("CA parses");
    assert_eq!(root["ctlogs"], serde_json::json!([]));
    assert_eq!(root["timestampAuthorities"], serde_json::json!([]));
}

/// Checks a bundle tlog entry: SET, inclusion proof against its root, checkpoint signature.
fn check_tlog_entry(log: &TransparencyLog, entry: &Value) {
    let body_b64 = entry["canonicalizedBody"].as_str().unwrap();
    let payload = serde_json::json!({
        "body": body_b64,
        "integratedTime": entry["integratedTime"].as_str().unwrap().parse::<i64>().unwrap(),
        "logIndex": entry["logIndex"].as_str().unwrap().parse::<u64>().unwrap(),
        "logID": hex::encode(B64.decode(entry["logId"]["keyId"].as_str().unwrap()).unwrap()),
    });
    assert!(set_verifies(
        log.public_spki_der(),
        entry["inclusionPromise"]["signedEntryTimestamp"]
            .as_str()
            .unwrap(),
        &payload
    ));
    let proof = &entry["inclusionProof"];
    let mut hashes = proof["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| <[u8; 32]>::try_from(B64.decode(h.as_str().unwrap()).unwrap()).unwrap());
    let (root, used) = merkle_root_from_path(
        merkle_leaf_hash(&B64.decode(body_b64).unwrap()),
        proof["logIndex"].as_str().unwrap().parse().unwrap(),
        proof["treeSize"].as_str().unwrap().parse().unwrap(),
        || hashes.next().expect("enough proof hashes"),
    );
    assert_eq!(used.len(), proof["hashes"].as_array().unwrap().len());
    assert_eq!(b64(root), proof["rootHash"].as_str().unwrap());
    let checkpoint = proof["checkpoint"]["envelope"].as_str().unwrap();
    let (note, sigline) = checkpoint.split_once("\n\n").unwrap();
    let note = format!("{note}\n");
    assert!(note.ends_with(&format!(
        "\n{}\n{}\n",
        proof["treeSize"].as_str().unwrap(),
        b64(root)
    )));
    let sig = B64
        .decode(sigline.trim_end().rsplit(' ').next().unwrap())
        .unwrap();
    assert_eq!(&sig[..4], &log.log_id()[..4]);
    assert!(verify_p256_spki(
        log.public_spki_der(),
        note.as_bytes(),
        &sig[4..]
    ));
}

#[test]
fn bundle_fallback_index_lists_the_referrer() {
    let reg = TestRegistry::start();
    let url = reg.url();
    let img = oci::push_image(&url, "team/app", "v1");
    let key = SigningKey::generate_p256();
    let ps = PrivateSigstore::new();
    let bundle = key_bundle_v03(
        &key,
        &img.digest,
        &StatementOptions::default(),
        Some(TlogParams {
            log: &ps.log,
            integrated_time: now_unix(),
            log_index: 7,
        }),
    );
    let referrer = attach_bundle_via_tag_fallback(&url, "team/app", &img.digest, &bundle);

    let tag = cosign::referrers_tag(&img.digest);
    let m = oci::get_manifest(&url, "team/app", &tag).expect("referrers index");
    assert_eq!(m.media_type, oci::OCI_INDEX);
    let index: Index = serde_json::from_slice(&m.bytes).unwrap();
    assert_eq!(index.manifests.len(), 1);
    assert_eq!(index.manifests[0].digest, referrer);
    assert_eq!(
        index.manifests[0].artifact_type.as_deref(),
        Some(cosign::BUNDLE_V03_MEDIA_TYPE)
    );

    let rm = oci::get_manifest(&url, "team/app", referrer.as_str()).unwrap();
    let rman: Manifest = serde_json::from_slice(&rm.bytes).unwrap();
    assert_eq!(
        rman.artifact_type.as_deref(),
        Some(cosign::BUNDLE_V03_MEDIA_TYPE)
    );
    assert_eq!(rman.config.media_type, oci::OCI_EMPTY);
    assert_eq!(oci::get_blob(&url, "team/app", &rman.config.digest), b"{}");
    assert_eq!(rman.subject.as_ref().unwrap().digest, img.digest);
    assert_eq!(
        rman.subject.as_ref().unwrap().size,
        img.manifest_bytes.len() as u64
    );
    let blob = oci::get_blob(&url, "team/app", &rman.layers[0].digest);
    assert_eq!(blob, bundle.as_bytes());

    // The bundle: DSSE over the statement for this digest, signed by the key, logged.
    let b: Value = serde_json::from_slice(&blob).unwrap();
    assert_eq!(b["mediaType"], cosign::BUNDLE_V03_MEDIA_TYPE);
    assert_eq!(
        b["verificationMaterial"]["publicKey"]["hint"],
        key.key_hint()
    );
    let env = &b["dsseEnvelope"];
    let statement = B64.decode(env["payload"].as_str().unwrap()).unwrap();
    let st: Value = serde_json::from_slice(&statement).unwrap();
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(st["subject"][0]["digest"]["sha256"], img.digest.hex());
    assert_eq!(st["predicateType"], cosign::COSIGN_SIGN_PREDICATE_TYPE);
    let sig = B64
        .decode(env["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    assert!(p256_verifies(
        &key.public_pem(),
        &pae(cosign::IN_TOTO_PAYLOAD_TYPE, &statement),
        &sig
    ));
    let entry = &b["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["kindVersion"]["kind"], "dsse");
    check_tlog_entry(&ps.log, entry);
    let body: Value = serde_json::from_slice(
        &B64.decode(entry["canonicalizedBody"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        body["spec"]["payloadHash"]["value"],
        hex::encode(sha256(&statement))
    );
    assert_eq!(
        body["spec"]["signatures"][0]["signature"],
        env["signatures"][0]["sig"]
    );

    // A second (keyless) bundle is merged into the same index.
    let signer = ps.keyless_signer(
        "release@acme.example",
        "https://accounts.google.com",
        time::OffsetDateTime::now_utc(),
    );
    let keyless = ps.keyless_bundle_v03(
        &signer,
        &img.digest,
        &StatementOptions::default(),
        now_unix(),
        8,
    );
    let second = attach_bundle_via_tag_fallback(&url, "team/app", &img.digest, &keyless);
    let index: Index =
        serde_json::from_slice(&oci::get_manifest(&url, "team/app", &tag).unwrap().bytes).unwrap();
    let listed: Vec<_> = index.manifests.iter().map(|d| d.digest.clone()).collect();
    assert_eq!(listed, vec![referrer, second]);
    let kb: Value = serde_json::from_str(&keyless).unwrap();
    assert!(kb["verificationMaterial"]["certificate"]["rawBytes"].is_string());
    check_tlog_entry(&ps.log, &kb["verificationMaterial"]["tlogEntries"][0]);

    // Without a tlog, no tlogEntries.
    let bare = key_bundle_v03(&key, &img.digest, &StatementOptions::default(), None);
    let bare: Value = serde_json::from_str(&bare).unwrap();
    assert!(bare["verificationMaterial"].get("tlogEntries").is_none());
}

#[test]
fn statement_shape_matches_real_cosign_v3() {
    let real: Value = serde_json::from_str(
        &std::fs::read_to_string(replay::vectors_dir().join("sigstore-rs/bundle_v03.json"))
            .unwrap(),
    )
    .unwrap();
    let real_statement = B64
        .decode(real["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let v: Value = serde_json::from_slice(&real_statement).unwrap();
    let digest: Digest = format!(
        "sha256:{}",
        v["subject"][0]["digest"]["sha256"].as_str().unwrap()
    )
    .parse()
    .unwrap();
    assert_eq!(
        cosign::cosign_statement(&digest, &StatementOptions::default()),
        real_statement
    );
}

#[test]
fn replay_registry_serves_the_connaisseur_dump() {
    let r = ReplayRegistry::connaisseur();
    let url = r.url();
    let agent = oci::agent();
    let resp = agent.get(format!("{url}/v2/")).call().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let repo = replay::CONNAISSEUR_REPO;
    let expect = [
        (
            "keyless",
            "sha256:31dc72a13a0c34b40eb95419d2b2fd67320c856baf3b72da518023ee8d370aee",
        ),
        (
            "multi-cosigned-alice",
            "sha256:071bf7a986f1ca9cb2a1f0bc8392822a7777f90d58f2d2c6f271913e08de7c81",
        ),
        (
            "multi-cosigned-alice-bob-charlie",
            "sha256:bfec161fecb0a887df7cb85e4da327c65986ccda7060cf3cd92171c6c90d7533",
        ),
    ];
    for (tag, digest) in expect {
        let d: Digest = digest.parse().unwrap();
        assert_eq!(oci::resolve(&url, repo, tag), Some(d.clone()), "{tag}");
        let by_digest = oci::get_manifest(&url, repo, digest).expect("by digest");
        assert_eq!(by_digest.digest, d);
        assert_eq!(Digest::of(&by_digest.bytes), d);
        assert_eq!(by_digest.media_type, oci::DOCKER_MANIFEST);
        let sig = oci::get_manifest(&url, repo, &d.cosign_tag(".sig")).expect(".sig");
        assert_eq!(sig.media_type, oci::OCI_MANIFEST);
    }

    // Real cosign signatures verify with our raw verification (alice's key, from the dump).
    let alice =
        std::fs::read_to_string(replay::connaisseur_dump_dir().join("../../alice.key")).unwrap();
    let sig = oci::get_manifest(
        &url,
        repo,
        "sha256-071bf7a986f1ca9cb2a1f0bc8392822a7777f90d58f2d2c6f271913e08de7c81.sig",
    )
    .unwrap();
    let m: Manifest = serde_json::from_slice(&sig.bytes).unwrap();
    let payload = oci::get_blob(&url, repo, &m.layers[0].digest);
    assert_eq!(Digest::of(&payload), m.layers[0].digest);
    let s = B64
        .decode(&m.layers[0].annotations.as_ref().unwrap()[cosign::SIGNATURE_ANNOTATION])
        .unwrap();
    assert!(p256_verifies(&alice, &payload, &s));

    // Unknown things are 404 with a Distribution error body; writes are refused.
    let mut resp = agent
        .get(format!("{url}/v2/{repo}/manifests/nope"))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let body: Value =
        serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).expect("404 body is JSON");
    assert_eq!(body["errors"][0]["code"], "MANIFEST_UNKNOWN");
    let resp = agent
        .get(format!("{url}/v2/other/repo/manifests/keyless"))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let resp = agent
        .get(format!("{url}/v2/{repo}/referrers/{}", expect[0].1))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404, "no referrers API");
    let resp = agent
        .put(format!("{url}/v2/{repo}/manifests/x"))
        .send(&b"{}"[..])
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let resp = agent
        .head(format!("{url}/v2/{repo}/blobs/sha256:{}", "0".repeat(64)))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert!(r.requests().iter().any(|l| l.starts_with("HEAD /v2/")));
}
