//! Reads a trace back in one pass, an epoch at a time, with errors that name the problem and
//! where it is: memory holds the header, one line and the validator's open windows, whatever
//! the length of the run. `read_trace` collects the epochs for callers that want them all.

use super::header::{describe_yaml_error, find_anchor_or_alias, MAX_END_BYTES, MAX_HEADER_BYTES};
use super::source::{Line, OpenError, Source, MAX_LINE_BYTES, MAX_TRACE_BYTES};
use super::validate::Validator;
use super::{codec::Decoder, End, EndReason, Epoch, Trace, TraceHeader, SCHEMA, SCHEMA_VERSION};
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
    #[error("{path} is {what}, not a trace file: give the path of a trace written by `remus-tune measure`")]
    NotAFile { path: PathBuf, what: &'static str },
    #[error(
        "{path} is {size} bytes, more than any trace (limit {MAX_TRACE_BYTES} bytes, a week of \
         1 ms epochs): it is not a trace this tool wrote"
    )]
    TooLarge { path: PathBuf, size: u64 },
    #[error(
        "{path} uses trace schema version {found}, newer than this remus-tune reads ({SCHEMA_VERSION}): \
         upgrade remus-tune to read it"
    )]
    FutureVersion { path: PathBuf, found: u64 },
    #[error(
        "{path} is truncated: it ends after {epochs} epoch(s) (line {line}) without its `end` record{cut}; \
         the run that wrote it was killed, its disk filled, or it is still going. \
         Pass --partial to read the {epochs} whole epoch(s) it holds"
    )]
    Truncated {
        path: PathBuf,
        epochs: u64,
        line: usize,
        cut: String,
    },
}

/// How to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Read a trace without its `end` record (or cut mid-line) up to its last whole epoch,
    /// and mark it `truncated`, instead of refusing it.
    pub partial: bool,
}

/// A trace being read: the header at once, then `next_epoch` until `None`, then `end`.
pub struct TraceReader {
    path: PathBuf,
    source: Source,
    header: TraceHeader,
    decoder: Decoder,
    validator: Validator,
    options: ReadOptions,
    /// 1-based number of the last line read.
    line: usize,
    end: Option<End>,
    last_end_s: f64,
    late: u64,
}

/// Epochs this much over the base epoch count as late when a truncated trace's end record is
/// reconstructed (the writer's own threshold).
const LATE_FACTOR: f64 = 1.2;

impl TraceReader {
    /// Opens `path`, reads and checks its header.
    pub fn open(path: &Path, options: ReadOptions) -> Result<Self, TraceError> {
        let path_buf = path.to_path_buf();
        let mut source = Source::open(path).map_err(|err| match err {
            OpenError::Io(error) => TraceError::Io {
                path: path_buf.clone(),
                error,
            },
            OpenError::NotAFile(what) => TraceError::NotAFile {
                path: path_buf.clone(),
                what,
            },
            OpenError::TooLarge(size) => TraceError::TooLarge {
                path: path_buf.clone(),
                size,
            },
        })?;
        let corrupt = |detail: String| TraceError::Corrupt {
            path: path_buf.clone(),
            detail,
        };
        let mut text = String::new();
        let mut line = 0usize;
        let mut found_epochs = false;
        loop {
            let bytes = match source.next_line() {
                Line::Whole(range) => source.bytes(range),
                Line::End | Line::Cut { .. } => break,
                Line::TooLong => {
                    return Err(corrupt(format!(
                        "line {} is longer than {MAX_LINE_BYTES} bytes: not a trace header",
                        line + 1
                    )))
                }
            };
            line += 1;
            let content = std::str::from_utf8(bytes)
                .map_err(|_| corrupt(format!("line {line} is not UTF-8 text")))?;
            if content == "epochs:" {
                found_epochs = true;
                break;
            }
            text.push_str(content);
            text.push('\n');
            if text.len() > MAX_HEADER_BYTES {
                return Err(corrupt(format!(
                    "no `epochs:` line in its first {MAX_HEADER_BYTES} bytes: not a trace header"
                )));
            }
        }
        let header = parse_header(&text, path)?;
        if !found_epochs {
            return Err(TraceError::Truncated {
                path: path_buf,
                epochs: 0,
                line,
                cut: " (not even its `epochs:` line)".into(),
            });
        }
        let validator = Validator::new(&header).map_err(corrupt)?;
        Ok(Self {
            decoder: Decoder::new(&header),
            path: path_buf,
            source,
            header,
            validator,
            options,
            line,
            end: None,
            last_end_s: 0.0,
            late: 0,
        })
    }

    pub fn header(&self) -> &TraceHeader {
        &self.header
    }

    /// True when the file is zstd-compressed.
    pub fn compressed(&self) -> bool {
        self.source.compressed
    }

    /// The `end` record, once `next_epoch` has returned `None`; reconstructed and marked
    /// `truncated` for a partial read.
    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    fn corrupt(&self, detail: String) -> TraceError {
        TraceError::Corrupt {
            path: self.path.clone(),
            detail,
        }
    }

    /// The next epoch, checked; `None` after the last one.
    pub fn next_epoch(&mut self) -> Result<Option<Epoch>, TraceError> {
        if self.end.is_some() {
            return Ok(None);
        }
        let range = match self.source.next_line() {
            Line::Whole(range) => range,
            Line::End => return self.cut_off(String::new()).map(|()| None),
            Line::Cut { why } => {
                return self
                    .cut_off(format!(" (cut mid-line: {why})"))
                    .map(|()| None)
            }
            Line::TooLong => {
                return Err(self.corrupt(format!(
                    "line {} is longer than {MAX_LINE_BYTES} bytes: not an epoch",
                    self.line + 1
                )))
            }
        };
        self.line += 1;
        let line = self.line;
        let bytes = self.source.bytes(range);
        if bytes == b"end:" {
            self.read_end()?;
            return Ok(None);
        }
        let epoch = match self.decoder.decode(bytes) {
            Ok(epoch) => epoch,
            Err(detail) => {
                let shown: String = String::from_utf8_lossy(bytes).chars().take(80).collect();
                return Err(self.corrupt(format!(
                    "line {line}, after epoch {}: {detail}; the line reads: {shown}",
                    self.validator.epochs_seen() as i64 - 1
                )));
            }
        };
        if let Err(detail) = self.validator.epoch(&epoch) {
            return Err(self.corrupt(format!("epoch {} at line {line}: {detail}", epoch.n)));
        }
        if (epoch.end_s - epoch.start_s) * 1e3 > self.header.base_epoch_ms * LATE_FACTOR {
            self.late += 1;
        }
        self.last_end_s = epoch.end_s;
        Ok(Some(epoch))
    }

    /// The file ended without an `end` record: an error, or with --partial the end of a
    /// truncated trace.
    fn cut_off(&mut self, cut: String) -> Result<(), TraceError> {
        let epochs = self.validator.epochs_seen();
        if !self.options.partial {
            return Err(TraceError::Truncated {
                path: self.path.clone(),
                epochs,
                line: self.line,
                cut,
            });
        }
        self.end = Some(End {
            reason: EndReason::Truncated,
            message: format!(
                "read with --partial: the file ends after {epochs} whole epoch(s) (line {}) \
                 without its `end` record{cut}; the run was killed or its disk filled, and \
                 what came after is not in the file",
                self.line
            ),
            epochs,
            duration_s: self.last_end_s,
            late_epochs: self.late,
            cross_check: None,
            observer_effect: None,
            working_set_pages: None,
        });
        Ok(())
    }

    /// Reads the indented `end` record after its `end:` line, to the end of the file.
    fn read_end(&mut self) -> Result<(), TraceError> {
        let first_line = self.line + 1;
        let mut text = String::new();
        loop {
            let range = match self.source.next_line() {
                Line::Whole(range) => range,
                Line::End => break,
                Line::Cut { why } => {
                    // A cut end record: the epochs are whole, the end is not.
                    return self.cut_off(format!(" (its end record is cut: {why})"));
                }
                Line::TooLong => {
                    return Err(self.corrupt(format!(
                        "line {} of the end record is longer than {MAX_LINE_BYTES} bytes",
                        self.line + 1
                    )))
                }
            };
            self.line += 1;
            let line = self.line;
            let Ok(content) = std::str::from_utf8(self.source.bytes(range)) else {
                return Err(self.corrupt(format!("line {line} is not UTF-8 text")));
            };
            if !content.starts_with("  ") {
                return Err(self.corrupt(format!(
                    "line {line} follows the end record but is not part of it: {}",
                    content.chars().take(80).collect::<String>()
                )));
            }
            text.push_str(&content[2..]);
            text.push('\n');
            if text.len() > MAX_END_BYTES {
                return Err(self.corrupt(format!(
                    "the end record is longer than {MAX_END_BYTES} bytes (line {line})"
                )));
            }
        }
        if let Some(line) = find_anchor_or_alias(&text, first_line) {
            return Err(self.corrupt(format!(
                "line {line} of the end record holds a YAML anchor or alias, which remus-tune \
                 never writes"
            )));
        }
        let end: End = yaml_serde::from_str(&text).map_err(|err| {
            self.corrupt(format!(
                "end record: {}",
                describe_yaml_error(&err, &text, first_line)
            ))
        })?;
        self.validator.end(&end).map_err(|detail| {
            self.corrupt(format!("end record at line {}: {detail}", first_line - 1))
        })?;
        self.end = Some(end);
        Ok(())
    }
}

/// Parses and checks the header text (everything before `epochs:`).
fn parse_header(text: &str, path: &Path) -> Result<TraceHeader, TraceError> {
    let corrupt = |detail: String| TraceError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    if let Some(line) = find_anchor_or_alias(text, 1) {
        return Err(corrupt(format!(
            "line {line} holds a YAML anchor or alias, which remus-tune never writes (and which \
             could make a small file expand without bound)"
        )));
    }
    // Check identity and version first, so a future trace gets "upgrade", not a field error.
    let value: yaml_serde::Value =
        yaml_serde::from_str(text).map_err(|err| corrupt(describe_yaml_error(&err, text, 1)))?;
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
    if mapping.contains_key("epochs") {
        return Err(corrupt(
            "its `epochs` are not one line each after an `epochs:` line, as remus-tune writes them"
                .into(),
        ));
    }
    yaml_serde::from_value(value).map_err(|err| corrupt(format!("header: {err}")))
}

/// Reads and checks a whole trace file into memory.
pub fn read_trace(path: &Path) -> Result<Trace, TraceError> {
    read_trace_with(path, ReadOptions::default())
}

/// `read_trace` with options (`--partial`).
pub fn read_trace_with(path: &Path, options: ReadOptions) -> Result<Trace, TraceError> {
    let mut reader = TraceReader::open(path, options)?;
    let mut epochs = Vec::new();
    while let Some(epoch) = reader.next_epoch()? {
        epochs.push(epoch);
    }
    let end = reader.end.take().ok_or_else(|| TraceError::Corrupt {
        path: path.to_path_buf(),
        detail: "the epochs ended without an end record".into(),
    })?;
    Ok(Trace {
        header: reader.header,
        epochs,
        end,
    })
}

/// Parses trace text; `path` only names the file in errors.
#[cfg(test)]
pub fn parse_trace(text: &str, path: &Path) -> Result<Trace, TraceError> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join(path.file_name().unwrap_or("t".as_ref()));
    std::fs::write(&file, text).expect("a temporary file");
    read_trace(&file).map_err(|err| {
        // Name the caller's path, not the temporary one.
        let message = err
            .to_string()
            .replace(&file.display().to_string(), &path.display().to_string());
        TraceError::Corrupt {
            path: path.to_path_buf(),
            detail: message,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::{parse_trace, read_trace_with, ReadOptions};
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
            // As `measure` writes them: the base epoch's window every epoch, 50 ms every other.
            windows: std::iter::once(WindowCount {
                interval_ms: 25,
                dirty_pages: 10 + n,
            })
            .chain((n % 2 == 1).then_some(WindowCount {
                interval_ms: 50,
                dirty_pages: 20 + n,
            }))
            .collect(),
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
            working_set_pages: None,
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
            text.contains(r#""z":[0.0125]"#) && text.contains(r#""z":[0.0135,0.004]"#),
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
        let cut = &text[..text.find("\"d\":12").unwrap() + 5];
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
            .replace("schema_version: 2", "schema_version: 7");
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

    fn write_to(path: &std::path::Path, epochs: u64, finish: bool) {
        let mut writer = TraceWriter::create(path, &sample_header(), true).unwrap();
        for n in 0..epochs {
            writer.append(&epoch(n)).unwrap();
        }
        if finish {
            writer.finish(&end(epochs)).unwrap();
        }
    }

    #[test]
    fn compressed_round_trip_is_the_same_text() {
        let dir = tempfile::tempdir().unwrap();
        let (plain, packed) = (
            dir.path().join("t.trace.yaml"),
            dir.path().join("t.trace.zst"),
        );
        write_to(&plain, 40, true);
        write_to(&packed, 40, true);
        assert_eq!(
            super::super::source::decompress_all(&packed),
            std::fs::read_to_string(&plain).unwrap()
        );
        let trace = read_trace(&packed).unwrap();
        assert_eq!(trace, read_trace(&plain).unwrap());
        assert_eq!(trace.epochs, (0..40).map(epoch).collect::<Vec<_>>());
    }

    #[test]
    fn schema_2_lines_are_short_and_omit_the_base_window() {
        let (_dir, path) = write(2, true);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("schema_version: 2"), "{text}");
        assert!(
            text.contains(r#"- {"n":0,"e":0.025,"d":10,"w":4096,"c":1,"u":0.001,"s":0.5}"#),
            "{text}"
        );
        assert!(text.contains(r#""W":[21]}"#), "{text}");
    }

    #[test]
    fn partial_reads_up_to_the_last_whole_epoch() {
        for name in ["t.trace.yaml", "t.trace.zst"] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(name);
            // An unfinished compressed writer has flushed every FLUSH_EVERY_S of trace time:
            // 0.5 s is 20 epochs of 25 ms, so 50 epochs leave 40 in the file.
            write_to(&path, 50, false);
            let bytes = std::fs::read(&path).unwrap();
            // Cut the last few bytes: mid-line (plain) or mid-block (compressed).
            std::fs::write(&path, &bytes[..bytes.len() - 7]).unwrap();
            let err = read_trace(&path).unwrap_err().to_string();
            assert!(
                err.contains("truncated") && err.contains("--partial"),
                "{err}"
            );
            let trace = read_trace_with(&path, ReadOptions { partial: true }).unwrap();
            let whole = trace.epochs.len() as u64;
            assert!((19..50).contains(&whole), "{name}: {whole}");
            assert_eq!(trace.epochs, (0..whole).map(epoch).collect::<Vec<_>>());
            assert_eq!(trace.end.reason, EndReason::Truncated);
            assert_eq!(trace.end.epochs, whole);
            assert!(
                trace.end.message.contains("--partial"),
                "{}",
                trace.end.message
            );
        }
    }

    #[test]
    fn anchors_and_aliases_are_refused_before_parsing() {
        let (_dir, path) = write(1, true);
        let text = std::fs::read_to_string(&path).unwrap();
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n\
                    c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n";
        let err = parse_trace(
            &text.replacen("page_size", &format!("{bomb}page_size"), 1),
            Path::new("x.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("anchor or alias") && err.contains("line"),
            "{err}"
        );
    }

    /// Each writer invariant broken by hand, and the error naming it with epoch and line.
    #[test]
    fn invariants_are_checked_with_epoch_and_line() {
        let (_dir, path) = write(4, true);
        let text = std::fs::read_to_string(&path).unwrap();
        let cases: Vec<(String, &str)> = vec![
            (
                text.replace(r#""n":2,"#, r#""n":1,"#),
                "epoch 1 is duplicated or out of order: epoch 2 was expected here",
            ),
            (text.replace(r#""n":2,"#, r#""n":3,"#), "out of order"),
            (
                text.replace(r#""e":0.05,"#, r#""e":-0.05,"#),
                "not a finite non-negative",
            ),
            (text.replace(r#""u":0.001"#, r#""u":1e999"#), "line"),
            (
                text.replace(r#""e":0.075,"#, r#""e":0.01,"#),
                "before it starts",
            ),
            (
                text.replace(r#""d":12,"#, r#""d":18446744073709551615,"#),
                "more than a 48-bit address space",
            ),
            (
                text.replace(r#""d":12,"#, r#""d":40,"#),
                "epoch 3 at line 32: its 50 ms window counts 23 pages, but the union",
            ),
            (text.replace(r#""W":[21]"#, r#""W":[21,5]"#), "window count"),
            (text.replace(r#""W":[21]"#, r#""W":[2]"#), "between"),
            (
                text.replace("  epochs: 4", "  epochs: 5"),
                "says 5 epochs, but the file holds 4",
            ),
            (
                text.replace("schema_version: 2", "schema_version: 0"),
                "versions start at 1",
            ),
            (text.replace("- 50\n", "- 0\n"), "interval 0 ms"),
            (
                text.replace("base_epoch_ms: 25.0", "base_epoch_ms: .nan"),
                "base_epoch_ms",
            ),
        ];
        for (broken, needle) in cases {
            assert_ne!(broken, text, "{needle}: the replacement did not apply");
            let err = parse_trace(&broken, Path::new("x.yaml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "expected {needle:?} in: {err}");
        }
    }

    #[test]
    fn a_vm_cannot_dirty_more_than_its_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vm.trace.yaml");
        let mut header = TraceHeader::synthetic("vm", 25, &[25], 64 * 4096);
        header.target.kind = "xen-domain".into();
        let mut writer = TraceWriter::create(&path, &header, true).unwrap();
        writer
            .append(&Epoch {
                dirty_pages: 65,
                windows: vec![],
                ..epoch(0)
            })
            .unwrap();
        writer.finish(&end(1)).unwrap();
        let err = read_trace(&path).unwrap_err().to_string();
        assert!(
            err.contains("more than the guest's memory (64 pages"),
            "{err}"
        );
    }

    #[test]
    fn devices_and_directories_are_refused_at_once() {
        for (path, what) in [("/dev/zero", "a device"), ("/tmp", "a directory")] {
            let err = read_trace(Path::new(path)).unwrap_err().to_string();
            assert!(
                err.contains(what) && err.contains("not a trace file"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_line_without_end_is_refused_without_reading_it_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.trace.yaml");
        std::fs::write(&path, "x".repeat(super::MAX_LINE_BYTES * 4)).unwrap();
        let err = read_trace(&path).unwrap_err().to_string();
        assert!(err.contains("longer than"), "{err}");
    }

    #[test]
    fn a_full_device_fails_the_header_at_create() {
        let err = TraceWriter::create(Path::new("/dev/full"), &sample_header(), true)
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("No space left"), "{err:#}");
    }
}
