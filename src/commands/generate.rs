//! `remus-tune generate man DIR` and `remus-tune generate completions SHELL`: man pages and
//! shell completions generated from the clap declaration that parses the command line, so
//! they cannot drift from it.
//!
//! A hidden subcommand rather than a build script or an xtask: a build script cannot see
//! `cli` without compiling half the crate into it, an xtask is a second program to build in
//! CI, and this way a `cargo install` user (no .deb) can still write completions for their
//! shell. scripts/build-deb runs it to fill the package.

use crate::cli::{Cli, GenerateArgs, GenerateWhat};
use anyhow::{Context, Result};
use clap::CommandFactory;
use std::io::Write;
use std::path::Path;

/// The name the pages and completions are for.
const BIN: &str = "remus-tune";

/// Runs `remus-tune generate`.
pub fn run(args: &GenerateArgs) -> Result<()> {
    match &args.what {
        GenerateWhat::Man { dir } => {
            let written = man_pages(dir)?;
            crate::note!("wrote {} man pages to {}", written, dir.display());
            Ok(())
        }
        GenerateWhat::Completions { shell } => {
            let mut cmd = Cli::command();
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut cmd, BIN, &mut out);
            std::io::stdout()
                .write_all(&out)
                .context("writing the completions to stdout")
        }
    }
}

/// Writes `remus-tune.1` and one `remus-tune-SUBCOMMAND.1` per visible subcommand into
/// `dir`; returns how many.
pub fn man_pages(dir: &Path) -> Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut top = Cli::command();
    // Propagates the global flags (-q, -v) and the version into every subcommand.
    top.build();
    let mut pages = vec![(format!("{BIN}.1"), render_top(&top)?)];
    for sub in top.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("{BIN}-{}", sub.get_name());
        let cmd = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("{BIN} {}", sub.get_name()));
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut page)
            .with_context(|| format!("rendering the man page of {name}"))?;
        page.extend_from_slice(see_also_exit_codes().as_bytes());
        pages.push((format!("{name}.1"), page));
    }
    for (file, page) in &pages {
        let path = dir.join(file);
        std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(pages.len())
}

/// The top page: clap_mangen's sections, with EXIT STATUS (the one table) before VERSION.
fn render_top(cmd: &clap::Command) -> Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    page.extend_from_slice(exit_status_section().as_bytes());
    man.render_version_section(&mut page)?;
    Ok(page)
}

/// [`crate::exit_codes::TABLE`] as a roff section, kept as preformatted lines.
fn exit_status_section() -> String {
    let body: String = crate::exit_codes::TABLE
        .lines()
        .skip(1) // the table's own title; the section heading says it
        .map(|l| format!("{}\n", l.replace('\\', "\\e")))
        .collect();
    format!(".SH \"EXIT STATUS\"\n.nf\n{body}.fi\n")
}

fn see_also_exit_codes() -> String {
    format!(".SH \"EXIT STATUS\"\nSee \\fB{BIN}\\fR(1), or run \\fB{BIN} help exit-codes\\fR.\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_per_visible_subcommand_and_the_exit_codes_on_top() {
        let dir = tempfile::tempdir().unwrap();
        let n = man_pages(dir.path()).unwrap();
        let subs = Cli::command()
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .count();
        assert_eq!(n, subs + 1);
        let top = std::fs::read_to_string(dir.path().join("remus-tune.1")).unwrap();
        assert!(top.contains(".SH \"EXIT STATUS\""), "{top}");
        assert!(top.contains("143  ended by SIGTERM"), "{top}");
        let measure = std::fs::read_to_string(dir.path().join("remus-tune-measure.1")).unwrap();
        assert!(measure.contains("\\-\\-duration"), "{measure}");
        assert!(
            measure.contains("\\-\\-quiet"),
            "the global flags: {measure}"
        );
        assert!(!dir.path().join("remus-tune-generate.1").exists());
    }
}
