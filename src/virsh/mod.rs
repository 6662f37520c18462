//! Talking to libvirt's `virsh`: running it with arguments (never through a shell) and reading
//! what it prints into typed values. Like [`crate::xl`] for Xen, this is the one place that
//! starts `virsh`: the pin planner and applier (`vcpupin`, `emulatorpin`, `iothreadpin`) and
//! the QEMU backend's read-only QMP relay (`qemu-monitor-command`) both go through [`Virsh`].
//!
//! `REMUS_TUNE_VIRSH` names the `virsh` to run (default: `virsh` on PATH); tests point it at a
//! stand-in, and on a real host it lets an admin use a wrapper (e.g. one adding `-c URI`).
//! Output formats: libvirt's docs/manpages/virsh.rst (interfaces.md §4.5).

mod parse;
mod runner;

pub use parse::{parse_emulatorpin, parse_pin_rows};
pub use runner::{Scope, Virsh, VirshError, VIRSH_ENV};
