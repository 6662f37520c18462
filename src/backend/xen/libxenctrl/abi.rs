//! The C ABI of libxenctrl ≥ 4.16 as remus-tune calls it: the function prototypes (from
//! tools/include/xenctrl.h), the structs the calls fill, and the domctl constants
//! (xen/include/public/domctl.h). Layouts only; the calls are made in `ffi`.

use std::ffi::{c_int, c_longlong, c_uint, c_ulong, c_void};

/// `XEN_DOMCTL_SHADOW_OP_*` (xen/include/public/domctl.h).
pub const SHADOW_OP_OFF: c_uint = 0;
pub const SHADOW_OP_ENABLE_LOGDIRTY: c_uint = 2;
pub const SHADOW_OP_CLEAN: c_uint = 11;
pub const SHADOW_OP_PEEK: c_uint = 12;

/// Page size of hypercall buffers (`XC_PAGE_SHIFT` = 12 on x86 and Arm).
pub const XC_PAGE_SIZE: usize = 4096;

/// `xc_hypercall_buffer_t` (tools/include/xenctrl.h), documented there as opaque; laid out as
/// `DECLARE_HYPERCALL_BUFFER` initialises it.
#[repr(C)]
pub struct RawHypercallBuffer {
    pub hbuf: *mut c_void,
    pub param_shadow: *mut RawHypercallBuffer,
    pub dir: c_int,
    pub ubuf: *mut c_void,
    pub sz: usize,
}

pub type OpenFn = unsafe extern "C" fn(*mut c_void, *mut c_void, c_uint) -> *mut c_void;
pub type CloseFn = unsafe extern "C" fn(*mut c_void) -> c_int;
pub type LogdirtyFn = unsafe extern "C" fn(
    *mut c_void,
    u32,
    c_uint,
    *mut RawHypercallBuffer,
    c_ulong,
    c_uint,
    *mut CleanStatsRaw,
) -> c_longlong;
pub type AllocFn = unsafe extern "C" fn(*mut c_void, *mut RawHypercallBuffer, c_int) -> *mut c_void;
pub type FreeFn = unsafe extern "C" fn(*mut c_void, *mut RawHypercallBuffer, c_int);
pub type NrGpfnsFn = unsafe extern "C" fn(*mut c_void, u32, *mut c_ulong) -> c_int;
pub type InfoSingleFn = unsafe extern "C" fn(*mut c_void, u32, *mut c_void) -> c_int;
pub type InfoListFn = unsafe extern "C" fn(*mut c_void, u32, c_uint, *mut c_void) -> c_int;
pub type VersionFn = unsafe extern "C" fn(*mut c_void, c_int, *mut c_void) -> c_int;
pub type ResumeFn = unsafe extern "C" fn(*mut c_void, u32, c_int) -> c_int;

/// `struct xen_domctl_shadow_op_stats`.
#[repr(C)]
#[derive(Default)]
pub struct CleanStatsRaw {
    pub fault_count: u32,
    pub dirty_count: u32,
}

/// The facts of `xc_domaininfo_t` (struct xen_domctl_getdomaininfo) we use. Its leading
/// fields have kept their offsets since long before 4.16; later fields moved, so we read
/// only these, out of a buffer larger than any version's struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainInfo {
    pub domid: u32,
    pub flags: u32,
    pub tot_pages: u64,
    pub max_pages: u64,
    /// CPU time of all its vCPUs, nanoseconds.
    pub cpu_time_ns: u64,
    pub online_vcpus: u32,
}

impl DomainInfo {
    pub fn dying(&self) -> bool {
        self.flags & 1 != 0
    }
    pub fn hvm(&self) -> bool {
        self.flags & (1 << 1) != 0
    }
    pub fn shutdown(&self) -> bool {
        self.flags & (1 << 2) != 0
    }
    pub fn hap(&self) -> bool {
        self.flags & (1 << 8) != 0
    }
    /// `SHUTDOWN_*` code when shut down (xen/sched.h: 0 poweroff, 1 reboot, 2 suspend, 3 crash,
    /// 4 watchdog, 5 soft reset).
    pub fn shutdown_reason(&self) -> u32 {
        (self.flags >> 16) & 0xff
    }

    /// Reads the leading fields of a raw `xen_domctl_getdomaininfo`.
    pub fn from_raw(raw: &[u64; INFO_WORDS]) -> Self {
        let word = |i: usize| raw[i];
        Self {
            domid: (word(0) & 0xffff) as u32,
            flags: (word(0) >> 32) as u32,
            tot_pages: word(1),
            max_pages: word(2),
            cpu_time_ns: word(7),
            online_vcpus: (word(8) & 0xffff_ffff) as u32,
        }
    }
}

/// 1 KiB: more than `xen_domctl_getdomaininfo` in any Xen (about 120 bytes in 4.17).
pub const INFO_WORDS: usize = 128;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_info_reads_the_leading_fields() {
        let mut raw = [0u64; INFO_WORDS];
        raw[0] = 7 | ((1u64 << 8 | 1 << 1 | 2 << 16 | 1 << 2) << 32); // shut down: suspend
        raw[1] = 32768;
        raw[7] = 5_000_000_000;
        raw[8] = 2 | (1 << 32);
        let info = DomainInfo::from_raw(&raw);
        assert_eq!(info.domid, 7);
        assert!(info.hap() && info.hvm() && info.shutdown() && !info.dying());
        assert_eq!(info.shutdown_reason(), 2);
        assert_eq!(info.tot_pages, 32768);
        assert_eq!(info.cpu_time_ns, 5_000_000_000);
        assert_eq!(info.online_vcpus, 2);
    }
}
