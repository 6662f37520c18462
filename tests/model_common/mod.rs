//! Real trace files for the tests, written with the crate's own `TraceWriter`.

#![allow(dead_code)]

use remus_tune::trace::{End, EndReason, Epoch, TraceHeader, TraceWriter, WindowCount};
use std::path::{Path, PathBuf};

/// Writes a trace at `base_ms` for `epochs` epochs whose window of k base epochs dirties
/// `pages_per_epoch · k^0.7` pages (sub-linear, like a real working set), with a wave so the
/// distributions have a spread, and `write_bytes` of disk writes per epoch.
pub fn write_trace(
    path: &Path,
    base_ms: u64,
    epochs: u64,
    pages_per_epoch: f64,
    write_bytes: u64,
) -> PathBuf {
    let intervals: Vec<u64> = [1, 2, 4, 8, 16].iter().map(|k| k * base_ms).collect();
    let header = TraceHeader::synthetic("test-web", base_ms, &intervals, 1 << 30);
    let mut writer = TraceWriter::create(path, &header, true).unwrap();
    let base_s = base_ms as f64 / 1000.0;
    for n in 0..epochs {
        let wave = 1.0 + 0.4 * ((n as f64) / 30.0).sin();
        let windows = intervals
            .iter()
            .filter(|&&ms| (n + 1) % (ms / base_ms) == 0)
            .map(|&ms| WindowCount {
                interval_ms: ms,
                dirty_pages: (pages_per_epoch * wave * ((ms / base_ms) as f64).powf(0.7)).round()
                    as u64,
            })
            .collect();
        writer
            .append(&Epoch {
                flushes: None,
                cpu_classes: None,
                dom0: None,
                n,
                start_s: n as f64 * base_s,
                end_s: (n + 1) as f64 * base_s,
                dirty_pages: (pages_per_epoch * wave).round() as u64,
                write_bytes: (write_bytes as f64 * wave) as u64,
                syscw: 2,
                cpu_s: base_s / 2.0,
                scan_ms: 0.3,
                windows,
            })
            .unwrap();
    }
    writer
        .finish(&End {
            cross_check: None,
            working_set_pages: None,
            observer_effect: None,
            reason: EndReason::Completed,
            message: String::new(),
            epochs,
            duration_s: epochs as f64 * base_s,
            late_epochs: 0,
        })
        .unwrap()
}

/// Runs the real binary.
pub fn run(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_remus-tune"))
        .args(args)
        .output()
        .expect("the remus-tune binary runs")
}

pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every `data-key`/`data-value` cell of the report's interval table equals the JSON value.
pub fn assert_tables_match(html: &str, v: &serde_json::Value) {
    assert!(html.starts_with("<!DOCTYPE html>"));
    let verdict = v["verdict"].as_str().unwrap();
    let escaped = verdict
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    assert!(
        html.contains(&format!("id=\"verdict\">{escaped}</p>")),
        "verdict first"
    );
    assert!(html.matches("<svg").count() == 6, "six inline charts");
    assert!(!html.contains("src=\"http"), "self-contained");
    let intervals = v["intervals"].as_array().unwrap();
    let mut checked = 0;
    for row in html.split("<tr data-interval=\"").skip(1) {
        let interval: u64 = row.split('"').next().unwrap().parse().unwrap();
        let entry = intervals
            .iter()
            .find(|i| i["interval_ms"] == interval)
            .expect("row in JSON");
        let row = row.split("</tr>").next().unwrap();
        for cell in row.split("data-key=\"").skip(1) {
            let key = cell.split('"').next().unwrap();
            let value = cell
                .split("data-value=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let mut expected = entry;
            for part in key.split('.') {
                expected = &expected[part];
            }
            match expected {
                serde_json::Value::Number(n) => {
                    let (a, b) = (n.as_f64().unwrap(), value.parse::<f64>().unwrap());
                    assert!(
                        (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                        "{interval} {key}: {a} vs {b}"
                    );
                }
                serde_json::Value::Bool(b) => assert_eq!(value, b.to_string(), "{interval} {key}"),
                serde_json::Value::Null => assert_eq!(value, "null"),
                other => panic!("{key}: {other}"),
            }
            checked += 1;
        }
    }
    assert!(checked >= intervals.len() * 10, "only {checked} cells");
    // The embedded data is the model's JSON itself.
    let embedded = html
        .split("id=\"model-data\">")
        .nth(1)
        .unwrap()
        .split("</script>")
        .next()
        .unwrap();
    let embedded: serde_json::Value =
        serde_json::from_str(&embedded.replace("<\\/", "</")).unwrap();
    assert_eq!(&embedded["intervals"], &v["intervals"]);
    assert_eq!(
        &embedded["recommended_interval_ms"],
        &v["recommended_interval_ms"]
    );
}
