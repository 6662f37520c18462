//! Wires the declared command line to the commands, and errors to exit codes.

use clap::Parser;
use remus_tune::cli::{Cli, Command};
use remus_tune::commands;
use remus_tune::exit_codes;
use remus_tune::log::{self, Verbosity};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    log::set(Verbosity::from_flags(cli.quiet, cli.verbose));
    let result = match &cli.command {
        Command::Measure(args) => commands::measure::run(args),
        Command::Show(args) => commands::show::run(args).map(|()| ExitCode::SUCCESS),
        Command::Workload(args) => commands::workload::run(args).map(|()| ExitCode::SUCCESS),
        Command::Advise(args) => commands::advise::run(args),
        Command::Pin(args) => commands::pin::run(args),
        Command::Topology(args) => commands::topology::run(args),
        Command::Trial(args) => commands::trial::run(args),
        Command::Model(args) => commands::model::run(args).map(|()| ExitCode::SUCCESS),
        Command::Chart(args) => commands::model::run_chart(args).map(|()| ExitCode::SUCCESS),
        Command::Watch(args) => commands::watch::run(args),
        Command::Profiles(args) => commands::profiles::run(args).map(|()| ExitCode::SUCCESS),
        Command::Help(args) => commands::help::run(args),
        Command::Generate(args) => commands::generate::run(args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        // A reader that went away (`remus-tune show t.yaml | head`): end quietly, as other
        // Unix tools do, with the status a shell shows for SIGPIPE. Not by SIGPIPE itself:
        // that would kill a measure before it switched log-dirty off and closed its trace.
        Err(err) if is_broken_pipe(&err) => ExitCode::from(141),
        Err(err) => {
            remus_tune::error!("{}", message(&err));
            exit_codes::code(exit_codes::for_error(&err))
        }
    }
}

/// True when writing our output failed because its reader closed the pipe.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes, `: `-separated, leaving out a cause that its parent's message
/// already quotes (many errors say "cannot read X: {source}" and also carry the source).
fn message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}
