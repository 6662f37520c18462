//! `remus-tune workload`: the declared arguments handed to the built-in workload as its own
//! settings, which it checks before allocating anything.

use crate::cli::WorkloadArgs;
use crate::workload::{self, WorkloadSpec};
use anyhow::Result;

pub fn run(args: &WorkloadArgs) -> Result<()> {
    workload::run(&WorkloadSpec {
        sweep: args.sweep,
        rate: args.rate,
        hot: args.hot,
        hot_period: args.hot_period,
        disk_rate: args.disk_rate,
        disk_file: args.disk_file.clone(),
        duration: args.duration,
        throughput: args.throughput,
    })
}
