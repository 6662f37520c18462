//! The metrics as a node_exporter textfile (`--textfile DIR`), for hosts that already run
//! one. The collector reads every `*.prom` file in its directory at each scrape, so the file
//! is written whole under a name it ignores and renamed over the old one: a scrape sees the
//! previous update or this one, never half of it.

use anyhow::{Context, Result};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The textfile of one watched target inside DIR.
pub struct Textfile {
    path: PathBuf,
}

impl Textfile {
    /// `DIR/remus-tune-<target>.prom`; DIR must exist (it is node_exporter's).
    pub fn new(dir: &Path, target: &str) -> Result<Self> {
        if !dir.is_dir() {
            anyhow::bail!(
                "--textfile {}: not a directory; give node_exporter's \
                 --collector.textfile.directory (Debian: /var/lib/prometheus/node-exporter)",
                dir.display()
            );
        }
        let safe: String = target
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ok(Self {
            path: dir.join(format!("remus-tune-{safe}.prom")),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the file with `text`: temp file in the same directory, fsync, rename.
    pub fn write(&self, text: &str) -> Result<()> {
        let temp = self
            .path
            .with_extension(format!("prom.{}.tmp", std::process::id()));
        let written = File::create(&temp)
            .and_then(|mut file| {
                file.write_all(text.as_bytes())?;
                file.sync_all()
            })
            .and_then(|()| std::fs::rename(&temp, &self.path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written.with_context(|| format!("cannot write the textfile {}", self.path.display()))
    }

    /// Removes the file at exit: a stopped watcher's last predictions must not look live.
    pub fn remove(&self) {
        if let Err(err) = std::fs::remove_file(&self.path) {
            if err.kind() != std::io::ErrorKind::NotFound {
                crate::warn!("cannot remove the textfile {}: {err}", self.path.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_removes() {
        let dir = tempfile::tempdir().unwrap();
        let file = Textfile::new(dir.path(), "my vm/1").unwrap();
        assert_eq!(file.path().file_name().unwrap(), "remus-tune-my_vm_1.prom");
        file.write("a 1\n").unwrap();
        file.write("a 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(file.path()).unwrap(), "a 2\n");
        // Only the .prom file is left: no temp file lingers for the collector to skip.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        file.remove();
        assert!(!file.path().exists());
    }

    #[test]
    fn a_missing_directory_is_refused() {
        let err = Textfile::new(Path::new("/nonexistent/dir"), "x")
            .err()
            .unwrap();
        assert!(err.to_string().contains("not a directory"), "{err}");
    }
}
