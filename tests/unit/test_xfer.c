/*
 * test_xfer.c: the N-stream data transfer (libmig/xfer) over real loopback
 * TCP: round trips at N = 1 and 3 with zero and unchanged pages, and the
 * receiver's refusal of corrupted, replayed, truncated, cut and stalled
 * streams.  Frames for the fault cases are built here independently from
 * the wire spec in mig_xfer.h, so the spec is checked, not just the code.
 */
#include "config.h"

#include <check.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <lz4.h>
#include <xxhash.h>

#include "mig_xfer.h"
#include "xfer/seal.h"

#define PAGES 3000
/* The receiver's stall limit where no case is about it: one of last
 * resort, as every such case ends on an event (a frame, a close). */
#define PATIENCE_MS 30000

struct memory {
    uint8_t *bytes;
    uint8_t types[PAGES];       /* page types: sent, or as they arrived */
    uint8_t stream[PAGES];      /* the stream that read or wrote it last, + 1 */
    size_t pages;
    /* when set, every read switches the sender's compression to toggle_to */
    struct mig_xfer_sender *toggle;
    bool toggle_to;
};

static int read_page(void *arg, unsigned int stream, uint64_t pfn, void *buf,
                     unsigned int *type_out)
{
    struct memory *m = arg;

    if (pfn >= m->pages)
        return mig_error_set(MIG_EINVAL, "pfn %llu out of range", (unsigned long long)pfn);
    m->stream[pfn] = (uint8_t)(stream + 1);
    if (m->toggle)
        ck_assert_int_eq(mig_xfer_sender_set_compress(m->toggle, m->toggle_to), 0);
    memcpy(buf, m->bytes + pfn * 4096, 4096);
    *type_out = m->types[pfn] == 0xee ? 16 : m->types[pfn];    /* 0xee: a bad type */
    return 0;
}

struct receiver_side {
    struct mig_xfer_listener *listener;
    struct memory dest;
    unsigned int epochs_seen;
    int rc;
    char message[512];
    struct mig_xfer_stats stats;
    unsigned int streams;       /* the receiver's, after the receive */
    unsigned int nodelay_streams;  /* accepted with TCP_NODELAY on */
    /* when hold is set: after the receive, write a byte to ended[1] and
     * keep the receiver (its acceptor) until a byte comes on release[0] */
    bool hold;
    int ended[2], release[2];
};

static int write_page(void *arg, unsigned int stream, uint64_t pfn, const void *data,
                      unsigned int type, uint32_t epoch)
{
    struct receiver_side *rs = arg;

    (void)epoch;
    if (pfn >= rs->dest.pages)
        return mig_error_set(MIG_EINVAL, "pfn out of range");
    rs->dest.stream[pfn] = (uint8_t)(stream + 1);
    rs->dest.types[pfn] = (uint8_t)type;
    if (data)
        memcpy(rs->dest.bytes + pfn * 4096, data, 4096);
    else
        memset(rs->dest.bytes + pfn * 4096, 0, 4096);
    return 0;
}

static int epoch_done(void *arg, uint32_t epoch)
{
    struct receiver_side *rs = arg;

    ck_assert_uint_eq(epoch, rs->epochs_seen);
    rs->epochs_seen++;
    return 0;
}

/* Whether fd's TCP_NODELAY is on (every data stream's socket, both ends). */
static bool nodelay(int fd)
{
    int on = 0;
    socklen_t len = sizeof(on);

    return fd >= 0 && !getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) && on;
}

static void *receiver_main(void *arg)
{
    struct receiver_side *rs = arg;
    struct mig_xfer_receiver *r = NULL;

    rs->rc = mig_xfer_accept(rs->listener, &r);
    for (unsigned int i = 0; !rs->rc && i < mig_xfer_receiver_streams(r); i++)
        rs->nodelay_streams += nodelay(mig_xfer_receiver_fd(r, i));
    if (!rs->rc)
        rs->rc = mig_xfer_receive(r, write_page, epoch_done, rs, &rs->stats, NULL);
    if (rs->rc)
        snprintf(rs->message, sizeof(rs->message), "%s", mig_error_last());
    rs->streams = mig_xfer_receiver_streams(r);
    if (rs->hold) {
        struct pollfd p = { .fd = rs->release[0], .events = POLLIN };
        char byte;

        ck_assert_int_eq(write(rs->ended[1], "x", 1), 1);
        ck_assert_int_eq(poll(&p, 1, PATIENCE_MS), 1);
        ck_assert_int_eq(read(rs->release[0], &byte, 1), 1);
    }
    mig_xfer_receiver_close(r);
    return NULL;
}

/* A receiver listening with opts; it accepts once receiver_run starts it. */
static void receiver_listen(struct receiver_side *rs, const struct mig_xfer_options *opts)
{
    memset(rs, 0, sizeof(*rs));
    ck_assert_int_eq(mig_xfer_listen("127.0.0.1", "0", opts, NULL, &rs->listener), 0);
    rs->dest.pages = PAGES;
    rs->dest.bytes = calloc(PAGES, 4096);
    ck_assert_ptr_nonnull(rs->dest.bytes);
}

static void receiver_run(struct receiver_side *rs, pthread_t *t)
{
    ck_assert_int_eq(pthread_create(t, NULL, receiver_main, rs), 0);
}

static void start_receiver_cipher(struct receiver_side *rs, pthread_t *t, int timeout_ms,
                                  const uint8_t *key, unsigned int cipher)
{
    struct mig_xfer_options opts = MIG_XFER_OPTIONS_INIT;

    opts.timeout_ms = timeout_ms;
    opts.key = key;
    opts.cipher = cipher;
    receiver_listen(rs, &opts);
    receiver_run(rs, t);
}

static void start_receiver_key(struct receiver_side *rs, pthread_t *t, int timeout_ms,
                               const uint8_t *key)
{
    start_receiver_cipher(rs, t, timeout_ms, key, MIG_XFER_CIPHER_AES_256_GCM);
}

static void start_receiver(struct receiver_side *rs, pthread_t *t, int timeout_ms)
{
    start_receiver_key(rs, t, timeout_ms, NULL);
}

static void fill_memory(struct memory *m, unsigned int seed)
{
    memset(m, 0, sizeof(*m));
    m->pages = PAGES;
    m->bytes = calloc(PAGES, 4096);
    ck_assert_ptr_nonnull(m->bytes);
    srand(seed);
    for (size_t p = 0; p < PAGES; p++) {
        if (p % 5 == 3)
            m->types[p] = (uint8_t)(p % 16);   /* zero pages among them */
        if (p % 7 == 3)
            continue;                      /* every 7th page stays zero */
        for (size_t i = 0; i < 4096; i += 64)
            m->bytes[p * 4096 + i] = (uint8_t)(rand() | 1);
    }
}

static const uint8_t key_a[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
static const uint8_t key_b[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 11 };

static void round_trip_cipher(unsigned int streams, const uint8_t *key, unsigned int cipher)
{
    struct mig_xfer_options opts = MIG_XFER_OPTIONS_INIT;
    struct receiver_side rs;
    struct mig_xfer_sender *s = NULL;
    struct mig_xfer_stats st = { 0 };
    struct memory src;
    uint64_t *pfns, *last_hash;
    uint8_t id[16] = { 1, 2, 3 };
    char port[16];
    pthread_t t;
    size_t zeros = 0, dirty = 0;

    fill_memory(&src, streams);
    start_receiver_cipher(&rs, &t, PATIENCE_MS, key, cipher);
    snprintf(port, sizeof(port), "%u", mig_xfer_listener_port(rs.listener));
    opts.streams = streams;
    opts.batch_pages = 100;
    opts.key = key;
    opts.cipher = cipher;
    ck_assert_int_eq(mig_xfer_sender_connect("127.0.0.1", port, &opts, id, NULL, &s), 0);
    for (unsigned int i = 0; i < streams; i++)
        ck_assert_msg(nodelay(mig_xfer_sender_fd(s, i)), "stream %u: Nagle is on", i);

    pfns = malloc(PAGES * sizeof(*pfns));
    last_hash = calloc(PAGES, sizeof(*last_hash));
    for (size_t p = 0; p < PAGES; p++) {
        pfns[p] = PAGES - 1 - p;            /* any order is allowed */
        zeros += (p % 7 == 3);
    }
    ck_assert_int_eq(mig_xfer_sender_send_epoch(s, 0, pfns, PAGES, read_page, &src,
                                                last_hash, &st), 0);
    ck_assert_uint_eq(st.pages, PAGES);
    ck_assert_uint_eq(st.zero_pages, zeros);
    ck_assert_uint_eq(st.unchanged_pages, 0);

    /*
     * Round 2: every 3rd page offered again, only every 6th really changed;
     * pages 1, 4 (types only) and 6 (both) change type too.
     */
    for (size_t p = 0; p < PAGES; p += 3) {
        pfns[dirty++] = p;
        if (p % 6 == 0)
            src.bytes[p * 4096 + 17] ^= 0x5a;
    }
    pfns[dirty++] = 1;
    pfns[dirty++] = 4;
    src.types[1] = 3;
    src.types[4] = 15;
    src.types[6] = 1;
    memset(&st, 0, sizeof(st));
    ck_assert_int_eq(mig_xfer_sender_send_epoch(s, 1, pfns, dirty, read_page, &src,
                                                last_hash, &st), 0);
    ck_assert_uint_eq(st.pages + st.unchanged_pages, dirty);
    ck_assert_uint_eq(st.pages, (PAGES + 5) / 6 + 2);
    ck_assert_int_eq(mig_xfer_sender_finish(s), 0);
    mig_xfer_sender_close(s);

    pthread_join(t, NULL);
    ck_assert_msg(rs.rc == 0, "receiver failed: %s", rs.message);
    ck_assert_uint_eq(rs.epochs_seen, 2);
    ck_assert_uint_eq(rs.nodelay_streams, streams);     /* the receiver's end too */
    ck_assert_uint_eq(rs.stats.epochs, 2);
    ck_assert_uint_eq(rs.stats.pages, PAGES + (PAGES + 5) / 6 + 2);
    ck_assert_int_eq(memcmp(src.bytes, rs.dest.bytes, (size_t)PAGES * 4096), 0);
    ck_assert_int_eq(memcmp(src.types, rs.dest.types, PAGES), 0);
    /* Both ends name the stream that carried a page: the one its pfn maps to. */
    for (size_t p = 0; p < PAGES; p++) {
        ck_assert_uint_eq(src.stream[p], mig_xfer_stream_of_pfn(p, streams) + 1);
        ck_assert_uint_eq(rs.dest.stream[p], src.stream[p]);
    }
    mig_xfer_listener_close(rs.listener);
    free(rs.dest.bytes);
    free(src.bytes);
    free(pfns);
    free(last_hash);
}

static void round_trip_key(unsigned int streams, const uint8_t *key)
{
    round_trip_cipher(streams, key, MIG_XFER_CIPHER_AES_256_GCM);
}

static void round_trip(unsigned int streams)
{
    round_trip_key(streams, NULL);
}

/*
 * Three epochs over streams, the last stream's connection reset (a TCP
 * RST) by fault after its first batch of every epoch (RESET_ROUNDS) or of
 * every connection (RESET_ALWAYS), the sender allowed max_reconnects
 * tries.  Returns send_epoch's first failure (0: all three went through,
 * and DONE); *sender_reconnects: what the sender counted.
 */
static int reset_round_trip(struct receiver_side *rs, struct memory *src,
                            unsigned int streams, const uint8_t *key, unsigned int fault,
                            unsigned int max_reconnects, uint64_t *sender_reconnects)
{
    struct mig_xfer_options opts = MIG_XFER_OPTIONS_INIT;
    struct mig_xfer_sender *s = NULL;
    uint64_t *pfns = malloc(PAGES * sizeof(*pfns)), *last_hash = calloc(PAGES, 8);
    uint8_t id[16] = { 4, 5, 6 };
    size_t n[3] = { 0 };
    char port[16];
    int rc = 0;

    ck_assert_ptr_nonnull(pfns);
    ck_assert_ptr_nonnull(last_hash);
    snprintf(port, sizeof(port), "%u", mig_xfer_listener_port(rs->listener));
    opts.streams = streams;
    opts.batch_pages = 100;
    opts.key = key;
    opts.fault = fault;
    opts.fault_after_pages = 1;
    opts.max_reconnects = max_reconnects;
    ck_assert_int_eq(mig_xfer_sender_connect("127.0.0.1", port, &opts, id, NULL, &s), 0);
    for (uint32_t e = 0; !rc && e < 3; e++) {
        /* Everything, then every 3rd page changed, then every 50th. */
        for (size_t p = 0; p < PAGES; p += e == 0 ? 1 : e == 1 ? 3 : 50) {
            pfns[n[e]++] = p;
            if (e)
                src->bytes[p * 4096 + 33] ^= (uint8_t)(0x11 * e);
        }
        rc = mig_xfer_sender_send_epoch(s, e, pfns, n[e], read_page, src, last_hash, NULL);
    }
    if (!rc)
        rc = mig_xfer_sender_finish(s);
    else
        mig_xfer_sender_abort(s, rc, mig_error_last());
    *sender_reconnects = mig_xfer_sender_reconnects(s);
    mig_xfer_sender_close(s);
    free(pfns);
    free(last_hash);
    return rc;
}

/* A stream reset in every epoch comes back, resends its part, and the
 * memory arrives whole: plain and sealed, one stream and three. */
static void reset_every_epoch(unsigned int streams, const uint8_t *key)
{
    struct receiver_side rs;
    struct memory src;
    uint64_t reconnects = 0;
    pthread_t t;

    fill_memory(&src, 11 + streams);
    start_receiver_key(&rs, &t, PATIENCE_MS, key);
    ck_assert_int_eq(reset_round_trip(&rs, &src, streams, key,
                                      MIG_XFER_FAULT_RESET_ROUNDS, 3, &reconnects), 0);
    pthread_join(t, NULL);
    ck_assert_msg(rs.rc == 0, "receiver failed: %s", rs.message);
    ck_assert_uint_eq(reconnects, 3);
    ck_assert_uint_eq(rs.stats.reconnects, 3);
    ck_assert_uint_eq(rs.epochs_seen, 3);
    ck_assert_int_eq(memcmp(src.bytes, rs.dest.bytes, (size_t)PAGES * 4096), 0);
    ck_assert_int_eq(memcmp(src.types, rs.dest.types, PAGES), 0);
    mig_xfer_listener_close(rs.listener);
    free(rs.dest.bytes);
    free(src.bytes);
}

START_TEST(test_reset_every_epoch_plain)
{
    reset_every_epoch(3, NULL);
}
END_TEST

START_TEST(test_reset_every_epoch_sealed)
{
    reset_every_epoch(3, key_a);
}
END_TEST

START_TEST(test_reset_every_epoch_one_stream)
{
    reset_every_epoch(1, key_a);
}
END_TEST

/*
 * The last stream's DONE lost to a reset (the sender wrote it; the receiver
 * never read it): the sender learns it from the missing acknowledgement,
 * comes back and sends DONE again.  Before DONE was acknowledged, the
 * receiver waited for a reconnection nobody made.
 */
START_TEST(test_reset_after_done_comes_back)
{
    struct receiver_side rs;
    struct memory src;
    uint64_t reconnects = 0;
    pthread_t t;

    fill_memory(&src, 17);
    start_receiver_key(&rs, &t, PATIENCE_MS, key_a);
    ck_assert_int_eq(reset_round_trip(&rs, &src, 2, key_a, MIG_XFER_FAULT_RESET_DONE, 3,
                                      &reconnects), 0);
    pthread_join(t, NULL);
    ck_assert_msg(rs.rc == 0, "receiver failed: %s", rs.message);
    ck_assert_uint_eq(reconnects, 1);
    ck_assert_uint_eq(rs.stats.reconnects, 1);
    ck_assert_int_eq(memcmp(src.bytes, rs.dest.bytes, (size_t)PAGES * 4096), 0);
    mig_xfer_listener_close(rs.listener);
    free(rs.dest.bytes);
    free(src.bytes);
}
END_TEST

/* A stream that breaks on every connection: the sender gives up after its
 * tries, the receiver fails with the sender's abort, nothing hangs. */
START_TEST(test_reset_always_gives_up)
{
    struct receiver_side rs;
    struct memory src;
    uint64_t reconnects = 0;
    pthread_t t;
    int rc;

    fill_memory(&src, 5);
    start_receiver_key(&rs, &t, PATIENCE_MS, key_a);
    rc = reset_round_trip(&rs, &src, 2, key_a, MIG_XFER_FAULT_RESET_ALWAYS, 2, &reconnects);
    ck_assert_int_eq(rc, MIG_EIO);
    ck_assert_msg(strstr(mig_error_last(), "gave up after 2 reconnect attempt(s)"),
                  "%s", mig_error_last());
    ck_assert_uint_eq(reconnects, 2);
    pthread_join(t, NULL);
    ck_assert_int_eq(rs.rc, MIG_ECANCELLED);
    ck_assert_msg(strstr(rs.message, "gave up after 2"), "%s", rs.message);
    mig_xfer_listener_close(rs.listener);
    free(rs.dest.bytes);
    free(src.bytes);
}
END_TEST

START_TEST(test_round_trip_encrypted)
{
    round_trip_key(3, key_a);
}
END_TEST

START_TEST(test_round_trip_chacha20_poly1305)
{
    round_trip_cipher(3, key_a, MIG_XFER_CIPHER_CHACHA20_POLY1305);
}
END_TEST

/*
 * The right key under the other cipher proves nothing: a ChaCha20-Poly1305
 * receiver drops an AES-256-GCM sender as a stranger (and the other way
 * round), and an unknown cipher is refused before anything connects.
 */
START_TEST(test_other_cipher_dropped)
{
    struct mig_xfer_options opts = MIG_XFER_OPTIONS_INIT, ropts = MIG_XFER_OPTIONS_INIT;
    struct mig_xfer_sender *s = NULL;
    struct receiver_side rs;
    uint8_t id[16] = { 6 };
    char port[16];
    pthread_t t;
    int rc, cancel[2];

    ck_assert_int_eq(pipe(cancel), 0);
    ropts.timeout_ms = PATIENCE_MS;
    ropts.key = key_a;
    ropts.cipher = MIG_XFER_CIPHER_CHACHA20_POLY1305;
    ropts.cancel_fd = cancel[0];
    receiver_listen(&rs, &ropts);
    receiver_run(&rs, &t);
    snprintf(port, sizeof(port), "%u", mig_xfer_listener_port(rs.listener));
    opts.key = key_a;
    opts.cipher = MIG_XFER_CIPHER_AES_256_GCM;
    rc = mig_xfer_sender_connect("127.0.0.1", port, &opts, id, NULL, &s);
    ck_assert_msg(rc == MIG_ECOMPAT, "other cipher: %s", mig_error_last());
    opts.cipher = 7;
    rc = mig_xfer_sender_connect("127.0.0.1", port, &opts, id, NULL, &s);
    ck_assert_msg(rc == MIG_EINVAL, "cipher 7: %s", mig_error_last());
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "cipher 7"));
    ck_assert_int_eq(write(cancel[1], "x", 1), 1);
    pthread_join(t, NULL);
    ck_assert_msg(rs.rc == MIG_ECANCELLED, "%s: %s", mig_error_name(rs.rc), rs.message);
    ck_assert_uint_eq(rs.stats.pages, 0);
    mig_xfer_listener_close(rs.listener);
    free(rs.dest.bytes);
    close(cancel[0]);
    close(cancel[1]);
}
END_TEST

/*
 * A sender with another key: its connections never get past the HELLO,
 * and the receiver, which counted none of them, still waits for real
 * streams when the test ends that wait (its cancel fd).
 */
START_TEST(test_wrong_key_dropped)
{
    struct mig_xfer_options opts = MIG_XFER_OPTIONS_INIT, ropts = MIG_XFER_OPTIONS_INIT;
    struct mig_xfer_sender *s = NULL;
    pthread_t t;
    struct receiver_side rs;
    uint8_t id[16] = { 5 };
    char port[16];
    int rc, cancel[2];

    ck_assert_int_eq(pipe(cancel), 0);
    ropts.timeout_ms = PATIENCE_MS;
    ropts.key = key_a;
    ropts.cancel_fd = cancel[0];
    receiver_listen(&rs, &ropts);
    receiver_run(&rs, &t);
    snprintf(port, sizeof(port), "%u", mig_xfer_listener_port(rs.listener));
    opts.key = key_b;
    rc = mig_xfer_sender_connect("127.0.0.1", port, &opts, id, NULL, &s);
    ck_assert_msg(rc == MIG_ECOMPAT, "wrong key: %s", mig_error_last());
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "does not accept this migration's key"));
    /* And a plain sender is dropped the same way. */
    opts.key = NULL;
    rc = mig_xfer_sender_connect("127.0.0.1", port, &opts, id, NULL, &s);
    ck_assert_msg(rc == MIG_ECOMPAT, "plain: %s", mig_error_last());
    /* Both were dropped (the senders saw it): end the receiver's wait. */
    ck_assert_int_eq(write(cancel[1], "x", 1), 1);
    pthread_join(t, NULL);
    /* The receiver accepted nothing: it was still waiting for real streams. */
    ck_assert_msg(rs.rc == MIG_ECANCELLED, "%s: %s", mig_error_name(rs.rc), rs.message);
    ck_assert_ptr_nonnull(strstr(rs.message, "waiting for data streams"));
    ck_assert_uint_eq(rs.stats.pages, 0);
    mig_xfer_listener_close(rs.listener);
    free(rs.dest.bytes);
    close(cancel[0]);
    close(cancel[1]);
}
END_TEST

START_TEST(test_round_trip_one_stream)
{
    round_trip(1);
}
END_TEST

START_TEST(test_round_trip_three_streams)
{
    round_trip(3);
}
END_TEST

START_TEST(test_partition_is_fixed)
{
    ck_assert_uint_eq(mig_xfer_stream_of_pfn(0, 3), 0);
    ck_assert_uint_eq(mig_xfer_stream_of_pfn(511, 3), 0);
    ck_assert_uint_eq(mig_xfer_stream_of_pfn(512, 3), 1);
    ck_assert_uint_eq(mig_xfer_stream_of_pfn(3 * 512, 3), 0);
}
END_TEST

START_TEST(test_bad_options_rejected)
{
    struct mig_xfer_options opts = MIG_XFER_OPTIONS_INIT;
    struct mig_xfer_sender *s = (void *)1;
    uint8_t id[16] = { 0 };

    opts.streams = 65;
    ck_assert_int_eq(mig_xfer_sender_connect("127.0.0.1", "1", &opts, id, NULL, &s),
                     MIG_EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "stream count 65"));
    opts.streams = 1;
    opts.version = 99;
    ck_assert_int_eq(mig_xfer_sender_connect("127.0.0.1", "1", &opts, id, NULL, &s),
                     MIG_EINVAL);
}
END_TEST

/* ---- compression ------------------------------------------------------ */

/* Pages of fill_mixed: every 7th zero; of the others, one in four random. */
static bool mixed_zero(size_t p)
{
    return p % 7 == 3;
}

static bool mixed_compresses(size_t p)
{
    return !mixed_zero(p) && p % 4 != 1;
}

/*
 * Memory as a guest's is: pages of text (they compress), random pages
 * (they do not), pages half random and half text (they compress to about
 * half), and zero pages.
 */
static void fill_mixed(struct memory *m, unsigned int seed)
{
    static const char text[] = "xenmig moves the pages of a running guest. ";

    fill_memory(m, seed);
    for (size_t p = 0; p < PAGES; p++) {
        uint8_t *page = m->bytes + p * 4096;
        size_t random = p % 4 == 1 ? 4096 : p % 4 == 2 ? 2048 : 0;

        memset(page, 0, 4096);
        if (mixed_zero(p))
            continue;
        for (size_t i = 0; i < random; i++)
            page[i] = (uint8_t)(rand() >> 7);
        for (size_t i = random; i < 4096; i++)
            page[i] = (uint8_t)(text[i % (sizeof(text) - 1)] + p % 5);
    }
}

/*
 * Change every step-th page that is not zero (it keeps its kind) and list
 * it in pfns; returns how many, *compressible of them.
 */
static size_t mixed_change(struct memory *m, size_t step, uint64_t *pfns,
                           size_t *compressible)
{
    size_t n = 0;

    *compressible = 0;
    for (size_t p = 0; p < PAGES; p += step) {
        if (mixed_zero(p))
            continue;
        m->bytes[p * 4096 + 3000] ^= 0x20;
        pfns[n++] = p;
        *compressible += mixed_compresses(p);
    }
    return n;
}

/* What one epoch of the compression round trip sent, by the sender's count. */
static void check_epoch(const struct mig_xfer_stats *st, size_t pages, size_t compressed)
{
    ck_assert_uint_eq(st->pages, pages);
    ck_assert_uint_eq(st->raw_bytes, (uint64_t)(pages - st->zero_pages) * 4096);
    ck_assert_uint_eq(st->compressed_pages, compressed);
    if (compressed) {
        ck_assert_uint_lt(st->data_bytes, st->raw_bytes);
        ck_assert_uint_lt(st->bytes, st->raw_bytes);
        ck_assert_uint_gt(st->compress_ns, 0);
    } else {
        ck_assert_uint_eq(st->data_bytes, st->raw_bytes);
        ck_assert_uint_gt(st->bytes, st->raw_bytes);
        ck_assert_uint_eq(st->compress_ns, 0);
    }
}

/*
 * Three epochs of mixed memory: compressed from the start (the option),
 * then switched off, then on again, the last switch made while epoch 1
 * runs (from read_page): it must wait for epoch 2.  Every page arrives as
 * it was; compressed epochs carry fewer bytes than their pages.
 */
static void compress_round_trip(unsigned int streams, const uint8_t *key)
{
    struct mig_xfer_options opts = MIG_XFER_OPTIONS_INIT;
    struct mig_xfer_stats st[3] = { { 0 } }, sum = { 0 };
    struct receiver_side rs;
    struct mig_xfer_sender *s = NULL;
    struct memory src;
    uint64_t *pfns = malloc(PAGES * sizeof(*pfns)), *last_hash = calloc(PAGES, 8);
    uint8_t id[16] = { 7, 7 };
    size_t n, compressible = 0;
    char port[16];
    pthread_t t;

    ck_assert_ptr_nonnull(pfns);
    ck_assert_ptr_nonnull(last_hash);
    fill_mixed(&src, 40 + streams);
    start_receiver_key(&rs, &t, PATIENCE_MS, key);
    snprintf(port, sizeof(port), "%u", mig_xfer_listener_port(rs.listener));
    opts.streams = streams;
    opts.batch_pages = 100;
    opts.key = key;
    opts.compress = true;
    ck_assert_int_eq(mig_xfer_sender_connect("127.0.0.1", port, &opts, id, NULL, &s), 0);

    for (size_t p = 0; p < PAGES; p++) {
        pfns[p] = p;
        compressible += mixed_compresses(p);
    }
    ck_assert_int_eq(mig_xfer_sender_send_epoch(s, 0, pfns, PAGES, read_page, &src,
                                                last_hash, &st[0]), 0);
    check_epoch(&st[0], PAGES, compressible);

    ck_assert_int_eq(mig_xfer_sender_set_compress(s, false), 0);
    n = mixed_change(&src, 2, pfns, &compressible);
    src.toggle = s;                 /* on again, from inside the epoch */
    src.toggle_to = true;
    ck_assert_int_eq(mig_xfer_sender_send_epoch(s, 1, pfns, n, read_page, &src,
                                                last_hash, &st[1]), 0);
    check_epoch(&st[1], n, 0);

    src.toggle = NULL;
    n = mixed_change(&src, 3, pfns, &compressible);
    ck_assert_int_eq(mig_xfer_sender_send_epoch(s, 2, pfns, n, read_page, &src,
                                                last_hash, &st[2]), 0);
    check_epoch(&st[2], n, compressible);
    ck_assert_int_eq(mig_xfer_sender_finish(s), 0);
    mig_xfer_sender_close(s);

    pthread_join(t, NULL);
    ck_assert_msg(rs.rc == 0, "receiver failed: %s", rs.message);
    for (int e = 0; e < 3; e++) {
        sum.compressed_pages += st[e].compressed_pages;
        sum.raw_bytes += st[e].raw_bytes;
        sum.data_bytes += st[e].data_bytes;
    }
    ck_assert_int_eq(memcmp(src.bytes, rs.dest.bytes, (size_t)PAGES * 4096), 0);
    ck_assert_uint_eq(rs.stats.compressed_pages, sum.compressed_pages);
    ck_assert_uint_eq(rs.stats.raw_bytes, sum.raw_bytes);
    ck_assert_uint_eq(rs.stats.data_bytes, sum.data_bytes);
    ck_assert_uint_gt(rs.stats.decompress_ns, 0);
    mig_xfer_listener_close(rs.listener);
    free(rs.dest.bytes);
    free(src.bytes);
    free(pfns);
    free(last_hash);
}

/*
 * Compressing memory whose first half is random and second half text, in
 * batches of 10 pages on one stream.  A batch that shrinks by less than an
 * eighth sends the next 1, 2, 4, 8, 16, then 16 ... batches untried: of the
 * 150 random batches, 12 are tried (0, 2, 5, 10, 19, 36, 53, ... 138); the
 * try at 155 finds text again, after 139-154 went untried (5 of them
 * text).  So 1430 pages go untried and the last 145 batches compressed;
 * every page arrives as it was.  (Trying every batch: none untried, 1500
 * compressed.)
 */
START_TEST(test_compress_skips_what_does_not_shrink)
{
    static const char text[] = "xenmig moves the pages of a running guest. ";
    struct mig_xfer_options opts = MIG_XFER_OPTIONS_INIT;
    struct mig_xfer_stats st = { 0 };
    struct receiver_side rs;
    struct mig_xfer_sender *s = NULL;
    struct memory src;
    uint64_t *pfns = malloc(PAGES * sizeof(*pfns)), *last_hash = calloc(PAGES, 8);
    uint8_t id[16] = { 7, 8 };
    char port[16];
    pthread_t t;

    ck_assert_ptr_nonnull(pfns);
    ck_assert_ptr_nonnull(last_hash);
    fill_memory(&src, 77);
    memset(src.types, 0, sizeof(src.types));
    srand(77);
    for (size_t p = 0; p < PAGES; p++) {
        for (size_t i = 0; i < 4096; i++)
            src.bytes[p * 4096 + i] = p < PAGES / 2 ? (uint8_t)(rand() >> 7)
                                                    : (uint8_t)text[i % (sizeof(text) - 1)];
        pfns[p] = p;
    }
    start_receiver_key(&rs, &t, PATIENCE_MS, NULL);
    snprintf(port, sizeof(port), "%u", mig_xfer_listener_port(rs.listener));
    opts.batch_pages = 10;
    opts.compress = true;
    ck_assert_int_eq(mig_xfer_sender_connect("127.0.0.1", port, &opts, id, NULL, &s), 0);
    ck_assert_int_eq(mig_xfer_sender_send_epoch(s, 0, pfns, PAGES, read_page, &src,
                                                last_hash, &st), 0);
    ck_assert_int_eq(mig_xfer_sender_finish(s), 0);
    mig_xfer_sender_close(s);
    pthread_join(t, NULL);
    ck_assert_msg(rs.rc == 0, "receiver failed: %s", rs.message);

    ck_assert_uint_eq(st.pages, PAGES);
    ck_assert_uint_eq(st.compress_skipped_pages, 1430);
    ck_assert_uint_eq(st.compressed_pages, 1450);
    ck_assert_uint_eq(rs.stats.compressed_pages, 1450);
    ck_assert_uint_eq(rs.stats.data_bytes, st.data_bytes);
    ck_assert_uint_lt(st.data_bytes, st.raw_bytes);
    ck_assert_int_eq(memcmp(src.bytes, rs.dest.bytes, (size_t)PAGES * 4096), 0);
    mig_xfer_listener_close(rs.listener);
    free(rs.dest.bytes);
    free(src.bytes);
    free(pfns);
    free(last_hash);
}
END_TEST

START_TEST(test_compress_round_trip_one_stream)
{
    compress_round_trip(1, NULL);
}
END_TEST

START_TEST(test_compress_round_trip_sealed)
{
    compress_round_trip(3, key_a);
}
END_TEST

START_TEST(test_set_compress_needs_a_sender)
{
    ck_assert_int_eq(mig_xfer_sender_set_compress(NULL, true), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "no sender"));
}
END_TEST

/* ---- a hand-made sender, built from the spec ------------------------ */

static void le32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void le64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

/* Connect as stream 0 of count and send the HELLO (a listening receiver
 * need not run yet: the connection waits in its backlog). */
static int raw_hello_flags(unsigned int port, uint32_t version, uint32_t count,
                           uint64_t flags)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    uint8_t hello[48] = { 'X', 'M', 'I', 'G', 'D', 'A', 'T', '1' };
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    le32(hello + 8, version);
    le32(hello + 12, 0);
    le32(hello + 16, count);
    le32(hello + 20, 4096);
    le64(hello + 24, flags);
    ck_assert_int_eq(write(fd, hello, sizeof(hello)), sizeof(hello));
    return fd;
}

static int raw_hello(unsigned int port, uint32_t version, uint32_t count)
{
    return raw_hello_flags(port, version, count, 0);
}

static void raw_reply(int fd)
{
    uint8_t reply[24];              /* HELLO_REPLY, since version 4 */

    ck_assert_int_eq(read(fd, reply, sizeof(reply)), sizeof(reply));
}

static int raw_connect(unsigned int port, uint32_t version, uint32_t count)
{
    int fd = raw_hello(port, version, count);

    raw_reply(fd);
    return fd;
}

static void raw_frame(int fd, uint32_t type, uint64_t seq, const void *body, uint32_t len)
{
    uint8_t hdr[16];

    le32(hdr, type);
    le32(hdr + 4, len);
    le64(hdr + 8, seq);
    ck_assert_int_eq(write(fd, hdr, sizeof(hdr)), sizeof(hdr));
    if (len)
        ck_assert_int_eq(write(fd, body, len), (ssize_t)len);
}

/* A one-page PAGES frame for pfn 5 with a chosen claimed hash. */
static uint32_t one_page_frame(uint8_t *buf, uint32_t epoch, uint64_t claimed)
{
    le32(buf, epoch);
    le32(buf + 4, 1);
    le64(buf + 8, 5);
    le64(buf + 16, claimed);
    memset(buf + 24, 0xab, 4096);
    return 24 + 4096;
}

static struct receiver_side *fault_receiver(pthread_t *t, int timeout_ms)
{
    struct receiver_side *rs = malloc(sizeof(*rs));

    start_receiver(rs, t, timeout_ms);
    return rs;
}

static void expect_failure(struct receiver_side *rs, pthread_t t, int code, const char *text)
{
    pthread_join(t, NULL);
    ck_assert_msg(rs->rc == code, "expected %s, got %s: %s", mig_error_name(code),
                  mig_error_name(rs->rc), rs->message);
    ck_assert_msg(strstr(rs->message, text), "message '%s' lacks '%s'", rs->message, text);
    mig_xfer_listener_close(rs->listener);
    free(rs->dest.bytes);
    free(rs);
}

/* Nobody connects: the receiver gives up waiting for the streams. */
START_TEST(test_no_stream_times_out)
{
    pthread_t t;
    struct receiver_side *rs = fault_receiver(&t, 300);

    expect_failure(rs, t, MIG_EIO, "waiting for data streams: no data for 300 ms");
}
END_TEST

START_TEST(test_corrupted_page_refused)
{
    pthread_t t;
    struct receiver_side *rs = fault_receiver(&t, PATIENCE_MS);
    uint8_t *buf = malloc(8192);
    uint32_t len = one_page_frame(buf, 0, 0x1234);      /* wrong hash */
    int fd = raw_connect(mig_xfer_listener_port(rs->listener), MIG_XFER_VERSION, 1);

    raw_frame(fd, 1, 0, buf, len);
    expect_failure(rs, t, MIG_ECORRUPT, "pfn 0x5 arrived corrupted");
    close(fd);
    free(buf);
}
END_TEST

/* Bits 56..62 of a descriptor are reserved: a frame that sets one is refused. */
START_TEST(test_reserved_descriptor_bits_refused)
{
    pthread_t t;
    struct receiver_side *rs = fault_receiver(&t, PATIENCE_MS);
    uint8_t *buf = malloc(8192);
    uint32_t len = one_page_frame(buf, 0, 0);
    int fd = raw_connect(mig_xfer_listener_port(rs->listener), MIG_XFER_VERSION, 1);

    le64(buf + 8, 5 | UINT64_C(1) << 58);
    le64(buf + 16, mig_page_hash(buf + 24));
    raw_frame(fd, 1, 0, buf, len);
    expect_failure(rs, t, MIG_EFORMAT, "reserved flags");
    close(fd);
    free(buf);
}
END_TEST

/* A page of text for the hand-made compressed frames. */
static void text_page(uint8_t *page)
{
    for (size_t i = 0; i < 4096; i++)
        page[i] = (uint8_t)("a page of guest memory, compressed\n"[i % 35]);
}

/*
 * A one-page PAGES frame of epoch 0 for pfn 5 | flags that claims hash,
 * with len in the length table and the dlen bytes of data after it.
 */
static uint32_t compressed_frame(uint8_t *buf, uint64_t flags, uint64_t hash,
                                 uint16_t len, const void *data, uint32_t dlen)
{
    le32(buf, 0);
    le32(buf + 4, 1);
    le64(buf + 8, 5 | flags);
    le64(buf + 16, hash);
    buf[24] = (uint8_t)len;
    buf[25] = (uint8_t)(len >> 8);
    memcpy(buf + 26, data, dlen);
    return 26 + dlen;
}

/* A well-formed compressed page is taken: it arrives whole and is counted. */
START_TEST(test_compressed_frame_accepted)
{
    pthread_t t;
    struct receiver_side *rs = fault_receiver(&t, PATIENCE_MS);
    uint8_t page[4096], z[8192], *buf = malloc(16384), end[24];
    int zlen, fd;
    uint32_t len;

    text_page(page);
    zlen = LZ4_compress_default((const char *)page, (char *)z, 4096, sizeof(z));
    ck_assert_int_gt(zlen, 0);
    len = compressed_frame(buf, MIG_XFER_FLAG_COMPRESSED, mig_page_hash(page),
                           (uint16_t)zlen, z, (uint32_t)zlen);
    fd = raw_connect(mig_xfer_listener_port(rs->listener), MIG_XFER_VERSION, 1);
    raw_frame(fd, 1, 0, buf, len);
    le32(end, 0);
    le32(end + 4, 0);
    le64(end + 8, 1);
    le64(end + 16, XXH3_64bits_withSeed(buf + 8, 16, 0));
    raw_frame(fd, 2, 1, end, sizeof(end));
    raw_frame(fd, 3, 2, NULL, 0);
    pthread_join(t, NULL);
    ck_assert_msg(rs->rc == 0, "%s", rs->message);
    ck_assert_int_eq(memcmp(rs->dest.bytes + 5 * 4096, page, 4096), 0);
    ck_assert_uint_eq(rs->stats.compressed_pages, 1);
    ck_assert_uint_eq(rs->stats.data_bytes, (uint64_t)zlen + 2);
    ck_assert_uint_eq(rs->stats.raw_bytes, 4096);
    mig_xfer_listener_close(rs->listener);
    free(rs->dest.bytes);
    free(rs);
    close(fd);
    free(buf);
}
END_TEST

/*
 * Hostile compressed pages: each frame is refused with the code and words
 * given, and the receiver ends cleanly (the sanitizer build checks every
 * byte it touched).
 */
START_TEST(test_hostile_compressed_frames_refused)
{
    uint8_t page[8192], z[9000] = { 0 }, junk[4097], *buf = calloc(1, 16384);
    int half, twice, whole;

    text_page(page);
    text_page(page + 4096);
    memset(junk, 0xff, sizeof(junk));
    half = LZ4_compress_default((const char *)page, (char *)z, 2048, 3000);
    twice = LZ4_compress_default((const char *)page, (char *)z + 3000, 8192, 3000);
    whole = LZ4_compress_default((const char *)page, (char *)z + 6000, 4096, 3000);
    ck_assert(half > 0 && twice > 0 && whole > 0);
    const struct {
        uint64_t flags;
        uint16_t len;
        const uint8_t *data;
        uint32_t dlen;
        uint64_t hash;
        int code;
        const char *text;
    } cases[] = {
        { MIG_XFER_FLAG_COMPRESSED, 4097, junk, 4097, 0, MIG_EFORMAT,
          "pfn 0x5: compressed length 4097 is outside 1..4096" },
        { MIG_XFER_FLAG_COMPRESSED, 0, junk, 0, 0, MIG_EFORMAT,
          "compressed length 0 is outside" },
        { MIG_XFER_FLAG_COMPRESSED, (uint16_t)half, z, (uint32_t)half, 0, MIG_EFORMAT,
          "decompress to 2048 bytes, not 4096" },
        { MIG_XFER_FLAG_COMPRESSED, (uint16_t)twice, z + 3000, (uint32_t)twice, 0,
          MIG_EFORMAT, "are not an LZ4 block of at most 4096 bytes" },
        { MIG_XFER_FLAG_COMPRESSED, 200, junk, 200, 0, MIG_EFORMAT,
          "pfn 0x5: its 200 compressed bytes (body offset 26) are not an LZ4 block" },
        { MIG_XFER_FLAG_COMPRESSED | MIG_XFER_FLAG_ZERO, (uint16_t)whole, z + 6000,
          (uint32_t)whole, 0, MIG_EFORMAT, "both ZERO and COMPRESSED" },
        { MIG_XFER_FLAG_COMPRESSED, (uint16_t)whole, z + 6000, (uint32_t)whole + 9, 0,
          MIG_EFORMAT, "does not match its 1 descriptors" },
        { MIG_XFER_FLAG_COMPRESSED, (uint16_t)whole, z + 6000, (uint32_t)whole, 0x1234,
          MIG_ECORRUPT, "pfn 0x5 arrived corrupted" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pthread_t t;
        struct receiver_side *rs = fault_receiver(&t, PATIENCE_MS);
        uint32_t len = compressed_frame(buf, cases[i].flags, cases[i].hash, cases[i].len,
                                        cases[i].data, cases[i].dlen);
        int fd = raw_connect(mig_xfer_listener_port(rs->listener), MIG_XFER_VERSION, 1);

        raw_frame(fd, 1, 0, buf, len);
        expect_failure(rs, t, cases[i].code, cases[i].text);
        close(fd);
    }
    free(buf);
}
END_TEST

/*
 * The fuzz target's seeds (tests/fuzz/corpus/xfer_frames; the first byte 0
 * picks a plain stream, the rest is what its connection delivers) are
 * whole streams of this wire version: each is received without an error,
 * so that none goes stale when the wire changes.  plain-compressed
 * carries a compressed, a raw and a zero page.
 */
START_TEST(test_fuzz_seeds_received)
{
    static const struct { const char *name; uint64_t pages, compressed; } seeds[] = {
        { "plain-done", 0, 0 },
        { "plain-compressed", 3, 1 },
    };
    const char *srcdir = getenv("XENMIG_SRCDIR") ? getenv("XENMIG_SRCDIR") : "..";
    static uint8_t seed[65536];

    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        struct mig_xfer_options opts = MIG_XFER_OPTIONS_INIT;
        struct mig_xfer_receiver *r = NULL;
        struct receiver_side side = { 0 };
        char path[4096];
        size_t size;
        FILE *f;
        int sv[2], rc;

        snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/xfer_frames/%s", srcdir,
                 seeds[i].name);
        f = fopen(path, "rb");
        ck_assert_msg(f != NULL, "cannot open %s", path);
        size = fread(seed, 1, sizeof(seed), f);
        fclose(f);
        ck_assert_msg(size > 1 && seed[0] == 0, "%s is not a plain seed", path);
        side.dest.pages = PAGES;
        side.dest.bytes = calloc(PAGES, 4096);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        ck_assert_int_eq(write(sv[1], seed + 1, size - 1), (ssize_t)(size - 1));
        shutdown(sv[1], SHUT_WR);
        opts.timeout_ms = PATIENCE_MS;
        ck_assert_int_eq(mig_xfer_receiver_adopt(&sv[0], 1, &opts, NULL, &r), 0);
        rc = mig_xfer_receive(r, write_page, NULL, &side, &side.stats, NULL);
        ck_assert_msg(rc == 0, "%s: %s", seeds[i].name, mig_error_last());
        ck_assert_uint_eq(side.stats.pages, seeds[i].pages);
        ck_assert_uint_eq(side.stats.compressed_pages, seeds[i].compressed);
        mig_xfer_receiver_close(r);
        close(sv[1]);
        free(side.dest.bytes);
    }
}
END_TEST

/* mig_xfer_receive_hashed's write_page: each hash is its page's. */
struct hashed_side {
    unsigned int calls, zero, wrong;
};

static int write_hashed(void *arg, unsigned int stream, uint64_t pfn, const void *data,
                        unsigned int type, uint32_t epoch, uint64_t hash)
{
    static const uint8_t zero_page[4096];
    struct hashed_side *h = arg;

    (void)stream, (void)pfn, (void)type, (void)epoch;
    h->calls++;
    h->zero += !data;
    h->wrong += hash != mig_page_hash(data ? data : zero_page);
    return 0;
}

/*
 * mig_xfer_receive_hashed hands write_page the hash the receiver checked:
 * that of the page as it is handed over (a compressed one decompressed),
 * and an all-zero page's for a zero page (the plain-compressed seed: a
 * compressed, a raw and a zero page).
 */
START_TEST(test_receive_hashed_gives_page_hash)
{
    const char *srcdir = getenv("XENMIG_SRCDIR") ? getenv("XENMIG_SRCDIR") : "..";
    struct mig_xfer_options opts = MIG_XFER_OPTIONS_INIT;
    struct mig_xfer_receiver *r = NULL;
    struct hashed_side h = { 0 };
    static uint8_t seed[65536];
    char path[4096];
    size_t size;
    FILE *f;
    int sv[2], rc;

    snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/xfer_frames/plain-compressed",
             srcdir);
    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size = fread(seed, 1, sizeof(seed), f);
    fclose(f);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(write(sv[1], seed + 1, size - 1), (ssize_t)(size - 1));
    shutdown(sv[1], SHUT_WR);
    opts.timeout_ms = PATIENCE_MS;
    ck_assert_int_eq(mig_xfer_receiver_adopt(&sv[0], 1, &opts, NULL, &r), 0);
    rc = mig_xfer_receive_hashed(r, write_hashed, NULL, &h, NULL, NULL);
    ck_assert_msg(rc == 0, "%s", mig_error_last());
    ck_assert_uint_eq(h.calls, 3);
    ck_assert_uint_eq(h.zero, 1);
    ck_assert_uint_eq(h.wrong, 0);
    mig_xfer_receiver_close(r);
    close(sv[1]);
}
END_TEST

/* A backend type beyond 4 bits fails the epoch at the sender. */
START_TEST(test_type_beyond_four_bits_refused)
{
    struct mig_xfer_options opts = MIG_XFER_OPTIONS_INIT;
    struct receiver_side rs;
    struct mig_xfer_sender *s = NULL;
    struct memory src;
    uint64_t pfns[3] = { 0, 1, 2 };
    uint8_t id[16] = { 4 };
    char port[16];
    pthread_t t;

    fill_memory(&src, 1);
    src.types[2] = 0xee;
    start_receiver(&rs, &t, PATIENCE_MS);
    snprintf(port, sizeof(port), "%u", mig_xfer_listener_port(rs.listener));
    ck_assert_int_eq(mig_xfer_sender_connect("127.0.0.1", port, &opts, id, NULL, &s), 0);
    ck_assert_int_eq(mig_xfer_sender_send_epoch(s, 0, pfns, 3, read_page, &src, NULL,
                                                NULL), MIG_EINVAL);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "pfn 0x2 type 16"));
    mig_xfer_sender_abort(s, MIG_EINVAL, "test");
    mig_xfer_sender_close(s);
    pthread_join(t, NULL);
    ck_assert_int_ne(rs.rc, 0);
    mig_xfer_listener_close(rs.listener);
    free(rs.dest.bytes);
    free(src.bytes);
}
END_TEST

START_TEST(test_replayed_frame_refused)
{
    pthread_t t;
    struct receiver_side *rs = fault_receiver(&t, PATIENCE_MS);
    uint8_t *buf = malloc(8192);
    uint32_t len = one_page_frame(buf, 0, 0);
    int fd;

    le64(buf + 16, mig_page_hash(buf + 24));
    fd = raw_connect(mig_xfer_listener_port(rs->listener), MIG_XFER_VERSION, 1);
    raw_frame(fd, 1, 0, buf, len);
    raw_frame(fd, 1, 0, buf, len);                        /* replay */
    expect_failure(rs, t, MIG_EFORMAT, "sequence 0, expected 1");
    close(fd);
    free(buf);
}
END_TEST

START_TEST(test_epoch_count_mismatch_refused)
{
    pthread_t t;
    struct receiver_side *rs = fault_receiver(&t, PATIENCE_MS);
    uint8_t *buf = malloc(8192), end[24];
    uint32_t len = one_page_frame(buf, 0, 0);
    int fd;

    le64(buf + 16, mig_page_hash(buf + 24));
    fd = raw_connect(mig_xfer_listener_port(rs->listener), MIG_XFER_VERSION, 1);
    raw_frame(fd, 1, 0, buf, len);
    le32(end, 0);
    le32(end + 4, 0);
    le64(end + 8, 2);                                     /* claims 2 pages */
    le64(end + 16, 0);
    raw_frame(fd, 2, 1, end, sizeof(end));
    expect_failure(rs, t, MIG_ECORRUPT, "sender sent 2 pages, 1 arrived");
    close(fd);
    free(buf);
}
END_TEST

START_TEST(test_oversized_frame_refused)
{
    pthread_t t;
    struct receiver_side *rs = fault_receiver(&t, PATIENCE_MS);
    int fd = raw_connect(mig_xfer_listener_port(rs->listener), MIG_XFER_VERSION, 1);
    uint8_t hdr[16];

    le32(hdr, 1);
    le32(hdr + 4, 0x7fffffff);
    le64(hdr + 8, 0);
    ck_assert_int_eq(write(fd, hdr, sizeof(hdr)), sizeof(hdr));
    expect_failure(rs, t, MIG_ELIMIT, "is outside");
    close(fd);
}
END_TEST

START_TEST(test_truncated_stream_refused)
{
    pthread_t t;
    struct receiver_side *rs = fault_receiver(&t, PATIENCE_MS);
    uint8_t *buf = malloc(8192);
    uint32_t len = one_page_frame(buf, 0, 0);
    int fd = raw_connect(mig_xfer_listener_port(rs->listener), MIG_XFER_VERSION, 1);
    uint8_t hdr[16];

    le32(hdr, 1);
    le32(hdr + 4, len);
    le64(hdr + 8, 0);
    ck_assert_int_eq(write(fd, hdr, sizeof(hdr)), sizeof(hdr));
    ck_assert_int_eq(write(fd, buf, 100), 100);          /* then the link dies */
    close(fd);
    expect_failure(rs, t, MIG_ETRUNC, "closed by peer");
    free(buf);
}
END_TEST

START_TEST(test_version_mismatch_refused)
{
    pthread_t t;
    struct receiver_side *rs = fault_receiver(&t, PATIENCE_MS);
    int fd = raw_connect(mig_xfer_listener_port(rs->listener), MIG_XFER_VERSION + 1, 1);

    char text[64];

    snprintf(text, sizeof(text), "data stream version %u", MIG_XFER_VERSION + 1);
    expect_failure(rs, t, MIG_ECOMPAT, text);
    close(fd);
}
END_TEST

/* A version 4 sender, which cannot compress, is refused as any other. */
START_TEST(test_version_4_refused)
{
    pthread_t t;
    struct receiver_side *rs = fault_receiver(&t, PATIENCE_MS);
    int fd = raw_connect(mig_xfer_listener_port(rs->listener), 4, 1);

    ck_assert_int_eq(MIG_XFER_VERSION, 5);
    expect_failure(rs, t, MIG_ECOMPAT, "data stream version 4");
    close(fd);
}
END_TEST

START_TEST(test_cut_stream_fails_whole_receive)
{
    struct mig_xfer_options opts = MIG_XFER_OPTIONS_INIT;
    struct mig_xfer_sender *s = NULL;
    pthread_t t;
    struct receiver_side *rs = fault_receiver(&t, PATIENCE_MS);
    struct memory src;
    uint64_t pfns[600];
    uint8_t id[16] = { 9 };
    char port[16];

    fill_memory(&src, 7);
    for (int i = 0; i < 600; i++)
        pfns[i] = (uint64_t)i;
    snprintf(port, sizeof(port), "%u", mig_xfer_listener_port(rs->listener));
    opts.streams = 2;
    ck_assert_int_eq(mig_xfer_sender_connect("127.0.0.1", port, &opts, id, NULL, &s), 0);
    ck_assert_int_eq(mig_xfer_sender_send_epoch(s, 0, pfns, 600, read_page, &src,
                                                NULL, NULL), 0);
    /* Stream 1 dies; stream 0 finishes normally. */
    shutdown(mig_xfer_sender_fd(s, 1), SHUT_RDWR);
    (void)mig_xfer_sender_finish(s);
    expect_failure(rs, t, MIG_ETRUNC, "stream 1: connection lost");
    mig_xfer_sender_close(s);
    free(src.bytes);
}
END_TEST

/*
 * Connected and greeted, then silent.  The stream connects and sends its
 * HELLO before the receiver runs, so the one wait of the receiver that can
 * run out is the one for the first frame, however late it runs.
 */
/*
 * A receiver with a 300 ms stall limit and one stream of one, whose HELLO
 * (with flags) went out before the receiver ran and was answered: *fd.
 */
static struct receiver_side *greeted_receiver(uint64_t flags, pthread_t *t, int *fd)
{
    struct mig_xfer_options opts = MIG_XFER_OPTIONS_INIT;
    struct receiver_side *rs = malloc(sizeof(*rs));

    ck_assert_ptr_nonnull(rs);
    opts.timeout_ms = 300;
    receiver_listen(rs, &opts);
    *fd = raw_hello_flags(mig_xfer_listener_port(rs->listener), MIG_XFER_VERSION, 1, flags);
    receiver_run(rs, t);
    raw_reply(*fd);
    return rs;
}

START_TEST(test_stalled_stream_times_out)
{
    pthread_t t;
    int fd;
    struct receiver_side *rs = greeted_receiver(0, &t, &fd);

    expect_failure(rs, t, MIG_EIO, "no data for 300 ms");
    close(fd);
}
END_TEST

/*
 * A stream that announced it reconnects (HELLO flag bit 1) is cut and
 * never comes back: the receiver waits for it no longer than its stall
 * limit, then fails naming the loss.
 */
START_TEST(test_lost_stream_not_back_in_time)
{
    pthread_t t;
    int fd;
    struct receiver_side *rs = greeted_receiver(2, &t, &fd);

    close(fd);
    expect_failure(rs, t, MIG_ETRUNC, "it did not come back within 300 ms");
}
END_TEST

START_TEST(test_sender_sees_refusal)
{
    struct mig_xfer_options opts = MIG_XFER_OPTIONS_INIT;
    struct mig_xfer_sender *s = NULL;
    pthread_t t;
    struct receiver_side *rs = fault_receiver(&t, PATIENCE_MS);
    int fd = raw_connect(mig_xfer_listener_port(rs->listener), MIG_XFER_VERSION, 2);
    uint8_t id[16] = { 7 };
    char port[16];

    /* A second migration's stream joins the first one's accept. */
    snprintf(port, sizeof(port), "%u", mig_xfer_listener_port(rs->listener));
    opts.streams = 2;
    ck_assert_int_eq(mig_xfer_sender_connect("127.0.0.1", port, &opts, id, NULL, &s),
                     MIG_ECOMPAT);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "refused by the receiver"));
    expect_failure(rs, t, MIG_ECOMPAT, "belongs to another migration");
    close(fd);
}
END_TEST

/* A hand-made sealed stream 0 of 1: HELLO + proof of key_a, then frames. */
static int raw_connect_sealed(unsigned int port, struct seal *seal)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    uint8_t hello[48] = { 'X', 'M', 'I', 'G', 'D', 'A', 'T', '1' }, reply[24], tag[16];
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    le32(hello + 8, MIG_XFER_VERSION);
    le32(hello + 12, 0);
    le32(hello + 16, 1);
    le32(hello + 20, 4096);
    le64(hello + 24, 1);                       /* sealed */
    ck_assert_int_eq(seal_init(seal, SEAL_AES_256_GCM, key_a), 0);
    ck_assert_int_eq(seal_encrypt(seal, 0, SEAL_HELLO_SEQ, hello, sizeof(hello), NULL, 0,
                                  tag), 0);
    ck_assert_int_eq(write(fd, hello, sizeof(hello)), sizeof(hello));
    ck_assert_int_eq(write(fd, tag, sizeof(tag)), sizeof(tag));
    ck_assert_int_eq(read(fd, reply, sizeof(reply)), sizeof(reply));
    ck_assert_uint_eq(reply[8], 0);            /* accepted */
    return fd;
}

/* Seal one PAGES frame as stream `nonce_stream`, optionally flip a byte. */
static void sealed_frame(int fd, struct seal *seal, uint32_t nonce_stream, uint64_t seq,
                         bool tamper)
{
    uint8_t *buf = malloc(16 + 8192 + 16);
    uint32_t len = one_page_frame(buf + 16, 0, 0);
    struct iovec body = { buf + 16, len };

    le64(buf + 16 + 16, mig_page_hash(buf + 16 + 24));
    le32(buf, 1);
    le32(buf + 4, len + 16);
    le64(buf + 8, seq);
    ck_assert_int_eq(seal_encrypt(seal, nonce_stream, seq, buf, 16, &body, 1,
                                  buf + 16 + len), 0);
    if (tamper)
        buf[16 + 40] ^= 0x20;
    ck_assert_int_eq(write(fd, buf, 16 + len + 16), (ssize_t)(16 + len + 16));
    free(buf);
}

START_TEST(test_tampered_sealed_frame_refused)
{
    pthread_t t;
    struct receiver_side rs;
    struct seal seal;
    int fd;

    start_receiver_key(&rs, &t, PATIENCE_MS, key_a);
    fd = raw_connect_sealed(mig_xfer_listener_port(rs.listener), &seal);
    sealed_frame(fd, &seal, 0, 0, true);
    pthread_join(t, NULL);
    ck_assert_int_eq(rs.rc, MIG_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(rs.message, "frame 0 at offset 0 fails authentication"));
    ck_assert_uint_eq(rs.stats.pages, 0);      /* nothing reached guest memory */
    seal_dispose(&seal);
    close(fd);
    mig_xfer_listener_close(rs.listener);
    free(rs.dest.bytes);
}
END_TEST

START_TEST(test_cross_stream_frame_refused)
{
    pthread_t t;
    struct receiver_side rs;
    struct seal seal;
    int fd;

    start_receiver_key(&rs, &t, PATIENCE_MS, key_a);
    fd = raw_connect_sealed(mig_xfer_listener_port(rs.listener), &seal);
    sealed_frame(fd, &seal, 0, 0, false);      /* a good frame first */
    sealed_frame(fd, &seal, 1, 1, false);      /* then one sealed for stream 1 */
    pthread_join(t, NULL);
    ck_assert_int_eq(rs.rc, MIG_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(rs.message, "frame 1 at offset"));
    ck_assert_ptr_nonnull(strstr(rs.message, "fails authentication"));
    seal_dispose(&seal);
    close(fd);
    mig_xfer_listener_close(rs.listener);
    free(rs.dest.bytes);
}
END_TEST

/* ---- strangers on the data port ------------------------------------- */

/* A connection to the receiver on port, or -1 when its backlog is full. */
static int stranger(unsigned int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A plain HELLO of stream 0 of count with this id, as a stranger would send. */
static void stranger_hello(uint8_t *hello, uint32_t count, uint8_t id_byte)
{
    memset(hello, 0, 48);
    memcpy(hello, "XMIGDAT1", 8);
    le32(hello + 8, MIG_XFER_VERSION);
    le32(hello + 16, count);
    le32(hello + 20, 4096);
    memset(hello + 32, id_byte, 16);
}

/*
 * Open a crowd on port: idle connections, half HELLOs, plain HELLOs with
 * another migration id, garbage.  Their fds go to fds[*n...] (max 128).
 */
static void crowd(unsigned int port, unsigned int idle, int *fds, unsigned int *n)
{
    uint8_t hello[48];

    for (unsigned int i = 0; i < idle + 9 && *n < 128; i++) {
        int fd = stranger(port);

        if (fd < 0)
            continue;
        fds[(*n)++] = fd;
        stranger_hello(hello, 1, 0xee);
        if (i >= idle + 6)
            memset(hello, 0x5a, sizeof(hello));             /* garbage */
        if (i >= idle)
            ck_assert_int_eq(write(fd, hello, i < idle + 3 ? 20 : 48),
                             i < idle + 3 ? 20 : 48);       /* half or whole */
    }
}

/*
 * Before the real streams connect: more idle connections than the
 * receiver's slots, half HELLOs, HELLOs of another migration id, garbage;
 * then more of each between the connect and the pages.  With the id the
 * control channel announced, the receiver lets in only the source's
 * streams, and none of the strangers costs it a stall.
 */
START_TEST(test_strangers_do_not_disturb)
{
    struct mig_xfer_options opts = MIG_XFER_OPTIONS_INIT, ropts = MIG_XFER_OPTIONS_INIT;
    struct mig_xfer_sender *s = NULL;
    struct receiver_side rs;
    struct memory src;
    uint8_t id[16] = { 1, 2, 3 };
    uint64_t pfns[PAGES];
    int fds[128];
    unsigned int n = 0;
    char port[16];
    pthread_t t;

    fill_memory(&src, 11);
    ropts.timeout_ms = PATIENCE_MS;
    ropts.expect_id = id;
    receiver_listen(&rs, &ropts);
    crowd(mig_xfer_listener_port(rs.listener), 40, fds, &n);
    receiver_run(&rs, &t);
    snprintf(port, sizeof(port), "%u", mig_xfer_listener_port(rs.listener));
    opts.streams = 2;
    ck_assert_int_eq(mig_xfer_sender_connect("127.0.0.1", port, &opts, id, NULL, &s), 0);
    crowd(mig_xfer_listener_port(rs.listener), 10, fds, &n);
    for (size_t p = 0; p < PAGES; p++)
        pfns[p] = p;
    ck_assert_int_eq(mig_xfer_sender_send_epoch(s, 0, pfns, PAGES, read_page, &src,
                                                NULL, NULL), 0);
    ck_assert_int_eq(mig_xfer_sender_finish(s), 0);
    mig_xfer_sender_close(s);
    pthread_join(t, NULL);
    ck_assert_msg(rs.rc == 0, "receiver failed: %s", rs.message);
    ck_assert_uint_eq(rs.stats.pages, PAGES);
    ck_assert_int_eq(memcmp(src.bytes, rs.dest.bytes, (size_t)PAGES * 4096), 0);
    for (unsigned int i = 0; i < n; i++)
        close(fds[i]);
    mig_xfer_listener_close(rs.listener);
    free(rs.dest.bytes);
    free(src.bytes);
}
END_TEST

struct drip {
    unsigned int port;
    atomic_uint sent;               /* bytes of its HELLO sent so far */
    atomic_bool stop;
};

/* Slowloris: a byte of a HELLO every 200 ms, until told to stop. */
static void *drip_main(void *arg)
{
    struct drip *d = arg;
    uint8_t hello[48];
    int fd = stranger(d->port);

    ck_assert_int_ge(fd, 0);
    stranger_hello(hello, 1, 0);
    while (!atomic_load(&d->stop) && atomic_load(&d->sent) < sizeof(hello)) {
        if (send(fd, hello + atomic_load(&d->sent), 1, MSG_NOSIGNAL) != 1)
            break;
        atomic_fetch_add(&d->sent, 1);
        usleep(200 * 1000);     /* the attack's pace, not a wait for an event */
    }
    close(fd);
    return NULL;
}

/*
 * A HELLO that arrives a byte at a time has one deadline for the whole of
 * it (the stall limit here), not one per byte: the receiver gives up on it
 * and reports that no stream came while the drip is far from done.
 */
START_TEST(test_slow_hello_has_one_deadline)
{
    struct mig_xfer_options ropts = MIG_XFER_OPTIONS_INIT;
    struct receiver_side rs;
    struct drip d = { 0 };
    unsigned int sent;
    pthread_t t, dt;

    ropts.timeout_ms = 300;
    receiver_listen(&rs, &ropts);
    d.port = mig_xfer_listener_port(rs.listener);
    ck_assert_int_eq(pthread_create(&dt, NULL, drip_main, &d), 0);
    receiver_run(&rs, &t);
    pthread_join(t, NULL);
    sent = atomic_load(&d.sent);
    atomic_store(&d.stop, true);
    pthread_join(dt, NULL);
    ck_assert_msg(rs.rc == MIG_EIO, "%s: %s", mig_error_name(rs.rc), rs.message);
    ck_assert_ptr_nonnull(strstr(rs.message, "waiting for data streams: no data for 300 ms"));
    ck_assert_msg(sent < 48, "the receiver waited for the whole slow HELLO (%u bytes)", sent);
    mig_xfer_listener_close(rs.listener);
    free(rs.dest.bytes);
}
END_TEST

/*
 * The source's abort ends the wait at once, strangers pending or not.
 * First a stranger that never speaks: the receiver must give up on it by
 * its HELLO deadline (a quarter of the stall limit) and keep waiting, not
 * fail; then, with more strangers pending, the abort comes.
 */
START_TEST(test_cancel_with_strangers_pending)
{
    struct mig_xfer_options ropts = MIG_XFER_OPTIONS_INIT;
    struct timeval patience = { .tv_sec = PATIENCE_MS / 1000 };
    struct receiver_side rs;
    uint8_t id[16] = { 4, 5, 6 };
    int fds[128], cancel[2], mute;
    unsigned int n = 0;
    char byte;
    pthread_t t;

    ck_assert_int_eq(pipe(cancel), 0);
    ropts.timeout_ms = 8000;
    ropts.cancel_fd = cancel[0];
    ropts.expect_id = id;
    receiver_listen(&rs, &ropts);
    mute = stranger(mig_xfer_listener_port(rs.listener));
    ck_assert_int_ge(mute, 0);
    ck_assert_int_eq(setsockopt(mute, SOL_SOCKET, SO_RCVTIMEO, &patience,
                                sizeof(patience)), 0);
    receiver_run(&rs, &t);
    /* The receiver closes the mute stranger (its HELLO deadline, 2 s). */
    ck_assert_int_eq(read(mute, &byte, 1), 0);
    crowd(mig_xfer_listener_port(rs.listener), 5, fds, &n);
    ck_assert_int_eq(write(cancel[1], "x", 1), 1);
    pthread_join(t, NULL);
    ck_assert_msg(rs.rc == MIG_ECANCELLED, "%s: %s", mig_error_name(rs.rc), rs.message);
    for (unsigned int i = 0; i < n; i++)
        close(fds[i]);
    close(mute);
    close(cancel[0]);
    close(cancel[1]);
    mig_xfer_listener_close(rs.listener);
    free(rs.dest.bytes);
}
END_TEST

/* ---- streams that join between epochs ------------------------------- */

/* Pages of epoch e: every page whose pfn % 4 == e % 4 is rewritten. */
static size_t join_epoch_pages(struct memory *m, unsigned int e, uint64_t *pfns)
{
    size_t n = 0;

    for (size_t p = e % 4; p < PAGES; p += 4) {
        m->bytes[p * 4096 + 9] ^= (uint8_t)(e + 1);
        pfns[n++] = p;
    }
    return n;
}

static const uint8_t join_id[16] = { 9, 8, 7 };   /* join_start's migration */

/* A sender and a receiver that lets streams join, after epoch 0. */
struct join_run {
    struct receiver_side rs;
    struct mig_xfer_sender *s;
    struct memory src;
    uint64_t *pfns, *last_hash;
    unsigned int port;
    pthread_t t;
};

/*
 * One stream (sealed with key, or plain with an expected id) to a
 * receiver that lets the streams grow to max_streams; epoch 0 sent.
 */
static void join_start(struct join_run *j, const uint8_t *key, unsigned int max_streams)
{
    struct mig_xfer_options opts = MIG_XFER_OPTIONS_INIT, ropts = MIG_XFER_OPTIONS_INIT;
    char port[16];

    memset(j, 0, sizeof(*j));
    fill_memory(&j->src, 41);
    j->pfns = malloc(PAGES * sizeof(*j->pfns));
    j->last_hash = calloc(PAGES, sizeof(*j->last_hash));
    ck_assert(j->pfns && j->last_hash);
    ropts.timeout_ms = PATIENCE_MS;
    ropts.key = key;
    ropts.expect_id = key ? NULL : join_id;
    ropts.max_streams = max_streams;
    receiver_listen(&j->rs, &ropts);
    receiver_run(&j->rs, &j->t);
    j->port = mig_xfer_listener_port(j->rs.listener);
    snprintf(port, sizeof(port), "%u", j->port);
    opts.key = key;
    opts.batch_pages = 64;
    ck_assert_int_eq(mig_xfer_sender_connect("127.0.0.1", port, &opts, join_id, NULL,
                                             &j->s), 0);
    for (size_t p = 0; p < PAGES; p++)
        j->pfns[p] = p;
    ck_assert_int_eq(mig_xfer_sender_send_epoch(j->s, 0, j->pfns, PAGES, read_page, &j->src,
                                                j->last_hash, NULL), 0);
}

/* Finish: the receive ends well with streams, the memory bit-exact. */
static void join_finish(struct join_run *j, unsigned int streams)
{
    ck_assert_int_eq(mig_xfer_sender_finish(j->s), 0);
    mig_xfer_sender_close(j->s);
    pthread_join(j->t, NULL);
    ck_assert_msg(j->rs.rc == 0, "receiver failed: %s", j->rs.message);
    ck_assert_uint_eq(j->rs.streams, streams);
    ck_assert_uint_eq(j->rs.stats.epochs, j->rs.epochs_seen);
    ck_assert_int_eq(memcmp(j->src.bytes, j->rs.dest.bytes, (size_t)PAGES * 4096), 0);
    mig_xfer_listener_close(j->rs.listener);
    free(j->rs.dest.bytes);
    free(j->src.bytes);
    free(j->pfns);
    free(j->last_hash);
}

/*
 * One stream, then a second and a third join between epochs: each later
 * epoch is partitioned over the streams there are (both ends name the
 * stream that carried a page), and the memory arrives bit-exact.
 */
static void join_round_trip(const uint8_t *key)
{
    struct join_run j;
    size_t n;

    join_start(&j, key, 3);
    for (unsigned int e = 1; e <= 2; e++) {
        ck_assert_msg(mig_xfer_sender_add_stream(j.s) == 0, "%s", mig_error_last());
        ck_assert_uint_eq(mig_xfer_sender_streams(j.s), e + 1);
        memset(j.src.stream, 0, sizeof(j.src.stream));
        memset(j.rs.dest.stream, 0, sizeof(j.rs.dest.stream));
        n = join_epoch_pages(&j.src, e, j.pfns);
        ck_assert_int_eq(mig_xfer_sender_send_epoch(j.s, e, j.pfns, n, read_page, &j.src,
                                                    j.last_hash, NULL), 0);
        /* Each page of the epoch went on its stream among e + 1: the new
         * one carried its share. */
        for (size_t i = 0; i < n; i++) {
            ck_assert_uint_eq(j.src.stream[j.pfns[i]],
                              mig_xfer_stream_of_pfn(j.pfns[i], e + 1) + 1);
            ck_assert_uint_eq(j.rs.dest.stream[j.pfns[i]], j.src.stream[j.pfns[i]]);
        }
        ck_assert_uint_eq(j.rs.dest.stream[e * 512 + e % 4], e + 1);
    }
    join_finish(&j, 3);
    ck_assert_uint_eq(j.rs.epochs_seen, 3);
}

START_TEST(test_streams_join_sealed)
{
    join_round_trip(key_a);
}
END_TEST

START_TEST(test_streams_join_plain)
{
    join_round_trip(NULL);
}
END_TEST

/* A plain HELLO of stream index of count of migration id joins: its reply's
 * MIG_E* code. */
static int32_t raw_join(unsigned int port, uint32_t index, uint32_t count,
                        const uint8_t *id)
{
    uint8_t hello[48], reply[24];
    int fd = stranger(port);
    int32_t status;

    ck_assert_int_ge(fd, 0);
    stranger_hello(hello, count, 0);
    memcpy(hello + 32, id, 16);
    le32(hello + 12, index);
    ck_assert_int_eq(write(fd, hello, sizeof(hello)), sizeof(hello));
    ck_assert_int_eq(read(fd, reply, sizeof(reply)), sizeof(reply));
    ck_assert_int_eq(memcmp(reply, "XMIGACK1", 8), 0);
    status = (int32_t)(reply[8] | reply[9] << 8 | reply[10] << 16 | (uint32_t)reply[11] << 24);
    close(fd);
    return -status;             /* the MIG_E* code, 0 when accepted */
}

/*
 * Joins that break the rules are refused with a reply and the migration
 * goes on: an index already taken, a count that jumps, one stream beyond
 * the maximum (the sender keeps its streams and stays usable).
 */
START_TEST(test_bad_joins_refused)
{
    struct join_run j;

    join_start(&j, NULL, 2);
    /* index taken */
    ck_assert_int_eq(raw_join(j.port, 0, 2, join_id), MIG_EFORMAT);
    /* jumps over stream 1 */
    ck_assert_int_eq(raw_join(j.port, 2, 3, join_id), MIG_EFORMAT);
    /* count jumps */
    ck_assert_int_eq(raw_join(j.port, 1, 3, join_id), MIG_EFORMAT);
    /* the stream that joins is paced as the others (its connect would fail) */
    ck_assert_int_eq(mig_xfer_sender_set_rate(NULL, 1), MIG_EINVAL);
    ck_assert_int_eq(mig_xfer_sender_set_rate(j.s, UINT64_C(1) << 32), 0);
    ck_assert_int_eq(mig_xfer_sender_add_stream(j.s), 0);
    /* beyond the maximum */
    ck_assert_int_eq(raw_join(j.port, 2, 3, join_id), MIG_ELIMIT);
    ck_assert_int_eq(mig_xfer_sender_add_stream(j.s), MIG_ECOMPAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "goes on with 2"));
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "refused by the receiver (ELIMIT"));
    ck_assert_uint_eq(mig_xfer_sender_streams(j.s), 2);
    for (size_t p = 0; p < PAGES; p += 2)
        j.src.bytes[p * 4096 + 1] ^= 0x11;
    ck_assert_int_eq(mig_xfer_sender_send_epoch(j.s, 1, j.pfns, PAGES, read_page, &j.src,
                                                j.last_hash, NULL), 0);
    join_finish(&j, 2);
    ck_assert_uint_eq(j.rs.epochs_seen, 2);
}
END_TEST

/* A stream that would join a receive that failed is refused. */
START_TEST(test_join_after_failure_refused)
{
    struct mig_xfer_options ropts = MIG_XFER_OPTIONS_INIT;
    struct receiver_side rs;
    struct pollfd p;
    uint8_t abort_body[8 + 4] = { 0 };
    char byte;
    pthread_t t;
    int fd;

    ropts.timeout_ms = PATIENCE_MS;
    ropts.max_streams = 4;
    receiver_listen(&rs, &ropts);
    rs.hold = true;
    ck_assert_int_eq(pipe(rs.ended), 0);
    ck_assert_int_eq(pipe(rs.release), 0);
    fd = raw_hello(mig_xfer_listener_port(rs.listener), MIG_XFER_VERSION, 1);
    receiver_run(&rs, &t);
    raw_reply(fd);
    le32(abort_body, (uint32_t)-MIG_EIO);
    memcpy(abort_body + 8, "gone", 4);
    raw_frame(fd, 4, 0, abort_body, sizeof(abort_body));
    p = (struct pollfd){ .fd = rs.ended[0], .events = POLLIN };
    ck_assert_int_eq(poll(&p, 1, PATIENCE_MS), 1);
    ck_assert_int_eq(read(rs.ended[0], &byte, 1), 1);
    ck_assert_msg(rs.rc == MIG_ECANCELLED, "%s", rs.message);
    /* the receive is over, its acceptor still there */
    ck_assert_int_eq(raw_join(mig_xfer_listener_port(rs.listener), 1, 2,
                                      (const uint8_t[16]){ 0 }), MIG_ECANCELLED);
    ck_assert_int_eq(write(rs.release[1], "x", 1), 1);
    pthread_join(t, NULL);
    ck_assert_uint_eq(rs.streams, 1);
    close(fd);
    for (int i = 0; i < 2; i++) {
        close(rs.ended[i]);
        close(rs.release[i]);
    }
    mig_xfer_listener_close(rs.listener);
    free(rs.dest.bytes);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("xfer");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_partition_is_fixed);
    tcase_add_test(tc, test_bad_options_rejected);
    tcase_add_test(tc, test_round_trip_one_stream);
    tcase_add_test(tc, test_reset_every_epoch_plain);
    tcase_add_test(tc, test_reset_every_epoch_sealed);
    tcase_add_test(tc, test_reset_every_epoch_one_stream);
    tcase_add_test(tc, test_reset_always_gives_up);
    tcase_add_test(tc, test_reset_after_done_comes_back);
    tcase_add_test(tc, test_lost_stream_not_back_in_time);
    tcase_add_test(tc, test_round_trip_three_streams);
    tcase_add_test(tc, test_round_trip_encrypted);
    tcase_add_test(tc, test_round_trip_chacha20_poly1305);
    tcase_add_test(tc, test_other_cipher_dropped);
    tcase_add_test(tc, test_compress_round_trip_one_stream);
    tcase_add_test(tc, test_compress_round_trip_sealed);
    tcase_add_test(tc, test_compress_skips_what_does_not_shrink);
    tcase_add_test(tc, test_set_compress_needs_a_sender);
    tcase_add_test(tc, test_wrong_key_dropped);
    tcase_add_test(tc, test_no_stream_times_out);
    tcase_add_test(tc, test_tampered_sealed_frame_refused);
    tcase_add_test(tc, test_cross_stream_frame_refused);
    tcase_add_test(tc, test_corrupted_page_refused);
    tcase_add_test(tc, test_replayed_frame_refused);
    tcase_add_test(tc, test_reserved_descriptor_bits_refused);
    tcase_add_test(tc, test_compressed_frame_accepted);
    tcase_add_test(tc, test_hostile_compressed_frames_refused);
    tcase_add_test(tc, test_fuzz_seeds_received);
    tcase_add_test(tc, test_receive_hashed_gives_page_hash);
    tcase_add_test(tc, test_type_beyond_four_bits_refused);
    tcase_add_test(tc, test_epoch_count_mismatch_refused);
    tcase_add_test(tc, test_oversized_frame_refused);
    tcase_add_test(tc, test_truncated_stream_refused);
    tcase_add_test(tc, test_version_mismatch_refused);
    tcase_add_test(tc, test_version_4_refused);
    tcase_add_test(tc, test_cut_stream_fails_whole_receive);
    tcase_add_test(tc, test_stalled_stream_times_out);
    tcase_add_test(tc, test_sender_sees_refusal);
    tcase_add_test(tc, test_strangers_do_not_disturb);
    tcase_add_test(tc, test_slow_hello_has_one_deadline);
    tcase_add_test(tc, test_cancel_with_strangers_pending);
    tcase_add_test(tc, test_streams_join_sealed);
    tcase_add_test(tc, test_streams_join_plain);
    tcase_add_test(tc, test_bad_joins_refused);
    tcase_add_test(tc, test_join_after_failure_refused);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
