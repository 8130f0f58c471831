//! For `bench/load.sh`: a loopback OIDC issuer (the tests' `TestIssuer`: discovery + JWKS with
//! an RSA key made now) and one RS256 token it signed, GitHub-shaped, valid for an hour.
//! Prints `ISSUER_URL TOKEN` on one line, then serves until stdin closes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test
use shipgate_test_support::oidc::TestIssuer;

fn main() {
    let audience = std::env::args().nth(1).unwrap_or_else(|| "shipgate".into());
    let issuer = TestIssuer::start();
    let mut claims = issuer.github_claims(&audience, "acme/app");
    claims["exp"] = serde_json::json!(shipgate_test_support::oidc::now() + 3600);
    let token = issuer.token(&claims);
    println!("{} {token}", issuer.url());
    // Serve until the script closes our stdin.
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
}
