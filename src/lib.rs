//! remus-tune: measure how much memory and disk a VM or process changes per checkpoint epoch,
//! model what Remus-style replication would cost at each checkpoint interval, and pin Dom-0
//! and the protected VMs apart.
//!
//! Data flows one way: `backend` → `trace` → `summary` (and the model); the CLI in `cli`
//! only declares the command line and `main` wires the pieces together.

pub mod backend;
pub mod chart;
pub mod cli;
pub mod commands;
pub mod cpulist;
pub mod host;
pub mod measure;
pub mod model;
pub mod observer;
pub mod output;
pub mod pageset;
pub mod pin;
pub mod profile;
pub mod report;
pub mod summary;
pub mod sys;
pub mod topology;
pub mod trace;
pub mod units;
pub mod windows;
pub mod workload;
pub mod xl;
