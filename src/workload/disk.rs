//! Disk writes at a set rate, each followed by fdatasync, so /proc/PID/io sees them.

use anyhow::{Context, Result};
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Writes are whole, aligned 4 KiB blocks: the kernel counts `write_bytes` per page dirtied,
/// so partial pages would be over-counted.
const BLOCK: u64 = 4096;
/// The file wraps here, so a long run does not fill the disk.
const WRAP_BYTES: u64 = 64 << 20;

pub struct DiskWriter {
    file: File,
    path: PathBuf,
    remove_on_drop: bool,
    offset: u64,
    written: u64,
    counter: u64,
}

impl DiskWriter {
    /// Opens `path` (or a new file in the temp directory, removed at the end).
    pub fn open(path: Option<&Path>) -> Result<Self> {
        let (path, remove_on_drop) = match path {
            Some(path) => (path.to_path_buf(), false),
            None => (
                std::env::temp_dir()
                    .join(format!("remus-tune-workload-{}.dat", std::process::id())),
                true,
            ),
        };
        let file = File::create(&path).with_context(|| {
            format!("cannot create the workload's disk file {}", path.display())
        })?;
        if on_tmpfs(&path) {
            crate::warn!(
                "{} is on tmpfs, where the kernel counts no disk writes; pass --disk-file on a real disk",
                path.display()
            );
        }
        Ok(Self {
            file,
            path,
            remove_on_drop,
            offset: 0,
            written: 0,
            counter: 0,
        })
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// Writes whole blocks until `target` bytes have been written in total.
    pub fn catch_up(&mut self, target: u64) -> Result<()> {
        let due = target.saturating_sub(self.written) / BLOCK * BLOCK;
        if due == 0 {
            return Ok(());
        }
        let mut data = vec![0u8; due as usize];
        for block in data.chunks_mut(BLOCK as usize) {
            self.counter += 1;
            block[..8].copy_from_slice(&self.counter.to_le_bytes());
        }
        if self.offset + due > WRAP_BYTES {
            self.offset = 0;
            self.file.seek(SeekFrom::Start(0))?;
        }
        self.file
            .write_all(&data)
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.offset += due;
        self.written += due;
        Ok(())
    }
}

impl Drop for DiskWriter {
    fn drop(&mut self) {
        if self.remove_on_drop {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn on_tmpfs(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let Ok(c_path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs fills `stat`; `c_path` is a valid NUL-terminated string.
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(c_path.as_ptr(), &mut stat) };
    rc == 0 && stat.f_type == libc::TMPFS_MAGIC
}
