//! Starting the `--exec` command and stopping everything it started.
//!
//! The command runs directly (no shell) in a process group of its own, and remus-tune makes
//! itself the "child subreaper" of what it starts, so descendants whose parent exits are
//! re-parented to remus-tune instead of init: the whole tree stays findable. On every exit
//! path the caller runs [`stop_tree`], which sends SIGTERM to the group and to every
//! descendant (a daemon that left the group with `setsid` included), waits up to 3 s, then
//! sends SIGKILL, and reaps what it can. If remus-tune itself is killed with SIGKILL, the
//! kernel sends SIGKILL to the command (`PR_SET_PDEATHSIG`); its descendants then outlive
//! it, which only a cgroup could prevent.

use super::tree::descendants;
use anyhow::{Context, Result};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How long the tree gets to exit after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(3);

/// Starts `command` (program and arguments); its stdout goes to our stderr, so that stdout
/// carries only the summary (which scripts parse as JSON or YAML).
pub fn launch(command: &[String]) -> Result<Child> {
    let (program, rest) = command
        .split_first()
        .context("--exec needs a command after `--`")?;
    let stderr = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .context("cannot pass stderr to the command")?;
    // SAFETY: prctl has no memory-safety preconditions; it marks this process so that
    // orphaned descendants of the command are re-parented to it.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let mut cmd = Command::new(program);
    cmd.args(rest).stdout(stderr).process_group(0);
    // SAFETY: the closure runs in the child between fork and exec and calls only prctl,
    // which is async-signal-safe; it touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            Ok(())
        });
    }
    cmd.spawn().with_context(|| {
        format!("cannot run `{program}`: check the path and that it is executable")
    })
}

/// Sends `signal` to the command's process group (while the command runs: it leads the
/// group, `process_group(0)`) and to every descendant of ours, found just now.
fn signal_tree(child: &mut Child, signal: i32) -> Vec<i32> {
    let tree = descendants(&[std::process::id() as i32]);
    let _ = crate::sys::kill::signal_group(child, signal);
    crate::sys::kill::signal_descendants(&tree, signal);
    tree
}

/// Reaps whichever of `pids` are our children and have exited; true when none is left alive.
fn reap(pids: &[i32]) -> bool {
    let mut alive = false;
    for &p in pids {
        // SAFETY: waitpid with WNOHANG and a null status pointer only reaps a child of ours.
        let reaped = unsafe { libc::waitpid(p, std::ptr::null_mut(), libc::WNOHANG) };
        if reaped != p && !super::target::is_gone(p) {
            alive = true;
        }
    }
    !alive
}

/// Stops the command and everything it started (see the module's note). Safe to call when
/// all of it has exited already.
pub fn stop_tree(child: &mut Child) {
    let all_done = |child: &mut Child| {
        // The command itself is reaped through `Child` only, which keeps its exit status.
        let command_done = matches!(child.try_wait(), Ok(Some(_)));
        let pid = child.id() as i32;
        let tree: Vec<i32> = descendants(&[std::process::id() as i32])
            .into_iter()
            .filter(|&p| p != pid)
            .collect();
        reap(&tree);
        command_done && tree.iter().all(|&p| super::target::is_gone(p))
    };
    if all_done(child) {
        return;
    }
    signal_tree(child, libc::SIGTERM);
    let deadline = Instant::now() + GRACE;
    loop {
        if all_done(child) {
            return;
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id() as i32;
    let tree: Vec<i32> = signal_tree(child, libc::SIGKILL)
        .into_iter()
        .filter(|&p| p != pid)
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(1);
    while !reap(&tree) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}
