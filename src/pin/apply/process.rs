//! Applying, checking and reverting a plan on Linux processes (plain QEMU/KVM or any
//! checkpointed process): every thread of each protected process goes onto its planned CPUs.
//!
//! All threads, not just the PID: `sched_setaffinity(pid)` pins only the main thread. When a
//! QEMU VM's vCPU threads are known (QMP `query-cpus-fast`, or the `CPU n/KVM` thread names
//! QEMU gives with `debug-threads=on`), they go on the VM's own cores and every other
//! (emulator) thread — the main loop, the migration/COLO thread that copies the checkpoints —
//! goes on the host's housekeeping cores, the role Dom-0 plays on Xen. Otherwise every thread
//! goes on the VM's cores.

use super::affinity::{comm, start_time, threads, ThreadAffinity};
use super::{describe_drift, Applier, Drift};
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

/// The process applier: the kernel's affinity calls, the processes a plan names (with their
/// vCPU/emulator split where known: plain QEMU), and whether `--revert` may go on without
/// start times in the journal (`--force`).
pub struct ProcessApplier<'a> {
    pub sys: &'a dyn ThreadAffinity,
    pub targets: Vec<ProcessTarget>,
    pub force: bool,
}

impl Applier for ProcessApplier<'_> {
    fn backend(&self) -> JournalBackend {
        JournalBackend::Process
    }

    fn check(&self, _plan: &crate::pin::Plan) -> Result<Vec<Drift>> {
        check(self.sys, &self.targets)
    }

    fn apply(&self, _plan: &crate::pin::Plan, journal: &Path) -> Result<super::Applied> {
        let applied = apply(self.sys, &self.targets, journal)?;
        let changes = self
            .targets
            .iter()
            .map(|t| {
                let threads = applied.threads.iter().filter(|e| e.pid == t.pid).count();
                match &t.emulator_cpus {
                    Some(host) if t.vcpu_threads.is_some() => format!(
                        "pid:{}: vCPU threads on CPUs {}, the other threads on CPUs {host} ({threads} threads)",
                        t.pid, t.cpus
                    ),
                    _ => format!("pid:{}: CPUs {} ({threads} threads)", t.pid, t.cpus),
                }
            })
            .collect();
        Ok(super::Applied {
            changed: applied.threads.len(),
            changes,
        })
    }

    fn revert(&self, journal_path: &Path, journal: &Journal) -> Result<Vec<String>> {
        revert(self.sys, journal_path, journal, self.force)
    }
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
                start_time: Some(start_time(t.pid, tid).with_context(|| {
                    format!(
                        "cannot read the start time of thread {tid} of process {}",
                        t.pid
                    )
                })?),
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

/// Whether a journalled thread is still the one that was pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// Same start time and name: restore it.
    Same,
    /// No thread with these ids: nothing to restore.
    Gone,
    /// The ids now belong to another thread (reused after the journalled one exited), or the
    /// thread was renamed: not touched. The reason says which.
    Replaced(String),
}

/// Compares a journalled thread with whatever has its ids now. Without a recorded start time
/// (an older journal) only the name can be compared; callers refuse that unless forced.
pub fn identify(entry: &ThreadEntry) -> Identity {
    let (Ok(now_start), now_comm) = (
        start_time(entry.pid, entry.tid),
        std::fs::read_to_string(format!("/proc/{}/task/{}/comm", entry.pid, entry.tid)),
    ) else {
        return Identity::Gone;
    };
    let Ok(now_comm) = now_comm else {
        return Identity::Gone;
    };
    let now_comm = now_comm.trim_end_matches('\n');
    if let Some(then) = entry.start_time.filter(|&t| t != now_start) {
        return Identity::Replaced(format!(
            "started at tick {now_start}, not {then} as journalled: another thread got the ids"
        ));
    }
    if now_comm != entry.comm {
        return Identity::Replaced(format!(
            "now named {now_comm:?}, journalled as {:?}",
            entry.comm
        ));
    }
    Identity::Same
}

/// Why a journal written before start times were recorded is refused.
fn refuse_without_start_times(journal_path: &Path, journal: &Journal) -> Option<String> {
    let unknown: Vec<String> = journal
        .threads
        .iter()
        .filter(|e| e.start_time.is_none())
        .map(|e| format!("pid {} tid {} ({})", e.pid, e.tid, e.comm))
        .collect();
    (!unknown.is_empty()).then(|| {
        format!(
            "the journal {} records no start time for {} thread(s) ({}), so remus-tune cannot tell whether those ids still belong to the threads it pinned or to a later process that reused them; nothing was changed.\n  \
             Check with `ps -L -o pid,tid,lstart,comm -p PID` that they are the same threads, then run `remus-tune pin --revert --force` (which still compares the names)",
            journal_path.display(),
            unknown.len(),
            unknown.join(", ")
        )
    })
}

/// `pin --revert` for a process journal. Returns one line per thread. A thread whose ids now
/// belong to another thread (different start time or name) is not touched; a journal without
/// start times is refused unless `force`.
pub fn revert(
    sys: &dyn ThreadAffinity,
    journal_path: &Path,
    journal: &Journal,
    force: bool,
) -> Result<Vec<String>> {
    if !force {
        if let Some(why) = refuse_without_start_times(journal_path, journal) {
            bail!(why);
        }
    }
    let mut lines = Vec::new();
    let mut errors = String::new();
    for entry in &journal.threads {
        let who = format!("pid {} tid {} ({})", entry.pid, entry.tid, entry.comm);
        match identify(entry) {
            Identity::Gone => {
                lines.push(format!("{who}: gone, nothing to restore"));
                continue;
            }
            Identity::Replaced(why) => {
                lines.push(format!("{who}: not touched, {why}"));
                continue;
            }
            Identity::Same => {}
        }
        match restore(sys, entry) {
            Ok(true) => lines.push(format!("{who}: CPUs {}", entry.cpus)),
            Ok(false) => lines.push(format!("{who}: gone, nothing to restore")),
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
