//! Every metric `watch` serves, registered once and encoded in the Prometheus text format by
//! the Prometheus project's own Rust client (`prometheus-client`).
//!
//! Conventions (prometheus.io/docs/practices/naming): one `remus_tune_` prefix, base units in
//! the name (`_seconds`, `_bytes`, `_ratio`), counters end in `_total` (the client appends
//! it), a constant `target` label so several watchers on one Dom-0 stay apart. A metric the
//! backend cannot measure is not registered (absent, not a misleading 0); a prediction the
//! model cannot make yet is absent until it can.

use crate::backend::RemusProgress;
use crate::model::{IntervalPrediction, ModelReport};
use crate::profile::Profile;
use crate::trace::Epoch;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

type FloatGauge = Gauge<f64, AtomicU64>;
type FloatCounter = Counter<f64, AtomicU64>;

/// `interval_seconds="0.1"`: one checkpoint interval.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Interval {
    interval_seconds: String,
}

/// An interval and which statistic of its distribution (`mean`, `p95`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IntervalStat {
    interval_seconds: String,
    stat: String,
}

/// An interval and where Dom-0 runs (`pinned` to cores of its own, or `shared`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IntervalPlacement {
    interval_seconds: String,
    placement: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Stat {
    stat: String,
}

/// The profile in force and how the target is measured: one series, value 1.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProfileInfo {
    profile: String,
    host: String,
    judged_placement: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MeasureInfo {
    backend: String,
    method: String,
    mode: String,
    version: String,
}

/// A gauge that is present only while it has a value (`Family` over no labels).
type Optional = Family<Vec<(String, String)>, FloatGauge>;

fn set_optional(gauge: &Optional, value: Option<f64>) {
    match value {
        Some(v) => {
            gauge.get_or_create(&Vec::new()).set(v);
        }
        None => gauge.clear(),
    }
}

/// `0.025` for 25 ms: the label value of an interval, in seconds like every other time.
pub fn interval_label(interval_ms: u64) -> String {
    format!("{}", interval_ms as f64 / 1e3)
}

/// What the Xen backend adds: Dom-0's CPU and, in observe mode, Remus's checkpoints.
struct XenMetrics {
    dom0_cpu: FloatCounter,
    save_helper_cpu: FloatCounter,
    checkpoints: Counter,
    checkpoint_pages: Family<Stat, FloatGauge>,
}

/// The registry and a handle on every metric in it.
pub struct Metrics {
    registry: Registry,
    dirty_pages: Family<Interval, Histogram>,
    dirty_pages_total: Counter,
    disk_write_bytes: Counter,
    disk_write_requests: Counter,
    target_cpu: FloatCounter,
    epochs: Counter,
    late_epochs: Counter,
    measure_seconds: FloatCounter,
    self_cpu: FloatCounter,
    self_cpu_seen: Mutex<f64>,
    self_resident: Gauge,
    xen: Option<XenMetrics>,
    measure_info: Family<MeasureInfo, Gauge>,
    window_dirty_rate: Family<Interval, FloatGauge>,
    window_covered: FloatGauge,
    slowdown: Family<IntervalPlacement, FloatGauge>,
    pause: Family<IntervalStat, FloatGauge>,
    added_latency: Family<IntervalStat, FloatGauge>,
    bandwidth: Family<Interval, FloatGauge>,
    epoch_length: Family<Interval, FloatGauge>,
    meets_limits: Family<Interval, Gauge>,
    recommended: Optional,
    acceptable: Optional,
    operating_interval: Optional,
    operating_slowdown: Optional,
    remus_interval: Optional,
    profile_info: Family<ProfileInfo, Gauge>,
    max_slowdown: Optional,
    max_pause: Optional,
    max_added_latency: Optional,
    model_updates: Counter,
    model_errors: Counter,
    model_timestamp: FloatGauge,
    profile_reloads: Counter,
    profile_reload_errors: Counter,
}

/// A late epoch ran this much over plan (as the measuring loop counts them).
const LATE_FACTOR: f64 = 1.2;

impl Metrics {
    /// Registers every metric for `target`; `xen` adds the Dom-0 and Remus ones.
    pub fn new(target: &str, xen: bool) -> Self {
        let mut registry = Registry::with_prefix_and_labels(
            "remus_tune",
            [("target".into(), target.to_string().into())].into_iter(),
        );
        // 1 page … 16 Mi pages (64 GiB of 4 KiB pages): a fixed number of buckets, so the
        // histogram's memory does not grow with the run.
        let dirty_pages = Family::<Interval, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(1.0, 2.0, 25))) as fn() -> Histogram,
        );
        let m = Metrics {
            dirty_pages,
            dirty_pages_total: Counter::default(),
            disk_write_bytes: Counter::default(),
            disk_write_requests: Counter::default(),
            target_cpu: FloatCounter::default(),
            epochs: Counter::default(),
            late_epochs: Counter::default(),
            measure_seconds: FloatCounter::default(),
            self_cpu: FloatCounter::default(),
            self_cpu_seen: Mutex::new(0.0),
            self_resident: Gauge::default(),
            xen: xen.then(|| XenMetrics {
                dom0_cpu: FloatCounter::default(),
                save_helper_cpu: FloatCounter::default(),
                checkpoints: Counter::default(),
                checkpoint_pages: Family::default(),
            }),
            measure_info: Family::default(),
            window_dirty_rate: Family::default(),
            window_covered: FloatGauge::default(),
            slowdown: Family::default(),
            pause: Family::default(),
            added_latency: Family::default(),
            bandwidth: Family::default(),
            epoch_length: Family::default(),
            meets_limits: Family::default(),
            recommended: Optional::default(),
            acceptable: Optional::default(),
            operating_interval: Optional::default(),
            operating_slowdown: Optional::default(),
            remus_interval: Optional::default(),
            profile_info: Family::default(),
            max_slowdown: Optional::default(),
            max_pause: Optional::default(),
            max_added_latency: Optional::default(),
            model_updates: Counter::default(),
            model_errors: Counter::default(),
            model_timestamp: FloatGauge::default(),
            profile_reloads: Counter::default(),
            profile_reload_errors: Counter::default(),
            registry: Registry::default(),
        };
        m.register(&mut registry);
        Metrics { registry, ..m }
    }

    fn register(&self, r: &mut Registry) {
        r.register(
            "interval_dirty_pages",
            "Distinct pages dirtied per checkpoint-interval window",
            self.dirty_pages.clone(),
        );
        r.register(
            "dirty_pages",
            "Distinct pages dirtied per base epoch, summed; rate() is the dirty rate in pages per second",
            self.dirty_pages_total.clone(),
        );
        r.register(
            "disk_write_bytes",
            "Bytes the target wrote to storage",
            self.disk_write_bytes.clone(),
        );
        r.register(
            "disk_write_requests",
            "Write requests of the target (system calls or block requests)",
            self.disk_write_requests.clone(),
        );
        r.register(
            "target_cpu_seconds",
            "CPU time of the target",
            self.target_cpu.clone(),
        );
        r.register("epochs", "Base epochs measured", self.epochs.clone());
        r.register(
            "late_epochs",
            "Base epochs that ran more than 20 % over plan because measuring fell behind",
            self.late_epochs.clone(),
        );
        r.register(
            "measure_seconds",
            "Wall time spent collecting dirty pages (scan, bitmap read): the measuring cost",
            self.measure_seconds.clone(),
        );
        r.register(
            "self_cpu_seconds",
            "CPU time of this remus-tune watch process",
            self.self_cpu.clone(),
        );
        r.register(
            "self_resident_bytes",
            "Resident memory of this remus-tune watch process",
            self.self_resident.clone(),
        );
        if let Some(xen) = &self.xen {
            r.register(
                "dom0_cpu_seconds",
                "CPU time of Dom-0, all vCPUs (includes the save helper and remus-tune)",
                xen.dom0_cpu.clone(),
            );
            r.register(
                "save_helper_cpu_seconds",
                "CPU time of the domain's libxl-save-helper (Remus, COLO or a save)",
                xen.save_helper_cpu.clone(),
            );
            r.register(
                "remus_checkpoints",
                "Remus checkpoints seen in observe mode (drops of Xen's dirty_count)",
                xen.checkpoints.clone(),
            );
            r.register(
                "remus_checkpoint_pages",
                "Pages per Remus checkpoint seen in observe mode, at least (median, max)",
                xen.checkpoint_pages.clone(),
            );
        }
        r.register(
            "measure_info",
            "How the target is measured (value 1)",
            self.measure_info.clone(),
        );
        r.register(
            "window_dirty_pages_per_second",
            "Mean dirty pages per second per interval over the sliding window",
            self.window_dirty_rate.clone(),
        );
        r.register(
            "window_covered_seconds",
            "Length of measured time the last model update saw",
            self.window_covered.clone(),
        );
        r.register(
            "predicted_slowdown_ratio",
            "Predicted loss of guest throughput under Remus (0.1 = 10 %)",
            self.slowdown.clone(),
        );
        r.register(
            "predicted_pause_seconds",
            "Predicted pause per checkpoint",
            self.pause.clone(),
        );
        r.register(
            "predicted_added_latency_seconds",
            "Predicted added network latency (output commit); absent without buffering",
            self.added_latency.clone(),
        );
        r.register(
            "predicted_bandwidth_bytes_per_second",
            "Predicted replication link bandwidth",
            self.bandwidth.clone(),
        );
        r.register(
            "predicted_epoch_seconds",
            "Predicted achieved checkpoint period, suspend to suspend",
            self.epoch_length.clone(),
        );
        r.register(
            "predicted_meets_limits",
            "1 when every limit of the profile holds at this interval",
            self.meets_limits.clone(),
        );
        r.register(
            "recommended_interval_seconds",
            "Shortest interval meeting every limit; absent when none does",
            self.recommended.clone(),
        );
        r.register(
            "verdict_acceptable",
            "1 when some interval meets every limit of the profile, 0 when none does",
            self.acceptable.clone(),
        );
        r.register(
            "operating_interval_seconds",
            "The interval judged: --remus-interval, else the recommended, else the closest",
            self.operating_interval.clone(),
        );
        r.register(
            "operating_predicted_slowdown_ratio",
            "Predicted slowdown at the operating interval, as the profile judges it",
            self.operating_slowdown.clone(),
        );
        r.register(
            "remus_interval_seconds",
            "The interval Remus was started with (--remus-interval)",
            self.remus_interval.clone(),
        );
        r.register(
            "profile_info",
            "The profile in force (value 1)",
            self.profile_info.clone(),
        );
        r.register(
            "profile_max_slowdown_ratio",
            "The profile's slowdown limit",
            self.max_slowdown.clone(),
        );
        r.register(
            "profile_max_pause_seconds",
            "The profile's p95 pause limit",
            self.max_pause.clone(),
        );
        r.register(
            "profile_max_added_latency_seconds",
            "The profile's p95 added latency limit",
            self.max_added_latency.clone(),
        );
        r.register(
            "model_updates",
            "Model updates over the sliding window",
            self.model_updates.clone(),
        );
        r.register(
            "model_errors",
            "Model updates that could not predict (too little measured yet)",
            self.model_errors.clone(),
        );
        r.register(
            "model_last_update_timestamp_seconds",
            "Unix time of the last successful model update",
            self.model_timestamp.clone(),
        );
        r.register(
            "profile_reloads",
            "Profile reloads on SIGHUP that succeeded",
            self.profile_reloads.clone(),
        );
        r.register(
            "profile_reload_errors",
            "Profile reloads on SIGHUP that failed (the previous profile stays)",
            self.profile_reload_errors.clone(),
        );
    }

    /// Says how the target is measured (once the backend has started).
    pub fn set_measure_info(&self, backend: &str, method: &str, mode: &str) {
        self.measure_info
            .get_or_create(&MeasureInfo {
                backend: backend.into(),
                method: method.into(),
                mode: mode.into(),
                version: env!("CARGO_PKG_VERSION").into(),
            })
            .set(1);
    }

    /// Counts one base epoch and the windows it closed.
    pub fn record_epoch(&self, epoch: &Epoch, base_epoch_s: f64) {
        self.epochs.inc();
        if epoch.end_s - epoch.start_s > base_epoch_s * LATE_FACTOR {
            self.late_epochs.inc();
        }
        self.dirty_pages_total.inc_by(epoch.dirty_pages);
        for window in &epoch.windows {
            self.dirty_pages
                .get_or_create(&Interval {
                    interval_seconds: interval_label(window.interval_ms),
                })
                .observe(window.dirty_pages as f64);
        }
        self.disk_write_bytes.inc_by(epoch.write_bytes);
        self.disk_write_requests.inc_by(epoch.syscw);
        self.target_cpu.inc_by(epoch.cpu_s);
        self.measure_seconds.inc_by(epoch.scan_ms / 1e3);
        if let (Some(xen), Some(dom0)) = (&self.xen, epoch.dom0) {
            xen.dom0_cpu.inc_by(dom0.cpu_s);
            xen.save_helper_cpu
                .inc_by(dom0.save_helper_s.unwrap_or(0.0));
        }
    }

    /// Remus's checkpoints as observe mode has seen them so far.
    pub fn record_checkpoints(&self, seen: &RemusProgress) {
        let Some(xen) = &self.xen else { return };
        let counted = xen.checkpoints.get();
        if seen.checkpoints > counted {
            xen.checkpoints.inc_by(seen.checkpoints - counted);
        }
        for (stat, value) in [("median", seen.median_pages), ("max", seen.max_pages)] {
            xen.checkpoint_pages
                .get_or_create(&Stat { stat: stat.into() })
                .set(value as f64);
        }
    }

    /// Publishes one model run: predictions per interval, the verdict, the profile.
    pub fn record_report(
        &self,
        report: &ModelReport,
        profile: &Profile,
        remus_interval_ms: Option<u64>,
        covered_s: f64,
        now_unix_s: f64,
    ) {
        self.model_updates.inc();
        self.model_timestamp.set(now_unix_s);
        self.window_covered.set(covered_s);
        for point in &report.curve {
            if point.window_ms > 0.0 {
                self.window_dirty_rate
                    .get_or_create(&Interval {
                        interval_seconds: interval_label(point.interval_ms),
                    })
                    .set(point.dirty_pages.mean / (point.window_ms / 1e3));
            }
        }
        // Latency is absent when buffering is off: clear what an earlier profile left.
        self.added_latency.clear();
        for p in &report.intervals {
            self.record_interval(p);
        }
        set_optional(
            &self.recommended,
            report.recommended_interval_ms.map(|ms| ms as f64 / 1e3),
        );
        set_optional(
            &self.acceptable,
            Some(if report.recommended_interval_ms.is_some() {
                1.0
            } else {
                0.0
            }),
        );
        let operating = operating_interval(report, remus_interval_ms);
        set_optional(
            &self.operating_interval,
            operating.map(|p| p.interval_ms as f64 / 1e3),
        );
        set_optional(
            &self.operating_slowdown,
            operating.map(|p| judged_slowdown(p, profile)),
        );
        set_optional(
            &self.remus_interval,
            remus_interval_ms.map(|ms| ms as f64 / 1e3),
        );
        self.record_profile(profile);
    }

    fn record_interval(&self, p: &IntervalPrediction) {
        let interval_seconds = interval_label(p.interval_ms);
        let interval = Interval {
            interval_seconds: interval_seconds.clone(),
        };
        for (placement, throughput) in [
            ("pinned", p.throughput_pinned),
            ("shared", p.throughput_shared),
        ] {
            self.slowdown
                .get_or_create(&IntervalPlacement {
                    interval_seconds: interval_seconds.clone(),
                    placement: placement.into(),
                })
                .set(1.0 - throughput);
        }
        let stat = |stat: &str| IntervalStat {
            interval_seconds: interval_seconds.clone(),
            stat: stat.into(),
        };
        self.pause
            .get_or_create(&stat("mean"))
            .set(p.pause_ms.mean / 1e3);
        self.pause
            .get_or_create(&stat("p95"))
            .set(p.pause_ms.p95 / 1e3);
        if let Some(latency) = p.added_latency_ms {
            self.added_latency
                .get_or_create(&stat("mean"))
                .set(latency.mean / 1e3);
            self.added_latency
                .get_or_create(&stat("p95"))
                .set(latency.p95 / 1e3);
        }
        self.bandwidth
            .get_or_create(&interval)
            .set(p.bandwidth_bytes_per_s);
        self.epoch_length
            .get_or_create(&interval)
            .set(p.achieved_epoch_ms / 1e3);
        self.meets_limits
            .get_or_create(&interval)
            .set(i64::from(p.meets_limits));
    }

    /// The profile in force and its limits (after start and after every SIGHUP).
    pub fn record_profile(&self, profile: &Profile) {
        self.profile_info.clear();
        self.profile_info
            .get_or_create(&ProfileInfo {
                profile: profile.name.clone(),
                host: profile.host.clone(),
                judged_placement: placement_name(profile).into(),
            })
            .set(1);
        set_optional(&self.max_slowdown, profile.limits.max_slowdown);
        set_optional(&self.max_pause, profile.limits.max_pause_s);
        set_optional(&self.max_added_latency, profile.limits.max_added_latency_s);
    }

    pub fn model_failed(&self) {
        self.model_errors.inc();
    }

    pub fn profile_reloaded(&self, ok: bool) {
        if ok {
            self.profile_reloads.inc();
        } else {
            self.profile_reload_errors.inc();
        }
    }

    /// The whole registry in the Prometheus text format (version 0.0.4), which both a
    /// Prometheus scrape and node_exporter's textfile collector read.
    pub fn encode(&self) -> String {
        self.refresh_self();
        let mut text = String::new();
        // Writing into a String cannot fail; an encoding error would be a client bug.
        if let Err(err) =
            prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
        {
            crate::warn!("cannot encode the metrics: {err}");
        }
        text
    }

    /// This process's own CPU and memory: part of what measuring costs.
    fn refresh_self(&self) {
        if let Some(cpu) = crate::watch::selfcost::cpu_seconds() {
            if let Ok(mut seen) = self.self_cpu_seen.lock() {
                if cpu > *seen {
                    self.self_cpu.inc_by(cpu - *seen);
                    *seen = cpu;
                }
            }
        }
        if let Some(bytes) = crate::watch::selfcost::resident_bytes() {
            self.self_resident.set(bytes as i64);
        }
    }
}

/// The HTTP `Content-Type` of `encode`'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

fn placement_name(profile: &Profile) -> &'static str {
    match profile.limits.dom0 {
        crate::model::Dom0Placement::Pinned => "pinned",
        crate::model::Dom0Placement::Shared => "shared",
    }
}

/// The slowdown the profile judges: at the placement its limit is set for.
fn judged_slowdown(p: &IntervalPrediction, profile: &Profile) -> f64 {
    1.0 - match profile.limits.dom0 {
        crate::model::Dom0Placement::Pinned => p.throughput_pinned,
        crate::model::Dom0Placement::Shared => p.throughput_shared,
    }
}

/// The interval the verdict is about: the one Remus runs at when given, else the
/// recommended one, else the one closest to meeting the limits (the verdict's own choice).
fn operating_interval(
    report: &ModelReport,
    remus_interval_ms: Option<u64>,
) -> Option<&IntervalPrediction> {
    let find = |ms: u64| report.intervals.iter().find(|p| p.interval_ms == ms);
    // Observe mode measures the base epoch only: Remus's interval may have no prediction.
    if let Some(p) = remus_interval_ms.and_then(find) {
        return Some(p);
    }
    if let Some(ms) = report.recommended_interval_ms {
        return find(ms);
    }
    report
        .intervals
        .iter()
        .min_by(|a, b| worst_excess(a).total_cmp(&worst_excess(b)))
}

fn worst_excess(p: &IntervalPrediction) -> f64 {
    p.limits
        .iter()
        .map(crate::model::LimitCheck::excess)
        .fold(0.0, f64::max)
}
