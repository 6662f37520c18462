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
        Command::Workload(args) => remus_tune::workload::run(args).map(|()| ExitCode::SUCCESS),
        Command::Advise(args) => commands::advise::run(args),
        Command::Pin(args) => commands::pin::run(args),
        Command::Topology(args) => commands::topology::run(args),
        Command::Trial(args) => commands::trial::run(args),
        Command::Model(args) => commands::model::run(args).map(|()| ExitCode::SUCCESS),
        Command::Chart(args) => commands::model::run_chart(args).map(|()| ExitCode::SUCCESS),
        Command::Profiles(args) => commands::profiles::run(args).map(|()| ExitCode::SUCCESS),
        Command::Help(args) => commands::help::run(args),
        Command::Generate(args) => commands::generate::run(args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            remus_tune::error!("{err:#}");
            exit_codes::code(exit_codes::for_error(&err))
        }
    }
}
