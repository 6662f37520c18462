//! Measuring a real process: the epoch loop, its errors and exits, the trace files it writes, and what bad input gets.
//!
//! One test binary for the group (each binary links the whole crate, so CI builds a few, not
//! one per file): a new test file here is a `mod` line below; see tests/README.md.

#[path = "../common/mod.rs"]
mod common;
#[path = "../../benches/support/day_trace.rs"]
mod day_trace;
#[path = "../model_common/mod.rs"]
mod model_common;

mod bad_input;
mod chart_stream;
mod disk_full;
mod errors;
mod fuzz_parsers;
mod lifecycle;
mod probe;
mod trace_files;
mod trace_long;
mod truth;
