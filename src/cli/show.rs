use super::Format;
use std::path::PathBuf;

/// `remus-tune show TRACE`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// A trace written by `remus-tune measure`.
    pub trace: PathBuf,

    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}
