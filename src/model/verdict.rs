//! The verdict: the shortest interval that meets every limit (shorter epochs mean less
//! latency and a fresher backup, model.md §8), or, when none does, the closest interval and
//! the limits it misses, worst first.

use super::report::{IntervalPrediction, LimitCheck};
use crate::units::mib;

/// The recommendation, its sentence, and the failing limits when there is none.
pub struct Verdict {
    pub recommended_interval_ms: Option<u64>,
    pub sentence: String,
    pub failing: Vec<LimitCheck>,
}

/// Judges `intervals` (any order) for profile `profile`.
pub fn verdict(intervals: &[IntervalPrediction], profile: &str, buffering: bool) -> Verdict {
    let unsafe_note = if buffering {
        ""
    } else {
        " Network buffering is off (xl remus -n): clients may see state the backup lacks, so a \
         failover can lose acknowledged work (unsafe)."
    };
    let mut by_interval: Vec<&IntervalPrediction> = intervals.iter().collect();
    by_interval.sort_by_key(|p| p.interval_ms);
    if let Some(best) = by_interval.iter().find(|p| p.meets_limits) {
        let latency = match best.added_latency_ms {
            Some(latency) => format!("p95 added latency {:.1} ms", latency.p95),
            None => "no added latency".to_string(),
        };
        let sentence = format!(
            "Checkpoint every {} ms (achieved {:.0} ms): throughput {:.0} % of unprotected with \
             Dom-0 pinned ({:.0} % sharing cores), p95 pause {:.1} ms, {latency}, {:.1} MiB/s on \
             the link: within every limit of profile `{profile}`.{unsafe_note}",
            best.interval_ms,
            best.achieved_epoch_ms,
            best.throughput_pinned * 100.0,
            best.throughput_shared * 100.0,
            best.pause_ms.p95,
            mib(best.bandwidth_bytes_per_s),
        );
        return Verdict {
            recommended_interval_ms: Some(best.interval_ms),
            sentence,
            failing: Vec::new(),
        };
    }
    let worst_excess = |p: &IntervalPrediction| {
        p.limits
            .iter()
            .map(LimitCheck::excess)
            .fold(0.0f64, f64::max)
    };
    let Some(closest) = by_interval
        .iter()
        .min_by(|a, b| worst_excess(a).total_cmp(&worst_excess(b)))
    else {
        return Verdict {
            recommended_interval_ms: None,
            sentence: "No interval to judge: the trace measured none.".to_string(),
            failing: Vec::new(),
        };
    };
    let mut failing: Vec<LimitCheck> = closest.limits.iter().filter(|c| !c.ok).cloned().collect();
    failing.sort_by(|a, b| b.excess().total_cmp(&a.excess()));
    let reasons: Vec<String> = failing.iter().map(describe_failure).collect();
    let everywhere: Vec<&str> = failing
        .iter()
        .filter(|f| {
            by_interval
                .iter()
                .all(|p| p.limits.iter().any(|c| c.limit == f.limit && !c.ok))
        })
        .map(|f| f.limit.as_str())
        .collect();
    let everywhere = if everywhere.is_empty() {
        String::new()
    } else {
        format!(" ({} fails at every interval)", everywhere.join(", "))
    };
    let sentence = format!(
        "No interval meets profile `{profile}`: the closest is {} ms, where {}{everywhere}.{unsafe_note}",
        closest.interval_ms,
        reasons.join("; ")
    );
    Verdict {
        recommended_interval_ms: None,
        sentence,
        failing,
    }
}

/// "max_slowdown: 23.4 % against 10 % (+134 %)".
pub fn describe_failure(check: &LimitCheck) -> String {
    if check.limit == "sustainable" {
        return format!(
            "the pipeline cannot keep up (sending one checkpoint takes {:.1} ms, more than the \
             {:.0} ms interval)",
            check.value, check.max
        );
    }
    let over = check.excess();
    let by = if over.is_finite() {
        format!("{:.0} % over", over * 100.0)
    } else {
        "over a zero limit".to_string()
    };
    format!(
        "{} is {:.1} {unit} against {:.1} {unit} ({by})",
        check.limit,
        check.value,
        check.max,
        unit = check.unit
    )
}
