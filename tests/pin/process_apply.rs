//! Pinning real processes on this machine with sched_setaffinity: a multi-threaded child (this
//! test binary re-run as a helper) is pinned thread by thread, read back from /proc, checked,
//! reverted; and a thread that exits half-way through makes the apply roll back.

use crate::pin_support;
use pin_support::cli;

use remus_tune::cpulist::CpuList;
use remus_tune::pin::apply::affinity::{threads, Kernel, ThreadAffinity};
use remus_tune::pin::apply::process::{apply, ProcessTarget};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HELPER_ENV: &str = "REMUS_TUNE_PIN_HELPER";

/// Not a test: when re-run with REMUS_TUNE_PIN_HELPER=DIR, becomes a process with 4 sleeping
/// worker threads and one `vanisher` thread that exits once DIR/vanish exists.
#[test]
fn helper_process() {
    let Some(dir) = std::env::var_os(HELPER_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    // Every thread has started (and so carries its name) before we say `ready`.
    let started = std::sync::Arc::new(std::sync::Barrier::new(6));
    for i in 0..4 {
        let started = started.clone();
        std::thread::Builder::new()
            .name(format!("worker{i}"))
            .spawn(move || {
                started.wait();
                loop {
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
            .unwrap();
    }
    let vanish = dir.join("vanish");
    std::thread::Builder::new()
        .name("vanisher".into())
        .spawn({
            let started = started.clone();
            move || {
                started.wait();
                while !vanish.exists() {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        })
        .unwrap();
    started.wait();
    println!("ready");
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

struct Helper {
    child: Child,
    dir: tempfile::TempDir,
}

impl Helper {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                // libtest's name of it in this grouped binary: `process_apply::helper_process`
                concat!(module_path!(), "::helper_process")
                    .split_once("::")
                    .map_or("helper_process", |(_, name)| name),
                "--nocapture",
                "--test-threads=1",
            ])
            .env(HELPER_ENV, dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert!(
            lines.any(|l| l.unwrap().contains("ready")),
            "helper did not start"
        );
        Self { child, dir }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn affinities(&self) -> Vec<(u32, String)> {
        threads(self.pid())
            .unwrap()
            .into_iter()
            .filter_map(|t| Kernel.get(self.pid(), t).ok().map(|c| (t, c.to_string())))
            .collect()
    }

    fn tid_named(&self, name: &str) -> u32 {
        threads(self.pid())
            .unwrap()
            .into_iter()
            .find(|t| {
                std::fs::read_to_string(format!("/proc/{}/task/{t}/comm", self.pid()))
                    .unwrap()
                    .trim()
                    == name
            })
            .unwrap()
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn two_cpus_or_skip() -> Option<CpuList> {
    let mine = Kernel.get(std::process::id(), std::process::id()).unwrap();
    if mine.len() < 2 {
        eprintln!("skipped: needs at least 2 CPUs to tell a pin from no pin (have {mine})");
        return None;
    }
    Some(mine)
}

#[test]
fn cli_pins_every_thread_checks_and_reverts() {
    let Some(original) = two_cpus_or_skip() else {
        return;
    };
    let helper = Helper::start();
    let pid = helper.pid().to_string();
    let journal = helper.dir.path().join("journal.yaml");
    let j = journal.to_str().unwrap();

    // The plan, machine-readable: which CPUs the process gets.
    let (code, out, err) = cli(&["pin", "--pid", &pid, "--format", "yaml"]);
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = yaml_serde::from_str(&out).unwrap();
    let placements = plan["placements"].as_array().unwrap();
    let mine = placements
        .iter()
        .find(|p| p["domain"] == format!("pid:{pid}"))
        .unwrap();
    let want = CpuList::parse(mine["cpus"].as_str().unwrap()).unwrap();
    assert!(
        want.len() < original.len(),
        "the process must get fewer CPUs than it has now"
    );
    assert!(placements.iter().any(|p| p["domain"] == "host"));

    let (code, shell, _) = cli(&["pin", "--pid", &pid, "--format", "shell"]);
    assert_eq!(code, 0);
    assert!(
        shell.contains(&format!("taskset -a -p -c {want} {pid}\n")),
        "{shell}"
    );

    let before = helper.affinities();
    assert!(
        before.len() >= 6,
        "main, test thread, 4 workers, vanisher: {before:?}"
    );
    let (code, out, err) = cli(&["pin", "--pid", &pid, "--apply", "--journal", j]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("Pinned {} thread(s)", before.len())),
        "{out}"
    );
    for (tid, cpus) in helper.affinities() {
        assert_eq!(cpus, want.to_string(), "thread {tid} not pinned");
    }

    let (code, out, _) = cli(&["pin", "--pid", &pid, "--check"]);
    assert_eq!(code, 0, "{out}");

    // One thread drifts: --check says so with exit status 4.
    let worker = helper.tid_named("worker2");
    Kernel.set(worker, &original).unwrap();
    let (code, out, _) = cli(&["pin", "--pid", &pid, "--check"]);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains(&format!("tid {worker} (worker2)")), "{out}");

    let (code, out, err) = cli(&["pin", "--revert", "--journal", j]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        helper.affinities(),
        before,
        "every thread has its old affinity again"
    );
    assert!(!journal.exists());
}

/// Makes the `vanisher` thread exit right before the applier reaches it.
struct VanishMidway<'a> {
    helper: &'a Helper,
    victim: u32,
    calls: std::cell::Cell<u32>,
}

impl ThreadAffinity for VanishMidway<'_> {
    fn set(&self, tid: u32, cpus: &CpuList) -> std::io::Result<()> {
        self.calls.set(self.calls.get() + 1);
        if tid == self.victim {
            std::fs::write(self.helper.dir.path().join("vanish"), "").unwrap();
            let gone = Path::new(&format!("/proc/{}/task/{tid}", self.helper.pid())).to_path_buf();
            let start = Instant::now();
            while gone.exists() && start.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Kernel.set(tid, cpus)
    }

    fn get(&self, pid: u32, tid: u32) -> std::io::Result<CpuList> {
        Kernel.get(pid, tid)
    }
}

#[test]
fn a_thread_that_vanishes_mid_apply_rolls_back_the_others() {
    let Some(original) = two_cpus_or_skip() else {
        return;
    };
    let helper = Helper::start();
    let before = helper.affinities();
    let victim = helper.tid_named("vanisher");
    let sys = VanishMidway {
        helper: &helper,
        victim,
        calls: 0.into(),
    };
    let one: CpuList = std::iter::once(original.iter().last().unwrap()).collect();
    let journal = helper.dir.path().join("j.yaml");
    let err = apply(
        &sys,
        &[ProcessTarget::all_threads(helper.pid(), one)],
        &journal,
    )
    .unwrap_err()
    .to_string();
    let pinned_first = before.iter().filter(|(t, _)| *t < victim).count();
    assert!(pinned_first >= 1, "the victim must not be the first thread");
    assert!(
        err.contains(&format!("cannot pin thread {victim} (vanisher)"))
            && err.contains("the thread exited"),
        "{err}"
    );
    assert!(
        err.contains(&format!("rolled back: {pinned_first} thread(s)")),
        "{err}"
    );
    let after = helper.affinities();
    let expected: Vec<_> = before.into_iter().filter(|(t, _)| *t != victim).collect();
    assert_eq!(
        after, expected,
        "survivors are back to their journalled affinity"
    );
    assert!(!journal.exists(), "the rolled-back journal is moved aside");
}

#[test]
fn a_missing_process_is_an_error_not_a_panic() {
    let (code, _, err) = cli(&[
        "pin",
        "--pid",
        "4194304",
        "--apply",
        "--journal",
        "/tmp/remus-tune-never.yaml",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("process 4194304 not found"), "{err}");
    assert!(!Path::new("/tmp/remus-tune-never.yaml").exists());
}

/// Applies the plan to the helper and returns the journal's path and the pinned CPUs.
fn applied(helper: &Helper) -> (PathBuf, String) {
    let pid = helper.pid().to_string();
    let journal = helper.dir.path().join("journal.yaml");
    let (code, out, err) = cli(&[
        "pin",
        "--pid",
        &pid,
        "--apply",
        "--journal",
        journal.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(
        text.contains("start_time: "),
        "start times are journalled: {text}"
    );
    let pinned = helper.affinities()[0].1.clone();
    (journal, pinned)
}

/// Rewrites every `key: value` line of the journal whose key is `key` with `f(value)`.
fn edit_journal(journal: &Path, key: &str, f: impl Fn(&str) -> Option<String>) {
    let text = std::fs::read_to_string(journal).unwrap();
    let edited: Vec<String> = text
        .lines()
        .filter_map(|l| match l.trim_start().strip_prefix(&format!("{key}: ")) {
            Some(v) => f(v).map(|new| l.replace(v, &new)),
            None => Some(l.to_string()),
        })
        .collect();
    std::fs::write(journal, edited.join("\n") + "\n").unwrap();
}

/// Issue 14: a journalled PID now held by another process (a later start time) is not re-pinned.
#[test]
fn revert_leaves_alone_a_process_that_reused_the_pid() {
    if two_cpus_or_skip().is_none() {
        return;
    }
    let helper = Helper::start();
    let (journal, pinned) = applied(&helper);
    // As if the journalled process had exited and this one had got its PID: the journal's
    // start times no longer match the threads'.
    edit_journal(&journal, "start_time", |v| {
        Some((v.parse::<u64>().unwrap() + 1).to_string())
    });
    let (code, out, err) = cli(&["pin", "--revert", "--journal", journal.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("not touched, started at tick") && out.contains("another thread got the ids"),
        "{out}"
    );
    for (tid, cpus) in helper.affinities() {
        assert_eq!(
            cpus, pinned,
            "thread {tid} was re-pinned although it is not the journalled one"
        );
    }
}

/// Issue 14: the name is compared too.
#[test]
fn revert_leaves_alone_a_thread_with_another_name() {
    if two_cpus_or_skip().is_none() {
        return;
    }
    let helper = Helper::start();
    let (journal, pinned) = applied(&helper);
    edit_journal(&journal, "comm", |v| Some(format!("not-{v}")));
    let (code, out, err) = cli(&["pin", "--revert", "--journal", journal.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("not touched, now named \"worker0\", journalled as \"not-worker0\""),
        "{out}"
    );
    assert!(helper.affinities().iter().all(|(_, c)| *c == pinned));
}

/// Issue 14: a journal without start times (written by an older remus-tune) is refused with
/// the way forward; `--force` restores, comparing names only.
#[test]
fn an_old_journal_without_start_times_needs_force() {
    let Some(original) = two_cpus_or_skip() else {
        return;
    };
    let helper = Helper::start();
    let (journal, pinned) = applied(&helper);
    edit_journal(&journal, "start_time", |_| None);
    let j = journal.to_str().unwrap();
    let (code, out, err) = cli(&["pin", "--revert", "--journal", j]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("records no start time")
            && err.contains("nothing was changed")
            && err.contains("remus-tune pin --revert --force"),
        "{err}"
    );
    assert!(journal.exists(), "the journal stays for the next try");
    assert!(helper.affinities().iter().all(|(_, c)| *c == pinned));
    let (code, out, err) = cli(&["pin", "--revert", "--force", "--journal", j]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        helper
            .affinities()
            .iter()
            .all(|(_, c)| *c == original.to_string()),
        "{:?}",
        helper.affinities()
    );
}
