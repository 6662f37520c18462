//! The process tree of an `--exec` command, measured as one target.
//!
//! `--exec -- bash -c 'worker & worker & wait'` puts the work in children the command
//! starts; measuring the command's own PID would see a shell that dirties nothing. So the
//! tree is measured: the launched process and every descendant, found again every epoch
//! (a process started mid-run joins from the epoch it is found in; one that exits leaves
//! with the epoch it was last seen in). Each member has its own scanner, all with the
//! method the launched process got, and the dirty sets are unioned with each member's pages
//! numbered apart (separate address spaces never share a page number). Disk and CPU are the
//! sum of each member's own increments, so a member that exits takes nothing away.

use super::target::{all_pids, is_gone, ProcessTarget};
use super::{ProcessBackend, ProcessOptions};
use crate::backend::MethodChoice;
use crate::backend::{Backend, BackendError, Counters, EpochSample};
use crate::pageset::PageSet;
use crate::trace::{MethodInfo, Target};
use std::collections::{BTreeMap, BTreeSet};

/// Page numbers of member `slot` start at `slot << SLOT_SHIFT`: above any x86-64 or arm64
/// virtual page number (57-bit addresses, 4 KiB pages: 45 bits).
const SLOT_SHIFT: u32 = 46;

struct Member {
    slot: u64,
    backend: ProcessBackend,
    last: Counters,
}

/// The launched process and its descendants.
pub struct TreeBackend {
    root: ProcessTarget,
    options: ProcessOptions,
    members: BTreeMap<i32, Member>,
    /// Every PID that ever joined, so a PID is not measured twice under one slot's history.
    seen: BTreeSet<i32>,
    next_slot: u64,
    totals: Counters,
    method: Option<MethodInfo>,
    page_size: u64,
    joined_later: u64,
}

impl TreeBackend {
    pub fn new(root: ProcessTarget, options: ProcessOptions) -> anyhow::Result<Self> {
        let backend = ProcessBackend::new(root.clone(), options)?;
        let page_size = backend.page_size();
        let mut tree = Self {
            root: root.clone(),
            options,
            members: BTreeMap::new(),
            seen: BTreeSet::new(),
            next_slot: 0,
            totals: Counters::default(),
            method: None,
            page_size,
            joined_later: 0,
        };
        tree.insert(root.pid, backend, Counters::default());
        Ok(tree)
    }

    fn insert(&mut self, pid: i32, backend: ProcessBackend, last: Counters) {
        self.seen.insert(pid);
        self.members.insert(
            pid,
            Member {
                slot: self.next_slot,
                backend,
                last,
            },
        );
        self.next_slot += 1;
    }

    /// Starts measuring every descendant not yet a member; one that cannot be measured
    /// (it exited already, or runs as another user) is skipped.
    fn join_new_descendants(&mut self) {
        let roots: Vec<i32> = self.members.keys().copied().collect();
        for pid in descendants(&roots) {
            if self.seen.contains(&pid) {
                continue;
            }
            self.seen.insert(pid);
            let Ok(target) = ProcessTarget::from_pid(pid) else {
                continue;
            };
            let Ok(mut backend) = ProcessBackend::new(target, self.options) else {
                continue;
            };
            if let Ok(counters) = backend.start() {
                // Its I/O and CPU before it was found are not this run's: start from here.
                self.insert(pid, backend, counters);
                self.joined_later += 1;
            }
        }
    }

    /// The launched process's own method, for every member (auto decides once).
    fn member_method(info: &MethodInfo) -> MethodChoice {
        match info.name.as_str() {
            "soft-dirty" => MethodChoice::SoftDirty,
            "hash" => MethodChoice::Hash,
            _ => MethodChoice::Sample,
        }
    }

    /// PIDs being measured now.
    pub fn member_pids(&self) -> Vec<i32> {
        self.members.keys().copied().collect()
    }
}

impl Backend for TreeBackend {
    fn target(&self) -> Target {
        Target {
            kind: "process".into(),
            name: self.root.name.clone(),
            pid: Some(self.root.pid as u32),
            command: self.root.command.clone(),
        }
    }

    fn method(&self) -> MethodInfo {
        self.method.clone().unwrap_or_else(MethodInfo::not_started)
    }

    fn page_size(&self) -> u64 {
        self.page_size
    }

    fn memory_bytes(&self) -> u64 {
        self.members
            .values()
            .map(|m| m.backend.memory_bytes())
            .sum()
    }

    fn kind(&self) -> &'static str {
        "process"
    }

    fn start(&mut self) -> Result<Counters, BackendError> {
        let root = self.root.pid;
        let member = self
            .members
            .get_mut(&root)
            .ok_or_else(|| BackendError::Other(anyhow::anyhow!("no launched process")))?;
        member.last = member.backend.start()?;
        let mut info = member.backend.method();
        self.options.method = Self::member_method(&info);
        self.join_new_descendants();
        self.joined_later = 0;
        info.reason = format!(
            "{}; over the launched command's whole process tree ({} process(es) at the start, \
             each descendant joining when found, every epoch)",
            info.reason,
            self.members.len()
        );
        self.method = Some(info);
        Ok(Counters::default())
    }

    fn collect(&mut self) -> Result<EpochSample, BackendError> {
        self.join_new_descendants();
        let mut dirty = PageSet::new();
        let (mut counted, mut estimated) = (0u64, 0.0f64);
        let mut gone = Vec::new();
        for (&pid, member) in self.members.iter_mut() {
            let sample = match member.backend.collect() {
                Ok(sample) => sample,
                Err(BackendError::TargetGone(_)) => {
                    gone.push(pid);
                    continue;
                }
                Err(_) if is_gone(pid) => {
                    gone.push(pid);
                    continue;
                }
                Err(err) => return Err(err),
            };
            let base = member.slot << SLOT_SHIFT;
            for page in sample.dirty.iter() {
                dirty.insert(base | page);
            }
            counted += sample.dirty.len();
            estimated += sample.dirty.len() as f64 * sample.scale;
            let now = sample.counters;
            self.totals.write_bytes += now.write_bytes.saturating_sub(member.last.write_bytes);
            self.totals.write_requests += now
                .write_requests
                .saturating_sub(member.last.write_requests);
            self.totals.cpu_s += (now.cpu_s - member.last.cpu_s).max(0.0);
            member.last = now;
        }
        for pid in gone {
            if let Some(mut member) = self.members.remove(&pid) {
                let _ = member.backend.stop();
            }
            self.seen.remove(&pid);
        }
        if self.members.is_empty() {
            // An exiting process fails reads (ESRCH) a moment before it is a zombie; wait
            // for that moment, so the caller sees the launched command as exited (its
            // normal end) rather than as a target that died under it.
            let until = std::time::Instant::now() + std::time::Duration::from_secs(1);
            while !is_gone(self.root.pid) && std::time::Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            return Err(BackendError::TargetGone(format!(
                "process {} ({}) and all its descendants exited during the measurement",
                self.root.pid, self.root.name
            )));
        }
        Ok(EpochSample {
            dirty,
            // Members sampled with different scales: the epoch's weighted scale.
            scale: if counted == 0 {
                1.0
            } else {
                estimated / counted as f64
            },
            counters: self.totals,
            details: Default::default(),
        })
    }

    fn stop(&mut self) -> Result<(), BackendError> {
        for member in self.members.values_mut() {
            let _ = member.backend.stop();
        }
        Ok(())
    }
}

/// Every live descendant of `roots` (not the roots themselves). Walks the kernel's
/// per-thread `children` lists (CONFIG_PROC_CHILDREN), which costs a few reads per member
/// every epoch; without them, reads every process's parent from /proc/*/stat.
pub fn descendants(roots: &[i32]) -> Vec<i32> {
    match descendants_from_children_files(roots) {
        Some(found) => found,
        None => descendants_from_stat(roots),
    }
}

/// `None` when the kernel has no `children` files.
fn descendants_from_children_files(roots: &[i32]) -> Option<Vec<i32>> {
    let mut found = Vec::new();
    let mut queue: Vec<i32> = roots.to_vec();
    let mut visited: BTreeSet<i32> = roots.iter().copied().collect();
    while let Some(pid) = queue.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue; // exited meanwhile
        };
        for task in tasks.flatten() {
            let text = match std::fs::read_to_string(task.path().join("children")) {
                Ok(text) => text,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    if task.path().exists() {
                        return None; // the kernel has no children files
                    }
                    continue; // the thread exited meanwhile
                }
                Err(_) => continue,
            };
            for child in text
                .split_whitespace()
                .filter_map(|c| c.parse::<i32>().ok())
            {
                if visited.insert(child) {
                    found.push(child);
                    queue.push(child);
                }
            }
        }
    }
    Some(found)
}

fn descendants_from_stat(roots: &[i32]) -> Vec<i32> {
    let mut children: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for pid in all_pids() {
        if let Some(ppid) = parent_of(pid) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut found = Vec::new();
    let mut queue: Vec<i32> = roots.to_vec();
    let mut visited: BTreeSet<i32> = roots.iter().copied().collect();
    while let Some(pid) = queue.pop() {
        for &child in children.get(&pid).map(Vec::as_slice).unwrap_or(&[]) {
            if visited.insert(child) {
                found.push(child);
                queue.push(child);
            }
        }
    }
    found
}

/// The parent PID from /proc/PID/stat (the field after the command name, which may hold
/// spaces and parentheses, so it is found after the last `)`).
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_grandchildren() {
        let mut shell = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & sh -c 'sleep 30 & wait' & wait"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let found = descendants(&[shell.id() as i32]);
        let mut by_stat = descendants_from_stat(&[shell.id() as i32]);
        let mut sorted = found.clone();
        sorted.sort_unstable();
        by_stat.sort_unstable();
        assert_eq!(sorted, by_stat, "the two ways disagree");
        let names: Vec<String> = found
            .iter()
            .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok())
            .map(|c| c.trim().to_string())
            .collect();
        // sleep, sh, and the inner sh's sleep.
        assert_eq!(
            names.iter().filter(|n| *n == "sleep").count(),
            2,
            "{names:?}"
        );
        assert!(names.iter().any(|n| n == "sh"), "{names:?}");
        crate::sys::kill::signal_child(&mut shell, libc::SIGKILL).unwrap();
        crate::sys::kill::signal_descendants(&found, libc::SIGKILL);
        shell.wait().unwrap();
    }
}
