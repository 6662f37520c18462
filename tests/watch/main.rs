//! `watch`: its command line, the Prometheus endpoint (real prometheus/promtool), on Xen.
//!
//! One test binary for the group (each binary links the whole crate, so CI builds a few, not
//! one per file): a new test file here is a `mod` line below; see tests/README.md.

#[path = "../common/mod.rs"]
mod common;
#[path = "../support/xen_env.rs"]
mod xen_env;

mod cli;
mod prometheus;
mod xen;
