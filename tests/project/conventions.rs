//! The conventions every command shares, on the real binary: `-q` and `-v`, the exit-code
//! table (`help exit-codes`, the man page), `--format` meaning text/json/yaml (and
//! `chart --image` for pictures), and a default build that needs no libhwloc.

use crate::model_common;
use model_common::{run, stderr, stdout, write_trace};

#[test]
fn help_exit_codes_lists_the_one_table() {
    let out = run(&["help", "exit-codes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text, remus_tune::exit_codes::TABLE);
    for (code, words) in [
        (2, "usage error"),
        (3, "target exited"),
        (4, "pin drift"),
        (5, "not confirmed"),
        (6, "FAIL check"),
        (69, "not available"),
        (74, "writing a trace"),
        (143, "SIGTERM"),
    ] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{code} ")))
            .unwrap_or_else(|| panic!("no row for {code}: {text}"));
        assert!(line.contains(words), "{line}");
    }
    // `help COMMAND` is still clap's help of that command; an unknown topic is a usage error.
    let out = run(&["help", "measure"]);
    assert!(stdout(&out).contains("--duration"), "{}", stdout(&out));
    let out = run(&["help", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("exit-codes"), "{}", stderr(&out));
}

#[test]
fn quiet_keeps_stderr_for_errors_and_verbose_says_why() {
    // The workload's closing note goes to stderr; -q drops it, stdout is untouched.
    let args = ["workload", "--hot", "16", "--duration", "100ms"];
    let normal = run(&args);
    assert!(normal.status.success(), "{}", stderr(&normal));
    assert!(
        stderr(&normal).contains("workload: "),
        "{}",
        stderr(&normal)
    );
    let quiet = run(&[&["-q"], &args[..]].concat());
    assert!(quiet.status.success());
    assert_eq!(stderr(&quiet), "");
    assert!(stdout(&quiet).contains("\nkept-up "), "{}", stdout(&quiet));

    // -v tells where the topology came from; the default does not.
    let plain = run(&["topology"]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert_eq!(stderr(&plain), "");
    let verbose = run(&["topology", "-v"]);
    assert!(
        stderr(&verbose).contains("online CPUs from"),
        "{}",
        stderr(&verbose)
    );
    assert_eq!(stdout(&verbose), stdout(&plain));

    // Errors are never silenced; -q and -v together are a usage error.
    let out = run(&["-q", "topology", "--topology", "/nonexistent"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out));
    assert_eq!(run(&["-q", "-v", "topology"]).status.code(), Some(2));
}

#[test]
fn the_default_build_reads_sysfs_and_says_hwloc_is_not_built_in() {
    let out = run(&["topology"]);
    assert!(out.status.success(), "{}", stderr(&out));
    if cfg!(feature = "hwloc") {
        return;
    }
    assert!(
        stdout(&out).contains("from sysfs (this host)"),
        "{}",
        stdout(&out)
    );
    let out = run(&["topology", "--source", "hwloc"]);
    assert_eq!(
        out.status.code(),
        Some(i32::from(remus_tune::exit_codes::UNAVAILABLE))
    );
    assert!(stderr(&out).contains("--source sysfs"), "{}", stderr(&out));
    // The binary itself links no libhwloc (what made it fail on a bare Dom-0).
    let ldd = std::process::Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_remus-tune"))
        .output()
        .expect("ldd runs");
    let libs = String::from_utf8_lossy(&ldd.stdout);
    assert!(libs.contains("libc.so"), "{libs}");
    assert!(!libs.contains("hwloc") && !libs.contains("udev"), "{libs}");
}

#[test]
fn chart_images_by_image_listing_by_format_and_the_old_spelling_warns() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("vm.trace.yaml");
    write_trace(&trace, 25, 200, 300.0, 4096);
    let trace = trace.display().to_string();

    let svg = dir.path().join("svg");
    let out = run(&[
        "chart",
        &trace,
        "-o",
        &svg.display().to_string(),
        "--image",
        "svg",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listing: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON listing");
    let files: Vec<_> = std::fs::read_dir(&svg).unwrap().collect();
    assert_eq!(files.len(), 6);
    assert!(listing.to_string().contains(".svg"), "{listing}");
    assert!(!listing.to_string().contains(".png"), "{listing}");

    let old = dir.path().join("old");
    let out = run(&[
        "chart",
        &trace,
        "-o",
        &old.display().to_string(),
        "--format",
        "png",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("deprecated") && stderr(&out).contains("--image png"),
        "{}",
        stderr(&out)
    );
    assert!(std::fs::read_dir(&old)
        .unwrap()
        .all(|f| f.unwrap().path().extension().unwrap() == "png"));

    let out = run(&["chart", &trace, "--format", "gif"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--image svg,png"), "{}", stderr(&out));
}
