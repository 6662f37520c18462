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
    // SAFETY: these are the prototypes of xs_open, xs_resume_domain and xs_close in
    // xenstore.h (the library's XS_RESUME call is named xs_resume_domain).
    let (open, resume, close) = unsafe {
        let get = |name: &str| format!("libxenstore has no {name}");
        (
            *lib.get::<OpenFn>(b"xs_open").map_err(|_| get("xs_open"))?,
            *lib.get::<ResumeFn>(b"xs_resume_domain")
                .map_err(|_| get("xs_resume_domain"))?,
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
        Err(format!("xs_resume_domain({domid}) failed: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::NAMES;
    use libloading::Library;

    /// The names we bind are the real library's (a wrong one made the lab's trial time out):
    /// checked against this host's libxenstore when the Xen tools are installed (libxen-dev
    /// is in scripts/apt-packages.txt).
    #[test]
    fn the_real_libxenstore_exports_what_we_bind() {
        // SAFETY: loading libxenstore runs only its own initialisers.
        let Some(lib) = NAMES.iter().find_map(|n| unsafe { Library::new(n) }.ok()) else {
            crate::note!("no libxenstore on this host: nothing to check");
            return;
        };
        for symbol in ["xs_open", "xs_resume_domain", "xs_close"] {
            // SAFETY: only looked up, never called.
            let found = unsafe { lib.get::<unsafe extern "C" fn()>(symbol.as_bytes()) };
            assert!(found.is_ok(), "libxenstore has no {symbol}");
        }
    }
}
