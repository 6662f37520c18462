//! The model half of `advise`: charts and one self-contained HTML report next to the trace,
//! whose tables match `remus-tune model --format json` on the same trace.

use crate::model_common;
use common::{run, stderr, stdout, write_trace};
use model_common as common;
use remus_tune::profile::ProfileRequest;
use remus_tune::report::bundle::advise_from_trace;

#[test]
fn advise_writes_the_report_next_to_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("meine-vm.trace.yaml");
    write_trace(&trace, 25, 400, 60.0, 16 * 1024);
    let out = advise_from_trace(&trace, &ProfileRequest::default(), "<h2>Pin plan</h2>").unwrap();
    assert_eq!(out.html_path, dir.path().join("meine-vm.report.html"));
    assert_eq!(out.chart_dir, dir.path().join("meine-vm.charts"));
    assert_eq!(out.charts.len(), 12);
    let html = std::fs::read_to_string(&out.html_path).unwrap();
    assert!(html.contains("<h2>Pin plan</h2>"));
    let cli = run(&["model", &trace.display().to_string(), "--format", "json"]);
    assert!(cli.status.success(), "{}", stderr(&cli));
    let v: serde_json::Value = serde_json::from_str(&stdout(&cli)).unwrap();
    assert_eq!(v["verdict"].as_str().unwrap(), out.report.verdict);
    common::assert_tables_match(&html, &v);
}

#[test]
fn advise_demo_ends_with_the_verdict_and_a_report_matching_model_json() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("demo.trace.yaml");
    let t = trace.display().to_string();
    let out = run(&["advise", "--demo", "--duration", "3s", "-o", &t]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let last: Vec<&str> = text.trim_end().lines().rev().take(2).collect();
    let report = dir.path().join("demo.report.html");
    assert_eq!(last[0], format!("Report: {}", report.display()), "{text}");
    assert!(last[1].starts_with("Verdict: "), "{text}");
    let cli = run(&["model", &t, "--format", "json"]);
    assert!(cli.status.success(), "{}", stderr(&cli));
    let v: serde_json::Value = serde_json::from_str(&stdout(&cli)).unwrap();
    assert_eq!(
        last[1],
        format!("Verdict: {}", v["verdict"].as_str().unwrap())
    );
    let html = std::fs::read_to_string(&report).unwrap();
    common::assert_tables_match(&html, &v);
    // The main job ends with a pin plan for this host, in the text and in the report.
    assert!(text.contains("Pin plan for this host"), "{text}");
    assert!(html.contains("Pin plan"), "no pin plan in the report");
    // And the measurement is checked against the workload's known truth.
    assert!(text.contains("Known truth of the demo workload"), "{text}");
    assert_eq!(
        std::fs::read_dir(dir.path().join("demo.charts"))
            .unwrap()
            .count(),
        12
    );
}
