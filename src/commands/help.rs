//! `remus-tune help [COMMAND | exit-codes]`: clap's help for a command, plus topics that
//! belong to no single command (the exit-code table).

use crate::cli::{Cli, HelpArgs};
use crate::exit_codes;
use anyhow::{Context, Result};
use clap::CommandFactory;
use std::process::ExitCode;

/// Topics besides the commands.
const EXIT_CODES: &str = "exit-codes";

/// Runs `remus-tune help`.
pub fn run(args: &HelpArgs) -> Result<ExitCode> {
    let mut cli = Cli::command();
    // Gives each subcommand its full usage line (`remus-tune measure ...`) and the globals.
    cli.build();
    let printed = match args.topic.as_deref() {
        None => cli.print_long_help(),
        Some(EXIT_CODES) => {
            print!("{}", exit_codes::TABLE);
            Ok(())
        }
        Some(name) => match cli.find_subcommand_mut(name) {
            Some(sub) if !sub.is_hide_set() => sub.print_long_help(),
            _ => {
                let topics: Vec<&str> = cli
                    .get_subcommands()
                    .filter(|s| !s.is_hide_set())
                    .map(|s| s.get_name())
                    .chain([EXIT_CODES])
                    .collect();
                crate::error!("no help on {name:?}: ask for one of {}", topics.join(", "));
                return Ok(exit_codes::code(exit_codes::USAGE));
            }
        },
    };
    printed.context("writing the help to stdout")?;
    Ok(ExitCode::SUCCESS)
}
