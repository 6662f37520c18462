//! Every form a plan is written in is one emitter behind [`Emitter`], one file each: a table
//! for people, shell commands, xl.cfg lines, the Xen boot line, libvirt's `<cputune>`,
//! systemd and tuned settings for the host's own work, and JSON/YAML for scripts. Emitters
//! return text and never print: the command writes it.

mod boot;
mod json;
mod libvirt_xml;
mod shell;
mod systemd;
mod text;
mod tuned;
mod xl_cfg;
mod yaml;

pub use shell::shell_quote;

use super::model::{cpus_of_role, Plan, Role, Target};
use crate::cpulist::CpuList;

/// Renders a plan in one format.
pub trait Emitter {
    fn emit(&self, plan: &Plan) -> anyhow::Result<String>;
}

/// `pin --format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PinFormat {
    /// A table, the current pinning beside it, and a sentence per rule.
    #[default]
    Text,
    /// The `xl vcpu-pin` / `xl cpupool-*`, `virsh` or `taskset` commands, one per line.
    Shell,
    /// `cpus=` / `cpus_soft=` lines for each domain's xl config (survive reboot and failover).
    XlCfg,
    /// The Xen command line options for Dom-0.
    Boot,
    /// A libvirt `<cputune>` per guest (vcpupin, emulatorpin, iothreadpin): persistent pins.
    LibvirtXml,
    /// systemd settings that keep the host's own work on the host's cores (KVM and plain hosts).
    Systemd,
    /// A tuned `cpu-partitioning` variables file isolating the VMs' cores (KVM and plain hosts).
    Tuned,
    /// The plan, machine-readable (top-level `assignments`).
    Yaml,
    /// The same as JSON.
    Json,
}

/// The emitter for `format`.
pub fn emitter(format: PinFormat) -> Box<dyn Emitter> {
    match format {
        PinFormat::Text => Box::new(text::Text),
        PinFormat::Shell => Box::new(shell::Shell),
        PinFormat::XlCfg => Box::new(xl_cfg::XlCfg),
        PinFormat::Boot => Box::new(boot::Boot),
        PinFormat::LibvirtXml => Box::new(libvirt_xml::LibvirtXml),
        PinFormat::Systemd => Box::new(systemd::Systemd),
        PinFormat::Tuned => Box::new(tuned::Tuned),
        PinFormat::Yaml => Box::new(yaml::Yaml),
        PinFormat::Json => Box::new(json::Json),
    }
}

/// The host's own CPUs (the Dom-0 role on a KVM or plain host) and every other CPU of the
/// plan, for the forms that keep the host's work apart (systemd, tuned). Refuses Xen plans:
/// there these tools run inside Dom-0 and see only Dom-0's virtual CPUs (interfaces.md §0
/// item 11), so Dom-0 is kept apart by pinning its vCPUs instead.
fn host_and_guest_cpus(plan: &Plan, form: &str) -> anyhow::Result<(CpuList, CpuList)> {
    if plan.target == Target::Xen {
        anyhow::bail!(
            "--format {form} is for KVM and plain Linux hosts: in a Xen Dom-0 it would see only Dom-0's virtual CPUs, not the physical ones the plan names. On Xen, Dom-0 is kept off the protected cores by pinning its vCPUs: use --format shell (xl vcpu-pin) and --format boot"
        );
    }
    let host = cpus_of_role(&plan.placements, Role::Dom0);
    let guests = plan
        .placements
        .iter()
        .filter(|p| p.role != Role::Dom0)
        .fold(CpuList::new(), |a, p| a.union(&p.cpus))
        .difference(&host);
    if host.is_empty() || guests.is_empty() {
        anyhow::bail!("the plan has no CPUs apart from the host's for the VMs (see the FAIL lines of `--format text`): nothing to keep apart");
    }
    Ok((host, guests))
}

/// Lines of the plan's broken rules, for the forms that are run or installed as they are.
fn failure_comment(plan: &Plan, comment: &str) -> String {
    let fails = plan.failures();
    if fails.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "{comment} WARNING: THIS PLAN BREAKS {} RULE(S). Read them before using it:\n",
        fails.len()
    );
    for r in fails {
        out.push_str(&format!(
            "{comment} FAIL: {}\n",
            r.detail.replace('\n', " ")
        ));
    }
    out
}
