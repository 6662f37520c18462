//! Trace files that are not what they claim, through the real binary: each refused at once
//! with a message naming the problem, never a hang, a panic or gigabytes of memory.

use crate::common;

use common::*;
use std::time::{Duration, Instant};

fn refused(args: &[&str], needle: &str) {
    let start = Instant::now();
    let output = run(args);
    let err = stderr(&output);
    assert!(!output.status.success(), "{args:?} succeeded");
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{args:?} took {:?}",
        start.elapsed()
    );
}

#[test]
fn devices_pipes_and_directories_are_not_traces() {
    refused(
        &["show", "/dev/zero"],
        "/dev/zero is a device, not a trace file",
    );
    refused(&["model", "/dev/zero"], "a device");
    refused(&["show", "/tmp"], "a directory");
}

#[test]
fn a_yaml_alias_bomb_is_refused_before_parsing() {
    let dir = temp_dir();
    let path = dir.path().join("bomb.trace.yaml");
    let mut text = String::from("schema: remus-tune-trace\nschema_version: 2\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for level in 1..10 {
        let previous = (b'a' + level - 1) as char;
        let name = (b'a' + level) as char;
        text.push_str(&format!(
            "{name}: &{name} [{}]\n",
            vec![format!("*{previous}"); 9].join(",")
        ));
    }
    text.push_str("epochs:\n");
    std::fs::write(&path, text).unwrap();
    refused(
        &["show", path.to_str().unwrap()],
        "line 3 holds a YAML anchor or alias",
    );
}

#[test]
fn a_file_without_newlines_is_refused_after_one_line() {
    let dir = temp_dir();
    let path = dir.path().join("flat.trace.yaml");
    std::fs::write(&path, vec![b'x'; 8 << 20]).unwrap();
    refused(&["show", path.to_str().unwrap()], "longer than");
}

#[test]
fn a_file_larger_than_any_trace_is_refused_before_reading() {
    let dir = temp_dir();
    let path = dir.path().join("huge.trace.yaml");
    // Sparse: 65 GiB of nothing, on any file system that allows holes.
    let file = std::fs::File::create(&path).unwrap();
    if file.set_len(65 << 30).is_err() {
        eprintln!("skipped: this file system refuses a 65 GiB sparse file");
        return;
    }
    refused(&["show", path.to_str().unwrap()], "more than any trace");
}
