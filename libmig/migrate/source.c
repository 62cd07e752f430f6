/*
 * source.c: the sending side of a live migration (mig_migrate_send).
 *
 * Rounds: epoch 0 sends every pfn; each later epoch sends what the last
 * harvest found dirty; the convergence policy decides when to switch
 * over.  Switchover: pause, final harvest, last epoch, device state,
 * compacted final dirty set, memory hash; the destination verifies and
 * resumes; only then is the source copy released.  Every failure path
 * before the destination's "resumed" resumes the guest here.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <xentoollog.h>

#include "cipher.h"
#include "control.h"
#include "mig_clock.h"
#include "mig_dirty.h"
#include "mig_migrate.h"
#include "mig_xfer.h"
#include "util/host.h"
#include "util/trace.h"
#include "sys/mig_backend.h"

struct source {
    const struct mig_source_ops *ops;
    void *be;
    struct mig_stream_ctx *ctx;          /* by stream; priv is the backend's */
    unsigned int nr_ctx;                 /* entries of ctx: the most streams the
                                            migration may use (max_streams) */
    unsigned int nr_streams;             /* streams running: opts->streams (at
                                            least 1), more once the ladder widened */
    unsigned int widen_to;               /* the most streams the ladder may run:
                                            nr_ctx, or fewer when the destination
                                            takes fewer ("ready") */
    bool ctx_open;
    bool control_up, logging, paused;
    bool cleared;                        /* the destination was told "go" */
    bool resumed_early;                  /* a checkpoint's guest runs here again
                                            (resume_early) before "received" */
    bool resumed_there;                  /* the destination answered "resumed" */
    const struct mig_migrate_options *opts;
    xentoollog_logger *log;
    struct mig_migrate_result *result;
    struct control control;
    struct mig_xfer_sender *sender;
    struct mig_precopy *policy;
    struct mig_precopy_options policy_opts;  /* opts->policy, rungs masked to what
                                                this source can apply */
    double dst_cpu_idle;                 /* from the last "applied"; -1 unknown */
    unsigned int throttle;               /* percent the guest runs at; 100 = free */
    bool compressing;                    /* the next epoch is compressed */
    struct mig_cpu_sample cpu_setup;     /* at set-up: the headroom before round 0 */
    uint64_t raw_bytes;                  /* the last epoch's bytes, had it not been */
    struct mig_dirty_bitmap *dirty;      /* to send next */
    uint64_t *last_hash;                 /* per pfn, mig_page_key last sent */
    uint64_t sent_sum;                   /* digest sum over last_hash */
    uint64_t *pfns;                      /* scratch list */
    uint64_t nr_pfns;
    uint32_t epoch;                      /* next epoch number */
    double start;
    double logging_since;                /* when log-dirty went on */
    double paused_at;
    struct mig_progress progress;
    uint8_t id[16];                      /* the migration's, from the handshake */
    uint8_t key[MIG_XFER_KEY_SIZE];      /* its data key until connected, then 0 */
    unsigned int offer[CIPHER_MAX_OFFER]; /* the ciphers the hello offered, best first */
    unsigned int nr_offer;
    unsigned int cipher;                 /* the one "ready" chose (MIG_XFER_CIPHER_*) */
    _Atomic bool cancel;                 /* opts->cancel_fd became readable */
    pthread_t watcher;                   /* watches opts->cancel_fd */
    int stop_watch[2];                   /* ends the watcher; -1 when none */
    /* options version 8: reports from within a pre-copy round, by a thread
     * of their own (live_ticker) while the engine's waits for the round */
    uint64_t live_total;                 /* the round's pages */
    _Atomic uint64_t live_done;          /* pages read in the round so far */
    double live_started;                 /* when the round began sending */
    struct mig_progress live_base;       /* the report before the round */
    bool live_running;                   /* live_thread runs */
    bool live_stop;                      /* under live_lock: it is to end */
    pthread_t live_thread;
    pthread_mutex_t live_lock;
    pthread_cond_t live_cond;            /* mig_clock_cond_init: CLOCK_MONOTONIC */
};

/* MIG_ECANCELLED with the one message of a cancel before "go", when: "during pre-copy". */
static int cancelled(const char *when)
{
    return mig_error_set(MIG_ECANCELLED, "migration cancelled by the caller %s; the "
                         "guest keeps running at the source", when);
}

/* Options version 5: a dry run; probing: a dry run or a prediction. */
static bool dry_run(const struct source *s)
{
    return s->opts->version >= 5 && s->opts->dry_run;
}

static bool probing(const struct source *s)
{
    return s->opts->version >= 5 && (s->opts->dry_run || s->opts->predict);
}

/* Options version 8: progress_interval_ms with a progress callback. */
static bool live_reports(const struct source *s)
{
    return s->opts->version >= 8 && s->opts->progress_interval_ms && s->opts->progress;
}

/*
 * A report from within the round (on live_thread): how many of its pages
 * were read, and whether all were (the round then waits for the streams
 * and the destination's "applied").  Returns the callback's answer.
 */
static int live_report(struct source *s)
{
    struct mig_progress p = s->live_base;
    uint64_t done = atomic_load_explicit(&s->live_done, memory_order_relaxed);
    double now = mig_clock_seconds();

    p.phase = MIG_PHASE_PRECOPY;
    p.in_round = true;
    p.round_pages = s->live_total;
    p.round_done = done < s->live_total ? done : s->live_total;
    p.round_sent = p.round_done == p.round_pages;
    p.round_elapsed = now - s->live_started;
    p.elapsed = now - s->start;
    return s->opts->progress(&p, s->opts->progress_payload);
}

/* Every progress_interval_ms until live_end, or a cancel (as cancel_fd's). */
static void *live_ticker(void *arg)
{
    struct source *s = arg;
    struct timespec due;
    int rc = 0;

    pthread_mutex_lock(&s->live_lock);
    while (!s->live_stop) {
        mig_clock_deadline(&due, (long)s->opts->progress_interval_ms);
        rc = 0;
        while (!s->live_stop && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&s->live_cond, &s->live_lock, &due);
        if (s->live_stop)
            break;
        pthread_mutex_unlock(&s->live_lock);
        rc = live_report(s);
        pthread_mutex_lock(&s->live_lock);
        if (rc) {
            atomic_store(&s->cancel, true);     /* read_page ends the round */
            break;
        }
    }
    pthread_mutex_unlock(&s->live_lock);
    return NULL;
}

/*
 * Before a pre-copy round sends its n pages: its reports from within
 * start (when asked for; a thread that cannot start only leaves them out).
 */
static void live_begin(struct source *s, uint64_t n)
{
    atomic_store(&s->live_done, 0);
    s->live_total = n;
    s->live_started = mig_clock_seconds();
    s->live_running = s->live_stop = false;
    if (!live_reports(s))
        return;
    /* what the round's reports carry besides its own figures */
    s->live_base = s->progress;
    s->live_base.round = s->result->rounds;
    s->live_base.decision = "round under way";     /* the last round's is gone */
    s->live_base.ladder_step = MIG_LADDER_STEP_NONE;
    s->live_base.ladder_reason = NULL;
    s->live_base.probe = NULL;
    s->live_base.prediction = NULL;
    if (mig_clock_cond_init(&s->live_cond))
        return;
    pthread_mutex_init(&s->live_lock, NULL);
    s->live_running = pthread_create(&s->live_thread, NULL, live_ticker, s) == 0;
    if (!s->live_running) {
        pthread_cond_destroy(&s->live_cond);
        pthread_mutex_destroy(&s->live_lock);
    }
}

/* The round sent (or failed): its reports end before the engine's go on. */
static void live_end(struct source *s)
{
    if (!s->live_running)
        return;
    pthread_mutex_lock(&s->live_lock);
    s->live_stop = true;
    pthread_cond_signal(&s->live_cond);
    pthread_mutex_unlock(&s->live_lock);
    pthread_join(s->live_thread, NULL);
    pthread_cond_destroy(&s->live_cond);
    pthread_mutex_destroy(&s->live_lock);
    s->live_running = false;
}

static int read_page(void *arg, unsigned int stream, uint64_t pfn, void *buf,
                     unsigned int *type_out)
{
    struct source *s = arg;

    /* A cancel ends a round within a page, not at its end. */
    if (atomic_load_explicit(&s->cancel, memory_order_relaxed))
        return cancelled("during pre-copy");
    atomic_fetch_add_explicit(&s->live_done, 1, memory_order_relaxed);
    return s->ops->read_page(s->be, &s->ctx[stream], pfn, buf, type_out);
}

static int prefetch(void *arg, unsigned int stream, const uint64_t *pfns, size_t count)
{
    struct source *s = arg;

    return s->ops->prefetch(s->be, &s->ctx[stream], pfns, count);
}

/* The caller's cancel_fd (options version 3), watched from a thread of its own. */
static void *watch_cancel(void *arg)
{
    struct source *s = arg;
    struct pollfd p[2] = { { .fd = s->opts->cancel_fd, .events = POLLIN },
                           { .fd = s->stop_watch[0], .events = POLLIN } };
    int n;

    do {
        n = poll(p, 2, -1);     /* bounded: mig_migrate_send always ends it */
    } while (n < 0 && errno == EINTR);
    if (n > 0 && p[0].revents && !p[1].revents)
        atomic_store(&s->cancel, true);
    return NULL;
}

static int watch_start(struct source *s)
{
    s->stop_watch[0] = s->stop_watch[1] = -1;
    if (s->opts->version < 3 || s->opts->cancel_fd < 0)
        return 0;
    if (pipe2(s->stop_watch, O_CLOEXEC))
        return mig_error_set_errno(MIG_EIO, errno, "pipe");
    if (pthread_create(&s->watcher, NULL, watch_cancel, s)) {
        close(s->stop_watch[0]);
        close(s->stop_watch[1]);
        s->stop_watch[0] = s->stop_watch[1] = -1;
        return mig_error_set(MIG_ENOMEM, "cannot start a thread");
    }
    return 0;
}

static void watch_stop(struct source *s)
{
    if (s->stop_watch[1] < 0)
        return;
    (void)!write(s->stop_watch[1], "x", 1);
    pthread_join(s->watcher, NULL);
    close(s->stop_watch[0]);
    close(s->stop_watch[1]);
}

static int report(struct source *s, enum mig_phase phase)
{
    s->progress.phase = phase;
    s->progress.elapsed = mig_clock_seconds() - s->start;
    if (phase != MIG_PHASE_PRECOPY) {       /* a round's figures in its report only */
        s->progress.round_pages = s->progress.round_done = 0;
        s->progress.round_elapsed = 0;
    }
    if ((atomic_load(&s->cancel) && phase != MIG_PHASE_DONE) ||
        (s->opts->progress && s->opts->progress(&s->progress, s->opts->progress_payload)))
        return cancelled(phase == MIG_PHASE_PRECOPY || phase == MIG_PHASE_LADDER
                         ? "during pre-copy" :
                         phase == MIG_PHASE_SWITCHOVER ? "at switchover" :
                         "during set-up");
    return 0;
}

static void account_harvest(struct source *s, const struct mig_harvest_stats *h)
{
    s->result->harvest_pause_seconds += h->pause_seconds;
    s->result->vcpu_stall_seconds += h->stall_seconds;
    if (h->max_stall_seconds > s->result->vcpu_stall_max_seconds)
        s->result->vcpu_stall_max_seconds = h->max_stall_seconds;
}

/* Send s->pfns[0..n-1] as one epoch and wait until it is applied. */
static int send_pfns(struct source *s, size_t n, uint64_t *sent_pages, uint64_t *sent_bytes)
{
    struct mig_xfer_stats st = { 0 };
    int rc;

    /* Keep the digest of what was sent: only this epoch's pfns can change. */
    for (size_t i = 0; i < n; i++)
        s->sent_sum -= mig_memory_digest_term(s->pfns[i], s->last_hash[s->pfns[i]]);
    rc = mig_xfer_sender_send_epoch(s->sender, s->epoch, s->pfns, n, read_page, s,
                                    s->last_hash, &st);
    for (size_t i = 0; i < n; i++)
        s->sent_sum += mig_memory_digest_term(s->pfns[i], s->last_hash[s->pfns[i]]);
    if (rc)
        return rc;
    mig_trace("source", "epoch sent; waiting for applied");
    /* The destination applied it: nothing of it is queued there any more. */
    {
        json_object *ack = NULL;
        unsigned long long epoch = 0;

        json_object *idle;

        rc = control_recv(&s->control, "applied", &ack);
        if (!rc)
            rc = control_get_uint(ack, "epoch", UINT32_MAX, &epoch);
        s->dst_cpu_idle = -1;
        if (!rc && json_object_object_get_ex(ack, "cpu_idle", &idle) &&
            (json_object_is_type(idle, json_type_double) ||
             json_object_is_type(idle, json_type_int)))
            s->dst_cpu_idle = json_object_get_double(idle);
        if (!rc && epoch != s->epoch)
            rc = mig_error_set(MIG_EFORMAT, "the destination applied epoch %llu, "
                               "epoch %u was due", epoch, s->epoch);
        if (ack)
            json_object_put(ack);
        if (rc)
            return rc;
    }
    s->epoch++;
    s->result->pages_sent += st.pages;
    s->result->bytes_sent += st.bytes;
    s->result->zero_pages += st.zero_pages;
    s->result->unchanged_pages += st.unchanged_pages;
    s->progress.pages_sent += st.pages;
    s->progress.bytes_sent += st.bytes;
    /* what the epoch would have put on the wire uncompressed */
    s->raw_bytes = st.bytes + (st.raw_bytes - st.data_bytes);
    *sent_pages = st.pages;
    *sent_bytes = st.bytes;
    return 0;
}

/* Send the pfns set in s->dirty as one epoch, then clear it. */
static int send_dirty(struct source *s, uint64_t *sent_pages, uint64_t *sent_bytes)
{
    size_t n = 0;
    int rc;

    for (uint64_t p = mig_dirty_bitmap_next_set(s->dirty, 0); p < s->nr_pfns;
         p = mig_dirty_bitmap_next_set(s->dirty, p + 1))
        s->pfns[n++] = p;
    rc = send_pfns(s, n, sent_pages, sent_bytes);
    if (!rc)
        mig_dirty_bitmap_clear_all(s->dirty);
    return rc;
}

/*
 * The ciphers the hello offers (options version 6's cipher; automatic
 * before it), as its "ciphers" member of m.  0 or MIG_ENOMEM.
 */
static int offer_ciphers(struct source *s, json_object *m)
{
    unsigned int choice = s->opts->version >= 6 ? s->opts->cipher : MIG_MIGRATE_CIPHER_AUTO;
    bool has_aes = mig_host_has_aes_instructions() &&
                   s->opts->inject_fault != MIG_MIGRATE_FAULT_NO_AES;
    json_object *list;

    cipher_offer(choice, has_aes, s->offer, &s->nr_offer);
    list = cipher_offer_json(s->offer, s->nr_offer);
    if (!list)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    json_object_object_add(m, "ciphers", list);
    if (s->log)
        xtl_log(s->log, XTL_INFO, -1, "migrate", "this host %s AES instructions: "
                "offering %s%s%s", has_aes ? "has" : "lacks",
                mig_xfer_cipher_name(s->offer[0]), s->nr_offer > 1 ? ", then " : "",
                s->nr_offer > 1 ? mig_xfer_cipher_name(s->offer[1]) : "");
    return 0;
}

/*
 * The handshake's first half: "hello" with the prologue.  The destination
 * starts its receiver and runs the pre-flight while the source gets ready
 * (handshake_finish waits for its answer).
 */
static int handshake_start(struct source *s)
{
    json_object *m = json_object_new_object();
    void *prologue = NULL;
    size_t prologue_len = 0;
    uint8_t *id = s->id, *key = s->key;
    char hex[33], keyhex[2 * MIG_XFER_KEY_SIZE + 1];
    int rc;

    if (!m)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    if (getrandom(id, sizeof(s->id), 0) != (ssize_t)sizeof(s->id)) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot draw a migration id");
        goto out;
    }
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    json_object_object_add(m, "msg", json_object_new_string("hello"));
    json_object_object_add(m, "version", json_object_new_int(
        s->opts->inject_fault == MIG_MIGRATE_FAULT_VERSION ? 99 : MIG_MIGRATE_PROTOCOL_VERSION));
    json_object_object_add(m, "id", json_object_new_string(hex));
    json_object_object_add(m, "nr_pfns", json_object_new_int64((int64_t)s->nr_pfns));
    json_object_object_add(m, "streams", json_object_new_int((int)s->opts->streams));
    if (s->nr_ctx > s->nr_streams)
        json_object_object_add(m, "max_streams", json_object_new_int((int)s->nr_ctx));
    json_object_object_add(m, "page_size", json_object_new_int(MIG_PAGE_SIZE));
    json_object_object_add(m, "tracing", json_object_new_string(
        s->opts->tracing == MIG_TRACE_LOOSE ? "loose" : "stop"));
    if (s->opts->encrypt) {
        /* A fresh key per migration, over the (ssh or local) control channel. */
        if (getrandom(key, sizeof(s->key), 0) != (ssize_t)sizeof(s->key)) {
            rc = mig_error_set_errno(MIG_EIO, errno, "cannot draw a migration key");
            goto out;
        }
        for (size_t i = 0; i < sizeof(s->key); i++)
            snprintf(keyhex + 2 * i, 3, "%02x", key[i]);
        json_object_object_add(m, "key", json_object_new_string(keyhex));
        rc = offer_ciphers(s, m);
        if (rc)
            goto out;
    }
    /* The backend family: a name up to its first '-' ("sim", "xen"). */
    json_object_object_add(m, "acks", json_object_new_boolean(1));
    if (dry_run(s))     /* the destination keeps nothing and ends well */
        json_object_object_add(m, "dry_run", json_object_new_boolean(1));
    json_object_object_add(m, "backend", json_object_new_string_len(
        s->ops->name, (int)strcspn(s->ops->name, "-")));
    if (s->ops->prologue) {
        rc = s->ops->prologue(s->be, &prologue, &prologue_len);
        if (rc)
            goto out;
        json_object_object_add(m, "prologue_length",
                               json_object_new_int64((int64_t)prologue_len));
    }
    rc = control_send_blocks(&s->control, m,
                             &(struct iovec){ prologue, prologue ? prologue_len : 0 }, 1);
out:
    OPENSSL_cleanse(keyhex, sizeof(keyhex));
    control_wipe_string(m, "key");
    free(prologue);
    json_object_put(m);
    return rc;
}

/*
 * How many streams the destination lets the migration widen to ("ready"'s
 * max_streams; absent from a destination that does not let streams join):
 * without room above the streams it starts with, the ladder has no widen
 * rung.  0, or MIG_EFORMAT for a malformed number.
 */
static int ready_max_streams(struct source *s, json_object *reply)
{
    unsigned long long max = 0;
    json_object *v;
    int rc = 0;

    if (json_object_object_get_ex(reply, "max_streams", &v))
        rc = control_get_uint(reply, "max_streams", MIG_XFER_MAX_STREAMS, &max);
    if (rc)
        return rc;
    if (max < s->widen_to)
        s->widen_to = max > s->nr_streams ? (unsigned int)max : s->nr_streams;
    if (s->widen_to <= s->nr_streams && (s->policy_opts.ladder & MIG_LADDER_WIDEN)) {
        if (s->log)
            xtl_log(s->log, XTL_INFO, -1, "migrate", "the destination takes no more "
                    "than %u data streams: the ladder does not widen", s->nr_streams);
        mig_precopy_rung_unavailable(s->policy, MIG_LADDER_WIDEN);
    }
    return 0;
}

/*
 * The cipher the destination chose in "ready" (AES-256-GCM from one that
 * does not say: an older xenmig).  0, or MIG_EFORMAT for one not offered.
 */
static int ready_cipher(struct source *s, json_object *reply)
{
    int rc = cipher_from_ready(reply, s->offer, s->nr_offer, &s->cipher);

    if (rc)
        return rc;
    s->result->cipher = mig_xfer_cipher_name(s->cipher);
    if (s->log)
        xtl_log(s->log, XTL_INFO, -1, "migrate", "data streams sealed with %s%s",
                s->result->cipher, json_object_object_get_ex(reply, "cipher", NULL) ? "" :
                " (the destination does not choose ciphers: an older xenmig)");
    return 0;
}

/* The second half: the destination's "ready" (its pre-flight passed), and
 * the data connections. */
static int handshake_finish(struct source *s)
{
    json_object *reply = NULL;
    unsigned long long port;
    char portstr[8];
    int rc;

    /* The destination checks the prologue (pre-flight) before "ready". */
    rc = control_recv(&s->control, "ready", &reply);
    if (rc)
        goto out;
    rc = control_get_uint(reply, "port", 65535, &port);
    if (rc)
        goto out;
    rc = ready_max_streams(s, reply);
    if (!rc && s->opts->encrypt)
        rc = ready_cipher(s, reply);
    if (rc)
        goto out;
    snprintf(portstr, sizeof(portstr), "%llu", port);
    {
        struct mig_xfer_options xo = MIG_XFER_OPTIONS_INIT;

        xo.streams = s->nr_streams;
        /* Version 1 callers split the rate themselves. */
        xo.max_rate_per_stream = s->opts->version >= 2 && s->opts->max_rate ?
                                 s->opts->max_rate / s->nr_streams :
                                 s->opts->max_rate_per_stream;
        xo.timeout_ms = s->opts->timeout_ms;
        xo.fault = s->opts->inject_fault < MIG_MIGRATE_FAULT_VERSION ? s->opts->inject_fault : 0;
        xo.fault_stall_ms = (unsigned int)s->opts->timeout_ms + 2000;
        xo.key = s->opts->encrypt ? s->key : NULL;
        xo.cipher = s->cipher;
        xo.max_reconnects = s->opts->version >= 4 ? s->opts->reconnects : 0;
        xo.cancel_fd = s->opts->version >= 3 ? s->opts->cancel_fd : -1;
        xo.hangup_fd = s->control.in;
        /* Mid-transfer, also for a guest whose pfn space is mostly holes. */
        xo.fault_after_pages = s->nr_pfns / 4 < 2048 ? s->nr_pfns / 4 : 2048;
        rc = mig_xfer_sender_connect(s->opts->data_host, portstr, &xo, s->id, s->log,
                                     &s->sender);
        if (!rc && s->ops->prefetch)
            mig_xfer_sender_set_prefetch(s->sender, prefetch);
    }
out:
    OPENSSL_cleanse(s->key, sizeof(s->key));
    if (reply)
        json_object_put(reply);
    return rc;
}

/*
 * The source's own memory hash (verification), run on threads of its own
 * (one per data stream, at most VERIFY_THREADS; each a range of pfns, in
 * which the backend maps what it hashes) from the moment everything is
 * sent: it overlaps the destination's restore instead of following the
 * resume.  They run as SCHED_IDLE, on CPU time nothing else wants: where
 * the two ends share CPUs (the lab, one host), hashing at normal priority
 * slowed the destination's restore and so lengthened the downtime it was
 * meant to stay out of.  A failed migration cancels them (the guest
 * resumes without waiting for a hash nobody needs); once the destination
 * has resumed, they are raised back to normal priority so the source
 * finishes.
 */
#define VERIFY_THREADS  8u
#define VERIFY_ALIGN    1024u           /* pfns: ranges start on these */

struct verify_part {
    struct verify_job *job;
    pthread_t thread;
    uint64_t first, count, sum;
    int rc;
    char message[512];             /* its error, when rc != 0 */
};

struct verify_job {
    const struct mig_source_ops *ops;
    void *be;
    struct mig_stream_ctx *ctx;    /* part i hashes with stream i's context */
    uint64_t nr_pfns;
    unsigned int threads;          /* started; 0: none running */
    bool started;
    atomic_uint pending;           /* parts not done yet */
    atomic_bool cancel;
    uint64_t digest;
    struct verify_part part[VERIFY_THREADS];
};

static void *verify_thread(void *arg)
{
    struct verify_part *p = arg;
    struct verify_job *v = p->job;
    struct sched_param idle = { .sched_priority = 0 };

    /* Best effort: without it the hash merely competes for the CPUs. */
    (void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);
    p->rc = v->ops->memory_hash(v->be, &v->ctx[p - v->part], p->first, p->count,
                                &v->cancel, &p->sum);
    if (p->rc)
        snprintf(p->message, sizeof(p->message), "%s", mig_error_last());
    atomic_fetch_sub(&v->pending, 1);
    return NULL;
}

static bool verify_done(struct verify_job *v)
{
    return v->started && atomic_load(&v->pending) == 0;
}

/* Waits for every thread started, without looking at what they found. */
static void verify_wait(struct verify_job *v)
{
    for (unsigned int i = 0; i < v->threads; i++)
        pthread_join(v->part[i].thread, NULL);
    v->threads = 0;
    v->started = false;
}

static int verify_start(struct source *s, struct verify_job *v)
{
    uint64_t chunks = (s->nr_pfns + VERIFY_ALIGN - 1) / VERIFY_ALIGN;
    unsigned int n = s->nr_streams;
    uint64_t first = 0;

    if (n > VERIFY_THREADS)
        n = VERIFY_THREADS;
    if (n > chunks)
        n = chunks ? (unsigned int)chunks : 1;
    v->ops = s->ops;
    v->be = s->be;
    v->ctx = s->ctx;
    v->nr_pfns = s->nr_pfns;
    v->threads = 0;
    atomic_init(&v->pending, n);
    atomic_init(&v->cancel, false);
    v->started = true;
    for (unsigned int i = 0; i < n; i++) {
        struct verify_part *p = &v->part[i];
        uint64_t end = i + 1 == n ? s->nr_pfns : (chunks * (i + 1) / n) * VERIFY_ALIGN;
        int err;

        *p = (struct verify_part){ .job = v, .first = first, .count = end - first };
        first = end;
        err = pthread_create(&p->thread, NULL, verify_thread, p);
        if (err) {
            atomic_store(&v->cancel, true);
            verify_wait(v);
            return mig_error_set_errno(MIG_ENOMEM, err, "cannot start verification "
                                       "thread %u of %u", i + 1, n);
        }
        v->threads++;
    }
    return 0;
}

/* Raises the hash to normal priority: it is what the source waits for now. */
static void verify_hurry(struct verify_job *v)
{
    struct sched_param normal = { .sched_priority = 0 };

    for (unsigned int i = 0; i < v->threads; i++)
        (void)pthread_setschedparam(v->part[i].thread, SCHED_OTHER, &normal);
}

/* The migration failed: stops the hash early and waits for the threads,
 * leaving the error that failed it as it is. */
static void verify_abandon(struct verify_job *v)
{
    if (!v->started)
        return;
    atomic_store(&v->cancel, true);
    verify_wait(v);
}

/* Waits for the hash (v->digest); a thread's error becomes this thread's. */
static int verify_join(struct verify_job *v)
{
    unsigned int n = v->threads;
    uint64_t sum = 0;

    if (!v->started)
        return 0;
    verify_wait(v);
    for (unsigned int i = 0; i < n; i++) {
        if (v->part[i].rc)
            return mig_error_set(v->part[i].rc, "verifying the source's memory (pfns %#"
                                 PRIx64 "-%#" PRIx64 "): %s", v->part[i].first,
                                 v->part[i].first + v->part[i].count - 1,
                                 v->part[i].message);
        sum += v->part[i].sum;
    }
    v->digest = mig_memory_digest_finish(sum, v->nr_pfns);
    return 0;
}

/* True (with the error set) when the source's memory differs from the
 * destination's: dirty tracking missed a write. */
static bool memory_digest_mismatch(struct source *s, uint64_t memory_digest,
                                   unsigned long long remote_digest, bool resumed)
{
    s->result->memory_hash = memory_digest;
    if (memory_digest == remote_digest)
        return false;
    mig_error_set(MIG_ECORRUPT, "verification failed: the source's memory at pause "
                  "(digest %016llx) differs from the destination's (%016llx): dirty "
                  "tracking missed a write; %s", (unsigned long long)memory_digest,
                  remote_digest, resumed ? "the guest runs at the destination"
                  : "the destination was stopped and the guest keeps running at the "
                  "source");
    return true;
}

/* The guest is paused: the last dirty pages, as the final epoch. */
static int final_epoch(struct source *s, void **compact, size_t *compact_len,
                       uint64_t *final_count, uint64_t *final_sent)
{
    struct mig_harvest_stats h = { 0 };
    uint64_t bytes;
    double t = mig_clock_seconds();
    int rc;

    /* The guest is paused already: this harvest's cost is downtime, not
     * a pre-copy harvest pause, so it is not added to those counters. */
    mig_trace("source", "paused; final harvest");
    rc = s->ops->harvest(s->be, MIG_TRACE_STOP, s->dirty, &h);
    if (rc)
        return rc;
    s->result->downtime_parts.harvest = mig_clock_seconds() - t;
    t = mig_clock_seconds();
    *final_count = mig_dirty_bitmap_count(s->dirty);
    rc = mig_dirty_compact_encode(s->dirty, compact, compact_len);
    if (rc)
        return rc;
    mig_trace("source", "final epoch");
    rc = send_dirty(s, final_sent, &bytes);
    mig_trace("source", "final epoch applied");
    if (!rc)
        rc = mig_xfer_sender_finish(s->sender);
    s->result->downtime_parts.send = mig_clock_seconds() - t;
    return rc;
}

/* "state" with the device state and the final dirty set, then "switchover". */
static int send_state(struct source *s, const void *compact, size_t compact_len,
                      uint64_t final_count, uint64_t final_sent, double *read_at)
{
    void *state = NULL;
    size_t state_len = 0;
    json_object *m = json_object_new_object(), *sw = json_object_new_object();
    const char *swtext;
    double t = mig_clock_seconds();
    int rc;

    mig_trace("source", "digest done; reading state");
    rc = s->ops->save_state(s->be, &state, &state_len);
    if (rc)
        goto out;
    mig_trace("source", "state read; sending it");
    s->result->downtime_parts.state = mig_clock_seconds() - t;
    *read_at = mig_clock_seconds();
    if (!m || !sw) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory");
        goto out;
    }
    json_object_object_add(m, "msg", json_object_new_string("state"));
    json_object_object_add(m, "length", json_object_new_int64((int64_t)state_len));
    json_object_object_add(m, "dirty_set_length", json_object_new_int64((int64_t)compact_len));
    json_object_object_add(m, "final_pages", json_object_new_int64((int64_t)final_count));
    json_object_object_add(m, "final_sent", json_object_new_int64((int64_t)final_sent));
    json_object_object_add(sw, "msg", json_object_new_string("switchover"));
    json_object_object_add(sw, "epochs", json_object_new_int((int)s->epoch));
    swtext = json_object_to_json_string_ext(sw, JSON_C_TO_STRING_PLAIN);
    /* the state, the final set and the switchover message: one write */
    rc = control_send_blocks(&s->control, m, (struct iovec[]){ { state, state_len },
                             { (void *)compact, compact_len },
                             { (void *)swtext, strlen(swtext) }, { (void *)"\n", 1 } }, 4);
out:
    json_object_put(m);
    json_object_put(sw);
    free(state);
    return rc;
}

/*
 * A live checkpoint's guest runs on here as soon as everything is sent
 * (when the backend offers it): the file being written and flushed at the
 * other end is no longer in its downtime.  Its paused memory cannot be
 * hashed then: that check is dropped, as it is when it ends after "go".
 */
static int resume_checkpoint_early(struct source *s)
{
    double t = mig_clock_seconds();
    int rc;

    if (s->opts->version < 7 || !s->opts->resumes_here || !s->ops->resume_early)
        return 0;
    rc = s->ops->resume_early(s->be);
    if (rc == 1)
        return 0;
    if (rc < 0) {
        (void)control_send_simple(&s->control, "abort", mig_error_last());
        return rc;
    }
    s->paused = false;
    s->resumed_early = true;
    s->result->verify_dropped = s->opts->verify_memory;
    s->result->downtime_seconds = mig_clock_seconds() - s->paused_at;
    s->result->downtime_parts.resume = mig_clock_seconds() - t;
    mig_trace("source", "resumed here (a checkpoint): the destination finishes the "
              "file meanwhile");
    /* Nothing is harvested any more: tracing ends, the guest running (an
     * HVM domain's is a QMP exchange with its qemu, not paused time). */
    (void)s->ops->log_dirty_disable(s->be);
    s->logging = false;
    mig_trace("source", "log-dirty off");
    return 0;
}

/*
 * While the destination restores: a checkpoint's guest may resume early;
 * else the verification hash starts and the backend hands over; then the
 * destination's "received", whose digest must be that of what was sent (a
 * mismatch aborts the destination).
 */
static int await_received(struct source *s, struct verify_job *verify, double t,
                          uint64_t sent_digest, unsigned long long *remote_digest)
{
    json_object *reply = NULL;
    int rc;

    rc = resume_checkpoint_early(s);
    if (rc)
        return rc;
    if (s->opts->verify_memory && !s->resumed_early) {
        rc = verify_start(s, verify);
        if (rc)
            return rc;
    }
    /* While the destination restores, not after it: off the downtime. */
    if (s->ops->handover && !s->resumed_early) {
        rc = s->ops->handover(s->be);
        if (rc) {
            (void)control_send_simple(&s->control, "abort", mig_error_last());
            return rc;
        }
        mig_trace("source", "handed over");
    }
    rc = control_recv(&s->control, "received", &reply);
    if (!rc) {
        if (!s->resumed_early)      /* else no part of the downtime */
            s->result->downtime_parts.destination = mig_clock_seconds() - t;
        mig_trace("source", "received");
        rc = control_get_hex64(reply, "memory_hash", remote_digest);
    }
    if (reply)
        json_object_put(reply);
    if (!rc && (*remote_digest != sent_digest ||
                s->opts->inject_fault == MIG_MIGRATE_FAULT_DIGEST)) {
        rc = mig_error_set(MIG_ECORRUPT, "destination memory differs from what was "
                           "sent (digest %016llx, sent %016llx%s): not resuming there",
                           *remote_digest, (unsigned long long)sent_digest,
                           s->opts->inject_fault == MIG_MIGRATE_FAULT_DIGEST ?
                           "; a mismatch injected for a test" : "");
        (void)control_send_simple(&s->control, "abort", mig_error_last());
    }
    return rc;
}

/* The hash finished while the destination restored: a miss still stops it. */
static int verify_before_go(struct source *s, struct verify_job *verify,
                            unsigned long long remote_digest)
{
    int rc;

    if (!verify_done(verify))
        return 0;
    rc = verify_join(verify);
    if (!rc && memory_digest_mismatch(s, verify->digest, remote_digest, false))
        rc = MIG_ECORRUPT;
    if (rc) {
        (void)control_send_simple(&s->control, "abort", mig_error_last());
        return rc;
    }
    s->result->verified_before_go = true;
    mig_trace("source", "verified before go");
    return 0;
}

/* Point of no return: "go", then the destination's "resumed". */
static int clear_destination(struct source *s)
{
    json_object *reply = NULL, *back;
    double t = mig_clock_seconds();
    int rc;

    if (atomic_load(&s->cancel)) {
        rc = cancelled("at switchover");
        (void)control_send_simple(&s->control, "abort", mig_error_last());
        return rc;
    }
    s->cleared = true;
    rc = control_send_simple(&s->control, "go", NULL);
    if (!rc)
        rc = control_recv(&s->control, "resumed", &reply);
    /* The destination failed and destroyed its copy (xl's way): ours again. */
    if (rc && reply && json_object_object_get_ex(reply, "source_resumes", &back) &&
        json_object_get_boolean(back))
        s->cleared = false;
    if (reply)
        json_object_put(reply);
    if (rc)
        return rc;
    s->resumed_there = true;
    if (!s->resumed_early) {
        s->result->downtime_seconds = mig_clock_seconds() - s->paused_at;
        s->result->downtime_parts.resume = mig_clock_seconds() - t;
    }
    mig_trace("source", "resumed there");
    return 0;
}

/*
 * The hash not joined before "go": its answer can only be reported now.  A
 * checkpoint's guest resumes here once the destination has it: an
 * unfinished hash of its paused memory is dropped rather than keep it
 * paused (the first check, of what the destination stored, did hold).
 */
static int verify_after_resume(struct source *s, struct verify_job *verify,
                               unsigned long long remote_digest)
{
    int rc;

    if (s->resumed_early)
        return 0;           /* no hash was started: verify_dropped says so */
    if (verify->started && s->opts->version >= 7 && s->opts->resumes_here) {
        verify_abandon(verify);
        s->result->verify_dropped = true;
        mig_trace("source", "verification dropped: the guest resumes here");
        return 0;
    }
    if (verify->started) {
        verify_hurry(verify);
        rc = verify_join(verify);
        if (rc)
            return rc;
        if (memory_digest_mismatch(s, verify->digest, remote_digest, true))
            return MIG_ECORRUPT;
        mig_trace("source", "verified after resume");
    }
    if (s->opts->verify_memory) {
        s->result->memory_hash = verify->digest;
        s->result->memory_verified = true;
    }
    return 0;
}

/*
 * The guest is paused: send the rest and hand over.  s->cleared is set once
 * the destination was told to resume (from then on the source must not
 * resume on its own).
 *
 * Verification has two levels.  Before "go", in the downtime: the digest
 * of the page hashes the source sent must equal the digest of what the
 * destination stored (every page arrived and was stored intact).  And the
 * digest of the source's actual memory (while this copy stays paused)
 * must equal the destination's too, which proves that dirty tracking
 * missed no write.  That second hash runs on its own thread while the
 * destination restores: when it is done by "received", a mismatch still
 * resumes the guest here; when it is not, the destination is cleared
 * without waiting for it (it never adds to the downtime) and it is
 * checked after "resumed", where a mismatch can only be reported.
 */
static int switchover(struct source *s)
{
    void *compact = NULL;
    size_t compact_len = 0;
    uint64_t final_count, final_sent, sent_digest;
    unsigned long long remote_digest = 0;
    struct verify_job verify = { .started = false, .threads = 0 };
    double state_read_at = 0;
    int rc;

    rc = final_epoch(s, &compact, &compact_len, &final_count, &final_sent);
    if (!rc)
        rc = send_state(s, compact, compact_len, final_count, final_sent, &state_read_at);
    if (rc)
        goto out;
    sent_digest = mig_memory_digest_finish(s->sent_sum, s->nr_pfns);
    rc = await_received(s, &verify, state_read_at, sent_digest, &remote_digest);
    if (!rc)
        rc = verify_before_go(s, &verify, remote_digest);
    if (!rc)
        rc = clear_destination(s);
    if (rc)
        goto out;
    s->result->memory_hash = sent_digest;
    rc = verify_after_resume(s, &verify, remote_digest);
out:
    /* On every way out the hash thread has ended before the guest resumes;
     * on a failure it is cut short, as nobody needs its answer. */
    if (rc)
        verify_abandon(&verify);
    else
        rc = verify_join(&verify);
    free(compact);
    return rc;
}

/* Let the guest run at percent of its CPU (100: as before the ladder). */
static int throttle(struct source *s, unsigned int percent)
{
    int rc;

    if (percent == s->throttle)
        return 0;
    rc = s->ops->throttle(s->be, percent);
    if (rc)
        return rc;
    if (s->log)
        xtl_log(s->log, XTL_INFO, -1, "migrate", "guest throttled from %u%% to %u%% "
                "of its CPU", s->throttle, percent);
    s->throttle = percent;
    if (percent < s->result->ladder.min_throttle_percent)
        s->result->ladder.min_throttle_percent = percent;
    return 0;
}

/*
 * One data stream more (the ladder's widen, to streams), before the next
 * round: a stream joins the sender and gets a backend context opened at
 * the start.  Under a total rate cap (max_rate) the streams are paced
 * anew, so that the total stays the same; a cap per stream
 * (max_rate_per_stream) applies to the new stream as to the others.
 */
static int widen(struct source *s, unsigned int streams)
{
    int rc;

    if (streams != s->nr_streams + 1 || streams > s->widen_to)
        return mig_error_set(MIG_EINVAL, "widening from %u to %u streams, with room "
                             "for %u: one at a time, up to what both ends take",
                             s->nr_streams, streams, s->widen_to);
    rc = mig_xfer_sender_add_stream(s->sender);
    if (rc)
        return rc;
    s->nr_streams = streams;
    if (s->opts->version >= 2 && s->opts->max_rate &&
        mig_xfer_sender_set_rate(s->sender, s->opts->max_rate / streams) && s->log)
        xtl_log(s->log, XTL_WARN, -1, "migrate", "the %u streams may exceed the total "
                "rate cap: %s", streams, mig_error_last());
    if (streams > s->result->ladder.max_streams)
        s->result->ladder.max_streams = streams;
    s->result->streams = streams;
    if (s->log)
        xtl_log(s->log, XTL_INFO, -1, "migrate", "widened to %u data streams", streams);
    return 0;
}

/*
 * Apply the ladder's step before the next round.  A rung that fails here
 * (this guest or peer cannot take it, or the call failed) is handed back
 * to the policy, which never offers it again, with a warning; *applied is
 * false.  The migration goes on without it: a remedy that fails is no
 * reason to give up.
 */
static void apply_step(struct source *s, const struct mig_precopy_estimate *est,
                       bool *applied)
{
    enum mig_ladder_rung rung = est->step == MIG_LADDER_STEP_THROTTLE ? MIG_LADDER_THROTTLE :
                                est->step == MIG_LADDER_STEP_WIDEN ? MIG_LADDER_WIDEN
                                                                   : MIG_LADDER_COMPRESS;
    int rc = MIG_EUNSUPP;

    *applied = false;
    if (est->step == MIG_LADDER_STEP_NONE)
        return;
    if (est->step == MIG_LADDER_STEP_THROTTLE)
        rc = throttle(s, est->throttle_percent);
    if (est->step == MIG_LADDER_STEP_WIDEN)
        rc = widen(s, est->streams);
    if (est->step == MIG_LADDER_STEP_COMPRESS_ON || est->step == MIG_LADDER_STEP_COMPRESS_OFF)
        rc = mig_xfer_sender_set_compress(s->sender, est->compress);
    if (!rc && rung == MIG_LADDER_COMPRESS)
        s->compressing = est->compress;
    if (rc) {
        if (s->log)
            xtl_log(s->log, XTL_WARN, -1, "migrate", "ladder: cannot %s: %s; the rung "
                    "is left out", mig_ladder_rung_name(rung), mig_error_last());
        mig_precopy_rung_unavailable(s->policy, rung);
        return;
    }
    *applied = true;
    s->result->ladder.rungs |= rung;
}

/*
 * The bytes/s the operator allows all streams now: max_rate (version 2 on),
 * else max_rate_per_stream over the streams running; 0: no cap.
 */
static uint64_t link_cap(const struct source *s)
{
    return s->opts->version >= 2 && s->opts->max_rate
           ? s->opts->max_rate : s->opts->max_rate_per_stream * s->nr_streams;
}

/*
 * The ladder's CPU figure: the busier end's idle share, this end's (idle)
 * or the destination's from its last "applied"; -1: unknown.
 */
static double busier_end(const struct source *s, double idle)
{
    if (s->dst_cpu_idle >= 0 && (idle < 0 || s->dst_cpu_idle < idle))
        idle = s->dst_cpu_idle;
    if (s->opts->inject_fault == MIG_MIGRATE_FAULT_CPU_UNKNOWN)
        idle = -1;                      /* tests: the ladder's headroom as unknown */
    return idle;
}

/* The round's figures for the policy, and what the ladder looks at. */
static void round_figures(struct source *s, struct mig_precopy_round *round,
                          const struct mig_cpu_sample *cpu_start)
{
    struct mig_cpu_sample now;
    double idle;

    (void)mig_host_cpu_sample(&now);
    idle = mig_host_cpu_idle(cpu_start, &now);
    round->cpu_idle = busier_end(s, idle);
    round->streams = s->nr_streams;
    round->raw_bytes = s->raw_bytes;
    round->link_cap = link_cap(s);
}

/* The ladder's state, and the step just taken (if stepped), into the progress. */
static void ladder_figures(struct source *s, const struct mig_precopy_estimate *est,
                           bool stepped)
{
    s->progress.ladder_step = stepped ? est->step : MIG_LADDER_STEP_NONE;
    s->progress.ladder_reason = stepped ? est->step_reason : NULL;
    s->progress.throttle_percent = s->throttle;
    s->progress.streams = s->nr_streams;
    s->progress.compress = s->compressing;
    s->progress.cpu_idle = est->cpu_idle;
}

/* The policy's view after a round into the progress report. */
static void progress_figures(struct source *s, const struct mig_precopy_round *round,
                             const struct mig_precopy_estimate *est, bool stepped)
{
    s->progress.round = round->iteration;
    s->progress.pages_remaining = round->dirty_pages;
    s->progress.dirty_rate = est->dirty_rate;
    s->progress.link_rate = est->link_rate;
    s->progress.expected_downtime_ms = est->expected_downtime_ms;
    s->progress.decision = est->reason;
    ladder_figures(s, est, stepped);
}

/*
 * Before round 0: compress from the start when the link is capped and the
 * CPUs idle (mig_precopy_start); a LADDER report when it does.
 */
static int start_ladder(struct source *s)
{
    struct mig_precopy_estimate est;
    struct mig_cpu_sample now;
    bool capped = link_cap(s) != 0, stepped;

    (void)mig_host_cpu_sample(&now);
    mig_precopy_start(s->policy, mig_host_cpu_idle(&s->cpu_setup, &now), capped, &est);
    apply_step(s, &est, &stepped);
    if (!stepped)
        return 0;
    ladder_figures(s, &est, true);
    s->progress.round = 0;
    return report(s, MIG_PHASE_LADDER);
}

/* One pre-copy round: send what is dirty, harvest, ask the policy. */
static int precopy_round(struct source *s, double *last_harvest,
                         enum mig_precopy_decision *decision)
{
    struct mig_precopy_round round = { 0 };
    struct mig_precopy_estimate est;
    struct mig_harvest_stats h = { 0 };
    struct mig_cpu_sample cpu_start;
    double round_start = mig_clock_seconds(), sent_at, t;
    uint64_t pages, bytes, round_pages;
    bool stepped = false;
    int rc;

    (void)mig_host_cpu_sample(&cpu_start);
    round_pages = mig_dirty_bitmap_count(s->dirty);
    live_begin(s, round_pages);
    rc = send_dirty(s, &pages, &bytes);
    live_end(s);
    if (rc)
        return rc;
    sent_at = mig_clock_seconds();
    if (s->opts->version >= 8) {
        s->progress.round_pages = s->progress.round_done = round_pages;
        s->progress.round_elapsed = sent_at - round_start;
    }
    rc = s->ops->harvest(s->be, s->opts->tracing, s->dirty, &h);
    if (rc)
        return rc;
    account_harvest(s, &h);
    t = mig_clock_seconds();
    if (s->log)
        xtl_log(s->log, XTL_DEBUG, -1, "migrate", "round %u: sent %" PRIu64 " pages "
                "in %.1f ms, harvested %" PRIu64 " in %.1f ms (paused %.1f ms)",
                s->result->rounds, pages, (sent_at - round_start) * 1e3, h.pages,
                (t - sent_at) * 1e3, h.pause_seconds * 1e3);
    round.iteration = s->result->rounds;
    round.pages_sent = pages;
    round.bytes_sent = bytes;
    round.seconds = t - round_start;
    round.dirty_pages = mig_dirty_bitmap_count(s->dirty);
    round.dirty_window = t - *last_harvest;
    *last_harvest = t;
    round_figures(s, &round, &cpu_start);
    *decision = mig_precopy_decide(s->policy, &round, &est);
    s->result->rounds++;
    snprintf(s->result->reason, sizeof(s->result->reason), "%s", est.reason);
    if (*decision == MIG_PRECOPY_CONTINUE)
        apply_step(s, &est, &stepped);
    progress_figures(s, &round, &est, stepped);
    if (!rc)
        rc = report(s, MIG_PHASE_PRECOPY);
    if (!rc && stepped) {
        s->progress.round = round.iteration + 1;    /* the round it applies from */
        rc = report(s, MIG_PHASE_LADDER);
    }
    if (!rc && *decision == MIG_PRECOPY_GIVE_UP) {
        s->result->gave_up = true;
        rc = mig_error_set(MIG_ECANCELLED, "migration given up after %u rounds: "
                           "%s; the guest keeps running at the source",
                           s->result->rounds, est.reason);
    }
    if (!rc && *decision == MIG_PRECOPY_STOP_AND_COPY) {
        s->result->forced = est.expected_downtime_ms > est.target_ms;
        s->result->predicted_downtime_ms = est.expected_downtime_ms;
    }
    return rc;
}

/*
 * The probe before round 0 (options version 5, dry_run or predict; see
 * docs/architecture.md, "Prediction"): the link, over the real data
 * streams; the guest's dirty rate; a sample of its pages; the CPUs.
 */
#define PROBE_FIRST_PAGES 256       /* the first probe epoch; then doubling */
#define PROBE_EPOCH_S     0.3       /* an epoch this long measures the link */
#define PROBE_MAX_S       1.5       /* the link probe takes at most about this */
#define DIRTY_SAMPLE_S    1.0       /* log-dirty on at least this long */
#define SAMPLE_PAGES      256       /* pages read for the zero share and ratio */

/*
 * Up to want pfns of round 0's set into s->pfns, spread evenly over the
 * set (its first pages may be all zero, as a PV guest's are: a probe of
 * those measures no link), as many from each data stream's share (so that
 * every stream carries the probe): *n of them.
 */
static void probe_pick(struct source *s, size_t want, size_t *n)
{
    unsigned int streams = s->nr_streams;
    size_t quota = (want + streams - 1) / streams, taken[MIG_XFER_MAX_STREAMS] = { 0 };
    uint64_t stride = want ? mig_dirty_bitmap_count(s->dirty) / want : 0, seen = 0;

    *n = 0;
    if (stride < 1)
        stride = 1;
    for (uint64_t p = mig_dirty_bitmap_next_set(s->dirty, 0); p < s->nr_pfns && *n < want;
         p = mig_dirty_bitmap_next_set(s->dirty, p + 1)) {
        unsigned int i = mig_xfer_stream_of_pfn(p, streams);

        if (seen++ % stride)
            continue;
        if (taken[i] < quota) {
            taken[i]++;
            s->pfns[(*n)++] = p;
        }
    }
}

/*
 * The link: pages of round 0 (spread over it) as epochs of their own, twice as
 * many each time, until one took PROBE_EPOCH_S or all PROBE_MAX_S.  The
 * rate is the best epoch's (usually the largest: an epoch's fixed cost,
 * its start and acknowledgement, weighs least there; the difference of
 * the last two was tried and is too noisy on a loaded host).  Those pages leave round 0's set (log-dirty is on: one
 * written again comes back at the next harvest).
 */
static int probe_link(struct source *s, struct mig_precopy_probe *pr)
{
    size_t want = PROBE_FIRST_PAGES, n;
    double spent = 0;
    int rc = 0;

    for (;;) {
        uint64_t pages, bytes;
        double t = mig_clock_seconds();

        probe_pick(s, want, &n);
        if (!n)
            break;
        rc = send_pfns(s, n, &pages, &bytes);
        if (rc)
            break;
        t = mig_clock_seconds() - t;
        spent += t;
        for (size_t i = 0; i < n; i++)
            mig_dirty_bitmap_clear(s->dirty, s->pfns[i]);
        if (t > 0 && (double)bytes / t > pr->link_rate)
            pr->link_rate = (double)bytes / t;
        if (t >= PROBE_EPOCH_S || spent >= PROBE_MAX_S ||
            mig_dirty_bitmap_count(s->dirty) < want * 2)
            break;
        want *= 2;
    }
    if (!rc && !(pr->link_rate > 0))
        rc = mig_error_set(MIG_EIO, "the link probe measured no rate (%" PRIu64 " bytes "
                           "in %.3f s): nothing to send, or a clock that did not move",
                           s->result->bytes_sent, spent);
    return rc;
}

/* Wait (a cancel ends it) until the clock reads until. */
static void wait_until(struct source *s, double until)
{
    double left = until - mig_clock_seconds();
    struct pollfd p = { .fd = s->opts->version >= 3 ? s->opts->cancel_fd : -1,
                        .events = POLLIN };

    while (left > 0 && !atomic_load(&s->cancel)) {
        if (poll(&p, 1, (int)(left * 1000) + 1) > 0)
            break;
        left = until - mig_clock_seconds();
    }
}

/* The pages written since the last harvest into *set (new), at *at. */
static int sample_harvest(struct source *s, struct mig_dirty_bitmap **set, double *at)
{
    struct mig_harvest_stats h = { 0 };
    int rc;

    if (atomic_load(&s->cancel))
        return cancelled("during the probe");
    rc = mig_dirty_bitmap_create(s->nr_pfns, set);
    if (!rc)
        rc = s->ops->harvest(s->be, s->opts->tracing, *set, &h);
    *at = mig_clock_seconds();
    account_harvest(s, &h);
    return rc;
}

/*
 * The dirty rate and working set: what the guest wrote since log-dirty
 * went on, harvested into a set of its own once it has been on for half
 * of DIRTY_SAMPLE_S, then again half of it later; how far the two
 * overlap tells a small hot set from writes all over
 * (mig_precopy_dirty_estimate).  A real migration sends both in round 0.
 */
static int probe_dirty(struct source *s, struct mig_precopy_probe *pr)
{
    struct mig_dirty_bitmap *first = NULL, *second = NULL;
    uint64_t overlap = 0, c1, c2;
    double t1, t2;
    int rc;

    wait_until(s, s->logging_since + DIRTY_SAMPLE_S / 2);
    rc = sample_harvest(s, &first, &t1);
    if (rc)
        goto out;
    wait_until(s, t1 + DIRTY_SAMPLE_S / 2);
    rc = sample_harvest(s, &second, &t2);
    if (rc)
        goto out;
    c1 = mig_dirty_bitmap_count(first);
    c2 = mig_dirty_bitmap_count(second);
    for (uint64_t p = mig_dirty_bitmap_next_set(second, 0); p < s->nr_pfns;
         p = mig_dirty_bitmap_next_set(second, p + 1))
        overlap += mig_dirty_bitmap_test(first, p);
    pr->dirty_window = t2 - s->logging_since;
    /* the guest's pages: round 0's set and what the link probe took of it */
    mig_precopy_dirty_estimate(c1, t1 - s->logging_since, c2, t2 - t1, overlap,
                               mig_dirty_bitmap_count(s->dirty) + s->result->pages_sent,
                               &pr->dirty_rate, &pr->working_set);
    rc = mig_dirty_bitmap_merge(s->dirty, first);
    if (!rc)
        rc = mig_dirty_bitmap_merge(s->dirty, second);
out:
    mig_dirty_bitmap_free(first);
    mig_dirty_bitmap_free(second);
    return rc;
}

/*
 * The zero share and the compress ratio of SAMPLE_PAGES pages spread over
 * round 0's set, read as a stream reads them (the codec of the streams).
 */
static int probe_pages(struct source *s, struct mig_precopy_probe *pr)
{
    uint8_t *page = malloc(MIG_PAGE_SIZE);
    uint64_t last = UINT64_MAX, zero = 0, read = 0, raw = 0, packed = 0;
    int rc = 0;

    if (!page)
        return mig_error_set(MIG_ENOMEM, "out of memory for a sample page");
    for (unsigned int i = 0; i < SAMPLE_PAGES && !rc; i++) {
        uint64_t p = mig_dirty_bitmap_next_set(s->dirty, s->nr_pfns * i / SAMPLE_PAGES);
        unsigned int type = 0;

        if (p >= s->nr_pfns || p == last)
            continue;
        last = p;
        rc = s->ops->read_page(s->be, &s->ctx[0], p, page, &type);
        if (rc == MIG_EABSENT) {
            rc = 0;
            continue;
        }
        read++;
        if (!rc && mig_xfer_page_is_zero(page)) {
            zero++;
        } else if (!rc) {
            raw += MIG_PAGE_SIZE;
            packed += mig_xfer_compressed_size(page);
        }
    }
    pr->zero_share = read ? (double)zero / read : 0;
    pr->compress_ratio = packed ? (double)raw / packed : 1;
    free(page);
    return rc;
}

/* The CPUs' idle share since set-up, the busier end's (as round_figures). */
static void probe_cpu(const struct source *s, struct mig_precopy_probe *pr)
{
    struct mig_cpu_sample now;

    (void)mig_host_cpu_sample(&now);
    pr->cpu_idle = busier_end(s, mig_host_cpu_idle(&s->cpu_setup, &now));
}

/* Probe, predict, and report the prediction (MIG_PHASE_PREDICT). */
static int probe_and_predict(struct source *s)
{
    struct mig_precopy_probe *pr = &s->result->probe;
    struct mig_precopy_options po = s->policy_opts;
    int rc;

    mig_trace("source", "probing");
    rc = probe_pages(s, pr);        /* first: round 0's whole set */
    if (!rc)
        rc = probe_link(s, pr);
    if (!rc)
        rc = probe_dirty(s, pr);
    if (rc)
        return rc;
    pr->nr_pages = mig_dirty_bitmap_count(s->dirty);
    pr->streams = s->nr_streams;
    pr->link_cap = link_cap(s);
    pr->per_stream_cap = !(s->opts->version >= 2 && s->opts->max_rate) &&
                         s->opts->max_rate_per_stream;
    probe_cpu(s, pr);
    pr->elapsed = mig_clock_seconds() - s->start;
    pr->bytes_sent = s->result->bytes_sent;
    /* the streams the destination takes bound the widening */
    po.max_streams = s->widen_to;
    if (s->widen_to <= s->nr_streams)
        po.ladder &= ~(unsigned int)MIG_LADDER_WIDEN;
    rc = mig_precopy_predict(&po, pr, &s->result->prediction);
    if (rc)
        return rc;
    s->result->predicted = true;
    s->progress.probe = pr;
    s->progress.prediction = &s->result->prediction;
    rc = report(s, MIG_PHASE_PREDICT);
    s->progress.probe = NULL;
    s->progress.prediction = NULL;
    return rc;
}

/*
 * A dry run ends here: log-dirty off, every stream DONE, and "abort"
 * with dry_run: the destination keeps nothing and ends well.
 */
static int end_dry_run(struct source *s)
{
    json_object *m;
    int rc;

    rc = s->ops->log_dirty_disable(s->be);
    if (rc)
        return rc;
    s->logging = false;
    rc = mig_xfer_sender_finish(s->sender);
    if (rc)
        return rc;
    m = json_object_new_object();
    if (!m)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    json_object_object_add(m, "msg", json_object_new_string("abort"));
    json_object_object_add(m, "error", json_object_new_string("dry run: nothing kept"));
    json_object_object_add(m, "dry_run", json_object_new_boolean(1));
    rc = control_send(&s->control, m);
    json_object_put(m);
    if (!rc) {
        s->result->dry_run = true;
        snprintf(s->result->reason, sizeof(s->result->reason), "dry run: %.240s",
                 s->result->prediction.reason);
    }
    return rc;
}

/* Pre-copy rounds until the policy says stop-and-copy (or gives up). */
static int precopy(struct source *s)
{
    enum mig_precopy_decision decision = MIG_PRECOPY_CONTINUE;
    double last_harvest = mig_clock_seconds();
    int rc = 0;

    mig_trace("source", "round 0");
    rc = start_ladder(s);
    while (!rc && decision != MIG_PRECOPY_STOP_AND_COPY)
        rc = precopy_round(s, &last_harvest, &decision);
    return rc;
}

/* The engine's bookkeeping and the backend's stream contexts. */
static int source_setup(struct source *s, int control_in, int control_out)
{
    unsigned int n = s->opts->streams ? s->opts->streams : 1;
    unsigned int max = s->opts->policy.version >= 2 ? s->opts->policy.max_streams : 0;
    int rc;

    s->nr_streams = n;
    /* Contexts for the most streams the ladder may widen to, up front. */
    s->nr_ctx = max > n && max <= MIG_XFER_MAX_STREAMS ? max : n;
    s->widen_to = s->nr_ctx;
    s->nr_pfns = s->ops->nr_pfns(s->be);
    rc = control_init(&s->control, control_in, control_out, s->opts->timeout_ms);
    if (rc)
        return rc;
    s->control_up = true;
    /* Offer the ladder's rungs this source can apply. */
    s->policy_opts = s->opts->policy;
    s->policy_opts.ladder &= MIG_LADDER_COMPRESS |
                             (s->nr_ctx > n ? MIG_LADDER_WIDEN : 0) |
                             (s->ops->throttle ? MIG_LADDER_THROTTLE : 0);
    (void)mig_host_cpu_sample(&s->cpu_setup);
    s->throttle = s->progress.throttle_percent = 100;
    s->progress.streams = n;
    s->progress.cpu_idle = s->dst_cpu_idle = -1;
    s->result->ladder.min_throttle_percent = 100;
    s->result->ladder.max_streams = n;
    rc = mig_precopy_new(&s->policy_opts, &s->policy);
    if (!rc)
        rc = mig_dirty_bitmap_create(s->nr_pfns, &s->dirty);
    if (rc)
        return rc;
    s->last_hash = calloc(s->nr_pfns, sizeof(*s->last_hash));
    s->pfns = malloc(s->nr_pfns * sizeof(*s->pfns));
    s->ctx = calloc(s->nr_ctx, sizeof(*s->ctx));
    if (!s->last_hash || !s->pfns || !s->ctx)
        return mig_error_set(MIG_ENOMEM, "out of memory for %" PRIu64 " pfns", s->nr_pfns);
    for (unsigned int i = 0; i < s->nr_ctx; i++)
        s->ctx[i].index = i;
    if (s->ops->open_streams) {
        rc = s->ops->open_streams(s->be, s->ctx, s->nr_ctx);
        if (rc)
            return rc;
    }
    s->ctx_open = true;
    return 0;
}

/*
 * Round 0 sends everything.  Tracking starts first so nothing slips by.
 * Both happen while the destination starts up and runs its pre-flight: no
 * page goes out before its "ready".
 */
static int start_tracking(struct source *s)
{
    int rc;

    mig_trace("source", "enabling log-dirty");
    rc = s->ops->log_dirty_enable(s->be);
    if (rc)
        return rc;
    s->logging = true;
    s->logging_since = mig_clock_seconds();
    mig_trace("source", "finding the guest's memory");
    if (s->ops->populated)
        return s->ops->populated(s->be, s->dirty);
    mig_dirty_bitmap_set_range(s->dirty, 0, s->nr_pfns);
    return 0;
}

/* Pause, switch over, and release the guest here once it runs there. */
static int pause_and_switch(struct source *s)
{
    int rc;

    /* The guest gets its whole CPU back first: a guest held to 10% takes
     * ten times as long to suspend (Xen's PV and PVH guests suspend
     * themselves); what it writes meanwhile is in the final harvest.  It
     * then runs on nowhere throttled. */
    rc = throttle(s, 100);
    if (rc)
        return rc;
    s->paused_at = mig_clock_seconds();
    mig_trace("source", "pausing");
    rc = s->ops->pause(s->be);
    if (rc)
        return rc;
    s->paused = true;
    s->result->downtime_parts.pause = mig_clock_seconds() - s->paused_at;
    rc = report(s, MIG_PHASE_SWITCHOVER);
    if (!rc)
        rc = switchover(s);
    if (rc && !(s->cleared && s->resumed_there))
        return rc;
    /* Resumed there (also when only the late verification failed): release
     * here. */
    if (s->logging)
        (void)s->ops->log_dirty_disable(s->be);
    s->logging = false;
    s->paused = false;
    if (rc) {
        (void)s->ops->release(s->be);
        s->result->succeeded = true;
        return rc;
    }
    rc = s->ops->release(s->be);
    if (rc)
        return rc;
    s->result->succeeded = true;
    (void)report(s, MIG_PHASE_DONE);
    return 0;
}

/* A data stream broke: the destination usually says why; add it. */
static void add_destination_reason(struct source *s, char *message, size_t size)
{
    json_object *why = NULL, *type, *text;

    s->control.timeout_ms = 1000;
    if (control_recv(&s->control, NULL, &why) == MIG_EIO && why &&
        json_object_object_get_ex(why, "msg", &type) &&
        !strcmp(json_object_get_string(type), "failed") &&
        json_object_object_get_ex(why, "error", &text))
        snprintf(message + strlen(message), size - strlen(message),
                 "; the destination reports: %s", json_object_get_string(text));
    if (why)
        json_object_put(why);
}

/* The migration failed: tell the destination, resume the guest here. */
static void fail(struct source *s, int code)
{
    char message[1024];

    /* Keep the first error; the clean-up below may overwrite it. */
    snprintf(message, sizeof(message), "%s", mig_error_last());
    if (s->sender && !s->cleared && (code == MIG_EIO || code == MIG_ETRUNC))
        add_destination_reason(s, message, sizeof(message));
    if (s->sender && !s->cleared)
        mig_xfer_sender_abort(s->sender, code, message);
    if (s->control_up && !s->cleared)
        (void)control_send_simple(&s->control, "abort", message);
    if (s->logging)
        (void)s->ops->log_dirty_disable(s->be);
    if (!s->cleared && s->throttle < 100 && throttle(s, 100))
        snprintf(message + strlen(message), sizeof(message) - strlen(message),
                 "; AND the guest's CPU share could not be restored (it runs at %u%%): %s",
                 s->throttle, mig_error_last());
    if (s->paused && !s->cleared && s->ops->resume(s->be))
        snprintf(message + strlen(message), sizeof(message) - strlen(message),
                 "; AND the guest could not be resumed at the source: %s",
                 mig_error_last());
    else if (s->paused && s->cleared) {
        s->result->state_unknown = true;
        snprintf(message + strlen(message), sizeof(message) - strlen(message),
                 "; the destination was cleared to resume but did not confirm: "
                 "the guest is left paused here; check the destination before "
                 "resuming it");
    }
    if (s->log)
        xtl_log(s->log, XTL_ERROR, -1, "migrate", "%s", message);
    mig_error_set(code, "%s", message);
}

int mig_migrate_send(const struct mig_source_ops *ops, void *backend,
                     int control_in, int control_out,
                     const struct mig_migrate_options *opts,
                     struct xentoollog_logger *log,
                     struct mig_migrate_result *result)
{
    struct source s = { .ops = ops, .be = backend, .opts = opts, .log = log,
                        .result = result };
    int rc;

    memset(result, 0, sizeof(*result));
    result->predicted_downtime_ms = -1;
    s.start = mig_clock_seconds();
    if (!opts || opts->version < MIG_MIGRATE_OPTIONS_VERSION_MIN ||
        opts->version > MIG_MIGRATE_OPTIONS_VERSION)
        return mig_error_set(MIG_EINVAL, "migrate options version %u is not %u to %u: "
                             "initialise them with MIG_MIGRATE_OPTIONS_INIT",
                             opts ? opts->version : 0, MIG_MIGRATE_OPTIONS_VERSION_MIN,
                             MIG_MIGRATE_OPTIONS_VERSION);
    if (opts->version >= 6 && opts->encrypt && opts->cipher != MIG_MIGRATE_CIPHER_AUTO &&
        !mig_xfer_cipher_name(opts->cipher))
        return mig_error_set(MIG_EINVAL, "migrate options: cipher %u is none of "
                             "MIG_MIGRATE_CIPHER_AUTO and MIG_XFER_CIPHER_*", opts->cipher);
    result->streams = opts->streams;
    result->encrypted = opts->encrypt;
    result->tracing = opts->tracing;
    rc = watch_start(&s);
    if (rc)
        return rc;
    mig_host_hide_begin();          /* a key and guest memory come */
    rc = source_setup(&s, control_in, control_out);
    if (!rc)
        rc = report(&s, MIG_PHASE_CONNECT);
    if (!rc) {
        mig_trace("source", "connecting");
        rc = handshake_start(&s);
    }
    if (!rc)
        rc = start_tracking(&s);
    if (!rc) {
        mig_trace("source", "waiting for the destination");
        rc = handshake_finish(&s);
    }
    if (!rc && probing(&s))
        rc = probe_and_predict(&s);
    if (!rc && dry_run(&s)) {
        rc = end_dry_run(&s);
    } else if (!rc) {
        mig_trace("source", "destination ready");
        rc = precopy(&s);
        if (!rc)
            rc = pause_and_switch(&s);
    }
    if (rc)
        fail(&s, rc);
    watch_stop(&s);
    result->reconnects = mig_xfer_sender_reconnects(s.sender);
    OPENSSL_cleanse(s.key, sizeof(s.key));
    result->total_seconds = mig_clock_seconds() - s.start;
    mig_xfer_sender_close(s.sender);
    if (s.ctx_open && ops->close_streams)
        ops->close_streams(backend, s.ctx, s.nr_ctx);
    free(s.ctx);
    mig_precopy_free(s.policy);
    mig_dirty_bitmap_free(s.dirty);
    free(s.last_hash);
    free(s.pfns);
    if (s.control_up)
        control_dispose(&s.control);
    mig_host_hide_end();
    return rc;
}
