//! The .deb as an admin gets it: `scripts/build-deb --binary` packages this test's own
//! binary (no release build in CI), `dpkg -x` unpacks it into a scratch root, and the
//! installed files are used: the binary, a man page through `man -l`, the bash completion
//! through bash, the profiles. Needs dpkg-dev (dpkg-deb, dpkg-shlibdeps), binutils (strip)
//! and man-db (scripts/apt-packages.txt).

use clap::CommandFactory;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?} cannot run: {e}"));
    assert!(out.status.success(), "{command:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the .deb in `dir` and returns its path.
fn build_deb(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    ok(Command::new(root.join("scripts/build-deb"))
        .args(["--binary", env!("CARGO_BIN_EXE_remus-tune")])
        // Its own target directory: the test's assets never mix with a real release build.
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env("DEB_OUTPUT", &out_dir)
        .env("DEB_FAST", "1"));
    let debs: Vec<PathBuf> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "{debs:?}");
    debs[0].clone()
}

#[test]
fn the_deb_installs_a_working_tool_with_man_pages_and_completions() {
    let dir = tempfile::tempdir().unwrap();
    let deb = build_deb(dir.path());

    // Control fields as an admin's apt reads them; Depends found by dpkg-shlibdeps from the
    // binary: libc, and no libhwloc.
    let control = ok(Command::new("dpkg-deb").arg("-f").arg(&deb));
    for field in [
        "Package: remus-tune",
        "Section: admin",
        "Maintainer: ",
        "Description: ",
    ] {
        assert!(control.contains(field), "{field}: {control}");
    }
    let depends = ok(Command::new("dpkg-deb")
        .args(["-f"])
        .arg(&deb)
        .arg("Depends"));
    assert!(depends.contains("libc6"), "{depends}");
    assert!(!depends.contains("hwloc"), "{depends}");
    let version = ok(Command::new("dpkg-deb")
        .args(["-f"])
        .arg(&deb)
        .arg("Version"));
    assert!(version.starts_with(env!("CARGO_PKG_VERSION")), "{version}");

    let root = dir.path().join("root");
    ok(Command::new("dpkg").arg("-x").arg(&deb).arg(&root));
    // What dpkg checks after installing (`dpkg --verify`): every file's md5sum.
    let md5sums = ok(Command::new("dpkg-deb").arg("-I").arg(&deb).arg("md5sums"));
    assert!(md5sums.contains("usr/bin/remus-tune"), "{md5sums}");
    let md5sums_file = dir.path().join("md5sums");
    std::fs::write(&md5sums_file, &md5sums).unwrap();
    ok(Command::new("md5sum")
        .args(["--check", "--quiet"])
        .arg(&md5sums_file)
        .current_dir(&root));
    let bin = root.join("usr/bin/remus-tune");
    assert_eq!(
        ok(Command::new(&bin).arg("--version")).trim(),
        format!("remus-tune {}", env!("CARGO_PKG_VERSION"))
    );
    assert!(ok(Command::new(&bin).arg("--help")).contains("Usage: remus-tune"));
    assert!(ok(Command::new(&bin).arg("topology")).contains(" CPUs, "));

    // A man page per visible command, readable by man.
    let man1 = root.join("usr/share/man/man1");
    let mut commands: Vec<String> = remus_tune::cli::Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| format!("remus-tune-{}", s.get_name()))
        .collect();
    commands.push("remus-tune".into());
    for name in &commands {
        let page = ["1", "1.gz"]
            .iter()
            .map(|ext| man1.join(format!("{name}.{ext}")))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("no man page {name}.1 in {}", man1.display()));
        if name == "remus-tune-measure" {
            let shown = ok(Command::new("man")
                .args(["-l", "-P", "cat"])
                .arg(&page)
                .env("MANWIDTH", "100"));
            assert!(shown.contains("--duration"), "{shown}");
            assert!(shown.contains("--quiet"), "{shown}");
        }
        if name == "remus-tune" {
            let shown = ok(Command::new("man").args(["-l", "-P", "cat"]).arg(&page));
            assert!(shown.contains("EXIT STATUS"), "{shown}");
            assert!(shown.contains("pin drift found by"), "{shown}");
        }
    }

    // Completions: bash parses and registers them; zsh and fish know the subcommands.
    let bash = root.join("usr/share/bash-completion/completions/remus-tune");
    ok(Command::new("bash").arg("-n").arg(&bash));
    let registered = ok(Command::new("bash").arg("-c").arg(format!(
        "source {} && complete -p remus-tune",
        bash.display()
    )));
    assert!(registered.contains("remus-tune"), "{registered}");
    for file in [
        "usr/share/zsh/vendor-completions/_remus-tune",
        "usr/share/fish/vendor_completions.d/remus-tune.fish",
    ] {
        let script = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(
            script.contains("measure") && script.contains("topology"),
            "{file}"
        );
    }

    // The built-in profiles as files, and contrib/.
    for profile in ["web.yaml", "database.yaml", "batch.yaml", "xen-4.17.yaml"] {
        let installed = root.join("usr/share/remus-tune/profiles").join(profile);
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("profiles")
            .join(profile);
        assert_eq!(
            std::fs::read(&installed).unwrap(),
            std::fs::read(&source).unwrap(),
            "{profile}"
        );
    }
    assert!(root
        .join("usr/share/doc/remus-tune/contrib/README.md")
        .exists());
}
