//! `remus-tune show TRACE`: the summary of a saved trace.

use crate::cli::ShowArgs;
use crate::output::emit;
use crate::summary::summarize;
use crate::trace::read_trace;
use anyhow::Result;

pub fn run(args: &ShowArgs) -> Result<()> {
    let trace = read_trace(&args.trace)?;
    emit(
        &summarize(&trace, &args.trace.display().to_string()),
        args.format,
    )?;
    // Beside the summary (on stderr, so JSON and YAML stay one document): a guest slowed by
    // its own measurement.
    if let Some(effect) = &trace.end.observer_effect {
        eprintln!("{}", effect.describe());
    }
    Ok(())
}
