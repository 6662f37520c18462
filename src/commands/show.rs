//! `remus-tune show TRACE`: the summary of a saved trace, read in one pass: memory is the
//! longest interval's epochs and the summary's bounded sketches, whatever the trace's length.

use crate::cli::ShowArgs;
use crate::output::emit;
use crate::summary::Summarizer;
use crate::trace::{ReadOptions, TraceReader};
use anyhow::Result;

pub fn run(args: &ShowArgs) -> Result<()> {
    let options = ReadOptions {
        partial: args.partial,
    };
    let mut reader = TraceReader::open(&args.trace, options)?;
    let mut summarizer = Summarizer::new(reader.header());
    while let Some(epoch) = reader.next_epoch()? {
        summarizer.push(&epoch);
    }
    let Some(end) = reader.end() else {
        anyhow::bail!(
            "{}: the trace ended without an end record",
            args.trace.display()
        );
    };
    emit(
        &summarizer.finish(end, &args.trace.display().to_string()),
        args.format,
    )?;
    // Beside the summary (on stderr, so JSON and YAML stay one document): a guest slowed by
    // its own measurement.
    if let Some(effect) = &end.observer_effect {
        crate::note!("{}", effect.describe());
    }
    if let Some(pages) = end.working_set_pages {
        crate::note!(
            "working set: {pages} distinct pages dirtied over the whole measurement (the model's \
             dirty-set curve saturates there)"
        );
    }
    Ok(())
}
