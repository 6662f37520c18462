//! What every command that resolves a target says when the target cannot exist here: a Xen
//! domain on a host without Xen is exit status 69 (sysexits EX_UNAVAILABLE) with a sentence
//! on how to go on, the same from `measure`, `advise` and `trial`.

use crate::backend::select::NoXen;
use anyhow::Result;
use std::process::ExitCode;

/// Exit status when the Xen backend is asked for on a host without Xen.
pub const EXIT_NO_XEN: u8 = 69; // exit_codes.rs table

/// `result`, except that a [`NoXen`] anywhere in its error chain is said on stderr, with
/// `hint` on the next line, and becomes exit status 69.
pub fn or_no_xen(result: Result<ExitCode>, hint: &str) -> Result<ExitCode> {
    match result {
        Err(err) => match err.chain().find_map(|cause| cause.downcast_ref::<NoXen>()) {
            Some(no_xen) => {
                crate::error!("{no_xen}\n  {hint}");
                Ok(ExitCode::from(EXIT_NO_XEN))
            }
            None => Err(err),
        },
        ok => ok,
    }
}
