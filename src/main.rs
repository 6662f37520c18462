use clap::Parser;
use remus_tune::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Pin(args) => remus_tune::commands::pin::run(args),
        Command::Topology(args) => remus_tune::commands::topology::run(args),
        _ => {
            eprintln!("error: not built yet");
            std::process::ExitCode::FAILURE
        }
    }
}
