//! Issue 10 tests (see the module docs once written).
