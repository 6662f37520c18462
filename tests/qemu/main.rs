//! QEMU guests: a real qemu-system-x86_64 booting tests/guest/, measured through QMP.
//!
//! One test binary for the group (each binary links the whole crate, so CI builds a few, not
//! one per file): a new test file here is a `mod` line below; see tests/README.md.

#[path = "../qemu_support/mod.rs"]
mod qemu_support;

mod cli;
mod measure;
mod qmp;
mod ram;
mod trace;
