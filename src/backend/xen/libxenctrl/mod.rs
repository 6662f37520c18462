//! libxenctrl, loaded at run time: one binary runs on hosts with and without Xen.
//!
//! libxenctrl has no stable ABI (interfaces.md §0 item 17): its soname carries the Xen
//! version (`libxenctrl.so.4.17`), `xc_logdirty_control` exists only since 4.16 (before, the
//! log-dirty ops went through an 8-argument `xc_shadow_control`, which we refuse rather than
//! guess at), and `xc_domain_getinfo` was removed in 4.18. So the library is opened with
//! libloading and every symbol is looked up by name; a host without Xen gets a sentence, not
//! a crash.
//!
//! Hypercall buffers: `DECLARE_HYPERCALL_BUFFER` and `xc_hypercall_buffer_alloc_pages` are C
//! macros over the exported `xc__hypercall_buffer_alloc_pages/free_pages` (interfaces.md
//! §2.3). We reproduce the macro in Rust rather than building a C shim: [`HypercallBuffer`]
//! is the `xc_hypercall_buffer_t` the macro declares (`hbuf = NULL, param_shadow = NULL,
//! dir = 0, ubuf = (void *)-1, sz = 0`), boxed so its address stays put between the
//! allocation, the call and the free, exactly as the C stack variable does. That keeps the
//! build free of any Xen header or library.
//!
//! The pieces: `abi` (prototypes, struct layouts, constants), `ffi` (the library, its
//! symbols and hypercall buffers: every `unsafe` block), and here the safe log-dirty
//! operations the ownership state machine drives, and the errors.

mod abi;
mod ffi;

pub use abi::{
    DomainInfo, SHADOW_OP_CLEAN, SHADOW_OP_ENABLE_LOGDIRTY, SHADOW_OP_OFF, SHADOW_OP_PEEK,
};
pub use ffi::{soname_minor, HypercallBuffer, XenCtrl, LIB_ENV, MIN_MINOR};

use super::ownership::{CleanStats, LogDirtyOps};
use std::rc::Rc;

/// Why libxenctrl cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum XenCtrlError {
    #[error(
        "libxenctrl (Xen's control library, libxenctrl.so.4.x) is not installed here: {detail}.\n  \
         This host is not a Xen Dom-0, or the Xen tools are missing (Debian: apt install \
         xen-utils-4.17). Run remus-tune in Dom-0 of the Xen host that runs the domain."
    )]
    NotInstalled { detail: String },
    #[error(
        "{library} is from Xen 4.{minor}: remus-tune needs Xen 4.16 or later. Before 4.16 the \
         log-dirty call had a different signature (8-argument xc_shadow_control), and \
         remus-tune will not guess at it on a host that may run Remus. Upgrade the Xen tools, \
         or measure from inside the guest with the process backend"
    )]
    TooOld { library: String, minor: u32 },
    #[error(
        "{library} has no `{symbol}`: it is not a libxenctrl of Xen 4.16 or later, which \
         remus-tune needs (xc_logdirty_control appeared in 4.16)"
    )]
    MissingSymbol {
        library: String,
        symbol: &'static str,
    },
    #[error(
        "cannot open the Xen control interface (xc_interface_open failed: {0}).\n  Run \
         remus-tune as root in Dom-0, with the privcmd driver loaded (/dev/xen/privcmd or \
         /proc/xen/privcmd)"
    )]
    Open(std::io::Error),
    #[error("{call} for domain {domid} failed: {source}")]
    Call {
        call: &'static str,
        domid: u32,
        source: std::io::Error,
    },
    #[error("domain {0} does not exist (any more)")]
    NoDomain(u32),
}

/// Whether this kernel offers Xen's privileged command interface (a Dom-0, or a guest).
pub fn privcmd_present() -> bool {
    ["/dev/xen/privcmd", "/proc/xen/privcmd"]
        .iter()
        .any(|p| std::path::Path::new(p).exists())
}

/// The log-dirty calls for one domain, on a real Xen.
pub struct XenLogDirty {
    ctrl: Rc<XenCtrl>,
    domid: u32,
    /// Bitmap length in frames (`xc_domain_nr_gpfns`).
    pub frames: u64,
    buffer: Option<HypercallBuffer>,
}

impl XenLogDirty {
    pub fn new(ctrl: Rc<XenCtrl>, domid: u32, frames: u64) -> Self {
        Self {
            ctrl,
            domid,
            frames,
            buffer: None,
        }
    }
}

impl LogDirtyOps for XenLogDirty {
    fn enable(&mut self) -> Result<(), i32> {
        self.ctrl
            .logdirty_call(self.domid, SHADOW_OP_ENABLE_LOGDIRTY, None, 0)
            .map(|_| ())
    }

    fn clean(&mut self, bitmap: &mut [u64]) -> Result<CleanStats, i32> {
        if self.buffer.is_none() {
            self.buffer = Some(
                HypercallBuffer::for_bits(&self.ctrl, self.frames)
                    .map_err(|e| e.raw_os_error().unwrap_or(libc::ENOMEM))?,
            );
        }
        let frames = self.frames;
        let buffer = self.buffer.as_mut().expect("allocated above");
        let (pages, stats) =
            self.ctrl
                .logdirty_call(self.domid, SHADOW_OP_CLEAN, Some(buffer), frames)?;
        // The save code checks that Xen walked the whole bitmap; a dying domain gives 0.
        if pages != frames {
            return Err(libc::ESRCH);
        }
        buffer.copy_to(bitmap);
        Ok(stats)
    }

    fn peek_stats(&mut self) -> Result<CleanStats, i32> {
        // NULL bitmap, zero pages: nothing walked, nothing copied, nothing cleared.
        self.ctrl
            .logdirty_call(self.domid, SHADOW_OP_PEEK, None, 0)
            .map(|(_, stats)| stats)
    }

    fn off(&mut self) -> Result<(), i32> {
        self.ctrl
            .logdirty_call(self.domid, SHADOW_OP_OFF, None, 0)
            .map(|_| ())
    }
}
