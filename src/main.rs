use clap::Parser;
use remus_tune::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Model(args) => remus_tune::commands::model::run(args),
        Command::Chart(args) => remus_tune::commands::model::run_chart(args),
        Command::Profiles(args) => remus_tune::commands::profiles::run(args),
        _ => Err(anyhow::anyhow!("not built yet")),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
