//! `remus-tune profiles`: the built-in profiles, one line each, or one profile's text.

use crate::cli::ProfilesArgs;
use crate::output::{emit, table, TextReport};
use crate::profile::{builtin_list, ProfileListing, BUILTIN};
use anyhow::{bail, Result};

#[derive(serde::Serialize)]
pub struct Profiles {
    pub profiles: Vec<ProfileListing>,
}

impl TextReport for Profiles {
    fn render_text(&self) -> String {
        let mut rows = vec![vec![
            "name".to_string(),
            "kind".to_string(),
            "description".to_string(),
        ]];
        for p in &self.profiles {
            rows.push(vec![p.name.clone(), p.kind.clone(), p.description.clone()]);
        }
        let mut text = table(&rows);
        text.push_str(
            "\nUse: remus-tune model TRACE --profile web|database|batch [--host xen-4.17|remus-2008]\n\
             Show one in full: remus-tune profiles NAME\n",
        );
        text
    }
}

/// `remus-tune profiles`.
pub fn run(args: &ProfilesArgs) -> Result<()> {
    if let Some(name) = &args.name {
        match BUILTIN.iter().find(|(n, _)| n == name) {
            Some((_, text)) => {
                print!("{text}");
                return Ok(());
            }
            None => bail!(
                "no built-in profile `{name}`: they are {}",
                BUILTIN
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    emit(
        &Profiles {
            profiles: builtin_list(),
        },
        args.format,
    )
}
