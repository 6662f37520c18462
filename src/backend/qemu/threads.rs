//! QEMU's threads by class, and the CPU time each class uses.
//!
//! vCPU threads come from `query-cpus-fast` (`thread-id` is the host TID; under single-threaded
//! TCG all vCPUs share one), iothreads from `query-iothreads`; every other thread of the process
//! is an emulator thread (main loop, workers, migration, VNC), as libvirt counts them. CPU time
//! comes from /proc/PID/task/TID/stat (utime + stime); the emulator class is the whole process
//! (/proc/PID/stat, which keeps the time of threads that have exited) minus the other two.

use std::fs;

use anyhow::{anyhow, Context, Result};
use serde::Serialize;

use super::qmp::{Execute, QmpError};

/// A vCPU and the host thread that runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vcpu {
    pub index: u32,
    pub tid: i32,
}

/// An iothread object and its host thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IoThread {
    pub id: String,
    pub tid: i32,
}

/// QEMU's threads by class, for measuring and for pinning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QemuThreads {
    pub pid: i32,
    pub vcpus: Vec<Vcpu>,
    pub iothreads: Vec<IoThread>,
    /// Every other thread of the process at the time of reading.
    pub emulator: Vec<i32>,
}

/// CPU seconds per class, cumulative.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CpuByClass {
    pub vcpu_s: f64,
    pub iothread_s: f64,
    pub emulator_s: f64,
}

impl CpuByClass {
    pub fn total(&self) -> f64 {
        self.vcpu_s + self.iothread_s + self.emulator_s
    }
}

impl QemuThreads {
    /// Asks QEMU for its vCPU and iothread TIDs and lists the rest from /proc.
    pub fn read(qmp: &mut dyn Execute, pid: i32) -> Result<QemuThreads> {
        let cpus = qmp.execute("query-cpus-fast", None)?;
        let iothreads = match qmp.execute("query-iothreads", None) {
            Ok(v) => v,
            Err(QmpError::Command { .. }) => serde_json::Value::Array(vec![]),
            Err(e) => return Err(e.into()),
        };
        let vcpus: Vec<Vcpu> = cpus
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some(Vcpu {
                    index: c["cpu-index"].as_u64()? as u32,
                    tid: c["thread-id"].as_i64()? as i32,
                })
            })
            .collect();
        let iothreads: Vec<IoThread> = iothreads
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| {
                Some(IoThread {
                    id: t["id"].as_str()?.to_string(),
                    tid: t["thread-id"].as_i64()? as i32,
                })
            })
            .collect();
        let mut threads = QemuThreads {
            pid,
            vcpus,
            iothreads,
            emulator: Vec::new(),
        };
        threads.refresh_emulator()?;
        Ok(threads)
    }

    /// Re-lists the emulator threads (workers come and go).
    pub fn refresh_emulator(&mut self) -> Result<()> {
        let all = task_ids(self.pid)?;
        let special: Vec<i32> = self
            .vcpus
            .iter()
            .map(|v| v.tid)
            .chain(self.iothreads.iter().map(|t| t.tid))
            .collect();
        self.emulator = all.into_iter().filter(|t| !special.contains(t)).collect();
        Ok(())
    }

    /// Distinct vCPU thread ids (one per vCPU under KVM or MTTCG, one for all under TCG).
    pub fn vcpu_tids(&self) -> Vec<i32> {
        let mut tids: Vec<i32> = self.vcpus.iter().map(|v| v.tid).collect();
        tids.sort_unstable();
        tids.dedup();
        tids
    }

    /// CPU time per class now.
    pub fn cpu(&self) -> Result<CpuByClass> {
        let tick = clock_tick();
        let process = stat_ticks(&format!("/proc/{}/stat", self.pid))
            .with_context(|| format!("QEMU process {} has exited", self.pid))?;
        let per_thread = |tid: i32| -> u64 {
            stat_ticks(&format!("/proc/{}/task/{tid}/stat", self.pid)).unwrap_or(0)
        };
        let vcpu: u64 = self.vcpu_tids().into_iter().map(per_thread).sum();
        let io: u64 = self.iothreads.iter().map(|t| per_thread(t.tid)).sum();
        Ok(CpuByClass {
            vcpu_s: vcpu as f64 / tick,
            iothread_s: io as f64 / tick,
            emulator_s: process.saturating_sub(vcpu + io) as f64 / tick,
        })
    }
}

/// The thread ids of a process.
pub fn task_ids(pid: i32) -> Result<Vec<i32>> {
    let mut tids: Vec<i32> = fs::read_dir(format!("/proc/{pid}/task"))
        .with_context(|| format!("cannot list the threads of process {pid}: has it exited?"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    Ok(tids)
}

/// utime + stime in clock ticks from a stat file.
fn stat_ticks(path: &str) -> Result<u64> {
    let text = fs::read_to_string(path)?;
    parse_stat_ticks(&text).ok_or_else(|| anyhow!("cannot parse {path}"))
}

/// Fields 14 and 15 of proc(5) stat, counted after the `)` that ends the command name.
pub fn parse_stat_ticks(text: &str) -> Option<u64> {
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // after ')' field 3 (state) is index 0, so field 14 is index 11
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn clock_tick() -> f64 {
    crate::sys::clock_ticks_per_second()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_ticks_survive_spaces_and_parens_in_the_name() {
        let line = "14889 (CPU 0/TCG (x)) S 14885 14885 1 0 -1 4194624 0 0 0 0 250 13 0 0 20 0 5 0 5890 0 0";
        assert_eq!(parse_stat_ticks(line), Some(263));
    }

    #[test]
    fn our_own_process_has_threads_and_cpu_time() {
        let pid = std::process::id() as i32;
        let tids = task_ids(pid).unwrap();
        assert!(tids.contains(&pid));
        let threads = QemuThreads {
            pid,
            vcpus: vec![],
            iothreads: vec![],
            emulator: tids,
        };
        let cpu = threads.cpu().unwrap();
        assert_eq!(cpu.vcpu_s, 0.0);
        assert!(cpu.emulator_s >= 0.0);
    }
}
