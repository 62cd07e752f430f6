/*
 * mapped_dest.c: the mapped save file as a destination of the engine
 * (mig_savefile.h, sys/mig_backend.h).  The stream threads write the pages
 * into the file with pwrite, each pfn's page into its slot, so a page sent
 * again overwrites in place; an all-zero page takes no slot of its own.
 * Each stream takes its slots from the shared counter in blocks of
 * SLOT_BLOCK, so the pfns it carries one after another get slots one
 * after another, and gathers the pages of consecutive slots in a run that
 * goes out in one pwrite (a page, not a syscall and a read back each).
 * Runs go out when the next page does not follow, at every epoch's end,
 * when the streams close and before the state; restore_state then moves
 * the pages of the last slots into the blocks' unused ends, so the slots
 * are dense as the format wants.  The prologue is written at
 * accept_prologue, the tail, index and superblock at restore_state, the
 * complete marker at resume, just before the file is put in place.
 *
 * It must never put an unfinished file under the target's name (the file
 * is a temporary one until resume), never leave the temporary file behind
 * when closed without resume, and never read a page back that it did not
 * write.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "mig_migrate.h"
#include "mig_savefile.h"
#include "mig_xen.h"
#include "mig_xfer.h"
#include "savefile/mapped_format.h"
#include "sys/mig_backend.h"
#include "util/file.h"
#include "util/host.h"
#include "util/io.h"

/*
 * A pfn's state while the save runs: whether a page arrived, whether the
 * latest was all zero, its type, and its slot + 1 (0: none yet).  Each
 * pfn is written by one stream thread at a time (sys/mig_backend.h), and
 * read by restore_state after every stream thread ended.
 */
#define PFN_PRESENT     (UINT64_C(1) << 63)
#define PFN_ZERO        (UINT64_C(1) << 62)
#define PFN_TYPE_SHIFT  48
#define PFN_SLOT_MASK   ((UINT64_C(1) << 48) - 1)

/* Slots a stream takes at a time, and the most pages one pwrite carries. */
#define SLOT_BLOCK      64u
#define RUN_PAGES       SLOT_BLOCK

/*
 * A stream's own slots and its run: slots [next, end) of its block are
 * not given yet; the run's len pages are for slots first, first + 1, ...
 * and not yet written.  Used by the stream's thread, and by the engine's
 * between epochs and after the streams (sys/mig_backend.h).
 */
struct md_stream {
    uint64_t next, end;
    uint64_t first, first_pfn;
    unsigned int len;
    uint8_t *run;               /* RUN_PAGES pages; NULL once closed */
};

struct mig_mapped_dest {
    struct mig_destination_ops ops;         /* mapped_ops, named for the family */
    char family[MAPPED_FAMILY_SIZE + 1];
    char name[MAPPED_FAMILY_SIZE + sizeof("-destination")];
    int (*preflight)(void *arg, const char *meta_json);
    void *preflight_arg;
    struct mig_whole_file file;
    char *meta;                     /* a Xen prologue's metadata, or NULL */
    uint64_t prologue_len, prologue_checksum;
    bool prologue_taken, state_written;
    uint64_t nr_pfns, pages_offset;
    uint64_t *pfn_state;            /* nr_pfns entries, as above */
    uint64_t *pfn_hash;             /* nr_pfns: mig_page_hash of the latest page */
    _Atomic uint64_t next_slot;
    struct md_stream *streams;      /* open_streams' n, kept until close */
    unsigned int nr_streams;
    int run_rc;                     /* a run that close_streams could not write */
    char run_error[512];            /* and why */
    struct mapped_superblock sb;    /* as written by restore_state */
};

static struct mig_mapped_dest *of(void *backend)
{
    return backend;
}

/* "cannot write the save file 'PATH' (WHAT)": the one wording of a write error. */
#define WRITE_ERROR "cannot write the save file '%s' (%s at offset %" PRIu64 ")"

static int md_accept_prologue(void *backend, const void *blob, size_t len)
{
    struct mig_mapped_dest *d = of(backend);
    const void *head;
    size_t head_len;
    int rc;

    if (d->prologue_taken || d->pfn_state)
        return mig_error_set(MIG_EINVAL, "a second prologue, or one after prepare, for "
                             "the save file '%s'", d->file.path);
    if (strcmp(d->family, "xen"))
        return mig_error_set(MIG_ECOMPAT, "the source sent a prologue, which a '%s' "
                             "guest has none of: it is not a '%s' source", d->family,
                             d->family);
    if (len > MAPPED_MAX_BLOB)
        return mig_error_set(MIG_ELIMIT, "a prologue of %zu bytes: a save file holds at "
                             "most %" PRIu64, len, MAPPED_MAX_BLOB);
    rc = mig_xen_prologue_parse(blob, len, &d->meta, &head, &head_len);
    if (!rc && d->preflight)
        rc = d->preflight(d->preflight_arg, d->meta);    /* MIG_ECOMPAT passes through */
    if (!rc)
        rc = mig_pwrite_all(d->file.fd, blob, len, MAPPED_SUPERBLOCK_SIZE, WRITE_ERROR,
                            d->file.path, "the prologue", (uint64_t)MAPPED_SUPERBLOCK_SIZE);
    if (rc) {
        free(d->meta);          /* refused: as if it never came */
        d->meta = NULL;
        return rc;
    }
    d->prologue_taken = true;
    d->prologue_len = len;
    d->prologue_checksum = mapped_checksum(blob, len);
    return 0;
}

static int md_prepare(void *backend, uint64_t nr_pfns)
{
    struct mig_mapped_dest *d = of(backend);
    uint64_t need = nr_pfns * (sizeof(*d->pfn_state) + sizeof(*d->pfn_hash));

    if (d->pfn_state)
        return mig_error_set(MIG_EINVAL, "a second prepare for the save file '%s'",
                             d->file.path);
    if (!strcmp(d->family, "xen") && !d->prologue_taken)
        return mig_error_set(MIG_ECOMPAT, "the source sent no Xen prologue: it is not a "
                             "xenmig Xen source (or an older version)");
    if (!nr_pfns || nr_pfns > MAPPED_MAX_PFNS)
        return mig_error_set(MIG_ELIMIT, "a guest of %" PRIu64 " pfns: a save file holds "
                             "1 to %" PRIu64, nr_pfns, MAPPED_MAX_PFNS);
    if (need > mig_host_memory_bytes())
        return mig_error_set(MIG_ENOMEM, "the index of a save of %" PRIu64 " pages needs "
                             "%" PRIu64 " MiB, this host has %" PRIu64 " MiB", nr_pfns,
                             need >> 20, mig_host_memory_bytes() >> 20);
    d->pfn_state = calloc(nr_pfns, sizeof(*d->pfn_state));
    d->pfn_hash = calloc(nr_pfns, sizeof(*d->pfn_hash));
    if (!d->pfn_state || !d->pfn_hash)
        return mig_error_set(MIG_ENOMEM, "out of memory for the index of %" PRIu64
                             " pages", nr_pfns);
    d->nr_pfns = nr_pfns;
    d->pages_offset = mapped_pages_offset(d->prologue_len);
    return 0;
}

/* n pages into slots slot, slot + 1, ... in one pwrite; pfn is the first's. */
static int write_slots(struct mig_mapped_dest *d, const void *pages, unsigned int n,
                       uint64_t slot, uint64_t pfn)
{
    uint64_t offset = d->pages_offset + slot * MIG_PAGE_SIZE;

    if (n == 1)
        return mig_pwrite_all(d->file.fd, pages, MIG_PAGE_SIZE, (off_t)offset,
                              "cannot write the save file '%s' (pfn 0x%" PRIx64 " at "
                              "offset %" PRIu64 ")", d->file.path, pfn, offset);
    return mig_pwrite_all(d->file.fd, pages, (size_t)n * MIG_PAGE_SIZE, (off_t)offset,
                          "cannot write the save file '%s' (pfn 0x%" PRIx64 " at offset %"
                          PRIu64 ", and the %u pages after it)", d->file.path, pfn,
                          offset, n - 1);
}

/* The stream's run into the file in one pwrite; empty afterwards either way. */
static int flush_run(struct mig_mapped_dest *d, struct md_stream *s)
{
    unsigned int len = s->len;

    s->len = 0;
    return len ? write_slots(d, s->run, len, s->first, s->first_pfn) : 0;
}

/* Where slot's page waits in the stream's run, or NULL (s NULL: no run). */
static uint8_t *in_run(const struct md_stream *s, uint64_t slot)
{
    return s && s->len && slot >= s->first && slot < s->first + s->len
           ? s->run + (slot - s->first) * MIG_PAGE_SIZE : NULL;
}

/* Every open stream's run; the first error, after trying them all. */
static int flush_runs(struct mig_mapped_dest *d)
{
    int rc = 0;

    for (unsigned int i = 0; i < d->nr_streams; i++) {
        int r = d->streams[i].run ? flush_run(d, &d->streams[i]) : 0;

        if (r && !rc)
            rc = r;
    }
    return rc;
}

/* A new slot for a pfn's first page with data: the stream's next (s NULL:
 * a caller without open_streams, one slot from the counter). */
static uint64_t take_slot(struct mig_mapped_dest *d, struct md_stream *s)
{
    if (!s)
        return atomic_fetch_add_explicit(&d->next_slot, 1, memory_order_relaxed);
    if (s->next == s->end) {
        s->next = atomic_fetch_add_explicit(&d->next_slot, SLOT_BLOCK,
                                            memory_order_relaxed);
        s->end = s->next + SLOT_BLOCK;
    }
    return s->next++;
}

/* A page into slot: into the stream's run (written when it stops growing),
 * or straight into the file when there is no run. */
static int put_page(struct mig_mapped_dest *d, struct md_stream *s, uint64_t slot,
                    uint64_t pfn, const void *data)
{
    uint8_t *waiting = in_run(s, slot);
    int rc;

    if (!s)
        return write_slots(d, data, 1, slot, pfn);
    if (waiting) {
        /* sent again before its run went out (a stream that came back) */
        memcpy(waiting, data, MIG_PAGE_SIZE);
        return 0;
    }
    if (s->len && (slot != s->first + s->len || s->len == RUN_PAGES)) {
        rc = flush_run(d, s);
        if (rc)
            return rc;
    }
    if (!s->len) {
        s->first = slot;
        s->first_pfn = pfn;
    }
    memcpy(s->run + (size_t)s->len++ * MIG_PAGE_SIZE, data, MIG_PAGE_SIZE);
    return 0;
}

static struct md_stream *stream_of(struct mig_stream_ctx *st)
{
    struct md_stream *s = st ? st->priv : NULL;

    return s && s->run ? s : NULL;
}

static int md_write_page(void *backend, struct mig_stream_ctx *st, uint64_t pfn,
                         const void *data, unsigned int type)
{
    struct mig_mapped_dest *d = of(backend);
    struct md_stream *s = stream_of(st);
    uint64_t state, slot;
    int rc;

    if (!d->pfn_state || pfn >= d->nr_pfns || type > MIG_PAGE_TYPE_MAX)
        return mig_error_set(MIG_EINVAL, "page of pfn 0x%" PRIx64 " (type %u) for the "
                             "save file '%s' of %" PRIu64 " pfns", pfn, type,
                             d->file.path, d->nr_pfns);
    state = d->pfn_state[pfn];
    slot = state & PFN_SLOT_MASK;
    if (!data) {
        d->pfn_state[pfn] = PFN_PRESENT | PFN_ZERO | (uint64_t)type << PFN_TYPE_SHIFT | slot;
        d->pfn_hash[pfn] = mapped_zero_page_hash();
        return 0;
    }
    if (!slot)
        slot = take_slot(d, s) + 1;
    rc = put_page(d, s, slot - 1, pfn, data);
    if (rc)
        return rc;
    d->pfn_state[pfn] = PFN_PRESENT | (uint64_t)type << PFN_TYPE_SHIFT | slot;
    d->pfn_hash[pfn] = mig_page_hash(data);
    return 0;
}

/* The stored page of pfn: from the stream's run while it waits there (the
 * stream that wrote it asks, sys/mig_backend.h), else from the file. */
static int md_read_page(void *backend, struct mig_stream_ctx *st, uint64_t pfn, void *buf,
                        unsigned int *type_out)
{
    struct mig_mapped_dest *d = of(backend);
    uint64_t state = d->pfn_state && pfn < d->nr_pfns ? d->pfn_state[pfn] : 0;
    uint64_t slot = (state & PFN_SLOT_MASK) - 1, offset;
    const uint8_t *waiting = in_run(stream_of(st), slot);
    ssize_t got;

    if (!(state & PFN_PRESENT))
        return mig_error_set(MIG_EINVAL, "pfn 0x%" PRIx64 " was never written to the save "
                             "file '%s'", pfn, d->file.path);
    *type_out = (unsigned int)(state >> PFN_TYPE_SHIFT) & 0xf;
    if (state & PFN_ZERO) {
        memset(buf, 0, MIG_PAGE_SIZE);
        return 0;
    }
    if (waiting) {
        memcpy(buf, waiting, MIG_PAGE_SIZE);
        return 0;
    }
    offset = d->pages_offset + slot * MIG_PAGE_SIZE;
    got = mig_pread_full(d->file.fd, buf, MIG_PAGE_SIZE, (off_t)offset);
    if (got == MIG_PAGE_SIZE)
        return 0;
    if (got < 0)
        return mig_error_set_errno(MIG_EIO, errno, "cannot read pfn 0x%" PRIx64 " back from "
                                   "the save file '%s' at offset %" PRIu64, pfn,
                                   d->file.path, offset);
    return mig_error_set(MIG_EIO, "reading pfn 0x%" PRIx64 " back from the save file '%s': "
                         "it ends at offset %" PRIu64 ", the page was written at %" PRIu64
                         " (is '%s' a regular file?)", pfn, d->file.path,
                         offset + (uint64_t)got, offset, d->file.path);
}

/* A stream's state and run for each context (n of them, once). */
static int md_open_streams(void *backend, struct mig_stream_ctx *streams, unsigned int n)
{
    struct mig_mapped_dest *d = of(backend);

    if (d->streams)
        return mig_error_set(MIG_EINVAL, "the save file '%s': its streams opened twice",
                             d->file.path);
    d->streams = calloc(n, sizeof(*d->streams));
    if (!d->streams)
        return mig_error_set(MIG_ENOMEM, "out of memory for %u streams", n);
    d->nr_streams = n;
    for (unsigned int i = 0; i < n; i++) {
        d->streams[i].run = malloc((size_t)RUN_PAGES * MIG_PAGE_SIZE);
        if (!d->streams[i].run) {
            for (unsigned int j = 0; j < i; j++)
                free(d->streams[j].run);
            free(d->streams);
            d->streams = NULL;
            d->nr_streams = 0;
            return mig_error_set(MIG_ENOMEM, "out of memory for the runs of %u streams", n);
        }
        streams[i].priv = &d->streams[i];
    }
    return 0;
}

/* The runs go out (a failure is restore_state's to report); the blocks'
 * unused slots stay known until then. */
static void md_close_streams(void *backend, struct mig_stream_ctx *streams, unsigned int n)
{
    struct mig_mapped_dest *d = of(backend);
    int rc = flush_runs(d);

    if (rc && !d->run_rc) {
        d->run_rc = rc;
        snprintf(d->run_error, sizeof(d->run_error), "%s", mig_error_last());
    }
    for (unsigned int i = 0; i < d->nr_streams; i++) {
        free(d->streams[i].run);
        d->streams[i].run = NULL;
    }
    for (unsigned int i = 0; i < n; i++)
        streams[i].priv = NULL;
}

/* Between epochs: the runs go out, then start writing back what the epoch
 * wrote, so that the flush at the switchover has less to do. */
static int md_epoch_applied(void *backend)
{
    struct mig_mapped_dest *d = of(backend);
    int rc = flush_runs(d);

    if (!rc)
        (void)sync_file_range(d->file.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    return rc;
}

/*
 * The slots the streams took but did not use (their blocks' ends) get the
 * pages of the last slots, so slots [0, used) are all used: the count of
 * slots after it.  The runs are written; no stream thread runs.
 */
static int compact_slots(struct mig_mapped_dest *d, uint64_t *slots_out)
{
    uint64_t taken = atomic_load(&d->next_slot), unused = 0, used, *holes = NULL;
    uint64_t nr_holes = 0, moved = 0;
    uint8_t page[MIG_PAGE_SIZE];
    unsigned int type;
    int rc = 0;

    for (unsigned int i = 0; i < d->nr_streams; i++)
        unused += d->streams[i].end - d->streams[i].next;
    used = taken - unused;
    *slots_out = used;
    if (!unused)
        return 0;
    holes = malloc(unused * sizeof(*holes));
    if (!holes)
        return mig_error_set(MIG_ENOMEM, "out of memory to compact the save file");
    for (unsigned int i = 0; i < d->nr_streams; i++)
        for (uint64_t h = d->streams[i].next; h < d->streams[i].end; h++)
            if (h < used)
                holes[nr_holes++] = h;
    for (uint64_t pfn = 0; pfn < d->nr_pfns && !rc; pfn++) {
        uint64_t state = d->pfn_state[pfn], slot = (state & PFN_SLOT_MASK) - 1;

        if (!(state & PFN_SLOT_MASK) || slot < used)
            continue;
        if (moved == nr_holes) {
            rc = mig_error_set(MIG_EINVAL, "the save file '%s': more slots past %" PRIu64
                               " than unused ones before it", d->file.path, used);
            break;
        }
        /* the runs are written: the page is read from the file (zeros for
         * a pfn whose page turned zero: its slot's bytes are not read) */
        rc = md_read_page(d, NULL, pfn, page, &type);
        if (!rc)
            rc = write_slots(d, page, 1, holes[moved], pfn);
        d->pfn_state[pfn] = (state & ~PFN_SLOT_MASK) | (holes[moved++] + 1);
    }
    free(holes);
    return rc;
}

/* The entries buffered in an index chunk go out at *written past offset. */
struct index_chunk {
    uint8_t *buf;
    uint64_t count;             /* entries in buf */
    uint64_t written;           /* bytes of the index written so far */
    XXH3_state_t *checksum;
};

static int flush_index_chunk(struct mig_mapped_dest *d, struct index_chunk *c,
                             uint64_t offset)
{
    uint64_t len = c->count * MAPPED_ENTRY_SIZE;
    int rc;

    XXH3_64bits_update(c->checksum, c->buf, len);
    rc = mig_pwrite_all(d->file.fd, c->buf, len, (off_t)(offset + c->written), WRITE_ERROR,
                        d->file.path, "the index", offset + c->written);
    c->written += len;
    c->count = 0;
    return rc;
}

/*
 * Write the index (a 24-byte entry per pfn that has a page, ascending) at
 * offset, in chunks; its count and section, and the memory digest of what
 * the file holds, into d->sb.
 */
static int write_index(struct mig_mapped_dest *d, uint64_t offset)
{
    enum { CHUNK = 4096 };
    struct index_chunk c = { .buf = malloc((size_t)CHUNK * MAPPED_ENTRY_SIZE),
                             .checksum = XXH3_createState() };
    uint64_t entries = 0, sum = 0;
    int rc = 0;

    if (!c.buf || !c.checksum) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory for the save file's index");
        goto out;
    }
    XXH3_64bits_reset(c.checksum);
    for (uint64_t pfn = 0; pfn < d->nr_pfns && !rc; pfn++) {
        uint64_t state = d->pfn_state[pfn], slot = state & PFN_SLOT_MASK;
        struct mig_mapped_entry e = {
            .pfn = pfn, .type = (unsigned int)(state >> PFN_TYPE_SHIFT) & 0xf,
            .zero = (state & PFN_ZERO) != 0, .hash = d->pfn_hash[pfn],
            .slot = slot ? slot - 1 : MIG_MAPPED_NO_SLOT,
        };

        if (!(state & PFN_PRESENT))
            continue;
        sum += mig_memory_digest_term(pfn, mig_page_key(e.hash, e.type));
        mapped_entry_encode(&e, c.buf + c.count * MAPPED_ENTRY_SIZE);
        entries++;
        if (++c.count == CHUNK)
            rc = flush_index_chunk(d, &c, offset);
    }
    if (!rc && c.count)
        rc = flush_index_chunk(d, &c, offset);
    d->sb.nr_entries = entries;
    d->sb.section[MAPPED_INDEX] = (struct mig_mapped_section){
        offset, entries * MAPPED_ENTRY_SIZE, XXH3_64bits_digest(c.checksum) };
    d->sb.digest = mig_memory_digest_finish(sum, d->nr_pfns);
out:
    XXH3_freeState(c.checksum);
    free(c.buf);
    return rc;
}

/* The tail (device state), the index and the superblock, then flush. */
static int md_restore_state(void *backend, const void *state, size_t len)
{
    struct mig_mapped_dest *d = of(backend);
    uint64_t slots, tail_offset, end;
    uint8_t sb_buf[MAPPED_SUPERBLOCK_SIZE];
    int rc;

    if (!d->pfn_state || d->state_written)
        return mig_error_set(MIG_EINVAL, "the save file '%s' got its state %s",
                             d->file.path, d->pfn_state ? "twice" : "before prepare");
    if (len > MAPPED_MAX_BLOB)
        return mig_error_set(MIG_ELIMIT, "a device state of %zu bytes: a save file holds "
                             "at most %" PRIu64, len, MAPPED_MAX_BLOB);
    if (d->run_rc)
        return mig_error_set(d->run_rc, "%s", d->run_error);
    rc = flush_runs(d);
    if (!rc)
        rc = compact_slots(d, &slots);
    if (rc)
        return rc;
    tail_offset = d->pages_offset + slots * MIG_PAGE_SIZE;
    rc = mig_pwrite_all(d->file.fd, state, len, (off_t)tail_offset, WRITE_ERROR,
                        d->file.path, "the tail", tail_offset);
    if (!rc)
        rc = write_index(d, mapped_index_offset(tail_offset + len));
    /* the moved pages' old places lay past the index: cut them off */
    end = d->sb.section[MAPPED_INDEX].offset + d->sb.section[MAPPED_INDEX].length;
    if (!rc && ftruncate(d->file.fd, (off_t)end) && errno != EINVAL)
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot cut the save file '%s' at offset "
                                 "%" PRIu64, d->file.path, end);
    if (rc)
        return rc;
    snprintf(d->sb.family, sizeof(d->sb.family), "%s", d->family);
    d->sb.nr_pfns = d->nr_pfns;
    d->sb.nr_slots = slots;
    d->sb.section[MAPPED_PROLOGUE] = (struct mig_mapped_section){
        MAPPED_SUPERBLOCK_SIZE, d->prologue_len, d->prologue_checksum };
    d->sb.section[MAPPED_PAGES] = (struct mig_mapped_section){
        d->pages_offset, slots * MIG_PAGE_SIZE, 0 };
    d->sb.section[MAPPED_TAIL] = (struct mig_mapped_section){
        tail_offset, len, mapped_checksum(state, len) };
    d->sb.complete = false;         /* resume writes the marker, last */
    mapped_superblock_encode(&d->sb, sb_buf);
    rc = mig_pwrite_all(d->file.fd, sb_buf, sizeof(sb_buf), 0, WRITE_ERROR, d->file.path,
                        "the superblock", (uint64_t)0);
    if (!rc && fdatasync(d->file.fd) && errno != EINVAL && errno != EROFS)
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot flush the save file '%s'",
                                 d->file.path);
    if (!rc)
        d->state_written = true;
    return rc;
}

/*
 * "go": the source verified the memory against what we read back, so the
 * file is complete: the marker, then the file in place.  A file that
 * cannot be put in place is MIG_EABSENT: the guest runs nowhere here, so
 * the source keeps it.
 */
static int md_resume(void *backend)
{
    struct mig_mapped_dest *d = of(backend);
    int rc;

    if (!d->state_written)
        return mig_error_set(MIG_EABSENT, "the save file '%s' was not written whole",
                             d->file.path);
    rc = mig_pwrite_all(d->file.fd, MIG_MAPPED_COMPLETE, 8, MAPPED_COMPLETE_OFFSET,
                        WRITE_ERROR, d->file.path, "the complete marker",
                        (uint64_t)MAPPED_COMPLETE_OFFSET);
    if (!rc)
        rc = mig_whole_file_commit(&d->file, "the save file");
    return rc ? MIG_EABSENT : 0;    /* a saved guest runs nowhere */
}

/* The table; its name, "<family>-destination", is set per destination. */
static const struct mig_destination_ops mapped_ops = {
    .accept_prologue = md_accept_prologue,
    .prepare = md_prepare,
    .open_streams = md_open_streams,
    .close_streams = md_close_streams,
    .write_page = md_write_page,
    .read_page = md_read_page,
    .epoch_applied = md_epoch_applied,
    .restore_state = md_restore_state,
    .resume = md_resume,
};

/* A family as the superblock keeps it: 1 to 8 lower-case letters or digits. */
static bool family_ok(const char *family)
{
    size_t len = family ? strlen(family) : 0;

    if (!len || len > MAPPED_FAMILY_SIZE)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((family[i] >= 'a' && family[i] <= 'z') || (family[i] >= '0' && family[i] <= '9')))
            return false;
    return true;
}

int mig_mapped_dest_open(const struct mig_mapped_dest_options *opts,
                         struct mig_mapped_dest **dest_out)
{
    struct mig_mapped_dest *d;
    int rc;

    *dest_out = NULL;
    if (!opts || opts->version != MIG_MAPPED_DEST_OPTIONS_VERSION)
        return mig_error_set(MIG_EINVAL, "mapped destination options version %u is not "
                             "%u: initialise them with MIG_MAPPED_DEST_OPTIONS_INIT",
                             opts ? opts->version : 0, MIG_MAPPED_DEST_OPTIONS_VERSION);
    if (!opts->path || !family_ok(opts->family))
        return mig_error_set(MIG_EINVAL, "a mapped save file needs a path and a backend "
                             "family of 1 to 8 lower-case letters or digits ('sim', "
                             "'xen'), not '%s'", opts->family ? opts->family : "(none)");
    d = calloc(1, sizeof(*d));
    if (!d)
        return mig_error_set(MIG_ENOMEM, "out of memory for a mapped destination");
    snprintf(d->family, sizeof(d->family), "%s", opts->family);
    snprintf(d->name, sizeof(d->name), "%s-destination", opts->family);
    d->ops = mapped_ops;
    d->ops.name = d->name;
    d->prologue_checksum = mapped_checksum("", 0);     /* until one comes */
    d->preflight = opts->preflight;
    d->preflight_arg = opts->preflight_arg;
    rc = mig_whole_file_open(&d->file, opts->path, 0600, "the save file");
    if (rc) {
        free(d);
        return rc;
    }
    *dest_out = d;
    return 0;
}

const struct mig_destination_ops *mig_mapped_dest_ops(const struct mig_mapped_dest *dest)
{
    return &dest->ops;
}

uint64_t mig_mapped_dest_digest(const struct mig_mapped_dest *dest)
{
    return dest && dest->state_written ? dest->sb.digest : 0;
}

const char *mig_mapped_dest_metadata(const struct mig_mapped_dest *dest)
{
    return dest ? dest->meta : NULL;
}

void mig_mapped_dest_close(struct mig_mapped_dest *d)
{
    if (!d)
        return;
    mig_whole_file_discard(&d->file);     /* a no-op once put in place */
    for (unsigned int i = 0; i < d->nr_streams; i++)
        free(d->streams[i].run);
    free(d->streams);
    free(d->pfn_state);
    free(d->pfn_hash);
    free(d->meta);
    free(d);
}
