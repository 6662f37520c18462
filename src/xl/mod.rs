//! Talking to Xen's `xl` tool: running it with arguments (never through a shell) and reading
//! what it prints into typed values.
//!
//! This module is a library for everything in remus-tune that needs Xen facts: the topology
//! (`xl info -n`), the pin planner and applier (`xl vcpu-list`, `xl vcpu-pin`, cpupools) and
//! the Xen measuring backend. The parsers are pure functions over text, tested on outputs
//! recorded on a real Xen 4.17 host (tests/fixtures/xen/) and on the printf formats of
//! `tools/xl/*.c` for older versions; [`Xl`] is the one place that starts the program.
//!
//! `REMUS_TUNE_XL` names the `xl` to run (default: `xl` on PATH). Tests point it at a stand-in
//! that mimics the recorded behaviour; on a real host it lets an admin use a wrapper.

pub mod block;
mod cpupool;
mod info;
mod list;
mod runner;
mod table;
mod vcpu_list;

pub use cpupool::{parse_cpupool_list, CpuPool};
pub use info::{parse_info, CpuTopologyRow, NumaRow, XlInfo};
pub use list::{parse_list_long, DomainConfig};
pub use runner::{Xl, XlError, XL_ENV};
pub use vcpu_list::{parse_vcpu_list, Affinity, AffinityFormat, VcpuList, VcpuRow};

/// Why `xl` output could not be read: the line, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read `xl {command}` output, line {line}: {problem}\n  the line: {text:?}")]
pub struct ParseError {
    pub command: &'static str,
    pub line: usize,
    pub text: String,
    pub problem: String,
}

impl ParseError {
    pub(crate) fn new(
        command: &'static str,
        line: usize,
        text: &str,
        problem: impl Into<String>,
    ) -> Self {
        Self {
            command,
            line,
            text: text.to_string(),
            problem: problem.into(),
        }
    }
}
