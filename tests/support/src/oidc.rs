//! A test OIDC issuer: keys made in the test, a loopback discovery + JWKS server, token minting.
//!
//! ```ignore
//! let issuer = TestIssuer::start();                    // RSA-2048 key, RS256, like GitHub
//! let token = issuer.token(&issuer.github_claims("shipgate", "acme/app"));
//! issuer.rotate();                                     // a new key replaces the old in the JWKS
//! assert_eq!(issuer.jwks_fetches(), 1);
//! ```
//!
//! Tokens are assembled by hand (base64url header and payload, signed with aws-lc-rs), not with
//! the `jsonwebtoken` crate the server uses, so that a test can also make the tokens no honest
//! library would: `alg: none`, HMAC with the public key, a header that lies about its key.
//! The server runs on its own thread and runtime, so it answers while a test's current-thread
//! runtime is blocked on the request under test.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

/// How a minted token is signed.
pub enum Signature {
    /// With the private key of this `kid` (RSA keys sign RS256, EC keys ES256), whatever the
    /// header says.
    Key(String),
    /// No signature at all (for `alg: none`).
    Unsigned,
    /// HMAC-SHA256 with these bytes as the secret (e.g. [`TestIssuer::public_key_der`]).
    HmacSha256(Vec<u8>),
}

enum Private {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

struct Key {
    kid: String,
    private: Private,
    published: bool,
}

struct Shared {
    url: String,
    keys: Mutex<Vec<Key>>,
    current: Mutex<String>,
    jwks_fetches: AtomicUsize,
    discovery_fetches: AtomicUsize,
    /// When set, the JWKS endpoint answers this status with no keys.
    jwks_status: Mutex<Option<u16>>,
}

/// A running issuer on `http://127.0.0.1:PORT`. Stops when dropped.
pub struct TestIssuer {
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestIssuer {
    /// Starts an issuer with one published RSA-2048 key (kid `key-1`) that signs RS256.
    pub fn start() -> TestIssuer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let shared = Arc::new(Shared {
            url,
            keys: Mutex::new(vec![Key {
                kid: "key-1".into(),
                private: Private::Rsa(new_rsa()),
                published: true,
            }]),
            current: Mutex::new("key-1".into()),
            jwks_fetches: AtomicUsize::new(0),
            discovery_fetches: AtomicUsize::new(0),
            jwks_status: Mutex::new(None),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/jwks", get(jwks))
            .with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("issuer runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        TestIssuer {
            shared,
            stop: Some(stop),
        }
    }

    /// The issuer URL: the tokens' `iss` and the `issuer` to configure.
    pub fn url(&self) -> &str {
        &self.shared.url
    }

    /// The `kid` that [`TestIssuer::token`] signs with.
    pub fn current_kid(&self) -> String {
        lock(&self.shared.current).clone()
    }

    /// A new RSA key becomes the signing key and the only published one (the old key leaves the
    /// JWKS, as after a real rotation). Returns its kid.
    pub fn rotate(&self) -> String {
        let mut keys = lock(&self.shared.keys);
        let kid = format!("key-{}", keys.len() + 1);
        for k in keys.iter_mut() {
            k.published = false;
        }
        keys.push(Key {
            kid: kid.clone(),
            private: Private::Rsa(new_rsa()),
            published: true,
        });
        *lock(&self.shared.current) = kid.clone();
        kid
    }

    /// Publishes an additional EC P-256 key (ES256) and returns its kid; the signing key of
    /// [`TestIssuer::token`] does not change.
    pub fn add_ec_key(&self) -> String {
        let mut keys = lock(&self.shared.keys);
        let kid = format!("ec-{}", keys.len() + 1);
        let private = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC key");
        keys.push(Key {
            kid: kid.clone(),
            private: Private::Ec(private),
            published: true,
        });
        kid
    }

    /// A signing key that is never published: tokens with it carry a kid no JWKS knows.
    pub fn add_unpublished_key(&self) -> String {
        let mut keys = lock(&self.shared.keys);
        let kid = format!("unpublished-{}", keys.len() + 1);
        keys.push(Key {
            kid: kid.clone(),
            private: Private::Rsa(new_rsa()),
            published: false,
        });
        kid
    }

    /// DER (PKCS#1) of the current RSA public key: the "secret" of an HS256 key-confusion attack.
    pub fn public_key_der(&self) -> Vec<u8> {
        let current = self.current_kid();
        let keys = lock(&self.shared.keys);
        match keys.iter().find(|k| k.kid == current).map(|k| &k.private) {
            Some(Private::Rsa(k)) => k.public_key().as_ref().to_vec(),
            _ => panic!("the current key is RSA"),
        }
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    /// How many times the discovery document was fetched.
    pub fn discovery_fetches(&self) -> usize {
        self.shared.discovery_fetches.load(Ordering::SeqCst)
    }

    /// Make the JWKS endpoint fail with this HTTP status (`None`: serve the keys again).
    pub fn set_jwks_status(&self, status: Option<u16>) {
        *lock(&self.shared.jwks_status) = status;
    }

    /// Standard claims: this issuer, `aud`, `sub`, issued now, valid for five minutes.
    pub fn claims(&self, audience: &str, subject: &str) -> Value {
        let now = now();
        json!({
            "iss": self.url(),
            "aud": audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
        })
    }

    /// Claims shaped like a GitHub Actions token of `repository` (`owner/name`) on
    /// `refs/heads/main`, with numeric ids as strings (as GitHub sends them) but this issuer's `iss`.
    pub fn github_claims(&self, audience: &str, repository: &str) -> Value {
        let owner = repository.split('/').next().unwrap_or(repository);
        let mut claims = self.claims(audience, &format!("repo:{repository}:ref:refs/heads/main"));
        let extra = json!({
            "repository": repository,
            "repository_id": "690001",
            "repository_owner": owner,
            "repository_owner_id": "4200",
            "ref": "refs/heads/main",
            "ref_type": "branch",
            "environment": "production",
            "workflow_ref": format!("{repository}/.github/workflows/deploy.yml@refs/heads/main"),
            "job_workflow_ref": format!("{repository}/.github/workflows/deploy.yml@refs/heads/main"),
            "event_name": "push",
            "runner_environment": "github-hosted",
        });
        if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        claims
    }

    /// An RS256 token with the current key: `{"alg":"RS256","typ":"JWT","kid":<current>}`.
    pub fn token(&self, claims: &Value) -> String {
        let kid = self.current_kid();
        self.token_with(
            &json!({"alg": "RS256", "typ": "JWT", "kid": kid}),
            claims,
            Signature::Key(kid),
        )
    }

    /// A token with exactly this header and these claims, signed as `signature` says.
    pub fn token_with(&self, header: &Value, claims: &Value, signature: Signature) -> String {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let bytes = match signature {
            Signature::Unsigned => Vec::new(),
            Signature::HmacSha256(secret) => {
                let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret);
                aws_lc_rs::hmac::sign(&key, signing_input.as_bytes())
                    .as_ref()
                    .to_vec()
            }
            Signature::Key(kid) => {
                let keys = lock(&self.shared.keys);
                let key = keys
                    .iter()
                    .find(|k| k.kid == kid)
                    .unwrap_or_else(|| panic!("no key `{kid}`"));
                sign(&key.private, signing_input.as_bytes())
            }
        };
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(bytes))
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Seconds since the Unix epoch, for `iat`/`nbf`/`exp`.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn new_rsa() -> RsaKeyPair {
    RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key")
}

fn sign(private: &Private, message: &[u8]) -> Vec<u8> {
    let rng = SystemRandom::new();
    match private {
        Private::Rsa(k) => {
            let mut out = vec![0; k.public_modulus_len()];
            k.sign(&RSA_PKCS1_SHA256, &rng, message, &mut out)
                .expect("RSA sign");
            out
        }
        Private::Ec(k) => k.sign(&rng, message).expect("EC sign").as_ref().to_vec(),
    }
}

fn public_jwk(key: &Key) -> Value {
    match &key.private {
        Private::Rsa(k) => {
            let c = PublicKeyComponents::<Vec<u8>>::from(k.public_key());
            json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": key.kid,
                "n": URL_SAFE_NO_PAD.encode(&c.n), "e": URL_SAFE_NO_PAD.encode(&c.e),
            })
        }
        Private::Ec(k) => {
            // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
            let point = k.public_key().as_ref();
            json!({
                "kty": "EC", "use": "sig", "alg": "ES256", "crv": "P-256", "kid": key.kid,
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            })
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Json<Value> {
    shared.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    Json(json!({
        "issuer": shared.url,
        "jwks_uri": format!("{}/.well-known/jwks", shared.url),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    }))
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    if let Some(status) = *lock(&shared.jwks_status) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, "unavailable").into_response();
    }
    let keys: Vec<Value> = lock(&shared.keys)
        .iter()
        .filter(|k| k.published)
        .map(public_jwk)
        .collect();
    Json(json!({ "keys": keys })).into_response()
}
