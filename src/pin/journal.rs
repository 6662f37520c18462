//! The journal: every affected vCPU's (or thread's) affinity as it was before `pin --apply`
//! changed anything, written to disk first so that a failure half-way, a crash, or a change of
//! mind can be undone with `pin --revert`.
//!
//! It is YAML so that an admin can read it, and it is never overwritten: an existing journal
//! means an apply that was not reverted, and overwriting it would lose the original state.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where journals go unless `--journal` says otherwise.
pub const DEFAULT_DIR: &str = "/var/lib/remus-tune";

/// The default journal path.
pub fn default_path() -> PathBuf {
    Path::new(DEFAULT_DIR).join("pin-journal.yaml")
}

/// One Xen vCPU as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VcpuEntry {
    pub domain: String,
    pub domid: u32,
    pub vcpu: u32,
    /// As `xl vcpu-list` printed it (`all`, `0-3`, …), which `xl vcpu-pin` accepts back.
    pub hard: String,
    /// `None` before Xen 4.5 (no soft affinity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft: Option<String>,
}

/// One Linux thread as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadEntry {
    pub pid: u32,
    pub tid: u32,
    pub comm: String,
    /// The thread's start time (/proc/PID/task/TID/stat field 22, clock ticks since boot):
    /// with `comm`, how `--revert` tells this thread from a later one that got the same ids.
    /// Journals written before it was recorded lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<u64>,
    /// `Cpus_allowed_list` before the change.
    pub cpus: String,
}

/// One libvirt vCPU, IOThread, or (with neither) the emulator threads, as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibvirtEntry {
    pub domain: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iothread: Option<u32>,
    /// The running domain's pinning.
    pub cpus: String,
    /// The persistent definition's pinning; absent in journals written before `--apply`
    /// changed it too (they changed only the running domain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
}

/// A cpupool that the apply created, so revert can take it down again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolEntry {
    pub name: String,
    pub cpus: String,
    pub domains: Vec<String>,
}

/// Which applier wrote the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JournalBackend {
    Xen,
    Process,
    Libvirt,
}

/// The journal file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub version: u32,
    pub created: String,
    pub backend: JournalBackend,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vcpus: Vec<VcpuEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threads: Vec<ThreadEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub libvirt: Vec<LibvirtEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolEntry>,
}

/// Why a journal could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(
        "a journal already exists at {0}: an earlier `pin --apply` was not reverted.\n  \
         Revert it first (`remus-tune pin --revert --journal {0}`), or pass another --journal PATH"
    )]
    Exists(String),
    #[error("cannot write the journal {path}: {source}\n  nothing was changed; run as root or pass --journal PATH in a writable place")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the journal {path}: {source}\n  pass the journal written by `pin --apply` with --journal PATH")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a remus-tune journal: {message}")]
    Invalid { path: String, message: String },
}

impl Journal {
    pub const VERSION: u32 = 1;

    pub fn new(backend: JournalBackend) -> Self {
        Self {
            version: Self::VERSION,
            created: crate::host::UtcTime::now().rfc3339(),
            backend,
            vcpus: Vec::new(),
            threads: Vec::new(),
            libvirt: Vec::new(),
            pool: None,
        }
    }

    /// Writes the journal to a new file (never over an old one), synced to disk before any
    /// change is made.
    pub fn create(&self, path: &Path) -> Result<(), JournalError> {
        use std::io::Write;
        let shown = path.display().to_string();
        if path.exists() {
            return Err(JournalError::Exists(shown));
        }
        let write_err = |source| JournalError::Write {
            path: shown.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(write_err)?;
        }
        let text = yaml_serde::to_string(self)
            .map_err(|e| write_err(std::io::Error::other(e.to_string())))?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(write_err)?;
        file.write_all(text.as_bytes()).map_err(write_err)?;
        file.sync_all().map_err(write_err)?;
        Ok(())
    }

    /// Replaces the journal's content (used to record the cpupool once it exists).
    pub fn update(&self, path: &Path) -> Result<(), JournalError> {
        let shown = path.display().to_string();
        let text = yaml_serde::to_string(self).map_err(|e| JournalError::Write {
            path: shown.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let tmp = path.with_extension("yaml.tmp");
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|source| JournalError::Write {
                path: shown,
                source,
            })
    }

    pub fn load(path: &Path) -> Result<Self, JournalError> {
        let shown = path.display().to_string();
        let text = crate::limits::read_yaml(path, crate::limits::FileKind::PinJournal).map_err(
            |source| JournalError::Read {
                path: shown.clone(),
                source,
            },
        )?;
        let journal: Journal = yaml_serde::from_str(&text).map_err(|e| JournalError::Invalid {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        if journal.version != Self::VERSION {
            return Err(JournalError::Invalid {
                path: shown,
                message: format!(
                    "version {} (this remus-tune reads version {})",
                    journal.version,
                    Self::VERSION
                ),
            });
        }
        Ok(journal)
    }

    /// Moves a journal that has been restored out of the way, so the next apply can start,
    /// while keeping it for the record. Returns the new path.
    pub fn retire(path: &Path, why: &str) -> std::io::Result<PathBuf> {
        let stamp = crate::host::UtcTime::now().compact();
        // Never over an earlier record from the same second.
        let mut target = PathBuf::from(format!("{}.{why}-{stamp}", path.display()));
        let mut n = 1;
        while target.exists() {
            n += 1;
            target = PathBuf::from(format!("{}.{why}-{stamp}-{n}", path.display()));
        }
        std::fs::rename(path, &target)?;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/journal.yaml");
        let mut j = Journal::new(JournalBackend::Xen);
        j.vcpus.push(VcpuEntry {
            domain: "vm".into(),
            domid: 1,
            vcpu: 0,
            hard: "all".into(),
            soft: Some("all".into()),
        });
        j.create(&path).unwrap();
        assert_eq!(Journal::load(&path).unwrap(), j);
        assert!(matches!(j.create(&path), Err(JournalError::Exists(_))));
        let retired = Journal::retire(&path, "reverted").unwrap();
        assert!(!path.exists() && retired.exists());
        j.create(&path).unwrap();
        let again = Journal::retire(&path, "reverted").unwrap();
        assert_ne!(
            again, retired,
            "a second record in the same second keeps the first"
        );
        assert!(again.exists() && retired.exists());
    }
}
