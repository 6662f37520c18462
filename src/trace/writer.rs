//! Appends a trace to its file as the run goes, so an interrupted run leaves a valid file.
//!
//! A trace is always finishable. When the disk fills (or the device fails, or a file size
//! limit is hit) the writer stops writing epochs, cuts the file back to its last whole epoch
//! and counts what it could not write; measuring goes on, the summary covers every epoch, and
//! `measure` exits 74 with the count. The file then reads with `--partial`.
//!
//! A path ending in `.zst` is written zstd-compressed: the same text, flushed to the file at
//! least every `FLUSH_EVERY_S` of trace time, so a writer killed outright (SIGKILL, power
//! loss) leaves a stream that decodes up to its last flush. Flushing every epoch would cost
//! ~16 bytes of block overhead per epoch (a day at 25 ms: 126 MB instead of ~75 MB).

use super::codec::Encoder;
use super::{End, Epoch, TraceHeader};
use anyhow::{Context, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Longest stretch of trace time a compressed writer holds before flushing to the file.
pub const FLUSH_EVERY_S: f64 = 0.5;
/// zstd's default level: ~300 MB/s on one core, far above what any epoch rate writes.
const ZSTD_LEVEL: i32 = 3;
/// zstd's window, as a power of two: 128 KiB. Level 3 would take 2 MiB, and the encoder
/// touches its window as the text passes through it: at a few KB of epochs a second that
/// made `measure`'s memory climb for ten minutes. Epoch lines repeat within a few lines, so
/// the smaller window costs almost nothing in size, and readers need only 128 KiB for it.
const ZSTD_WINDOW_LOG: u32 = 17;

enum Sink {
    Plain(File),
    Zstd(zstd::stream::write::Encoder<'static, File>),
}

impl Sink {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Plain(file) => file.write_all(bytes),
            Sink::Zstd(encoder) => encoder.write_all(bytes),
        }
    }

    fn file(&self) -> &File {
        match self {
            Sink::Plain(file) => file,
            Sink::Zstd(encoder) => encoder.get_ref(),
        }
    }
}

/// Epochs the writer could not write, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteFailure {
    /// The I/O error, as the system said it.
    pub error: String,
    /// The first epoch not in the file.
    pub first_lost: u64,
    /// Epochs measured but not written (the `end` record is never written after a failure).
    pub lost: u64,
}

/// What `append` did with an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    Written,
    /// Not written; `first` on the epoch the failure happened.
    Lost {
        first: bool,
    },
}

/// How the file was left.
#[derive(Debug)]
pub struct Finished {
    pub path: PathBuf,
    /// `None` when every epoch and the `end` record are in the file.
    pub failure: Option<WriteFailure>,
}

/// Writes the header at creation, one line per epoch, and the `end` record at `finish`.
pub struct TraceWriter {
    sink: Sink,
    path: PathBuf,
    encoder: Encoder,
    failure: Option<WriteFailure>,
    /// File length after the last whole epoch known to be in the file.
    good_len: u64,
    pending_since_s: Option<f64>,
}

impl TraceWriter {
    /// Creates the trace file; refuses to replace an existing file unless `overwrite`.
    pub fn create(path: &Path, header: &TraceHeader, overwrite: bool) -> Result<Self> {
        let mut options = OpenOptions::new();
        options.write(true);
        if overwrite {
            options.create(true).truncate(true);
        } else {
            options.create_new(true);
        }
        let file = options.open(path).map_err(|err| {
            if err.kind() == std::io::ErrorKind::AlreadyExists {
                anyhow::anyhow!(
                    "{} already exists: choose another -o/--output, or pass --force to replace it",
                    path.display()
                )
            } else {
                anyhow::Error::new(err)
                    .context(format!("cannot create the trace file {}", path.display()))
            }
        })?;
        let compressed = path.extension().is_some_and(|ext| ext == "zst");
        let mut sink = if compressed {
            let mut encoder = zstd::stream::write::Encoder::new(file, ZSTD_LEVEL)
                .context("cannot start zstd compression")?;
            encoder
                .window_log(ZSTD_WINDOW_LOG)
                .context("cannot set the zstd window")?;
            Sink::Zstd(encoder)
        } else {
            Sink::Plain(file)
        };
        let mut text = yaml_serde::to_string(header).context("cannot encode the trace header")?;
        text.push_str("epochs:\n");
        sink.write_all(text.as_bytes())
            .and_then(|()| match &mut sink {
                Sink::Zstd(encoder) => encoder.flush(),
                Sink::Plain(_) => Ok(()),
            })
            .with_context(|| format!("cannot write the trace file {}", path.display()))?;
        let good_len = sink.file().metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Self {
            sink,
            path: path.to_path_buf(),
            encoder: Encoder::new(header),
            failure: None,
            good_len,
            pending_since_s: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Epochs lost so far, if writing failed.
    pub fn failure(&self) -> Option<&WriteFailure> {
        self.failure.as_ref()
    }

    /// Appends one epoch as a single line (a JSON object is a valid YAML flow mapping), in
    /// one write so a reader never sees half a line from a run that is still going. An I/O
    /// error is not returned: it ends writing (see the module doc), and `Lost` says so. An
    /// epoch the reader would refuse (windows that do not close here) is an error.
    pub fn append(&mut self, epoch: &Epoch) -> Result<Appended> {
        let line = self
            .encoder
            .encode(epoch)
            .map_err(|why| anyhow::anyhow!("cannot encode a trace epoch: {why}"))?;
        if let Some(failure) = &mut self.failure {
            failure.lost += 1;
            return Ok(Appended::Lost { first: false });
        }
        let result = self.sink.write_all(line.as_bytes()).and_then(|()| {
            match &mut self.sink {
                Sink::Plain(_) => {
                    self.good_len += line.len() as u64;
                }
                Sink::Zstd(encoder) => {
                    let since = *self.pending_since_s.get_or_insert(epoch.start_s);
                    if epoch.end_s - since >= FLUSH_EVERY_S {
                        encoder.flush()?;
                        self.pending_since_s = None;
                        self.good_len = encoder.get_ref().metadata()?.len();
                    }
                }
            }
            Ok(())
        });
        match result {
            Ok(()) => Ok(Appended::Written),
            Err(err) => {
                self.fail(err, epoch.n);
                Ok(Appended::Lost { first: true })
            }
        }
    }

    fn fail(&mut self, err: std::io::Error, first_lost: u64) {
        // The file may end mid-line (or mid-block): cut it back to the last whole epoch, so
        // `--partial` reads everything written. Best effort: the disk is already failing.
        let _ = self.sink.file().set_len(self.good_len);
        self.failure = Some(WriteFailure {
            error: err.to_string(),
            first_lost,
            lost: 1,
        });
    }

    /// Writes the `end` record and syncs the file; an error if any epoch or the record could
    /// not be written (for writers that have no use for a partial file).
    pub fn finish(self, end: &End) -> Result<PathBuf> {
        let finished = self.close(end)?;
        match finished.failure {
            None => Ok(finished.path),
            Some(failure) => anyhow::bail!(
                "cannot write the trace file {}: {} ({} epoch(s) lost from epoch {})",
                finished.path.display(),
                failure.error,
                failure.lost,
                failure.first_lost
            ),
        }
    }

    /// Writes the `end` record and syncs the file to disk; after a write failure, leaves the
    /// file at its last whole epoch and says what was lost.
    pub fn close(self, end: &End) -> Result<Finished> {
        let TraceWriter {
            mut sink,
            path,
            mut failure,
            good_len,
            ..
        } = self;
        if failure.is_some() {
            let _ = sink.file().sync_all();
            return Ok(Finished { path, failure });
        }
        let body = yaml_serde::to_string(end).context("cannot encode the end record")?;
        let mut text = String::from("end:\n");
        for line in body.lines() {
            text.push_str("  ");
            text.push_str(line);
            text.push('\n');
        }
        let written = sink.write_all(text.as_bytes());
        let file = match sink {
            Sink::Plain(file) => written.map(|()| file),
            Sink::Zstd(encoder) => written.and_then(|()| encoder.finish()),
        };
        if let Err(err) = file.and_then(|file| file.sync_all()) {
            // Cut back to the last whole epoch; the file reads with --partial.
            let _ = OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_len(good_len));
            failure = Some(WriteFailure {
                error: format!("{err} (writing the end record)"),
                first_lost: end.epochs,
                lost: 0,
            });
        }
        Ok(Finished { path, failure })
    }
}
