//! Reads a trace back, with errors that name the problem and where it is.

use super::{End, Epoch, Trace, TraceHeader, SCHEMA, SCHEMA_VERSION};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Why a trace could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    // Not a `source`: the message already carries it, and anyhow's `{:#}` would print it twice.
    #[error("cannot read {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} is not a valid trace: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("{path} is not a remus-tune trace (its `schema` is {found:?}, expected {SCHEMA:?})")]
    NotATrace { path: PathBuf, found: String },
    #[error(
        "{path} uses trace schema version {found}, newer than this remus-tune reads ({SCHEMA_VERSION}): \
         upgrade remus-tune to read it"
    )]
    FutureVersion { path: PathBuf, found: u64 },
    #[error(
        "{path} is truncated: it ends after {epochs} epoch(s) (line {line}) without its `end` record; \
         the run that wrote it was killed or is still going"
    )]
    Truncated {
        path: PathBuf,
        epochs: usize,
        line: usize,
    },
}

/// The document as written, before checks: `epochs` is null when no epoch completed.
#[derive(Deserialize)]
struct RawTrace {
    #[serde(flatten)]
    header: TraceHeader,
    epochs: Option<Vec<Epoch>>,
    end: Option<End>,
}

/// Reads and checks a trace file.
pub fn read_trace(path: &Path) -> Result<Trace, TraceError> {
    let text = std::fs::read_to_string(path).map_err(|error| TraceError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    parse_trace(&text, path)
}

/// Parses trace text; `path` only names the file in errors.
pub fn parse_trace(text: &str, path: &Path) -> Result<Trace, TraceError> {
    let corrupt = |detail: String| TraceError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    // Check identity and version first, so a future trace gets "upgrade", not a field error.
    let value: yaml_serde::Value =
        yaml_serde::from_str(text).map_err(|err| corrupt(describe_yaml_error(&err, text)))?;
    let mapping = value
        .as_mapping()
        .ok_or_else(|| corrupt("the document is not a mapping of keys".into()))?;
    match mapping.get("schema").and_then(|v| v.as_str()) {
        Some(SCHEMA) => {}
        other => {
            return Err(TraceError::NotATrace {
                path: path.to_path_buf(),
                found: other.unwrap_or("missing").to_string(),
            })
        }
    }
    match mapping.get("schema_version").and_then(|v| v.as_u64()) {
        Some(version) if version > u64::from(SCHEMA_VERSION) => {
            return Err(TraceError::FutureVersion {
                path: path.to_path_buf(),
                found: version,
            })
        }
        Some(_) => {}
        None => {
            return Err(corrupt(
                "`schema_version` is missing or not a number".into(),
            ))
        }
    }
    let raw: RawTrace =
        yaml_serde::from_str(text).map_err(|err| corrupt(describe_yaml_error(&err, text)))?;
    let epochs = raw.epochs.unwrap_or_default();
    let end = raw.end.ok_or_else(|| TraceError::Truncated {
        path: path.to_path_buf(),
        epochs: epochs.len(),
        line: text.lines().count(),
    })?;
    check_consistency(&raw.header, &epochs).map_err(corrupt)?;
    Ok(Trace {
        header: raw.header,
        epochs,
        end,
    })
}

/// Catches values that parse but cannot be right, so the model never divides by them.
fn check_consistency(header: &TraceHeader, epochs: &[Epoch]) -> Result<(), String> {
    if header.base_epoch_ms.is_nan() || header.base_epoch_ms <= 0.0 {
        return Err(format!(
            "`base_epoch_ms` must be positive, found {}",
            header.base_epoch_ms
        ));
    }
    if header.page_size == 0 {
        return Err("`page_size` is 0".into());
    }
    for (index, epoch) in epochs.iter().enumerate() {
        if epoch.end_s < epoch.start_s {
            return Err(format!(
                "epoch {} (entry {} of `epochs`) ends before it starts",
                epoch.n,
                index + 1
            ));
        }
    }
    Ok(())
}

fn describe_yaml_error(err: &yaml_serde::Error, text: &str) -> String {
    match err.location() {
        Some(location) => {
            let line = text
                .lines()
                .nth(location.line().saturating_sub(1))
                .unwrap_or("");
            let shown: String = line.chars().take(80).collect();
            format!("{err}; the line reads: {shown}")
        }
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::parse_trace;
    use std::path::Path;

    pub(crate) fn sample_header() -> TraceHeader {
        let mut header = TraceHeader::synthetic("demo", 25, &[25, 50], 1 << 20);
        // Every optional field set, so the round trip covers them.
        header.target.pid = Some(42);
        header.target.command = vec!["demo".into(), "--fast".into()];
        header.host.dom0_vcpus = Some(2);
        header
    }

    fn epoch(n: u64) -> Epoch {
        Epoch {
            n,
            start_s: round_us(n as f64 * 0.025),
            end_s: round_us((n + 1) as f64 * 0.025),
            dirty_pages: 10 + n,
            write_bytes: 4096,
            syscw: 1,
            cpu_s: 0.001,
            scan_ms: 0.5,
            windows: if n % 2 == 1 {
                vec![WindowCount {
                    interval_ms: 50,
                    dirty_pages: 20,
                }]
            } else {
                vec![]
            },
            flushes: None,
            cpu_classes: None,
            dom0: None,
        }
    }

    fn end(epochs: u64) -> End {
        End {
            reason: EndReason::Interrupted,
            message: "Ctrl-C".into(),
            epochs,
            duration_s: 0.1,
            late_epochs: 0,
            cross_check: None,
            observer_effect: None,
        }
    }

    fn write(epochs: u64, finish: bool) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.trace.yaml");
        let mut writer = TraceWriter::create(&path, &sample_header(), false).unwrap();
        for n in 0..epochs {
            writer.append(&epoch(n)).unwrap();
        }
        if finish {
            writer.finish(&end(epochs)).unwrap();
        }
        (dir, path)
    }

    #[test]
    fn round_trip() {
        let (_dir, path) = write(4, true);
        let trace = read_trace(&path).unwrap();
        assert_eq!(trace.header, sample_header());
        assert_eq!(trace.epochs, (0..4).map(epoch).collect::<Vec<_>>());
        assert_eq!(trace.end, end(4));
    }

    #[test]
    fn dom0_figures_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.trace.yaml");
        let mut writer = TraceWriter::create(&path, &sample_header(), false).unwrap();
        let epochs: Vec<Epoch> = (0..3)
            .map(|n| Epoch {
                dom0: Some(Dom0Cpu {
                    cpu_s: round_us(0.0125 + n as f64 * 1e-3),
                    // The helper appears in the second epoch.
                    save_helper_s: (n > 0).then_some(0.004),
                }),
                ..epoch(n)
            })
            .collect();
        for e in &epochs {
            writer.append(e).unwrap();
        }
        writer.finish(&end(3)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(r#""dom0":{"cpu_s":0.0125}"#)
                && text.contains(r#""dom0":{"cpu_s":0.0135,"save_helper_s":0.004}"#),
            "{text}"
        );
        assert_eq!(read_trace(&path).unwrap().epochs, epochs);
    }

    /// A Xen trace as written before epochs had `dom0` (the figures went to a companion
    /// file then): it reads, with no Dom-0 figures, and the summary says nothing of Dom-0.
    #[test]
    fn a_trace_from_before_dom0_still_reads() {
        let old = r#"schema: remus-tune-trace
schema_version: 1
tool_version: 0.1.0
target:
  kind: xen-domain
  name: Meine-VM
  command:
  - domid 1
backend: xen
method:
  name: xen-logdirty
  reason: exclusive
  exact: true
host:
  hostname: dom0
  kernel: 6.1.0-26-amd64
  cpus: 2
page_size: 4096
base_epoch_ms: 25.0
intervals_ms:
- 25
memory_bytes: 134217728
start_time: 2026-11-26T12:00:00Z
epochs:
- {"n":0,"start_s":0.0,"end_s":0.025,"dirty_pages":100,"write_bytes":0,"syscw":0,"cpu_s":0.025,"scan_ms":0.3,"windows":[{"interval_ms":25,"dirty_pages":100}]}
- {"n":1,"start_s":0.025,"end_s":0.05,"dirty_pages":100,"write_bytes":0,"syscw":0,"cpu_s":0.025,"scan_ms":0.3,"windows":[{"interval_ms":25,"dirty_pages":100}]}
end:
  reason: completed
  message: measured the whole duration
  epochs: 2
  duration_s: 0.05
  late_epochs: 0
"#;
        let trace = parse_trace(old, Path::new("old.trace.yaml")).unwrap();
        assert_eq!(trace.epochs.len(), 2);
        assert!(trace.epochs.iter().all(|e| e.dom0.is_none()));
        assert_eq!(crate::summary::summarize(&trace, "old").dom0, None);
    }

    #[test]
    fn zero_epochs_is_still_a_trace() {
        let (_dir, path) = write(0, true);
        assert!(read_trace(&path).unwrap().epochs.is_empty());
    }

    #[test]
    fn refuses_to_overwrite() {
        let (_dir, path) = write(1, true);
        let err = TraceWriter::create(&path, &sample_header(), false)
            .err()
            .unwrap();
        assert!(err.to_string().contains("--force"), "{err}");
    }

    #[test]
    fn missing_end_is_truncated() {
        let (_dir, path) = write(3, false);
        let err = read_trace(&path).unwrap_err().to_string();
        assert!(
            err.contains("truncated") && err.contains("3 epoch"),
            "{err}"
        );
    }

    #[test]
    fn cut_mid_line_names_the_position() {
        let (_dir, path) = write(3, true);
        let text = std::fs::read_to_string(&path).unwrap();
        let cut = &text[..text.find("\"dirty_pages\":12").unwrap() + 5];
        let err = parse_trace(cut, Path::new("x.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line"), "{err}");
    }

    #[test]
    fn future_version_says_upgrade() {
        let (_dir, path) = write(1, true);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("schema_version: 1", "schema_version: 7");
        let err = parse_trace(&text, Path::new("x.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("version 7") && err.contains("upgrade"),
            "{err}"
        );
    }

    #[test]
    fn other_yaml_is_not_a_trace() {
        let err = parse_trace("a: 1\n", Path::new("x.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a remus-tune trace"), "{err}");
        let err = parse_trace("[1, 2", Path::new("x.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a valid trace"), "{err}");
    }
}
