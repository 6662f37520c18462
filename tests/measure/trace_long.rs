//! A trace longer than an hour, through the real binary: `show` reports the windows hour by
//! hour with the peak hour, `chart` draws the by-hour view, and the compressed file holds
//! the same trace as the plain one in a fraction of the bytes.

use crate::common;
use crate::day_trace;

use common::*;

#[test]
fn show_reports_hours_and_the_peak_and_chart_draws_them() {
    let dir = temp_dir();
    let plain = dir.path().join("long.trace.yaml");
    let packed = dir.path().join("long.trace.zst");
    // 3.5 hours: the generator's batch job runs from 02:00 to 03:00, 4x the dirty rate.
    day_trace::write_day_trace(&plain, 3.5);
    day_trace::write_day_trace(&packed, 3.5);

    let shown = run(&["show", "--format", "json", plain.to_str().unwrap()]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let summary = json(&shown);
    let hours = summary["hours"].as_array().expect("hours in the summary");
    assert_eq!(hours.len(), 4, "{hours:?}");
    let peak: Vec<u64> = hours
        .iter()
        .filter(|h| h["peak"] == true)
        .map(|h| h["hour"].as_u64().unwrap())
        .collect();
    assert_eq!(peak, vec![2], "the batch hour is the peak");
    assert_eq!(hours[2]["start_utc"], "02:00");
    let p95 = |h: usize| {
        hours[h]["intervals"][0]["dirty_pages_p95"]
            .as_f64()
            .unwrap()
    };
    assert!(p95(2) > 2.0 * p95(1), "{} vs {}", p95(2), p95(1));
    // Percentiles stay exact: the counts have far fewer distinct values than the cap.
    assert!(summary["intervals"][0].get("percentile_error").is_none());

    // The compressed trace is the same trace, in under a third of the bytes.
    let shown_packed = run(&["show", "--format", "json", packed.to_str().unwrap()]);
    let mut a = summary.clone();
    let mut b = json(&shown_packed);
    a["trace"] = serde_json::Value::Null;
    b["trace"] = serde_json::Value::Null;
    assert_eq!(a, b);
    let (plain_len, packed_len) = (
        std::fs::metadata(&plain).unwrap().len(),
        std::fs::metadata(&packed).unwrap().len(),
    );
    assert!(packed_len * 3 < plain_len, "{packed_len} vs {plain_len}");

    let text = run(&["show", plain.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(text.contains("by hour"), "{text}");
    assert!(text.contains("2 peak"), "{text}");

    let charts = dir.path().join("charts");
    let out = run(&[
        "chart",
        packed.to_str().unwrap(),
        "-o",
        charts.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let svg = std::fs::read_to_string(charts.join("by-hour.svg")).expect("by-hour chart");
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "{}",
        &svg[..80]
    );
    assert!(charts.join("by-hour.png").exists());
}
