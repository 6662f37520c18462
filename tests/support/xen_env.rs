//! A Xen host made of stand-ins, for the Xen tests: `tests/support/fake-xen-xl` as `xl`, a
//! fake libxenctrl built from `tests/support/fake-libxenctrl.c`, and directories standing in
//! for /proc (save helpers), /sys (blkback statistics) and /var/run/xen. None of this is Xen;
//! it drives the real binary through every path that does not need a hypervisor.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub const BIN: &str = env!("CARGO_BIN_EXE_remus-tune");

pub fn support(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(name)
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xen")
}

/// Builds the fake libxenctrl once per test binary, named as Xen 4.17's soname.
pub fn fake_libxenctrl() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("fake-xenctrl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lib = dir.join("libxenctrl.so.4.17");
        let status = Command::new("cc")
            .args(["-shared", "-fPIC", "-O1", "-o"])
            .arg(&lib)
            .arg(support("fake-libxenctrl.c"))
            .status()
            .expect("a C compiler (cc) builds the fake libxenctrl");
        assert!(status.success(), "cc failed on fake-libxenctrl.c");
        lib
    })
}

/// Builds the fake libxenguest and libxenstore once per test binary, beside the fake
/// libxenctrl (whose soname tells remus-tune which libxenguest to load); returns their
/// directory, for LD_LIBRARY_PATH.
pub fn fake_tool_libraries() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = fake_libxenctrl().parent().unwrap().to_path_buf();
        for name in ["libxenguest.so.4.17", "libxenstore.so.4"] {
            let status = Command::new("cc")
                .args(["-shared", "-fPIC", "-O1", "-o"])
                .arg(dir.join(name))
                .arg(support("fake-libxen-tools.c"))
                .status()
                .expect("a C compiler (cc) builds the fake Xen tool libraries");
            assert!(status.success(), "cc failed on fake-libxen-tools.c");
        }
        dir
    })
}

/// One stand-in host in a temporary directory.
pub struct XenEnv {
    pub dir: tempfile::TempDir,
}

impl XenEnv {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("remus-tune-xen")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        for sub in ["xl", "proc", "sys", "run"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Self { dir }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// The binary with the stand-in `xl` and directories, and no libxenctrl.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("REMUS_TUNE_XL", support("fake-xen-xl"))
            .env("FAKE_XEN_DIR", self.path("xl"))
            .env("FAKE_XEN_FIXTURES", fixtures())
            .env("REMUS_TUNE_PROC", self.path("proc"))
            .env("REMUS_TUNE_SYSFS", self.path("sys"))
            .env("REMUS_TUNE_XEN_RUN", self.path("run"))
            .env("FAKE_XENCTRL_LOG", self.path("xenctrl.log"))
            .env_remove("REMUS_TUNE_LIBXENCTRL")
            .current_dir(self.dir.path());
        c
    }

    /// As `cmd`, with the fake libxenctrl.
    pub fn cmd_with_lib(&self) -> Command {
        let mut c = self.cmd();
        c.env("REMUS_TUNE_LIBXENCTRL", fake_libxenctrl());
        c
    }

    /// As `cmd_with_lib`, with the fake libxenguest and libxenstore loadable too.
    pub fn cmd_with_tools(&self) -> Command {
        let mut c = self.cmd_with_lib();
        c.env("LD_LIBRARY_PATH", fake_tool_libraries());
        c
    }

    /// The stand-in xl's argument log.
    pub fn xl_log(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("xl/log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// The fake libxenctrl's call log.
    pub fn xenctrl_log(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("xenctrl.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// Makes a fake `libxl-save-helper` process appear in the stand-in /proc.
    pub fn add_save_helper(&self, pid: u32, domid: u32, stream: u32) {
        let p = self.path(&format!("proc/{pid}"));
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("comm"), "libxl-save-hel\n").unwrap();
        let argv = format!("/usr/lib/xen-4.17/bin/libxl-save-helper\0--save-domain\012\0-1\0{domid}\01\0184\0{stream}\0");
        std::fs::write(p.join("cmdline"), argv).unwrap();
    }

    /// Writes blkback counters for vbd-1-51712.
    pub fn set_vbd(&self, wr_req: u64, wr_sect: u64) {
        let p = self.path("sys/bus/xen-backend/devices/vbd-1-51712/statistics");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("wr_req.tmp"), format!("{wr_req}\n")).unwrap();
        std::fs::rename(p.join("wr_req.tmp"), p.join("wr_req")).unwrap();
        std::fs::write(p.join("wr_sect.tmp"), format!("{wr_sect}\n")).unwrap();
        std::fs::rename(p.join("wr_sect.tmp"), p.join("wr_sect")).unwrap();
    }
}
