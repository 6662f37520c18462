//! Fuzzing that stays in the normal test run (nightly `cargo fuzz` is not at hand here):
//! proptest over arbitrary bytes and over mutations of real inputs — the recorded `xl`
//! outputs of Xen 4.17 (tests/fixtures/xen), the shipped profiles, a real QEMU 7.2 QMP
//! transcript, CPU lists as xl prints them — for the profile, xl, QMP and CPU-list parsers.
//!
//! Budget: a fixed number of cases per parser from a fixed seed (reproducible, a few seconds
//! in all), and each parser runs in a child process whose address space is capped at
//! `MEMORY_CAP`, so an input that makes a parser allocate without bound fails the run
//! (the allocation fails and the child aborts) instead of passing slowly or swapping. The
//! trace reader is fuzzed beside its own code (tests/model/fuzz.rs and the trace tests).

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use remus_tune::backend::qemu::qmp::{parse_event, parse_greeting, Qmp};
use remus_tune::cpulist::CpuList;
use remus_tune::profile::{parse_text, BUILTIN};
use remus_tune::xl;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Address space of each fuzzing child: the test binary needs ~100 MiB; 768 MiB leaves room
/// for any honest parse and none for a blow-up.
const MEMORY_CAP: u64 = 768 << 20;
/// Cases per parser: about 10 s for the whole file on this 2-CPU host (the profile parser,
/// the slowest, does 10 000 in about 4 s), well inside the 60 s budget.
const CASES: u32 = 10_000;
const CHILD_ENV: &str = "REMUS_TUNE_FUZZ_CHILD";

/// Runs `body` in a child process of this test binary, under the memory cap; the parent
/// fails if the child fails in any way (a panic, an abort on a failed allocation, a signal).
fn under_memory_cap(test: &str, body: impl FnOnce()) {
    if std::env::var_os(CHILD_ENV).is_some() {
        body();
        return;
    }
    let started = Instant::now();
    let (ok, text) = run_capped_child(test);
    assert!(ok, "{test} under a {} MiB cap:\n{text}", MEMORY_CAP >> 20);
    eprintln!("{test}: done in {:?}", started.elapsed());
}

/// Runs one test of this binary in a child under the cap: (passed, its output).
fn run_capped_child(test: &str) -> (bool, String) {
    let exe = std::env::current_exe().unwrap();
    let mut command = std::process::Command::new(exe);
    // libtest names a test by its path below the crate: `fuzz_parsers::NAME` in this binary.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let name = if module.is_empty() {
        test.to_string()
    } else {
        format!("{module}::{test}")
    };
    command
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1");
    // SAFETY: setrlimit is async-signal-safe and touches only the child's own limits.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: MEMORY_CAP,
                rlim_max: MEMORY_CAP,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let output = command.output().unwrap();
    let text = format!(
        "{:?}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success() && text.contains("1 passed"), text)
}

/// The cap is real: a parser that allocated without bound would fail the run.
#[test]
fn a_blow_up_fails_under_the_cap() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let mut grow: Vec<Vec<u8>> = Vec::new();
        for _ in 0..64 {
            grow.push(vec![1u8; 64 << 20]);
        }
        assert_eq!(grow.len(), 64, "4 GiB allocated under a 768 MiB cap");
        return;
    }
    let (ok, text) = run_capped_child("a_blow_up_fails_under_the_cap");
    assert!(!ok, "4 GiB fitted under the cap:\n{text}");
    assert!(
        text.contains("memory allocation") || text.contains("SIGABRT"),
        "{text}"
    );
}

fn runner() -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases: CASES,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    )
}

/// One edit of a seed: replace `len` bytes at `at` (wrapped) by `with`.
#[derive(Debug, Clone)]
enum Edit {
    Replace {
        at: usize,
        len: usize,
        with: Vec<u8>,
    },
    /// Repeat a slice many times: long lines, deep nesting, big numbers.
    Repeat {
        at: usize,
        len: usize,
        times: usize,
    },
    FlipBit {
        at: usize,
        bit: u8,
    },
    Truncate {
        at: usize,
    },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (
            any::<usize>(),
            0usize..16,
            proptest::collection::vec(any::<u8>(), 0..16)
        )
            .prop_map(|(at, len, with)| Edit::Replace { at, len, with }),
        (
            any::<usize>(),
            0usize..24,
            proptest::sample::select(vec![
                b"9".to_vec(),
                b"-".to_vec(),
                b",".to_vec(),
                b"[".to_vec(),
                b"{".to_vec(),
                b"&a ".to_vec(),
                b"*a".to_vec(),
                b"\n".to_vec(),
                b":".to_vec(),
                b"%".to_vec(),
                "\u{fffd}".as_bytes().to_vec(),
            ])
        )
            .prop_map(|(at, len, with)| Edit::Replace { at, len, with }),
        (any::<usize>(), 1usize..40, 2usize..400).prop_map(|(at, len, times)| Edit::Repeat {
            at,
            len,
            times
        }),
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Edit::FlipBit { at, bit }),
        any::<usize>().prop_map(|at| Edit::Truncate { at }),
    ]
}

fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for edit in edits {
        let n = bytes.len() + 1;
        match edit {
            Edit::Replace { at, len, with } => {
                let start = at % n;
                let end = (start + len).min(bytes.len());
                bytes.splice(start..end, with.iter().copied());
            }
            Edit::Repeat { at, len, times } => {
                let start = at % n;
                let end = (start + len).min(bytes.len());
                let piece = bytes[start..end].to_vec();
                let repeated: Vec<u8> = piece.repeat(*times);
                bytes.splice(start..end, repeated);
            }
            Edit::FlipBit { at, bit } => {
                if !bytes.is_empty() {
                    let i = at % bytes.len();
                    bytes[i] ^= 1 << bit;
                }
            }
            Edit::Truncate { at } => bytes.truncate(at % n),
        }
    }
    bytes
}

/// Inputs: arbitrary bytes (one case in four) or a seed with one to four edits.
fn inputs(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let mutated = (
        proptest::sample::select(seeds),
        proptest::collection::vec(edit(), 1..5),
    )
        .prop_map(|(seed, edits)| apply(&seed, &edits));
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..1024),
        3 => mutated,
    ]
}

fn read_dir_files(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

/// The recorded `xl` outputs: the repository's fixtures and, where present, the shared
/// reference recordings of the Xen 4.17 lab.
fn xl_seeds() -> Vec<Vec<u8>> {
    let mut seeds =
        read_dir_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xen"));
    let shared = Path::new("/work/shared/reference/xen-4.17-outputs");
    if shared.is_dir() {
        seeds.extend(read_dir_files(shared));
    }
    assert!(seeds.len() >= 10, "too few xl seeds");
    seeds
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn fuzz_profile_parser() {
    under_memory_cap("fuzz_profile_parser", || {
        let seeds = BUILTIN.iter().map(|(_, t)| t.as_bytes().to_vec()).collect();
        runner()
            .run(&inputs(seeds), |bytes| {
                let _ = parse_text(&text(&bytes), "fuzz.yaml");
                Ok(())
            })
            .unwrap();
    });
}

#[test]
fn fuzz_xl_parsers() {
    under_memory_cap("fuzz_xl_parsers", || {
        runner()
            .run(&inputs(xl_seeds()), |bytes| {
                let t = text(&bytes);
                let _ = xl::parse_info(&t);
                let _ = xl::parse_vcpu_list(&t);
                let _ = xl::parse_list_long(&t);
                let _ = xl::parse_cpupool_list(&t);
                let _ = xl::block::parse_block_list(&t);
                let _ = remus_tune::topology::xen::from_info_text(&t, "fuzz");
                Ok(())
            })
            .unwrap();
    });
}

/// A real QEMU 7.2 session: greeting, a reply, an event, an error.
const QMP_TRANSCRIPT: &[&str] = &[
    r#"{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b2"}, "capabilities": ["oob"]}}"#,
    r#"{"return": {}, "id": 1}"#,
    r#"{"timestamp": {"seconds": 1700000000, "microseconds": 500000}, "event": "STOP"}"#,
    r#"{"id": 2, "error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}}"#,
    r#"{"return": [{"cpu-index": 0, "qom-path": "/machine/unattached/device[0]", "thread-id": 18108, "props": {"core-id": 0, "thread-id": 0, "socket-id": 0}, "target": "x86_64"}], "id": 3}"#,
];

#[test]
fn fuzz_qmp_messages() {
    under_memory_cap("fuzz_qmp_messages", || {
        let seeds = QMP_TRANSCRIPT
            .iter()
            .map(|l| l.as_bytes().to_vec())
            .collect();
        runner()
            .run(&inputs(seeds), |bytes| {
                if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                    let _ = parse_greeting(&value);
                    let _ = parse_event(&value);
                }
                Ok(())
            })
            .unwrap();
    });
}

/// The whole client over a socket: a peer that sends a mutated transcript (or bytes) and
/// hangs up; connecting and one command end in a result or an error, within the timeout.
#[test]
fn fuzz_qmp_client_over_a_socket() {
    under_memory_cap("fuzz_qmp_client_over_a_socket", || {
        let dir = tempfile::tempdir().unwrap();
        let transcript = QMP_TRANSCRIPT.join("\n") + "\n";
        let round = std::sync::atomic::AtomicU32::new(0);
        // Each case is a socket round trip: fewer cases, same seed.
        TestRunner::new_with_rng(
            Config {
                cases: CASES / 10,
                failure_persistence: None,
                ..Config::default()
            },
            TestRng::deterministic_rng(RngAlgorithm::ChaCha),
        )
        .run(&inputs(vec![transcript.into_bytes()]), |bytes| {
            let n = round.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = dir.path().join(format!("q{n}.sock"));
            let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
            let server = std::thread::spawn(move || {
                if let Ok((mut stream, _)) = listener.accept() {
                    use std::io::Write;
                    let _ = stream.write_all(&bytes);
                }
            });
            let started = Instant::now();
            if let Ok(mut qmp) = Qmp::connect(&path, Duration::from_millis(200)) {
                let _ = qmp.execute("query-cpus-fast", None);
                let _ = qmp.take_events();
            }
            prop_assert!(started.elapsed() < Duration::from_secs(2));
            let _ = server.join();
            let _ = std::fs::remove_file(&path);
            Ok(())
        })
        .unwrap();
    });
}

#[test]
fn fuzz_cpulist_parser() {
    under_memory_cap("fuzz_cpulist_parser", || {
        let seeds = [
            "0",
            "0,8",
            "2-3,10-11",
            "0-7",
            "1,3,5",
            "none",
            "all",
            "any cpu",
            "0-4095",
            " 0 , 4-5 ",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        runner()
            .run(&inputs(seeds), |bytes| {
                let t = text(&bytes);
                let started = Instant::now();
                if let Ok(list) = CpuList::parse(&t) {
                    prop_assert!(list.len() <= 4096);
                    // What it prints it reads back the same.
                    prop_assert_eq!(CpuList::parse(&list.to_string()).ok(), Some(list));
                }
                let _ = CpuList::parse_with_all(&t, 64);
                let _ = yaml_serde::from_str::<CpuList>(&t);
                prop_assert!(started.elapsed() < Duration::from_millis(500));
                Ok(())
            })
            .unwrap();
    });
}
