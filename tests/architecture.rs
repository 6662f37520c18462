//! The layout's rules, checked on the source tree itself: `cli/` declares the command line and
//! `commands/` (and `main.rs`) turn it into work; nothing below them imports `cli`, so the
//! backends, the model, the output layer and the workload can be used and tested without it.

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

#[test]
fn nothing_below_commands_imports_cli() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "scanned only {files:?}");
    let allowed = |path: &Path| {
        let relative = path.strip_prefix(&src).unwrap();
        relative.starts_with("cli")
            || relative.starts_with("commands")
            || relative == Path::new("main.rs")
    };
    let offenders: Vec<String> = files
        .iter()
        .filter(|path| !allowed(path))
        .filter(|path| imports_cli(&std::fs::read_to_string(path).unwrap()))
        .map(|path| path.strip_prefix(&src).unwrap().display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "these modules import `cli`; move the type they need to its owner (or src/settings/) \
         and convert in src/commands/: {offenders:?}"
    );
    // The check itself sees the imports the commands do make.
    let measure = std::fs::read_to_string(src.join("commands/measure.rs")).unwrap();
    assert!(imports_cli(&measure));
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
