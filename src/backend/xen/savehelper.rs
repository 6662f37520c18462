//! Finding the save helper of a domain: the process that runs a save, a live migration,
//! Remus or COLO for it.
//!
//! libxl forks `libxl-save-helper --save-domain io_fd recv_fd domid flags cbflags
//! stream_type` (libxl_save_callout.c, libxl_save_helper.c); the last argument is
//! `xc_stream_type_t`: 0 plain, 1 Remus, 2 COLO (xenguest.h). Seen for real in the Xen lab:
//! `/usr/lib/xen-4.17/bin/libxl-save-helper --save-domain 12 -1 1 1 184 1`. While one exists
//! for our domain, its log-dirty bitmap belongs to it (interfaces.md §0 item 3).

use super::ownership::{HelperWatch, StreamType};
use std::path::{Path, PathBuf};

/// A save helper as found in /proc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveHelper {
    pub pid: i32,
    pub domid: u32,
    pub stream: StreamType,
}

/// Reads a helper's domid and stream type from its argv, if it is a save helper.
pub fn parse_argv(argv: &[String]) -> Option<(u32, StreamType)> {
    let program = argv.first()?;
    let base = program.rsplit('/').next().unwrap_or(program);
    if base != "libxl-save-helper" {
        return None;
    }
    let at = argv.iter().position(|a| a == "--save-domain")?;
    let rest = &argv[at + 1..];
    // io_fd recv_fd domid … stream_type: the domid is the third, the stream type the last.
    if rest.len() < 4 {
        return None;
    }
    let domid = rest[2].parse().ok()?;
    let stream = rest.last()?.parse().ok().map(StreamType::from_arg)?;
    Some((domid, stream))
}

/// Every save helper under `proc_root` (normally /proc).
pub fn scan(proc_root: &Path) -> Vec<SaveHelper> {
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        // comm first: 15 bytes, cheap, and it filters out almost every process.
        let dir = entry.path();
        match std::fs::read_to_string(dir.join("comm")) {
            Ok(comm) if comm.trim_end().starts_with("libxl-save") => {}
            Ok(_) => continue,
            Err(_) => {} // comm unreadable: fall back to cmdline
        }
        let Ok(raw) = std::fs::read(dir.join("cmdline")) else {
            continue;
        };
        let argv: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if let Some((domid, stream)) = parse_argv(&argv) {
            found.push(SaveHelper { pid, domid, stream });
        }
    }
    found.sort_by_key(|h| h.pid);
    found
}

/// Watches /proc for the save helper of one domain.
#[derive(Debug, Clone)]
pub struct ProcWatch {
    root: PathBuf,
    domid: u32,
    /// The helper seen last, for its CPU time.
    pub last: Option<SaveHelper>,
}

impl ProcWatch {
    pub fn new(root: impl Into<PathBuf>, domid: u32) -> Self {
        Self {
            root: root.into(),
            domid,
            last: None,
        }
    }

    /// /proc, or `$REMUS_TUNE_PROC` (tests point it at a directory of fake processes).
    pub fn from_env(domid: u32) -> Self {
        let root = std::env::var_os("REMUS_TUNE_PROC")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/proc"));
        Self::new(root, domid)
    }

    pub fn find(&mut self) -> Option<SaveHelper> {
        self.last = scan(&self.root).into_iter().find(|h| h.domid == self.domid);
        self.last.clone()
    }
}

impl HelperWatch for ProcWatch {
    fn helper(&mut self) -> Option<StreamType> {
        self.find().map(|h| h.stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn lab_helper_is_remus_for_domain_1() {
        // Recorded in the Xen lab (xen-4.17-outputs/during-remus-pvh-vcpu-list-list-ps.txt).
        let a = argv("/usr/lib/xen-4.17/bin/libxl-save-helper --save-domain 12 -1 1 1 184 1");
        assert_eq!(parse_argv(&a), Some((1, StreamType::Remus)));
        let plain = argv("libxl-save-helper --save-domain 9 -1 7 0 184 0");
        assert_eq!(parse_argv(&plain), Some((7, StreamType::Plain)));
        let colo = argv("libxl-save-helper --save-domain 9 10 7 0 184 2");
        assert_eq!(parse_argv(&colo), Some((7, StreamType::Colo)));
    }

    #[test]
    fn others_are_not_helpers() {
        assert_eq!(
            parse_argv(&argv("libxl-save-helper --restore-domain 1 2 3 4")),
            None
        );
        assert_eq!(
            parse_argv(&argv("grep libxl-save-helper --save-domain 1 2 3 4")),
            None
        );
        assert_eq!(
            parse_argv(&argv("/bin/libxl-save-helper --save-domain x")),
            None
        );
        assert_eq!(parse_argv(&[]), None);
    }

    #[test]
    fn scan_reads_a_proc_tree() {
        let dir = tempfile::tempdir().unwrap();
        let mk = |pid: &str, comm: &str, cmd: &str| {
            let p = dir.path().join(pid);
            std::fs::create_dir(&p).unwrap();
            std::fs::write(p.join("comm"), format!("{comm}\n")).unwrap();
            std::fs::write(p.join("cmdline"), cmd.replace(' ', "\0") + "\0").unwrap();
        };
        mk("1", "init", "/sbin/init");
        mk(
            "140",
            "libxl-save-hel",
            "/usr/lib/xen-4.17/bin/libxl-save-helper --save-domain 12 -1 1 1 184 1",
        );
        mk(
            "150",
            "libxl-save-hel",
            "/usr/lib/xen-4.17/bin/libxl-save-helper --save-domain 12 -1 4 1 184 0",
        );
        std::fs::create_dir(dir.path().join("self")).unwrap();
        let found = scan(dir.path());
        assert_eq!(found.len(), 2);
        let mut watch = ProcWatch::new(dir.path(), 4);
        assert_eq!(watch.helper(), Some(StreamType::Plain));
        assert_eq!(watch.last.as_ref().map(|h| h.pid), Some(150));
        assert_eq!(ProcWatch::new(dir.path(), 2).helper(), None);
    }
}
