/*
 * fake-xl.c: a stand-in for Xen's `xl migrate-receive` in tests (no Xen
 * needed).  Speaks the receiver's side of xl's migration handshake
 * (tools/xl/xl_migrate.c, Xen 4.17) on stdin/stdout: the banner, the whole
 * xl stream read and validated with libmig's reader up to the libxl END
 * record (nothing beyond it), "domain received, ready to unpause" with its
 * NUL, then the go message, the report and one result byte.
 *
 * Every step is appended to $FAKE_XL_LOG (one line each) so that tests
 * can tell what it saw and in which order.  Knobs for failure tests:
 *   FAKE_XL_RC=N          result byte after go (default 0: started); not 0:
 *                         then the go message back, as xl does once it
 *                         destroyed its copy
 *   FAKE_XL_BANNER=TEXT   send TEXT instead of the banner
 *   FAKE_XL_EXIT_AFTER=N  exit (status 1) after reading N stream items
 * and FAKE_XL_PFNS=N: note the memory digest (mig_memory_digest over N
 * pfns) of the pages the stream gave, the last copy of each pfn, an
 * XALLOC one all zero: what Xen's restore would hold.
 * It must never pass a stream its reader refuses.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mig_migrate.h"
#include "mig_page.h"
#include "mig_stream.h"
#include "mig_xfer.h"

static const char banner[] = "xl migration receiver ready, send binary domain data.\n";
static const char ready[] = "domain received, ready to unpause";
static const char go[] = "domain is yours, you are cleared to unpause";
static const char report[] = "my copy unpause results are as follows";

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    const char *path = getenv("FAKE_XL_LOG");
    FILE *f = path ? fopen(path, "a") : NULL;
    va_list ap;

    if (!f)
        return;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

static int write_all(const void *buf, size_t len)
{
    const char *p = buf;

    while (len) {
        ssize_t n = write(STDOUT_FILENO, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static size_t read_up_to(void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(STDIN_FILENO, (char *)buf + got, len - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

/* Each pfn's page key, as the stream's PAGE_DATA records leave it. */
struct memory {
    uint64_t *keys;
    uint64_t size;
};

static void remember_pages(struct memory *m, const struct mig_stream_record *rec)
{
    static const uint8_t zero[MIG_PAGE_SIZE];
    uint32_t count = rec->body[0] | rec->body[1] << 8 | (uint32_t)rec->body[2] << 16 |
                     (uint32_t)rec->body[3] << 24;
    const uint8_t *data = rec->body + 8 + (size_t)count * 8;

    for (uint32_t i = 0; i < count; i++) {
        uint64_t word = mig_stream_u64_at(rec->body + 8, i), pfn = word & MIG_STREAM_PFN_MASK;
        unsigned int type = mig_stream_word_type(word);

        if (pfn >= m->size) {
            uint64_t size = (pfn + 1) * 2;
            uint64_t *keys = realloc(m->keys, size * sizeof(*keys));

            if (!keys)
                abort();
            memset(keys + m->size, 0, (size - m->size) * sizeof(*keys));
            m->keys = keys;
            m->size = size;
        }
        if (type == MIG_STREAM_PAGE_XALLOC)
            m->keys[pfn] = mig_page_key(mig_page_hash(zero), 0);
        else if (mig_stream_page_type_has_data(type)) {
            m->keys[pfn] = mig_page_key(mig_page_hash(data), type);
            data += MIG_PAGE_SIZE;
        }
    }
}

static void note_digest(const struct memory *m)
{
    uint64_t nr_pfns = strtoull(getenv("FAKE_XL_PFNS"), NULL, 10), sum = 0;

    for (uint64_t pfn = 0; pfn < m->size && pfn < nr_pfns; pfn++)
        sum += mig_memory_digest_term(pfn, m->keys[pfn]);
    note("memory digest %016llx", (unsigned long long)mig_memory_digest_finish(sum, nr_pfns));
}

int main(int argc, char **argv)
{
    struct mig_stream_reader *reader = NULL;
    struct mig_stream_record rec;
    struct memory memory = { NULL, 0 };
    unsigned long long items = 0, pages = 0, exit_after = 0;
    char args[256] = "", message[sizeof(go) + 8];
    unsigned char code;
    int rc;

    for (int i = 1; i < argc; i++)
        snprintf(args + strlen(args), sizeof(args) - strlen(args), " %s", argv[i]);
    note("args%s", args);
    if (argc < 2 || strcmp(argv[1], "migrate-receive")) {
        fprintf(stderr, "fake-xl: only migrate-receive is faked\n");
        return 1;
    }
    if (getenv("FAKE_XL_EXIT_AFTER"))
        exit_after = strtoull(getenv("FAKE_XL_EXIT_AFTER"), NULL, 10);
    if (getenv("FAKE_XL_BANNER")) {
        write_all(getenv("FAKE_XL_BANNER"), strlen(getenv("FAKE_XL_BANNER")));
        note("sent a wrong banner");
        return 1;
    }
    if (write_all(banner, sizeof(banner) - 1))
        return 1;
    note("banner");
    /* Like xl, stop after the libxl END record: the handshake follows. */
    struct mig_stream_reader_options ro = MIG_STREAM_READER_OPTIONS_INIT;

    ro.flags = MIG_STREAM_READER_ALLOW_TRAILING;
    rc = mig_stream_reader_open_fd(&reader, STDIN_FILENO, &ro);
    while (!rc) {
        rc = mig_stream_read_record(reader, &rec);
        if (rc)
            break;
        items++;
        if (rec.kind == MIG_STREAM_ITEM_RECORD && rec.layer == MIG_STREAM_LAYER_LIBXC &&
            rec.type == MIG_LIBXC_PAGE_DATA) {
            pages += rec.length >= 8 ? (rec.body[0] | rec.body[1] << 8 |
                                         (unsigned)rec.body[2] << 16 |
                                         (unsigned)rec.body[3] << 24) : 0;
            if (getenv("FAKE_XL_PFNS"))
                remember_pages(&memory, &rec);     /* the reader checked its length */
        }
        if (exit_after && items == exit_after) {
            note("exiting after %llu items", items);
            fprintf(stderr, "fake-xl: exiting in the middle of the stream (test)\n");
            mig_stream_reader_close(reader);
            return 1;
        }
    }
    mig_stream_reader_close(reader);
    if (rc != 1) {
        note("stream refused: %s", mig_error_last());
        fprintf(stderr, "fake-xl: the stream is refused: %s\n", mig_error_last());
        return 1;
    }
    note("stream ok: %llu items, %llu pages", items, pages);
    if (getenv("FAKE_XL_PFNS"))
        note_digest(&memory);
    free(memory.keys);
    if (write_all(ready, sizeof(ready)))
        return 1;
    note("ready");
    if (read_up_to(message, sizeof(go)) != sizeof(go)) {
        note("no go: input closed");
        fprintf(stderr, "fake-xl: no permission to go: destroying the copy\n");
        return 1;
    }
    if (memcmp(message, go, sizeof(go))) {
        note("bad go message");
        return 1;
    }
    code = (unsigned char)atoi(getenv("FAKE_XL_RC") ? getenv("FAKE_XL_RC") : "0");
    note("go");
    if (write_all(report, sizeof(report)) || write_all(&code, 1))
        return 1;
    note("reported %u", code);
    if (code) {
        /* xl then destroys its copy and gives the sender its domain back. */
        note("destroyed the copy");
        if (write_all(go, sizeof(go)))
            return 1;
    }
    if (read_up_to(message, 1) != 0)
        note("unexpected input after go");
    return 0;
}
