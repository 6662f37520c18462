//! QMP queries to a libvirt-managed QEMU, through `virsh qemu-monitor-command`.
//!
//! libvirt holds the only QMP connection of the QEMUs it starts (interfaces.md §0.12), so a
//! libvirt domain is reached through virsh. libvirt marks the domain *tainted*
//! (`custom-monitor`) when it relays a command, and its documentation asks that only query
//! commands be sent: we send nothing else. The domain name reaches virsh as one argument,
//! never through a shell.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::qmp::{Execute, QmpError};

/// What the user must be told before measuring a libvirt domain.
pub const TAINT_NOTE: &str = "libvirt marks this domain tainted (custom-monitor) because \
remus-tune sends read-only QMP queries through `virsh qemu-monitor-command`; nothing else changes";

/// A libvirt domain, queried through virsh (the one runner in [`crate::virsh`], so
/// `REMUS_TUNE_VIRSH` is honoured here as in `pin`).
pub struct Virsh {
    domain: String,
    virsh: crate::virsh::Virsh,
}

/// True when `virsh` (or `$REMUS_TUNE_VIRSH`) can be run.
pub fn virsh_available() -> bool {
    crate::virsh::Virsh::from_env().available()
}

impl Virsh {
    /// Checks that libvirt knows the domain and that it runs.
    pub fn open(domain: &str) -> Result<Virsh> {
        if domain.starts_with('-') || domain.is_empty() {
            bail!("`{domain}` is not a libvirt domain name");
        }
        if !virsh_available() {
            bail!(
                "`{domain}` is neither a QMP socket nor a QEMU PID, and libvirt is not installed \
                 (no `virsh` on PATH) to look it up as a domain name; give the QMP socket path \
                 (-qmp unix:PATH,server=on,wait=off) or the QEMU PID"
            );
        }
        let virsh = crate::virsh::Virsh::from_env();
        let state = virsh
            .domstate(domain)
            .with_context(|| format!("libvirt has no domain `{domain}`"))?;
        if state != "running" && state != "paused" {
            bail!("libvirt domain `{domain}` is {state}: start it first");
        }
        Ok(Virsh {
            domain: domain.to_string(),
            virsh,
        })
    }

    /// The QEMU PID libvirt recorded for the domain.
    pub fn qemu_pid(&self) -> Result<i32> {
        let file = Path::new("/run/libvirt/qemu").join(format!("{}.pid", self.domain));
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}: run as root", file.display()))?;
        text.trim()
            .parse()
            .with_context(|| format!("{} holds no PID", file.display()))
    }
}

/// True for the commands we relay through libvirt: queries only, as libvirt's docs ask.
pub fn is_read_only(command: &str) -> bool {
    command.starts_with("query-") || command == "qom-get" || command == "qom-list"
}

impl Execute for Virsh {
    fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value, QmpError> {
        if !is_read_only(command) {
            return Err(QmpError::Command {
                command: command.to_string(),
                class: "remus-tune".into(),
                desc: "only read-only queries are sent to a libvirt-managed QEMU".into(),
            });
        }
        let mut request = json!({ "execute": command });
        if let Some(a) = arguments {
            request["arguments"] = a;
        }
        let path = Path::new("virsh").join(&self.domain);
        let out = self
            .virsh
            .qemu_monitor_command(&self.domain, &request.to_string())
            .map_err(|e| match e {
                crate::virsh::VirshError::NotFound { source, .. } => QmpError::Io {
                    path: path.clone(),
                    source,
                },
                other => QmpError::Gone {
                    path: path.clone(),
                    what: format!("`{command}` through virsh ({other})"),
                },
            })?;
        let reply: Value = serde_json::from_str(&out).map_err(|e| QmpError::Protocol {
            path: path.clone(),
            detail: format!("virsh gave no JSON: {e}"),
        })?;
        if let Some(error) = reply.get("error") {
            return Err(QmpError::Command {
                command: command.to_string(),
                class: error["class"].as_str().unwrap_or("unknown").to_string(),
                desc: error["desc"].as_str().unwrap_or("").to_string(),
            });
        }
        Ok(reply.get("return").cloned().unwrap_or(Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_queries_pass() {
        assert!(is_read_only("query-blockstats") && is_read_only("qom-get"));
        assert!(!is_read_only("calc-dirty-rate") && !is_read_only("stop"));
        let mut v = Virsh {
            domain: "web01".into(),
            virsh: crate::virsh::Virsh::from_env(),
        };
        let err = v.execute("stop", None).unwrap_err();
        assert!(err.to_string().contains("read-only"), "{err}");
    }

    #[test]
    fn option_like_names_are_refused() {
        assert!(Virsh::open("--help").is_err());
    }

    #[test]
    fn missing_libvirt_is_explained() {
        if virsh_available() {
            crate::note!("virsh is installed here; the no-libvirt message is not checked");
            return;
        }
        let err = Virsh::open("web01").err().expect("no virsh, so no domain");
        assert!(
            err.to_string().contains("libvirt is not installed"),
            "{err}"
        );
    }
}
