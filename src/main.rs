use clap::Parser;
use remus_tune::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        _ => {
            eprintln!("error: not built yet");
            std::process::ExitCode::FAILURE
        }
    }
}
