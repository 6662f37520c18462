//! Just enough QMP to tell a QEMU VM's vCPU threads from its emulator threads:
//! `query-cpus-fast` (QEMU ≥ 2.12) gives each vCPU's host thread id (interfaces.md §4.4).
//!
//! Only a query is sent. Under Xen never point this at `qmp-libxl-<domid>` (libxl's own
//! socket, used inside every Remus checkpoint); on libvirt hosts libvirt holds the one QMP
//! client slot, so use `virsh` there instead.

use crate::backend::qemu::qmp::{Qmp, QmpError, DEFAULT_TIMEOUT};
use serde_json::Value;
use std::path::Path;

/// One vCPU of a QEMU VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuVcpu {
    pub index: u32,
    pub thread_id: u32,
}

/// Connects with the QEMU backend's QMP client (which refuses Xen's `qmp-libxl-*` sockets)
/// and runs `query-cpus-fast`.
pub fn query_vcpus(socket: &Path) -> Result<Vec<QemuVcpu>, QmpError> {
    let mut qmp = Qmp::connect(socket, DEFAULT_TIMEOUT)?;
    let reply = qmp.execute("query-cpus-fast", None)?;
    parse_cpus(&reply).map_err(|detail| QmpError::Protocol {
        path: socket.to_path_buf(),
        detail,
    })
}

/// `[{"cpu-index": 0, "thread-id": 1234, …}, …]` (the `return` value) → vCPUs.
fn parse_cpus(reply: &Value) -> Result<Vec<QemuVcpu>, String> {
    let list = reply
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
            r#"[{"thread-id": 4242, "props": {"core-id": 0, "thread-id": 0, "socket-id": 0}, "qom-path": "/machine/unattached/device[0]", "cpu-index": 0, "target": "x86_64"},
                {"thread-id": 4243, "cpu-index": 1, "target": "x86_64"}]"#,
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
        assert!(parse_cpus(&serde_json::json!({})).is_err());
    }

    #[test]
    fn refuses_xen_libxl_socket_and_missing_socket() {
        let err = query_vcpus(Path::new("/var/run/xen/qmp-libxl-3"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("libxl drives every Remus checkpoint"), "{err}");
        let err = query_vcpus(Path::new("/nonexistent/qmp.sock"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/qmp.sock"), "{err}");
    }

    #[test]
    fn own_thread_belongs_to_own_process() {
        assert_eq!(
            process_of_thread(std::process::id()).unwrap(),
            std::process::id()
        );
    }
}
