//! `remus-tune profiles`: every profile a name reaches, one line each with where it lives
//! (the search path, then the built-in ones), or one profile's text.

use crate::cli::ProfilesArgs;
use crate::output::{emit, table, TextReport};
use crate::profile::{list_all, profile_text, site, ProfileListing, BUILTIN};
use anyhow::{bail, Result};

#[derive(serde::Serialize)]
pub struct Profiles {
    /// Searched in this order for a profile given by name; `built-in` last.
    pub search_path: Vec<String>,
    pub profiles: Vec<ProfileListing>,
}

impl TextReport for Profiles {
    fn render_text(&self) -> String {
        let mut rows = vec![vec![
            "name".to_string(),
            "kind".to_string(),
            "origin".to_string(),
            "description".to_string(),
        ]];
        for p in &self.profiles {
            let origin = match &p.path {
                Some(path) => format!("{} ({path})", p.origin.label()),
                None => p.origin.label().to_string(),
            };
            rows.push(vec![
                p.name.clone(),
                p.kind.clone(),
                origin,
                p.description.clone(),
            ]);
        }
        let mut text = table(&rows);
        text.push_str(&format!(
            "\nA name is looked up in: {}.\n`remus-tune trial DOMAIN --install` keeps the host \
             profile it fits there (as DOMAIN.yaml), for `model --host DOMAIN` and `advise DOMAIN`.\n",
            self.search_path.join(", then ")
        ));
        text.push_str(
            "Use: remus-tune model TRACE --profile web|database|batch [--host xen-4.17|remus-2008|NAME]\n\
             Show one in full: remus-tune profiles NAME\n",
        );
        text
    }
}

/// `remus-tune profiles`.
pub fn run(args: &ProfilesArgs) -> Result<()> {
    if let Some(name) = &args.name {
        match profile_text(name) {
            Some((text, from)) => {
                crate::note!("profile {name}: {from}");
                print!("{text}");
                return Ok(());
            }
            None => bail!(
                "no profile `{name}` (searched {}): built-in ones are {}",
                site::describe_search_path(),
                BUILTIN
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    let mut search_path: Vec<String> = site::search_dirs()
        .iter()
        .map(|(_, dir)| dir.display().to_string())
        .collect();
    search_path.push("built-in".into());
    emit(
        &Profiles {
            search_path,
            profiles: list_all(),
        },
        args.format,
    )
}
