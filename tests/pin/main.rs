//! Pinning and topology: plans, every applier, its journal and failover.
//!
//! One test binary for the group (each binary links the whole crate, so CI builds a few, not
//! one per file): a new test file here is a `mod` line below; see tests/README.md.

#[path = "../pin_support/mod.rs"]
mod pin_support;

mod cli;
mod failover;
mod libvirt_apply;
mod persistent;
mod plan;
mod process_apply;
mod qemu_apply;
mod topology_cli;
mod xen_apply;
mod xl_parsers;
