//! The log-dirty ownership rules, checked exhaustively: every combination of what the user
//! asked, which save helper exists at start, how ENABLE ends, how many epochs run, when a
//! save helper appears, and when the stop (end, error, Ctrl-C, SIGTERM, panic: all reach
//! `stop`) comes. The hypervisor is a recording fake; the invariants are checked on the
//! exact sequence of calls that would have reached Xen.

use remus_tune::backend::xen::ownership::{
    CleanStats, EpochReading, HelperWatch, LogDirtyOps, Requested, Session, State, StreamType,
};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

#[derive(Debug, Clone, PartialEq)]
enum Event {
    Watch(Option<StreamType>),
    Enable(Result<(), i32>),
    Clean,
    Peek,
    Off,
}

type Log = Rc<RefCell<Vec<Event>>>;

struct FakeXen {
    log: Log,
    enable: Result<(), i32>,
}

impl LogDirtyOps for FakeXen {
    fn enable(&mut self) -> Result<(), i32> {
        self.log.borrow_mut().push(Event::Enable(self.enable));
        self.enable
    }
    fn clean(&mut self, bitmap: &mut [u64]) -> Result<CleanStats, i32> {
        self.log.borrow_mut().push(Event::Clean);
        bitmap.iter_mut().for_each(|w| *w = 0b101);
        Ok(CleanStats {
            dirty_count: 2 * bitmap.len() as u32,
            fault_count: 0,
        })
    }
    fn peek_stats(&mut self) -> Result<CleanStats, i32> {
        self.log.borrow_mut().push(Event::Peek);
        Ok(CleanStats::default())
    }
    fn off(&mut self) -> Result<(), i32> {
        self.log.borrow_mut().push(Event::Off);
        Ok(())
    }
}

/// Answers the helper scans from a script; once it runs out, repeats the last answer.
struct ScriptedWatch {
    log: Log,
    script: VecDeque<Option<StreamType>>,
    last: Option<StreamType>,
}

impl HelperWatch for ScriptedWatch {
    fn helper(&mut self) -> Option<StreamType> {
        if let Some(next) = self.script.pop_front() {
            self.last = next;
        }
        self.log.borrow_mut().push(Event::Watch(self.last));
        self.last
    }
}

const HELPERS: [Option<StreamType>; 4] = [
    None,
    Some(StreamType::Plain),
    Some(StreamType::Remus),
    Some(StreamType::Colo),
];
const ENABLES: [Result<(), i32>; 5] = [
    Ok(()),
    Err(libc::EINVAL),
    Err(libc::EBUSY),
    Err(libc::EOPNOTSUPP),
    Err(libc::EPERM),
];

/// Every sequence of `n` helper answers.
fn sequences(n: usize) -> Vec<Vec<Option<StreamType>>> {
    let mut out = vec![vec![]];
    for _ in 0..n {
        out = out
            .into_iter()
            .flat_map(|s| {
                HELPERS.iter().map(move |h| {
                    let mut s = s.clone();
                    s.push(*h);
                    s
                })
            })
            .collect();
    }
    out
}

/// The safety invariants over one run's calls.
fn check(log: &[Event], requested: Requested, context: &str) {
    let mut enabled = false; // our ENABLE succeeded
    let mut helper_since_enable = false;
    let mut last_watch: Option<Option<StreamType>> = None;
    let mut offs = 0;
    let mut enables = 0;
    for (i, e) in log.iter().enumerate() {
        match e {
            Event::Watch(h) => {
                if enabled && h.is_some() {
                    helper_since_enable = true;
                }
                last_watch = Some(*h);
            }
            Event::Enable(r) => {
                enables += 1;
                assert_eq!(
                    requested,
                    Requested::Auto,
                    "ENABLE in observe mode: {context}"
                );
                assert_eq!(
                    last_watch,
                    Some(None),
                    "ENABLE with a save helper present: {context}"
                );
                enabled = r.is_ok();
            }
            Event::Clean => {
                assert!(
                    enabled,
                    "CLEAN without owning log-dirty (call {i}): {context}"
                );
                assert!(
                    !helper_since_enable,
                    "CLEAN after a save helper appeared: {context}"
                );
                assert_eq!(
                    last_watch,
                    Some(None),
                    "CLEAN not preceded by a helper check: {context}"
                );
            }
            Event::Peek => {
                assert!(
                    !enabled,
                    "PEEK while owning: exclusive mode must CLEAN: {context}"
                );
            }
            Event::Off => {
                offs += 1;
                assert!(enabled, "OFF without having enabled: {context}");
                assert!(
                    !helper_since_enable,
                    "OFF after a save helper appeared: {context}"
                );
                assert_eq!(
                    last_watch,
                    Some(None),
                    "OFF without a helper check just before: {context}"
                );
            }
        }
    }
    assert!(enables <= 1, "ENABLE twice: {context}");
    assert!(offs <= 1, "OFF twice: {context}");
    // Liveness: what we switched on, we switch off, unless a save took it over.
    if enabled && !helper_since_enable {
        assert_eq!(offs, 1, "log-dirty left on: {context}");
    }
}

#[test]
fn ownership_rules_hold_in_every_scenario() {
    let mut runs = 0u64;
    let mut cleans = 0u64;
    for requested in [Requested::Auto, Requested::Observe] {
        for start_helper in HELPERS {
            for enable in ENABLES {
                for epochs in 0..=3usize {
                    // helpers seen at each epoch, then at stop
                    for script in sequences(epochs + 1) {
                        for stops in 1..=2 {
                            let log: Log = Rc::new(RefCell::new(Vec::new()));
                            let mut full = vec![start_helper];
                            full.extend(script.iter().copied());
                            let watch = ScriptedWatch {
                                log: Rc::clone(&log),
                                script: full.into(),
                                last: None,
                            };
                            let ops = FakeXen {
                                log: Rc::clone(&log),
                                enable,
                            };
                            let mut session = Session::new(ops, watch, false);
                            let context = format!(
                                "{requested:?} start={start_helper:?} enable={enable:?} \
                                 epochs={epochs} helpers={script:?} stops={stops}"
                            );
                            let started = session.start(requested).is_ok();
                            let mut bitmap = vec![0u64; 4];
                            if started {
                                for _ in 0..epochs {
                                    // The measuring loop stops at the first error.
                                    match session.epoch(&mut bitmap) {
                                        Ok(EpochReading::Set(stats)) => {
                                            assert_eq!(stats.dirty_count, 8);
                                            cleans += 1;
                                        }
                                        Ok(EpochReading::Count(_)) => {}
                                        Err(_) => break,
                                    }
                                }
                            }
                            for _ in 0..stops {
                                let _ = session.stop();
                            }
                            if let State::Owned = session.state() {
                                panic!("still owned after stop: {context}");
                            }
                            check(&log.borrow(), requested, &context);
                            runs += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(runs > 20_000, "{runs}");
    assert!(
        cleans > 0,
        "no scenario reached CLEAN: the test checks nothing"
    );
}

#[test]
fn remus_running_at_start_means_observe_without_enable() {
    let log: Log = Rc::new(RefCell::new(Vec::new()));
    let watch = ScriptedWatch {
        log: Rc::clone(&log),
        script: vec![Some(StreamType::Remus)].into(),
        last: None,
    };
    let ops = FakeXen {
        log: Rc::clone(&log),
        enable: Ok(()),
    };
    let mut session = Session::new(ops, watch, false);
    session.start(Requested::Auto).unwrap();
    assert_eq!(session.state(), State::Observing);
    let mut bitmap = vec![0u64; 1];
    assert!(matches!(
        session.epoch(&mut bitmap),
        Ok(EpochReading::Count(_))
    ));
    session.stop().unwrap();
    let calls: Vec<_> = log
        .borrow()
        .iter()
        .filter(|e| !matches!(e, Event::Watch(_)))
        .cloned()
        .collect();
    assert_eq!(calls, vec![Event::Peek]);
}

#[test]
fn a_save_appearing_mid_run_stops_cleaning_and_keeps_log_dirty_on() {
    let log: Log = Rc::new(RefCell::new(Vec::new()));
    let watch = ScriptedWatch {
        log: Rc::clone(&log),
        script: vec![None, None, Some(StreamType::Remus)].into(),
        last: None,
    };
    let ops = FakeXen {
        log: Rc::clone(&log),
        enable: Ok(()),
    };
    let mut session = Session::new(ops, watch, false);
    session.start(Requested::Auto).unwrap();
    let mut bitmap = vec![0u64; 1];
    assert!(session.epoch(&mut bitmap).is_ok());
    let err = session.epoch(&mut bitmap).unwrap_err().to_string();
    assert!(
        err.contains("Remus started") && err.contains("not switched off"),
        "{err}"
    );
    session.stop().unwrap();
    assert_eq!(session.state(), State::Yielded(StreamType::Remus));
    let calls: Vec<_> = log
        .borrow()
        .iter()
        .filter(|e| !matches!(e, Event::Watch(_)))
        .cloned()
        .collect();
    assert_eq!(calls, vec![Event::Enable(Ok(())), Event::Clean]);
}

#[test]
fn enable_failures_say_what_to_do() {
    for (errno, pv, words) in [
        (libc::EINVAL, false, "--observe"),
        (libc::EBUSY, false, "try again later"),
        (libc::EOPNOTSUPP, true, "without shadow paging"),
        (libc::EOPNOTSUPP, false, "HVM or PVH"),
    ] {
        let log: Log = Rc::new(RefCell::new(Vec::new()));
        let watch = ScriptedWatch {
            log: Rc::clone(&log),
            script: VecDeque::new(),
            last: None,
        };
        let ops = FakeXen {
            log: Rc::clone(&log),
            enable: Err(errno),
        };
        let mut session = Session::new(ops, watch, pv);
        let err = session.start(Requested::Auto).unwrap_err().to_string();
        assert!(err.contains(words), "errno {errno}: {err}");
        session.stop().unwrap();
        assert!(!log.borrow().contains(&Event::Off));
        assert!(!log.borrow().contains(&Event::Clean));
    }
}
