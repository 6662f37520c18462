//! HTML rendering of a model report. Every number in a table cell also carries its exact value
//! in `data-value`, and the report embeds the model's JSON, so a script (and our end-to-end
//! test) can check the tables against `remus-tune model --format json`.

use crate::chart::{render_svg, ChartData, ChartKind};
use crate::model::{describe_failure, Dom0Source, IntervalPrediction, ModelReport};
use crate::units::mib;
use anyhow::Result;
use std::fmt::Write;

/// What goes into a report.
pub struct ReportInput<'a> {
    /// What the charts draw, gathered from the trace as it streamed by.
    pub charts: &'a ChartData,
    /// Where the trace is, as the admin named it.
    pub trace_path: &'a str,
    pub report: &'a ModelReport,
    /// Extra sections (e.g. the pin plan from `advise`), already HTML, appended at the end.
    pub extra_html: &'a str,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Verdana,sans-serif;max-width:1040px;margin:2em auto;padding:0 1em;color:#222}\
h1{font-size:1.5em}.verdict{font-size:1.15em;padding:.8em 1em;border-left:6px solid #009E73;background:#f3faf7}\
.verdict.fail{border-color:#D55E00;background:#fdf4ef}table{border-collapse:collapse;margin:1em 0;font-size:.9em}\
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}th{background:#f4f4f4}td.l,th.l{text-align:left}\
.bad{color:#b00;font-weight:bold}figure{margin:1.5em 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}\
.note{color:#555;font-size:.9em}";

/// Renders the whole report.
pub fn render_html(input: &ReportInput) -> Result<String> {
    let r = input.report;
    let mut h = String::new();
    let ok = r.recommended_interval_ms.is_some();
    writeln!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    )?;
    writeln!(
        h,
        "<title>remus-tune: {}</title><style>{STYLE}</style></head><body>",
        escape(&r.trace.target)
    )?;
    writeln!(
        h,
        "<h1>Remus checkpointing for {}</h1>",
        escape(&r.trace.target)
    )?;
    writeln!(
        h,
        "<p class=\"verdict{}\" id=\"verdict\">{}</p>",
        if ok { "" } else { " fail" },
        escape(&r.verdict)
    )?;
    writeln!(
        h,
        "<p>Trace <code>{}</code>: {} backend, <code>{}</code> method{}, {} epochs of {} ms ({:.1} s), {:.0} MiB of memory. \
         Profile <b>{}</b> ({}) on host costs <b>{}</b>; link {:.1} MiB/s; network buffering {}.</p>",
        escape(input.trace_path),
        escape(&r.trace.backend),
        escape(&r.trace.method),
        if r.trace.exact { "" } else { " (estimates)" },
        r.trace.epochs,
        r.trace.base_epoch_ms,
        r.trace.duration_s,
        mib(r.trace.memory_bytes as f64),
        escape(&r.profile.name),
        escape(&r.profile.description),
        escape(&r.profile.host),
        mib(r.link_bytes_per_s),
        if r.network_buffering { "on" } else { "<b>off (unsafe)</b>" },
    )?;
    writeln!(
        h,
        "<p id=\"dom0\">Dom-0's cost per page ({}): {}</p>",
        match r.dom0.source {
            Dom0Source::Profile => "from the profile",
            Dom0Source::SaveHelper => "measured from the save helper",
        },
        escape(&r.dom0.note)
    )?;
    intervals_table(&mut h, &r.intervals)?;
    limits_table(&mut h, r)?;
    if !r.warnings.is_empty() {
        writeln!(h, "<h2>Notes</h2><ul>")?;
        for w in &r.warnings {
            writeln!(h, "<li>{}</li>", escape(w))?;
        }
        writeln!(h, "</ul>")?;
    }
    writeln!(h, "<h2>Charts</h2>")?;
    for kind in ChartKind::ALL {
        let svg = render_svg(kind, input.charts)?;
        let body = svg.find("<svg").map_or(svg.as_str(), |at| &svg[at..]);
        writeln!(
            h,
            "<figure id=\"{}\">{body}<figcaption>{}</figcaption></figure>",
            kind.stem(),
            escape(kind.title())
        )?;
    }
    constants_table(&mut h, r)?;
    h.push_str(input.extra_html);
    let json = serde_json::to_string(r)?.replace("</", "<\\/");
    writeln!(
        h,
        "<script type=\"application/json\" id=\"model-data\">{json}</script>"
    )?;
    writeln!(
        h,
        "<p class=\"note\">Made by remus-tune {}. The model and its sources: reference/model.md.</p></body></html>",
        env!("CARGO_PKG_VERSION")
    )?;
    Ok(h)
}

/// A numeric cell: shown rounded, exact in `data-value`, named by its JSON key.
fn cell(key: &str, value: f64, shown: String) -> String {
    format!(
        "<td data-key=\"{key}\" data-value=\"{value}\">{}</td>",
        escape(&shown)
    )
}

fn intervals_table(h: &mut String, intervals: &[IntervalPrediction]) -> Result<()> {
    writeln!(
        h,
        "<h2>Predictions per interval</h2><table id=\"intervals\"><tr>"
    )?;
    for head in [
        "interval (ms)",
        "achieved epoch (ms)",
        "checkpoints/s",
        "checkpoint MiB p50",
        "checkpoint MiB p95",
        "pause ms mean",
        "pause ms p95",
        "throughput pinned",
        "throughput shared",
        "bandwidth (MiB/s)",
        "Dom-0 CPU (cores)",
        "added latency ms mean",
        "added latency ms p95",
        "keeps up",
    ] {
        write!(h, "<th>{head}</th>")?;
    }
    writeln!(h, "</tr>")?;
    for p in intervals {
        write!(h, "<tr data-interval=\"{}\">", p.interval_ms)?;
        let mark = if p.basis == crate::model::Basis::Measured {
            ""
        } else {
            " (interpolated)"
        };
        write!(
            h,
            "<td data-key=\"interval_ms\" data-value=\"{}\">{}{mark}</td>",
            p.interval_ms, p.interval_ms
        )?;
        h.push_str(&cell(
            "achieved_epoch_ms",
            p.achieved_epoch_ms,
            format!("{:.1}", p.achieved_epoch_ms),
        ));
        h.push_str(&cell(
            "checkpoints_per_s",
            p.checkpoints_per_s,
            format!("{:.1}", p.checkpoints_per_s),
        ));
        h.push_str(&cell(
            "checkpoint_mib.p50",
            p.checkpoint_mib.p50,
            format!("{:.2}", p.checkpoint_mib.p50),
        ));
        h.push_str(&cell(
            "checkpoint_mib.p95",
            p.checkpoint_mib.p95,
            format!("{:.2}", p.checkpoint_mib.p95),
        ));
        h.push_str(&cell(
            "pause_ms.mean",
            p.pause_ms.mean,
            format!("{:.2}", p.pause_ms.mean),
        ));
        h.push_str(&cell(
            "pause_ms.p95",
            p.pause_ms.p95,
            format!("{:.2}", p.pause_ms.p95),
        ));
        h.push_str(&cell(
            "throughput_pinned",
            p.throughput_pinned,
            format!("{:.1} %", p.throughput_pinned * 100.0),
        ));
        h.push_str(&cell(
            "throughput_shared",
            p.throughput_shared,
            format!("{:.1} %", p.throughput_shared * 100.0),
        ));
        h.push_str(&cell(
            "bandwidth_bytes_per_s",
            p.bandwidth_bytes_per_s,
            format!(
                "{:.1} ({:.0} % of link)",
                mib(p.bandwidth_bytes_per_s),
                p.link_share * 100.0
            ),
        ));
        h.push_str(&cell("dom0_cpu", p.dom0_cpu, format!("{:.2}", p.dom0_cpu)));
        match p.added_latency_ms {
            Some(l) => {
                h.push_str(&cell("added_latency_ms.mean", l.mean, format!("{:.1}", l.mean)));
                h.push_str(&cell("added_latency_ms.p95", l.p95, format!("{:.1}", l.p95)));
            }
            None => h.push_str("<td colspan=\"2\" data-key=\"added_latency_ms\" data-value=\"null\">none — unsafe</td>"),
        }
        write!(
            h,
            "<td data-key=\"sustainable\" data-value=\"{}\"{}>{}</td></tr>",
            p.sustainable,
            if p.sustainable { "" } else { " class=\"bad\"" },
            if p.sustainable { "yes" } else { "no" }
        )?;
        writeln!(h)?;
    }
    writeln!(h, "</table>")?;
    Ok(())
}

fn limits_table(h: &mut String, r: &ModelReport) -> Result<()> {
    let Some(first) = r.intervals.first() else {
        return Ok(());
    };
    writeln!(
        h,
        "<h2>Limits of profile {}</h2><table id=\"limits\"><tr><th>interval (ms)</th>",
        escape(&r.profile.name)
    )?;
    for c in &first.limits {
        if c.limit == "sustainable" {
            write!(h, "<th>send ≤ interval</th>")?;
        } else {
            write!(
                h,
                "<th>{} ≤ {:.1} {}</th>",
                escape(&c.limit),
                c.max,
                escape(&c.unit)
            )?;
        }
    }
    writeln!(h, "<th>verdict</th></tr>")?;
    for p in &r.intervals {
        write!(h, "<tr><td>{}</td>", p.interval_ms)?;
        for c in &p.limits {
            write!(
                h,
                "<td{}>{:.1} {}</td>",
                if c.ok { "" } else { " class=\"bad\"" },
                c.value,
                escape(&c.unit)
            )?;
        }
        writeln!(
            h,
            "<td>{}</td></tr>",
            if p.meets_limits { "meets" } else { "fails" }
        )?;
    }
    writeln!(h, "</table>")?;
    if !r.failing.is_empty() {
        writeln!(h, "<ul>")?;
        for f in &r.failing {
            writeln!(h, "<li>{}</li>", escape(&describe_failure(f)))?;
        }
        writeln!(h, "</ul>")?;
    }
    Ok(())
}

fn constants_table(h: &mut String, r: &ModelReport) -> Result<()> {
    writeln!(
        h,
        "<h2>Constants used</h2><table id=\"constants\"><tr><th class=\"l\">key</th><th class=\"l\">value</th><th class=\"l\">from</th><th class=\"l\">source</th></tr>"
    )?;
    for c in &r.constants {
        let from = match c.line {
            Some(line) => format!("{}:{line}", c.from),
            None => c.from.clone(),
        };
        writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            escape(&c.key),
            escape(&c.value),
            escape(&from),
            escape(&c.note)
        )?;
    }
    writeln!(h, "</table>")?;
    Ok(())
}
