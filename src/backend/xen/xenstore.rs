//! Telling xenstored that a domain resumed (XS_RESUME), through libxenstore loaded at run time.
//!
//! `xc_domain_resume` alone lets a suspended guest run again, but xenstored still believes the
//! domain is shut down: at the next suspend it fires no `@releaseDomain` watch, so libxl waits
//! for a suspend it never hears of and reports "guest did not suspend, timed out". The Xen lab
//! showed exactly this (tests/xen-lab, step resume-without-xs-resume). `libxl_domain_resume`
//! does both calls; so must anyone who resumes a domain Remus left suspended.

use libloading::Library;
use std::ffi::{c_uint, c_ulong, c_void};

type OpenFn = unsafe extern "C" fn(flags: c_ulong) -> *mut c_void;
type ResumeFn = unsafe extern "C" fn(handle: *mut c_void, domid: c_uint) -> bool;
type CloseFn = unsafe extern "C" fn(handle: *mut c_void);

/// libxenstore's sonames, newest ABI first.
const NAMES: &[&str] = &["libxenstore.so.4", "libxenstore.so.3.0", "libxenstore.so"];

/// Sends XS_RESUME for `domid`. The error says what failed, for the admin.
pub fn tell_resumed(domid: u32) -> Result<(), String> {
    // SAFETY: loading libxenstore runs only its own initialisers; the names are its sonames.
    let lib = NAMES
        .iter()
        .find_map(|name| unsafe { Library::new(name) }.ok())
        .ok_or_else(|| "libxenstore is not installed".to_string())?;
    // SAFETY: these are the prototypes of xs_open, xs_resume and xs_close in xenstore.h.
    let (open, resume, close) = unsafe {
        let get = |name: &str| format!("libxenstore has no {name}");
        (
            *lib.get::<OpenFn>(b"xs_open").map_err(|_| get("xs_open"))?,
            *lib.get::<ResumeFn>(b"xs_resume")
                .map_err(|_| get("xs_resume"))?,
            *lib.get::<CloseFn>(b"xs_close")
                .map_err(|_| get("xs_close"))?,
        )
    };
    // SAFETY: xs_open(0) returns a handle or NULL with errno set.
    let handle = unsafe { open(0) };
    if handle.is_null() {
        return Err(format!(
            "cannot connect to xenstored: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `handle` is a live handle from xs_open; it is closed once, right after.
    let resumed = unsafe { resume(handle, domid) };
    let error = std::io::Error::last_os_error();
    // SAFETY: as above.
    unsafe { close(handle) };
    if resumed {
        Ok(())
    } else {
        Err(format!("xs_resume({domid}) failed: {error}"))
    }
}
