//! Each subcommand's work, one file per command; `main` only dispatches here.

pub mod pin;
pub mod topology;
