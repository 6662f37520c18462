//! Shared by the tests/qemu/*.rs tests: builds the test guest (tests/guest/) with the system
//! gcc and ld, boots it under a real qemu-system-x86_64, and cleans up.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use remus_tune::pageset::PageSet;

pub const QEMU: &str = "qemu-system-x86_64";

/// True when QEMU is installed; otherwise prints why the test is skipped, loudly.
pub fn qemu_or_skip(test: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(QEMU).is_file()));
    if !found {
        eprintln!(
            "\n*** SKIPPED {test}: {QEMU} is not installed. The set-up installs it from \
             scripts/apt-packages.txt (apt-get install qemu-system-x86). ***\n"
        );
    }
    found
}

/// Whether KVM can run the test guest here, and if not, why.
pub fn kvm_usable() -> Result<(), String> {
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        return Err(format!("cannot open /dev/kvm: {e}"));
    }
    let pvm = Path::new("/sys/module/kvm_pvm").exists();
    // Opening is not enough: the guest must boot and run its timer loop (a `stat` line a
    // second after its ready line proves interrupts and the clock work).
    let g = Guest::try_start(GuestOptions {
        accel: "kvm",
        ..GuestOptions::idle()
    })
    .map_err(|e| format!("QEMU with -accel kvm did not boot the guest: {e}"))?;
    if g.next_stat(Duration::from_secs(3)).is_none() {
        return Err(format!(
            "under -accel kvm the guest printed its ready line but then stopped{}",
            if pvm {
                ": this host's KVM is kvm-pvm (no hardware virtualisation), which fails on the \
                 guest's first interrupt return (dmesg: \"kvm-pvm: INTERNAL_ERROR in batch emul\")"
            } else {
                ""
            }
        ));
    }
    Ok(())
}

/// Builds the guest once per test binary and returns the ELF's path.
pub fn guest_elf() -> &'static Path {
    static ELF: OnceLock<PathBuf> = OnceLock::new();
    ELF.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guest");
        let out =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("guest-{}", std::process::id()));
        std::fs::create_dir_all(&out).unwrap();
        let run = |cmd: &mut Command| {
            let o = cmd.output().expect("run the system gcc/ld");
            assert!(
                o.status.success(),
                "{cmd:?} failed:\n{}",
                String::from_utf8_lossy(&o.stderr)
            );
        };
        run(Command::new("gcc")
            .args([
                "-m32",
                "-march=i686",
                "-ffreestanding",
                "-fno-pic",
                "-fno-pie",
            ])
            .args([
                "-fno-stack-protector",
                "-fno-builtin",
                "-nostdlib",
                "-O2",
                "-Wall",
                "-c",
            ])
            .arg(src.join("guest.c"))
            .arg("-o")
            .arg(out.join("guest.o")));
        run(Command::new("gcc")
            .args(["-m32", "-c"])
            .arg(src.join("boot.S"))
            .arg("-o")
            .arg(out.join("boot.o")));
        run(Command::new("ld")
            .args(["-m", "elf_i386", "--no-warn-rwx-segments", "-T"])
            .arg(src.join("guest.ld"))
            .arg("-o")
            .arg(out.join("guest.elf"))
            .arg(out.join("boot.o"))
            .arg(out.join("guest.o")));
        out.join("guest.elf")
    })
}

/// How to boot the guest.
#[derive(Clone)]
pub struct GuestOptions {
    /// The guest's command line (see tests/guest/guest.c).
    pub append: String,
    /// Back RAM with a file in /dev/shm the test can read (else QEMU's anonymous RAM).
    pub file_ram: bool,
    /// Attach an 8 MiB raw IDE disk.
    pub disk: bool,
    /// `tcg` or `kvm`.
    pub accel: &'static str,
    pub mem_mib: u32,
    /// `pc` or `q35`.
    pub machine: &'static str,
    /// QMP sockets to open (the tests use spare ones to pause the guest).
    pub qmp_sockets: usize,
    /// File names for the QMP sockets instead of `qmp<i>.sock`.
    pub qmp_names: Vec<String>,
    /// More QEMU arguments.
    pub extra: Vec<String>,
}

impl GuestOptions {
    pub fn idle() -> Self {
        GuestOptions {
            append: "mode=idle".into(),
            file_ram: false,
            disk: false,
            accel: "tcg",
            mem_mib: 256,
            machine: "pc",
            qmp_sockets: 1,
            qmp_names: Vec::new(),
            extra: Vec::new(),
        }
    }
    pub fn with(append: &str) -> Self {
        GuestOptions {
            append: append.into(),
            ..Self::idle()
        }
    }
}

/// A running QEMU with the test guest.
pub struct Guest {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub qmp: Vec<PathBuf>,
    pub shm: Option<PathBuf>,
    pub disk: Option<PathBuf>,
    pub ready_line: String,
    /// From spawning QEMU to the guest's ready line.
    pub boot_time: Duration,
    pub serial: Receiver<String>,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl Guest {
    pub fn start(options: GuestOptions) -> Guest {
        Guest::try_start(options).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_start(options: GuestOptions) -> Result<Guest, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let qmp: Vec<PathBuf> = if options.qmp_names.is_empty() {
            (0..options.qmp_sockets)
                .map(|i| dir.path().join(format!("qmp{i}.sock")))
                .collect()
        } else {
            options
                .qmp_names
                .iter()
                .map(|n| dir.path().join(n))
                .collect()
        };
        let mut cmd = Command::new(QEMU);
        cmd.args([
            "-M",
            options.machine,
            "-accel",
            options.accel,
            "-nographic",
            "-nic",
            "none",
        ])
        .arg("-m")
        .arg(options.mem_mib.to_string())
        .arg("-kernel")
        .arg(guest_elf())
        .arg("-append")
        .arg(&options.append);
        for q in &qmp {
            cmd.arg("-qmp")
                .arg(format!("unix:{},server=on,wait=off", q.display()));
        }
        let shm = options.file_ram.then(|| {
            PathBuf::from(format!(
                "/dev/shm/remus-tune-test-{}-{}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::SeqCst)
            ))
        });
        if let Some(shm) = &shm {
            cmd.arg("-object")
                .arg(format!(
                    "memory-backend-file,id=ram,size={}M,mem-path={},share=on",
                    options.mem_mib,
                    shm.display()
                ))
                .args(["-machine", "memory-backend=ram"]);
        }
        let disk = options.disk.then(|| dir.path().join("disk.img"));
        if let Some(disk) = &disk {
            std::fs::File::create(disk)
                .and_then(|f| f.set_len(8 << 20))
                .map_err(|e| e.to_string())?;
            cmd.arg("-drive")
                .arg(format!("file={},format=raw,if=ide,index=0", disk.display()));
        }
        cmd.args(&options.extra);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {QEMU}: {e}"))?;
        let (tx, serial) = channel();
        let stdout = child.stdout.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = child.stderr.take().expect("piped");
        let (etx, erx) = channel();
        std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                all.push_str(&line);
                all.push('\n');
            }
            let _ = etx.send(all);
        });
        let mut guest = Guest {
            child,
            dir,
            qmp,
            shm,
            disk,
            ready_line: String::new(),
            boot_time: Duration::ZERO,
            serial,
        };
        let deadline = started + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match guest.serial.recv_timeout(left) {
                Ok(line) if line.contains("remus-tune-guest ready") => {
                    guest.boot_time = started.elapsed();
                    guest.ready_line =
                        line[line.find("remus-tune-guest").unwrap_or(0)..].to_string();
                    break;
                }
                Ok(_) => continue,
                Err(_) => {
                    guest.kill();
                    let err = erx.recv_timeout(Duration::from_secs(2)).unwrap_or_default();
                    return Err(format!("guest did not print its ready line: {err}"));
                }
            }
        }
        while !guest.qmp.iter().all(|q| q.exists()) {
            if Instant::now() > deadline {
                return Err("QMP sockets did not appear".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(guest)
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The guest's latest `stat` line values, waiting up to `timeout` for one.
    pub fn next_stat(&self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.serial.recv_timeout(left) {
                Ok(line) if line.starts_with("stat") => return Some(line),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        self.kill();
        if let Some(shm) = &self.shm {
            let _ = std::fs::remove_file(shm);
        }
    }
}

/// A field `key=N` of a guest stat line.
pub fn stat_field(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

/// Mean size of the unions of `k` consecutive sets, over non-overlapping windows.
pub fn mean_union(sets: &[PageSet], k: usize) -> f64 {
    let windows: Vec<f64> = sets
        .chunks_exact(k)
        .map(|w| {
            let mut u = PageSet::new();
            for s in w {
                u.union_with(s);
            }
            u.len() as f64
        })
        .collect();
    windows.iter().sum::<f64>() / windows.len() as f64
}

/// Per-page xxh3 hashes of a file (the test's own view of guest RAM).
pub fn hash_file_pages(path: &Path) -> Vec<u64> {
    let data = std::fs::read(path).unwrap();
    data.chunks_exact(4096)
        .map(xxhash_rust::xxh3::xxh3_64)
        .collect()
}

/// A tiny QMP exchange written here, independent of the code under test.
pub fn raw_qmp(path: &Path, command: &str) -> String {
    use std::io::Write;
    let s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    w.write_all(b"{\"execute\":\"qmp_capabilities\"}\n")
        .unwrap();
    line.clear();
    r.read_line(&mut line).unwrap();
    w.write_all(format!("{{\"execute\":\"{command}\"}}\n").as_bytes())
        .unwrap();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if !line.contains("\"event\"") {
            return line;
        }
    }
}
