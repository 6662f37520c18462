//! The QMP wire protocol: the messages QEMU sends (greeting, events), their parsing, and the
//! errors a conversation can end in. Pure functions over JSON values: the client in
//! `qmp/mod.rs` does the I/O, the fuzz tests (tests/measure/fuzz_parsers.rs) call these directly.

use serde_json::Value;
use std::io;
use std::path::PathBuf;

/// What went wrong talking to QEMU, in words an administrator can act on.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    #[error("cannot connect to QMP socket {path}: {source}; {hint}")]
    Connect {
        path: PathBuf,
        source: io::Error,
        hint: &'static str,
    },
    #[error(
        "refusing {path}: libxl drives every Remus checkpoint through this monitor (stop, \
         xen-save-devices-state, cont), and holding it would stall or break replication; use \
         /var/run/xen/qmp-libxenstat-<domid> instead"
    )]
    XenLibxlSocket { path: PathBuf },
    #[error("{path} is not a QMP socket: {detail}")]
    NotQmp { path: PathBuf, detail: String },
    #[error("QEMU did not answer {what} within {secs:.1} s on {path}; {hint}")]
    Timeout {
        path: PathBuf,
        what: String,
        secs: f64,
        hint: &'static str,
    },
    #[error(
        "QEMU closed its QMP connection {path} (it exited or was killed) while waiting for {what}"
    )]
    Gone { path: PathBuf, what: String },
    #[error("QEMU refused `{command}`: {desc} ({class})")]
    Command {
        command: String,
        class: String,
        desc: String,
    },
    #[error("QMP I/O on {path} failed: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("unexpected QMP message on {path}: {detail}")]
    Protocol { path: PathBuf, detail: String },
    #[error("{path} is not a QMP socket: {source}")]
    LineTooLong {
        path: PathBuf,
        source: crate::limits::LimitError,
    },
}

impl QmpError {
    /// True when QEMU itself went away (as opposed to refusing or being slow).
    pub fn is_gone(&self) -> bool {
        matches!(self, QmpError::Gone { .. })
    }
}

/// QEMU's version from the greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub micro: u32,
}

impl Version {
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)
    }
}

/// The server's greeting.
#[derive(Debug, Clone)]
pub struct Greeting {
    pub version: Version,
    /// The `package` string, e.g. "Debian 1:7.2+dfsg-7+deb12u18+b2".
    pub package: String,
    pub capabilities: Vec<String>,
}

/// An asynchronous event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: String,
    pub data: Value,
    /// Seconds since the epoch, from QEMU's timestamp.
    pub timestamp: f64,
}

/// `s` cut to `n` characters, for quoting a peer's message in an error.
pub(super) fn truncate(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Reads the greeting QEMU sends first (public for the fuzz tests, tests/measure/fuzz_parsers.rs).
pub fn parse_greeting(v: &Value) -> Result<Greeting, String> {
    let qmp = v.get("QMP").ok_or_else(|| {
        format!(
            "first message is not a QMP greeting: {}",
            truncate(&v.to_string(), 120)
        )
    })?;
    let q = &qmp["version"]["qemu"];
    let num = |k: &str| q.get(k).and_then(Value::as_u64).map(|n| n as u32);
    let version = match (num("major"), num("minor"), num("micro")) {
        (Some(major), Some(minor), Some(micro)) => Version {
            major,
            minor,
            micro,
        },
        _ => return Err(format!("greeting without a QEMU version: {qmp}")),
    };
    Ok(Greeting {
        version,
        package: qmp["version"]["package"]
            .as_str()
            .unwrap_or("")
            .trim()
            .to_string(),
        capabilities: qmp["capabilities"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Reads an event message, `None` for anything else (public for the fuzz tests).
pub fn parse_event(v: &Value) -> Option<Event> {
    let name = v.get("event")?.as_str()?.to_string();
    let ts = &v["timestamp"];
    let timestamp =
        ts["seconds"].as_f64().unwrap_or(0.0) + ts["microseconds"].as_f64().unwrap_or(0.0) / 1e6;
    Some(Event {
        name,
        data: v.get("data").cloned().unwrap_or(Value::Null),
        timestamp,
    })
}
