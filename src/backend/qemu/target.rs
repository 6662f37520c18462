//! How a QEMU guest is named on the command line, and how `--backend auto` tells the kinds of
//! name apart: an existing Unix socket is a QMP socket, the PID of a qemu-system process is a
//! QEMU, anything else without a slash is a libvirt domain name.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::peer;

/// How a QEMU guest was named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QemuTarget {
    /// A QMP Unix socket.
    Socket(PathBuf),
    /// A QEMU process; its QMP socket comes from its command line.
    Pid(i32),
    /// A libvirt domain, queried through virsh.
    Libvirt(String),
}

impl QemuTarget {
    /// Resolves a name as `--backend auto` does for QEMU, in this order: an existing Unix
    /// socket path, the PID of a QEMU process, a libvirt domain name. Returns the target and
    /// a sentence saying why.
    pub fn resolve(name: &str) -> Result<(QemuTarget, String)> {
        let path = Path::new(name);
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.file_type().is_socket() {
                return Ok((
                    QemuTarget::Socket(path.to_path_buf()),
                    format!("{name} is a Unix socket: using it as a QMP socket"),
                ));
            }
            bail!("{name} exists but is not a Unix socket, so it cannot be a QMP socket");
        }
        if let Ok(pid) = name.parse::<i32>() {
            if pid > 0
                && peer::cmdline(pid)
                    .map(|a| peer::is_qemu(&a))
                    .unwrap_or(false)
            {
                return Ok((
                    QemuTarget::Pid(pid),
                    format!("{name} is the PID of a QEMU process"),
                ));
            }
            bail!(
                "{name} is not the PID of a running QEMU (for any other process use --backend \
                 process)"
            );
        }
        if name.contains('/') {
            bail!("no QMP socket at {name}: check the path given to QEMU's -qmp unix:PATH,server=on,wait=off (is QEMU running?)");
        }
        Ok((
            QemuTarget::Libvirt(name.to_string()),
            format!("{name} taken as a libvirt domain name"),
        ))
    }
}
