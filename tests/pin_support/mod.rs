//! Shared by the pin and topology tests: the real binary with no live `xl` to find.
#![allow(dead_code)]

use std::process::Command;

/// Runs remus-tune with `xl` pointed nowhere (so nothing here can touch a real Xen host);
/// returns the exit code, stdout and stderr, and fails on any panic.
pub fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_remus-tune"))
        .args(args)
        .env("REMUS_TUNE_XL", "/nonexistent/xl")
        .output()
        .unwrap();
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(!e.contains("panicked"), "{e}");
    (out.status.code().unwrap_or(-1), o, e)
}
