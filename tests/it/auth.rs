//! Caller authentication of `shipgate serve` (OIDC JWTs, static tokens). (Filled in next.)
