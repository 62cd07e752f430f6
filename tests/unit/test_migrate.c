/*
 * test_migrate.c: source and destination of a migration (libmig/migrate)
 * in one process, over a real control pipe and real loopback streams, on
 * the memory test double.  The guest is dirtied between rounds through the
 * progress callback, so each run is deterministic.  Asserts the
 * destination's memory equals the source's at pause, and that every
 * failure leaves the guest running at the source exactly once.
 *
 * A relay thread between the source's control output and the destination's
 * control input plays a lying source: it moves the "state" message's
 * final_sent or final_pages by one, keeping the channel's framing, and the
 * destination must refuse the switchover (MIG_ECORRUPT naming the true and
 * the announced number) while the guest resumes at the source, once.  The
 * same relay telling the truth must change nothing.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mem_backend.h"
#include "migrate/cipher.h"
#include "migrate/control.h"
#include "mig_dirty.h"
#include "mig_migrate.h"
#include "mig_xfer.h"

#define PFNS 4096      /* 16 MiB */

struct dest_side {
    struct mem_backend be;
    const struct mig_destination_ops *ops;  /* NULL: mem_destination_ops */
    struct mig_migrate_options opts;
    struct mig_migrate_result result;
    int in, out, rc;
    char message[1024];
};

static void *dest_main(void *arg)
{
    struct dest_side *d = arg;

    d->rc = mig_migrate_receive(d->ops ? d->ops : &mem_destination_ops, &d->be, d->in,
                                d->out, &d->opts, NULL, &d->result);
    if (d->rc)
        snprintf(d->message, sizeof(d->message), "%s", mig_error_last());
    close(d->out);
    return NULL;
}

struct dirtier {
    unsigned int pages_per_round;
    unsigned int rounds_seen;
    int cancel_at_round;        /* -1: never */
    bool rewrite_same;          /* write the byte already there */
    bool steady;                /* the same number of pages every round */
    bool miss_one;              /* a write dirty tracking does not see */
    bool retype;                /* round 0: pages change type, not content */
    bool dumpable_seen;         /* a progress report found the process dumpable */
    bool scale_by_throttle;     /* write fewer pages as the guest is throttled */
    _Atomic bool *fail_when_throttled;  /* set once a report says throttled */
    unsigned int predictions;   /* MIG_PHASE_PREDICT reports with their figures */
    /* reports within a round (options version 8, progress_interval_ms) */
    unsigned int in_round_reports;
    unsigned int round_ends;    /* MIG_PHASE_PRECOPY reports */
    uint64_t round_done_seen;   /* the last in-round round_done, 0 at a round's end */
    bool live_wrong;            /* a report whose round figures do not add up */
    bool cancel_in_round;       /* cancel at the first report within a round */
};

/* The guest's writes during a round (called at each harvest). */
static void guest_writes(struct mem_backend *m, void *arg)
{
    struct dirtier *w = arg;
    unsigned int pages = w->scale_by_throttle
                         ? w->pages_per_round * m->throttle_percent / 100 : w->pages_per_round;

    for (unsigned int i = 0; i < pages; i++) {
        uint64_t pfn = (w->rounds_seen * 977 + i * 13) % PFNS;
        uint8_t value = w->rewrite_same ? m->memory[pfn * 4096 + pfn % 4096]
                                        : (uint8_t)(w->rounds_seen + i + 1);

        mem_backend_write(m, pfn, value);
    }
    if (w->retype && w->rounds_seen == 0)
        for (uint64_t pfn = 0; pfn < 50; pfn++)   /* zero pages among them */
            mem_backend_set_type(m, pfn, (unsigned int)(pfn % 4) + 1);
    if (w->miss_one && w->rounds_seen == 0)
        m->memory[99 * 4096 + 5] ^= 0xff;      /* not marked dirty */
    /* Pages dirtied each round shrink, so the policy converges. */
    if (!w->steady)
        w->pages_per_round /= 2;
    w->rounds_seen++;
}

static int cancel_hook(const struct mig_progress *p, void *payload)
{
    struct dirtier *w = payload;

    /* The key and the guest's memory are held: nobody may dump or trace. */
    if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
        w->dumpable_seen = true;
    if (w->fail_when_throttled && p->throttle_percent < 100)
        atomic_store(w->fail_when_throttled, true);
    if (p->phase == MIG_PHASE_PREDICT && p->probe && p->prediction)
        w->predictions++;
    if (p->in_round) {          /* on a stream thread, never two at once */
        w->in_round_reports++;
        if (p->phase != MIG_PHASE_PRECOPY || !p->round_pages ||
            p->round_done > p->round_pages || p->round_done < w->round_done_seen ||
            p->round_elapsed <= 0 || (int)p->round != (int)w->round_ends ||
            p->round_sent != (p->round_done == p->round_pages))
            w->live_wrong = true;
        w->round_done_seen = p->round_done;
        return w->cancel_in_round;
    }
    if (p->phase == MIG_PHASE_PRECOPY) {
        if (p->round_done != p->round_pages || p->round_elapsed < 0)
            w->live_wrong = true;
        w->round_ends++;
        w->round_done_seen = 0;
    } else if (p->round_pages || p->round_done) {
        w->live_wrong = true;   /* a round's figures in its own report only */
    }

    return p->phase == MIG_PHASE_PRECOPY && (int)p->round == w->cancel_at_round;
}

/*
 * A relay between the source's control output and the destination's
 * control input.  It keeps the channel's framing (control.h): a line, then
 * the raw bytes that line announces (hello: prologue_length; state: length
 * plus dirty_set_length), which it forwards untouched.  Every line but
 * "state" goes through byte for byte; the state line is decoded and
 * encoded again with final_sent and final_pages moved by the deltas, so
 * with deltas of 0 it must come out as it went in.  With move_set_bit, the
 * compacted final dirty set after it is decoded and encoded again with its
 * lowest pfn moved to the lowest pfn outside it (the same count: a set
 * that leaves out a page that arrived), and the line's dirty_set_length
 * follows the new encoding.  With drop_ciphers, the hello line is encoded
 * again without its "ciphers" member, as a source from before the cipher
 * negotiation sends it.  Runs on its own thread
 * until the source closes its end, then closes the destination's.  Never
 * calls Check (not the test's thread): it reports through error.
 */
struct relay {
    long long final_sent_delta, final_pages_delta;
    bool move_set_bit;
    bool drop_ciphers;                  /* hello without "ciphers": an older source */
    int from_source, to_destination;    /* not owned */
    /* What went through; read once the thread has been joined. */
    unsigned int state_lines;
    bool state_line_changed;            /* the state line forwarded differs */
    unsigned long long true_final_sent, true_final_pages;
    unsigned long long moved_from, moved_to;      /* move_set_bit: the pfns */
    unsigned long long block_bytes;     /* raw bytes after lines, all copied */
    char error[256];                    /* "" unless the relay went wrong */
};

#define RELAY_MAX_LINE (64 * 1024)

/* One line into line (without its newline, NUL-terminated): 1, 0 at EOF. */
static int relay_read_line(struct relay *rl, char *line, size_t *len)
{
    *len = 0;
    for (;;) {
        char ch;
        ssize_t n = read(rl->from_source, &ch, 1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (n == 0 && *len)) {
            snprintf(rl->error, sizeof(rl->error), "reading a line: %s after %zu "
                     "bytes", n ? strerror(errno) : "end of stream", *len);
            return -1;
        }
        if (n == 0)
            return 0;
        if (ch == '\n') {
            line[*len] = '\0';
            return 1;
        }
        if (*len == RELAY_MAX_LINE - 1) {
            snprintf(rl->error, sizeof(rl->error), "a line of over %d bytes",
                     RELAY_MAX_LINE);
            return -1;
        }
        line[(*len)++] = ch;
    }
}

static int relay_write(struct relay *rl, const void *data, size_t len)
{
    const char *p = data;

    while (len) {
        ssize_t n = send(rl->to_destination, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(rl->error, sizeof(rl->error), "writing to the destination: %s",
                     strerror(errno));
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read exactly len bytes from the source into buf. */
static int relay_read_exact(struct relay *rl, void *buf, size_t len)
{
    char *p = buf;

    while (len) {
        ssize_t n = read(rl->from_source, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(rl->error, sizeof(rl->error), "a block ended %zu bytes short: %s",
                     len, n ? strerror(errno) : "end of stream");
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * Read the compacted final dirty set (len bytes) and put in *out (malloc'ed,
 * the caller's) the same set with its lowest pfn moved to the lowest pfn
 * outside it.
 */
static int relay_move_set_bit(struct relay *rl, size_t len, void **out, size_t *out_len)
{
    struct mig_dirty_bitmap *set = NULL;
    void *in = malloc(len ? len : 1);
    uint64_t nr_pfns = 0, pfn;
    int rc = -1;

    if (!in || relay_read_exact(rl, in, len))
        goto out;
    if (mig_dirty_compact_peek_nr_pfns(in, len, &nr_pfns) ||
        mig_dirty_bitmap_create(nr_pfns, &set) || mig_dirty_compact_decode(in, len, set)) {
        snprintf(rl->error, sizeof(rl->error), "the final dirty set does not decode: %s",
                 mig_error_last());
        goto out;
    }
    rl->moved_from = mig_dirty_bitmap_next_set(set, 0);
    for (pfn = 0; pfn < nr_pfns && mig_dirty_bitmap_test(set, pfn); pfn++)
        ;
    rl->moved_to = pfn;
    if (rl->moved_from >= nr_pfns || pfn >= nr_pfns) {
        snprintf(rl->error, sizeof(rl->error), "a final dirty set of %llu of %llu pfns "
                 "has no bit to move", (unsigned long long)mig_dirty_bitmap_count(set),
                 (unsigned long long)nr_pfns);
        goto out;
    }
    if (mig_dirty_bitmap_clear(set, rl->moved_from) || mig_dirty_bitmap_set(set, pfn) ||
        mig_dirty_compact_encode(set, out, out_len)) {
        snprintf(rl->error, sizeof(rl->error), "moving a bit: %s", mig_error_last());
        goto out;
    }
    rc = 0;
out:
    mig_dirty_bitmap_free(set);
    free(in);
    return rc;
}

/* Copy len raw bytes from the source to the destination, unchanged. */
static int relay_copy_block(struct relay *rl, unsigned long long len)
{
    char chunk[4096];

    while (len) {
        ssize_t n = read(rl->from_source, chunk,
                         len < sizeof(chunk) ? (size_t)len : sizeof(chunk));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(rl->error, sizeof(rl->error), "a block ended %llu bytes short: %s",
                     len, n ? strerror(errno) : "end of stream");
            return -1;
        }
        if (relay_write(rl, chunk, (size_t)n))
            return -1;
        rl->block_bytes += (unsigned long long)n;
        len -= (unsigned long long)n;
    }
    return 0;
}

/* The integer member key of m, which must be there and not negative. */
static int relay_get_count(struct relay *rl, json_object *m, const char *key,
                           unsigned long long *value)
{
    json_object *v;

    if (!json_object_object_get_ex(m, key, &v) || !json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) < 0) {
        snprintf(rl->error, sizeof(rl->error), "a line without the count '%s'", key);
        return -1;
    }
    *value = (unsigned long long)json_object_get_int64(v);
    return 0;
}

/*
 * Rewrite the state line m (length len in line) and forward it with the
 * device state and the compacted final dirty set that follow it.
 */
static int relay_forward_state(struct relay *rl, json_object *m, const char *line,
                               size_t len)
{
    unsigned long long state_len, set_len;
    void *set = NULL;
    size_t new_set_len = 0;
    const char *text;
    int rc = -1;

    if (relay_get_count(rl, m, "final_sent", &rl->true_final_sent) ||
        relay_get_count(rl, m, "final_pages", &rl->true_final_pages) ||
        relay_get_count(rl, m, "length", &state_len) ||
        relay_get_count(rl, m, "dirty_set_length", &set_len))
        return -1;
    rl->state_lines++;
    json_object_object_add(m, "final_sent", json_object_new_int64(
        (long long)rl->true_final_sent + rl->final_sent_delta));
    json_object_object_add(m, "final_pages", json_object_new_int64(
        (long long)rl->true_final_pages + rl->final_pages_delta));
    if (rl->move_set_bit) {
        /* The set comes after the state: hold the state back until then. */
        void *state = malloc(state_len ? state_len : 1);

        if (!state || relay_read_exact(rl, state, state_len) ||
            relay_move_set_bit(rl, set_len, &set, &new_set_len)) {
            free(state);
            goto out;
        }
        json_object_object_add(m, "dirty_set_length", json_object_new_int64(
            (long long)new_set_len));
        text = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN);
        rl->state_line_changed = true;
        rc = relay_write(rl, text, strlen(text)) || relay_write(rl, "\n", 1) ||
             relay_write(rl, state, state_len) || relay_write(rl, set, new_set_len) ? -1 : 0;
        rl->block_bytes += state_len + new_set_len;
        free(state);
        goto out;
    }
    text = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN);
    rl->state_line_changed = strlen(text) != len || memcmp(text, line, len);
    if (relay_write(rl, text, strlen(text)) || relay_write(rl, "\n", 1))
        goto out;
    rc = relay_copy_block(rl, state_len + set_len);
out:
    free(set);
    return rc;
}

/* Forward one line and the block it announces. */
static int relay_forward_message(struct relay *rl, char *line, size_t len)
{
    json_object *m = json_tokener_parse(line), *type;
    unsigned long long block = 0;
    const char *name;
    int rc;

    if (!m || !json_object_object_get_ex(m, "msg", &type)) {
        snprintf(rl->error, sizeof(rl->error), "not a control message: '%.80s'", line);
        rc = -1;
        goto out;
    }
    name = json_object_get_string(type);
    if (!strcmp(name, "state")) {
        /* The line, the device state, then the compacted final dirty set. */
        rc = relay_forward_state(rl, m, line, len);
        goto out;
    }
    rc = 0;
    if (!strcmp(name, "hello") && json_object_object_get_ex(m, "prologue_length", NULL))
        rc = relay_get_count(rl, m, "prologue_length", &block);
    if (!rc && !strcmp(name, "hello") && rl->drop_ciphers) {
        const char *text;

        json_object_object_del(m, "ciphers");
        text = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN);
        rc = relay_write(rl, text, strlen(text));
        if (!rc)
            rc = relay_write(rl, "\n", 1);
    } else if (!rc) {
        line[len] = '\n';           /* this line goes through as it came */
        rc = relay_write(rl, line, len + 1);
    }
    if (!rc)
        rc = relay_copy_block(rl, block);
out:
    if (m)
        json_object_put(m);
    return rc;
}

static void *relay_main(void *arg)
{
    struct relay *rl = arg;
    char *line = malloc(RELAY_MAX_LINE + 1);
    size_t len;

    if (!line)
        snprintf(rl->error, sizeof(rl->error), "out of memory");
    else
        while (relay_read_line(rl, line, &len) > 0 && !relay_forward_message(rl, line, len))
            ;
    free(line);
    /* As if the source had closed the destination's control input. */
    shutdown(rl->to_destination, SHUT_WR);
    return NULL;
}
struct run {
    const struct mig_source_ops *ops;
    struct mem_backend src;
    struct dest_side dst;
    struct mig_migrate_options opts;
    struct mig_migrate_result result;
    struct dirtier w;
    int rc;
    char message[1024];
};

/*
 * Run the migration; with relay not NULL, the source's control output
 * reaches the destination through it (the other direction stays direct).
 */
static void migrate_through(struct run *r, unsigned int streams, struct relay *relay)
{
    int to_dest[2], to_src[2], relayed[2] = { -1, -1 };
    pthread_t t, relay_thread;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, to_dest), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, to_src), 0);
    r->dst.in = to_dest[1];
    r->dst.out = to_src[0];
    if (relay) {
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, relayed), 0);
        relay->from_source = to_dest[1];
        relay->to_destination = relayed[0];
        r->dst.in = relayed[1];
        ck_assert_int_eq(pthread_create(&relay_thread, NULL, relay_main, relay), 0);
    }
    ck_assert_int_eq(pthread_create(&t, NULL, dest_main, &r->dst), 0);
    r->opts.streams = streams;
    r->opts.progress = cancel_hook;
    r->opts.progress_payload = &r->w;
    r->src.guest_writes = guest_writes;
    r->src.guest_writes_arg = &r->w;
    r->rc = mig_migrate_send(r->ops, &r->src, to_src[1], to_dest[0],
                             &r->opts, NULL, &r->result);
    if (r->rc)
        snprintf(r->message, sizeof(r->message), "%s", mig_error_last());
    close(to_dest[0]);
    if (relay)
        pthread_join(relay_thread, NULL);
    pthread_join(t, NULL);
    close(to_dest[1]);
    close(to_src[1]);
    if (relay) {
        close(relayed[0]);
        close(relayed[1]);
    }
    /* Every stream context the engine opened it closed again, both ends;
     * a migration that went through had one per stream... */
    ck_assert_uint_eq(r->src.streams_opened, r->src.streams_closed);
    ck_assert_uint_eq(r->dst.be.streams_opened, r->dst.be.streams_closed);
    /* ... one per stream it may widen to, opened up front */
    if (!r->rc) {
        unsigned int most = r->opts.policy.max_streams > streams &&
                            (r->opts.policy.ladder & MIG_LADDER_WIDEN)
                            ? r->opts.policy.max_streams : streams;

        ck_assert_uint_eq(r->src.streams_opened, 1);
        ck_assert_uint_eq(r->src.streams_open, most);
        ck_assert_uint_eq(r->dst.be.streams_open, most);
    }
}

static void migrate(struct run *r, unsigned int streams)
{
    migrate_through(r, streams, NULL);
}

static void setup(struct run *r, unsigned int dirty_pages)
{
    memset(r, 0, sizeof(*r));
    r->ops = &mem_source_ops;
    mem_backend_init(&r->src, PFNS, true);
    mem_backend_init(&r->dst.be, 0, false);
    r->opts = (struct mig_migrate_options)MIG_MIGRATE_OPTIONS_INIT;
    /* A stall limit of last resort, longer than the test double's own wait
     * for the other side (MEM_BACKEND_WAIT_S), so that a step that never
     * comes is reported as such; every case here ends on an event. */
    r->opts.timeout_ms = 2 * MEM_BACKEND_WAIT_S * 1000;
    r->dst.opts = r->opts;
    r->opts.policy.max_downtime_ms = 5000;  /* generous: test machines are slow */
    r->w.pages_per_round = dirty_pages;
    r->w.cancel_at_round = -1;
}

/* Both ends succeeded, the memory arrived whole and the source verified it. */
static void assert_arrived_verified(struct run *r)
{
    ck_assert_msg(r->rc == 0, "source: %s", r->message);
    ck_assert_msg(r->dst.rc == 0, "destination: %s", r->dst.message);
    ck_assert(r->result.memory_verified);
    ck_assert_int_eq(memcmp(r->src.memory, r->dst.be.memory, (size_t)PFNS * 4096), 0);
}

static void teardown(struct run *r)
{
    mem_backend_dispose(&r->src);
    mem_backend_dispose(&r->dst.be);
}

/* The guest runs exactly once: at the source, never resumed elsewhere. */
static void assert_running_at_source(struct run *r)
{
    ck_assert(!r->src.paused);
    ck_assert(!r->src.released);
    ck_assert(!r->src.logging);
    ck_assert_uint_eq(r->dst.be.resumes, 0);
}

/* A migration that failed before the first page: never paused, nothing
 * read, the guest running at the source only. */
static void assert_failed_before_any_page(struct run *r)
{
    assert_running_at_source(r);
    ck_assert_uint_eq(r->src.pauses, 0);
    ck_assert_uint_eq(r->src.pages_read, 0);
}

/* Paused for the switchover, then resumed at the source, once. */
static void assert_resumed_at_source(struct run *r)
{
    ck_assert_uint_eq(r->src.pauses, 1);
    ck_assert_uint_eq(r->src.resumes, 1);
    assert_running_at_source(r);
}

static void successful_migration(unsigned int streams)
{
    struct run r;
    int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);

    setup(&r, 600);
    migrate(&r, streams);
    /* Not dumpable while the migration ran; as before once it ended. */
    ck_assert(!r.w.dumpable_seen);
    ck_assert_int_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), dumpable);
    ck_assert_msg(r.rc == 0, "source: %s", r.message);
    ck_assert_msg(r.dst.rc == 0, "destination: %s", r.dst.message);
    ck_assert(r.result.succeeded && r.dst.result.succeeded);
    ck_assert(r.src.released);
    ck_assert(r.src.paused);                          /* never resumed here */
    ck_assert_uint_eq(r.dst.be.resumes, 1);
    ck_assert_uint_eq(r.dst.be.nr_pfns, PFNS);
    ck_assert_int_eq(memcmp(r.src.memory, r.dst.be.memory, (size_t)PFNS * 4096), 0);
    ck_assert_str_eq(r.dst.be.state, r.src.state);
    ck_assert_uint_eq(r.result.memory_hash, r.dst.result.memory_hash);
    ck_assert(r.result.memory_verified);
    /* The source's memory was hashed in one range per stream, all of it. */
    ck_assert_uint_eq(r.src.hash_calls, streams);
    ck_assert_uint_eq(r.src.hashed_pages, PFNS);
    ck_assert_uint_ge(r.result.rounds, 1);
    /* Every 5th page is zero: the first round skipped their data. */
    ck_assert_uint_ge(r.result.zero_pages, PFNS / 5);
    ck_assert_uint_ge(r.result.pages_sent, PFNS);
    ck_assert_uint_eq(r.result.pages_sent, r.dst.result.pages_sent);
    /* The estimate the policy switched over on, the fixed 20 ms included;
     * the destination predicts nothing. */
    ck_assert(r.result.predicted_downtime_ms >= 20);
    ck_assert(r.dst.result.predicted_downtime_ms < 0);
    teardown(&r);
}

START_TEST(test_prefetch_announces_what_is_read)
{
    struct run r;

    setup(&r, 600);
    migrate(&r, 3);
    ck_assert_msg(r.rc == 0, "source: %s", r.message);
    ck_assert_int_eq(memcmp(r.src.memory, r.dst.be.memory, (size_t)PFNS * 4096), 0);
    /* Every page read was announced first, in ascending order per batch. */
    ck_assert_uint_ge(r.src.prefetched, PFNS);
    ck_assert_uint_eq(r.src.prefetch_disorder, 0);
    teardown(&r);
}
END_TEST

START_TEST(test_memory_digest_sees_moves_and_changes)
{
    uint64_t a[64] = { 0 }, b[64];

    for (int i = 0; i < 64; i += 3)
        a[i] = 0x1234567890abcdefULL * (uint64_t)(i + 1);
    memcpy(b, a, sizeof(a));
    ck_assert_uint_eq(mig_memory_digest(a, 64), mig_memory_digest(b, 64));
    b[3] ^= 1;                                  /* one page differs */
    ck_assert_uint_ne(mig_memory_digest(a, 64), mig_memory_digest(b, 64));
    memcpy(b, a, sizeof(a));
    b[4] = b[3];                                /* a page at the wrong pfn */
    b[3] = 0;
    ck_assert_uint_ne(mig_memory_digest(a, 64), mig_memory_digest(b, 64));
    memcpy(b, a, sizeof(a));
    b[5] = 42;                                  /* an extra page */
    ck_assert_uint_ne(mig_memory_digest(a, 64), mig_memory_digest(b, 64));
    /* The same pages in a larger guest are another guest. */
    ck_assert_uint_ne(mig_memory_digest(a, 64), mig_memory_digest(a, 63));
}
END_TEST

/* Kept page by page, the digest is the one-pass digest, at every step. */
START_TEST(test_memory_digest_kept_up_to_date)
{
    uint64_t keys[300] = { 0 }, sum = 0;

    for (unsigned int step = 0; step < 2000; step++) {
        uint64_t pfn = (step * 7919u) % 300;
        uint64_t key = step % 9 ? mig_page_key(0x5bd1e995u * (uint64_t)(step + 1), step % 5)
                                : 0;            /* some pages leave again */

        sum += mig_memory_digest_term(pfn, key) - mig_memory_digest_term(pfn, keys[pfn]);
        keys[pfn] = key;
        if (step % 97 == 0)
            ck_assert_uint_eq(mig_memory_digest_finish(sum, 300),
                              mig_memory_digest(keys, 300));
    }
    ck_assert_uint_eq(mig_memory_digest_finish(sum, 300), mig_memory_digest(keys, 300));
    ck_assert_uint_eq(mig_memory_digest_term(5, 0), 0);
}
END_TEST

/*
 * A control message and the blocks that go with it leave in one write: on
 * a SOCK_SEQPACKET pair, where every write is one record, the first read
 * gets the line and both blocks whole.
 */
START_TEST(test_control_message_and_blocks_leave_together)
{
    struct control c;
    json_object *m = json_object_new_object();
    char got[256];
    int sv[2];
    ssize_t n;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_int_eq(control_init(&c, -1, sv[0], 1000), 0);
    json_object_object_add(m, "msg", json_object_new_string("state"));
    ck_assert_int_eq(control_send_blocks(&c, m, (struct iovec[]){ { "ABC", 3 },
                     { NULL, 0 }, { "de", 2 } }, 3), 0);
    n = recv(sv[1], got, sizeof(got) - 1, MSG_DONTWAIT);
    ck_assert_int_gt(n, 0);
    got[n] = '\0';
    ck_assert_str_eq(got, "{\"msg\":\"state\"}\nABCde");
    /* more blocks than a message takes: refused, nothing written */
    ck_assert_int_eq(control_send_blocks(&c, m, (struct iovec[5]){ { 0 } }, 5), MIG_EINVAL);
    ck_assert_int_lt(recv(sv[1], got, sizeof(got), MSG_DONTWAIT), 0);
    json_object_put(m);
    control_dispose(&c);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

START_TEST(test_migrate_one_stream)
{
    successful_migration(1);
}
END_TEST

START_TEST(test_migrate_three_streams)
{
    successful_migration(3);
}
END_TEST

/*
 * The last stream's connection is reset in every epoch, the final one
 * (inside the downtime) included: it comes back each time, the epochs are
 * resent, the final dirty set and the memory check still agree, and both
 * ends count the reconnections.  With no tries allowed, the same fault
 * fails the migration and the guest resumes at the source.
 */
START_TEST(test_migrate_survives_resets)
{
    struct run r;

    setup(&r, 600);
    r.opts.inject_fault = MIG_XFER_FAULT_RESET_ROUNDS;
    migrate(&r, 3);
    assert_arrived_verified(&r);
    ck_assert_uint_ge(r.result.reconnects, 2);      /* round 0 and the final epoch */
    ck_assert_uint_eq(r.result.reconnects, r.dst.result.reconnects);
    teardown(&r);

    setup(&r, 600);
    r.opts.inject_fault = MIG_XFER_FAULT_RESET_ROUNDS;
    r.opts.reconnects = 0;
    migrate(&r, 3);
    ck_assert_int_eq(r.rc, MIG_EIO);
    ck_assert_msg(strstr(r.message, "connection reset (injected fault)") != NULL, "message: %s", r.message);
    ck_assert_uint_eq(r.result.reconnects, 0);
    ck_assert_uint_eq(r.src.pauses, 0);             /* round 0 broke */
    assert_running_at_source(&r);
    teardown(&r);
}
END_TEST

/*
 * Version 1 of the options (no max_rate: the caller split the rate per
 * stream itself) is still taken on both sides; a newer one is refused.
 */
START_TEST(test_options_version_1_kept)
{
    struct run r;

    setup(&r, 0);
    r.opts.version = 1;
    r.opts.max_rate_per_stream = UINT64_C(1) << 40;
    r.dst.opts.version = 1;
    migrate(&r, 2);
    ck_assert_msg(r.rc == 0, "source: %s", r.message);
    ck_assert_msg(r.dst.rc == 0, "destination: %s", r.dst.message);
    teardown(&r);

    setup(&r, 0);
    r.opts.version = MIG_MIGRATE_OPTIONS_VERSION + 1;
    ck_assert_int_eq(mig_migrate_send(&mem_source_ops, &r.src, -1, -1, &r.opts, NULL,
                                      &r.result), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "MIG_MIGRATE_OPTIONS_INIT"));
    teardown(&r);
}
END_TEST

START_TEST(test_unchanged_pages_not_resent)
{
    struct run r;

    setup(&r, 256);
    /* Dirty pages without changing them: the same byte written again. */
    r.w.rewrite_same = true;
    migrate(&r, 2);
    ck_assert_msg(r.rc == 0, "source: %s", r.message);
    /* 256 pages dirtied in round 0 (some zero pages among them), none changed. */
    ck_assert_uint_ge(r.result.unchanged_pages, 256);
    ck_assert_uint_eq(r.result.pages_sent, PFNS);
    ck_assert_int_eq(memcmp(r.src.memory, r.dst.be.memory, (size_t)PFNS * 4096), 0);
    teardown(&r);
}
END_TEST

START_TEST(test_page_types_arrive)
{
    struct run r;

    setup(&r, 0);
    for (uint64_t pfn = 0; pfn < PFNS; pfn += 7)
        r.src.types[pfn] = (uint8_t)(pfn % 16);   /* every type, zero pages too */
    r.w.retype = true;                             /* then a change of type only */
    migrate(&r, 3);
    ck_assert_msg(r.rc == 0, "source: %s", r.message);
    ck_assert_msg(r.dst.rc == 0, "destination: %s", r.dst.message);
    ck_assert_int_eq(r.src.types[49], 2);
    ck_assert_int_eq(memcmp(r.src.types, r.dst.be.types, PFNS), 0);
    ck_assert_int_eq(memcmp(r.src.memory, r.dst.be.memory, (size_t)PFNS * 4096), 0);
    teardown(&r);
}
END_TEST

START_TEST(test_destination_refuses)
{
    struct run r;

    setup(&r, 100);
    r.dst.be.fail_prepare = MIG_ENOMEM;
    migrate(&r, 2);
    ck_assert_int_eq(r.rc, MIG_ECOMPAT);
    ck_assert_ptr_nonnull(strstr(r.message, "destination has no room for 4096 pages"));
    ck_assert_int_eq(r.dst.rc, MIG_ENOMEM);
    assert_failed_before_any_page(&r);
    /* Tracking started while the destination decided (and stopped again,
     * assert_running_at_source), but not one page was read for it. */
    ck_assert_uint_eq(r.src.log_enables, 1);
    teardown(&r);
}
END_TEST

/*
 * Tracking cannot start after hello went out (the destination is starting
 * up meanwhile): the source fails with that error, nothing is read, and
 * the destination, waiting for the data connections, learns of it over
 * the control channel at once instead of timing out.
 */
START_TEST(test_tracking_fails_after_hello)
{
    struct run r;

    setup(&r, 100);
    r.src.fail_log_dirty = MIG_EIO;
    migrate(&r, 2);
    ck_assert_int_eq(r.rc, MIG_EIO);
    ck_assert_ptr_nonnull(strstr(r.message, "cannot track this guest's writes"));
    ck_assert_int_eq(r.dst.rc, MIG_ECANCELLED);
    assert_failed_before_any_page(&r);
    teardown(&r);
}
END_TEST

START_TEST(test_policy_gives_up)
{
    struct run r;

    setup(&r, 4000);
    r.w.steady = true;
    r.opts.policy.max_downtime_ms = 1;               /* unreachable: the aim is 22 ms */
    r.opts.policy.max_rounds = 2;
    r.opts.policy.on_no_convergence = MIG_PRECOPY_ABORT;
    migrate(&r, 2);
    ck_assert_int_eq(r.rc, MIG_ECANCELLED);
    ck_assert_ptr_nonnull(strstr(r.message, "given up after 2 rounds"));
    ck_assert(r.result.gave_up);
    ck_assert(r.result.predicted_downtime_ms < 0);    /* it never switched over */
    ck_assert_int_ne(r.dst.rc, 0);
    assert_running_at_source(&r);
    teardown(&r);
}
END_TEST

/* The source ops of the test double with the throttle rung offered. */
static struct mig_source_ops throttled_ops;

/* A steady writer the ladder may throttle, with an unreachable target. */
static void setup_ladder(struct run *r)
{
    setup(r, 3000);
    throttled_ops = mem_source_ops;
    throttled_ops.throttle = mem_backend_throttle;
    r->ops = &throttled_ops;
    r->w.steady = true;
    r->w.scale_by_throttle = true;
    r->opts.policy.ladder = MIG_LADDER_THROTTLE;
    r->opts.policy.max_downtime_ms = 1;             /* unreachable: the aim is 22 ms */
}

/*
 * A guest whose dirty set never shrinks is throttled, a step a round
 * (down to 10%), before the switchover is forced; it is given back its
 * whole CPU as soon as it is paused, and the memory arrives whole.
 */
START_TEST(test_ladder_throttles_and_gives_back)
{
    struct run r;

    setup_ladder(&r);
    migrate(&r, 2);
    ck_assert_msg(r.rc == 0, "source: %s", r.message);
    ck_assert(r.result.memory_verified);
    ck_assert(r.result.forced);
    ck_assert_uint_eq(r.result.ladder.rungs, MIG_LADDER_THROTTLE);
    ck_assert_uint_eq(r.result.ladder.min_throttle_percent, 10);
    ck_assert_uint_eq(r.src.throttle_min, 10);
    ck_assert_uint_eq(r.src.throttle_calls, 4);       /* 50, 25, 10, then 100 */
    ck_assert_uint_eq(r.src.throttle_percent, 100);
    ck_assert_ptr_nonnull(strstr(r.result.reason, "throttled to 10%"));
    teardown(&r);

    /* With the ladder off, the same guest is never throttled. */
    setup_ladder(&r);
    r.opts.policy.ladder = 0;
    migrate(&r, 2);
    ck_assert_msg(r.rc == 0, "source: %s", r.message);
    ck_assert_uint_eq(r.src.throttle_calls, 0);
    ck_assert_uint_eq(r.result.ladder.rungs, 0);
    teardown(&r);
}
END_TEST

/*
 * The ladder widens a migration from 1 to 3 streams, one a round.  Each
 * stream is paced (max_rate_per_stream), so a stream more moves more
 * and the policy keeps widening; the CPUs' headroom is taken as unknown
 * (MIG_MIGRATE_FAULT_CPU_UNKNOWN), whatever the machine's load.  The
 * streams that joined carried pages at both ends, and the memory arrives
 * whole and verified.
 */
START_TEST(test_ladder_widens)
{
    struct run r;
    unsigned int n;

    setup(&r, 400);
    r.w.steady = true;
    r.opts.policy.ladder = MIG_LADDER_WIDEN;
    r.opts.policy.max_streams = 3;
    r.opts.policy.max_downtime_ms = 1;              /* unreachable: the aim is 22 ms */
    r.opts.max_rate_per_stream = 8u << 20;
    r.opts.inject_fault = MIG_MIGRATE_FAULT_CPU_UNKNOWN;
    migrate(&r, 1);
    assert_arrived_verified(&r);
    ck_assert_uint_eq(r.result.ladder.rungs, MIG_LADDER_WIDEN);
    /* to 2 streams at least; to 3 unless the second stream bought less
     * than 10% more rate (a slow machine, valgrind: pacing is then not
     * what limits a stream) */
    n = r.result.ladder.max_streams;
    ck_assert_uint_ge(n, 2);
    ck_assert_uint_le(n, 3);
    ck_assert_uint_eq(r.result.streams, n);
    ck_assert_uint_eq(r.dst.result.streams, n);
    ck_assert_uint_eq(r.src.hash_calls, n);         /* a hash thread per stream */
    for (unsigned int i = 1; i < n; i++) {
        ck_assert_uint_gt(r.src.stream_pages[i], 0);
        ck_assert_uint_gt(r.dst.be.stream_pages[i], 0);
    }
    ck_assert_ptr_nonnull(strstr(r.result.reason, "every stream allowed"));
    teardown(&r);

    /* max_streams no higher than the streams: no widen rung, and one
     * backend context per stream at either end (migrate_through). */
    setup(&r, 400);
    r.w.steady = true;
    r.opts.policy.ladder = MIG_LADDER_WIDEN;
    r.opts.policy.max_streams = 1;
    r.opts.policy.max_downtime_ms = 1;
    r.opts.inject_fault = MIG_MIGRATE_FAULT_CPU_UNKNOWN;
    migrate(&r, 1);
    ck_assert_msg(r.rc == 0, "source: %s", r.message);
    ck_assert_uint_eq(r.result.ladder.rungs, 0);
    ck_assert_uint_eq(r.result.ladder.max_streams, 1);
    ck_assert_uint_eq(r.dst.result.streams, 1);
    teardown(&r);
}
END_TEST

/*
 * The destination dies while the guest is throttled: the guest resumes at
 * the source with its whole CPU; a cancel by the caller does the same.
 */
START_TEST(test_throttle_never_left_behind)
{
    struct run r;

    setup_ladder(&r);
    r.w.fail_when_throttled = &r.dst.be.fail_next_epoch;
    migrate(&r, 2);
    ck_assert_int_ne(r.rc, 0);
    ck_assert_msg(strstr(r.message, "the destination died (test)"), "%s", r.message);
    ck_assert_uint_lt(r.src.throttle_min, 100);
    ck_assert_uint_eq(r.src.throttle_percent, 100);
    ck_assert(!r.src.resumed_throttled);
    assert_running_at_source(&r);
    teardown(&r);

    setup_ladder(&r);
    r.w.cancel_at_round = 3;
    migrate(&r, 1);
    ck_assert_int_eq(r.rc, MIG_ECANCELLED);
    ck_assert_uint_lt(r.src.throttle_min, 100);
    ck_assert_uint_eq(r.src.throttle_percent, 100);
    assert_running_at_source(&r);
    teardown(&r);
}
END_TEST

START_TEST(test_cancel_from_progress)
{
    struct run r;

    setup(&r, 100);
    r.w.cancel_at_round = 0;
    migrate(&r, 1);
    ck_assert_int_eq(r.rc, MIG_ECANCELLED);
    ck_assert_ptr_nonnull(strstr(r.message, "cancelled by the caller"));
    ck_assert(!r.result.gave_up);
    assert_running_at_source(&r);
    teardown(&r);
}
END_TEST

/* Round 0 of 16 MiB at 20 MB/s, raw (no ladder: no compression): 0.8 s. */
static void setup_slow_round(struct run *r, unsigned int interval_ms)
{
    setup(r, 100);
    r->opts.policy.ladder = 0;
    r->opts.max_rate = 20 * 1000 * 1000;
    r->opts.progress_interval_ms = interval_ms;
}

START_TEST(test_progress_within_rounds)
{
    struct run r;

    setup_slow_round(&r, 20);
    migrate(&r, 1);
    assert_arrived_verified(&r);
    /* about 40; at least 3 on a slow machine */
    ck_assert_uint_ge(r.w.in_round_reports, 3);
    ck_assert_msg(!r.w.live_wrong, "a report's round figures do not add up");
    ck_assert_uint_ge(r.w.round_ends, 1);
    teardown(&r);
}
END_TEST

/* Not before version 8, nor with no interval: after each round only. */
START_TEST(test_progress_within_rounds_asked_for)
{
    struct run r;

    setup_slow_round(&r, 20);
    r.opts.version = 7;
    migrate(&r, 1);
    assert_arrived_verified(&r);
    ck_assert_uint_eq(r.w.in_round_reports, 0);
    teardown(&r);

    setup_slow_round(&r, 0);
    migrate(&r, 1);
    assert_arrived_verified(&r);
    ck_assert_uint_eq(r.w.in_round_reports, 0);
    ck_assert_msg(!r.w.live_wrong, "a report's round figures do not add up");
    teardown(&r);
}
END_TEST

START_TEST(test_cancel_within_round)
{
    struct run r;

    setup_slow_round(&r, 20);
    r.w.cancel_in_round = true;
    migrate(&r, 1);
    ck_assert_int_eq(r.rc, MIG_ECANCELLED);
    ck_assert_ptr_nonnull(strstr(r.message, "cancelled by the caller during pre-copy"));
    ck_assert_uint_eq(r.w.in_round_reports, 1);    /* none after the cancel */
    ck_assert_uint_eq(r.result.rounds, 0);     /* within round 0, not after it */
    assert_running_at_source(&r);
    teardown(&r);
}
END_TEST

START_TEST(test_memory_mismatch_not_resumed)
{
    struct run r;

    setup(&r, 100);
    r.dst.be.corrupt_writes = true;         /* the destination's copy differs */
    migrate(&r, 2);
    ck_assert_int_eq(r.rc, MIG_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(r.message, "destination memory differs"));
    ck_assert_int_eq(r.dst.rc, MIG_ECANCELLED);
    assert_resumed_at_source(&r);
    /* Handed over while the destination restored; the resume undid it. */
    ck_assert_uint_eq(r.src.handovers, 1);
    ck_assert(!r.src.handed_over);
    teardown(&r);
}
END_TEST

/*
 * The destination's digest looks at its stored pages in place (stored_page)
 * and compares them with what arrived: equal, the migration verifies (and
 * no page is hashed twice); a store that went wrong is still caught.
 */
START_TEST(test_memory_digest_in_place)
{
    struct run r;

    setup(&r, 100);
    r.dst.ops = &mem_destination_in_place_ops;
    migrate(&r, 2);
    ck_assert_msg(r.rc == 0, "source: %s", r.message);
    ck_assert_msg(r.dst.rc == 0, "destination: %s", r.dst.message);
    ck_assert(r.result.memory_verified);
    ck_assert_uint_ge(r.dst.be.pages_in_place, PFNS);
    teardown(&r);

    setup(&r, 100);
    r.dst.ops = &mem_destination_in_place_ops;
    r.dst.be.corrupt_writes = true;         /* the destination's copy differs */
    migrate(&r, 2);
    ck_assert_int_eq(r.rc, MIG_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(r.message, "destination memory differs"));
    assert_resumed_at_source(&r);
    teardown(&r);
}
END_TEST

/*
 * The source hands over (xl's rename) while the destination restores, not
 * after: here the destination's restore waits for the handover, and would
 * wait in vain (MEM_BACKEND_WAIT_S) if it came only after "received".
 */
START_TEST(test_handover_while_destination_restores)
{
    struct run r;
    _Atomic bool handed = false;

    setup(&r, 100);
    r.src.handed_flag = &handed;
    r.dst.be.wait_for = &handed;
    migrate(&r, 2);
    ck_assert_msg(r.rc == 0, "source: %s", r.message);
    ck_assert_msg(r.dst.rc == 0, "destination: %s", r.dst.message);
    ck_assert_msg(!r.dst.be.waited_in_vain, "the destination's restore waited %d s in "
                  "vain for the source's handover", MEM_BACKEND_WAIT_S);
    ck_assert_uint_eq(r.src.handovers, 1);
    ck_assert(r.src.handed_over && r.src.released);
    ck_assert_uint_eq(r.dst.be.resumes, 1);
    teardown(&r);
}
END_TEST

/* A failed handover: never cleared, the destination told, the guest back. */
START_TEST(test_handover_fails)
{
    struct run r;

    setup(&r, 100);
    r.src.fail_handover = MIG_EIO;
    migrate(&r, 2);
    ck_assert_int_eq(r.rc, MIG_EIO);
    ck_assert_ptr_nonnull(strstr(r.message, "cannot rename the guest away"));
    ck_assert_int_eq(r.dst.rc, MIG_ECANCELLED);
    ck_assert_ptr_nonnull(strstr(r.dst.message, "cannot rename the guest away"));
    assert_resumed_at_source(&r);
    teardown(&r);
}
END_TEST

/*
 * A switchover that fails while the source's memory hash still runs (here
 * it waits for a flag nobody sets, until cancelled): the hash is cancelled, the
 * guest resumes at the source once, and the error is the failure's, not
 * the cancelled hash's.
 */
START_TEST(test_failed_switchover_cancels_hash)
{
    struct run r;
    _Atomic bool never = false;

    setup(&r, 100);
    r.dst.be.corrupt_writes = true;
    r.src.wait_for = &never;
    migrate(&r, 2);
    ck_assert_int_eq(r.rc, MIG_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(r.message, "destination memory differs"));
    ck_assert(r.src.hash_cancelled);
    ck_assert(!r.result.memory_verified);
    assert_resumed_at_source(&r);
    teardown(&r);
}
END_TEST

/*
 * A migration of 100 dirtied pages in which the source's memory hash ends
 * before the destination is ready (hash_first: the destination's restore
 * waits for it, and for the hash threads to end) or after the destination
 * resumed (the hash waits for that); flag is the switch the two sides
 * share.  Neither side may have waited in vain for the other.
 */
static void migrate_ordered(struct run *r, bool miss_one, bool hash_first,
                            _Atomic bool *flag, bool resumes_here)
{
    setup(r, 100);
    r->opts.resumes_here = resumes_here;
    r->w.miss_one = miss_one;
    if (hash_first) {
        r->src.hashed_flag = flag;
        r->dst.be.wait_for = flag;
    } else {
        r->src.wait_for = flag;
        r->dst.be.resumed_flag = flag;
    }
    migrate(r, 2);
    ck_assert_msg(!r->dst.be.waited_in_vain, "the destination's restore waited %d s in "
                  "vain for the source's memory hash", MEM_BACKEND_WAIT_S);
    ck_assert_msg(!r->src.waited_in_vain, "the source's memory hash waited %d s in vain "
                  "for the destination's resume", MEM_BACKEND_WAIT_S);
}

/*
 * The source's memory hash finishes while the destination restores (the
 * destination waits for it): the miss stops the destination before "go",
 * and the guest keeps running at the source.
 */
START_TEST(test_missed_write_stops_before_go)
{
    struct run r;
    _Atomic bool hashed = false;

    migrate_ordered(&r, true, true, &hashed, false);
    ck_assert_int_eq(r.rc, MIG_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(r.message, "dirty tracking missed a write"));
    ck_assert_ptr_nonnull(strstr(r.message, "keeps running at the source"));
    ck_assert(!r.result.succeeded);
    ck_assert(!r.result.memory_verified);
    ck_assert_int_ne(r.dst.rc, 0);
    assert_resumed_at_source(&r);
    teardown(&r);
}
END_TEST

/*
 * The source's memory hash is still running when the destination is ready
 * (it waits for the destination's resume here): the destination is cleared
 * without waiting for it, and the late check reports the miss.
 */
START_TEST(test_missed_write_found_after_resume)
{
    struct run r;
    _Atomic bool resumed = false;

    migrate_ordered(&r, true, false, &resumed, false);
    /* The guest runs at the destination; the late check reports the miss. */
    ck_assert_int_eq(r.rc, MIG_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(r.message, "dirty tracking missed a write"));
    ck_assert_ptr_nonnull(strstr(r.message, "the guest runs at the destination"));
    ck_assert(r.result.succeeded);
    ck_assert(!r.result.memory_verified);
    ck_assert(!r.result.verified_before_go);
    ck_assert_int_eq(r.dst.rc, 0);
    ck_assert_uint_eq(r.dst.be.resumes, 1);
    ck_assert(r.src.released);
    ck_assert_uint_eq(r.src.resumes, 0);        /* never two running copies */
    teardown(&r);
}
END_TEST

/* Both orders verify a correct migration; the result says which it was. */
static void verified_migration(bool hash_first)
{
    struct run r;
    _Atomic bool flag = false;

    migrate_ordered(&r, false, hash_first, &flag, false);
    ck_assert_msg(r.rc == 0, "source: %s", r.message);
    ck_assert(r.result.succeeded);
    ck_assert(r.result.memory_verified);
    ck_assert(r.result.verified_before_go == hash_first);
    ck_assert_uint_eq(r.result.memory_hash, r.dst.result.memory_hash);
    ck_assert(r.src.released);
    ck_assert_uint_eq(r.dst.be.resumes, 1);
    teardown(&r);
}

START_TEST(test_verified_before_go)
{
    verified_migration(true);
}
END_TEST

START_TEST(test_verified_after_resume)
{
    verified_migration(false);
}
END_TEST

/*
 * A live checkpoint (resumes_here): the guest resumes at the source once
 * the destination has it, so a hash of its paused memory that has not
 * ended by "go" is dropped, not waited for (the test double's hash waits
 * for the destination's resume, so it cannot end before).  The miss it
 * would have found goes unreported: the price, said in the result.
 */
START_TEST(test_checkpoint_drops_unfinished_check)
{
    struct run r;
    _Atomic bool resumed = false;

    migrate_ordered(&r, true, false, &resumed, true);
    ck_assert_msg(r.rc == 0, "source: %s", r.message);
    ck_assert(r.result.succeeded);
    ck_assert(r.result.verify_dropped);
    ck_assert(!r.result.memory_verified);
    ck_assert(!r.result.verified_before_go);
    ck_assert_uint_eq(r.dst.be.resumes, 1);
    ck_assert(r.src.released);
    teardown(&r);
}
END_TEST

/*
 * A live checkpoint whose source resumes early: the guest runs on here
 * once everything is sent, before the destination has restored (its
 * restore waits for that resume), so the destination's work is no part
 * of the downtime; no hash of the paused memory is started (dropped).
 */
static void setup_checkpoint_early(struct run *r, _Atomic bool *resumed)
{
    static struct mig_source_ops early_ops;

    setup(r, 100);
    early_ops = mem_source_ops;
    early_ops.resume_early = mem_backend_resume_early;
    r->ops = &early_ops;
    r->opts.resumes_here = true;
    r->src.early_flag = resumed;
    r->dst.be.wait_for = resumed;
}

START_TEST(test_checkpoint_resumes_early)
{
    struct run r;
    _Atomic bool resumed = false;

    setup_checkpoint_early(&r, &resumed);
    migrate(&r, 2);
    ck_assert_msg(r.rc == 0, "source: %s", r.message);
    ck_assert_msg(!r.dst.be.waited_in_vain, "the destination's restore waited %d s in "
                  "vain for the source's early resume", MEM_BACKEND_WAIT_S);
    ck_assert_uint_eq(r.src.early_resumes, 1);
    ck_assert_uint_eq(r.src.resumes, 0);        /* resumed once, early */
    /* tracing ends after the resume, the guest running */
    ck_assert(r.src.logging_at_early_resume);
    ck_assert(!r.src.logging);
    ck_assert_uint_eq(r.src.hash_calls, 0);     /* its paused memory: not hashed */
    ck_assert(r.result.succeeded);
    ck_assert(r.result.verify_dropped);
    ck_assert(!r.result.memory_verified);
    ck_assert(r.result.downtime_parts.destination == 0);
    ck_assert(r.result.downtime_seconds > 0);
    ck_assert(r.src.released);
    ck_assert_uint_eq(r.dst.be.resumes, 1);
    teardown(&r);
}
END_TEST

/* ... and a failure after it leaves the guest running, resumed once. */
START_TEST(test_checkpoint_early_then_failed)
{
    struct run r;
    _Atomic bool resumed = false;

    setup_checkpoint_early(&r, &resumed);
    r.dst.be.corrupt_writes = true;
    migrate(&r, 2);
    ck_assert_int_eq(r.rc, MIG_ECORRUPT);
    ck_assert(!r.result.succeeded);
    ck_assert_uint_eq(r.src.early_resumes, 1);
    ck_assert_uint_eq(r.src.resumes, 0);        /* not resumed a second time */
    ck_assert(!r.src.paused);
    ck_assert(!r.src.released);
    teardown(&r);
}
END_TEST

/* A checkpoint whose hash ended before "go" is still stopped by a miss. */
START_TEST(test_checkpoint_keeps_finished_check)
{
    struct run r;
    _Atomic bool hashed = false;

    migrate_ordered(&r, true, true, &hashed, true);
    ck_assert_int_eq(r.rc, MIG_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(r.message, "dirty tracking missed a write"));
    ck_assert(!r.result.succeeded);
    ck_assert(!r.result.verify_dropped);
    assert_resumed_at_source(&r);
    teardown(&r);
}
END_TEST

/*
 * A migration whose control messages to the destination pass the relay,
 * which must have seen the one state message of a final epoch with pages.
 */
static void migrate_relayed(struct run *r, struct relay *relay)
{
    setup(r, 100);
    migrate_through(r, 2, relay);
    ck_assert_msg(!relay->error[0], "relay: %s", relay->error);
    ck_assert_uint_eq(relay->state_lines, 1);
    /* The final epoch carried pages (the last round's dirty set). */
    ck_assert_uint_gt(relay->true_final_pages, 0);
    ck_assert_uint_gt(relay->true_final_sent, 0);
}

/*
 * The destination refused the switchover with MIG_ECORRUPT and expected in
 * its message, before restoring any state; the source failed with that
 * message and resumed the guest, once.
 */
static void assert_switchover_refused(struct run *r, const char *expected)
{
    ck_assert_int_eq(r->dst.rc, MIG_ECORRUPT);
    ck_assert_msg(strstr(r->dst.message, expected), "destination: '%s', expected '%s'",
                  r->dst.message, expected);
    ck_assert(!r->dst.result.succeeded);
    ck_assert_str_eq(r->dst.be.state, "");       /* refused before the state */
    /* A destination's "failed" reaches the source as MIG_EIO (control.h). */
    ck_assert_int_eq(r->rc, MIG_EIO);
    ck_assert_msg(strstr(r->message, "the peer reports 'failed'") &&
                  strstr(r->message, expected), "source: '%s'", r->message);
    ck_assert(!r->result.succeeded);
    assert_resumed_at_source(r);
}

/*
 * A source whose state message announces one page more than it has
 * (final_sent, or else final_pages, through the relay): the destination
 * refuses, naming the true and the announced number.
 */
static void lying_source_refused(bool lie_about_sent)
{
    struct relay relay = { .final_sent_delta = lie_about_sent ? 1 : 0,
                           .final_pages_delta = lie_about_sent ? 0 : 1 };
    char expected[256];
    struct run r;

    migrate_relayed(&r, &relay);
    ck_assert(relay.state_line_changed);
    if (lie_about_sent)
        snprintf(expected, sizeof(expected), "%llu pages of the final dirty set "
                 "arrived, the source sent %llu", relay.true_final_sent,
                 relay.true_final_sent + 1);
    else
        snprintf(expected, sizeof(expected), "final dirty set has %llu pages, the "
                 "source announced %llu", relay.true_final_pages,
                 relay.true_final_pages + 1);
    assert_switchover_refused(&r, expected);
    teardown(&r);
}

/*
 * A final dirty set that leaves out a page which arrived in the final
 * epoch, with the right count (the relay moves its lowest pfn to a pfn
 * outside it): the destination refuses, counting the page left out.
 */
START_TEST(test_final_set_lie_refused)
{
    struct relay relay = { .move_set_bit = true };
    char expected[256];
    struct run r;

    migrate_relayed(&r, &relay);
    /* Every page of the set was sent, so the pfn moved out had arrived. */
    ck_assert_uint_eq(relay.true_final_sent, relay.true_final_pages);
    ck_assert_uint_ne(relay.moved_from, relay.moved_to);
    snprintf(expected, sizeof(expected), "%llu pages arrived in the final epoch, only "
             "%llu of them are in the final dirty set", relay.true_final_sent,
             relay.true_final_sent - 1);
    assert_switchover_refused(&r, expected);
    teardown(&r);
}
END_TEST

START_TEST(test_final_sent_lie_refused)
{
    lying_source_refused(true);
}
END_TEST

START_TEST(test_final_pages_lie_refused)
{
    lying_source_refused(false);
}
END_TEST

/* The relay telling the truth changes no byte and the migration succeeds. */
START_TEST(test_truthful_relay_is_transparent)
{
    struct relay relay = { 0 };
    struct run r;

    migrate_relayed(&r, &relay);
    ck_assert(!relay.state_line_changed);      /* re-encoded byte for byte */
    /* The state (64 bytes here) and the compacted set went through. */
    ck_assert_uint_gt(relay.block_bytes, sizeof(r.src.state));
    ck_assert_msg(r.rc == 0, "source: %s", r.message);
    ck_assert_msg(r.dst.rc == 0, "destination: %s", r.dst.message);
    ck_assert(r.result.succeeded && r.dst.result.succeeded);
    ck_assert(r.src.released);
    ck_assert_uint_eq(r.src.resumes, 0);
    ck_assert_uint_eq(r.dst.be.resumes, 1);
    ck_assert_str_eq(r.dst.be.state, r.src.state);
    ck_assert_int_eq(memcmp(r.src.memory, r.dst.be.memory, (size_t)PFNS * 4096), 0);
    teardown(&r);
}
END_TEST

/* The probe's figures and the prediction are there and sane. */
static void assert_predicted(struct run *r)
{
    const struct mig_precopy_probe *pb = &r->result.probe;
    const struct mig_precopy_prediction *pr = &r->result.prediction;

    ck_assert(r->result.predicted);
    ck_assert_uint_eq(r->w.predictions, 1);
    ck_assert(pb->link_rate > 0);
    ck_assert_uint_eq(pb->streams, 2);
    /* log-dirty was on for the sample's second at least; the guest wrote */
    ck_assert(pb->dirty_window >= 1.0);
    ck_assert(pb->dirty_rate > 0);
    /* every 5th page of the test double is zero */
    ck_assert(pb->zero_share > 0.1 && pb->zero_share < 0.3);
    ck_assert(pb->compress_ratio >= 1);
    ck_assert(pb->bytes_sent > 0);
    ck_assert_uint_ge(pr->rounds, 1);
    ck_assert_uint_ge(pr->bytes, pb->bytes_sent);
    ck_assert(pr->total_seconds >= pb->elapsed);
    ck_assert(pr->downtime_ms > 0);
    ck_assert_ptr_nonnull(pr->reason);
}

/*
 * A dry run probes and predicts, then ends: the guest runs on at the
 * source (never paused or throttled, log-dirty off again), the
 * destination ends well with nothing restored or resumed.
 */
START_TEST(test_dry_run_leaves_guest_alone)
{
    struct run r;

    setup_ladder(&r);
    r.w.steady = true;
    r.w.pages_per_round = 600;
    r.opts.policy.max_downtime_ms = 5000;
    r.opts.dry_run = true;
    migrate(&r, 2);
    ck_assert_msg(r.rc == 0, "source: %s", r.message);
    ck_assert_msg(r.dst.rc == 0, "destination: %s", r.dst.message);
    ck_assert(r.result.dry_run && r.dst.result.dry_run);
    ck_assert(!r.result.succeeded && !r.dst.result.succeeded);
    assert_predicted(&r);
    assert_running_at_source(&r);
    ck_assert_uint_eq(r.src.pauses, 0);
    ck_assert_uint_eq(r.src.log_enables, 1);
    ck_assert_uint_eq(r.src.throttle_calls, 0);
    ck_assert_uint_eq(r.src.hash_calls, 0);
    ck_assert_uint_eq(r.result.rounds, 0);
    /* the destination kept no state and never ran the guest */
    ck_assert_str_eq(r.dst.be.state, "");
    ck_assert_uint_eq(r.dst.be.resumes, 0);
    ck_assert_uint_eq(r.dst.result.pages_sent, r.result.pages_sent);
    ck_assert_uint_lt(r.result.pages_sent, PFNS + 600);
    ck_assert_ptr_nonnull(strstr(r.result.reason, "dry run"));
    ck_assert_str_eq(r.dst.result.reason, "dry run: nothing kept");
    teardown(&r);
}
END_TEST

/* A migration that predicts first still moves the whole guest, verified. */
START_TEST(test_predict_then_migrate)
{
    struct run r;

    setup(&r, 600);
    r.opts.predict = true;
    migrate(&r, 2);
    assert_arrived_verified(&r);
    ck_assert(!r.result.dry_run && r.result.succeeded);
    assert_predicted(&r);
    ck_assert_str_eq(r.dst.be.state, r.src.state);
    ck_assert_uint_eq(r.dst.be.resumes, 1);
    ck_assert_uint_eq(r.result.pages_sent, r.dst.result.pages_sent);
    teardown(&r);

    /* without it, no probe */
    setup(&r, 600);
    migrate(&r, 2);
    assert_arrived_verified(&r);
    ck_assert(!r.result.predicted);
    ck_assert_uint_eq(r.w.predictions, 0);
    teardown(&r);
}
END_TEST

/* ---- the data streams' cipher (docs/formats.md, "hello" and "ready") ---- */

/*
 * One migration per case, the ends' CPUs faked with MIG_MIGRATE_FAULT_NO_AES
 * and an older destination with MIG_MIGRATE_FAULT_OLD_READY; both ends must
 * report the cipher that ran and the memory must arrive whole under it.
 */
static const struct cipher_case {
    unsigned int choice;            /* the source's opts.cipher */
    unsigned int source_fault, destination_fault;
    bool older_source;              /* the relay drops the hello's "ciphers" */
    const char *expect;
} cipher_cases[] = {
    /* neither end has AES-NI: ChaCha20-Poly1305 */
    { MIG_MIGRATE_CIPHER_AUTO, MIG_MIGRATE_FAULT_NO_AES, MIG_MIGRATE_FAULT_NO_AES, false,
      "chacha20-poly1305" },
    /* the destination lacks it: ChaCha20-Poly1305 whatever the source prefers */
    { MIG_MIGRATE_CIPHER_AUTO, 0, MIG_MIGRATE_FAULT_NO_AES, false, "chacha20-poly1305" },
    /* asked for by name, taken by a destination with or without AES-NI */
    { MIG_XFER_CIPHER_CHACHA20_POLY1305, 0, 0, false, "chacha20-poly1305" },
    { MIG_XFER_CIPHER_AES_256_GCM, 0, 0, false, "aes-256-gcm" },
    /* AES-256-GCM asked for is offered alone: no AES-NI there changes nothing */
    { MIG_XFER_CIPHER_AES_256_GCM, 0, MIG_MIGRATE_FAULT_NO_AES, false, "aes-256-gcm" },
    /* an older destination (no "cipher" in ready): AES-256-GCM */
    { MIG_MIGRATE_CIPHER_AUTO, MIG_MIGRATE_FAULT_NO_AES, MIG_MIGRATE_FAULT_OLD_READY, false,
      "aes-256-gcm" },
    /* an older source (no "ciphers" in hello): AES-256-GCM */
    { MIG_MIGRATE_CIPHER_AUTO, MIG_MIGRATE_FAULT_NO_AES, MIG_MIGRATE_FAULT_NO_AES, true,
      "aes-256-gcm" },
};

START_TEST(test_migrate_cipher)
{
    const struct cipher_case *c = &cipher_cases[_i];
    struct relay relay = { .drop_ciphers = true };
    struct run r;

    setup(&r, 300);
    r.opts.cipher = c->choice;
    r.opts.inject_fault = c->source_fault;
    r.dst.opts.inject_fault = c->destination_fault;
    migrate_through(&r, 2, c->older_source ? &relay : NULL);
    ck_assert_msg(!relay.error[0], "relay: %s", relay.error);
    assert_arrived_verified(&r);
    ck_assert(r.result.encrypted && r.dst.result.encrypted);
    ck_assert_ptr_nonnull(r.result.cipher);
    ck_assert_ptr_nonnull(r.dst.result.cipher);
    ck_assert_str_eq(r.result.cipher, c->expect);
    ck_assert_str_eq(r.dst.result.cipher, c->expect);
    teardown(&r);
}
END_TEST

/* Plain streams name no cipher on either side. */
START_TEST(test_plain_has_no_cipher)
{
    struct run r;

    setup(&r, 0);
    r.opts.encrypt = false;
    migrate(&r, 1);
    assert_arrived_verified(&r);
    ck_assert(!r.result.encrypted && !r.dst.result.encrypted);
    ck_assert_ptr_null(r.result.cipher);
    ck_assert_ptr_null(r.dst.result.cipher);
    teardown(&r);
}
END_TEST

/* A destination that answers "ready" with line, then reads until the source leaves. */
struct fake_destination {
    int in, out;
    const char *line;
    char hello[4096];               /* the first bytes of what the source sent */
};

static void *fake_destination_main(void *arg)
{
    struct fake_destination *f = arg;
    char buf[4096];
    size_t got = 0;
    ssize_t n;

    if (write(f->out, f->line, strlen(f->line)) < 0)
        return NULL;
    while ((n = read(f->in, buf, sizeof(buf))) > 0) {
        size_t take = got + (size_t)n < sizeof(f->hello) - 1 ? (size_t)n
                                                              : sizeof(f->hello) - 1 - got;

        memcpy(f->hello + got, buf, take);
        got += take;
    }
    return NULL;
}

/*
 * The source offered choice and the destination's ready says line: it
 * fails with MIG_EFORMAT quoting what the message must hold, before any
 * page, the guest running here.  *hello_out: the hello it sent.
 */
static void ready_refused(unsigned int choice, const char *line, const char *expected,
                          char *hello_out, size_t hello_size)
{
    struct fake_destination f = { .line = line };
    int to_dest[2], to_src[2];
    pthread_t t;
    struct run r;

    setup(&r, 0);
    r.opts.cipher = choice;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, to_dest), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, to_src), 0);
    f.in = to_dest[1];
    f.out = to_src[0];
    ck_assert_int_eq(pthread_create(&t, NULL, fake_destination_main, &f), 0);
    r.rc = mig_migrate_send(r.ops, &r.src, to_src[1], to_dest[0], &r.opts, NULL,
                            &r.result);
    ck_assert_msg(r.rc == MIG_EFORMAT, "%s: %s", mig_error_name(r.rc), mig_error_last());
    ck_assert_msg(strstr(mig_error_last(), expected), "message: %s", mig_error_last());
    close(to_dest[0]);
    pthread_join(t, NULL);
    assert_failed_before_any_page(&r);
    snprintf(hello_out, hello_size, "%s", f.hello);
    close(to_dest[1]);
    close(to_src[0]);
    close(to_src[1]);
    teardown(&r);
}

START_TEST(test_ready_with_unknown_cipher_refused)
{
    char hello[4096];

    ready_refused(MIG_MIGRATE_CIPHER_AUTO,
                  "{\"msg\":\"ready\",\"port\":9,\"cipher\":\"rot13\"}\n",
                  "cipher 'rot13', which this source does not know", hello, sizeof(hello));
    /* The offer went on the control channel: both ciphers, in some order. */
    ck_assert_ptr_nonnull(strstr(hello, "\"ciphers\""));
    ck_assert_ptr_nonnull(strstr(hello, "chacha20-poly1305"));
    ck_assert_ptr_nonnull(strstr(hello, "aes-256-gcm"));
}
END_TEST

START_TEST(test_ready_with_cipher_not_offered_refused)
{
    char hello[4096];

    ready_refused(MIG_XFER_CIPHER_AES_256_GCM,
                  "{\"msg\":\"ready\",\"port\":9,\"cipher\":\"chacha20-poly1305\"}\n",
                  "'chacha20-poly1305', which this source did not offer (it offered "
                  "aes-256-gcm)", hello, sizeof(hello));
    ck_assert_ptr_nonnull(strstr(hello, "\"ciphers\":[\"aes-256-gcm\"]"));
}
END_TEST

/* The rule on its own: offers and choices. */
START_TEST(test_cipher_rule)
{
    static const struct {
        const char *hello;
        bool has_aes;
        int rc;
        unsigned int cipher;
    } cases[] = {
        { "{}", false, 0, MIG_XFER_CIPHER_AES_256_GCM },
        { "{\"ciphers\":[\"aes-256-gcm\",\"chacha20-poly1305\"]}", true, 0,
          MIG_XFER_CIPHER_AES_256_GCM },
        { "{\"ciphers\":[\"aes-256-gcm\",\"chacha20-poly1305\"]}", false, 0,
          MIG_XFER_CIPHER_CHACHA20_POLY1305 },
        { "{\"ciphers\":[\"chacha20-poly1305\",\"aes-256-gcm\"]}", true, 0,
          MIG_XFER_CIPHER_CHACHA20_POLY1305 },
        { "{\"ciphers\":[\"aes-256-gcm\"]}", false, 0, MIG_XFER_CIPHER_AES_256_GCM },
        { "{\"ciphers\":[\"aegis-256\",\"aes-256-gcm\"]}", true, 0,
          MIG_XFER_CIPHER_AES_256_GCM },
        { "{\"ciphers\":[\"aegis-256\"]}", true, MIG_ECOMPAT, 0 },
        { "{\"ciphers\":[]}", true, MIG_ECOMPAT, 0 },
        { "{\"ciphers\":\"aes-256-gcm\"}", true, MIG_EFORMAT, 0 },
        { "{\"ciphers\":[7]}", true, MIG_EFORMAT, 0 },
    };
    unsigned int offer[CIPHER_MAX_OFFER], n, cipher;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *m = json_tokener_parse(cases[i].hello);
        int rc;

        ck_assert_ptr_nonnull(m);
        rc = cipher_choose(m, cases[i].has_aes, &cipher);
        ck_assert_msg(rc == cases[i].rc, "%s: %s", cases[i].hello, mig_error_name(rc));
        if (!rc)
            ck_assert_msg(cipher == cases[i].cipher, "%s: cipher %u", cases[i].hello, cipher);
        json_object_put(m);
    }
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "'7'"));
    cipher_offer(MIG_MIGRATE_CIPHER_AUTO, true, offer, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(offer[0], MIG_XFER_CIPHER_AES_256_GCM);
    cipher_offer(MIG_MIGRATE_CIPHER_AUTO, false, offer, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(offer[0], MIG_XFER_CIPHER_CHACHA20_POLY1305);
    ck_assert_uint_eq(offer[1], MIG_XFER_CIPHER_AES_256_GCM);
    cipher_offer(MIG_XFER_CIPHER_AES_256_GCM, false, offer, &n);
    ck_assert_uint_eq(n, 1);
    cipher_offer(MIG_XFER_CIPHER_CHACHA20_POLY1305, true, offer, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(offer[0], MIG_XFER_CIPHER_CHACHA20_POLY1305);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("migrate");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    /* Above the engine's stall limit (setup), itself above the double's wait. */
    tcase_set_timeout(tc, 4 * MEM_BACKEND_WAIT_S);
    tcase_add_test(tc, test_memory_digest_sees_moves_and_changes);
    tcase_add_test(tc, test_memory_digest_kept_up_to_date);
    tcase_add_test(tc, test_prefetch_announces_what_is_read);
    tcase_add_test(tc, test_control_message_and_blocks_leave_together);
    tcase_add_test(tc, test_migrate_one_stream);
    tcase_add_test(tc, test_migrate_three_streams);
    tcase_add_test(tc, test_options_version_1_kept);
    tcase_add_test(tc, test_unchanged_pages_not_resent);
    tcase_add_test(tc, test_page_types_arrive);
    tcase_add_test(tc, test_destination_refuses);
    tcase_add_test(tc, test_tracking_fails_after_hello);
    tcase_add_test(tc, test_policy_gives_up);
    tcase_add_test(tc, test_cancel_from_progress);
    tcase_add_test(tc, test_progress_within_rounds);
    tcase_add_test(tc, test_progress_within_rounds_asked_for);
    tcase_add_test(tc, test_cancel_within_round);
    tcase_add_test(tc, test_ladder_throttles_and_gives_back);
    tcase_add_test(tc, test_ladder_widens);
    tcase_add_test(tc, test_throttle_never_left_behind);
    tcase_add_test(tc, test_migrate_survives_resets);
    tcase_add_test(tc, test_memory_mismatch_not_resumed);
    tcase_add_test(tc, test_memory_digest_in_place);
    tcase_add_test(tc, test_failed_switchover_cancels_hash);
    tcase_add_test(tc, test_handover_while_destination_restores);
    tcase_add_test(tc, test_handover_fails);
    tcase_add_test(tc, test_missed_write_stops_before_go);
    tcase_add_test(tc, test_missed_write_found_after_resume);
    tcase_add_test(tc, test_verified_before_go);
    tcase_add_test(tc, test_verified_after_resume);
    tcase_add_test(tc, test_checkpoint_drops_unfinished_check);
    tcase_add_test(tc, test_checkpoint_keeps_finished_check);
    tcase_add_test(tc, test_checkpoint_resumes_early);
    tcase_add_test(tc, test_checkpoint_early_then_failed);
    tcase_add_test(tc, test_final_sent_lie_refused);
    tcase_add_test(tc, test_final_pages_lie_refused);
    tcase_add_test(tc, test_final_set_lie_refused);
    tcase_add_test(tc, test_truthful_relay_is_transparent);
    tcase_add_test(tc, test_dry_run_leaves_guest_alone);
    tcase_add_test(tc, test_predict_then_migrate);
    tcase_add_loop_test(tc, test_migrate_cipher, 0,
                        (int)(sizeof(cipher_cases) / sizeof(cipher_cases[0])));
    tcase_add_test(tc, test_plain_has_no_cipher);
    tcase_add_test(tc, test_ready_with_unknown_cipher_refused);
    tcase_add_test(tc, test_ready_with_cipher_not_offered_refused);
    tcase_add_test(tc, test_cipher_rule);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
