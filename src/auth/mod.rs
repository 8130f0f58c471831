//! Caller authentication for `shipgate serve`: OIDC JWTs and static tokens.
//! (Skeleton: filled in by the integrations work.)
