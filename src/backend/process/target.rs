//! Finding the process a user means: a PID, or a name matched against every process's
//! `comm` and the file name of its argv[0].

use anyhow::{bail, Result};

/// A process picked for measuring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessTarget {
    pub pid: i32,
    /// Short name (`comm`).
    pub name: String,
    /// Its command line.
    pub command: Vec<String>,
}

impl ProcessTarget {
    /// A process we just launched with `command`. Its /proc entries can still show the
    /// parent's name for a moment after `spawn` returns (the kernel releases a vfork parent
    /// before it renames the child), so the name comes from the command itself.
    pub fn launched(pid: i32, command: &[String]) -> Self {
        let argv0 = command.first().map(String::as_str).unwrap_or("command");
        Self {
            pid,
            name: argv0.rsplit('/').next().unwrap_or(argv0).to_string(),
            command: command.to_vec(),
        }
    }

    /// Reads a live process's name and command line.
    pub fn from_pid(pid: i32) -> Result<Self> {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).map_err(|_| {
            anyhow::anyhow!(
                "no process has PID {pid}: check it with `ps -p {pid}`, or name the process instead"
            )
        })?;
        if is_zombie(pid) {
            bail!(
                "process {pid} ({}) has already exited (it is a zombie)",
                comm.trim()
            );
        }
        if is_kernel_thread(pid) {
            bail!(
                "process {pid} ({}) is a kernel thread: it has no user memory of its own to \
                 measure; give the PID of a user process",
                comm.trim()
            );
        }
        Ok(Self {
            pid,
            name: comm.trim().to_string(),
            command: command_line(pid),
        })
    }
}

/// Resolves TARGET: all digits is a PID, anything else a process name.
pub fn resolve(target: &str) -> Result<ProcessTarget> {
    if !target.is_empty() && target.bytes().all(|b| b.is_ascii_digit()) {
        let pid = target.parse::<i32>().ok().filter(|&pid| pid > 0);
        let Some(pid) = pid else {
            bail!(
                "`{target}` is not a valid PID: PIDs run from 1 to {} here (/proc/sys/kernel/pid_max)",
                pid_max()
            );
        };
        return ProcessTarget::from_pid(pid);
    }
    let me = std::process::id() as i32;
    let mut matches = Vec::new();
    for pid in all_pids() {
        if pid == me {
            continue;
        }
        let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) else {
            continue;
        };
        let command = command_line(pid);
        let argv0 = command
            .first()
            .map(|arg0| arg0.rsplit('/').next().unwrap_or(arg0).to_string());
        if comm.trim() == target || argv0.as_deref() == Some(target) {
            if is_zombie(pid) {
                continue;
            }
            matches.push(ProcessTarget {
                pid,
                name: comm.trim().to_string(),
                command,
            });
        }
    }
    match matches.len() {
        0 => bail!(
            "no running process is named `{target}`: give its PID instead (see `pgrep -a {target}`)"
        ),
        1 => Ok(matches.remove(0)),
        _ => {
            let list: Vec<String> = matches
                .iter()
                .map(|m| format!("  {:>7}  {}", m.pid, m.command.join(" ")))
                .collect();
            bail!(
                "`{target}` matches {} processes; give the PID of the one to measure:\n{}",
                matches.len(),
                list.join("\n")
            )
        }
    }
}

/// Every PID in /proc now.
pub(super) fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The command line of `pid`, split at NULs (empty for kernel threads).
pub fn command_line(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|&b| b == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// True when `pid` is gone or a zombie: it will never dirty another page.
pub fn is_gone(pid: i32) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid)
}

/// The largest PID this system hands out (Linux's default when unreadable).
fn pid_max() -> u64 {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(4_194_304)
}

/// True for a kernel thread (PF_KTHREAD in /proc/PID/stat's flags): no user memory.
fn is_kernel_thread(pid: i32) -> bool {
    const PF_KTHREAD: u32 = 0x0020_0000;
    procfs::process::Process::new(pid)
        .and_then(|process| process.stat())
        .is_ok_and(|stat| stat.flags & PF_KTHREAD != 0)
}

fn is_zombie(pid: i32) -> bool {
    match procfs::process::Process::new(pid).and_then(|process| process.stat()) {
        Ok(stat) => matches!(stat.state, 'Z' | 'X' | 'x'),
        Err(_) => true,
    }
}

/// Any running CRIU: its incremental dumps rely on the soft-dirty bits we would reset.
pub fn criu_running() -> Option<i32> {
    all_pids().into_iter().find(|&pid| {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "criu")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_and_name() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        // Give exec a moment to rename the child (see `launched`).
        std::thread::sleep(std::time::Duration::from_millis(50));
        let found = resolve(&pid.to_string()).unwrap();
        assert_eq!(found.name, "sleep");
        assert_eq!(found.command, vec!["sleep", "30"]);
        assert!(!is_gone(pid));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(is_gone(pid));
        let err = resolve(&pid.to_string()).unwrap_err().to_string();
        assert!(err.contains("no process has PID"), "{err}");
    }

    #[test]
    fn kernel_threads_and_impossible_pids_are_named() {
        let err = resolve("2").unwrap_err().to_string();
        assert!(err.contains("is a kernel thread"), "{err}");
        let err = resolve("2147483648").unwrap_err().to_string();
        assert!(
            err.contains("not a valid PID") && err.contains("pid_max"),
            "{err}"
        );
    }

    #[test]
    fn unknown_name() {
        let err = resolve("no-such-process-xyz").unwrap_err().to_string();
        assert!(err.contains("no running process is named"), "{err}");
        assert!(resolve("0").is_err());
    }
}
