//! Applying, checking and reverting a plan on Linux processes (plain QEMU/KVM or any
//! checkpointed process): every thread of each protected process goes onto its planned CPUs.
//!
//! All threads, not just the PID: `sched_setaffinity(pid)` pins only the main thread. When a
//! QEMU VM's vCPU threads are known (QMP `query-cpus-fast`, or the `CPU n/KVM` thread names
//! QEMU gives with `debug-threads=on`), they go on the VM's own cores and every other
//! (emulator) thread — the main loop, the migration/COLO thread that copies the checkpoints —
//! goes on the host's housekeeping cores, the role Dom-0 plays on Xen. Otherwise every thread
//! goes on the VM's cores.

use super::affinity::{comm, threads, ThreadAffinity};
use super::{describe_drift, Drift};
use crate::cpulist::CpuList;
use crate::pin::journal::{Journal, JournalBackend, ThreadEntry};
use anyhow::{anyhow, bail, Context, Result};
use std::path::Path;

/// A process and the CPUs its threads should run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessTarget {
    pub pid: u32,
    /// The VM's own CPUs: for its vCPU threads, or for every thread when those are unknown.
    pub cpus: CpuList,
    /// The vCPU threads, when known (QMP `query-cpus-fast`, or QEMU's `CPU n/KVM` names).
    pub vcpu_threads: Option<Vec<u32>>,
    /// Where the other (emulator) threads go when the vCPU threads are known: the host's
    /// housekeeping CPUs, as Dom-0 does the checkpoint work on Xen.
    pub emulator_cpus: Option<CpuList>,
}

impl ProcessTarget {
    /// Every thread on `cpus`.
    pub fn all_threads(pid: u32, cpus: CpuList) -> Self {
        Self {
            pid,
            cpus,
            vcpu_threads: None,
            emulator_cpus: None,
        }
    }

    /// The CPUs thread `tid` should have.
    pub fn cpus_for(&self, tid: u32) -> &CpuList {
        match (&self.vcpu_threads, &self.emulator_cpus) {
            (Some(vcpus), Some(emulator)) if !vcpus.contains(&tid) => emulator,
            _ => &self.cpus,
        }
    }
}

/// What `apply` did.
#[derive(Debug)]
pub struct Applied {
    pub threads: Vec<ThreadEntry>,
    pub journal: std::path::PathBuf,
}

/// `pin --apply` for processes: journal every thread, pin each, read back, roll back on any
/// failure (a thread that exits half-way, a cpuset that forbids the CPUs) or mismatch.
pub fn apply(
    sys: &dyn ThreadAffinity,
    targets: &[ProcessTarget],
    journal_path: &Path,
) -> Result<Applied> {
    let mut journal = Journal::new(JournalBackend::Process);
    let mut plan: Vec<(ThreadEntry, &CpuList)> = Vec::new();
    for t in targets {
        let tids = threads(t.pid).with_context(|| {
            format!(
                "process {} not found: is it running? (check `ps -p {}`)",
                t.pid, t.pid
            )
        })?;
        for tid in tids {
            let before = sys.get(t.pid, tid).with_context(|| {
                format!(
                    "cannot read the affinity of thread {tid} of process {}",
                    t.pid
                )
            })?;
            let entry = ThreadEntry {
                pid: t.pid,
                tid,
                comm: comm(t.pid, tid),
                cpus: before.to_string(),
            };
            journal.threads.push(entry.clone());
            plan.push((entry, t.cpus_for(tid)));
        }
    }
    journal.create(journal_path)?;

    let mut done: Vec<&ThreadEntry> = Vec::new();
    for (entry, cpus) in &plan {
        if let Err(e) = sys.set(entry.tid, cpus) {
            let why = format!(
                "cannot pin thread {} ({}) of process {} to CPUs {cpus}: {e}{}",
                entry.tid,
                entry.comm,
                entry.pid,
                hint(&e)
            );
            return Err(rolled_back(sys, &why, &done, journal_path));
        }
        done.push(entry);
    }
    let mut drift = Vec::new();
    for (entry, cpus) in &plan {
        match sys.get(entry.pid, entry.tid) {
            Ok(live) if &live == *cpus => {}
            Ok(live) => drift.push(Drift {
                what: format!("pid {} tid {} ({})", entry.pid, entry.tid, entry.comm),
                expected: cpus.to_string(),
                actual: live.to_string(),
            }),
            Err(e) => drift.push(Drift {
                what: format!("pid {} tid {} ({})", entry.pid, entry.tid, entry.comm),
                expected: cpus.to_string(),
                actual: format!("unreadable: {e}"),
            }),
        }
    }
    if !drift.is_empty() {
        let why = format!(
            "read-back differs from the plan (a cpuset cgroup clips affinities; libvirt guests need `virsh vcpupin`):\n{}",
            describe_drift(&drift)
        );
        return Err(rolled_back(sys, &why, &done, journal_path));
    }
    Ok(Applied {
        threads: journal.threads,
        journal: journal_path.to_path_buf(),
    })
}

fn hint(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::ESRCH) => " (the thread exited)",
        Some(libc::EPERM) => " (run as root or as the process's owner)",
        Some(libc::EINVAL) => " (the CPUs are outside the thread's cpuset cgroup, or offline)",
        _ => "",
    }
}

/// Restores the threads changed so far; threads that have exited need no restoring.
fn rolled_back(
    sys: &dyn ThreadAffinity,
    why: &str,
    done: &[&ThreadEntry],
    journal: &Path,
) -> anyhow::Error {
    let mut errors = String::new();
    for entry in done {
        if let Err(e) = restore(sys, entry) {
            errors.push_str(&format!(
                "  thread {} of process {}: {e}\n",
                entry.tid, entry.pid
            ));
        }
    }
    if errors.is_empty() {
        let kept = Journal::retire(journal, "rolled-back")
            .map(|p| format!("the journal is kept as {}", p.display()))
            .unwrap_or_else(|e| format!("could not move the journal aside ({e})"));
        anyhow!("{why}\nrolled back: {} thread(s) changed so far have their journalled affinity again; {kept}", done.len())
    } else {
        anyhow!(
            "{why}\nROLLBACK INCOMPLETE:\n{errors}the journal is kept at {path}: run `remus-tune pin --revert --journal {path}`",
            path = journal.display()
        )
    }
}

/// Restores one thread; a thread that no longer exists is not an error (nothing to restore).
fn restore(sys: &dyn ThreadAffinity, entry: &ThreadEntry) -> Result<bool> {
    let cpus = CpuList::parse(&entry.cpus)?;
    match sys.set(entry.tid, &cpus) {
        Ok(()) => {
            let live = sys.get(entry.pid, entry.tid)?;
            if live != cpus {
                bail!("restored to {cpus} but the kernel reports {live}");
            }
            Ok(true)
        }
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `pin --revert` for a process journal. Returns one line per thread.
pub fn revert(
    sys: &dyn ThreadAffinity,
    journal_path: &Path,
    journal: &Journal,
) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut errors = String::new();
    for entry in &journal.threads {
        // A TID can be reused by another process; only touch it if it is still this PID's.
        let alive = Path::new(&format!("/proc/{}/task/{}", entry.pid, entry.tid)).exists();
        if !alive {
            lines.push(format!(
                "pid {} tid {} ({}): gone, nothing to restore",
                entry.pid, entry.tid, entry.comm
            ));
            continue;
        }
        match restore(sys, entry) {
            Ok(true) => lines.push(format!(
                "pid {} tid {} ({}): CPUs {}",
                entry.pid, entry.tid, entry.comm, entry.cpus
            )),
            Ok(false) => lines.push(format!(
                "pid {} tid {} ({}): gone, nothing to restore",
                entry.pid, entry.tid, entry.comm
            )),
            Err(e) => errors.push_str(&format!("  pid {} tid {}: {e}\n", entry.pid, entry.tid)),
        }
    }
    if !errors.is_empty() {
        bail!(
            "revert incomplete:\n{errors}the journal stays at {}",
            journal_path.display()
        );
    }
    Journal::retire(journal_path, "reverted")
        .with_context(|| format!("restored, but cannot move {} aside", journal_path.display()))?;
    Ok(lines)
}

/// `pin --check` for processes: every thread of each target against its CPUs.
pub fn check(sys: &dyn ThreadAffinity, targets: &[ProcessTarget]) -> Result<Vec<Drift>> {
    let mut drift = Vec::new();
    for t in targets {
        let tids = threads(t.pid).with_context(|| format!("process {} not found", t.pid))?;
        for tid in tids {
            let Ok(live) = sys.get(t.pid, tid) else {
                continue;
            };
            if &live != t.cpus_for(tid) {
                drift.push(Drift {
                    what: format!("pid {} tid {tid} ({})", t.pid, comm(t.pid, tid)),
                    expected: t.cpus_for(tid).to_string(),
                    actual: live.to_string(),
                });
            }
        }
    }
    Ok(drift)
}
