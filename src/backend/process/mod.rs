//! The process backend: any Linux process, measured from outside through /proc.
//!
//! Memory: the process's writable mappings, scanned by one of the `scanner`s (soft-dirty,
//! hash or sample). Disk: /proc/PID/io `write_bytes` and `syscw`. CPU: the process CPU-time
//! clock. Nothing is switched on in the target except, for soft-dirty, write-protection that
//! the kernel lifts page by page on the next write; nothing needs switching off.

pub mod exec;
pub mod hash;
pub mod memory;
pub mod pagehash;
pub mod sample;
pub mod scanner;
pub mod softdirty;
pub mod target;
pub mod tree;

use super::{Backend, BackendError, Counters, EpochSample};
use crate::backend::MethodChoice;
use crate::trace::{MethodInfo, Target};
use anyhow::{anyhow, Context};
use memory::ProcessMemory;
use sample::SampleSize;
use scanner::DirtyScanner;
use std::time::Duration;
use target::{is_gone, ProcessTarget};

/// How to measure a process.
#[derive(Debug, Clone, Copy)]
pub struct ProcessOptions {
    pub method: MethodChoice,
    pub epoch: Duration,
    pub sample: SampleSize,
}

/// A Linux process being measured.
pub struct ProcessBackend {
    target: ProcessTarget,
    options: ProcessOptions,
    memory: ProcessMemory,
    page_size: u64,
    scanner: Option<Box<dyn DirtyScanner>>,
    method: Option<MethodInfo>,
}

impl ProcessBackend {
    /// Prepares to measure `target`; checks up front that we may read it, so a permission
    /// problem is reported before anything starts.
    pub fn new(target: ProcessTarget, options: ProcessOptions) -> anyhow::Result<Self> {
        check_access(&target)?;
        let page_size = crate::sys::page_size() as u64;
        Ok(Self {
            memory: ProcessMemory::new(target.pid, page_size),
            target,
            options,
            page_size,
            scanner: None,
            method: None,
        })
    }

    fn gone(&self) -> BackendError {
        BackendError::TargetGone(format!(
            "process {} ({}) exited during the measurement",
            self.target.pid, self.target.name
        ))
    }

    /// Turns a failure into TargetGone when the reason is that the process ended. An exiting
    /// process drops its memory before /proc shows it as a zombie: reads then fail with ESRCH
    /// while it still looks alive, so ESRCH counts as gone too.
    fn classify(&self, err: anyhow::Error) -> BackendError {
        if says_no_such_process(&err) || is_gone(self.target.pid) {
            self.gone()
        } else {
            BackendError::Other(err)
        }
    }

    fn counters(&self) -> anyhow::Result<Counters> {
        let pid = self.target.pid;
        let io = procfs::process::Process::new(pid)
            .and_then(|process| process.io())
            .with_context(|| format!("cannot read /proc/{pid}/io"))?;
        Ok(Counters {
            write_bytes: io.write_bytes,
            write_requests: io.syscw,
            cpu_s: crate::sys::cpuclock::process_cpu_seconds(pid)
                .with_context(|| format!("cannot read the CPU time of process {pid}"))?,
        })
    }
}

/// True when an OS error in `err`'s chain is ESRCH ("no such process").
fn says_no_such_process(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
            == Some(libc::ESRCH)
    })
}

/// Fails with what to do when this user may not read the target's memory or I/O counters.
fn check_access(target: &ProcessTarget) -> anyhow::Result<()> {
    let pid = target.pid;
    let denied = |what: &str, err: &std::io::Error| {
        if pid == 1 {
            return anyhow!(
                "cannot read {what} of process 1 ({}): {err}. PID 1 is the init process of this \
                 system or container, which the kernel often protects even from root; measure \
                 one of the processes it runs instead",
                target.name
            );
        }
        anyhow!(
            "cannot read {what} of process {pid} ({}): {err}. Run remus-tune as root, or as the \
             process's owner with ptrace allowed (sysctl kernel.yama.ptrace_scope=0)",
            target.name
        )
    };
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .map_err(|err| denied("the I/O counters (/proc/PID/io)", &err))?;
    crate::sys::pagemap::Pagemap::open(pid).map_err(|err| denied("the page map", &err))?;
    let mut byte = [0u8; 1];
    let stack = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .map_err(|err| denied("the memory map", &err))?
        .lines()
        .find(|line| line.ends_with("[stack]"))
        .and_then(|line| u64::from_str_radix(line.split('-').next()?, 16).ok());
    if let Some(address) = stack {
        crate::sys::vmread::read_range(pid, address, &mut byte)
            .map_err(|err| denied("the memory", &err))?;
    }
    Ok(())
}

impl Backend for ProcessBackend {
    fn target(&self) -> Target {
        Target {
            kind: "process".into(),
            name: self.target.name.clone(),
            pid: Some(self.target.pid as u32),
            command: self.target.command.clone(),
        }
    }

    fn method(&self) -> MethodInfo {
        self.method.clone().unwrap_or_else(MethodInfo::not_started)
    }

    fn page_size(&self) -> u64 {
        self.page_size
    }

    fn memory_bytes(&self) -> u64 {
        self.scanner.as_ref().map_or(0, |s| s.watched_bytes())
    }

    fn kind(&self) -> &'static str {
        "process"
    }

    fn start(&mut self) -> Result<Counters, BackendError> {
        let chosen = scanner::choose(
            self.options.method,
            &mut self.memory,
            self.page_size,
            self.options.epoch,
            self.options.sample,
        )
        .map_err(|err| self.classify(err))?;
        self.scanner = Some(chosen.scanner);
        self.method = Some(chosen.info);
        self.counters().map_err(|err| self.classify(err))
    }

    fn collect(&mut self) -> Result<EpochSample, BackendError> {
        if is_gone(self.target.pid) {
            return Err(self.gone());
        }
        let scanner = self
            .scanner
            .as_mut()
            .ok_or_else(|| BackendError::Other(anyhow!("collect before start")))?;
        let dirty = match scanner.scan(&mut self.memory) {
            Ok(dirty) => dirty,
            Err(err) => return Err(self.classify(err)),
        };
        let scale = self.scanner.as_ref().map_or(1.0, |s| s.scale());
        let counters = self.counters().map_err(|err| self.classify(err))?;
        Ok(EpochSample {
            dirty,
            scale,
            counters,
            details: Default::default(),
        })
    }

    fn stop(&mut self) -> Result<(), BackendError> {
        // Soft-dirty leaves only write-protected PTEs, which the kernel lifts on the next
        // write; hash and sample change nothing. Dropping the scanner closes our files.
        self.scanner = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::says_no_such_process;
    use anyhow::Context;

    #[test]
    fn esrch_under_context_means_the_process_is_gone() {
        let read: std::io::Result<()> = Err(std::io::Error::from_raw_os_error(libc::ESRCH));
        let err = read
            .context("cannot read the memory of process 42")
            .unwrap_err();
        assert!(says_no_such_process(&err));
        let denied: std::io::Result<()> = Err(std::io::Error::from_raw_os_error(libc::EPERM));
        assert!(!says_no_such_process(&denied.context("x").unwrap_err()));
        assert!(!says_no_such_process(&anyhow::anyhow!(
            "no OS error at all"
        )));
    }
}
