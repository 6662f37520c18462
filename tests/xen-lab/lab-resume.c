/* lab-resume [--xc-only] DOMID: resume a domain that a stopped `xl remus` left suspended
 * (state ---ss-).
 *
 * Interrupting xl remus mid-checkpoint leaves the guest suspended, and xl has no "resume"
 * command. libxl_domain_resume with suspend_cancel=1 is what Remus itself does after each
 * checkpoint (a cooperative resume: the guest's suspend hypercall returns "cancelled" and it
 * carries on with its memory intact). It does two things:
 *   1. xc_domain_resume(domid, fast=1): the domain runs again;
 *   2. xs_resume_domain(): XS_RESUME tells xenstored the domain is no longer shut down.
 * Step 2 matters: xenstored fires @releaseDomain only when it sees a domain *become* shut
 * down (check_domain(): `shutdown && !domain->shutdown`), and only XS_RESUME clears its flag.
 * Without it the guest's next suspend fires no @releaseDomain, and libxl, which waits for the
 * suspend on that watch, gives up after 60 s: "guest did not suspend, timed out".
 *
 * --xc-only does step 1 alone, as `remus-tune trial` does (xc_domain_resume only): the lab's
 * resume-without-xs-resume step uses it to show that failure on purpose.
 *
 * Built on the host against libxen-dev and run in Dom-0, which has the same Debian 12 Xen
 * libraries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxl.h>
#include <xenctrl.h>
#include <xenguest.h>
#include <xentoollog.h>

static int xc_only(uint32_t domid)
{
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    if (!xch) {
        fprintf(stderr, "lab-resume: cannot open libxenctrl\n");
        return 1;
    }
    int rc = xc_domain_resume(xch, domid, 1);
    printf("lab-resume: domain %u xc_domain_resume(fast) rc=%d (no XS_RESUME)\n", domid, rc);
    xc_interface_close(xch);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    int only_xc = argc == 3 && strcmp(argv[1], "--xc-only") == 0;
    if (argc != 2 && !only_xc) {
        fprintf(stderr, "usage: lab-resume [--xc-only] DOMID\n");
        return 2;
    }
    uint32_t domid = (uint32_t)strtoul(argv[argc - 1], NULL, 10);
    if (only_xc)
        return xc_only(domid);
    xentoollog_logger_stdiostream *lg =
        xtl_createlogger_stdiostream(stderr, XTL_PROGRESS, 0);
    libxl_ctx *ctx;
    if (libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, (xentoollog_logger *)lg)) {
        fprintf(stderr, "lab-resume: cannot open libxl\n");
        return 1;
    }
    int rc = libxl_domain_resume(ctx, domid, 1, NULL);
    printf("lab-resume: domain %u libxl_domain_resume rc=%d\n", domid, rc);
    libxl_ctx_free(ctx);
    xtl_logger_destroy((xentoollog_logger *)lg);
    return rc ? 1 : 0;
}
