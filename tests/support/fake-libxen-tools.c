/*
 * TEST DOUBLES of the two Xen tool libraries remus-tune's `trial` uses to resume a guest that
 * an interrupted `xl remus` left suspended, for remus-tune's tests only. Not Xen. Built twice
 * by the tests with `cc -shared -fPIC`: once as libxenguest.so.4.17 (xc_domain_resume) and once
 * as libxenstore.so.4 (xs_open, xs_resume_domain, xs_close), with the prototypes of xenguest.h and
 * xenstore.h @4.17.
 *
 * Calls are appended to $FAKE_XENCTRL_LOG: `RESUME domid=D fast=F`, `XS_RESUME domid=D`.
 * xc_domain_resume also removes $FAKE_XEN_DIR/suspended, so the stand-in `xl list` shows the
 * guest running again. FAKE_XENSTORE_DOWN=1 makes xs_open fail as with no xenstored.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void logline(const char *what, unsigned long domid, long fast) {
    const char *path = getenv("FAKE_XENCTRL_LOG");
    if (!path)
        return;
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    if (fast >= 0)
        fprintf(f, "%s domid=%lu fast=%ld\n", what, domid, fast);
    else
        fprintf(f, "%s domid=%lu\n", what, domid);
    fclose(f);
}

int xc_domain_resume(void *xch, uint32_t domid, int fast) {
    (void)xch;
    logline("RESUME", domid, fast);
    const char *dir = getenv("FAKE_XEN_DIR");
    if (dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/suspended", dir);
        unlink(path);
    }
    return 0;
}

static int handle;

void *xs_open(unsigned long flags) {
    (void)flags;
    const char *down = getenv("FAKE_XENSTORE_DOWN");
    if (down && *down == '1') {
        errno = ENOENT;
        return NULL;
    }
    return &handle;
}

bool xs_resume_domain(void *h, unsigned int domid) {
    (void)h;
    logline("XS_RESUME", domid, -1);
    return true;
}

void xs_close(void *h) { (void)h; }
