//! Attaching a signature to an image in a real registry, as a referrer.

use serde_json::Value;

use crate::common::notary_signer::*;
use crate::common::oci::{self, Descriptor};
use crate::common::registry::TestRegistry;

#[test]
fn attach_signature_lists_it_in_the_referrers_index() {
    let reg = TestRegistry::start();
    let image = oci::push_image(&reg.url(), "team/app", "v1");
    let pki = Pki::simple();
    let (env, media_type) = pki.signer().cose().sign(&image.descriptor);
    let digest = attach_signature(
        &reg.url(),
        "team/app",
        &image.descriptor,
        &env,
        media_type,
        &pki.chain(),
    );
    let index = oci::get_manifest(
        &reg.url(),
        "team/app",
        &crate::common::cosign::referrers_tag(&image.digest),
    )
    .unwrap();
    let index: Value = serde_json::from_slice(&index.bytes).unwrap();
    assert_eq!(index["manifests"][0]["digest"], digest.as_str());
    assert_eq!(
        index["manifests"][0]["artifactType"],
        SIGNATURE_ARTIFACT_TYPE
    );
    let manifest = oci::get_manifest(&reg.url(), "team/app", digest.as_str()).unwrap();
    let m: Value = serde_json::from_slice(&manifest.bytes).unwrap();
    assert_eq!(m["subject"]["digest"], image.digest.as_str());
    let layer: Descriptor = serde_json::from_value(m["layers"][0].clone()).unwrap();
    assert_eq!(oci::get_blob(&reg.url(), "team/app", &layer.digest), env);
}
