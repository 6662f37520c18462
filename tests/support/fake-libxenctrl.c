/*
 * A TEST DOUBLE of libxenctrl (Xen >= 4.16) for remus-tune's tests only. It is not Xen and
 * proves nothing about Xen: it exports the symbols remus-tune loads at run time, with the
 * prototypes of tools/include/xenctrl.h @4.17 (interfaces.md section 2), so that the real
 * binary's dlopen, symbol binding, hypercall-buffer handling and log-dirty ownership can be
 * driven end to end on a machine without Xen. Built by the tests with `cc -shared -fPIC`.
 *
 * Every log-dirty call is appended to $FAKE_XENCTRL_LOG, one line each:
 *   ENABLE | ENABLE errno=N | CLEAN pages=P | PEEK pages=P bitmap=null | OFF | BADBUF ...
 * Knobs: FAKE_XENCTRL_ENABLE_ERRNO=N (ENABLE fails with N), FAKE_XENCTRL_FRAMES (default
 * 8192), FAKE_XENCTRL_DIRTY (frames dirtied per CLEAN, default 100; CLEAN k marks frames
 * 37k .. 37k+DIRTY-1), FAKE_XENCTRL_PEEK (dirty_count a stats-only PEEK reports, default 0),
 * FAKE_XENCTRL_PEEK_GROW=N (each PEEK reports N more than the last, and every 4th starts
 * again from FAKE_XENCTRL_PEEK, as if Remus's CLEAN ran in between),
 * FAKE_XENCTRL_DOM0_CORES (domain 0's cpu_time grows at this many cores, e.g. 0.5, as the
 * sum of its vCPUs' times in `xl vcpu-list` would; default 1, like every other domain).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

typedef struct xc_hypercall_buffer {
    void *hbuf;
    struct xc_hypercall_buffer *param_shadow;
    int dir;
    void *ubuf;
    size_t sz;
} xc_hypercall_buffer_t;

typedef struct {
    uint32_t fault_count;
    uint32_t dirty_count;
} xc_shadow_op_stats_t;

static int logdirty_on;
static unsigned long cleans, peeks;
static int handle;

static unsigned long env_ul(const char *name, unsigned long dflt) {
    const char *v = getenv(name);
    return v && *v ? strtoul(v, NULL, 10) : dflt;
}

static void logline(const char *fmt, unsigned long a) {
    const char *path = getenv("FAKE_XENCTRL_LOG");
    if (!path)
        return;
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    fprintf(f, fmt, a);
    fputc('\n', f);
    fclose(f);
}

void *xc_interface_open(void *logger, void *dombuild_logger, unsigned open_flags) {
    (void)logger; (void)dombuild_logger; (void)open_flags;
    return &handle;
}

int xc_interface_close(void *xch) {
    (void)xch;
    return 0;
}

int xc_version(void *xch, int cmd, void *arg) {
    (void)xch; (void)arg;
    return cmd == 0 ? (4 << 16) | 17 : -1;
}

void *xc__hypercall_buffer_alloc_pages(void *xch, xc_hypercall_buffer_t *b, int nr_pages) {
    (void)xch;
    /* What DECLARE_HYPERCALL_BUFFER leaves in the struct before the allocation. */
    if (b->hbuf != NULL || b->param_shadow != NULL || b->dir != 0 || b->ubuf != (void *)-1 || b->sz != 0)
        logline("BADBUF declare %lu", 0);
    void *p = mmap(NULL, (size_t)nr_pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    b->hbuf = p;
    logline("ALLOC pages=%lu", (unsigned long)nr_pages);
    return p;
}

void xc__hypercall_buffer_free_pages(void *xch, xc_hypercall_buffer_t *b, int nr_pages) {
    (void)xch;
    if (b->hbuf)
        munmap(b->hbuf, (size_t)nr_pages * 4096);
    b->hbuf = NULL;
    logline("FREE pages=%lu", (unsigned long)nr_pages);
}

long long xc_logdirty_control(void *xch, uint32_t domid, unsigned int sop, xc_hypercall_buffer_t *dirty_bitmap,
                              unsigned long pages, unsigned int mode, xc_shadow_op_stats_t *stats) {
    (void)xch; (void)domid; (void)mode;
    unsigned long frames = env_ul("FAKE_XENCTRL_FRAMES", 8192);
    switch (sop) {
    case 2: { /* ENABLE_LOGDIRTY */
        unsigned long fail = env_ul("FAKE_XENCTRL_ENABLE_ERRNO", 0);
        if (fail) {
            logline("ENABLE errno=%lu", fail);
            errno = (int)fail;
            return -1;
        }
        if (logdirty_on) {
            logline("ENABLE errno=%lu", EINVAL);
            errno = EINVAL;
            return -1;
        }
        logdirty_on = 1;
        logline("ENABLE", 0);
        return 0;
    }
    case 11: { /* CLEAN */
        logline("CLEAN pages=%lu", pages);
        if (!dirty_bitmap || !dirty_bitmap->hbuf || pages > frames) {
            logline("BADBUF clean %lu", pages);
            errno = EINVAL;
            return -1;
        }
        uint8_t *bits = dirty_bitmap->hbuf;
        memset(bits, 0, (pages + 7) / 8);
        unsigned long dirty = env_ul("FAKE_XENCTRL_DIRTY", 100), first = 37 * cleans++;
        for (unsigned long p = first; p < first + dirty; p++) {
            unsigned long f = p % pages;
            bits[f / 8] |= (uint8_t)(1u << (f % 8));
        }
        if (stats) {
            stats->dirty_count = (uint32_t)dirty;
            stats->fault_count = 0;
        }
        return (long long)pages;
    }
    case 12: /* PEEK */
        if (dirty_bitmap) {
            logline("BADBUF peek-with-bitmap %lu", pages);
            return -1;
        }
        logline("PEEK pages=%lu bitmap=null", pages);
        if (stats) {
            stats->dirty_count =
                (uint32_t)(env_ul("FAKE_XENCTRL_PEEK", 0) + env_ul("FAKE_XENCTRL_PEEK_GROW", 0) * (peeks++ % 4));
            stats->fault_count = 0;
        }
        return (long long)pages;
    case 0: /* OFF */
        logline("OFF", 0);
        logdirty_on = 0;
        return 0;
    }
    errno = EINVAL;
    return -1;
}

int xc_domain_nr_gpfns(void *xch, uint32_t domid, unsigned long *gpfns) {
    (void)xch; (void)domid;
    *gpfns = env_ul("FAKE_XENCTRL_FRAMES", 8192);
    return 0;
}

/* struct xen_domctl_getdomaininfo: domain@0 flags@4 tot_pages@8 ... cpu_time@56 vcpus@64 */
int xc_domain_getinfolist(void *xch, uint32_t first, unsigned int max, void *info) {
    (void)xch;
    if (max < 1)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint8_t *p = info;
    memset(p, 0, 128);
    uint16_t dom = (uint16_t)first;
    uint32_t flags = (1u << 8) | (1u << 1) | (1u << 5); /* hap, hvm, running */
    uint64_t tot = env_ul("FAKE_XENCTRL_FRAMES", 8192) - 1024;
    uint64_t cpu = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    const char *cores = getenv("FAKE_XENCTRL_DOM0_CORES");
    if (dom == 0 && cores && *cores)
        cpu = (uint64_t)((double)cpu * strtod(cores, NULL));
    uint32_t vcpus = 1;
    memcpy(p, &dom, 2);
    memcpy(p + 4, &flags, 4);
    memcpy(p + 8, &tot, 8);
    memcpy(p + 56, &cpu, 8);
    memcpy(p + 64, &vcpus, 4);
    return 1;
}
