/* lab-resume DOMID: resume a domain that a stopped `xl remus` left suspended (state ---ss-).
 *
 * Interrupting xl remus mid-checkpoint leaves the guest suspended, and xl has no "resume"
 * command. libxl_domain_resume with suspend_cancel=1 is what Remus itself does after each
 * checkpoint (a cooperative resume: the guest's suspend hypercall returns "cancelled" and it
 * carries on with its memory intact). Built on the host against libxen-dev and run in Dom-0,
 * which has the same Debian 12 libxenlight. */
#include <stdio.h>
#include <stdlib.h>
#include <libxl.h>
#include <xentoollog.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: lab-resume DOMID\n");
        return 2;
    }
    uint32_t domid = (uint32_t)strtoul(argv[1], NULL, 10);
    xentoollog_logger_stdiostream *lg =
        xtl_createlogger_stdiostream(stderr, XTL_PROGRESS, 0);
    libxl_ctx *ctx;
    if (libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, (xentoollog_logger *)lg)) {
        fprintf(stderr, "lab-resume: cannot open libxl\n");
        return 1;
    }
    int rc = libxl_domain_resume(ctx, domid, 1, NULL);
    printf("lab-resume: domain %u resume rc=%d\n", domid, rc);
    libxl_ctx_free(ctx);
    xtl_logger_destroy((xentoollog_logger *)lg);
    return rc ? 1 : 0;
}
