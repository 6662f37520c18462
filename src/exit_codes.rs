//! The exit codes of every remus-tune command: one table, here, so that no two conditions share
//! a number. `remus-tune help exit-codes` prints [`TABLE`]; the man page and the README carry
//! the same text.
//!
//! The numbers follow the shell conventions where one exists: 2 for a usage error (clap's
//! own), 69 and 74 from BSD's sysexits.h (EX_UNAVAILABLE, EX_IOERR), 128 + N for death by
//! signal N.

use std::process::ExitCode;

pub const SUCCESS: u8 = 0;
/// A runtime error: something failed, the message says what and what to do.
pub const RUNTIME_ERROR: u8 = 1;
/// Bad arguments (clap uses 2 for its own errors too).
pub const USAGE: u8 = 2;
/// The measured target exited during the run (the trace holds everything up to then).
pub const TARGET_EXITED: u8 = 3;
/// `pin --check` found drift from the plan or journal.
pub const PIN_DRIFT: u8 = 4;
/// `trial` was not confirmed: it runs real `xl remus` only with `--yes`.
pub const TRIAL_NOT_CONFIRMED: u8 = 5;
/// The `pin` plan has a FAIL check (the plan is still printed).
pub const PIN_PLAN_FAILS: u8 = 6;
/// The backend is not available here (no Xen, no libvirt, a build without hwloc ...).
pub const UNAVAILABLE: u8 = 69;
/// An I/O error while writing a trace: epochs were lost; the trace is readable up to its
/// last whole epoch.
pub const TRACE_IO: u8 = 74;
/// Ended by SIGHUP (128 + 1).
pub const SIGHUP: u8 = 129;
/// Ended by SIGINT, Ctrl-C (128 + 2).
pub const SIGINT: u8 = 130;
/// Ended by SIGTERM (128 + 15).
pub const SIGTERM: u8 = 143;

/// The table as `remus-tune help exit-codes` prints it.
pub const TABLE: &str = "\
Exit codes of remus-tune (every command):

  code  meaning
     0  success
     1  runtime error (the message says what failed and what to do)
     2  usage error: bad arguments or options
     3  the measured target exited during the run (the trace is valid up to then)
     4  pin drift found by `pin --check`
     5  `trial` not confirmed: it runs real `xl remus` only with --yes
     6  the `pin` plan has a FAIL check (the plan is still printed)
    69  backend not available here (no Xen, no libvirt, a build without hwloc, ...)
    74  I/O error while writing a trace (epochs lost; the trace is readable up to its
        last whole epoch)
   129  ended by SIGHUP
   130  ended by SIGINT (Ctrl-C)
   143  ended by SIGTERM
";

/// `code` as a process exit code.
pub fn code(code: u8) -> ExitCode {
    ExitCode::from(code)
}

/// The exit code for an error that ended a command: [`UNAVAILABLE`] when what is missing is
/// the host's (a build or host without the asked-for backend), [`RUNTIME_ERROR`] otherwise.
pub fn for_error(err: &anyhow::Error) -> u8 {
    let unavailable = err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<crate::topology::TopologyError>(),
            Some(crate::topology::TopologyError::HwlocNotBuilt)
        )
    });
    if unavailable {
        UNAVAILABLE
    } else {
        RUNTIME_ERROR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_constant_is_in_the_table_once_and_distinct() {
        let all = [
            SUCCESS,
            RUNTIME_ERROR,
            USAGE,
            TARGET_EXITED,
            PIN_DRIFT,
            TRIAL_NOT_CONFIRMED,
            PIN_PLAN_FAILS,
            UNAVAILABLE,
            TRACE_IO,
            SIGHUP,
            SIGINT,
            SIGTERM,
        ];
        let mut sorted = all.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), all.len(), "two conditions share a code");
        let rows: Vec<u8> = TABLE
            .lines()
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect();
        assert_eq!(
            rows, sorted,
            "the table lists exactly the constants, in order"
        );
    }
}
