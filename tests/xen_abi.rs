//! The C layouts and constants remus-tune reproduces in Rust (src/backend/xen/libxenctrl.rs)
//! checked against Xen's own headers, when the host has them (Debian: libxen-dev), and the
//! symbols it binds checked against the host's real libxenctrl. On a host without them these
//! tests say so and check nothing else.

use std::path::Path;
use std::process::Command;

const HEADER: &str = "/usr/include/xenctrl.h";

#[test]
fn layouts_match_the_real_xenctrl_h() {
    if !Path::new(HEADER).exists() {
        eprintln!("no {HEADER} here: skipped (install libxen-dev to run it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("abi.c");
    // The numbers are those hard-coded in libxenctrl.rs (RawHypercallBuffer, DomainInfo,
    // SHADOW_OP_*, the XEN_DOMINF_* bits).
    std::fs::write(
        &src,
        r#"#include <stddef.h>
#include <xenctrl.h>
_Static_assert(sizeof(xc_hypercall_buffer_t) == 40, "hcbuf size");
_Static_assert(offsetof(xc_hypercall_buffer_t, param_shadow) == 8, "shadow");
_Static_assert(offsetof(xc_hypercall_buffer_t, dir) == 16, "dir");
_Static_assert(offsetof(xc_hypercall_buffer_t, ubuf) == 24, "ubuf");
_Static_assert(offsetof(xc_hypercall_buffer_t, sz) == 32, "sz");
_Static_assert(offsetof(xc_domaininfo_t, flags) == 4, "flags");
_Static_assert(offsetof(xc_domaininfo_t, tot_pages) == 8, "tot_pages");
_Static_assert(offsetof(xc_domaininfo_t, max_pages) == 16, "max_pages");
_Static_assert(offsetof(xc_domaininfo_t, cpu_time) == 56, "cpu_time");
_Static_assert(offsetof(xc_domaininfo_t, nr_online_vcpus) == 64, "vcpus");
_Static_assert(sizeof(xc_domaininfo_t) <= 1024, "info buffer");
_Static_assert(offsetof(xc_shadow_op_stats_t, dirty_count) == 4, "dirty_count");
_Static_assert(sizeof(xen_pfn_t) == sizeof(unsigned long), "xen_pfn_t");
_Static_assert(XEN_DOMCTL_SHADOW_OP_OFF == 0 && XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY == 2, "ops");
_Static_assert(XEN_DOMCTL_SHADOW_OP_CLEAN == 11 && XEN_DOMCTL_SHADOW_OP_PEEK == 12, "ops");
_Static_assert(XEN_DOMINF_dying == 1 && XEN_DOMINF_hvm_guest == 2 && XEN_DOMINF_shutdown == 4, "flags");
_Static_assert(XEN_DOMINF_hap == 256 && XEN_DOMINF_shutdownshift == 16, "flags");
long long (*check)(xc_interface *, uint32_t, unsigned int, xc_hypercall_buffer_t *,
                   unsigned long, unsigned int, xc_shadow_op_stats_t *) = xc_logdirty_control;
int (*check2)(xc_interface *, uint32_t, unsigned int, xc_domaininfo_t *) = xc_domain_getinfolist;
int (*check3)(xc_interface *, uint32_t, xen_pfn_t *) = xc_domain_nr_gpfns;
"#,
    )
    .unwrap();
    let out = Command::new("cc")
        .args(["-c", "-Werror=incompatible-pointer-types", "-o"])
        .arg(dir.path().join("abi.o"))
        .arg(&src)
        .output()
        .expect("cc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_symbol_binds_in_the_real_library() {
    let lib = Path::new("/usr/lib/x86_64-linux-gnu/libxenctrl.so.4.17");
    if !lib.exists() || Path::new("/dev/xen/privcmd").exists() {
        eprintln!("no libxenctrl 4.17 (or a real Xen host): skipped");
        return;
    }
    // Opening binds every symbol first; only then xc_interface_open fails for lack of a
    // hypervisor. A missing symbol would fail earlier, with a different message.
    std::env::set_var("REMUS_TUNE_LIBXENCTRL", lib);
    let err = remus_tune::backend::xen::libxenctrl::XenCtrl::open()
        .err()
        .expect("no hypervisor here")
        .to_string();
    assert!(
        err.contains("cannot open the Xen control interface"),
        "{err}"
    );
}
