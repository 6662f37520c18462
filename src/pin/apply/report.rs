//! The result of `pin --apply`, `--check` or `--revert` as data: the text a person reads and
//! the JSON/YAML a script reads come from the same value (through [`crate::output`]).

use super::Drift;
use crate::output::TextReport;
use crate::pin::journal::JournalBackend;
use serde::Serialize;
use std::path::PathBuf;

/// Which of the three was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Apply,
    Check,
    Revert,
}

/// One apply, check or revert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    pub action: Action,
    pub backend: JournalBackend,
    /// Apply and revert: done and read back. Check: no drift.
    pub ok: bool,
    /// Commands run or threads pinned (apply), entries restored (revert).
    pub changed: usize,
    /// One line per change.
    pub changes: Vec<String>,
    /// Check only: where the live state differs from the plan.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<Drift>,
    /// The journal written (apply) or restored (revert).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal: Option<PathBuf>,
    /// What to do next, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

impl ApplyReport {
    /// An empty report for `action` on `backend`; the caller fills in the rest.
    pub fn new(action: Action, backend: JournalBackend) -> Self {
        Self {
            action,
            backend,
            ok: true,
            changed: 0,
            changes: Vec::new(),
            drift: Vec::new(),
            journal: None,
            advice: None,
        }
    }

    /// A check's report from its drift.
    pub fn checked(backend: JournalBackend, drift: Vec<Drift>) -> Self {
        let mut report = Self::new(Action::Check, backend);
        report.ok = drift.is_empty();
        if !report.ok {
            report.advice = Some("re-apply with `remus-tune pin --apply` (after `--revert` of the old journal) or investigate who changed them".into());
        }
        report.drift = drift;
        report
    }
}

impl TextReport for ApplyReport {
    fn render_text(&self) -> String {
        let mut out = String::new();
        let list = |out: &mut String, lines: &[String]| {
            for l in lines {
                out.push_str(&format!("  {l}\n"));
            }
        };
        match self.action {
            Action::Check if self.ok => out.push_str("ok: the live affinities match the plan\n"),
            Action::Check => out.push_str(&format!(
                "DRIFT: {} vCPU(s)/thread(s) differ from the plan:\n{}",
                self.drift.len(),
                super::describe_drift(&self.drift)
            )),
            Action::Apply => {
                let what = match self.backend {
                    JournalBackend::Xen => format!("Applied {} xl command(s)", self.changed),
                    JournalBackend::Libvirt => {
                        format!("Applied {} virsh command(s)", self.changed)
                    }
                    JournalBackend::Process => format!("Pinned {} thread(s)", self.changed),
                };
                out.push_str(&format!("{what}; read-back matches the plan.\n"));
                list(&mut out, &self.changes);
                if let Some(j) = &self.journal {
                    out.push_str(&format!(
                        "Journal: {} (undo with `remus-tune pin --revert --journal {}`)\n",
                        j.display(),
                        j.display()
                    ));
                }
            }
            Action::Revert => {
                let from = self
                    .journal
                    .as_ref()
                    .map(|j| format!(" from {}", j.display()))
                    .unwrap_or_default();
                out.push_str(&format!("Reverted {} entries{from}:\n", self.changed));
                list(&mut out, &self.changes);
            }
        }
        if let Some(a) = &self.advice {
            out.push_str(a);
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_json_come_from_the_same_value() {
        let mut r = ApplyReport::new(Action::Apply, JournalBackend::Xen);
        r.changed = 1;
        r.changes = vec!["xl vcpu-pin vm1 all 1 1".into()];
        r.journal = Some("/tmp/j.yaml".into());
        let text = r.render_text();
        assert!(text.starts_with("Applied 1 xl command(s); read-back matches the plan.\n  xl vcpu-pin vm1 all 1 1\nJournal: /tmp/j.yaml"), "{text}");
        let json: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(json["action"], "apply");
        assert_eq!(json["backend"], "xen");
        assert_eq!(json["changes"][0], "xl vcpu-pin vm1 all 1 1");
        let drift = ApplyReport::checked(
            JournalBackend::Process,
            vec![Drift {
                what: "pid 1 tid 1 (x)".into(),
                expected: "1".into(),
                actual: "0-1".into(),
            }],
        );
        assert!(!drift.ok);
        assert!(drift
            .render_text()
            .starts_with("DRIFT: 1 vCPU(s)/thread(s) differ"));
    }
}
