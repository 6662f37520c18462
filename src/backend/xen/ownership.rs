//! Who owns the domain's log-dirty mode, and therefore which log-dirty calls we may make.
//!
//! Xen has no notion of an owner: any Dom-0 process may CLEAN or switch off a domain's
//! log-dirty bitmap. Under Remus, COLO or a live migration that silently corrupts the backup
//! (interfaces.md §0 items 1–4): a second CLEAN steals the bits the save code would have
//! sent, and OFF makes every later CLEAN succeed with an all-zero bitmap. So every log-dirty
//! call remus-tune makes goes through this state machine, which is pure (no I/O, no clock)
//! and tested exhaustively in `tests/xen/ownership.rs`. The rules:
//!
//! - CLEAN only while we own log-dirty: our own ENABLE succeeded and no save helper
//!   (`libxl-save-helper --save-domain` for this domain) has been seen since.
//! - OFF only if we enabled log-dirty ourselves and no save helper exists at that moment
//!   (nor was ever seen while we owned it: a save's own clean-up switches it off, and a save
//!   that took over by OFF+ENABLE owns it now), and at most once.
//! - ENABLE failing leaves everything as it was: no CLEAN, no OFF. EINVAL means log-dirty is
//!   already on (Remus, COLO, migration, or a device model tracking VRAM).
//! - Observing (`--observe`, or automatically when Remus/COLO already runs) issues only the
//!   stats-only PEEK: no bitmap, zero pages, nothing walked, nothing cleared.
//!
//! [`LogDirtyOps`] is the hypervisor side (libxenctrl on a real host, a recording fake in
//! tests); [`Session`] drives it by the machine's decisions, so the calls that reach Xen are
//! exactly the ones the machine allowed.

use std::fmt;

/// The last argument of `libxl-save-helper --save-domain …`: what kind of save runs
/// (`xc_stream_type_t` in xenguest.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamType {
    /// 0: a plain save or live migration.
    Plain,
    /// 1: Remus.
    Remus,
    /// 2: COLO.
    Colo,
    /// Any other value a future Xen might use.
    Other(u32),
}

impl StreamType {
    pub fn from_arg(value: u32) -> Self {
        match value {
            0 => Self::Plain,
            1 => Self::Remus,
            2 => Self::Colo,
            n => Self::Other(n),
        }
    }

    /// True for the continuous-checkpointing kinds, beside which observing makes sense.
    pub fn is_checkpointing(self) -> bool {
        matches!(self, Self::Remus | Self::Colo)
    }
}

impl fmt::Display for StreamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain => write!(f, "a save or live migration"),
            Self::Remus => write!(f, "Remus"),
            Self::Colo => write!(f, "COLO"),
            Self::Other(n) => write!(f, "a save of unknown stream type {n}"),
        }
    }
}

/// How ENABLE_LOGDIRTY ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnableOutcome {
    Ok,
    /// EINVAL: log-dirty already on, or passthrough devices.
    AlreadyOn,
    /// EBUSY: another client's preempted log-dirty op is pending, or ioreq pages are out.
    Busy,
    /// EOPNOTSUPP: no way to track this guest (PV guest on a Xen without shadow paging).
    NotSupported,
    /// Any other errno.
    Failed(i32),
}

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// Exclusive measuring, or observing by itself when Remus/COLO already runs.
    Auto,
    /// `--observe`: stats-only PEEK whatever runs.
    Observe,
}

/// Where the machine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Nothing asked of Xen yet.
    Idle,
    /// ENABLE asked; waiting for its outcome.
    Enabling,
    /// Our ENABLE succeeded and no save helper has been seen: we may CLEAN, and must OFF.
    Owned,
    /// Someone else's log-dirty (or --observe): stats-only PEEK, nothing else.
    Observing,
    /// A save helper appeared while we owned log-dirty: it has taken over. No CLEAN, no OFF.
    Yielded(StreamType),
    /// Measuring could not start; nothing was left switched on.
    Refused,
    /// Finished; `stop` again does nothing.
    Stopped,
}

/// Why measuring cannot start (or go on); the message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "{0} is running on this domain: remus-tune will not switch its log-dirty mode on or \
         clean it (that would corrupt the save). Measure after it has finished, or, beside \
         Remus or COLO, use --observe"
    )]
    SaveRunning(StreamType),
    #[error(
        "log-dirty is already on for this domain (Xen answered EINVAL to ENABLE_LOGDIRTY): \
         Remus, COLO or a migration may be running, QEMU may be tracking an emulated VGA's \
         video RAM, or the domain has passthrough devices. remus-tune cleaned nothing and \
         switched nothing off. Beside Remus or COLO, use --observe (stats-only, safe)"
    )]
    AlreadyOn,
    #[error(
        "Xen answered EBUSY to ENABLE_LOGDIRTY: another tool's log-dirty operation on this \
         domain is in progress (or device-model ioreq pages are outstanding). Nothing was \
         changed; try again later, or use --observe"
    )]
    Busy,
    #[error(
        "Xen cannot track dirty pages of this guest (EOPNOTSUPP to ENABLE_LOGDIRTY){pv}. \
         Neither remus-tune nor Remus can protect or measure it on this host; use an HVM or \
         PVH guest (HAP), or a Xen built with CONFIG_SHADOW_PAGING"
    )]
    NotSupported {
        /// Set for PV guests: the hypervisor was built without shadow paging.
        pv: PvNote,
    },
    #[error("ENABLE_LOGDIRTY failed: {}; nothing was changed", std::io::Error::from_raw_os_error(*.0))]
    Failed(i32),
    #[error(
        "{0} started on this domain while remus-tune was measuring: remus-tune stopped \
         cleaning at once and left log-dirty to it (it was not switched off); the trace holds \
         everything measured before"
    )]
    TakenOver(StreamType),
}

/// The PV-specific sentence of [`Refusal::NotSupported`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PvNote(pub bool);

impl fmt::Display for PvNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 {
            write!(
                f,
                ": this is a PV guest and this Xen was built without shadow paging \
                 (CONFIG_SHADOW_PAGING unset, as in Debian's Xen 4.17), which PV log-dirty needs"
            )
        } else {
            Ok(())
        }
    }
}

/// What to do at the start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// Call ENABLE_LOGDIRTY, then report with [`Ownership::enabled`].
    Enable,
    /// Observe: stats-only PEEK per epoch. `because` is set when this was chosen for the user.
    Observe {
        because: Option<StreamType>,
    },
    Refuse(Refusal),
}

/// What to do at each epoch's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EpochAction {
    /// CLEAN with a bitmap: the exact set since the previous CLEAN.
    Clean,
    /// Stats-only PEEK: the count since anyone's last CLEAN.
    PeekStats,
    /// Stop measuring: log-dirty is no longer ours (nothing else may be called).
    Abort(Refusal),
}

/// The rules, as a pure state machine.
#[derive(Debug, Clone)]
pub struct Ownership {
    state: State,
    pv: bool,
}

impl Ownership {
    /// `pv` says whether the guest is PV (for the EOPNOTSUPP message).
    pub fn new(pv: bool) -> Self {
        Self {
            state: State::Idle,
            pv,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// True when we switched log-dirty on and still answer for switching it off.
    pub fn owns(&self) -> bool {
        self.state == State::Owned
    }

    /// The first decision: `helper` is the save helper seen for this domain, if any.
    pub fn begin(&mut self, requested: Requested, helper: Option<StreamType>) -> Begin {
        if self.state != State::Idle {
            return Begin::Refuse(Refusal::Failed(libc::EALREADY));
        }
        match (requested, helper) {
            (Requested::Observe, _) => {
                self.state = State::Observing;
                Begin::Observe { because: None }
            }
            (Requested::Auto, Some(kind)) if kind.is_checkpointing() => {
                self.state = State::Observing;
                Begin::Observe {
                    because: Some(kind),
                }
            }
            (Requested::Auto, Some(kind)) => {
                self.state = State::Refused;
                Begin::Refuse(Refusal::SaveRunning(kind))
            }
            (Requested::Auto, None) => {
                self.state = State::Enabling;
                Begin::Enable
            }
        }
    }

    /// ENABLE's outcome. Any failure refuses: log-dirty was not ours to clean or switch off.
    pub fn enabled(&mut self, outcome: EnableOutcome) -> Result<(), Refusal> {
        if self.state != State::Enabling {
            return Err(Refusal::Failed(libc::EINVAL));
        }
        let refusal = match outcome {
            EnableOutcome::Ok => {
                self.state = State::Owned;
                return Ok(());
            }
            EnableOutcome::AlreadyOn => Refusal::AlreadyOn,
            EnableOutcome::Busy => Refusal::Busy,
            EnableOutcome::NotSupported => Refusal::NotSupported {
                pv: PvNote(self.pv),
            },
            EnableOutcome::Failed(errno) => Refusal::Failed(errno),
        };
        self.state = State::Refused;
        Err(refusal)
    }

    /// Before each epoch's log-dirty call: `helper` is the save helper seen just now.
    pub fn epoch(&mut self, helper: Option<StreamType>) -> EpochAction {
        match (self.state, helper) {
            (State::Owned, None) => EpochAction::Clean,
            (State::Owned, Some(kind)) => {
                self.state = State::Yielded(kind);
                EpochAction::Abort(Refusal::TakenOver(kind))
            }
            (State::Observing, _) => EpochAction::PeekStats,
            (State::Yielded(kind), _) => EpochAction::Abort(Refusal::TakenOver(kind)),
            (State::Idle | State::Enabling | State::Refused | State::Stopped, _) => {
                EpochAction::Abort(Refusal::Failed(libc::EINVAL))
            }
        }
    }

    /// At the end, on every exit path: true when OFF must be called now. `helper` is the
    /// save helper seen just now. Safe to call any number of times; true at most once.
    pub fn stop(&mut self, helper: Option<StreamType>) -> bool {
        let off = self.state == State::Owned && helper.is_none();
        if let (State::Owned, Some(kind)) = (self.state, helper) {
            self.state = State::Yielded(kind);
        }
        if !matches!(self.state, State::Yielded(_)) {
            self.state = State::Stopped;
        }
        off
    }
}

/// The log-dirty calls, as libxenctrl makes them. Errors are errno values.
pub trait LogDirtyOps {
    /// XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY.
    fn enable(&mut self) -> Result<(), i32>;
    /// XEN_DOMCTL_SHADOW_OP_CLEAN into the bitmap (mode 0): the pages dirtied since the
    /// previous CLEAN, bit p = frame p.
    fn clean(&mut self, bitmap: &mut [u64]) -> Result<CleanStats, i32>;
    /// XEN_DOMCTL_SHADOW_OP_PEEK with no bitmap and zero pages: `dirty_count` only.
    fn peek_stats(&mut self) -> Result<CleanStats, i32>;
    /// XEN_DOMCTL_SHADOW_OP_OFF.
    fn off(&mut self) -> Result<(), i32>;
}

/// What a CLEAN or PEEK reports besides the bitmap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanStats {
    /// Distinct frames dirtied since the last CLEAN by anyone.
    pub dirty_count: u32,
    /// Shadow-mode faults; always 0 on HAP guests, so never used as a measure.
    pub fault_count: u32,
}

/// Turns an ENABLE errno into its meaning.
pub fn enable_outcome(result: Result<(), i32>) -> EnableOutcome {
    match result {
        Ok(()) => EnableOutcome::Ok,
        Err(libc::EINVAL) => EnableOutcome::AlreadyOn,
        Err(libc::EBUSY) => EnableOutcome::Busy,
        Err(libc::EOPNOTSUPP) => EnableOutcome::NotSupported,
        Err(errno) => EnableOutcome::Failed(errno),
    }
}

/// Finds the save helper of our domain; on a real host, a /proc scan.
pub trait HelperWatch {
    fn helper(&mut self) -> Option<StreamType>;
}

/// What one epoch's log-dirty call gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochReading {
    /// CLEAN: the bitmap passed in now holds the exact set.
    Set(CleanStats),
    /// Stats-only PEEK: a count only.
    Count(CleanStats),
}

/// Why an epoch's call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EpochError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("log-dirty {op} failed: {}", std::io::Error::from_raw_os_error(*.errno))]
    Call { op: &'static str, errno: i32 },
}

/// The machine wired to the hypervisor: only calls the machine allows reach `ops`.
pub struct Session<O: LogDirtyOps, W: HelperWatch> {
    pub ops: O,
    pub watch: W,
    machine: Ownership,
    off_result: Option<Result<(), i32>>,
}

impl<O: LogDirtyOps, W: HelperWatch> Session<O, W> {
    pub fn new(ops: O, watch: W, pv: bool) -> Self {
        Self {
            ops,
            watch,
            machine: Ownership::new(pv),
            off_result: None,
        }
    }

    pub fn state(&self) -> State {
        self.machine.state()
    }

    /// True when we enabled log-dirty ourselves (zeros then mean "nothing dirtied").
    pub fn owns(&self) -> bool {
        self.machine.owns()
    }

    /// Starts: ENABLE (exclusive) or observe. Returns the observe reason when observing.
    pub fn start(&mut self, requested: Requested) -> Result<Begin, Refusal> {
        let helper = self.watch.helper();
        match self.machine.begin(requested, helper) {
            Begin::Enable => {
                let outcome = enable_outcome(self.ops.enable());
                self.machine.enabled(outcome)?;
                Ok(Begin::Enable)
            }
            Begin::Refuse(refusal) => Err(refusal),
            observe => Ok(observe),
        }
    }

    /// One epoch: the helper is looked for right before the call, so a save that started
    /// since the previous epoch is never cleaned under.
    pub fn epoch(&mut self, bitmap: &mut [u64]) -> Result<EpochReading, EpochError> {
        let helper = self.watch.helper();
        match self.machine.epoch(helper) {
            EpochAction::Clean => self
                .ops
                .clean(bitmap)
                .map(EpochReading::Set)
                .map_err(|errno| EpochError::Call { op: "CLEAN", errno }),
            EpochAction::PeekStats => self
                .ops
                .peek_stats()
                .map(EpochReading::Count)
                .map_err(|errno| EpochError::Call { op: "PEEK", errno }),
            EpochAction::Abort(refusal) => Err(refusal.into()),
        }
    }

    /// Ends: OFF if and only if the machine says so. Safe to call again.
    pub fn stop(&mut self) -> Result<(), i32> {
        if let Some(result) = self.off_result {
            return result;
        }
        let helper = if self.machine.owns() {
            self.watch.helper()
        } else {
            None
        };
        let result = if self.machine.stop(helper) {
            self.ops.off()
        } else {
            Ok(())
        };
        self.off_result = Some(result);
        result
    }
}
