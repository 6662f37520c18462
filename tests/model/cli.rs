//! `remus-tune model`, `chart` and `profiles` end to end: the real binary on real trace and
//! profile files.

use crate::model_common;
use common::{assert_tables_match, run, stderr, stdout, write_trace};
use model_common as common;
use serde_json::Value;

fn trace(dir: &tempfile::TempDir, pages: f64) -> String {
    let path = dir.path().join("vm.trace.yaml");
    write_trace(&path, 25, 800, pages, 32 * 1024);
    path.display().to_string()
}

fn json(args: &[&str]) -> Value {
    let out = run(args);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("model --format json prints JSON")
}

#[test]
fn model_prints_a_verdict_and_a_row_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let t = trace(&dir, 40.0);
    let out = run(&["model", &t]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("Verdict: "), "{text}");
    for row in ["25ms", "50ms", "100ms", "200ms", "400ms"] {
        assert!(
            text.lines().any(|l| l.starts_with(row)),
            "no row {row}: {text}"
        );
    }
    // Names the profile and every constant with where it came from.
    assert!(
        text.contains("Profile: web on host costs xen-4.17"),
        "{text}"
    );
    assert!(
        text.contains("costs.page_copy") && text.contains("xen-4.17:"),
        "{text}"
    );
}

#[test]
fn json_carries_the_contract_keys() {
    let dir = tempfile::tempdir().unwrap();
    let t = trace(&dir, 40.0);
    let v = json(&["model", &t, "--format", "json"]);
    let intervals = v["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 5);
    for i in intervals {
        for key in [
            "interval_ms",
            "achieved_epoch_ms",
            "throughput_shared",
            "throughput_pinned",
            "bandwidth_bytes_per_s",
        ] {
            assert!(i[key].is_number(), "{key} in {i}");
        }
        assert!(i["pause_ms"]["mean"].is_number() && i["pause_ms"]["p95"].is_number());
        assert!(
            i["added_latency_ms"]["mean"].is_number() && i["added_latency_ms"]["p95"].is_number()
        );
        assert!(i["sustainable"].is_boolean());
        let t = i["throughput_pinned"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&t), "a fraction: {t}");
    }
    assert!(v.get("recommended_interval_ms").is_some());
    // YAML says the same.
    let out = run(&["model", &t, "--format", "yaml"]);
    assert!(stdout(&out).contains("recommended_interval_ms:"));
}

#[test]
fn unbuffered_profiles_report_no_latency_and_say_unsafe() {
    let dir = tempfile::tempdir().unwrap();
    let t = trace(&dir, 40.0);
    let v = json(&["model", &t, "--profile", "batch", "--format", "json"]);
    assert!(v["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["added_latency_ms"].is_null()));
    assert!(v["verdict"].as_str().unwrap().contains("unsafe"));
    let text = stdout(&run(&["model", &t, "--profile", "batch"]));
    assert!(text.contains("none (unsafe)"), "{text}");
}

#[test]
fn no_interval_fits_says_which_limit_fails_and_by_how_much() {
    let dir = tempfile::tempdir().unwrap();
    let t = trace(&dir, 3000.0);
    let v = json(&["model", &t, "--format", "json"]);
    assert!(v["recommended_interval_ms"].is_null(), "{}", v["verdict"]);
    let verdict = v["verdict"].as_str().unwrap();
    assert!(
        verdict.contains("No interval meets") && verdict.contains("% over"),
        "{verdict}"
    );
    assert!(!v["failing"].as_array().unwrap().is_empty());
}

#[test]
fn a_faster_link_and_overrides_reach_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let t = trace(&dir, 400.0);
    let slow = json(&["model", &t, "--link", "100Mbit/s", "--format", "json"]);
    let fast = json(&["model", &t, "--link", "10Gbit/s", "--format", "json"]);
    let pause = |v: &Value| v["intervals"][0]["pause_ms"]["p95"].as_f64().unwrap();
    assert!(pause(&fast) < pause(&slow));
    assert_eq!(fast["link_bytes_per_s"].as_f64().unwrap(), 1.25e9);
    let constants = fast["constants"].as_array().unwrap();
    assert!(constants
        .iter()
        .any(|c| c["key"] == "costs.link" && c["from"] == "--link"));
    let loose = json(&[
        "model",
        &t,
        "--set",
        "max_slowdown=90%",
        "--set",
        "max_added_latency=10s",
        "--set",
        "max_pause=1s",
        "--format",
        "json",
    ]);
    assert_eq!(
        loose["recommended_interval_ms"].as_u64(),
        Some(25),
        "{}",
        loose["verdict"]
    );
    let old = json(&["model", &t, "--host", "remus-2008", "--format", "json"]);
    assert_eq!(old["profile"]["host"], "remus-2008");
}

#[test]
fn unmeasured_intervals_need_interpolate_and_are_marked() {
    let dir = tempfile::tempdir().unwrap();
    let t = trace(&dir, 40.0);
    let out = run(&["model", &t, "--intervals", "75ms"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--interpolate"), "{}", stderr(&out));
    let v = json(&[
        "model",
        &t,
        "--intervals",
        "50ms,75ms",
        "--interpolate",
        "--format",
        "json",
    ]);
    let i = v["intervals"].as_array().unwrap();
    assert_eq!(i[0]["basis"], "measured");
    assert_eq!(i[1]["basis"], "interpolated");
    let text = stdout(&run(&["model", &t, "--intervals", "75ms", "--interpolate"]));
    assert!(
        text.contains("75ms*") && text.contains("interpolated"),
        "{text}"
    );
}

#[test]
fn profiles_lists_every_built_in_one_line_each() {
    let out = run(&["profiles"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for name in ["web", "database", "batch", "xen-4.17", "remus-2008"] {
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with(&format!("{name} ")))
                .count(),
            1,
            "{name}: {text}"
        );
    }
    let full = stdout(&run(&["profiles", "remus-2008"]));
    assert!(full.contains("page_copy: 3.7us"), "{full}");
}

/// Runs `model` with a bad profile file and returns stderr, checking the failure is clean.
fn bad_profile(body: &str, as_host: bool) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let t = trace(&dir, 40.0);
    let path = dir.path().join("mine.yaml");
    std::fs::write(&path, body).unwrap();
    let p = path.display().to_string();
    let flag = if as_host { "--host" } else { "--profile" };
    let out = run(&["model", &t, flag, &p]);
    assert!(!out.status.success(), "accepted a bad profile");
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    (err, p)
}

#[test]
fn an_unknown_profile_key_names_file_key_and_line() {
    let (err, p) = bad_profile(
        "kind: limits\nlimits:\n  max_slowdown: 10%\n  max_latency: 5ms\n",
        false,
    );
    assert!(
        err.contains(&p) && err.contains("line 4") && err.contains("limits.max_latency"),
        "{err}"
    );
    assert!(err.contains("unknown key"), "{err}");
}

#[test]
fn a_missing_unit_names_file_key_and_line() {
    let (err, p) = bad_profile("kind: limits\nlimits:\n  max_slowdown: 10\n", false);
    assert!(
        err.contains(&p) && err.contains("line 3") && err.contains("limits.max_slowdown"),
        "{err}"
    );
    assert!(err.contains("has no unit"), "{err}");
}

#[test]
fn a_negative_rate_names_file_key_and_line() {
    let (err, p) = bad_profile(
        "kind: host\ncosts:\n  suspend: 1ms\n  link: -1Gbit/s\n",
        true,
    );
    assert!(
        err.contains(&p) && err.contains("line 4") && err.contains("costs.link"),
        "{err}"
    );
    assert!(err.contains("negative"), "{err}");
}

#[test]
fn a_bad_value_names_file_key_and_line() {
    let (err, p) = bad_profile("kind: host\ncosts:\n  pause_policy: sometimes\n", true);
    assert!(
        err.contains(&p) && err.contains("line 3") && err.contains("costs.pause_policy"),
        "{err}"
    );
    assert!(err.contains("stream") && err.contains("staging"), "{err}");
    let (err, _) = bad_profile("kind: host\ncosts:\n  suspend: 1ms\n", true);
    assert!(
        err.contains("costs.devices") && err.contains("not set"),
        "{err}"
    );
}

#[test]
fn bad_traces_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.yaml");
    std::fs::write(&garbage, "\u{0}\u{1}not yaml: [").unwrap();
    let missing = dir.path().join("missing.trace.yaml");
    let t = trace(&dir, 40.0);
    let text = std::fs::read_to_string(&t).unwrap();
    let cut = dir.path().join("cut.trace.yaml");
    std::fs::write(&cut, &text[..text.find("\nend:").unwrap() + 1]).unwrap();
    for (path, expect) in [
        (&garbage, "garbage.yaml"),
        (&missing, "cannot read"),
        (&cut, "truncated"),
    ] {
        let out = run(&["model", &path.display().to_string()]);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(err.contains(expect) && !err.contains("panicked"), "{err}");
    }
}

#[test]
fn chart_writes_valid_svg_and_png() {
    let dir = tempfile::tempdir().unwrap();
    let t = trace(&dir, 40.0);
    let out_dir = dir.path().join("charts");
    let out = run(&["chart", &t, "-o", &out_dir.display().to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).lines().count(),
        13,
        "a header and one line per file"
    );
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 12);
    let svg_only = dir.path().join("svg-only");
    let out = run(&[
        "chart",
        &t,
        "-o",
        &svg_only.display().to_string(),
        "--format",
        "svg",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(&svg_only).unwrap().count(), 6);
    let stems = [
        "throughput-vs-interval",
        "latency-vs-interval",
        "bandwidth-vs-interval",
        "dirty-pages-vs-interval",
        "dirty-pages-over-time",
        "disk-writes-over-time",
    ];
    for stem in stems {
        let svg = std::fs::read_to_string(out_dir.join(format!("{stem}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{stem}"
        );
        assert!(svg.len() > 20_000, "{stem}: {} bytes", svg.len());
        // Labels are glyph outlines from the embedded font, never <text> left to the viewer.
        assert!(
            !svg.contains("<text") && !svg.contains("font-family"),
            "{stem}"
        );
        assert!(
            svg.matches("<path d=\"M").count() > 15,
            "{stem}: title, axes, ticks and legend as outlines"
        );
        let png = std::fs::read(out_dir.join(format!("{stem}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}");
        assert!(png.len() > 20_000, "{stem}: {} bytes", png.len());
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (960, 560));
    }
}

#[test]
fn model_writes_charts_and_a_report_whose_tables_match_the_json() {
    let dir = tempfile::tempdir().unwrap();
    let t = trace(&dir, 40.0);
    let charts = dir.path().join("out");
    let html = dir.path().join("out/report.html");
    let out = run(&[
        "model",
        &t,
        "--charts",
        &charts.display().to_string(),
        "--html",
        &html.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(&charts).unwrap().count(), 13);
    let v = json(&["model", &t, "--format", "json"]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert_tables_match(&page, &v);
    // A process trace has no Dom-0 figures: the report says the profile's cost was used.
    assert_eq!(v["dom0"]["source"], "profile");
    assert!(
        page.contains("<p id=\"dom0\">Dom-0's cost per page (from the profile)"),
        "no Dom-0 line in the report"
    );
}
