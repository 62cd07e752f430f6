/*
 * replay.c: a save file fed to a destination of the engine
 * (mig_savefile.h): the mapped format (mig_mapped_replay) and the sim's
 * sequential file (mig_sim_save_replay), through the destination's own
 * table, as mig_migrate_receive drives it, with threads in place of the
 * data streams.  And what a file is, by its first bytes.
 *
 * It must never call the destination before the whole file was checked
 * (a file cut short or damaged starts nothing), but for warm_up (which
 * creates nothing, and only after the file's layout was checked), and
 * never resume the destination after a failure.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mig_clock.h"
#include "mig_stream.h"
#include "mig_xfer.h"
#include "savefile/savefile_private.h"
#include "sys/mig_backend.h"
#include "util/io.h"
#include "util/le.h"

int mig_savefile_sniff(const char *path, enum mig_savefile_format *format_out)
{
    uint8_t prefix[32];
    enum mig_stream_format stream;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t got;

    *format_out = MIG_SAVEFILE_UNKNOWN;
    if (fd < 0)
        return mig_error_set_errno(MIG_EIO, errno, "cannot open save file '%s'", path);
    got = mig_pread_full(fd, prefix, sizeof(prefix), 0);
    close(fd);
    if (got < 0)
        return mig_error_set_errno(MIG_EIO, errno, "cannot read save file '%s'", path);
    if (got >= 8 && !memcmp(prefix, MIG_MAPPED_MAGIC, 8))
        *format_out = MIG_SAVEFILE_MAPPED;
    else if (got >= 16 && !memcmp(prefix, MIG_SIM_SAVE_MAGIC, 16))
        *format_out = MIG_SAVEFILE_SIM;
    else if (!mig_stream_sniff(prefix, (size_t)got, &stream))
        *format_out = MIG_SAVEFILE_XL;
    return 0;
}

/* ---- driving a destination ---- */

struct replay {
    const char *path;
    const struct mig_destination_ops *ops;
    void *be;
    const struct mig_replay_options *opts;
    struct mig_replay_result *result;
    double start;
    enum mig_replay_phase phase;
    uint64_t total;                 /* pages of the phase */
    struct mig_stream_ctx *ctx;     /* a context per thread */
    /* what the file gave */
    const char *family;
    const void *prologue, *tail;
    size_t prologue_len, tail_len;
    /* the pages of the phase, by the walk's threads (tick: report) */
    int (*pages)(struct replay *r, struct walk *w);
    void *source;
    _Atomic uint64_t zero_pages;    /* the sim file's, as its threads find them */
};

/* Report the phase's progress; a callback's non-zero answer cancels. */
static int report(struct replay *r, uint64_t done)
{
    struct mig_replay_progress p = { r->phase, done, r->total,
                                     mig_clock_seconds() - r->start };

    if (!r->opts->progress || !r->opts->progress(&p, r->opts->progress_payload))
        return 0;
    return mig_error_set(MIG_ECANCELLED, "the restore of save file '%s' was cancelled "
                         "%s", r->path, r->phase == MIG_REPLAY_VERIFY
                         ? "while the file was checked: nothing was started"
                         : "while its pages were written: the guest was not resumed");
}

static int tick(struct walk *w)
{
    return report(w->tick_arg, atomic_load(&w->done));
}

/* The phase with its reports before and after. */
static int run_phase(struct replay *r, enum mig_replay_phase phase, uint64_t total)
{
    struct walk w = { .threads = r->result->threads, .tick = tick, .tick_arg = r };
    int rc;

    r->phase = phase;
    r->total = total;
    rc = report(r, 0);
    if (!rc)
        rc = r->pages(r, &w);
    if (!rc)
        rc = report(r, total);
    return rc;
}

/* What the engine's hello checks: the family, and a prologue it can take. */
static int check_destination(struct replay *r)
{
    size_t family = strcspn(r->ops->name, "-");

    if (strlen(r->family) != family || strncmp(r->family, r->ops->name, family))
        return mig_error_set(MIG_ECOMPAT, "save file '%s' holds a '%s' guest, this "
                             "destination takes '%.*s' guests: restore it into one of "
                             "its family", r->path, r->family, (int)family, r->ops->name);
    if (r->prologue_len && !r->ops->accept_prologue)
        return mig_error_set(MIG_ECOMPAT, "save file '%s' has a prologue, which this '%s' "
                             "cannot take", r->path, r->ops->name);
    return 0;
}

/* Prepare the destination and its contexts (freed by the caller). */
static int open_destination(struct replay *r, uint64_t nr_pfns)
{
    const struct mig_destination_ops *ops = r->ops;
    int rc = 0;

    if (r->prologue_len)
        rc = ops->accept_prologue(r->be, r->prologue, r->prologue_len);
    if (!rc && ops->prepare)
        rc = ops->prepare(r->be, nr_pfns);
    if (rc)
        return rc;
    r->ctx = calloc(r->result->threads, sizeof(*r->ctx));
    if (!r->ctx)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    for (unsigned int i = 0; i < r->result->threads; i++)
        r->ctx[i].index = i;
    if (ops->open_streams) {
        rc = ops->open_streams(r->be, r->ctx, r->result->threads);
        if (rc) {
            free(r->ctx);           /* open_streams released what it set */
            r->ctx = NULL;
        }
    }
    return rc;
}

/* Seconds since *mark, which moves to now. */
static double lap(double *mark)
{
    double now = mig_clock_seconds(), since = now - *mark;

    *mark = now;
    return since;
}

/*
 * Everything after the file was checked: the destination's calls in the
 * engine's order; the pages from r->pages.  Nothing is resumed on failure.
 */
static int drive(struct replay *r, uint64_t nr_pfns, uint64_t pages)
{
    const struct mig_destination_ops *ops = r->ops;
    struct mig_replay_result *res = r->result;
    double start = mig_clock_seconds(), mark = start;
    int rc;

    res->started = true;
    rc = open_destination(r, nr_pfns);
    res->open_seconds = lap(&mark);
    if (!rc)
        rc = run_phase(r, MIG_REPLAY_PAGES, pages);
    if (r->ctx && ops->close_streams)
        ops->close_streams(r->be, r->ctx, res->threads);
    free(r->ctx);
    r->ctx = NULL;
    res->pages_seconds = lap(&mark);
    if (!rc) {
        rc = ops->restore_state(r->be, r->tail, r->tail_len);
        res->state_seconds = lap(&mark);
    }
    if (!rc) {
        rc = ops->resume(r->be);
        res->resume_seconds = lap(&mark);
    }
    res->replay_seconds = mig_clock_seconds() - start;
    return rc;
}

static int begin(struct replay *r, unsigned int threads)
{
    static const struct mig_replay_options defaults = MIG_REPLAY_OPTIONS_INIT;

    memset(r->result, 0, sizeof(*r->result));
    r->start = mig_clock_seconds();
    r->result->threads = threads;
    if (!r->opts)
        r->opts = &defaults;
    if (r->opts->version != MIG_REPLAY_OPTIONS_VERSION)
        return mig_error_set(MIG_EINVAL, "replay options version %u is not %u: "
                             "initialise them with MIG_REPLAY_OPTIONS_INIT",
                             r->opts->version, MIG_REPLAY_OPTIONS_VERSION);
    if (!threads || threads > WALK_MAX_THREADS)
        return mig_error_set(MIG_EINVAL, "%u threads to restore save file '%s': give 1 "
                             "to %u", threads, r->path, WALK_MAX_THREADS);
    return 0;
}

/* ---- the mapped file ---- */

static int write_mapped_page(void *arg, unsigned int thread, const struct mig_mapped_entry *e,
                             const uint8_t *data)
{
    struct replay *r = arg;

    return r->ops->write_page(r->be, &r->ctx[thread], e->pfn, data, e->type);
}

/* Pages with data, unread, to a destination that takes them from the file. */
static int write_mapped_run(void *arg, unsigned int thread, int fd, uint64_t offset,
                            const uint64_t *pfns, const unsigned int *types, unsigned int n)
{
    struct replay *r = arg;

    return r->ops->write_file_pages(r->be, &r->ctx[thread], fd, offset, pfns, types, n);
}

static int mapped_pages(struct replay *r, struct walk *w)
{
    bool writing = r->phase == MIG_REPLAY_PAGES;
    struct mapped_walk mw = {
        .file = r->source, .zero_too = writing,
        .page = writing ? write_mapped_page : mapped_verify_page,
        .run = writing && r->ops->write_file_pages ? write_mapped_run : NULL,
        .arg = writing ? (void *)r : r->source,
    };
    int rc = mapped_walk_run(w, &mw);

    if (r->phase == MIG_REPLAY_PAGES)
        r->result->pages = atomic_load(&w->done);
    return rc;
}

int mig_mapped_replay(const char *path, const struct mig_destination_ops *ops, void *be,
                      unsigned int threads, const struct mig_replay_options *opts,
                      struct mig_replay_result *result)
{
    struct mig_mapped_file *f = NULL;
    int rc;

    memset(result, 0, sizeof(*result));
    rc = mig_mapped_file_open(path, &f);
    if (!rc)
        rc = mig_mapped_replay_file(f, ops, be, threads, opts, result);
    mig_mapped_file_close(f);
    return rc;
}

int mig_mapped_replay_file(struct mig_mapped_file *f, const struct mig_destination_ops *ops,
                           void *be, unsigned int threads,
                           const struct mig_replay_options *opts,
                           struct mig_replay_result *result)
{
    struct replay r = { .path = f->name, .ops = ops, .be = be, .opts = opts,
                        .result = result, .pages = mapped_pages };
    struct mig_mapped_info info;
    int rc = begin(&r, threads);

    if (rc)
        return rc;
    mig_mapped_file_info(f, &info);
    r.source = f;
    r.family = info.family;
    r.prologue = mig_mapped_file_prologue(f, &r.prologue_len);
    r.tail = mig_mapped_file_tail(f, &r.tail_len);
    result->nr_pfns = info.nr_pfns;
    result->zero_pages = info.nr_zero;
    result->memory_digest = info.memory_digest;
    rc = check_destination(&r);
    /* what is slow to start starts while the pages are checked */
    if (!rc && r.prologue_len && ops->warm_up) {
        result->warm_up_called = true;
        rc = ops->warm_up(be, r.prologue, r.prologue_len);
    }
    if (!rc)
        rc = run_phase(&r, MIG_REPLAY_VERIFY, info.nr_entries - info.nr_zero);
    result->verify_seconds = mig_clock_seconds() - r.start;
    if (!rc)
        rc = drive(&r, info.nr_pfns, info.nr_entries);
    return rc;
}

/* ---- the sim's sequential file ---- */

#define SIM_HEADER_SIZE 32u

struct sim_file {
    int fd;
    uint64_t nr_pfns, pages_offset;
    uint8_t *state;
    size_t state_len;
};

/* Check the header and the size against it, and read the state. */
static int open_sim_file(struct replay *r, struct sim_file *s)
{
    uint8_t head[SIM_HEADER_SIZE];
    struct stat st;
    uint64_t end;
    ssize_t got = mig_pread_full(s->fd, head, sizeof(head), 0);

    if (got < 0 || fstat(s->fd, &st))
        return mig_error_set_errno(MIG_EIO, errno, "cannot read save file '%s'", r->path);
    if (got < 16 || memcmp(head, MIG_SIM_SAVE_MAGIC, 16))
        return mig_error_set(MIG_EFORMAT, "save file '%s' at offset 0: no magic \"%s\": it "
                             "is not a simulated guest's save file", r->path,
                             MIG_SIM_SAVE_MAGIC);
    if ((size_t)got < sizeof(head))
        return mig_error_set(MIG_ETRUNC, "save file '%s' ends at offset %zd in its header, "
                             "which runs to offset %u: the file was cut short (a copy "
                             "that did not finish?); use a whole copy", r->path, got,
                             SIM_HEADER_SIZE);
    s->nr_pfns = mig_le64_load(head + 16);
    s->state_len = (size_t)mig_le64_load(head + 24);
    if (!s->nr_pfns || s->nr_pfns > MAPPED_MAX_PFNS || mig_le64_load(head + 24) > MAPPED_MAX_BLOB)
        return mig_error_set(MIG_EFORMAT, "save file '%s' at offset 16: %" PRIu64 " pfns and "
                             "a state of %" PRIu64 " bytes: the file holds 1 to 2^36 pfns "
                             "and at most %" PRIu64 " bytes of state", r->path, s->nr_pfns,
                             mig_le64_load(head + 24), MAPPED_MAX_BLOB);
    s->pages_offset = SIM_HEADER_SIZE + s->state_len;
    end = s->pages_offset + s->nr_pfns * MIG_PAGE_SIZE;
    if ((uint64_t)st.st_size < end)
        return mig_error_set(MIG_ETRUNC, "save file '%s' ends at offset %" PRIu64 ", its "
                             "%s run to offset %" PRIu64 " (%" PRIu64 " bytes missing): the "
                             "file was cut short (a copy that did not finish?); use a "
                             "whole copy", r->path, (uint64_t)st.st_size,
                             (uint64_t)st.st_size < s->pages_offset ? "state and pages"
                                                                    : "pages",
                             end, end - (uint64_t)st.st_size);
    if ((uint64_t)st.st_size > end)
        return mig_error_set(MIG_EFORMAT, "save file '%s' has %" PRIu64 " bytes after its "
                             "last page at offset %" PRIu64 ": the file is damaged", r->path,
                             (uint64_t)st.st_size - end, end);
    s->state = malloc(s->state_len ? s->state_len : 1);
    if (!s->state)
        return mig_error_set(MIG_ENOMEM, "out of memory for the state of save file '%s'",
                             r->path);
    got = mig_pread_full(s->fd, s->state, s->state_len, SIM_HEADER_SIZE);
    if (got != (ssize_t)s->state_len)
        return mig_error_set_errno(MIG_EIO, got < 0 ? errno : EIO, "cannot read the state "
                                   "of save file '%s' at offset %u", r->path,
                                   SIM_HEADER_SIZE);
    return 0;
}

/* Thread t's share of the pfns, a chunk per pread, zero pages without data. */
static int sim_work(struct walk *w, unsigned int t)
{
    struct replay *r = w->arg;
    struct sim_file *s = r->source;
    uint8_t *buf = malloc((size_t)WALK_CHUNK_PAGES * MIG_PAGE_SIZE);
    uint64_t first, end, zero_pages = 0;
    int rc = 0;

    if (!buf)
        return mig_error_set(MIG_ENOMEM, "out of memory to read save file '%s'", r->path);
    walk_share(s->nr_pfns, t, w->threads, &first, &end);
    for (uint64_t p = first; p < end && !rc && !atomic_load(&w->stop); ) {
        uint64_t n = end - p < WALK_CHUNK_PAGES ? end - p : WALK_CHUNK_PAGES;
        uint64_t offset = s->pages_offset + p * MIG_PAGE_SIZE;
        ssize_t got = mig_pread_full(s->fd, buf, (size_t)(n * MIG_PAGE_SIZE), (off_t)offset);

        if (got != (ssize_t)(n * MIG_PAGE_SIZE))
            rc = mig_error_set_errno(MIG_EIO, got < 0 ? errno : EIO, "cannot read save file "
                                     "'%s' at offset %" PRIu64, r->path, offset);
        for (uint64_t k = 0; k < n && !rc; k++) {
            const uint8_t *page = buf + k * MIG_PAGE_SIZE;
            bool zero = mig_xfer_page_is_zero(page);

            zero_pages += zero;
            rc = r->ops->write_page(r->be, &r->ctx[t], p + k, zero ? NULL : page, 0);
        }
        atomic_fetch_add(&w->done, n);
        p += n;
    }
    atomic_fetch_add(&r->zero_pages, zero_pages);
    free(buf);
    return rc;
}

static int sim_pages(struct replay *r, struct walk *w)
{
    int rc;

    w->work = sim_work;
    w->arg = r;
    rc = walk_run(w);
    r->result->pages = atomic_load(&w->done);
    r->result->zero_pages = atomic_load(&r->zero_pages);
    return rc;
}

int mig_sim_save_replay(const char *path, const struct mig_destination_ops *ops, void *be,
                        unsigned int threads, const struct mig_replay_options *opts,
                        struct mig_replay_result *result)
{
    struct replay r = { .path = path, .ops = ops, .be = be, .opts = opts,
                        .result = result, .pages = sim_pages, .family = "sim" };
    struct sim_file s = { .fd = -1 };
    int rc = begin(&r, threads);

    if (rc)
        return rc;
    s.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s.fd < 0)
        return mig_error_set_errno(MIG_EIO, errno, "cannot open save file '%s'", path);
    rc = open_sim_file(&r, &s);
    result->verify_seconds = mig_clock_seconds() - r.start;
    result->nr_pfns = s.nr_pfns;
    r.source = &s;
    r.tail = s.state;
    r.tail_len = s.state_len;
    if (!rc)
        rc = check_destination(&r);
    if (!rc)
        rc = drive(&r, s.nr_pfns, s.nr_pfns);
    free(s.state);
    close(s.fd);
    return rc;
}
