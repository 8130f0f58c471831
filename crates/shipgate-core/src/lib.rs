//! shipgate's pure core: what an image must prove, what was found, and the verdict.
//!
//! Modules depend on each other in one direction only:
//! `reference` ← `evidence` ← `verify` ← `policy` ← `decision` ← `evaluate`.
//! Nothing here does I/O beyond reading policy files: no async runtime, no HTTP, no AWS (the
//! crate does not depend on them, so the compiler keeps it that way). The service crate
//! (`shipgate`) collects the evidence and hands it to [`evaluate::evaluate`].
#![forbid(unsafe_code)]

pub mod reference;

pub mod evidence;

pub mod verify;

pub mod policy;

pub mod decision;

pub mod evaluate;
