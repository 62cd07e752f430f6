/*
 * codec-bench.c: which codec compresses guest pages for the data streams
 * (docs/benchmarks.md, "Page compression").  Every page is compressed on
 * its own, as a PAGES frame would carry it; per codec it prints the
 * compression and decompression speed (MB of pages per second of this
 * thread's CPU time, the best of ROUNDS, so a loaded machine costs less
 * than wall time would), the ratio (bytes a frame would carry / page
 * bytes, a page that does not shrink counted raw) and the share of pages
 * that do not shrink.  All-zero pages are counted and left out, as the
 * streams send them as a flag.  Every page must decompress to itself, or
 * the program fails: that is all it asserts.
 *
 * Usage: codec-bench [--mib N] [--rounds R] [SOURCE...]; a SOURCE is
 *   sample       generated sample memory (the default): N MiB (64), half
 *                binaries of /usr/bin and /usr/lib/x86_64-linux-gnu, a
 *                quarter text files of /usr/share/doc, a quarter zero pages
 *   random       N MiB of pseudo-random pages (incompressible)
 *   xen:FILE     the pages of the PAGE_DATA records of an xl save file or
 *                stream (FILE.xz is read through xz -dc)
 *   FILE         a file's bytes, page by page (the last one padded)
 * zstd is measured when configure found libzstd (HAVE_ZSTD).
 */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lz4.h>
#ifdef HAVE_ZSTD
#include <zstd.h>
#endif

#include "mig_error.h"
#include "mig_page.h"
#include "mig_stream.h"

/* The pages of one source; pages is count * MIG_PAGE_SIZE bytes. */
struct pages {
    uint8_t *data;
    size_t count, capacity;
    size_t zero;                /* all-zero pages, not kept */
};

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "codec-bench: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(1);
}

static bool page_is_zero(const uint8_t *page)
{
    for (size_t i = 0; i < MIG_PAGE_SIZE; i++)
        if (page[i])
            return false;
    return true;
}

/* Add one page (len <= MIG_PAGE_SIZE bytes, padded with zeros). */
static void add_page(struct pages *p, const uint8_t *bytes, size_t len)
{
    uint8_t *slot;

    if (p->count == p->capacity) {
        p->capacity = p->capacity ? 2 * p->capacity : 4096;
        p->data = realloc(p->data, p->capacity * MIG_PAGE_SIZE);
        if (!p->data)
            die("out of memory for %zu pages", p->capacity);
    }
    slot = p->data + p->count * MIG_PAGE_SIZE;
    memcpy(slot, bytes, len);
    memset(slot + len, 0, MIG_PAGE_SIZE - len);
    if (page_is_zero(slot))
        p->zero++;
    else
        p->count++;
}

/* Add the bytes of stream f, page by page, up to *budget bytes. */
static void add_stream(struct pages *p, FILE *f, size_t *budget)
{
    uint8_t buf[MIG_PAGE_SIZE];
    size_t n;

    while (*budget && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
        add_page(p, buf, n);
        *budget -= *budget < MIG_PAGE_SIZE ? *budget : MIG_PAGE_SIZE;
    }
}

/* The directory walk of add_tree (nftw has no argument for it). */
static struct {
    struct pages *pages;
    size_t budget;
    bool text_only;
} walk;

static bool is_compressed_name(const char *path)
{
    size_t n = strlen(path);

    return (n > 3 && !strcmp(path + n - 3, ".gz")) ||
           (n > 3 && !strcmp(path + n - 3, ".xz")) ||
           (n > 4 && !strcmp(path + n - 4, ".bz2"));
}

static int walk_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    FILE *f;

    (void)st; (void)ftw;
    if (flag != FTW_F || (walk.text_only && is_compressed_name(path)))
        return 0;
    f = fopen(path, "rb");
    if (!f)
        return 0;                   /* unreadable: not part of the sample */
    add_stream(walk.pages, f, &walk.budget);
    fclose(f);
    return walk.budget ? 0 : 1;
}

/* Add up to budget bytes of the regular files under dir. */
static void add_tree(struct pages *p, const char *dir, size_t budget, bool text_only)
{
    walk.pages = p;
    walk.budget = budget;
    walk.text_only = text_only;
    if (nftw(dir, walk_one, 16, FTW_PHYS) < 0)
        die("cannot walk '%s'", dir);
}

static void load_sample(struct pages *p, size_t bytes)
{
    static const uint8_t zero[MIG_PAGE_SIZE];

    add_tree(p, "/usr/bin", bytes / 4, false);
    add_tree(p, "/usr/lib/x86_64-linux-gnu", bytes / 4, false);
    add_tree(p, "/usr/share/doc", bytes / 4, true);
    for (size_t i = 0; i < bytes / 4 / MIG_PAGE_SIZE; i++)
        add_page(p, zero, sizeof(zero));
}

static void load_random(struct pages *p, size_t bytes)
{
    uint64_t x = 0x9e3779b97f4a7c15, page[MIG_PAGE_SIZE / 8];

    for (size_t i = 0; i < bytes / MIG_PAGE_SIZE; i++) {
        for (size_t j = 0; j < MIG_PAGE_SIZE / 8; j++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            page[j] = x;
        }
        add_page(p, (const uint8_t *)page, sizeof(page));
    }
}

/* All of f (xz -dc's output) in memory; *data is the caller's (free). */
static void read_all(FILE *f, const char *what, uint8_t **data, size_t *size)
{
    size_t capacity = 0, n;

    *data = NULL;
    *size = 0;
    do {
        if (*size == capacity) {
            capacity = capacity ? 2 * capacity : 1 << 24;
            *data = realloc(*data, capacity);
            if (!*data)
                die("out of memory for '%s'", what);
        }
        n = fread(*data + *size, 1, capacity - *size, f);
        *size += n;
    } while (n);
    if (ferror(f))
        die("cannot read '%s'", what);
}

/* The pages of every PAGE_DATA record of an xl save file or stream. */
static void load_xen(struct pages *p, const char *path)
{
    struct mig_stream_reader *reader = NULL;
    struct mig_stream_record rec;
    struct mig_stream_body body;
    char command[4200];
    uint8_t *all;
    size_t size;
    FILE *f;
    int rc;

    snprintf(command, sizeof(command), "xz -dcf '%s'", path);
    f = popen(command, "r");
    if (!f)
        die("cannot run '%s'", command);
    read_all(f, path, &all, &size);
    if (pclose(f))
        die("'%s' failed", command);
    rc = mig_stream_reader_open_mem(&reader, all, size, NULL);
    while (!rc && !(rc = mig_stream_read_record(reader, &rec))) {
        if (rec.kind != MIG_STREAM_ITEM_RECORD || rec.layer != MIG_STREAM_LAYER_LIBXC ||
            rec.type != MIG_LIBXC_PAGE_DATA)
            continue;
        rc = mig_stream_decode_body(&rec, &body);
        for (uint32_t i = 0; !rc && i < body.u.page_data.data_pages; i++)
            add_page(p, (const uint8_t *)body.u.page_data.pages + (size_t)i * MIG_PAGE_SIZE,
                     MIG_PAGE_SIZE);
    }
    mig_stream_reader_close(reader);
    free(all);
    if (rc != 1)
        die("'%s' is not a whole Xen stream: %s", path, mig_error_last());
}

/* ---- codecs ----------------------------------------------------------- */

#define SLOT 4352                   /* room for one compressed page, any codec */

/*
 * compress: bytes written to dst (at most SLOT), 0 on failure.
 * decompress: bytes written to dst (at most MIG_PAGE_SIZE), < 0 on failure.
 */
struct codec {
    const char *name;
    int level;
    size_t (*compress)(const struct codec *c, const uint8_t *src, uint8_t *dst);
    long (*decompress)(const uint8_t *src, size_t len, uint8_t *dst);
};

static size_t lz4_compress(const struct codec *c, const uint8_t *src, uint8_t *dst)
{
    int n = LZ4_compress_fast((const char *)src, (char *)dst, MIG_PAGE_SIZE, SLOT,
                              c->level);

    return n > 0 ? (size_t)n : 0;
}

static long lz4_decompress(const uint8_t *src, size_t len, uint8_t *dst)
{
    return LZ4_decompress_safe((const char *)src, (char *)dst, (int)len, MIG_PAGE_SIZE);
}

#ifdef HAVE_ZSTD
static ZSTD_CCtx *zstd_c;
static ZSTD_DCtx *zstd_d;

static size_t zstd_compress(const struct codec *c, const uint8_t *src, uint8_t *dst)
{
    size_t n = ZSTD_compressCCtx(zstd_c, dst, SLOT, src, MIG_PAGE_SIZE, c->level);

    return ZSTD_isError(n) ? 0 : n;
}

static long zstd_decompress(const uint8_t *src, size_t len, uint8_t *dst)
{
    size_t n = ZSTD_decompressDCtx(zstd_d, dst, MIG_PAGE_SIZE, src, len);

    return ZSTD_isError(n) ? -1 : (long)n;
}
#endif

static const struct codec codecs[] = {
    { "lz4", 1, lz4_compress, lz4_decompress },
#ifdef HAVE_ZSTD
    { "zstd-fast1", -1, zstd_compress, zstd_decompress },
    { "zstd-1", 1, zstd_compress, zstd_decompress },
    { "zstd-2", 2, zstd_compress, zstd_decompress },
    { "zstd-3", 3, zstd_compress, zstd_decompress },
#endif
};

/* ---- measurement -------------------------------------------------------- */

static double thread_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Compress every page of p with c, then decompress those that shrank, each
 * the best of rounds; print one line.  Exits when a page does not come
 * back as it was.
 */
static void measure(const struct codec *c, const struct pages *p, unsigned int rounds)
{
    uint8_t *out = malloc(p->count * SLOT), back[MIG_PAGE_SIZE];
    size_t *len = calloc(p->count, sizeof(*len));
    size_t shrunk = 0, carried = 0;
    double best_c = 1e30, best_d = 1e30, t;

    if (!out || !len)
        die("out of memory for %zu compressed pages", p->count);
    memset(out, 0, p->count * SLOT);    /* no page fault inside the timing */
    for (unsigned int r = 0; r < rounds; r++) {
        t = thread_seconds();
        for (size_t i = 0; i < p->count; i++)
            len[i] = c->compress(c, p->data + i * MIG_PAGE_SIZE, out + i * SLOT);
        t = thread_seconds() - t;
        best_c = t < best_c ? t : best_c;
    }
    for (unsigned int r = 0; r < rounds; r++) {
        t = thread_seconds();
        for (size_t i = 0; i < p->count; i++)
            if (len[i] && len[i] < MIG_PAGE_SIZE)
                (void)c->decompress(out + i * SLOT, len[i], back);
        t = thread_seconds() - t;
        best_d = t < best_d ? t : best_d;
    }
    for (size_t i = 0; i < p->count; i++) {
        if (!len[i])
            die("%s could not compress page %zu", c->name, i);
        carried += len[i] < MIG_PAGE_SIZE ? len[i] : MIG_PAGE_SIZE;
        if (len[i] >= MIG_PAGE_SIZE)
            continue;
        shrunk++;
        if (c->decompress(out + i * SLOT, len[i], back) != MIG_PAGE_SIZE ||
            memcmp(back, p->data + i * MIG_PAGE_SIZE, MIG_PAGE_SIZE))
            die("%s: page %zu does not decompress to itself", c->name, i);
    }
    printf("%-11s %13.1f %16.1f %7.3f %10.1f%%\n", c->name,
           (double)p->count * MIG_PAGE_SIZE / 1e6 / best_c,
           shrunk ? (double)shrunk * MIG_PAGE_SIZE / 1e6 / best_d : 0.0,
           (double)carried / ((double)p->count * MIG_PAGE_SIZE),
           100.0 * (double)(p->count - shrunk) / (double)p->count);
    free(out);
    free(len);
}

static void load(struct pages *p, const char *source, size_t bytes)
{
    if (!strcmp(source, "sample")) {
        load_sample(p, bytes);
    } else if (!strcmp(source, "random")) {
        load_random(p, bytes);
    } else if (!strncmp(source, "xen:", 4)) {
        load_xen(p, source + 4);
    } else {
        size_t budget = SIZE_MAX;
        FILE *f = fopen(source, "rb");

        if (!f)
            die("cannot open '%s': %s", source, strerror(errno));
        add_stream(p, f, &budget);
        fclose(f);
    }
}

static void bench_source(const char *source, size_t bytes, unsigned int rounds)
{
    struct pages p = { 0 };

    load(&p, source, bytes);
    printf("== %s: %zu pages compressed, %zu zero pages left out\n", source, p.count,
           p.zero);
    if (!p.count)
        die("'%s' has no page that is not all zero", source);
    printf("%-11s %13s %16s %7s %11s\n", "codec", "compress MB/s", "decompress MB/s",
           "ratio", "not shrunk");
    for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
        measure(&codecs[i], &p, rounds);
    free(p.data);
}

int main(int argc, char **argv)
{
    size_t mib = 64;
    unsigned int rounds = 3;
    int i = 1;

    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (!strcmp(argv[i], "--mib"))
            mib = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--rounds"))
            rounds = (unsigned int)strtoul(argv[i + 1], NULL, 10);
        else
            die("unknown option '%s': use --mib N, --rounds R", argv[i]);
    }
    if (!mib || !rounds)
        die("--mib and --rounds take a number from %s", "1");
#ifdef HAVE_ZSTD
    zstd_c = ZSTD_createCCtx();
    zstd_d = ZSTD_createDCtx();
    if (!zstd_c || !zstd_d)
        die("cannot make a zstd context (%s)", ZSTD_versionString());
#else
    printf("zstd: not measured (libzstd-dev was missing at configure)\n");
#endif
    if (i == argc)
        bench_source("sample", mib << 20, rounds);
    for (; i < argc; i++)
        bench_source(argv[i], mib << 20, rounds);
#ifdef HAVE_ZSTD
    ZSTD_freeCCtx(zstd_c);
    ZSTD_freeDCtx(zstd_d);
#endif
    return 0;
}
