//! The baseline for `bench/cold-check.sh`: the `sigstore` crate's own cosign verification of a
//! key-signed image (legacy `.sig` tag), in as few lines as its API allows.
//!
//! Usage: `sigstore_rs_verify IMAGE KEY.pem [INSECURE_HOST:PORT]`; exit 0 when verified.

use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraintVec};
use sigstore::cosign::{ClientBuilder, CosignCapabilities};
use sigstore::registry::{Auth, ClientConfig, ClientProtocol, OciReference};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (image, key) = (&args[1], std::fs::read(&args[2])?);
    let mut config = ClientConfig::default();
    if let Some(host) = args.get(3) {
        config.protocol = ClientProtocol::HttpsExcept(vec![host.clone()]);
    }
    let mut client = ClientBuilder::default()
        .with_oci_client_config(config)
        .build()?;
    let image: OciReference = image.parse()?;
    let layers = client
        .trusted_signature_layers(&Auth::Anonymous, &image)
        .await?;
    let constraints: VerificationConstraintVec = vec![Box::new(PublicKeyVerifier::try_from(&key)?)];
    sigstore::cosign::verify_constraints(&layers, constraints.iter()).map_err(|e| {
        anyhow::anyhow!(
            "not verified: {} unsatisfied constraints",
            e.unsatisfied_constraints.len()
        )
    })?;
    println!("verified");
    Ok(())
}
