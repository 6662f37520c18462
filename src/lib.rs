//! remus-tune: measure how much memory and disk a VM or process changes per checkpoint epoch,
//! model what Remus-style replication would cost at each checkpoint interval, and pin Dom-0
//! and the protected VMs apart.
//!
//! Data flows one way:
//!
//! ```text
//! cli ─▶ commands ─▶ settings            (declared, then validated once)
//!            │
//!            ├─▶ backend::select ─▶ backend (process | qemu | xen) ─▶ measure ─▶ trace
//!            │                                                         trace ─▶ summary
//!            │                                 trace + profile ─▶ model ─▶ report, chart
//!            └─▶ topology ─▶ pin (plan ─▶ emit | apply + journal)
//! ```
//!
//! `cli` only declares the command line, `commands` wires each subcommand, `main` maps the
//! result to an exit code. Below `commands` nothing imports `cli` (tests/project/architecture.rs);
//! `output`, `stats`, `units` and `sys` are shared by every layer.

pub mod backend;
pub mod chart;
pub mod cli;
pub mod commands;
pub mod cpulist;
pub mod exit_codes;
pub mod fasthash;
pub mod host;
pub mod limits;
pub mod log;
pub mod measure;
pub mod model;
pub mod observer;
pub mod outfile;
pub mod output;
pub mod pageset;
pub mod pin;
pub mod probe;
pub mod profile;
pub mod report;
pub mod settings;
pub mod stats;
pub mod summary;
pub mod sys;
pub mod topology;
pub mod trace;
pub mod units;
pub mod virsh;
pub mod watch;
pub mod windows;
pub mod workload;
pub mod xl;
