use super::Format;

/// `remus-tune profiles [NAME]`.
#[derive(clap::Args, Debug)]
pub struct ProfilesArgs {
    /// Show this profile's full text (found by name on the search path, then built-in)
    /// instead of the list.
    pub name: Option<String>,

    /// Output format of the list.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}
