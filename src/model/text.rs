//! The model's answer as a person reads it: the verdict first, then one row per interval,
//! then the constants with where each came from.

use super::report::{IntervalPrediction, ModelReport};
use crate::output::{table, TextReport};
use crate::units::mib;

impl TextReport for ModelReport {
    fn render_text(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!("Verdict: {}\n\n", self.verdict));
        out.push_str(&format!(
            "Trace: {} ({} backend, {} method{}), {} epochs of {} ms, {:.1} s, {:.0} MiB memory\n",
            self.trace.target,
            self.trace.backend,
            self.trace.method,
            if self.trace.exact { "" } else { ", estimated" },
            self.trace.epochs,
            self.trace.base_epoch_ms,
            self.trace.duration_s,
            mib(self.trace.memory_bytes as f64),
        ));
        out.push_str(&format!(
            "Profile: {} on host costs {}; link {:.1} MiB/s ({:.0} Mbit/s){}\n",
            self.profile.name,
            self.profile.host,
            mib(self.link_bytes_per_s),
            self.link_bytes_per_s * 8.0 / 1e6,
            if self.network_buffering {
                ""
            } else {
                "; network buffering OFF"
            }
        ));
        if let Some(validation) = &self.host_validation {
            out.push_str(&format!("Host profile: {}\n", validation.sentence()));
        }
        out.push_str(&format!("Dom-0: {}\n", self.dom0.note));
        out.push_str(&format!("Observer effect: {}\n\n", self.observer.note));
        out.push_str(&interval_table(&self.intervals));
        out.push('\n');
        out.push_str(&limit_table(&self.intervals));
        if !self.warnings.is_empty() {
            out.push_str("\nNotes:\n");
            for warning in &self.warnings {
                out.push_str(&format!("  - {warning}\n"));
            }
        }
        out.push_str("\nConstants used:\n");
        let mut rows = vec![vec![
            "key".to_string(),
            "value".to_string(),
            "from".to_string(),
            "source".to_string(),
        ]];
        for c in &self.constants {
            let from = match c.line {
                Some(line) => format!("{}:{line}", c.from),
                None => c.from.clone(),
            };
            rows.push(vec![c.key.clone(), c.value.clone(), from, c.note.clone()]);
        }
        out.push_str(&indent(&table(&rows)));
        out
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// The per-interval predictions, one row each.
pub fn interval_table(intervals: &[IntervalPrediction]) -> String {
    let mut rows = vec![vec![
        "interval".to_string(),
        "epoch".to_string(),
        "ckpt/s".to_string(),
        "size p50/p95".to_string(),
        "pause p50/p95".to_string(),
        "thr pinned".to_string(),
        "thr shared".to_string(),
        "bandwidth".to_string(),
        "dom0 cpu".to_string(),
        "latency mean/p95".to_string(),
        "keeps up".to_string(),
    ]];
    for p in intervals {
        let mark = match p.basis {
            super::Basis::Measured => "",
            _ => "*",
        };
        rows.push(vec![
            format!("{}ms{mark}", p.interval_ms),
            format!("{:.1}ms", p.achieved_epoch_ms),
            format!("{:.1}", p.checkpoints_per_s),
            format!(
                "{:.2}/{:.2} MiB",
                p.checkpoint_mib.p50, p.checkpoint_mib.p95
            ),
            format!("{:.2}/{:.2} ms", p.pause_ms.p50, p.pause_ms.p95),
            format!("{:.1}%", p.throughput_pinned * 100.0),
            format!("{:.1}%", p.throughput_shared * 100.0),
            format!(
                "{:.1} MiB/s ({:.0}%)",
                mib(p.bandwidth_bytes_per_s),
                p.link_share * 100.0
            ),
            format!("{:.2}", p.dom0_cpu),
            match p.added_latency_ms {
                Some(l) => format!("{:.1}/{:.1} ms", l.mean, l.p95),
                None => "none (unsafe)".to_string(),
            },
            if p.sustainable { "yes" } else { "NO" }.to_string(),
        ]);
    }
    // Only a trace that measured Dom-0 has a total: the column would be all dashes otherwise.
    if intervals.iter().any(|p| p.dom0_cpu_total.is_some()) {
        let at = rows[0]
            .iter()
            .position(|h| h == "dom0 cpu")
            .map_or(0, |i| i + 1);
        rows[0].insert(at, "dom0 total".to_string());
        for (row, p) in rows[1..].iter_mut().zip(intervals) {
            let total = p
                .dom0_cpu_total
                .map_or("-".to_string(), |t| format!("{t:.2}"));
            row.insert(at, total);
        }
    }
    let mut text = table(&rows);
    if intervals.iter().any(|p| p.basis != super::Basis::Measured) {
        text.push_str("* interpolated between measured intervals (--interpolate)\n");
    }
    text
}

/// Every limit at every interval: value against limit, ok or by how much it fails.
pub fn limit_table(intervals: &[IntervalPrediction]) -> String {
    let Some(first) = intervals.first() else {
        return String::new();
    };
    let mut header = vec!["limits".to_string()];
    header.extend(first.limits.iter().map(|c| {
        if c.limit == "sustainable" {
            "send<=interval".to_string()
        } else {
            format!("{} {:.1}{}", c.limit, c.max, c.unit)
        }
    }));
    header.push("verdict".to_string());
    let mut rows = vec![header];
    for p in intervals {
        let mut row = vec![format!("{}ms", p.interval_ms)];
        row.extend(p.limits.iter().map(|c| {
            format!(
                "{:.1}{} {}",
                c.value,
                c.unit,
                if c.ok { "ok" } else { "FAIL" }
            )
        }));
        row.push(if p.meets_limits { "meets" } else { "fails" }.to_string());
        rows.push(row);
    }
    table(&rows)
}
