//! From a QMP socket to its QEMU process, and back.
//!
//! A QMP socket alone names no process, but the kernel knows who listens on the other end:
//! SO_PEERCRED on a connected Unix socket gives the peer's PID (unix(7)). The other way, a QEMU
//! PID's command line says where its QMP sockets are: `-qmp unix:PATH,…`, or `-chardev
//! socket,id=ID,path=PATH,…` together with `-mon chardev=ID,mode=control`. Under Xen the device
//! model has two monitors; we pick `qmp-libxenstat-<domid>` and never `qmp-libxl-<domid>`.

use std::fs;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::qmp::is_xen_libxl_socket;

/// The PID of the process at the other end of a connected Unix socket.
pub fn peer_pid(stream: &UnixStream) -> std::io::Result<i32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the fd is a live socket owned by `stream`; `cred` and `len` are valid for writes
    // and `len` holds the size of `cred`, so the kernel writes within bounds.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(cred.pid)
}

/// The command line of a process, one argument per element.
pub fn cmdline(pid: i32) -> Result<Vec<String>> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).with_context(|| {
        format!("cannot read the command line of process {pid}: does it exist?")
    })?;
    Ok(raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect())
}

/// True when the command line looks like a QEMU system emulator's.
pub fn is_qemu(args: &[String]) -> bool {
    args.first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("qemu-system-") || n == "qemu-kvm" || n == "kvm")
}

/// A QMP monitor found on a QEMU command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QmpEndpoint {
    /// A Unix socket path we can connect to.
    Path(PathBuf),
    /// A socket passed in as a file descriptor (libvirt does this): not reachable by path.
    Fd(String),
}

/// The QMP monitors on a QEMU command line, in the order they appear.
pub fn qmp_endpoints(args: &[String]) -> Vec<QmpEndpoint> {
    let mut found = Vec::new();
    let mut chardevs: Vec<(String, QmpEndpoint)> = Vec::new();
    let mut control_monitors: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].trim_start_matches('-');
        let is_flag = args[i].starts_with('-');
        let value = args.get(i + 1).map(String::as_str);
        match (is_flag, flag, value) {
            (true, "qmp" | "qmp-pretty", Some(v)) => {
                if let Some(rest) = v.strip_prefix("unix:") {
                    let first = rest.split(',').next().unwrap_or("");
                    let path = first.strip_prefix("path=").unwrap_or(first);
                    found.push(QmpEndpoint::Path(PathBuf::from(path)));
                }
                i += 2;
                continue;
            }
            (true, "chardev", Some(v)) => {
                let mut parts = v.split(',');
                if parts.next() == Some("socket") {
                    let kv: Vec<(&str, &str)> = parts.filter_map(|p| p.split_once('=')).collect();
                    let get = |k: &str| kv.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
                    if let Some(id) = get("id") {
                        if let Some(path) = get("path") {
                            chardevs.push((id.to_string(), QmpEndpoint::Path(PathBuf::from(path))));
                        } else if let Some(fd) = get("fd") {
                            chardevs.push((id.to_string(), QmpEndpoint::Fd(fd.to_string())));
                        }
                    }
                }
                i += 2;
                continue;
            }
            (true, "mon", Some(v)) => {
                let kv: Vec<(&str, &str)> =
                    v.split(',').filter_map(|p| p.split_once('=')).collect();
                let get = |k: &str| kv.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
                if get("mode") == Some("control") {
                    if let Some(id) = get("chardev") {
                        control_monitors.push(id.to_string());
                    }
                }
                i += 2;
                continue;
            }
            _ => i += 1,
        }
    }
    for id in control_monitors {
        if let Some((_, endpoint)) = chardevs.iter().find(|(c, _)| *c == id) {
            found.push(endpoint.clone());
        }
    }
    found
}

/// The QMP socket to use for a QEMU PID: the first path monitor that is not Xen's libxl one,
/// resolved against QEMU's working directory when relative.
pub fn socket_for_pid(pid: i32) -> Result<PathBuf> {
    let args = cmdline(pid)?;
    if !is_qemu(&args) {
        bail!(
            "process {pid} ({}) is not a QEMU system emulator",
            args.first().map(String::as_str).unwrap_or("?")
        );
    }
    let endpoints = qmp_endpoints(&args);
    let usable = endpoints.iter().find_map(|e| match e {
        QmpEndpoint::Path(p) if !is_xen_libxl_socket(p) => Some(p.clone()),
        _ => None,
    });
    match usable {
        Some(path) if path.is_relative() => {
            let cwd = fs::read_link(format!("/proc/{pid}/cwd"))
                .with_context(|| format!("cannot read the working directory of QEMU {pid}"))?;
            Ok(cwd.join(path))
        }
        Some(path) => Ok(path),
        None if endpoints.iter().any(|e| matches!(e, QmpEndpoint::Fd(_))) => bail!(
            "QEMU {pid} got its QMP monitor as a file descriptor, so libvirt manages it and holds \
             the only QMP connection: measure it by its libvirt domain name"
        ),
        None if !endpoints.is_empty() => bail!(
            "QEMU {pid} has only Xen's libxl QMP socket, which libxl uses at every Remus \
             checkpoint and which remus-tune never holds"
        ),
        None => bail!(
            "QEMU {pid} has no QMP socket on its command line: start it with \
             -qmp unix:/run/NAME.qmp,server=on,wait=off"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn finds_qmp_flag_and_chardev_monitors() {
        let a =
            args("qemu-system-x86_64 -m 256 -qmp unix:/tmp/a.sock,server,nowait -monitor stdio");
        assert_eq!(
            qmp_endpoints(&a),
            vec![QmpEndpoint::Path("/tmp/a.sock".into())]
        );
        let a = args(
            "/usr/bin/qemu-system-x86_64 -chardev socket,id=m0,path=/run/b.qmp,server=on,wait=off \
             -mon chardev=m0,mode=control -chardev socket,id=ser,path=/run/ser.sock,server=on",
        );
        assert_eq!(
            qmp_endpoints(&a),
            vec![QmpEndpoint::Path("/run/b.qmp".into())]
        );
        assert!(is_qemu(&a));
        assert!(!is_qemu(&args("/bin/sleep 10")));
    }

    #[test]
    fn libvirt_fd_monitor_is_recognised() {
        let a = args(
            "/usr/bin/qemu-system-x86_64 -name guest=web,debug-threads=on \
             -chardev socket,id=charmonitor,fd=32,server=on,wait=off \
             -mon chardev=charmonitor,id=monitor,mode=control",
        );
        assert_eq!(qmp_endpoints(&a), vec![QmpEndpoint::Fd("32".into())]);
    }

    #[test]
    fn xen_device_model_offers_libxenstat_first_choice() {
        let a = args(
            "/usr/lib/xen/bin/qemu-system-i386 -xen-domid 3 \
             -chardev socket,id=libxl-cmd,path=/var/run/xen/qmp-libxl-3,server=on,wait=off \
             -mon chardev=libxl-cmd,mode=control \
             -chardev socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-3,server=on,wait=off \
             -mon chardev=libxenstat-cmd,mode=control",
        );
        let e = qmp_endpoints(&a);
        assert_eq!(e.len(), 2);
        let usable: Vec<_> = e
            .iter()
            .filter(|e| matches!(e, QmpEndpoint::Path(p) if !is_xen_libxl_socket(p)))
            .collect();
        assert_eq!(
            usable,
            vec![&QmpEndpoint::Path("/var/run/xen/qmp-libxenstat-3".into())]
        );
    }

    #[test]
    fn peer_of_a_socketpair_is_ourselves() {
        let (a, _b) = UnixStream::pair().unwrap();
        assert_eq!(peer_pid(&a).unwrap(), std::process::id() as i32);
    }
}
