//! Writes the host profile `trial` fitted: the shipped `xen-4.17` cost set (every value with
//! its source) with the measured values in its place, each saying where it came from, and a
//! `validation:` block with how well the fitted costs predicted real Remus. Keys the trial
//! does not measure keep the shipped line, so the profile always has every key the model
//! needs.

use super::BUILTIN;
use crate::model::fit::HostFit;
use crate::model::HostValidation;

/// What the written profile says beside the fitted values.
pub struct HostProfileFacts<'a> {
    pub domain: &'a str,
    /// RFC 3339.
    pub date: &'a str,
    pub fit: &'a HostFit,
    /// One comment line per trial step (what was measured).
    pub step_lines: Vec<String>,
    pub validation: Option<&'a HostValidation>,
    /// One comment line per interval of the validation (measured vs predicted).
    pub validation_lines: Vec<String>,
}

fn pct(v: Option<f64>) -> Option<String> {
    v.map(|v| format!("{:.1}%", v * 100.0))
}

/// The profile's text.
pub fn render_host_profile(facts: &HostProfileFacts) -> String {
    let HostProfileFacts {
        domain, date, fit, ..
    } = facts;
    let base = BUILTIN
        .iter()
        .find(|(name, _)| *name == "xen-4.17")
        .map(|(_, text)| *text)
        .unwrap_or_default();
    let mut out = format!(
        "# Host cost set measured by `remus-tune trial {domain}` on {date}: real `xl remus` in\n\
         # blackhole mode (-F -b -n -d), {} checkpoints fitted (period - interval = suspend +\n\
         # pages x per-page). Values marked `measured` come from this host; every other line is\n\
         # the shipped xen-4.17 profile's, with its source.\n",
        fit.period.points
    );
    for line in &facts.step_lines {
        out.push_str(&format!("#   {line}\n"));
    }
    for why in &fit.period.refused {
        out.push_str(&format!("# not fitted: {why}\n"));
    }
    match &fit.guest {
        Ok(guest) => out.push_str(&format!("# guest-side costs: {}\n", guest.note)),
        Err(why) => out.push_str(&format!("# guest-side costs not fitted: {why}\n")),
    }
    if let Some(v) = facts.validation {
        out.push_str(&format!("# validation: {}\n", v.sentence()));
        for line in &facts.validation_lines {
            out.push_str(&format!("#   {line}\n"));
        }
    }
    let se = |e: &crate::model::fit::Estimate, scale: f64, unit: &str| {
        e.std_error
            .map(|s| format!(" ± {:.3}{unit}", s * scale))
            .unwrap_or_default()
    };
    let per_page = fit.period.per_page_s;
    let guest = fit.guest.as_ref().ok();
    for line in base.lines().filter(|l| !l.starts_with('#')) {
        let key = line.trim_start().split(':').next().unwrap_or("");
        let replaced = match key {
            "description" => Some(format!(
                "description: \"Measured on this host by remus-tune trial ({domain}, {date})\""
            )),
            "suspend" => Some(format!(
                "  suspend: {:.3}ms  # measured: fitted intercept{} (suspend + resume + this domain's CLEAN walk and device hooks)",
                fit.period.suspend_s.value * 1e3,
                se(&fit.period.suspend_s, 1e3, "ms")
            )),
            "page_copy" => per_page.map(|p| format!(
                "  page_copy: {:.3}us  # measured: fitted slope{}, per page sent while suspended (blackhole stream)",
                p.value * 1e6,
                se(&p, 1e6, "us")
            )),
            "page_send_cpu" => per_page.map(|p| format!(
                "  page_send_cpu: {:.3}us  # measured: the same slope, Dom-0 CPU per page into the stream (no ssh in blackhole mode)",
                p.value * 1e6
            )),
            "clean_per_gib" => Some(
                "  clean_per_gib: 0ms  # measured: included in suspend above (same domain)".into(),
            ),
            "devices" => Some(
                "  devices: 0ms  # measured: included in suspend above (blackhole, -n -d: add real hooks' cost for a real backup)".into(),
            ),
            "suspend_pages" => fit.suspend_pages.map(|e| format!(
                "  suspend_pages: {:.0}  # measured: pages sent per checkpoint beyond the trace's dirty count{}",
                e.value,
                e.std_error.map(|s| format!(" (± {s:.0})")).unwrap_or_default()
            )),
            "fault" => guest.map(|g| match g.fault_s {
                Some(f) => format!(
                    "  fault: {:.3}us  # measured: guest time lost per page sent{}, from the probe's slowdown beyond the pauses",
                    f.value * 1e6,
                    se(&f, 1e6, "us")
                ),
                None => "  fault: 0us  # measured: the probe's loss is explained by the handshake term alone".into(),
            }),
            "guest_resume" => guest.map(|_| {
                "  guest_resume: 0ms  # measured: included in handshake below (only their net is identifiable from a probe)".into()
            }),
            "handshake" => guest.map(|g| match g.handshake_s {
                Some(h) => format!(
                    "  handshake: {:.3}ms  # measured: signed guest running time per checkpoint beyond the interval{} (+ it runs while the suspend request waits for it; - it loses time at the resume)",
                    h.value * 1e3,
                    se(&h, 1e3, "ms")
                ),
                None => "  handshake: 0ms  # measured: the probe's loss is explained by the fault cost alone".into(),
            }),
            "pml" => guest.map(|_| {
                "  pml: false  # measured: the fitted fault cost is per page already (PML amortisation, if any, included)".into()
            }),
            _ => None,
        };
        out.push_str(&replaced.unwrap_or_else(|| line.to_string()));
        out.push('\n');
    }
    if let Some(v) = facts.validation {
        out.push_str("validation:\n");
        out.push_str(&format!("  method: {}\n", v.method));
        out.push_str(&format!("  intervals: {}\n", v.intervals));
        for (key, value) in [
            ("worst_slowdown_error", pct(v.worst_slowdown_error)),
            ("worst_pages_error", pct(v.worst_pages_error)),
            ("worst_period_error", pct(v.worst_period_error)),
        ] {
            if let Some(value) = value {
                out.push_str(&format!("  {key}: {value}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fit::{Estimate, GuestFit, GuestForm, PeriodFit};

    fn fit() -> HostFit {
        let e = |value, se| Estimate {
            value,
            std_error: Some(se),
        };
        HostFit {
            period: PeriodFit {
                suspend_s: e(0.0021, 0.0001),
                per_page_s: Some(e(4.2e-6, 0.1e-6)),
                points: 40,
                refused: vec![],
            },
            guest: Ok(GuestFit {
                form: GuestForm::FaultAndHandshake,
                fault_s: Some(e(80e-6, 5e-6)),
                handshake_s: Some(e(-0.004, 0.001)),
                steps: 3,
                note: "both".into(),
            }),
            suspend_pages: Some(e(240.0, 12.0)),
        }
    }

    #[test]
    fn the_profile_carries_the_fit_and_its_validation_and_loads_back() {
        let fit = fit();
        let validation = HostValidation {
            method: "leave-one-out".into(),
            intervals: "50ms,100ms,200ms".into(),
            worst_slowdown_error: Some(0.123),
            worst_pages_error: Some(0.08),
            worst_period_error: Some(0.031),
        };
        let text = render_host_profile(&HostProfileFacts {
            domain: "Meine-VM",
            date: "2026-11-26",
            fit: &fit,
            step_lines: vec!["-i 100 ms: 40 checkpoints".into()],
            validation: Some(&validation),
            validation_lines: vec![],
        });
        assert!(text.contains("suspend: 2.100ms"), "{text}");
        assert!(text.contains("page_copy: 4.200us"), "{text}");
        assert!(text.contains("fault: 80.000us"), "{text}");
        assert!(text.contains("handshake: -4.000ms"), "{text}");
        assert!(text.contains("suspend_pages: 240"), "{text}");
        assert!(text.contains("held-out intervals"), "{text}");
        for key in crate::profile::COST_KEYS {
            let n = text
                .lines()
                .filter(|l| l.trim_start().starts_with(&format!("{key}:")))
                .count();
            assert_eq!(n, 1, "{key} in {text}");
        }
        // It loads as a host cost set, with its validation.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.yaml");
        std::fs::write(&path, &text).unwrap();
        let profile = crate::profile::load(&crate::profile::ProfileRequest {
            host: Some(path.display().to_string()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(profile.costs.handshake_s, -0.004);
        assert_eq!(profile.costs.guest_resume_s, 0.0);
        assert!(!profile.costs.pml);
        let read = profile.validation.unwrap();
        assert_eq!(read.method, validation.method);
        assert_eq!(read.intervals, validation.intervals);
        assert!((read.worst_slowdown_error.unwrap() - 0.123).abs() < 1e-12);
    }
}
