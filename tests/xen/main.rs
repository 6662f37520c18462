//! The Xen backend against stand-ins for `xl` and libxenctrl (tests/support/).
//!
//! One test binary for the group (each binary links the whole crate, so CI builds a few, not
//! one per file): a new test file here is a `mod` line below; see tests/README.md.

#[path = "../support/xen_env.rs"]
mod xen_env;

mod advise;
mod lab_fixtures;
mod measure;
mod ownership;
mod trial;
mod trial_replay;
