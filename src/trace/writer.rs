//! Appends a trace to its file as the run goes, so an interrupted run leaves a valid file.

use super::{End, Epoch, TraceHeader};
use anyhow::{Context, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes the header at creation, one line per epoch, and the `end` record at `finish`.
pub struct TraceWriter {
    file: File,
    path: PathBuf,
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
        let mut file = options.open(path).map_err(|err| {
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
        let mut text = yaml_serde::to_string(header).context("cannot encode the trace header")?;
        text.push_str("epochs:\n");
        file.write_all(text.as_bytes())
            .with_context(|| format!("cannot write the trace file {}", path.display()))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one epoch as a single line (a JSON object is a valid YAML flow mapping), in
    /// one write so a reader never sees half a line from a run that is still going.
    pub fn append(&mut self, epoch: &Epoch) -> Result<()> {
        let mut line = String::from("- ");
        line.push_str(&serde_json::to_string(epoch)?);
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .with_context(|| format!("cannot append to the trace file {}", self.path.display()))
    }

    /// Writes the `end` record and syncs the file to disk.
    pub fn finish(mut self, end: &End) -> Result<PathBuf> {
        let body = yaml_serde::to_string(end).context("cannot encode the end record")?;
        let mut text = String::from("end:\n");
        for line in body.lines() {
            text.push_str("  ");
            text.push_str(line);
            text.push('\n');
        }
        self.file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.sync_all())
            .with_context(|| format!("cannot finish the trace file {}", self.path.display()))?;
        Ok(self.path)
    }
}
