#include "config.h"
/*
 * destination.c: the Xen backend's destination (mig_xen.h).  No domain is
 * built here: the stream head from the prologue, the pages of the N data
 * streams (as libxc PAGE_DATA records) and the tail from the state block
 * are merged into one standard xl migration stream and written to Xen's
 * stock `xl migrate-receive` (the first copy of an all-zero page as an
 * allocate-only XALLOC entry: see written), whose migration handshake is
 * spoken here (banner, "ready to unpause", the go message, the report
 * byte).  A save file's pages (write_file_pages) go from the file's cache
 * into xl's pipe by splice(), not through this process.
 *
 * It must never tell xl to unpause before the engine's resume (that is,
 * before the source said "go"), never leave the receiver behind (close
 * ends it, with a time limit, and reaps it), and never die of SIGPIPE when
 * the receiver dies: a write to a dead receiver is an error saying so.
 *
 * Saving (options' save_path), no xl runs: the same merged stream is an xl
 * save file, written to a temporary file beside the target and renamed
 * into place on the go, never before; the source keeps its domain until
 * then.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <xentoollog.h>

#include "mig_clock.h"
#include "mig_stream.h"
#include "mig_xen.h"
#include "sys/mig_backend.h"
#include "util/file.h"
#include "util/io.h"

extern char **environ;

/* xl's migration handshake (tools/xl/xl_migrate.c, Xen 4.17). */
static const char xl_banner[] = "xl migration receiver ready, send binary domain data.\n";
static const char xl_ready[] = "domain received, ready to unpause";      /* + NUL */
static const char xl_go[] = "domain is yours, you are cleared to unpause"; /* + NUL */
static const char xl_report[] = "my copy unpause results are as follows";  /* + NUL, rc */

/* Time limits for the receiver's answers. */
#define BANNER_TIMEOUT_MS   30000     /* xl starts and greets */
#define READY_TIMEOUT_MS    600000    /* xl finishes the restore after the tail */
#define REPORT_TIMEOUT_MS   120000    /* xl unpauses (or destroys) the domain */
#define EXIT_WAIT_MS        30000     /* xl destroys its copy and exits */
#define TERM_WAIT_MS        5000      /* after SIGTERM, before SIGKILL */

#define BATCH_PAGES   MIG_STREAM_PAGE_DATA_MAX_PFNS
#define TO_CHILD_PIPE_BYTES (1 << 20)   /* the default pipe-max-size */
#define SEEN_SLOTS    (2 * BATCH_PAGES)      /* open addressing, power of two */
#define SEEN_EMPTY    UINT64_MAX

/* One stream's pages not yet written (its context's priv): one PAGE_DATA
 * record. */
struct page_batch {
    struct page_batch *next;         /* in the destination's registry */
    uint32_t count;                  /* pfns (words) */
    uint32_t data_count;             /* of which carry data (pages) */
    uint64_t words[BATCH_PAGES];     /* pfn | page type << 60 */
    struct iovec pages[BATCH_PAGES];
    uint8_t *data;                   /* BATCH_PAGES pages */
    uint64_t seen[SEEN_SLOTS];       /* pfns in the batch (a second copy flushes) */
};

struct mig_xen_dest {
    xentoollog_logger *log;
    char *xl;
    bool pause_after, debug, no_monitor;
    int (*preflight)(void *arg, const char *meta_json);
    void *preflight_arg;
    char *meta;                      /* accepted prologue's metadata */
    uint64_t nr_pfns;

    pid_t child;                     /* xl migrate-receive, -1 when none */
    int to_child, from_child;
    struct mig_whole_file capture;  /* --capture: put in place once started;
                                       saving: the save file */
    const char *sink;               /* what capture is, in errors */
    bool saving;                    /* no xl: the stream goes to the save file */
    bool head_sent;                 /* the prologue passed and its head is written */
    bool warmed;                    /* warm_up checked the prologue and started xl */
    bool started;                   /* xl migrate-receive started the domain (or
                                       the save file is in place) */
    struct mig_stream_writer *child_writer, *capture_writer;
    pthread_mutex_t write_lock;      /* one record at a time into the stream */
    atomic_bool broken;              /* a write failed: the stream is dead */
    bool go_sent;

    pthread_mutex_t batches_lock;
    struct page_batch *batches;
    /*
     * One bit per pfn: written to xl's stream before.  The first copy of
     * an all-zero plain page goes as XALLOC, without data: libxc's restore
     * populates it and Xen hands out zeroed memory, so the same page
     * results without xl mapping and copying 4 KiB of zeros.  A later zero
     * copy must overwrite what an earlier one left, so it carries data.
     */
    _Atomic uint64_t *written;
    atomic_uint_fast64_t alloc_only;   /* pages sent as XALLOC */
};

static const uint8_t zero_page[MIG_PAGE_SIZE];

static void dest_log(struct mig_xen_dest *d, xentoollog_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void dest_log(struct mig_xen_dest *d, xentoollog_level level, const char *fmt, ...)
{
    va_list ap;

    if (!d->log)
        return;
    va_start(ap, fmt);
    xtl_logv(d->log, level, -1, "xen-destination", fmt, ap);
    va_end(ap);
}

/* Printable rendering of bytes the receiver sent, for error messages. */
static void quote_bytes(char *out, size_t out_size, const uint8_t *bytes, size_t len)
{
    size_t o = 0;

    for (size_t i = 0; i < len && o + 5 < out_size; i++) {
        if (bytes[i] >= 0x20 && bytes[i] < 0x7f && bytes[i] != '"' && bytes[i] != '\\')
            out[o++] = (char)bytes[i];
        else
            o += (size_t)snprintf(out + o, out_size - o, "\\x%02x", bytes[i]);
    }
    out[o] = '\0';
}

/*
 * Read exactly len bytes from the receiver within timeout_ms.  Returns the
 * bytes read (less than len at EOF), or -1 with the error set.
 */
static ssize_t read_with_limit(struct mig_xen_dest *d, void *buf, size_t len,
                               int timeout_ms, const char *what)
{
    double deadline = (double)mig_clock_ms() + timeout_ms;
    size_t got = 0;

    while (got < len) {
        struct pollfd pfd = { .fd = d->from_child, .events = POLLIN };
        double left = deadline - (double)mig_clock_ms();
        ssize_t n;
        int ready;

        if (left <= 0) {
            mig_error_set(MIG_EIO, "xl migrate-receive (pid %ld) did not send %s within "
                          "%d s: it hangs; its messages above may say why",
                          (long)d->child, what, timeout_ms / 1000);
            return -1;
        }
        ready = poll(&pfd, 1, (int)left + 1);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0) {
            mig_error_set_errno(MIG_EIO, errno, "waiting for xl migrate-receive's %s", what);
            return -1;
        }
        if (!ready)
            continue;
        n = read(d->from_child, (uint8_t *)buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            mig_error_set_errno(MIG_EIO, errno, "reading xl migrate-receive's %s", what);
            return -1;
        }
        if (!n)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* Expect exactly the message (len bytes, a NUL included where xl sends one). */
static int expect_message(struct mig_xen_dest *d, const char *message, size_t len,
                          int timeout_ms, const char *what)
{
    uint8_t buf[128];
    char shown[4 * sizeof(buf) + 1];
    ssize_t got = read_with_limit(d, buf, len, timeout_ms, what);

    if (got < 0)
        return mig_error_last_code();
    if ((size_t)got == len && !memcmp(buf, message, len))
        return 0;
    quote_bytes(shown, sizeof(shown), buf, (size_t)got);
    if ((size_t)got < len)
        return mig_error_set(MIG_EIO, "xl migrate-receive (pid %ld) closed its output "
                             "instead of sending its %s (it sent \"%s\"): it failed; "
                             "its messages above say why", (long)d->child, what, shown);
    return mig_error_set(MIG_EFORMAT, "xl migrate-receive (pid %ld) sent \"%s\" instead "
                         "of its %s: is '%s' Xen 4.17's xl?", (long)d->child, shown, what,
                         d->xl);
}

/*
 * Writes to the receiver block SIGPIPE in the calling thread; a SIGPIPE
 * raised by a failed write is consumed before the mask is restored, so
 * the process never dies of it (the write fails with EPIPE instead).
 */
struct sigpipe_guard {
    sigset_t old;
    bool was_pending;
};

static void sigpipe_block(struct sigpipe_guard *g)
{
    sigset_t set, pending;

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void sigpipe_restore(struct sigpipe_guard *g, bool failed)
{
    if (failed && !g->was_pending) {
        static const struct timespec zero = { 0, 0 };
        sigset_t set;

        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* Say that the receiver's stream broke; keeps the cause in the message. */
static int stream_broken(struct mig_xen_dest *d, int rc, const char *what)
{
    char cause[512];

    atomic_store(&d->broken, true);
    snprintf(cause, sizeof(cause), "%s", mig_error_last());
    return mig_error_set(rc, "writing %s to xl migrate-receive (pid %ld) failed (%s): it "
                         "has stopped reading; its messages above say why", what,
                         (long)d->child, cause);
}

/* Raw bytes (stream head, tail, handshake) to the receiver and the capture. */
static int send_bytes(struct mig_xen_dest *d, const void *buf, size_t len, bool capture,
                      const char *what)
{
    struct sigpipe_guard g;
    int rc;

    if (atomic_load(&d->broken))
        return mig_error_set(MIG_EIO, "the stream to xl migrate-receive (pid %ld) broke "
                             "earlier: not writing %s", (long)d->child, what);
    pthread_mutex_lock(&d->write_lock);
    sigpipe_block(&g);
    rc = d->saving ? 0 : mig_write_all(d->to_child, buf, len, 0, "write");
    sigpipe_restore(&g, rc != 0);
    if (rc)
        rc = stream_broken(d, rc, what);
    else if (capture && d->capture.fd >= 0) {
        rc = mig_write_all(d->capture.fd, buf, len, 0, "write");
        if (rc)
            rc = mig_error_set(MIG_EIO, "writing %s: %s", d->sink, mig_error_last());
    }
    pthread_mutex_unlock(&d->write_lock);
    return rc;
}

/* Write a batch as one PAGE_DATA record and empty it. */
static int flush_batch(struct mig_xen_dest *d, struct page_batch *b)
{
    struct sigpipe_guard g;
    int rc;

    if (!b->count)
        return 0;
    if (atomic_load(&d->broken))
        return mig_error_set(MIG_EIO, "the stream to xl migrate-receive (pid %ld) broke "
                             "earlier: not writing pages", (long)d->child);
    pthread_mutex_lock(&d->write_lock);
    sigpipe_block(&g);
    rc = d->saving ? 0 : mig_stream_write_page_data(d->child_writer, b->words, b->count,
                                                    b->pages, b->data_count);
    sigpipe_restore(&g, rc != 0);
    if (rc)
        rc = stream_broken(d, rc, "a PAGE_DATA record");
    else if (d->capture_writer) {
        rc = mig_stream_write_page_data(d->capture_writer, b->words, b->count, b->pages,
                                        b->data_count);
        if (rc)
            rc = mig_error_set(MIG_EIO, "writing %s: %s", d->sink, mig_error_last());
    }
    pthread_mutex_unlock(&d->write_lock);
    b->count = 0;
    b->data_count = 0;
    memset(b->seen, 0xff, sizeof(b->seen));
    return rc;
}

/* Is pfn in the batch already?  Adds it if not. */
static bool batch_seen(struct page_batch *b, uint64_t pfn)
{
    uint64_t slot = (pfn * UINT64_C(0x9e3779b97f4a7c15)) >> 53;   /* 11 bits */

    for (;; slot = (slot + 1) & (SEEN_SLOTS - 1)) {
        if (b->seen[slot] == pfn)
            return true;
        if (b->seen[slot] == SEEN_EMPTY) {
            b->seen[slot] = pfn;
            return false;
        }
    }
}

/*
 * A batch per stream, kept in the destination's registry (flushed there at
 * each epoch's end and before the tail; freed by mig_xen_dest_close).
 */
static int xd_open_streams(void *backend, struct mig_stream_ctx *streams, unsigned int n)
{
    struct mig_xen_dest *d = backend;

    for (unsigned int i = 0; i < n; i++) {
        struct page_batch *b = calloc(1, sizeof(*b));

        if (b)
            b->data = malloc((size_t)BATCH_PAGES * MIG_PAGE_SIZE);
        if (!b || !b->data) {
            free(b);
            return mig_error_set(MIG_ENOMEM, "out of memory for batch %u of %u (%u "
                                 "pages each)", i + 1, n, BATCH_PAGES);
        }
        memset(b->seen, 0xff, sizeof(b->seen));
        pthread_mutex_lock(&d->batches_lock);
        b->next = d->batches;
        d->batches = b;
        pthread_mutex_unlock(&d->batches_lock);
        streams[i].priv = b;
    }
    return 0;
}

static int flush_all_batches(struct mig_xen_dest *d)
{
    int rc = 0;

    pthread_mutex_lock(&d->batches_lock);
    for (struct page_batch *b = d->batches; b && !rc; b = b->next)
        rc = flush_batch(d, b);
    pthread_mutex_unlock(&d->batches_lock);
    return rc;
}

/*
 * Between epochs (no receiver thread is appending): write every batch out
 * and wait until xl has read the pipe dry, so nothing is queued here when
 * the source measures its link rate or stops the guest.
 */
static int xd_epoch_applied(void *backend)
{
    struct mig_xen_dest *d = backend;
    double deadline = (double)mig_clock_ms() + 600000.0;
    int rc = flush_all_batches(d), queued;

    while (!rc && !d->saving) {
        if (ioctl(d->to_child, FIONREAD, &queued) < 0)
            break;                  /* no way to tell: the flush has to do */
        if (queued <= 0)
            break;
        if ((double)mig_clock_ms() > deadline)
            return mig_error_set(MIG_EIO, "xl migrate-receive (pid %ld) has not read "
                                 "%d bytes of the stream for 600 s", (long)d->child,
                                 queued);
        usleep(1000);
    }
    return rc;
}

/* ---- the receiver process ---- */

/* Whether program (a path, or a name looked up in $PATH) can be executed. */
static bool find_program(const char *program)
{
    const char *path = getenv("PATH");
    char candidate[4096];

    if (strchr(program, '/'))
        return access(program, X_OK) == 0;
    for (const char *p = path ? path : "/usr/bin:/bin"; ; ) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);

        if (snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)len,
                     len ? p : ".", program) < (int)sizeof(candidate) &&
            access(candidate, X_OK) == 0)
            return true;
        if (!colon)
            return false;
        p = colon + 1;
    }
}

static int start_receiver(struct mig_xen_dest *d)
{
    int in_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 };
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    const char *argv[8];
    sigset_t none, pipe_only;
    unsigned int argc = 0;
    pid_t pid;
    int rc, err;

    /*
     * Find xl first: posix_spawnp's own report of a missing program is not
     * reliable everywhere (under valgrind the child just exits 127).
     */
    if (!find_program(d->xl)) {
        rc = mig_error_set(MIG_EUNSUPP, "cannot run '%s migrate-receive': '%s' is not "
                           "an executable here or on $PATH; is Xen's xl installed on "
                           "this host?", d->xl, d->xl);
        return rc;
    }
    argv[argc++] = d->xl;
    argv[argc++] = "migrate-receive";
    if (d->pause_after)
        argv[argc++] = "-p";
    if (d->debug)
        argv[argc++] = "-d";
    if (d->no_monitor)
        argv[argc++] = "-e";
    argv[argc] = NULL;

    if (pipe2(in_pipe, O_CLOEXEC) || pipe2(out_pipe, O_CLOEXEC)) {
        rc = mig_error_set_errno(MIG_EIO, errno, "creating pipes for xl migrate-receive");
        goto out;
    }
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &pipe_only);   /* we ignore it; xl need not */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    err = posix_spawnp(&pid, d->xl, &actions, &attr, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (err) {
        rc = mig_error_set_errno(MIG_EUNSUPP, err, "cannot run '%s migrate-receive': is "
                                 "Xen's xl installed on this host?", d->xl);
        goto out;
    }
    d->child = pid;
    /* A larger pipe: xl wakes once a few records, not every 64 KiB. */
    if (fcntl(in_pipe[1], F_SETPIPE_SZ, TO_CHILD_PIPE_BYTES) < 0)
        dest_log(d, XTL_DEBUG, "the pipe to xl keeps its size: %s", strerror(errno));
    d->to_child = in_pipe[1];
    d->from_child = out_pipe[0];
    in_pipe[1] = out_pipe[0] = -1;
    rc = mig_stream_writer_open_fd(&d->child_writer, d->to_child, NULL);   /* errors: ours */
    if (rc)
        goto out;
    dest_log(d, XTL_INFO, "started '%s migrate-receive%s%s' (pid %ld)", d->xl,
             d->pause_after ? " -p" : "", d->debug ? " -d" : "", (long)pid);
    rc = 0;
out:
    for (int i = 0; i < 2; i++) {
        if (in_pipe[i] >= 0)
            close(in_pipe[i]);
        if (out_pipe[i] >= 0)
            close(out_pipe[i]);
    }
    return rc;
}

/* Wait up to ms for the receiver to exit; true once reaped. */
static bool reap_within(struct mig_xen_dest *d, int ms, int *status)
{
    double deadline = (double)mig_clock_ms() + ms;

    for (;;) {
        pid_t r = waitpid(d->child, status, WNOHANG);

        if (r == d->child || (r < 0 && errno == ECHILD))
            return true;
        if ((double)mig_clock_ms() >= deadline)
            return false;
        usleep(20000);
    }
}

static void end_receiver(struct mig_xen_dest *d)
{
    int status = 0;

    /* Started by warm_up and never given a stream: it holds nothing, and
     * killed before it reads EOF it says nothing either. */
    if (d->child > 0 && d->warmed && !d->head_sent)
        kill(d->child, SIGKILL);

    if (d->to_child >= 0) {
        close(d->to_child);    /* before go: xl sees EOF and destroys its copy */
        d->to_child = -1;
    }
    if (d->child <= 0)
        return;
    if (!reap_within(d, EXIT_WAIT_MS, &status)) {
        dest_log(d, XTL_ERROR, "xl migrate-receive (pid %ld) did not exit within %d s: "
                 "terminating it%s", (long)d->child, EXIT_WAIT_MS / 1000,
                 d->go_sent ? "" : "; an incoming copy NAME--incoming may be left: "
                 "remove it with xl destroy");
        kill(d->child, SIGTERM);
        if (!reap_within(d, TERM_WAIT_MS, &status)) {
            kill(d->child, SIGKILL);
            while (waitpid(d->child, &status, 0) < 0 && errno == EINTR)
                ;
        }
    } else if (!d->go_sent)
        dest_log(d, XTL_INFO, "xl migrate-receive (pid %ld) ended without being "
                 "cleared to unpause (status %d)", (long)d->child, status);
    d->child = -1;
}

/* ---- backend operations ---- */

/* Split the prologue into d->meta and the head; the pre-flight on meta. */
static int check_prologue(struct mig_xen_dest *d, const void *blob, size_t len,
                          const void **head, size_t *head_len)
{
    int rc;

    if (d->meta || d->child > 0)
        return mig_error_set(MIG_EINVAL, "a second prologue for one Xen destination");
    rc = mig_xen_prologue_parse(blob, len, &d->meta, head, head_len);
    if (!rc && d->preflight)
        rc = d->preflight(d->preflight_arg, d->meta);  /* MIG_ECOMPAT passes through */
    return rc;
}

/* The head of the prologue warm_up checked (the same blob again). */
static int warmed_head(struct mig_xen_dest *d, const void *blob, size_t len,
                       const void **head, size_t *head_len)
{
    char *meta = NULL;
    int rc;

    if (d->head_sent)
        return mig_error_set(MIG_EINVAL, "a second prologue for one Xen destination");
    rc = mig_xen_prologue_parse(blob, len, &meta, head, head_len);
    if (!rc && strcmp(meta, d->meta))
        rc = mig_error_set(MIG_EINVAL, "the prologue differs from the one warm_up checked");
    free(meta);
    return rc;
}

/*
 * Before a save file's pages are checked: the pre-flight, and xl
 * migrate-receive started, to be ready when they are; it gets nothing
 * before accept_prologue (end_receiver kills it silently otherwise).
 */
static int xd_warm_up(void *backend, const void *blob, size_t len)
{
    struct mig_xen_dest *d = backend;
    const void *head;
    size_t head_len;
    int rc = check_prologue(d, blob, len, &head, &head_len);

    if (!rc && !d->saving)
        rc = start_receiver(d);
    d->warmed = !rc;
    return rc;
}

static int xd_accept_prologue(void *backend, const void *blob, size_t len)
{
    struct mig_xen_dest *d = backend;
    const void *head;
    size_t head_len;
    int rc;

    if (d->warmed)
        rc = warmed_head(d, blob, len, &head, &head_len);
    else {
        rc = check_prologue(d, blob, len, &head, &head_len);
        if (!rc && !d->saving)
            rc = start_receiver(d);
    }
    if (!rc && !d->saving)
        rc = expect_message(d, xl_banner, sizeof(xl_banner) - 1, BANNER_TIMEOUT_MS,
                            "banner");
    if (!rc)
        rc = send_bytes(d, head, head_len, true, "the stream head");
    d->head_sent = !rc;
    return rc;
}

static int xd_prepare(void *backend, uint64_t nr_pfns)
{
    struct mig_xen_dest *d = backend;

    if (!d->head_sent)
        return mig_error_set(MIG_ECOMPAT, "the source sent no Xen prologue: it is not a "
                             "xenmig Xen source (or an older version)");
    if (d->written)
        return mig_error_set(MIG_EINVAL, "a second prepare for one Xen destination");
    d->written = calloc((size_t)(nr_pfns + 63) / 64, sizeof(*d->written));
    if (!d->written)
        return mig_error_set(MIG_ENOMEM, "out of memory for the written-page map of %"
                             PRIu64 " pfns", nr_pfns);
    d->nr_pfns = nr_pfns;
    return 0;
}

/* A pfn and type that Xen's stream can carry with data. */
static int check_page(uint64_t pfn, unsigned int type)
{
    if (pfn > MIG_STREAM_PFN_MASK)
        return mig_error_set(MIG_EFORMAT, "pfn %#" PRIx64 " is beyond the stream's 52 "
                             "bits", pfn);
    if (!mig_stream_page_type_has_data(type))
        return mig_error_set(MIG_EFORMAT, "pfn %#" PRIx64 " came with page type %#x, a "
                             "type that carries no data in Xen's stream: the source "
                             "must not send such a page", pfn, type);
    return 0;
}

static int xd_write_page(void *backend, struct mig_stream_ctx *st, uint64_t pfn,
                         const void *data, unsigned int type)
{
    struct mig_xen_dest *d = backend;
    struct page_batch *b = st->priv;
    int rc = check_page(pfn, type);

    if (rc)
        return rc;
    if (batch_seen(b, pfn)) {
        /* An older copy of this pfn is in the batch: it goes out first. */
        rc = flush_batch(d, b);
        if (rc)
            return rc;
        batch_seen(b, pfn);
    }
    uint8_t *page = b->data + (size_t)b->data_count * MIG_PAGE_SIZE;
    bool first = pfn < d->nr_pfns && d->written &&
                 !(atomic_fetch_or(&d->written[pfn / 64], UINT64_C(1) << (pfn % 64)) &
                   (UINT64_C(1) << (pfn % 64)));

    if (!data && first && type == MIG_STREAM_PAGE_NOTAB) {
        type = MIG_STREAM_PAGE_XALLOC;
        atomic_fetch_add(&d->alloc_only, 1);
    } else if (data) {
        memcpy(page, data, MIG_PAGE_SIZE);
        b->pages[b->data_count++] = (struct iovec){ page, MIG_PAGE_SIZE };
    } else
        b->pages[b->data_count++] = (struct iovec){ (void *)zero_page, MIG_PAGE_SIZE };
    b->words[b->count] = pfn | (uint64_t)type << MIG_STREAM_PFN_TYPE_SHIFT;
    b->count++;
    return b->count == BATCH_PAGES ? flush_batch(d, b) : 0;
}

/* write_file_pages where the stream also goes to a file: each page read
 * and batched as write_page does. */
static int read_file_pages(struct mig_xen_dest *d, struct mig_stream_ctx *st, int fd,
                           uint64_t offset, const uint64_t *pfns, const unsigned int *types,
                           unsigned int n)
{
    uint8_t page[MIG_PAGE_SIZE];
    int rc = 0;

    for (unsigned int i = 0; i < n && !rc; i++) {
        uint64_t at = offset + (uint64_t)i * MIG_PAGE_SIZE;
        ssize_t got = mig_pread_full(fd, page, sizeof(page), (off_t)at);

        if (got != (ssize_t)sizeof(page))
            rc = mig_error_set_errno(MIG_EIO, got < 0 ? errno : EIO, "cannot read the page "
                                     "of pfn %#" PRIx64 " at offset %" PRIu64, pfns[i], at);
        else
            rc = xd_write_page(d, st, pfns[i], page, types[i]);
    }
    return rc;
}

/*
 * Pages that lie in a file (a save file's replay): one PAGE_DATA record
 * whose pages the kernel splices from the file into xl's pipe, after what
 * this stream had batched.  Saving or capturing, they are read and
 * batched instead.
 */
static int xd_write_file_pages(void *backend, struct mig_stream_ctx *st, int fd,
                               uint64_t offset, const uint64_t *pfns,
                               const unsigned int *types, unsigned int n)
{
    struct mig_xen_dest *d = backend;
    struct page_batch *b = st->priv;
    struct sigpipe_guard g;
    int rc = n && n <= BATCH_PAGES ? 0 : mig_error_set(MIG_EINVAL, "%u pages at once: "
                                                       "give 1 to %u", n, BATCH_PAGES);

    for (unsigned int i = 0; i < n && !rc; i++)
        rc = check_page(pfns[i], types[i]);
    if (rc)
        return rc;
    if (d->saving || d->capture_writer)
        return read_file_pages(d, st, fd, offset, pfns, types, n);
    rc = flush_batch(d, b);
    if (rc)
        return rc;
    for (unsigned int i = 0; i < n; i++) {
        b->words[i] = pfns[i] | (uint64_t)types[i] << MIG_STREAM_PFN_TYPE_SHIFT;
        if (pfns[i] < d->nr_pfns && d->written)
            atomic_fetch_or(&d->written[pfns[i] / 64], UINT64_C(1) << (pfns[i] % 64));
    }
    pthread_mutex_lock(&d->write_lock);
    sigpipe_block(&g);
    rc = atomic_load(&d->broken)
         ? mig_error_set(MIG_EIO, "the stream to xl migrate-receive (pid %ld) broke "
                         "earlier: not writing pages", (long)d->child)
         : mig_stream_write_page_data_from_fd(d->child_writer, b->words, n, fd, offset);
    sigpipe_restore(&g, rc != 0);
    if (rc && !atomic_load(&d->broken))
        rc = stream_broken(d, rc, "a PAGE_DATA record");
    pthread_mutex_unlock(&d->write_lock);
    return rc;
}

static int xd_restore_state(void *backend, const void *state, size_t len)
{
    struct mig_xen_dest *d = backend;
    int rc;

    if (d->child <= 0 && !d->saving)
        return mig_error_set(MIG_EINVAL, "no xl migrate-receive to restore into");
    if (!len)
        return mig_error_set(MIG_EFORMAT, "the source's stream tail is empty: it must "
                             "end with the libxc and libxl END records");
    rc = flush_all_batches(d);
    dest_log(d, XTL_INFO, "%" PRIu64 " all-zero pages went to xl as XALLOC, without data",
             (uint64_t)atomic_load(&d->alloc_only));
    if (!rc)
        rc = send_bytes(d, state, len, true, "the stream tail");
    if (!rc && d->saving && fdatasync(d->capture.fd))
        rc = mig_error_set_errno(MIG_EIO, errno, "flushing %s to disk", d->sink);
    if (!rc && !d->saving)
        rc = expect_message(d, xl_ready, sizeof(xl_ready), READY_TIMEOUT_MS,
                            "\"domain received, ready to unpause\"");
    return rc;
}

/*
 * Saving, the go: the file is complete and verified; put it in place.  One
 * that cannot be is MIG_EABSENT: the domain is nowhere here, so the source
 * keeps it.
 */
static int save_commit(struct mig_xen_dest *d)
{
    int rc;

    mig_stream_writer_close(d->capture_writer);
    d->capture_writer = NULL;
    rc = mig_whole_file_commit(&d->capture, d->sink);
    if (rc)
        return mig_error_set(MIG_EABSENT, "%s", mig_error_last());
    dest_log(d, XTL_INFO, "%s is in place", d->sink);
    d->started = true;
    return 0;
}

static int xd_resume(void *backend)
{
    struct mig_xen_dest *d = backend;
    uint8_t code;
    ssize_t got;
    int rc;

    if (d->saving)
        return save_commit(d);
    if (d->child <= 0)
        return mig_error_set(MIG_EINVAL, "no xl migrate-receive to clear to unpause");
    d->go_sent = true;
    rc = send_bytes(d, xl_go, sizeof(xl_go), false, "the go message");
    if (!rc)
        rc = expect_message(d, xl_report, sizeof(xl_report), REPORT_TIMEOUT_MS,
                            "unpause report");
    if (rc)
        return rc;
    got = read_with_limit(d, &code, 1, REPORT_TIMEOUT_MS, "unpause result code");
    if (got < 0)
        return mig_error_last_code();
    if (got == 0)
        return mig_error_set(MIG_EIO, "xl migrate-receive (pid %ld) closed its output "
                             "before its unpause result code: its messages above say "
                             "why", (long)d->child);
    if (code) {
        /* xl destroys its copy, then grants the sender its domain back. */
        rc = expect_message(d, xl_go, sizeof(xl_go), REPORT_TIMEOUT_MS,
                            "permission for the sender to resume");
        if (rc)
            return mig_error_set(MIG_EIO, "xl migrate-receive failed to start the domain "
                                 "(code %u, libxl error -%u) and did not confirm that "
                                 "its copy is gone: check 'xl list' here before "
                                 "resuming the source", code, code);
        return mig_error_set(MIG_EABSENT, "xl migrate-receive failed to start the domain "
                             "(code %u, libxl error -%u) and destroyed its copy",
                             code, code);
    }
    dest_log(d, XTL_INFO, "xl migrate-receive started the domain");
    d->started = true;
    return 0;
}

const struct mig_destination_ops mig_xen_dest_ops = {
    .name = "xen-destination",
    .accept_prologue = xd_accept_prologue,
    .warm_up = xd_warm_up,
    .prepare = xd_prepare,
    .open_streams = xd_open_streams,
    .write_page = xd_write_page,
    .write_file_pages = xd_write_file_pages,
    .read_page = NULL,             /* the engine digests what arrived */
    .epoch_applied = xd_epoch_applied,
    .restore_state = xd_restore_state,
    .resume = xd_resume,
};

int mig_xen_dest_open(struct xentoollog_logger *log,
                      const struct mig_xen_dest_options *opts,
                      struct mig_xen_dest **dest_out)
{
    struct mig_xen_dest *d;
    int rc;

    *dest_out = NULL;
    if (!opts || opts->version != MIG_XEN_DEST_OPTIONS_VERSION)
        return mig_error_set(MIG_EINVAL, "Xen destination options version %u is not %u: "
                             "initialise them with MIG_XEN_DEST_OPTIONS_INIT",
                             opts ? opts->version : 0, MIG_XEN_DEST_OPTIONS_VERSION);
    d = calloc(1, sizeof(*d));
    if (!d)
        return mig_error_set(MIG_ENOMEM, "out of memory for a Xen destination");
    d->log = log;
    d->child = -1;
    d->to_child = d->from_child = d->capture.fd = -1;
    d->pause_after = opts->pause_after;
    d->no_monitor = opts->no_monitor;
    d->debug = opts->debug;
    d->preflight = opts->preflight;
    d->preflight_arg = opts->preflight_arg;
    pthread_mutex_init(&d->write_lock, NULL);
    pthread_mutex_init(&d->batches_lock, NULL);
    d->xl = strdup(opts->xl && *opts->xl ? opts->xl : "xl");
    if (!d->xl) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory for a Xen destination");
        goto out;
    }
    d->saving = opts->save_path != NULL;
    d->sink = d->saving ? "the save file" : "the stream capture";
    if (d->saving || opts->capture_path) {
        /* Guest memory: 0600, and in place only once the domain started. */
        rc = mig_whole_file_open(&d->capture, d->saving ? opts->save_path :
                                 opts->capture_path, 0600, d->sink);
        if (rc)
            goto out;
        rc = mig_stream_writer_open_fd(&d->capture_writer, d->capture.fd, NULL);
        if (rc)
            goto out;
    }
    *dest_out = d;
    rc = 0;
out:
    if (rc)
        mig_xen_dest_close(d);
    return rc;
}

const char *mig_xen_dest_metadata(const struct mig_xen_dest *dest)
{
    return dest ? dest->meta : NULL;
}

void mig_xen_dest_close(struct mig_xen_dest *d)
{
    if (!d)
        return;
    end_receiver(d);
    if (d->from_child >= 0)
        close(d->from_child);
    mig_stream_writer_close(d->child_writer);
    mig_stream_writer_close(d->capture_writer);
    if (d->capture.fd >= 0 && d->started) {
        if (mig_whole_file_commit(&d->capture, d->sink))
            dest_log(d, XTL_ERROR, "%s", mig_error_last());
    } else {
        mig_whole_file_discard(&d->capture);
    }
    while (d->batches) {
        struct page_batch *b = d->batches;

        d->batches = b->next;
        free(b->data);
        free(b);
    }
    pthread_mutex_destroy(&d->write_lock);
    pthread_mutex_destroy(&d->batches_lock);
    free(d->meta);
    free(d->xl);
    free((void *)d->written);
    free(d);
}
