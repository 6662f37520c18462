/* remus-tune test guest: a known memory and disk write pattern, by construction.
 *
 * A 32-bit multiboot kernel (freestanding, no libc, paging off) that QEMU boots with -kernel.
 * Options come from the multiboot command line (QEMU's -append), as key=value words:
 *
 *   mode=sweep|hot|idle  sweep: write R distinct pages per second, walking `pages` pages from
 *                        `base` MiB and wrapping; hot: rewrite the same H pages at R writes/s;
 *                        idle: write nothing.
 *   rate=R               page writes per second (default 1000)
 *   base=M               first guest-physical MiB of the written region (default 16)
 *   pages=N              size of the swept region in 4 KiB pages (default 16384)
 *   hot=H                size of the hot set in pages (default 256)
 *   disk=D               ATA write requests per second to the primary master (default 0)
 *   dsec=K               sectors (512 B) per request, at most 16 (default 8)
 *   dspan=S              sectors written before wrapping to sector 0 (default 8192)
 *
 * Every page write stores a new sequence number (never repeated), the page's own frame number
 * and a magic word, so a test can tell a written page from the host side and check where a
 * guest frame lives in QEMU's memory. A marker page just below `base` holds a fixed string,
 * its own frame number (word 16), the number of page writes so far (word 17, updated with
 * every write) and of disk writes (word 18), so a test can read the guest's real progress even
 * when a busy host starves the guest and it writes in bursts to catch up.
 *
 * Time comes from PIT channel 2, a free-running 16-bit counter at 1193182 Hz read by polling;
 * PIT channel 0 ticks at 1 kHz only to wake the loop from `hlt`, so the guest idles between
 * ticks (a TCG guest that spins would eat a host core). The guest prints a ready line on COM1
 * and then one `stat` line per second with its cumulative counts.
 */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define PIT_HZ 1193182u
#define PAGE 4096u
#define MAGIC 0x52544753u /* "SGTR" */

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port)
{
    u8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }

/* ---- COM1 ---- */

static void serial_init(void)
{
    outb(0x3F9, 0x00);
    outb(0x3FB, 0x80);
    outb(0x3F8, 0x01); /* 115200 baud */
    outb(0x3F9, 0x00);
    outb(0x3FB, 0x03);
    outb(0x3FA, 0xC7);
}

static void putc(char c)
{
    while (!(inb(0x3FD) & 0x20))
        ;
    outb(0x3F8, (u8)c);
}

static void puts(const char *s)
{
    while (*s)
        putc(*s++);
}

static void putu(u32 v)
{
    char buf[12];
    int i = 0;
    do {
        buf[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i)
        putc(buf[--i]);
}

static void putkv(const char *key, u32 v)
{
    putc(' ');
    puts(key);
    putc('=');
    putu(v);
}

/* ---- command line ---- */

struct options {
    u32 mode; /* 0 idle, 1 sweep, 2 hot */
    u32 rate, base_mib, pages, hot, disk, dsec, dspan;
};

static int streq_n(const char *a, const char *b, u32 n)
{
    for (u32 i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static u32 parse_u32(const char *s, u32 n)
{
    u32 v = 0;
    for (u32 i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        v = v * 10 + (u32)(s[i] - '0');
    return v;
}

static void parse_word(struct options *o, const char *w, u32 len)
{
    u32 eq = 0;
    while (eq < len && w[eq] != '=')
        eq++;
    if (eq == len)
        return;
    const char *v = w + eq + 1;
    u32 vlen = len - eq - 1;
#define KEY(name) (eq == sizeof(name) - 1 && streq_n(w, name, eq))
    if (KEY("mode")) {
        if (vlen == 5 && streq_n(v, "sweep", 5))
            o->mode = 1;
        else if (vlen == 3 && streq_n(v, "hot", 3))
            o->mode = 2;
        else
            o->mode = 0;
    } else if (KEY("rate"))
        o->rate = parse_u32(v, vlen);
    else if (KEY("base"))
        o->base_mib = parse_u32(v, vlen);
    else if (KEY("pages"))
        o->pages = parse_u32(v, vlen);
    else if (KEY("hot"))
        o->hot = parse_u32(v, vlen);
    else if (KEY("disk"))
        o->disk = parse_u32(v, vlen);
    else if (KEY("dsec"))
        o->dsec = parse_u32(v, vlen);
    else if (KEY("dspan"))
        o->dspan = parse_u32(v, vlen);
#undef KEY
}

static void parse_cmdline(struct options *o, const char *s)
{
    while (*s) {
        while (*s == ' ')
            s++;
        const char *w = s;
        while (*s && *s != ' ')
            s++;
        if (s > w)
            parse_word(o, w, (u32)(s - w));
    }
}

/* ---- interrupts: only IRQ0, to wake from hlt ---- */

struct idt_entry {
    u16 off_lo, sel;
    u8 zero, flags;
    u16 off_hi;
} __attribute__((packed));

struct idt_ptr {
    u16 limit;
    u32 base;
} __attribute__((packed));

static struct idt_entry idt[256];
extern void irq0_stub(void);
extern void spurious_stub(void);

static void set_gate(int n, void (*fn)(void))
{
    u32 a = (u32)fn;
    idt[n].off_lo = (u16)(a & 0xFFFF);
    idt[n].sel = 0x08;
    idt[n].zero = 0;
    idt[n].flags = 0x8E;
    idt[n].off_hi = (u16)(a >> 16);
}

static void interrupts_init(void)
{
    for (int i = 0; i < 256; i++)
        set_gate(i, spurious_stub);
    set_gate(0x20, irq0_stub);
    struct idt_ptr p = { sizeof(idt) - 1, (u32)idt };
    __asm__ volatile("lidt %0" : : "m"(p));
    /* Remap the PICs to 0x20/0x28 and unmask IRQ0 only. */
    outb(0x20, 0x11);
    outb(0xA0, 0x11);
    outb(0x21, 0x20);
    outb(0xA1, 0x28);
    outb(0x21, 0x04);
    outb(0xA1, 0x02);
    outb(0x21, 0x01);
    outb(0xA1, 0x01);
    outb(0x21, 0xFE);
    outb(0xA1, 0xFF);
    /* PIT channel 0: rate generator at 1 kHz. */
    outb(0x43, 0x34);
    outb(0x40, (u8)(1193 & 0xFF));
    outb(0x40, (u8)(1193 >> 8));
}

/* ---- time: PIT channel 2, free running ---- */

static void clock_init(void)
{
    outb(0x61, (u8)((inb(0x61) & 0xFC) | 0x01)); /* gate on, speaker off */
    outb(0x43, 0xB4);                            /* channel 2, lo/hi, mode 2 */
    outb(0x42, 0);
    outb(0x42, 0); /* reload 65536: wraps every 54.9 ms */
}

static u16 clock_read(void)
{
    outb(0x43, 0x80); /* latch channel 2 */
    u8 lo = inb(0x42);
    u8 hi = inb(0x42);
    return (u16)(lo | (hi << 8));
}

/* ---- ATA PIO, primary master ---- */

static int ata_wait(u8 want_mask, u8 want_value)
{
    for (u32 i = 0; i < 10000000u; i++) {
        u8 s = inb(0x1F7);
        if (s == 0xFF)
            return -1;
        if (s & 0x01)
            return -1;
        if ((s & (0x80 | want_mask)) == want_value)
            return 0;
    }
    return -1;
}

/* One WRITE MULTIPLE of `sectors` sectors after SET MULTIPLE MODE: QEMU then sees one write
 * request per command (with plain WRITE SECTORS each 512-byte DRQ block is its own request). */
static int ata_set_multiple(u32 sectors)
{
    if (ata_wait(0, 0) < 0)
        return -1;
    outb(0x1F6, 0xE0);
    outb(0x1F2, (u8)sectors);
    outb(0x1F7, 0xC6); /* SET MULTIPLE MODE */
    return ata_wait(0, 0);
}

static int ata_write(u32 lba, u32 sectors, u32 seq)
{
    if (ata_wait(0, 0) < 0)
        return -1;
    outb(0x1F6, (u8)(0xE0 | ((lba >> 24) & 0x0F)));
    outb(0x1F2, (u8)sectors);
    outb(0x1F3, (u8)lba);
    outb(0x1F4, (u8)(lba >> 8));
    outb(0x1F5, (u8)(lba >> 16));
    outb(0x1F7, 0xC5); /* WRITE MULTIPLE */
    if (ata_wait(0x08, 0x08) < 0)
        return -1;
    for (u32 w = 0; w < sectors * 256; w++)
        outw(0x1F0, (u16)(w == 0 ? seq : w == 1 ? seq >> 16 : lba + w / 256));
    return ata_wait(0, 0);
}

/* ---- the pattern ---- */

void guest_main(u32 magic, u32 *mbi)
{
    struct options o = { 0, 1000, 16, 16384, 256, 0, 8, 8192 };
    serial_init();
    if (magic == 0x2BADB002u && (mbi[0] & 0x4))
        parse_cmdline(&o, (const char *)mbi[4]);
    if (o.hot == 0)
        o.hot = 1;
    if (o.pages == 0)
        o.pages = 1;
    if (o.dsec == 0 || o.dsec > 16) /* QEMU's IDE allows 16 sectors per DRQ block */
        o.dsec = 8;
    if (o.dspan < o.dsec)
        o.dspan = o.dsec;

    u32 base = o.base_mib << 20;
    u32 first_gfn = base / PAGE;
    u32 span = o.mode == 2 ? o.hot : o.pages;

    /* The marker page, just below the written region. */
    const char *marker = "remus-tune test guest marker page";
    char *m = (char *)(base - PAGE);
    for (u32 i = 0; marker[i]; i++)
        m[i] = marker[i];
    ((u32 *)m)[16] = first_gfn - 1;
    volatile u32 *progress = (volatile u32 *)m + 17;
    progress[0] = 0;
    progress[1] = 0;

    interrupts_init();
    clock_init();
    u32 disk_errors = 0;
    if (o.disk != 0 && ata_set_multiple(o.dsec) < 0)
        disk_errors++;

    puts("remus-tune-guest ready mode=");
    puts(o.mode == 1 ? "sweep" : o.mode == 2 ? "hot" : "idle");
    putkv("rate", o.rate);
    putkv("base_gfn", first_gfn);
    putkv("span", span);
    putkv("disk", o.disk);
    putkv("dsec", o.dsec);
    puts("\r\n");

    u32 seq = 0, next = 0, lba = 0, disk_ops = 0, seconds = 0;
    u64 page_acc = 0, disk_acc = 0, second_acc = 0;
    u16 prev = clock_read();
    for (;;) {
        __asm__ volatile("sti; hlt; cli");
        u16 now = clock_read();
        u32 d = (u16)(prev - now);
        prev = now;
        if (o.mode != 0) {
            page_acc += (u64)d * o.rate;
            while (page_acc >= PIT_HZ) {
                page_acc -= PIT_HZ;
                volatile u32 *p = (volatile u32 *)(base + next * PAGE);
                p[0] = ++seq;
                p[1] = first_gfn + next;
                p[2] = MAGIC;
                *progress = seq;
                if (++next == span)
                    next = 0;
            }
        }
        if (o.disk != 0) {
            disk_acc += (u64)d * o.disk;
            while (disk_acc >= PIT_HZ) {
                disk_acc -= PIT_HZ;
                if (ata_write(lba, o.dsec, disk_ops) < 0)
                    disk_errors++;
                else
                    progress[1] = ++disk_ops;
                lba += o.dsec;
                if (lba + o.dsec > o.dspan)
                    lba = 0;
            }
        }
        second_acc += d;
        if (second_acc >= PIT_HZ) {
            second_acc -= PIT_HZ;
            seconds++;
            puts("stat");
            putkv("s", seconds);
            putkv("writes", seq);
            putkv("disk_ops", disk_ops);
            putkv("disk_errors", disk_errors);
            puts("\r\n");
        }
    }
}
