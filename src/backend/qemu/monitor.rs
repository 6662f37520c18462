//! How the backend reaches QMP: one session held for the run (a plain QEMU), a session per
//! query (Xen's `qmp-libxenstat-<domid>`, which xentop shares), or virsh (libvirt holds the
//! monitor). The socket's peer gives the QEMU PID.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use super::libvirt;
use super::peer;
use super::qmp::{Execute, Qmp, QmpError, Version};

/// How QMP is reached.
pub(super) enum Monitor {
    /// One session for the whole run.
    Held(Qmp),
    /// Xen's libxenstat socket: connect per query, disconnect at once.
    PerQuery {
        path: PathBuf,
        timeout: Duration,
    },
    Virsh(libvirt::Virsh),
    Closed,
}

impl Execute for Monitor {
    fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value, QmpError> {
        match self {
            Monitor::Held(q) => q.execute(command, arguments),
            Monitor::PerQuery { path, timeout } => {
                Qmp::connect(path, *timeout)?.execute(command, arguments)
            }
            Monitor::Virsh(v) => v.execute(command, arguments),
            Monitor::Closed => Err(QmpError::Gone {
                path: PathBuf::from("(closed)"),
                what: command.to_string(),
            }),
        }
    }
}

pub(super) fn open_socket(path: &Path, timeout: Duration) -> Result<(Monitor, i32)> {
    let qmp = Qmp::connect(path, timeout)?;
    let pid = peer::peer_pid(qmp.stream())
        .with_context(|| format!("cannot tell which process serves {}", path.display()))?;
    if pid <= 0 {
        bail!(
            "the QEMU serving {} runs in another PID namespace (a container?), so its memory \
             cannot be read from here: run remus-tune inside that namespace",
            path.display()
        );
    }
    let per_query = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("qmp-libxenstat-"));
    let monitor = if per_query {
        drop(qmp);
        Monitor::PerQuery {
            path: path.to_path_buf(),
            timeout,
        }
    } else {
        Monitor::Held(qmp)
    };
    Ok((monitor, pid))
}

pub(super) fn query_version(monitor: &mut Monitor) -> Result<Version> {
    let v = monitor.execute("query-version", None)?;
    let q = &v["qemu"];
    let n = |k: &str| q[k].as_u64().map(|x| x as u32);
    match (n("major"), n("minor"), n("micro")) {
        (Some(major), Some(minor), Some(micro)) => Ok(Version {
            major,
            minor,
            micro,
        }),
        _ => Err(anyhow!("query-version gave no version: {v}")),
    }
}
