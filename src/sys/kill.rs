//! Sending a signal to a process we started: the one `kill(2)` of the tool, so that a PID
//! that may have been reused never receives it.

use std::process::Child;

/// Sends `signal` to `child` if it has not exited yet; returns whether it was still running.
pub fn signal_child(child: &mut Child, signal: i32) -> std::io::Result<bool> {
    send(child, signal, false)
}

/// Sends `signal` to the process group `child` leads (it was started with
/// `process_group(0)`, so the group id is its PID), if `child` has not exited yet: as Ctrl-C
/// at a terminal reaches a program and the children it forked.
pub fn signal_group(child: &mut Child, signal: i32) -> std::io::Result<bool> {
    send(child, signal, true)
}

/// Sends `signal` to each of `pids`: processes the caller just found among its own
/// descendants (children re-parented to it as their subreaper included). A PID that has
/// exited meanwhile gets nothing (ESRCH is ignored); it cannot have been reused by a
/// stranger while it is our unreaped descendant.
pub fn signal_descendants(pids: &[i32], signal: i32) {
    for &pid in pids {
        // SAFETY: kill has no memory-safety preconditions; see above for why the PID is ours.
        unsafe { libc::kill(pid, signal) };
    }
}

fn send(child: &mut Child, signal: i32, group: bool) -> std::io::Result<bool> {
    if child.try_wait()?.is_some() {
        return Ok(false);
    }
    let pid = child.id() as libc::pid_t;
    let target = if group { -pid } else { pid };
    // SAFETY: kill has no memory-safety preconditions. The child is ours and try_wait just
    // found it not yet reaped, so its PID (and the group it leads) cannot have been reused.
    if unsafe { libc::kill(target, signal) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::Command;

    #[test]
    fn signals_reach_a_running_child_and_never_a_reaped_one() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        assert!(signal_child(&mut child, libc::SIGTERM).unwrap());
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGTERM));
        assert!(!signal_child(&mut child, libc::SIGTERM).unwrap());

        let mut leader = Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        assert!(signal_group(&mut leader, libc::SIGINT).unwrap());
        assert_eq!(leader.wait().unwrap().signal(), Some(libc::SIGINT));
    }
}
