//! Output files written whole or not at all.
//!
//! Charts, the HTML report and other rendered outputs are written to a temporary file in the
//! target's own directory (so the rename stays on one file system), flushed to disk, and only
//! then renamed into place: a full disk or a crash leaves the old file (or none), never half
//! a chart passed off as complete. An existing file is replaced only when the user said
//! `--force`, and never when it is one of the command's own inputs (`model v.trace.yaml
//! --html v.trace.yaml` would replace the measurement with its report).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Why an output was not written; nothing was left at its path in any case.
#[derive(Debug, thiserror::Error)]
pub enum OutfileError {
    #[error("{path} already exists: choose another path, or pass --force to replace it")]
    Exists { path: PathBuf },
    #[error(
        "{path} is {input}, an input of this command: writing there would destroy it; choose \
         another output path"
    )]
    SameAsInput { path: PathBuf, input: String },
    #[error("{path} is a directory, not a file: give a file name")]
    IsDirectory { path: PathBuf },
    #[error("{path} is a file, not a directory: give a directory for the charts")]
    NotADirectory { path: PathBuf },
    #[error("cannot write {path}: {source}; nothing was written there")]
    Write { path: PathBuf, source: io::Error },
}

/// True when `a` and `b` name the same existing file (hard links and symlinks included).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Checks, before anything is computed, that `path` may be written: not one of `inputs`
/// (each with what it is, e.g. `("the trace", path)`), not a directory, and not an existing
/// file unless `force`.
pub fn check_output(
    path: &Path,
    force: bool,
    inputs: &[(&str, &Path)],
) -> Result<(), OutfileError> {
    if let Some((what, _)) = inputs.iter().find(|(_, input)| same_file(path, input)) {
        return Err(OutfileError::SameAsInput {
            path: path.to_path_buf(),
            input: what.to_string(),
        });
    }
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(OutfileError::IsDirectory {
            path: path.to_path_buf(),
        }),
        Ok(_) if !force => Err(OutfileError::Exists {
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// Checks that `dir` can hold outputs: a directory or nothing yet, not a file.
pub fn check_output_dir(dir: &Path) -> Result<(), OutfileError> {
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => Err(OutfileError::NotADirectory {
            path: dir.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// A temporary file beside `path`, removed on drop unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    file: Option<File>,
}

impl TempFile {
    fn create_beside(target: &Path) -> io::Result<TempFile> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = target
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        let path = dir.join(format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(TempFile {
            path,
            file: Some(file),
        })
    }

    fn write_and_sync(&mut self, bytes: &[u8]) -> io::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("closed"))?;
        file.write_all(bytes)?;
        file.sync_all()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        self.file = None;
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Writes `bytes` to `path` whole or not at all (see the module's note). Without `force`
/// an existing `path` is left alone and reported, checked atomically at the rename (a hard
/// link fails on an existing name), so a file created meanwhile is not replaced either.
pub fn write_atomic(path: &Path, bytes: &[u8], force: bool) -> Result<(), OutfileError> {
    let failed = |source: io::Error| OutfileError::Write {
        path: path.to_path_buf(),
        source,
    };
    if path.is_dir() {
        return Err(OutfileError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    let mut temp = TempFile::create_beside(path).map_err(failed)?;
    temp.write_and_sync(bytes).map_err(failed)?;
    if force {
        std::fs::rename(&temp.path, path).map_err(failed)?;
        return Ok(());
    }
    match std::fs::hard_link(&temp.path, path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Err(OutfileError::Exists {
            path: path.to_path_buf(),
        }),
        // File systems without hard links (vfat, some FUSE): check, then rename.
        Err(_) if !path.exists() => std::fs::rename(&temp.path, path).map_err(failed),
        Err(_) => Err(OutfileError::Exists {
            path: path.to_path_buf(),
        }),
    }
    // `temp` drops here: the temporary name goes, the linked or renamed file stays.
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn writes_whole_files_and_refuses_to_replace_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chart.svg");
        write_atomic(&path, b"first", false).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        let err = write_atomic(&path, b"second", false).unwrap_err();
        assert!(matches!(err, OutfileError::Exists { .. }), "{err}");
        assert!(err.to_string().contains("--force"));
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        write_atomic(&path, b"second", true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_full_disk_leaves_nothing_behind() {
        // /dev/full cannot hold a temporary file beside it; a directory we may not write
        // stands in for a full one when we are not root, and a tiny tmpfs when we are is
        // tested against the real binary in tests/measure/bad_input.rs.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("x.svg");
        let err = write_atomic(&path, b"data", false).unwrap_err();
        assert!(matches!(err, OutfileError::Write { .. }), "{err}");
        assert!(err.to_string().contains("nothing was written"));
        assert!(!path.exists());
    }

    #[test]
    fn inputs_and_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("v.trace.yaml");
        std::fs::write(&input, "trace").unwrap();
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        for path in [&input, &link] {
            let err = check_output(path, true, &[("the trace", &input)]).unwrap_err();
            assert!(matches!(err, OutfileError::SameAsInput { .. }), "{err}");
            assert!(err.to_string().contains("the trace"));
        }
        assert!(matches!(
            check_output(dir.path(), true, &[]),
            Err(OutfileError::IsDirectory { .. })
        ));
        assert!(matches!(
            check_output_dir(&input),
            Err(OutfileError::NotADirectory { .. })
        ));
        assert!(check_output(
            &dir.path().join("new.html"),
            false,
            &[("the trace", &input)]
        )
        .is_ok());
    }
}
