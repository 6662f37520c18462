//! The model, advise and the profiles, on real trace files.
//!
//! One test binary for the group (each binary links the whole crate, so CI builds a few, not
//! one per file): a new test file here is a `mod` line below; see tests/README.md.

#[path = "../model_common/mod.rs"]
mod model_common;

mod advise;
mod cli;
mod fuzz;
mod profiles;
mod site_profiles;
