//! Integration tests: one binary, a module per concern (linking the AWS SDK once, not per file).

mod common;
