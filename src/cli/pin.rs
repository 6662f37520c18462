use super::topology::TopologySource;
use crate::pin::emit::PinFormat;
use crate::pin::Strategy;
use std::path::PathBuf;

/// `remus-tune pin`: plan (dry run by default), apply, check or revert.
#[derive(clap::Args, Debug)]
pub struct PinArgs {
    /// The protected VMs (default: every running Dom-U, or every `--domain` but Domain-0).
    #[arg(value_name = "VM")]
    pub vms: Vec<String>,

    /// How many CPUs Dom-0 gets, rounded up to whole cores (default: one per protected VM
    /// plus one, rounded up to whole cores, at most 8).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub dom0_cpus: Option<u32>,

    /// How the plan is written; --apply, --check and --revert report in text, json or yaml.
    #[arg(long, value_enum, default_value_t = PinFormat::Text)]
    pub format: PinFormat,

    /// `pin`: hard affinity only; `cpupool`: a cpupool for the protected VMs as well.
    #[arg(long, value_enum, default_value_t = Strategy::Pin)]
    pub strategy: Strategy,

    /// Plan for a host you are not on: a saved `xl info -n` output or hwloc XML.
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,

    /// Where to ask for the live topology (see `remus-tune topology --help`).
    #[arg(long, value_enum, default_value_t = TopologySource::Auto, conflicts_with = "topology")]
    pub source: TopologySource,

    /// Declare a domain and its vCPU count instead of asking `xl` (repeatable), e.g.
    /// `--domain Meine-VM=4 --domain Domain-0=2`.
    #[arg(long = "domain", value_name = "NAME=VCPUS", value_parser = parse_domain)]
    pub domains: Vec<(String, u32)>,

    /// A protected domain (repeatable; same as naming it as VM).
    #[arg(long = "protect", value_name = "NAME")]
    pub protect: Vec<String>,

    /// A QEMU/KVM or plain process to protect, by PID, with its vCPU count if known
    /// (default: its `CPU n/KVM` threads, else 1). Repeatable. Its threads are pinned with
    /// sched_setaffinity.
    #[arg(long = "pid", value_name = "PID[=VCPUS]", value_parser = parse_pid, conflicts_with = "domains")]
    pub pids: Vec<(u32, Option<u32>)>,

    /// A QEMU VM to protect, by its QMP socket (repeatable): `query-cpus-fast` tells its vCPU
    /// threads, which go on the VM's cores; its other threads go on the host's. Not for
    /// libvirt guests (libvirt holds their QMP) nor Xen's qmp-libxl-* sockets.
    #[arg(long = "qmp", value_name = "SOCKET", conflicts_with = "domains")]
    pub qmp: Vec<PathBuf>,

    /// The VMs are libvirt guests: read and pin them with `virsh vcpupin/emulatorpin`, which
    /// keeps libvirt's cgroups consistent (raw affinities would be clipped and overwritten).
    #[arg(long, conflicts_with_all = ["domains", "pids", "qmp"])]
    pub libvirt: bool,

    /// Carry the plan out: journal the current affinities, apply, read back, roll back on
    /// any failure or mismatch.
    #[arg(long, conflicts_with_all = ["check", "revert"])]
    pub apply: bool,

    /// Compare the live affinities with the plan; exit status 4 on drift (for monitoring).
    #[arg(long, conflicts_with = "revert")]
    pub check: bool,

    /// Restore the affinities saved in the journal by `--apply`.
    #[arg(long)]
    pub revert: bool,

    /// With --revert: restore a process journal written before start times were recorded,
    /// comparing thread names only (check with `ps -L` first that the PIDs were not reused).
    #[arg(long, requires = "revert")]
    pub force: bool,

    /// Also plan for the Remus backup host (a saved `xl info -n` or hwloc XML): the protected
    /// VMs get CPUs that are whole cores of their own on both hosts where possible, else
    /// per-host configs, and the backup's Dom-0 keeps cores for the receiving side.
    #[arg(long, value_name = "FILE")]
    pub backup_topology: Option<PathBuf>,

    /// The journal for `--apply` and `--revert` [default: /var/lib/remus-tune/pin-journal.yaml].
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,

    /// Use a plan saved with `--format yaml` for `--check` or `--apply` instead of planning anew.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
}

fn parse_domain(text: &str) -> Result<(String, u32), String> {
    let (name, vcpus) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=VCPUS (e.g. Meine-VM=4)"))?;
    if name.is_empty() {
        return Err(format!("`{text}` has no domain name before `=`"));
    }
    let vcpus: u64 = vcpus
        .parse()
        .map_err(|_| format!("`{vcpus}` in `{text}` is not a vCPU count"))?;
    let vcpus = crate::limits::check_vcpus(vcpus, text).map_err(|e| e.to_string())?;
    if vcpus == 0 {
        return Err(format!("`{text}`: a domain has at least one vCPU"));
    }
    Ok((name.to_string(), vcpus))
}

fn parse_pid(text: &str) -> Result<(u32, Option<u32>), String> {
    let (pid, vcpus) = match text.split_once('=') {
        Some((p, v)) => (p, Some(v)),
        None => (text, None),
    };
    let pid: u32 = pid
        .parse()
        .map_err(|_| format!("`{pid}` is not a process id"))?;
    let vcpus = vcpus
        .map(|v| {
            let n = v
                .parse::<u64>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("`{v}` is not a vCPU count"))?;
            crate::limits::check_vcpus(n, text).map_err(|e| e.to_string())
        })
        .transpose()?;
    Ok((pid, vcpus))
}
