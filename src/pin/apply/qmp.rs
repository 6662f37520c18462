//! Just enough QMP to tell a QEMU VM's vCPU threads from its emulator threads:
//! `query-cpus-fast` (QEMU ≥ 2.12) gives each vCPU's host thread id (interfaces.md §4.4).
//!
//! Only a query is sent. Under Xen never point this at `qmp-libxl-<domid>` (libxl's own
//! socket, used inside every Remus checkpoint); on libvirt hosts libvirt holds the one QMP
//! client slot, so use `virsh` there instead.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// One vCPU of a QEMU VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuVcpu {
    pub index: u32,
    pub thread_id: u32,
}

/// Why the QMP query failed.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    #[error("cannot talk QMP on {path}: {source}\n  is QEMU running with `-qmp unix:{path},server=on,wait=off`, and is no other client connected?")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("QMP on {path} answered something unexpected: {detail}")]
    Protocol { path: String, detail: String },
}

/// Connects, negotiates capabilities and runs `query-cpus-fast`.
pub fn query_vcpus(socket: &Path) -> Result<Vec<QemuVcpu>, QmpError> {
    let path = socket.display().to_string();
    let io = |source| QmpError::Io {
        path: path.clone(),
        source,
    };
    let stream = UnixStream::connect(socket).map_err(io)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(io)?;
    let mut writer = stream.try_clone().map_err(io)?;
    let mut reader = BufReader::new(stream);
    let greeting = read_reply(&mut reader, &path, true)?;
    if greeting.get("QMP").is_none() {
        return Err(QmpError::Protocol {
            path,
            detail: format!("no QMP greeting: {greeting}"),
        });
    }
    writer
        .write_all(b"{\"execute\":\"qmp_capabilities\"}\n")
        .map_err(io)?;
    read_reply(&mut reader, &path, false)?;
    writer
        .write_all(b"{\"execute\":\"query-cpus-fast\"}\n")
        .map_err(io)?;
    let reply = read_reply(&mut reader, &path, false)?;
    parse_cpus(&reply).map_err(|detail| QmpError::Protocol { path, detail })
}

/// Reads lines until a reply (skipping asynchronous events); `greeting` accepts the banner.
fn read_reply(reader: &mut impl BufRead, path: &str, greeting: bool) -> Result<Value, QmpError> {
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).map_err(|source| QmpError::Io {
            path: path.into(),
            source,
        })?;
        if n == 0 {
            return Err(QmpError::Protocol {
                path: path.into(),
                detail: "the connection closed".into(),
            });
        }
        let value: Value = serde_json::from_str(&line).map_err(|e| QmpError::Protocol {
            path: path.into(),
            detail: format!("not JSON ({e}): {line}"),
        })?;
        if value.get("event").is_some() {
            continue;
        }
        if let Some(err) = value.get("error") {
            return Err(QmpError::Protocol {
                path: path.into(),
                detail: format!("QEMU returned an error: {err}"),
            });
        }
        if greeting || value.get("return").is_some() {
            return Ok(value);
        }
    }
}

/// `{"return": [{"cpu-index": 0, "thread-id": 1234, …}, …]}` → vCPUs.
fn parse_cpus(reply: &Value) -> Result<Vec<QemuVcpu>, String> {
    let list = reply["return"]
        .as_array()
        .ok_or_else(|| format!("query-cpus-fast returned no list: {reply}"))?;
    list.iter()
        .map(|cpu| {
            let field = |k: &str| {
                cpu[k]
                    .as_u64()
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| format!("a vCPU without `{k}`: {cpu}"))
            };
            Ok(QemuVcpu {
                index: field("cpu-index")?,
                thread_id: field("thread-id")?,
            })
        })
        .collect()
}

/// The process a thread belongs to (its `Tgid`), so that `--qmp` needs no PID.
pub fn process_of_thread(tid: u32) -> std::io::Result<u32> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no Tgid in status"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_query_cpus_fast() {
        let reply: Value = serde_json::from_str(
            r#"{"return": [{"thread-id": 4242, "props": {"core-id": 0, "thread-id": 0, "socket-id": 0}, "qom-path": "/machine/unattached/device[0]", "cpu-index": 0, "target": "x86_64"},
                           {"thread-id": 4243, "cpu-index": 1, "target": "x86_64"}]}"#,
        )
        .unwrap();
        assert_eq!(
            parse_cpus(&reply).unwrap(),
            vec![
                QemuVcpu {
                    index: 0,
                    thread_id: 4242
                },
                QemuVcpu {
                    index: 1,
                    thread_id: 4243
                }
            ]
        );
        assert!(parse_cpus(&serde_json::json!({"return": {}})).is_err());
    }

    #[test]
    fn a_missing_socket_says_how_to_start_qemu() {
        let err = query_vcpus(Path::new("/nonexistent/qmp.sock"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("-qmp unix:/nonexistent/qmp.sock,server=on,wait=off"),
            "{err}"
        );
    }

    #[test]
    fn own_thread_belongs_to_own_process() {
        assert_eq!(
            process_of_thread(std::process::id()).unwrap(),
            std::process::id()
        );
    }
}
