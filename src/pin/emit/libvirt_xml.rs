//! `--format libvirt-xml`: a `<cputune>` per guest, the persistent form of libvirt pinning
//! (`virsh vcpupin … --live` alone is lost at the next start and on migration). vCPUs on the
//! guest's CPUs; the emulator threads and IOThreads of protected guests on the host's CPUs
//! (they do the device emulation and the checkpoint copying), those of others beside their
//! vCPUs — the same pins `pin --apply --libvirt` sets with `--live --config`.
//!
//! Element and attribute names: libvirt's formatdomain (`<vcpupin vcpu= cpuset=/>`,
//! `<emulatorpin cpuset=/>`, `<iothreadpin iothread= cpuset=/>`, interfaces.md §4.5).

use super::{failure_comment, Emitter};
use crate::pin::commands::{virsh_pins, PinKind};
use crate::pin::model::{Plan, Role};

pub struct LibvirtXml;

impl Emitter for LibvirtXml {
    fn emit(&self, plan: &Plan) -> anyhow::Result<String> {
        let mut out = String::new();
        let warning = failure_comment(plan, "  ");
        if !warning.is_empty() {
            out.push_str(&format!("<!--\n{}-->\n", comment_safe(&warning)));
        }
        let pins = virsh_pins(plan);
        for p in plan.placements.iter().filter(|p| p.role != Role::Dom0) {
            let role = if p.role == Role::Protected {
                "protected"
            } else {
                "unprotected"
            };
            out.push_str(&format!(
                "<!-- {} ({role}): this cputune block goes inside its domain (virsh edit), on the primary and the backup host -->\n<cputune>\n",
                comment_safe(&p.domain)
            ));
            for pin in pins.iter().filter(|x| x.domain == p.domain) {
                let line = match pin.kind {
                    PinKind::Vcpu(v) => format!("<vcpupin vcpu='{v}' cpuset='{}'/>", pin.cpus),
                    PinKind::Emulator => format!("<emulatorpin cpuset='{}'/>", pin.cpus),
                    PinKind::Iothread(id) => {
                        format!("<iothreadpin iothread='{id}' cpuset='{}'/>", pin.cpus)
                    }
                };
                out.push_str(&format!("  {line}\n"));
            }
            out.push_str("</cputune>\n");
        }
        Ok(out)
    }
}

/// Text that may stand inside an XML comment: no `--` (which ends or breaks one), and no
/// trailing `-` (which would meet the closing `-->`).
fn comment_safe(text: &str) -> String {
    let mut s = text.replace("--", "-\u{2010}");
    while s.contains("--") {
        s = s.replace("--", "-\u{2010}");
    }
    if s.ends_with('-') {
        s.push(' ');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::comment_safe;

    #[test]
    fn comments_stay_comments() {
        assert_eq!(comment_safe("web01"), "web01");
        assert!(!comment_safe("vm--incoming").contains("--"));
        assert!(!comment_safe("a---b-").contains("--"));
        assert!(!comment_safe("a-").ends_with('-'));
    }
}
