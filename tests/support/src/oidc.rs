//! A test OIDC issuer: keys made in the test, a loopback discovery + JWKS server, token minting. (Filled in next.)
