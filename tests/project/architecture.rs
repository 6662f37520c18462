//! The layout's rules, checked on the source tree itself: `cli/` declares the command line and
//! `commands/` (and `main.rs`) turn it into work; nothing below them imports `cli` or
//! `commands`, so the backends, the model, the output layer and the workload can be used and
//! tested without them. The libc calls with no safe std equivalent that every layer wants
//! (`sysconf`, `kill`) go through `sys/`, the one place their `unsafe` blocks are.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// True when `source` names the `cli` module through `crate::`, as a path
/// (`crate::cli::Format`) or inside a grouped import (`use crate::{cli, output};`).
fn imports_cli(source: &str) -> bool {
    let compact: String = source.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.contains("crate::cli::") || compact.contains("crate::cli;") {
        return true;
    }
    compact.match_indices("crate::{").any(|(start, _)| {
        let group = &compact[start + "crate::{".len()..];
        let mut depth = 1;
        let mut names = String::new();
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 1 => break,
                '}' => depth -= 1,
                _ if depth == 1 => names.push(c),
                _ => {}
            }
        }
        names
            .split(',')
            .any(|name| name == "cli" || name.starts_with("cli::"))
    })
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every .rs file under src/ outside `allowed` (paths relative to src/) for whose text
/// `offends` is true, relative to src/.
fn offenders(allowed: &[&str], offends: impl Fn(&str) -> bool) -> Vec<String> {
    let src = src();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "scanned only {files:?}");
    files
        .iter()
        .map(|path| path.strip_prefix(&src).unwrap().to_path_buf())
        .filter(|relative| !allowed.iter().any(|a| relative.starts_with(a)))
        .filter(|relative| offends(&std::fs::read_to_string(src.join(relative)).unwrap()))
        .map(|relative| relative.display().to_string())
        .collect()
}

#[test]
fn nothing_below_commands_imports_cli_or_commands() {
    let above = ["cli", "commands", "main.rs"];
    let cli = offenders(&above, imports_cli);
    assert!(
        cli.is_empty(),
        "these modules import `cli`; move the type they need to its owner (or src/settings/) \
         and convert in src/commands/: {cli:?}"
    );
    let commands = offenders(&above, |text| text.contains("crate::commands"));
    assert!(
        commands.is_empty(),
        "these modules import `commands`; move what they need below it: {commands:?}"
    );
    // The check sees what the commands themselves do import.
    let measure = std::fs::read_to_string(src().join("commands/measure.rs")).unwrap();
    assert!(imports_cli(&measure));
}

#[test]
fn sysconf_and_kill_only_in_sys() {
    let calls = offenders(&["sys"], |text| {
        text.contains("libc::sysconf") || text.contains("libc::kill(")
    });
    // The check sees the calls sys/ itself makes.
    assert!(!offenders(&[], |text| text.contains("libc::sysconf")).is_empty());
    assert!(
        calls.is_empty(),
        "call crate::sys::page_size / clock_ticks_per_second / kill::signal_child instead: {calls:?}"
    );
}

#[test]
fn the_import_check_sees_every_spelling() {
    assert!(imports_cli("use crate::cli::Format;"));
    assert!(imports_cli(
        "use crate::{\n    cli::MethodChoice,\n    output,\n};"
    ));
    assert!(imports_cli("use crate::{output, cli};"));
    assert!(imports_cli("fn f(_: crate::cli :: Format) {}"));
    assert!(!imports_cli("use crate::client::Thing;"));
    assert!(!imports_cli(
        "use crate::{output::{cli_like, Format}, trace};"
    ));
}
