use super::Format;
use std::path::PathBuf;

/// `remus-tune show TRACE`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// A trace written by `remus-tune measure`.
    pub trace: PathBuf,

    /// Read a trace cut short (a killed run, a full disk) up to its last whole epoch; the
    /// summary says it is partial.
    #[arg(long)]
    pub partial: bool,

    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}
