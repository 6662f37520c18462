//! The QEMU backend measuring a real guest whose write pattern is known by construction:
//! dirty pages per interval for sweep and hot-set guests (exact methods within 5 %, sampled
//! within 15 %), the exact page set against the test's own hashes of the RAM file, disk writes,
//! threads, and QEMU's calc-dirty-rate cross-check. Under TCG always; under KVM too where
//! /dev/kvm works (otherwise the reason is printed).

use crate::qemu_support;

use std::time::{Duration, Instant};

use qemu_support::{
    hash_file_pages, kvm_usable, mean_union, qemu_or_skip, raw_qmp, stat_field, Guest, GuestOptions,
};
use remus_tune::backend::process::softdirty;
use remus_tune::backend::qemu::dirtyrate::State;
use remus_tune::backend::qemu::{QemuBackend, QemuOptions, QemuTarget};
use remus_tune::backend::Backend;
use remus_tune::cli::MethodChoice;
use remus_tune::pageset::PageSet;

const EPOCH: Duration = Duration::from_millis(100);
const WARMUP: Duration = Duration::from_secs(3);

fn backend(guest: &Guest, socket: usize, method: MethodChoice, cross_check: bool) -> QemuBackend {
    let options = QemuOptions {
        method,
        epoch: EPOCH,
        cross_check,
        ..QemuOptions::default()
    };
    QemuBackend::connect(&QemuTarget::Socket(guest.qmp[socket].clone()), &options).unwrap()
}

/// The guest starts writing at its ready line; its first seconds are left out, as a user
/// would leave out a VM's boot.
fn warm_up() {
    std::thread::sleep(WARMUP);
}

/// Soft-dirty where the kernel has it (else the reason is printed), hash, and sample.
fn exact_and_sampled_methods() -> Vec<MethodChoice> {
    let mut methods = vec![MethodChoice::Hash, MethodChoice::Sample];
    match softdirty::probe() {
        Ok(()) => methods.insert(0, MethodChoice::SoftDirty),
        Err(why) => eprintln!("\n*** soft-dirty not tested: {why} ***\n"),
    }
    methods
}

/// The guest's page writes so far, read from its marker page in the RAM file (word 17 of
/// frame 4095): the test's own view, independent of the code under test.
fn guest_writes(shm: &std::path::Path) -> u64 {
    marker_word(shm, 17)
}

/// The guest's disk writes so far (word 18 of its marker page).
fn guest_disk_ops(shm: &std::path::Path) -> u64 {
    marker_word(shm, 18)
}

fn marker_word(shm: &std::path::Path, index: u64) -> u64 {
    use std::os::unix::fs::FileExt;
    let mut word = [0u8; 4];
    std::fs::File::open(shm)
        .unwrap()
        .read_exact_at(&mut word, 4095 * 4096 + index * 4)
        .unwrap();
    u32::from_le_bytes(word) as u64
}

/// Collects all backends once per epoch, `n` times; returns each backend's sets and the
/// guest's write counter right after each of its collects.
fn lockstep(
    backends: &mut [QemuBackend],
    shm: &std::path::Path,
    n: usize,
) -> Vec<(Vec<PageSet>, Vec<u64>)> {
    let mut out: Vec<(Vec<PageSet>, Vec<u64>)> = backends
        .iter()
        .map(|_| (Vec::new(), vec![guest_writes(shm)]))
        .collect();
    let start = Instant::now();
    for i in 1..=n {
        let due = start + EPOCH * i as u32;
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        for (b, o) in backends.iter_mut().zip(out.iter_mut()) {
            o.0.push(b.collect().unwrap().dirty);
            o.1.push(guest_writes(shm));
        }
    }
    out
}

/// Mean over non-overlapping windows of `k` epochs of `expected(writes in the window)`.
fn mean_expected(writes: &[u64], k: usize, expected: &impl Fn(f64) -> f64) -> f64 {
    let w: Vec<f64> = writes
        .windows(2)
        .map(|p| (p[1] - p[0]) as f64)
        .collect::<Vec<_>>()
        .chunks_exact(k)
        .map(|c| expected(c.iter().sum()))
        .collect();
    w.iter().sum::<f64>() / w.len() as f64
}

/// Runs the three methods on one guest and checks every interval against `expected(writes)`,
/// the distinct pages the guest's writes in a window give by construction (`nominal(k)` is the
/// same at the guest's nominal rate, printed for comparison).
fn check_pattern(
    accel: &'static str,
    append: &str,
    expected: impl Fn(f64) -> f64,
    expected_nominal: impl Fn(usize) -> f64,
) {
    let guest = Guest::start(GuestOptions {
        file_ram: true,
        accel,
        qmp_sockets: 3,
        ..GuestOptions::with(append)
    });
    warm_up();
    let methods = exact_and_sampled_methods();
    let mut backends: Vec<QemuBackend> = methods
        .iter()
        .enumerate()
        .map(|(i, m)| backend(&guest, i, *m, false))
        .collect();
    for b in &mut backends {
        b.start().unwrap();
    }
    let results = lockstep(&mut backends, guest.shm.as_deref().unwrap(), 24);
    for (b, (sets, writes)) in backends.iter().zip(&results) {
        let info = b.method();
        let scale = if info.exact {
            1.0
        } else {
            let s = info.sample.as_ref().unwrap();
            s.frame_pages as f64 / s.sampled_pages as f64
        };
        let tolerance = if info.exact { 0.05 } else { 0.15 };
        for k in [1usize, 2, 4] {
            let got = mean_union(sets, k) * scale;
            let want = mean_expected(writes, k, &expected);
            let nominal = expected_nominal(k);
            eprintln!(
                "{accel} `{append}` {:>10} {:>3} ms: {:7.1} pages (guest wrote {want:.0}, {:+.1} %; nominal {nominal:.0})",
                info.name,
                k * 100,
                got,
                (got / want - 1.0) * 100.0
            );
            assert!(
                (got / want - 1.0).abs() <= tolerance,
                "{} at {} ms: {got:.1} vs {want:.0}",
                info.name,
                k * 100
            );
        }
    }
}

fn sweep_and_hot(accel: &'static str) {
    // Sweep: 2000 new pages/s over 4096 pages: every write in a window is a distinct page,
    // plus the marker page that holds the guest's counter.
    let sweep = std::thread::spawn(move || {
        check_pattern(
            accel,
            "mode=sweep rate=2000 pages=4096",
            |writes| writes.min(4096.0) + 1.0,
            |k| 2000.0 * 0.1 * k as f64,
        )
    });
    // Hot set: 4000 writes/s over 600 pages: min(600, writes) distinct pages, plus the marker.
    check_pattern(
        accel,
        "mode=hot rate=4000 hot=600",
        |writes| writes.min(600.0) + 1.0,
        |k| (400.0 * k as f64).min(600.0),
    );
    sweep.join().unwrap();
}

#[test]
fn tcg_sweep_and_hot_set_at_three_intervals() {
    if !qemu_or_skip("tcg_sweep_and_hot_set_at_three_intervals") {
        return;
    }
    sweep_and_hot("tcg");
}

#[test]
fn kvm_sweep_and_hot_set_at_three_intervals() {
    if !qemu_or_skip("kvm_sweep_and_hot_set_at_three_intervals") {
        return;
    }
    match kvm_usable() {
        Ok(()) => sweep_and_hot("kvm"),
        Err(why) => eprintln!("\n*** SKIPPED the KVM variant: {why} ***\n"),
    }
}

#[test]
fn exact_sets_equal_the_tests_own_hashes_of_the_ram_file() {
    if !qemu_or_skip("exact_sets_equal_the_tests_own_hashes_of_the_ram_file") {
        return;
    }
    let guest = Guest::start(GuestOptions {
        file_ram: true,
        qmp_sockets: 3,
        ..GuestOptions::with("mode=sweep rate=3000 pages=8192")
    });
    let shm = guest.shm.clone().unwrap();
    let mut hash = backend(&guest, 0, MethodChoice::Hash, false);
    hash.start().unwrap();
    let mut soft = match softdirty::probe() {
        Ok(()) => {
            let mut b = backend(&guest, 1, MethodChoice::SoftDirty, false);
            b.start().unwrap();
            Some(b)
        }
        Err(why) => {
            eprintln!("\n*** soft-dirty not compared: {why} ***\n");
            None
        }
    };
    for round in 0..3 {
        raw_qmp(&guest.qmp[2], "stop");
        hash.collect().unwrap();
        if let Some(soft) = &mut soft {
            soft.collect().unwrap();
        }
        let before = hash_file_pages(&shm);
        raw_qmp(&guest.qmp[2], "cont");
        std::thread::sleep(Duration::from_millis(300));
        raw_qmp(&guest.qmp[2], "stop");
        let by_hash = hash.collect().unwrap().dirty;
        let by_soft = soft.as_mut().map(|s| s.collect().unwrap().dirty);
        let after = hash_file_pages(&shm);
        raw_qmp(&guest.qmp[2], "cont");
        let mut truth = PageSet::new();
        for (i, (a, b)) in before.iter().zip(&after).enumerate() {
            if a != b {
                truth.insert(i as u64);
            }
        }
        eprintln!(
            "round {round}: file hashes: {} pages changed; hash method: {}; soft-dirty: {:?}",
            truth.len(),
            by_hash.len(),
            by_soft.as_ref().map(PageSet::len)
        );
        assert!(
            truth.len() > 500,
            "the guest wrote too little: {}",
            truth.len()
        );
        assert_eq!(by_hash, truth, "hash method differs from the file");
        if let Some(by_soft) = by_soft {
            let mut both = truth.clone();
            both.union_with(&by_soft);
            assert_eq!(
                both.len(),
                by_soft.len(),
                "soft-dirty missed pages the file shows"
            );
            assert!(
                by_soft.len() <= truth.len() + 4,
                "soft-dirty saw {} extra",
                by_soft.len() - truth.len()
            );
        }
    }
}

#[test]
fn disk_writes_match_the_guest_pattern() {
    if !qemu_or_skip("disk_writes_match_the_guest_pattern") {
        return;
    }
    let guest = Guest::start(GuestOptions {
        disk: true,
        file_ram: true,
        ..GuestOptions::with("mode=sweep rate=500 pages=1024 disk=50 dsec=8")
    });
    let shm = guest.shm.clone().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let mut b = backend(&guest, 0, MethodChoice::Hash, false);
    let c0 = b.start().unwrap();
    let g0 = guest_disk_ops(&shm);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let c1 = b.collect().unwrap().counters;
    let g1 = guest_disk_ops(&shm);
    let secs = t0.elapsed().as_secs_f64();
    let ops = (c1.write_requests - c0.write_requests) as f64;
    let bytes = (c1.write_bytes - c0.write_bytes) as f64;
    let guest_ops = (g1 - g0) as f64;
    eprintln!(
        "disk: QEMU counted {ops} writes, {bytes} B in {secs:.2} s; the guest made {guest_ops} \
         writes of 4096 B (nominal 50/s)"
    );
    assert!(guest_ops > 0.0);
    assert!(
        (ops / guest_ops - 1.0).abs() <= 0.10,
        "{ops} vs {guest_ops}"
    );
    assert!(
        (bytes / (guest_ops * 4096.0) - 1.0).abs() <= 0.10,
        "{bytes} B"
    );
    eprintln!("flushes so far: {}", b.disk_totals().flush_operations);
    let stat = guest.next_stat(Duration::from_secs(2)).unwrap();
    assert_eq!(stat_field(&stat, "disk_errors"), Some(0), "{stat}");
}

#[test]
fn threads_by_class_and_vcpu_pinning() {
    if !qemu_or_skip("threads_by_class_and_vcpu_pinning") {
        return;
    }
    let guest = Guest::start(GuestOptions {
        extra: ["-smp", "2", "-object", "iothread,id=io0"]
            .map(String::from)
            .to_vec(),
        ..GuestOptions::with("mode=sweep rate=2000 pages=1024")
    });
    let mut b = backend(&guest, 0, MethodChoice::Hash, false);
    b.start().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    b.collect().unwrap();
    let threads = b.threads().clone();
    let tasks = remus_tune::backend::qemu::threads::task_ids(guest.pid()).unwrap();
    assert_eq!(threads.vcpus.len(), 2);
    assert_eq!(threads.iothreads.len(), 1);
    assert_eq!(threads.iothreads[0].id, "io0");
    assert!(tasks.contains(&threads.iothreads[0].tid));
    assert_eq!(
        threads.vcpu_tids().len(),
        2,
        "multi-threaded TCG: a thread per vCPU"
    );
    let vcpu = threads.vcpus[0].tid;
    assert!(
        tasks.contains(&vcpu) && vcpu != guest.pid(),
        "vCPU {vcpu} in {tasks:?}"
    );
    assert!(threads.emulator.contains(&guest.pid()));
    assert!(!threads.emulator.contains(&vcpu));
    let cpu = b.cpu_by_class();
    eprintln!("threads: {threads:?}\ncpu by class: {cpu:?}");
    assert!(cpu.vcpu_s > 0.0 && cpu.emulator_s >= 0.0);
    // Pin the vCPU thread to CPU 0, read it back from /proc, revert.
    let allowed = |tid: i32| -> String {
        std::fs::read_to_string(format!("/proc/{}/task/{tid}/status", guest.pid()))
            .unwrap()
            .lines()
            .find_map(|l| {
                l.strip_prefix("Cpus_allowed_list:")
                    .map(|v| v.trim().to_string())
            })
            .unwrap()
    };
    let before = allowed(vcpu);
    // SAFETY: cpu_set_t is plain data; zeroed is its empty value.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU 0 is below CPU_SETSIZE and `set` is a valid cpu_set_t.
    unsafe { libc::CPU_SET(0, &mut set) };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `set` is a valid cpu_set_t of `size` bytes; `vcpu` is a thread id.
    assert_eq!(unsafe { libc::sched_setaffinity(vcpu, size, &set) }, 0);
    assert_eq!(allowed(vcpu), "0");
    // SAFETY: cpu_set_t is plain data; zeroed is its empty value.
    let mut all: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: reading our own affinity into a valid cpu_set_t.
    assert_eq!(unsafe { libc::sched_getaffinity(0, size, &mut all) }, 0);
    // SAFETY: as above, with the saved mask.
    assert_eq!(unsafe { libc::sched_setaffinity(vcpu, size, &all) }, 0);
    assert_eq!(allowed(vcpu), before);
}

#[test]
fn calc_dirty_rate_cross_check_agrees_roughly() {
    if !qemu_or_skip("calc_dirty_rate_cross_check_agrees_roughly") {
        return;
    }
    // Many pages, so QEMU's 512-pages-per-GiB sample sees enough of them.
    let guest = Guest::start(GuestOptions {
        file_ram: true,
        ..GuestOptions::with("mode=sweep rate=20000 pages=40000")
    });
    let shm = guest.shm.clone().unwrap();
    let mut b = backend(&guest, 0, MethodChoice::Hash, true);
    eprintln!("notes: {:#?}", b.notes());
    b.start().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut sets = Vec::new();
    // (time, guest writes) at each collect, for the guest's real rate while QEMU measured.
    let mut progress = vec![(Instant::now(), guest_writes(&shm))];
    while Instant::now() < deadline {
        std::thread::sleep(EPOCH);
        sets.push(b.collect().unwrap().dirty);
        progress.push((Instant::now(), guest_writes(&shm)));
        if let Some(State::Done(_)) = b.cross_check() {
            break;
        }
    }
    // Our own count over one second (two collects a second apart), from the same backend.
    // The counter is read just before each collect: page p is hashed at (collect start + the
    // same offset) in both scans, so our set covers exactly the time between the two starts.
    let w0 = guest_writes(&shm);
    b.collect().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let w1 = guest_writes(&shm);
    let ours = b.collect().unwrap().dirty.len() as f64;
    let wrote = (w1 - w0) as f64;
    // The guest's rate over the last 1.5 s before QEMU answered (its window is in there).
    let (t_end, w_end) = *progress.last().unwrap();
    let (t_start, w_start) = *progress
        .iter()
        .rev()
        .find(|(t, _)| t_end.duration_since(*t) >= Duration::from_millis(1500))
        .unwrap_or(&progress[0]);
    let guest_rate = (w_end - w_start) as f64 / t_end.duration_since(t_start).as_secs_f64();
    let state = b.cross_check().cloned();
    let Some(State::Done(m)) = state else {
        panic!("calc-dirty-rate gave nothing: {state:?}");
    };
    let qemu_rate = m.pages_per_s(4096);
    eprintln!("epochs before QEMU's answer: {}", sets.len());
    eprintln!(
        "calc-dirty-rate ({} {} {}): {} MiB/s = {qemu_rate:.0} pages/s; the guest wrote \
         {guest_rate:.0} pages/s then (nominal 20000); ours: {ours} pages in a window where the \
         guest wrote {wrote}",
        m.mode, m.calc_time, m.unit, m.dirty_rate_mib_s
    );
    assert_eq!(m.mode, "page-sampling", "TCG must not use dirty-bitmap");
    // QEMU's 1 s window sits somewhere in the last seconds (its start-time has whole-second
    // resolution) and page-sampling is an estimate; a starved guest writes in bursts. So this
    // checks the order of magnitude against both the guest's recent and nominal rates.
    let (low, high) = (guest_rate.min(20000.0), guest_rate.max(20000.0));
    assert!(
        qemu_rate > 0.5 * low && qemu_rate < 1.5 * high,
        "{qemu_rate} vs {guest_rate} pages/s"
    );
    // One hash scan of the ~160 MB this guest keeps resident takes a tenth of this 1 s window
    // on a busy host, so the window our set covers and the counter's differ by that much (the
    // 5 % checks above use small regions).
    assert!(
        (ours / (wrote + 1.0) - 1.0).abs() < 0.10,
        "{ours} vs {wrote}"
    );
}
