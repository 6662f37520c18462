//! The calls into libxenctrl (and libxenguest's `xc_domain_resume`): opening the library by
//! soname, binding each symbol by name, and the hypercall buffer `DECLARE_HYPERCALL_BUFFER`
//! declares. Every `unsafe` block of the Xen backend's libxenctrl use is in this file, each
//! with the reason it is sound; what it exports is safe to call.

use super::abi::{
    AllocFn, CleanStatsRaw, CloseFn, DomainInfo, FreeFn, InfoListFn, InfoSingleFn, LogdirtyFn,
    NrGpfnsFn, OpenFn, RawHypercallBuffer, ResumeFn, VersionFn, INFO_WORDS, XC_PAGE_SIZE,
};
use super::XenCtrlError;
use crate::backend::xen::ownership::CleanStats;
use libloading::Library;
use std::ffi::{c_int, c_long, c_uint, c_ulong, c_void};
use std::ptr;

/// The first Xen whose libxenctrl has `xc_logdirty_control`.
pub const MIN_MINOR: u32 = 16;
/// The newest 4.x soname we look for; a newer one is found by the plain `libxenctrl.so`.
const MAX_MINOR: u32 = 40;

/// The environment variable naming the library to open instead of searching.
pub const LIB_ENV: &str = "REMUS_TUNE_LIBXENCTRL";

/// An open libxenctrl and `xc_interface`.
pub struct XenCtrl {
    xch: *mut c_void,
    close: CloseFn,
    logdirty: LogdirtyFn,
    alloc: AllocFn,
    free: FreeFn,
    nr_gpfns: NrGpfnsFn,
    info_single: Option<InfoSingleFn>,
    info_list: InfoListFn,
    /// `xc_domain_resume`, from libxenguest, when that is present.
    resume: Option<ResumeFn>,
    /// The library's own name, e.g. `libxenctrl.so.4.17`.
    pub library: String,
    /// The minor version from the soname, when the name carries one.
    pub minor: Option<u32>,
    // Dropped last: the function pointers above point into these.
    _guest: Option<Library>,
    _lib: Library,
}

/// The candidate names, newest first: `libxenctrl.so.4.40` … `4.0`, then `libxenctrl.so`.
fn candidates() -> Vec<(String, Option<u32>)> {
    let mut names: Vec<(String, Option<u32>)> = (0..=MAX_MINOR)
        .rev()
        .map(|m| (format!("libxenctrl.so.4.{m}"), Some(m)))
        .collect();
    names.push(("libxenctrl.so".into(), None));
    names
}

/// The minor version in a soname such as `/usr/lib/libxenctrl.so.4.17`.
pub fn soname_minor(name: &str) -> Option<u32> {
    let base = name.rsplit('/').next()?;
    let rest = base.strip_prefix("libxenctrl.so.4.")?;
    rest.split('.').next()?.parse().ok()
}

fn open_library(name: &str) -> Result<Library, libloading::Error> {
    // SAFETY: loading a shared library runs its initialisers. libxenctrl's only set up its
    // own state; the path is either the user's explicit REMUS_TUNE_LIBXENCTRL or a Xen soname.
    unsafe { Library::new(name) }
}

/// Looks a function up by name; `T` must be the function's true C signature.
fn symbol<T: Copy>(lib: &Library, library: &str, name: &'static str) -> Result<T, XenCtrlError> {
    // SAFETY: each `T` used with this helper is the prototype of that symbol in xenctrl.h for
    // Xen ≥ 4.16 (interfaces.md §2.1), and versions before 4.16 are refused before any call.
    unsafe { lib.get::<T>(name.as_bytes()) }
        .map(|s| *s)
        .map_err(|_| XenCtrlError::MissingSymbol {
            library: library.to_string(),
            symbol: name,
        })
}

impl XenCtrl {
    /// Opens `$REMUS_TUNE_LIBXENCTRL`, or the newest `libxenctrl.so.4.x` found, and an
    /// `xc_interface`.
    pub fn open() -> Result<Self, XenCtrlError> {
        let (lib, library, minor) = match std::env::var(LIB_ENV).ok().filter(|p| !p.is_empty()) {
            Some(path) => {
                let lib = open_library(&path).map_err(|e| XenCtrlError::NotInstalled {
                    detail: format!("cannot load {path} (from {LIB_ENV}): {e}"),
                })?;
                let minor = soname_minor(&path);
                (lib, path, minor)
            }
            None => {
                let mut found = None;
                for (name, minor) in candidates() {
                    if let Ok(lib) = open_library(&name) {
                        found = Some((lib, name, minor));
                        break;
                    }
                }
                found.ok_or_else(|| XenCtrlError::NotInstalled {
                    detail: format!(
                        "no libxenctrl.so.4.{MIN_MINOR}…4.{MAX_MINOR} nor libxenctrl.so could be loaded"
                    ),
                })?
            }
        };
        if let Some(minor) = minor.filter(|m| *m < MIN_MINOR) {
            return Err(XenCtrlError::TooOld { library, minor });
        }
        // The symbol that tells the 4.16+ ABI apart: before 4.16 it does not exist.
        let logdirty: LogdirtyFn = symbol(&lib, &library, "xc_logdirty_control")?;
        let open: OpenFn = symbol(&lib, &library, "xc_interface_open")?;
        let close: CloseFn = symbol(&lib, &library, "xc_interface_close")?;
        let alloc: AllocFn = symbol(&lib, &library, "xc__hypercall_buffer_alloc_pages")?;
        let free: FreeFn = symbol(&lib, &library, "xc__hypercall_buffer_free_pages")?;
        let nr_gpfns: NrGpfnsFn = symbol(&lib, &library, "xc_domain_nr_gpfns")?;
        let info_list: InfoListFn = symbol(&lib, &library, "xc_domain_getinfolist")?;
        let info_single: Option<InfoSingleFn> =
            symbol(&lib, &library, "xc_domain_getinfo_single").ok();
        let guest = minor
            .map(|m| format!("libxenguest.so.4.{m}"))
            .into_iter()
            .chain(std::iter::once("libxenguest.so".to_string()))
            .find_map(|name| open_library(&name).ok());
        let resume = guest
            .as_ref()
            .and_then(|g| symbol::<ResumeFn>(g, "libxenguest", "xc_domain_resume").ok());
        // SAFETY: xc_interface_open(NULL, NULL, 0) is the documented way to get a handle
        // with libxenctrl's default stderr logger; NULL is returned on failure, with errno.
        let xch = unsafe { open(ptr::null_mut(), ptr::null_mut(), 0) };
        if xch.is_null() {
            return Err(XenCtrlError::Open(std::io::Error::last_os_error()));
        }
        Ok(Self {
            xch,
            close,
            logdirty,
            alloc,
            free,
            nr_gpfns,
            info_single,
            info_list,
            resume,
            library,
            minor,
            _guest: guest,
            _lib: lib,
        })
    }

    /// The hypervisor's version as `major.minor`, from `xc_version(XENVER_version)`.
    pub fn hypervisor_version(&self) -> Option<(u32, u32)> {
        let version: VersionFn = symbol(&self._lib, &self.library, "xc_version").ok()?;
        // SAFETY: XENVER_version (0) takes no argument buffer; NULL is what xl passes.
        let v = unsafe { version(self.xch, 0, ptr::null_mut()) };
        (v > 0).then_some(((v as u32) >> 16, (v as u32) & 0xffff))
    }

    /// `xc_domain_getinfo_single` (4.18+), else `xc_domain_getinfolist(domid, 1)` checked to
    /// be this domain (the list starts at the first domain with an id ≥ domid).
    pub fn domain_info(&self, domid: u32) -> Result<DomainInfo, XenCtrlError> {
        let mut raw = Box::new([0u64; INFO_WORDS]);
        let call_err = |call| XenCtrlError::Call {
            call,
            domid,
            source: std::io::Error::last_os_error(),
        };
        if let Some(single) = self.info_single {
            // SAFETY: `raw` is 1 KiB, larger than xc_domaininfo_t in any Xen, and lives
            // across the call; xch is open.
            let rc = unsafe { single(self.xch, domid, raw.as_mut_ptr().cast()) };
            if rc < 0 {
                let err = std::io::Error::last_os_error();
                if err.raw_os_error() == Some(libc::ESRCH) {
                    return Err(XenCtrlError::NoDomain(domid));
                }
                return Err(XenCtrlError::Call {
                    call: "xc_domain_getinfo_single",
                    domid,
                    source: err,
                });
            }
        } else {
            // SAFETY: as above; max_domains = 1, so one struct is written.
            let n = unsafe { (self.info_list)(self.xch, domid, 1, raw.as_mut_ptr().cast()) };
            if n < 0 {
                return Err(call_err("xc_domain_getinfolist"));
            }
            if n == 0 {
                return Err(XenCtrlError::NoDomain(domid));
            }
        }
        let info = DomainInfo::from_raw(&raw);
        if info.domid != domid {
            return Err(XenCtrlError::NoDomain(domid));
        }
        Ok(info)
    }

    /// `xc_domain_nr_gpfns`: highest guest frame + 1, the MMIO hole included, which is how
    /// many bits the log-dirty bitmap needs (the save code sizes it so).
    pub fn nr_gpfns(&self, domid: u32) -> Result<u64, XenCtrlError> {
        let mut gpfns: c_ulong = 0;
        // SAFETY: `gpfns` is a valid xen_pfn_t (unsigned long on x86) for the call to fill.
        let rc = unsafe { (self.nr_gpfns)(self.xch, domid, &mut gpfns) };
        if rc < 0 {
            return Err(XenCtrlError::Call {
                call: "xc_domain_nr_gpfns",
                domid,
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(gpfns as u64)
    }

    /// `xc_domain_resume(domid, fast=1)` from libxenguest: what Remus does to let a
    /// checkpoint-suspended guest go on. `None` when libxenguest is not there.
    pub fn resume_fast(&self, domid: u32) -> Option<Result<(), std::io::Error>> {
        let resume = self.resume?;
        // SAFETY: xc_domain_resume(xch, domid, fast) takes no pointers besides xch.
        let rc = unsafe { resume(self.xch, domid, 1) };
        Some(if rc < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        })
    }

    /// One `xc_logdirty_control` call; the result is the pages value or -errno.
    pub(super) fn logdirty_call(
        &self,
        domid: u32,
        op: c_uint,
        buffer: Option<&mut HypercallBuffer>,
        pages: u64,
    ) -> Result<(u64, CleanStats), i32> {
        let mut stats = CleanStatsRaw::default();
        let handle = match buffer {
            Some(b) => &mut *b.raw as *mut RawHypercallBuffer,
            None => ptr::null_mut(),
        };
        // SAFETY: xch is open; `handle` is NULL (stats-only) or a buffer allocated by
        // xc__hypercall_buffer_alloc_pages for at least `pages` bits and still alive; `stats`
        // is a valid xc_shadow_op_stats_t for the call to fill.
        let rc = unsafe {
            (self.logdirty)(self.xch, domid, op, handle, pages as c_ulong, 0, &mut stats)
        };
        if rc < 0 {
            let errno = std::io::Error::last_os_error()
                .raw_os_error()
                .filter(|e| *e != 0)
                .unwrap_or(-(rc as c_long) as i32);
            return Err(errno);
        }
        Ok((
            rc as u64,
            CleanStats {
                dirty_count: stats.dirty_count,
                fault_count: stats.fault_count,
            },
        ))
    }
}

impl Drop for XenCtrl {
    fn drop(&mut self) {
        // SAFETY: xch came from xc_interface_open and is closed exactly once, here.
        unsafe { (self.close)(self.xch) };
    }
}

/// A bitmap in hypercall-safe memory (locked pages Xen can write to), freed on drop.
pub struct HypercallBuffer {
    raw: Box<RawHypercallBuffer>,
    pages: c_int,
    bytes: usize,
    xch: *mut c_void,
    free: FreeFn,
}

impl HypercallBuffer {
    /// What `DECLARE_HYPERCALL_BUFFER` + `xc_hypercall_buffer_alloc_pages(xch, b,
    /// NRPAGES(bitmap_size(bits)))` do.
    pub fn for_bits(ctrl: &XenCtrl, bits: u64) -> Result<Self, std::io::Error> {
        let bytes = (bits as usize).div_ceil(8).max(1);
        let pages = bytes.div_ceil(XC_PAGE_SIZE);
        let mut raw = Box::new(RawHypercallBuffer {
            hbuf: ptr::null_mut(),
            param_shadow: ptr::null_mut(),
            dir: 0,
            ubuf: usize::MAX as *mut c_void,
            sz: 0,
        });
        // SAFETY: `raw` is initialised as DECLARE_HYPERCALL_BUFFER does and boxed, so its
        // address is stable until free; the call stores the allocation in raw.hbuf.
        let p = unsafe { (ctrl.alloc)(ctrl.xch, &mut *raw, pages as c_int) };
        if p.is_null() {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Self {
            raw,
            pages: pages as c_int,
            bytes: pages * XC_PAGE_SIZE,
            xch: ctrl.xch,
            free: ctrl.free,
        })
    }

    /// Copies the bitmap out as words (bit p of the bitmap = bit p%64 of word p/64, the
    /// little-endian `unsigned long` layout Xen writes).
    pub fn copy_to(&self, words: &mut [u64]) {
        let n = words.len().min(self.bytes / 8);
        // SAFETY: hbuf points to `bytes` bytes of page-aligned memory owned by this buffer;
        // we read `n * 8 <= bytes` of them, and no hypercall is writing to it now (calls are
        // synchronous and made through &mut self).
        let src = unsafe { std::slice::from_raw_parts(self.raw.hbuf as *const u64, n) };
        words[..n].copy_from_slice(src);
        words[n..].iter_mut().for_each(|w| *w = 0);
    }
}

impl Drop for HypercallBuffer {
    fn drop(&mut self) {
        // SAFETY: the buffer was allocated by xc__hypercall_buffer_alloc_pages with the same
        // xch and page count, and is freed once.
        unsafe { (self.free)(self.xch, &mut *self.raw, self.pages) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sonames_give_the_minor_version() {
        assert_eq!(soname_minor("libxenctrl.so.4.17"), Some(17));
        assert_eq!(
            soname_minor("/usr/lib/x86_64-linux-gnu/libxenctrl.so.4.15.0"),
            Some(15)
        );
        assert_eq!(soname_minor("libxenctrl.so"), None);
        assert_eq!(soname_minor("/tmp/fake.so"), None);
        let c = candidates();
        assert_eq!(c.first().unwrap().0, format!("libxenctrl.so.4.{MAX_MINOR}"));
        assert_eq!(c.last().unwrap().0, "libxenctrl.so");
    }

    #[test]
    fn a_host_without_xen_gets_a_sentence() {
        // On a machine with Xen this test is meaningless; here it is the real thing.
        if candidates().iter().any(|(n, _)| open_library(n).is_ok()) {
            return;
        }
        if std::env::var_os(LIB_ENV).is_some() {
            return;
        }
        let err = XenCtrl::open()
            .err()
            .expect("no libxenctrl here")
            .to_string();
        assert!(
            err.contains("not installed") && err.contains("Dom-0"),
            "{err}"
        );
    }
}
