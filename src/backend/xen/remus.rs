//! Running real `xl remus` for `remus-tune trial`: the exact command line, the checkpoints it
//! reports, a clean stop, and the guest's state afterwards.
//!
//! `xl remus -F -b -n -d -i MS DOMAIN localhost`: blackhole (-b) sends checkpoints to
//! /dev/null, so nothing leaves the host; -F allows that unsafe setup, -n/-d switch off
//! network buffering and disk replication (xl_migrate.c `main_remus`, interfaces.md §1.9).
//! The host argument is required by xl's usage even with -b (seen in the Xen lab: without it
//! xl prints its usage and exits 2) and never contacted in blackhole mode.
//!
//! xl logs each checkpoint as `xc: progress: Checkpointed save: N/N  100%` (N = pages sent,
//! seen in the lab); the first checkpoint is a full live migration and is left out of every
//! per-epoch figure (interfaces.md §0 item 8). Interrupting xl mid-checkpoint can leave the
//! guest suspended (state `---ss-`, seen in the lab), so after every stop the guest's state
//! is read and, if it was left suspended, resumed the way libxl itself does
//! (`xc_domain_resume(domid, fast=1)`, then XS_RESUME to xenstored).

use crate::xl::Xl;
use anyhow::{Context, Result};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The arguments of one trial step's Remus run.
pub fn remus_args(interval_ms: u64, domain: &str) -> Vec<String> {
    [
        "remus",
        "-F",
        "-b",
        "-n",
        "-d",
        "-i",
        &interval_ms.to_string(),
        domain,
        "localhost",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Pages sent, from xl's progress line that ends a checkpoint.
///
/// A checkpoint of more than one batch (1 024 pages) is reported batch by batch as a running
/// total, `Checkpointed save: 1024/2875  35%`, `2048/2875  71%`, `2875/2875  100%` (seen in
/// the Xen lab): only the line where the count reaches the total ends a checkpoint, and
/// counting the others made one large checkpoint look like several small, closely spaced ones.
pub fn parse_checkpoint(line: &str) -> Option<u64> {
    let rest = line.split("Checkpointed save:").nth(1)?;
    let (done, rest) = rest.trim_start().split_once('/')?;
    let total = rest.split_whitespace().next()?;
    let (done, total): (u64, u64) = (done.trim().parse().ok()?, total.parse().ok()?);
    (done == total).then_some(total)
}

/// One checkpoint as xl reported it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Checkpoint {
    /// Seconds since xl was started.
    pub at_s: f64,
    pub pages: u64,
}

/// The state letters of `xl list DOMAIN` (`r-----`), from its second line.
pub fn parse_list_state(text: &str) -> Option<String> {
    let line = text.lines().nth(1)?;
    let words: Vec<&str> = line.split_whitespace().collect();
    // Name may hold spaces only in theory; the state is fifth from the end's second.
    let state = words.get(words.len().checked_sub(2)?)?;
    (state.len() == 6).then(|| state.to_string())
}

/// True when `xl list` shows the guest shut down for suspend (`---ss-`).
pub fn is_suspended(state: &str) -> bool {
    let chars: Vec<char> = state.chars().collect();
    chars.len() == 6 && chars[3] == 's' && chars[4] == 's'
}

/// A running `xl remus`.
pub struct RemusRun {
    child: Child,
    started: Instant,
    checkpoints: Arc<Mutex<Vec<Checkpoint>>>,
    tail: Arc<Mutex<VecDeque<String>>>,
    reader: Option<JoinHandle<()>>,
    pub command: String,
}

impl RemusRun {
    /// Starts `xl ARGS` in its own process group (a Ctrl-C at the terminal reaches only
    /// remus-tune, which then stops Remus in order).
    pub fn start(xl: &Xl, args: &[String]) -> Result<Self> {
        let command = format!("xl {}", args.join(" "));
        let mut child = Command::new(xl.program())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot run `{command}` (is this a Xen Dom-0?)"))?;
        let started = Instant::now();
        let checkpoints = Arc::new(Mutex::new(Vec::new()));
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr = child.stderr.take();
        let stdout = child.stdout.take();
        let (c, t) = (Arc::clone(&checkpoints), Arc::clone(&tail));
        let reader = std::thread::spawn(move || {
            let mut handles: Vec<Box<dyn std::io::Read + Send>> = Vec::new();
            if let Some(s) = stdout {
                // stdout is drained by its own thread so xl never blocks on a full pipe.
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut BufReader::new(s), &mut std::io::sink());
                });
            }
            if let Some(s) = stderr {
                handles.push(Box::new(s));
            }
            for handle in handles {
                let mut reader = BufReader::new(handle);
                let mut buf = Vec::new();
                // Progress lines may end in \r on a terminal; split on both.
                loop {
                    buf.clear();
                    match reader.read_until(b'\n', &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    for piece in String::from_utf8_lossy(&buf).split(['\r', '\n']) {
                        if piece.trim().is_empty() {
                            continue;
                        }
                        if let Some(pages) = parse_checkpoint(piece) {
                            if let Ok(mut list) = c.lock() {
                                list.push(Checkpoint {
                                    at_s: started.elapsed().as_secs_f64(),
                                    pages,
                                });
                            }
                        }
                        if let Ok(mut tail) = t.lock() {
                            if tail.len() == 20 {
                                tail.pop_front();
                            }
                            tail.push_back(piece.to_string());
                        }
                    }
                }
            }
        });
        Ok(Self {
            child,
            started,
            checkpoints,
            tail,
            reader: Some(reader),
            command,
        })
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The exit status if xl has ended by itself.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn checkpoints(&self) -> Vec<Checkpoint> {
        self.checkpoints
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    /// xl's last lines on stderr, for messages.
    pub fn tail(&self) -> Vec<String> {
        self.tail
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Stops Remus as Ctrl-C at a terminal would: SIGINT to xl's process group (xl and the
    /// save helper libxl forked), then SIGKILL to xl after `grace`.
    pub fn stop(&mut self, grace: Duration) -> Result<ExitStatus> {
        if let Some(status) = self.exited() {
            self.join();
            return Ok(status);
        }
        // xl leads its own process group (process_group(0)): xl and the save helper it forked.
        let _ = crate::sys::kill::signal_group(&mut self.child, libc::SIGINT);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                self.join();
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        crate::warn!(
            "`{}` did not stop on SIGINT within {grace:?}: killing it",
            self.command
        );
        let _ = self.child.kill();
        let status = self.child.wait()?;
        self.join();
        Ok(status)
    }

    fn join(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for RemusRun {
    fn drop(&mut self) {
        let _ = self.stop(Duration::from_secs(10));
    }
}

/// After Remus stopped: reads the guest's state and resumes it if a checkpoint was cut off
/// mid-suspend. Returns what was found, for the report.
pub fn check_and_recover(xl: &Xl, domain: &str, domid: u32) -> Result<String> {
    let text = xl.run(&["list", domain])?;
    let state = parse_list_state(&text).unwrap_or_else(|| "?".into());
    if !is_suspended(&state) {
        return Ok(state);
    }
    crate::note!(
        "the interrupted checkpoint left {domain} suspended ({state}): resuming it as Remus does \
         (xc_domain_resume, fast)"
    );
    let ctrl = super::libxenctrl::XenCtrl::open().with_context(|| {
        format!("{domain} is left suspended ({state}) and remus-tune cannot resume it")
    })?;
    match ctrl.resume_fast(domid) {
        Some(Ok(())) => {
            // As libxl_domain_resume does: without XS_RESUME the next suspend (the next
            // trial step's Remus) times out (xenstore.rs).
            let xenstore = match super::xenstore::tell_resumed(domid) {
                Ok(()) => "xenstored told (XS_RESUME)".to_string(),
                Err(why) => {
                    crate::warn!(
                        "{domain} runs again, but xenstored was not told ({why}): \
                         the next suspend of it may time out; if Remus then fails with \
                         \"guest did not suspend\", restart the domain"
                    );
                    format!("xenstored NOT told: {why}")
                }
            };
            let after = xl
                .run(&["list", domain])
                .ok()
                .and_then(|t| parse_list_state(&t))
                .unwrap_or_else(|| "?".into());
            Ok(format!("{state} → resumed ({xenstore}) → {after}"))
        }
        Some(Err(err)) => anyhow::bail!(
            "{domain} is left suspended ({state}) and resuming it failed: {err}. Check it with \
             `xl list {domain}`; if it stays suspended, shut it down and start it again"
        ),
        None => anyhow::bail!(
            "{domain} is left suspended ({state}) and libxenguest (xc_domain_resume) is not \
             installed to resume it. Install the Xen tools' libxenguest, or shut it down and \
             start it again"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_command_line() {
        assert_eq!(
            remus_args(100, "Meine-VM").join(" "),
            "remus -F -b -n -d -i 100 Meine-VM localhost"
        );
    }

    #[test]
    fn checkpoint_lines_from_the_lab() {
        // tests/fixtures/xen/xl-remus-vvv-pvh-checkpoints-tail.txt (real, Xen 4.17).
        let text =
            include_str!("../../../tests/fixtures/xen/xl-remus-vvv-pvh-checkpoints-tail.txt");
        let pages: Vec<u64> = text.lines().filter_map(parse_checkpoint).collect();
        assert_eq!(pages, vec![511, 452]);
        assert_eq!(
            parse_checkpoint("xc: progress: Domain now suspended: 0/0    0%"),
            None
        );
    }

    #[test]
    fn a_checkpoint_of_several_batches_counts_once() {
        // Real lines of one 2 875-page checkpoint (Xen lab, 2026-12-04, `xl -vvv remus`).
        let text = "xc: progress: Domain now suspended: 0/0    0%\n\
                    xc: progress: Checkpointed save: 1024/2875   35%\n\
                    xc: progress: Checkpointed save: 2048/2875   71%\n\
                    xc: progress: Checkpointed save: 2875/2875  100%\n\
                    xc: progress: Domain now suspended: 0/0    0%\n\
                    xc: progress: Checkpointed save: 1024/1720   59%\n\
                    xc: progress: Checkpointed save: 1720/1720  100%\n";
        let pages: Vec<u64> = text.lines().filter_map(parse_checkpoint).collect();
        assert_eq!(pages, vec![2875, 1720]);
    }

    #[test]
    fn list_states() {
        let text = "Name                                        ID   Mem VCPUs\tState\tTime(s)\n\
                    Meine-VM                                     1   128     1     ---ss-      53.4\n";
        let state = parse_list_state(text).unwrap();
        assert_eq!(state, "---ss-");
        assert!(is_suspended(&state));
        assert!(!is_suspended("r-----"));
        assert!(!is_suspended("---sc-")); // crashed, not suspended
    }
}
