/*
 * sender.c: the sending end of the N data streams of one migration
 * (mig_xfer.h): connect and handshake every stream, send each epoch's
 * pages from one thread per stream, then DONE or ABORT.  What both ends
 * share is in wire.c.
 *
 * This file sends what it is asked to; it must never decide which pages to
 * send (that is the pre-copy policy's job) nor read guest memory except
 * through the read_page callback it is given.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <lz4.h>
#include <xentoollog.h>
#include <openssl/crypto.h>

#include "mig_clock.h"
#include "mig_xfer.h"
#include "seal.h"
#include "util/io.h"
#include "util/le.h"
#include "util/trace.h"
#include "wire.h"

bool mig_xfer_page_is_zero(const void *page)
{
    const uint64_t *w = page;

    for (size_t i = 0; i < MIG_PAGE_SIZE / sizeof(*w); i++)
        if (w[i])
            return false;
    return true;
}

/*
 * Per stream (arrays of MIG_XFER_MAX_STREAMS, the first count in use, so
 * that mig_xfer_sender_add_stream needs no reallocation): the connection
 * and what a reconnection needs.  Each is touched only by the thread that
 * drives the stream.
 */
struct mig_xfer_sender {
    struct mig_xfer_options opts;   /* opts.key points at key below, or NULL */
    uint8_t key[SEAL_KEY_SIZE];     /* for the ciphers of streams added later */
    xentoollog_logger *log;
    unsigned int count;
    char *host, *port;      /* where the streams (re)connect */
    uint8_t id[16];
    int *fds;
    uint64_t *seq;          /* next frame sequence number per stream */
    uint32_t *gen;          /* generation of each stream's connection */
    unsigned int *tries;    /* reconnect attempts since it last ended an epoch */
    bool *lost;             /* its last error was its connection's (cut, reset) */
    uint64_t *reconnected;  /* lost connections it came back from */
    bool *closed;           /* DONE or ABORT sent */
    uint32_t next_epoch;    /* the epoch after the last one every stream ended */
    atomic_int first_failed; /* in an epoch, the stream that failed first, or -1 */
    uint64_t fault_pages;   /* pages the last stream sent (fault injection) */
    bool fault_done;
    int wire_fault;         /* a MIG_XFER_FAULT_* to apply to the next frame */
    struct seal *seals;     /* per stream, NULL when plain; the first count set up */
    mig_xfer_prefetch_fn prefetch;  /* or NULL */
    atomic_bool compress;   /* compress the pages of the next epoch */
    struct batch_buffers *buffers;  /* per stream, kept from epoch to epoch */
};

/*
 * A stream's batch buffers, allocated by its first epoch and kept until
 * the sender closes: an epoch then starts on memory that earlier epochs
 * already touched, where fresh buffers would take a page fault per page
 * of the first batch (in a PV dom0 each costs hypercalls), most of all in
 * the final epoch, while the guest is paused.  During an epoch only the
 * stream's own thread touches its entry.
 */
struct batch_buffers {
    uint8_t *desc, *data;       /* descriptors; the data of non-zero pages */
    uint8_t *lens, *zdata;      /* compressing: lengths, what goes out */
    unsigned int skip;          /* compressing: batches to send without a try */
    unsigned int backoff;       /* the last skip: 0, or 1 .. COMPRESS_SKIP_MAX */
};

/*
 * Compressing, a batch whose pages shrink by less than an eighth in all
 * paid no more than it cost: the stream's next batch goes out plain
 * without a try, after another such batch the next 2, then 4, up to
 * COMPRESS_SKIP_MAX; a batch that pays again ends the skipping.  So
 * incompressible memory (encrypted, compressed, random) costs one LZ4 try
 * in COMPRESS_SKIP_MAX + 1 batches, and memory that compresses again is
 * found within that many.
 */
#define COMPRESS_SKIP_MAX 16

void mig_xfer_sender_set_prefetch(struct mig_xfer_sender *s, mig_xfer_prefetch_fn fn)
{
    s->prefetch = fn;
}

int mig_xfer_sender_set_compress(struct mig_xfer_sender *s, bool on)
{
    if (!s)
        return mig_error_set(MIG_EINVAL, "cannot switch compression %s: no sender",
                             on ? "on" : "off");
    atomic_store(&s->compress, on);
    return 0;
}

/* Write len bytes of frame to stream index (the faults below). */
static int stream_write(struct mig_xfer_sender *s, unsigned int index,
                        const uint8_t *frame, size_t len)
{
    int rc = mig_write_all(s->fds[index], frame, len, MIG_IO_SOCKET, "stream %u: write",
                           index);

    s->lost[index] = rc != 0;
    return rc;
}

/* Test faults on the wire (mig_xfer_options.fault); never used otherwise. */
static int send_frame_faulty(struct mig_xfer_sender *s, unsigned int index,
                             struct iovec *iov, int n)
{
    int fault = s->wire_fault, rc;
    size_t total = 0, off = 0;
    uint8_t *frame;

    s->wire_fault = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    frame = malloc(total);
    if (!frame)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        memcpy(frame + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    switch (fault) {
    case MIG_XFER_FAULT_TAMPER_FRAME:
        frame[total - SEAL_TAG_SIZE - 1] ^= 0x04;
        rc = stream_write(s, index, frame, total);
        break;
    case MIG_XFER_FAULT_REPLAY_FRAME:
        rc = stream_write(s, index, frame, total);
        if (!rc)
            rc = stream_write(s, index, frame, total);
        break;
    case MIG_XFER_FAULT_TRUNCATE:
        rc = stream_write(s, index, frame, total / 2);
        shutdown(s->fds[index], SHUT_RDWR);
        break;
    default:
        rc = stream_write(s, index, frame, total);
    }
    free(frame);
    return rc;
}

static int send_frame(struct mig_xfer_sender *s, unsigned int index,
                      uint32_t type, struct iovec *body, int body_cnt)
{
    uint8_t hdr[WIRE_FRAME_HEADER], tag[SEAL_TAG_SIZE];
    struct iovec iov[5];
    size_t len = s->seals ? SEAL_TAG_SIZE : 0;
    uint64_t seq = s->seq[index]++;
    int n = 1, rc;

    for (int i = 0; i < body_cnt; i++)
        len += body[i].iov_len;
    wire_frame_header_encode(hdr, type, (uint32_t)len, seq);
    iov[0].iov_base = hdr;
    iov[0].iov_len = sizeof(hdr);
    for (int i = 0; i < body_cnt; i++)
        iov[n++] = body[i];
    if (s->seals) {
        /* The body is encrypted in place; the header is authenticated. */
        rc = wire_frame_seal(&s->seals[index], wire_conn_id(index, s->gen[index]), seq,
                             hdr, body, body_cnt, tag);
        if (rc)
            return rc;
        iov[n].iov_base = tag;
        iov[n++].iov_len = sizeof(tag);
    }
    if (s->wire_fault && index == s->count - 1)
        return send_frame_faulty(s, index, iov, n);
    rc = mig_write_all_iov(s->fds[index], iov, n, MIG_IO_SOCKET, "stream %u: write",
                           index);
    s->lost[index] = rc != 0;
    return rc;
}

/* Cap one connection at rate bytes/s by TCP pacing (0: no cap). */
static int pace(int fd, uint64_t rate)
{
    unsigned long r = rate ? (unsigned long)rate : ~0UL;

    if (setsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE, &r, sizeof(r)))
        return mig_error_set_errno(MIG_EIO, errno, "cannot cap stream at %llu bytes/s",
                                   (unsigned long long)rate);
    return 0;
}

static int connect_one(const char *host, const char *port,
                       const struct mig_xfer_options *opts, int *fd_out)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
    struct addrinfo *res = NULL, *ai;
    int fd = -1, err = 0, rc;

    rc = getaddrinfo(host, port, &hints, &res);
    if (rc) {
        rc = mig_error_set(MIG_EINVAL, "cannot resolve '%s' port '%s': %s",
                           host, port, gai_strerror(rc));
        goto out;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        rc = mig_error_set_errno(MIG_EIO, err, "cannot connect to %s port %s",
                                 host, port);
        goto out;
    }
    rc = wire_set_stream_socket(fd, opts->timeout_ms);
    if (rc) {
        close(fd);
        goto out;
    }
    if (opts->max_rate_per_stream) {
        rc = pace(fd, opts->max_rate_per_stream);
        if (rc) {
            close(fd);
            goto out;
        }
    }
    *fd_out = fd;
    rc = 0;
out:
    if (res)
        freeaddrinfo(res);
    return rc;
}

#define MAX MIG_XFER_MAX_STREAMS

/* The cipher of stream i (s->seals[i]), under the migration key. */
static int seal_stream(struct mig_xfer_sender *s, unsigned int i)
{
    uint8_t key[SEAL_KEY_SIZE];
    int rc;

    memcpy(key, s->opts.key, sizeof(key));
    if (s->opts.fault == MIG_XFER_FAULT_WRONG_KEY)
        key[0] ^= 0x80;                 /* test fault: not the agreed key */
    rc = seal_init(&s->seals[i], s->opts.cipher, key);
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

/*
 * A sender of opts->streams streams, none connected yet (every fd -1), with
 * a cipher per stream when opts->key is set.  *out is the caller's
 * (mig_xfer_sender_close); NULL on failure.
 */
static int sender_new(const struct mig_xfer_options *opts, xentoollog_logger *log,
                      struct mig_xfer_sender **out)
{
    struct mig_xfer_sender *s = calloc(1, sizeof(*s));
    int rc;

    *out = NULL;
    if (!s)
        return mig_error_set(MIG_ENOMEM, "out of memory for the sender");
    s->opts = *opts;
    if (opts->key) {
        memcpy(s->key, opts->key, sizeof(s->key));
        s->opts.key = s->key;
    }
    s->log = log;
    s->count = opts->streams;
    atomic_init(&s->compress, opts->compress);
    s->fds = malloc(MAX * sizeof(*s->fds));
    s->seq = calloc(MAX, sizeof(*s->seq));
    s->gen = calloc(MAX, sizeof(*s->gen));
    s->tries = calloc(MAX, sizeof(*s->tries));
    s->lost = calloc(MAX, sizeof(*s->lost));
    s->reconnected = calloc(MAX, sizeof(*s->reconnected));
    s->closed = calloc(MAX, sizeof(*s->closed));
    s->seals = opts->key ? calloc(MAX, sizeof(*s->seals)) : NULL;
    s->buffers = calloc(MAX, sizeof(*s->buffers));
    if (!s->fds || !s->seq || !s->gen || !s->tries || !s->lost || !s->reconnected ||
        !s->closed || (opts->key && !s->seals) || !s->buffers) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory for %u streams", s->count);
        goto out;
    }
    for (unsigned int i = 0; i < MAX; i++)
        s->fds[i] = -1;
    for (unsigned int i = 0; s->seals && i < s->count; i++) {
        rc = seal_stream(s, i);
        if (rc)
            goto out;
    }
    *out = s;
    s = NULL;
    rc = 0;
out:
    if (s)
        mig_xfer_sender_close(s);
    return rc;
}

/* Read the HELLO_REPLY of stream i: 0 with *resume, or why it was refused. */
static int read_reply(struct mig_xfer_sender *s, unsigned int i, const char *what,
                      uint32_t *resume)
{
    uint8_t reply[WIRE_REPLY_SIZE] = { 0 };
    uint32_t status, version;
    int rc;

    /* A version 3 receiver answers 16 bytes (a refusal of this version). */
    rc = wire_read_exact(s->fds[i], reply, 16, s->opts.timeout_ms, what);
    if (!rc) {
        wire_reply_decode(reply, &status, &version, resume);
        if (version >= 4)
            rc = wire_read_exact(s->fds[i], reply + 16, sizeof(reply) - 16,
                                 s->opts.timeout_ms, what);
    }
    s->lost[i] = rc == MIG_ETRUNC && s->gen[i];
    if (rc == MIG_ETRUNC && !s->gen[i])
        return mig_error_set(MIG_ECOMPAT, "%s: the receiver dropped the connection "
                             "without an answer: it does not accept this migration's "
                             "key (or %s)", what, s->seals ? "is not a xenmig receiver"
                             : "requires encryption");
    if (rc)
        return rc;
    if (!wire_reply_decode(reply, &status, &version, resume))
        return mig_error_set(MIG_ECOMPAT, "%s: the receiver at %s port %s does "
                             "not speak the xenmig data protocol", what, s->host, s->port);
    if (status && -(int)status == MIG_ECANCELLED)
        return mig_error_set(MIG_ECOMPAT, "%s: the receiver has given up on this "
                             "migration", what);
    if (status)
        return mig_error_set(MIG_ECOMPAT, "%s: refused by the receiver (%s, "
                             "its version %u); see the receiver's log", what,
                             mig_error_name(-(int)status), version);
    return 0;
}

/*
 * Connect stream i (its connection generation s->gen[i]) and handshake
 * it: HELLO, proof of key, reply.  0 with *resume, the first epoch the
 * receiver has not ended on the stream; on a failure s->lost[i] says
 * whether trying again could help (the connection, not the receiver,
 * failed).
 */
static int handshake_stream(struct mig_xfer_sender *s, unsigned int i, uint32_t *resume)
{
    uint8_t hello[WIRE_HELLO_SIZE];
    char what[48];
    int rc;

    s->lost[i] = true;
    rc = connect_one(s->host, s->port, &s->opts, &s->fds[i]);
    if (rc)
        return rc;
    /* stream i of the count, or the stream being added (i == count) */
    wire_hello_encode(hello, i, i < s->count ? s->count : i + 1, s->seals != NULL,
                      s->opts.max_reconnects > 0, s->gen[i], s->id);
    snprintf(what, sizeof(what), "stream %u handshake", i);
    rc = mig_write_all(s->fds[i], hello, sizeof(hello), MIG_IO_SOCKET, "%s: write", what);
    if (!rc && s->seals) {
        /* Proof of key: a tag over the HELLO, before any frame. */
        uint8_t tag[SEAL_TAG_SIZE];

        rc = wire_hello_prove(&s->seals[i], wire_conn_id(i, s->gen[i]), hello, tag);
        if (!rc)
            rc = mig_write_all(s->fds[i], tag, sizeof(tag), MIG_IO_SOCKET, "%s: write",
                               what);
    }
    if (rc)
        return rc;
    return read_reply(s, i, what, resume);
}

int mig_xfer_sender_connect(const char *host, const char *port,
                            const struct mig_xfer_options *opts,
                            const uint8_t id[16],
                            struct xentoollog_logger *log,
                            struct mig_xfer_sender **sender_out)
{
    struct mig_xfer_sender *s = NULL;
    uint32_t resume;
    int rc;

    *sender_out = NULL;
    rc = wire_check_options(opts, true);
    if (!rc)
        rc = sender_new(opts, log, &s);
    if (!rc) {
        memcpy(s->id, id, sizeof(s->id));
        s->host = strdup(host);
        s->port = strdup(port);
        if (!s->host || !s->port)
            rc = mig_error_set(MIG_ENOMEM, "out of memory");
    }
    for (unsigned int i = 0; !rc && i < s->count; i++)
        rc = handshake_stream(s, i, &resume);
    if (rc) {
        mig_xfer_sender_close(s);       /* closes every connection made */
        return rc;
    }
    if (log)
        xtl_log(log, XTL_INFO, -1, "xfer", "connected %u stream(s) to %s port %s",
                s->count, host, port);
    *sender_out = s;
    return 0;
}

/*
 * Wait up to ms for a reason to stop reconnecting: the operator's cancel
 * (readable or hung up) or the control channel hanging up.  NULL: none
 * came; else the reason, static text.
 */
static const char *reconnect_abandoned(const struct mig_xfer_sender *s, int ms)
{
    struct pollfd pfd[2] = {
        { .fd = s->opts.cancel_fd, .events = POLLIN },
        { .fd = s->opts.hangup_fd, .events = 0 },
    };

    if (poll(pfd, 2, ms) <= 0)
        return NULL;
    if (pfd[0].revents)
        return "the migration was cancelled";
    if (pfd[1].revents & (POLLHUP | POLLERR))
        return "the control channel hung up: the destination is gone";
    return NULL;
}

/*
 * Stream i lost its connection (error loss, its message set): connect
 * again with the next generation, up to opts.max_reconnects tries since
 * the stream last ended an epoch, all within the stall limit of the loss.
 * 0 with *resume (the epoch the receiver resumes the stream at), or the
 * loss's code with why it could not be mended.
 */
static int stream_reconnect(struct mig_xfer_sender *s, unsigned int i, int loss,
                            uint32_t *resume)
{
    int64_t deadline = mig_clock_ms() + (s->opts.timeout_ms ? s->opts.timeout_ms : 30000);
    int backoff = 250, rc;
    const char *why;
    char cause[512];

    snprintf(cause, sizeof(cause), "%s", mig_error_last());
    for (;;) {
        if (s->tries[i] >= s->opts.max_reconnects)
            return mig_error_set(loss, "%s; gave up after %u reconnect attempt(s)",
                                 cause, s->tries[i]);
        if (s->gen[i] >= WIRE_HELLO_GEN_MAX)
            return mig_error_set(loss, "%s; stream %u reconnected %u times, the "
                                 "most a migration allows", cause, i, s->gen[i]);
        s->tries[i]++;
        if (s->fds[i] >= 0)
            close(s->fds[i]);
        s->fds[i] = -1;
        s->gen[i]++;
        s->seq[i] = 0;
        rc = handshake_stream(s, i, resume);
        if (!rc) {
            s->reconnected[i]++;
            if (s->log)
                xtl_log(s->log, XTL_WARN, -1, "xfer", "stream %u reconnected (try %u) "
                        "after: %s; resuming at epoch %u", i, s->tries[i], cause, *resume);
            return 0;
        }
        if (!s->lost[i])
            return mig_error_set(loss, "%s; reconnecting: %s", cause, mig_error_last());
        if (mig_clock_ms() + backoff >= deadline)
            return mig_error_set(loss, "%s; no reconnection within %d ms (last try: "
                                 "%s)", cause, s->opts.timeout_ms, mig_error_last());
        if ((why = reconnect_abandoned(s, backoff)))
            return mig_error_set(loss, "%s; stopped reconnecting: %s", cause, why);
        backoff = backoff < 1000 ? backoff * 2 : 2000;
    }
}

/* What one stream thread sends in one epoch, and how it went. */
struct send_job {
    struct mig_xfer_sender *sender;
    unsigned int index;
    uint32_t epoch;
    const uint64_t *pfns;       /* this stream's pfns */
    size_t count;
    mig_xfer_read_page_fn read_page;
    void *arg;
    uint64_t *last_hash;
    uint64_t zero_hash;         /* mig_page_hash of an all-zero page */
    bool force;                 /* resending after a reconnection: no page skipped */
    bool compress;              /* this epoch's pages go through LZ4 */
    struct mig_xfer_stats stats;
    int rc;
    char message[512];
};

/* One PAGES frame as a stream thread builds it. */
struct send_batch {
    uint8_t *desc;              /* u32 epoch, u32 count, then the descriptors */
    uint8_t *data;              /* the data of the non-zero pages, in order */
    unsigned int n;             /* descriptors so far */
    unsigned int n_data;        /* pages in data */
    /* compressing (job->compress) */
    uint8_t *lens;              /* u16 length of each COMPRESSED page */
    uint8_t *zdata;             /* what goes out of data: LZ4 blocks or raw pages */
    size_t zsize;               /* bytes in zdata */
    unsigned int n_comp;        /* pages compressed, lengths in lens */
    bool compressed;            /* tried: lens and zdata go out, not data */
    struct batch_buffers *keep; /* the stream's, with its skip count */
};

/*
 * Read pfn and add it to the batch, unless it is a hole or unchanged
 * since it was last sent (last_hash).  0 or the error that fails the epoch.
 */
static int batch_add_page(struct send_job *job, struct send_batch *b, uint64_t pfn)
{
    uint8_t *page = b->data + (size_t)b->n_data * MIG_PAGE_SIZE;
    uint64_t hash, word = pfn;
    unsigned int type = 0;
    int rc;

    rc = job->read_page(job->arg, job->index, pfn, page, &type);
    if (rc == MIG_EABSENT)
        return 0;                   /* a hole: nothing to send */
    if (rc)
        return rc;
    if (type > MIG_XFER_TYPE_MASK >> MIG_XFER_TYPE_SHIFT)
        return mig_error_set(MIG_EINVAL, "stream %u: the backend gave pfn %#llx "
                             "type %u, beyond the 4 bits a type has", job->index,
                             (unsigned long long)pfn, type);
    word |= (uint64_t)type << MIG_XFER_TYPE_SHIFT;
    /* One pass: hash, and scan for zeros only on a zero-page hash. */
    hash = mig_page_hash(page);
    if (hash == job->zero_hash && mig_xfer_page_is_zero(page))
        word |= MIG_XFER_FLAG_ZERO;
    if (job->last_hash && !job->force && job->last_hash[pfn] == mig_page_key(hash, type)) {
        job->stats.unchanged_pages++;
        return 0;
    }
    if (job->last_hash)
        job->last_hash[pfn] = mig_page_key(hash, type);
    if (word & MIG_XFER_FLAG_ZERO)
        job->stats.zero_pages++;
    else
        b->n_data++;
    mig_le64_store(b->desc + 8 + (size_t)b->n * 16, word);
    mig_le64_store(b->desc + 8 + (size_t)b->n * 16 + 8, hash);
    b->n++;
    return 0;
}

/*
 * Note that stream index failed, unless another stream failed before it:
 * the first one is the cause the epoch reports, the others may only have
 * seen the receiver give up after it.
 */
static void claim_failure(struct mig_xfer_sender *s, unsigned int index)
{
    int none = -1;

    atomic_compare_exchange_strong(&s->first_failed, &none, (int)index);
}

/* Test fault: reset stream index's connection (a TCP RST), as a flaky link. */
static int reset_connection(struct mig_xfer_sender *s, unsigned int index)
{
    struct linger hard = { .l_onoff = 1, .l_linger = 0 };

    claim_failure(s, index);    /* before the others can see it */
    setsockopt(s->fds[index], SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    close(s->fds[index]);
    s->fds[index] = -1;
    s->lost[index] = true;
    return mig_error_set(MIG_EIO, "stream %u: connection reset (injected fault)", index);
}

/*
 * Test faults (mig_xfer_options.fault), never used otherwise: once the last
 * stream has sent fault_after_pages pages, break the batch about to go out
 * or the stream, or arm a wire fault for send_frame.  The RESET faults
 * set *reset: the batch goes out, then the connection is reset, so pages
 * counted as sent may never arrive.
 */
static void batch_inject_fault(struct send_job *job, struct send_batch *b, bool *reset)
{
    struct mig_xfer_sender *s = job->sender;

    if (!s->opts.fault || s->opts.fault == MIG_XFER_FAULT_RESET_DONE || s->fault_done ||
        job->index != s->count - 1 ||
        (s->fault_pages += b->n) < s->opts.fault_after_pages)
        return;
    s->fault_done = true;
    switch (s->opts.fault) {
    case MIG_XFER_FAULT_CORRUPT_PAGE:
        if (b->n_data)
            b->data[100] ^= 0x01;      /* after hashing: a wire corruption */
        break;
    case MIG_XFER_FAULT_CUT_STREAM:
        shutdown(s->fds[job->index], SHUT_RDWR);
        break;
    case MIG_XFER_FAULT_STALL: {
        struct timespec ts = { s->opts.fault_stall_ms / 1000,
                               (long)(s->opts.fault_stall_ms % 1000) * 1000000 };

        nanosleep(&ts, NULL);
        break;
    }
    case MIG_XFER_FAULT_RESET:
    case MIG_XFER_FAULT_RESET_ROUNDS:
    case MIG_XFER_FAULT_RESET_ALWAYS:
        *reset = true;
        break;
    default:
        s->wire_fault = (int)s->opts.fault;
    }
}

size_t mig_xfer_compressed_size(const void *page)
{
    char block[MIG_XFER_COMPRESS_MAX];
    int n = LZ4_compress_default((const char *)page, block, MIG_PAGE_SIZE,
                                 MIG_XFER_COMPRESS_MAX);

    return n > 0 ? (size_t)n + 2 : MIG_PAGE_SIZE;
}

/*
 * Compress the batch's data pages, each on its own: a page whose LZ4 block
 * fits in MIG_XFER_COMPRESS_MAX bytes goes into zdata as that block, with
 * its length in lens and COMPRESSED in its descriptor; any other is copied
 * there raw.  The batch is timed in this thread's CPU time (two clock
 * reads a batch: they are system calls).
 */
static void compress_batch(struct send_job *job, struct send_batch *b)
{
    struct batch_buffers *keep = b->keep;
    uint64_t start, raw = (uint64_t)b->n_data * MIG_PAGE_SIZE;
    unsigned int j = 0;

    b->zsize = 0;
    b->n_comp = 0;
    b->compressed = !keep->skip;
    if (keep->skip) {
        keep->skip--;
        job->stats.compress_skipped_pages += b->n_data;
        return;
    }
    start = wire_thread_ns();
    for (unsigned int k = 0; k < b->n; k++) {
        uint8_t *desc = b->desc + 8 + (size_t)k * 16;
        uint64_t word = mig_le64_load(desc);
        const uint8_t *page;
        int n;

        if (word & MIG_XFER_FLAG_ZERO)
            continue;
        page = b->data + (size_t)j++ * MIG_PAGE_SIZE;
        n = LZ4_compress_default((const char *)page, (char *)b->zdata + b->zsize,
                                 MIG_PAGE_SIZE, MIG_XFER_COMPRESS_MAX);
        if (n > 0) {
            mig_le64_store(desc, word | MIG_XFER_FLAG_COMPRESSED);
            mig_le16_store(b->lens + 2 * (size_t)b->n_comp++, (uint16_t)n);
            b->zsize += (size_t)n;
        } else {
            memcpy(b->zdata + b->zsize, page, MIG_PAGE_SIZE);
            b->zsize += MIG_PAGE_SIZE;
        }
    }
    job->stats.compress_ns += wire_thread_ns() - start;
    if (raw && b->zsize + 2 * b->n_comp > raw - raw / 8) {
        keep->backoff = keep->backoff ? keep->backoff * 2 : 1;
        if (keep->backoff > COMPRESS_SKIP_MAX)
            keep->backoff = COMPRESS_SKIP_MAX;
        keep->skip = keep->backoff;
    } else if (raw) {
        keep->backoff = 0;
    }
}

/*
 * Send the batch as one PAGES frame: head and descriptors, then the pages
 * as they are, or (compressed) the lengths and zdata.  A batch sent as it
 * is in a compressing epoch is the frame of one whose every page failed
 * to compress: no lengths, the pages raw.
 */
static int send_pages(struct send_job *job, struct send_batch *b)
{
    struct iovec body[3];
    size_t data_bytes;
    int n = 1, rc;

    mig_le32_store(b->desc, job->epoch);
    mig_le32_store(b->desc + 4, b->n);
    body[0].iov_base = b->desc;
    body[0].iov_len = 8 + (size_t)b->n * 16;
    if (b->compressed) {
        body[n].iov_base = b->lens;
        body[n++].iov_len = 2 * (size_t)b->n_comp;
        body[n].iov_base = b->zdata;
        body[n++].iov_len = b->zsize;
    } else {
        body[n].iov_base = b->data;
        body[n++].iov_len = (size_t)b->n_data * MIG_PAGE_SIZE;
    }
    data_bytes = body[1].iov_len + (n > 2 ? body[2].iov_len : 0);
    rc = send_frame(job->sender, job->index, WIRE_PAGES, body, data_bytes ? n : 1);
    if (rc)
        return rc;
    job->stats.pages += b->n;
    job->stats.frames++;
    job->stats.bytes += WIRE_FRAME_HEADER + body[0].iov_len + data_bytes;
    job->stats.raw_bytes += (uint64_t)b->n_data * MIG_PAGE_SIZE;
    job->stats.data_bytes += data_bytes;
    job->stats.compressed_pages += b->compressed ? b->n_comp : 0;
    return 0;
}

/* End the epoch on this stream: sent descriptors and their digest. */
static int send_epoch_end(struct send_job *job, uint64_t sent, uint64_t digest)
{
    uint8_t end[24];
    struct iovec body = { .iov_base = end, .iov_len = sizeof(end) };
    int rc;

    mig_le32_store(end, job->epoch);
    mig_le32_store(end + 4, 0);
    mig_le64_store(end + 8, sent);
    mig_le64_store(end + 16, digest);
    rc = send_frame(job->sender, job->index, WIRE_EPOCH_END, &body, 1);
    if (rc)
        return rc;
    job->stats.frames++;
    job->stats.bytes += WIRE_FRAME_HEADER + sizeof(end);
    return 0;
}

/*
 * The receiver's EPOCH_ACK of epoch on stream i (WIRE_ACK_DONE: of DONE).
 * A lost connection sets s->lost[i].
 */
static int read_ack(struct mig_xfer_sender *s, unsigned int i, uint32_t epoch)
{
    uint8_t ack[WIRE_ACK_SIZE];
    uint32_t acked;
    char what[48], which[32];
    int rc;

    snprintf(what, sizeof(what), "stream %u", i);
    if (epoch == WIRE_ACK_DONE)
        snprintf(which, sizeof(which), "DONE");
    else
        snprintf(which, sizeof(which), "epoch %u", epoch);
    rc = s->fds[i] < 0 ? MIG_ETRUNC        /* already known lost */
                       : wire_read_exact(s->fds[i], ack, sizeof(ack), s->opts.timeout_ms, what);
    s->lost[i] = rc == MIG_ETRUNC;
    if (rc == MIG_ETRUNC)
        return mig_error_set(rc, "stream %u: connection lost while waiting for the "
                             "receiver to acknowledge %s", i, which);
    if (rc)
        return rc;
    if (!wire_ack_decode(ack, &acked) || acked != epoch)
        return mig_error_set(MIG_EFORMAT, "stream %u: the receiver acknowledged epoch "
                             "%u (or sent no EPOCH_ACK) after %s", i, acked, which);
    return 0;
}

static int await_ack(struct send_job *job)
{
    return read_ack(job->sender, job->index, job->epoch);
}

/* Stream index's batch buffers into b (the sender's: not freed here). */
static int batch_buffers(struct mig_xfer_sender *s, unsigned int index, bool compress,
                         struct send_batch *b)
{
    struct batch_buffers *k = &s->buffers[index];
    size_t batch = s->opts.batch_pages;

    if (!k->desc)
        k->desc = malloc(8 + batch * 16);
    if (!k->data)
        k->data = malloc(batch * MIG_PAGE_SIZE);
    if (compress && !k->lens)
        k->lens = malloc(2 * batch);
    if (compress && !k->zdata)
        k->zdata = malloc(batch * MIG_PAGE_SIZE);
    if (!k->desc || !k->data || (compress && (!k->lens || !k->zdata)))
        return mig_error_set(MIG_ENOMEM, "stream %u: out of memory for a batch of %zu "
                             "pages", index, batch);
    b->desc = k->desc;
    b->data = k->data;
    b->lens = k->lens;
    b->zdata = k->zdata;
    b->keep = k;
    return 0;
}

/*
 * Send this stream's pages of the epoch, batch by batch, then EPOCH_END,
 * and wait for the receiver's EPOCH_ACK.
 */
static int send_stream_epoch_once(struct send_job *job)
{
    struct mig_xfer_sender *s = job->sender;
    unsigned int batch = s->opts.batch_pages;
    struct send_batch b = { 0 };
    uint64_t digest = job->epoch, sent = 0;
    bool reset = false;
    size_t i = 0;
    int rc = 0;

    mig_trace("source", "stream %u: epoch %u: %zu pages", job->index, job->epoch,
              job->count);
    job->zero_hash = wire_zero_page_hash();
    rc = batch_buffers(s, job->index, job->compress, &b);
    if (rc)
        return rc;
    while (i < job->count) {
        if (s->prefetch) {
            rc = s->prefetch(job->arg, job->index, job->pfns + i,
                             job->count - i < batch ? job->count - i : batch);
            if (rc)
                return rc;
        }
        b.n = b.n_data = 0;
        while (!rc && b.n < batch && i < job->count)
            rc = batch_add_page(job, &b, job->pfns[i++]);
        if (rc)
            return rc;
        if (!b.n)
            continue;
        batch_inject_fault(job, &b, &reset);
        if (job->compress)
            compress_batch(job, &b);
        digest = wire_digest_add(digest, b.desc + 8, b.n);
        rc = send_pages(job, &b);
        if (!rc && reset)
            rc = reset_connection(s, job->index);
        if (rc)
            return rc;
        sent += b.n;
    }
    mig_trace("source", "stream %u: epoch %u: pages sent", job->index, job->epoch);
    rc = send_epoch_end(job, sent, digest);
    if (!rc)
        rc = await_ack(job);
    if (!rc)
        mig_trace("source", "stream %u: epoch %u: acknowledged", job->index, job->epoch);
    return rc;
}

/*
 * Stream job->index reconnected: does the receiver need this epoch again?
 * *again: resend it; false when it had ended the epoch (only its ACK was
 * lost).
 */
static int resume_epoch(struct send_job *job, uint32_t resume, bool *again)
{
    struct mig_xfer_sender *s = job->sender;

    *again = resume == job->epoch;
    if (resume != job->epoch && resume != job->epoch + 1)
        return mig_error_set(MIG_EFORMAT, "stream %u: the receiver resumes it at epoch "
                             "%u, but epoch %u is being sent", job->index, resume,
                             job->epoch);
    if (s->opts.fault == MIG_XFER_FAULT_RESET_ALWAYS)
        s->fault_done = false;          /* test fault: every connection breaks */
    return 0;
}

/*
 * Send this stream's part of the epoch; when its connection is lost,
 * reconnect and send the whole part again, until the receiver has it.
 */
static int send_stream_epoch(struct send_job *job)
{
    struct mig_xfer_sender *s = job->sender;
    unsigned int i = job->index;
    struct mig_xfer_stats before;
    uint32_t resume;
    bool again = true;
    int rc;

    if (s->opts.fault == MIG_XFER_FAULT_RESET_ROUNDS && i == s->count - 1)
        s->fault_done = false;          /* test fault: one reset per epoch */
    for (;;) {
        /* The page counts are those of the attempt that got through (what
         * the receiver counts); bytes and frames all that went out. */
        before = job->stats;
        rc = send_stream_epoch_once(job);
        if (!rc) {
            s->tries[i] = 0;
            return 0;
        }
        if (!s->lost[i] || !s->opts.max_reconnects)
            return rc;
        rc = stream_reconnect(s, i, rc, &resume);
        if (rc)
            return rc;
        job->stats.reconnects++;
        rc = resume_epoch(job, resume, &again);
        if (rc || !again)
            return rc;
        job->stats.pages = before.pages;
        job->stats.zero_pages = before.zero_pages;
        job->stats.unchanged_pages = before.unchanged_pages;
        job->stats.compressed_pages = before.compressed_pages;
        job->force = true;
    }
}

static void *send_thread(void *arg)
{
    struct send_job *job = arg;

    job->rc = send_stream_epoch(job);
    if (job->rc) {
        claim_failure(job->sender, job->index);
        snprintf(job->message, sizeof(job->message), "%s", mig_error_last());
    }
    return NULL;
}

int mig_xfer_sender_send_epoch(struct mig_xfer_sender *s, uint32_t epoch,
                               const uint64_t *pfns, size_t count,
                               mig_xfer_read_page_fn read_page, void *arg,
                               uint64_t *last_hash,
                               struct mig_xfer_stats *stats)
{
    unsigned int n = s->count;
    struct send_job *jobs = NULL, *first = NULL;
    pthread_t *threads = NULL;
    uint64_t *bucketed = NULL;
    size_t *fill = NULL;
    unsigned int started = 0;
    bool compress;
    int failed, rc;

    jobs = calloc(n, sizeof(*jobs));
    threads = calloc(n, sizeof(*threads));
    bucketed = malloc((count ? count : 1) * sizeof(*bucketed));
    fill = calloc(n + 1, sizeof(*fill));
    if (!jobs || !threads || !bucketed || !fill) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory for an epoch of %zu pages", count);
        goto out;
    }

    /* Bucket the pfns by stream, keeping their order within a stream. */
    for (size_t i = 0; i < count; i++) {
        if (pfns[i] > MIG_XFER_PFN_MASK) {
            rc = mig_error_set(MIG_EINVAL, "pfn %#llx is beyond the 52 bits "
                               "the data stream can carry",
                               (unsigned long long)pfns[i]);
            goto out;
        }
        fill[mig_xfer_stream_of_pfn(pfns[i], n) + 1]++;
    }
    for (unsigned int j = 1; j <= n; j++)
        fill[j] += fill[j - 1];
    for (unsigned int j = 0; j < n; j++) {
        jobs[j].pfns = bucketed + fill[j];
        jobs[j].count = fill[j + 1] - fill[j];
    }
    for (size_t i = 0; i < count; i++)
        bucketed[fill[mig_xfer_stream_of_pfn(pfns[i], n)]++] = pfns[i];

    atomic_store(&s->first_failed, -1);
    compress = atomic_load(&s->compress);   /* once, before any thread runs */
    for (unsigned int j = 0; j < n; j++) {
        jobs[j].compress = compress;        /* for the whole epoch */
        jobs[j].sender = s;
        jobs[j].index = j;
        jobs[j].epoch = epoch;
        jobs[j].read_page = read_page;
        jobs[j].arg = arg;
        jobs[j].last_hash = last_hash;
        if (pthread_create(&threads[j], NULL, send_thread, &jobs[j])) {
            rc = mig_error_set(MIG_ENOMEM, "cannot start sender thread %u", j);
            goto join;
        }
        started++;
    }
    rc = 0;
join:
    for (unsigned int j = 0; j < started; j++)
        pthread_join(threads[j], NULL);
    for (unsigned int j = 0; j < started; j++)
        if (stats)
            wire_stats_add(stats, &jobs[j].stats);
    /* The stream that failed first says why (claim_failure), unless it
     * came back from its reset and another stream failed later. */
    failed = atomic_load(&s->first_failed);
    if (failed >= 0 && (unsigned int)failed < started && jobs[failed].rc)
        first = &jobs[failed];
    for (unsigned int j = 0; j < started && !first; j++)
        if (jobs[j].rc)
            first = &jobs[j];
    if (!rc && first)
        rc = mig_error_set(first->rc, "%s", first->message);
    if (!rc && stats)
        stats->epochs++;
    if (!rc)
        s->next_epoch = epoch + 1;
out:
    free(jobs);
    free(threads);
    free(bucketed);
    free(fill);
    return rc;
}

/* DONE on stream i; a lost connection comes back first, when allowed. */
/*
 * Stream i sent DONE (sent: what that send returned): a stream that
 * reconnects waits for DONE's acknowledgement, as a reset right after DONE
 * can lose it before the receiver read it, and sends it again on a new
 * connection until the receiver has it.
 */
static int finish_stream(struct mig_xfer_sender *s, unsigned int i, int sent)
{
    uint32_t resume;
    int rc = sent;

    for (;;) {
        if (!rc && s->opts.max_reconnects)
            rc = read_ack(s, i, WIRE_ACK_DONE);
        if (!rc || !s->lost[i] || !s->opts.max_reconnects)
            return rc;
        rc = stream_reconnect(s, i, rc, &resume);
        if (!rc && resume == WIRE_RESUME_DONE)
            return 0;           /* DONE had arrived; its acknowledgement was lost */
        if (!rc && resume != s->next_epoch)
            rc = mig_error_set(MIG_EFORMAT, "stream %u: the receiver resumes it at "
                               "epoch %u, but all %u epochs were acknowledged", i,
                               resume, s->next_epoch);
        if (rc)
            return rc;
        rc = send_frame(s, i, WIRE_DONE, NULL, 0);
    }
}

int mig_xfer_sender_finish(struct mig_xfer_sender *s)
{
    int sent[MIG_XFER_MAX_STREAMS], rc;

    /* every DONE first, then the acknowledgements: one round trip in all */
    for (unsigned int i = 0; i < s->count; i++) {
        if (s->closed[i])
            continue;
        if (s->opts.fault == MIG_XFER_FAULT_RESET_DONE && i == s->count - 1 &&
            !s->fault_done) {
            s->fault_done = true;
            (void)reset_connection(s, i);
            sent[i] = 0;        /* as if DONE went out, then was lost */
            continue;
        }
        sent[i] = send_frame(s, i, WIRE_DONE, NULL, 0);
    }
    for (unsigned int i = 0; i < s->count; i++) {
        if (s->closed[i])
            continue;
        rc = finish_stream(s, i, sent[i]);
        if (rc)
            return rc;
        s->closed[i] = true;
    }
    return 0;
}

/* Stream i (being added) is unused again: its connection and cipher gone. */
static void drop_stream(struct mig_xfer_sender *s, unsigned int i)
{
    if (s->fds[i] >= 0)
        close(s->fds[i]);
    s->fds[i] = -1;
    if (s->seals) {
        seal_dispose(&s->seals[i]);
        memset(&s->seals[i], 0, sizeof(s->seals[i]));
    }
}

int mig_xfer_sender_add_stream(struct mig_xfer_sender *s)
{
    unsigned int i;
    uint32_t resume;
    int rc;

    if (!s)
        return mig_error_set(MIG_EINVAL, "cannot add a data stream: no sender");
    i = s->count;
    if (i >= MAX)
        return mig_error_set(MIG_ELIMIT, "cannot add a data stream to %u: %d streams "
                             "are the most a migration has", i, MAX);
    if (s->closed[0])
        return mig_error_set(MIG_EINVAL, "cannot add a data stream: the streams "
                             "were already finished or aborted");
    s->seq[i] = s->tries[i] = s->gen[i] = 0;
    s->lost[i] = s->closed[i] = false;
    s->reconnected[i] = 0;
    rc = s->seals ? seal_stream(s, i) : 0;
    if (!rc)
        rc = handshake_stream(s, i, &resume);
    if (!rc && resume != s->next_epoch)
        rc = mig_error_set(MIG_EFORMAT, "the receiver starts it at epoch %u, the next "
                           "epoch is %u", resume, s->next_epoch);
    if (rc) {
        drop_stream(s, i);
        return mig_error_set(rc, "adding stream %u to %s port %s (the migration goes "
                             "on with %u): %s", i, s->host, s->port, i, mig_error_last());
    }
    s->count++;
    if (s->log)
        xtl_log(s->log, XTL_INFO, -1, "xfer", "stream %u joined: %u stream(s) to %s "
                "port %s", i, s->count, s->host, s->port);
    return 0;
}

unsigned int mig_xfer_sender_streams(const struct mig_xfer_sender *s)
{
    return s ? s->count : 0;
}

int mig_xfer_sender_set_rate(struct mig_xfer_sender *s, uint64_t bytes_per_second)
{
    int rc;

    if (!s)
        return mig_error_set(MIG_EINVAL, "cannot pace the data streams: no sender");
    s->opts.max_rate_per_stream = bytes_per_second;
    for (unsigned int i = 0; i < s->count; i++) {
        if (s->fds[i] < 0)
            continue;
        rc = pace(s->fds[i], bytes_per_second);
        if (rc)
            return mig_error_set(rc, "stream %u: %s", i, mig_error_last());
    }
    return 0;
}

uint64_t mig_xfer_sender_reconnects(const struct mig_xfer_sender *s)
{
    uint64_t total = 0;

    for (unsigned int i = 0; s && i < s->count; i++)
        total += s->reconnected[i];
    return total;
}

void mig_xfer_sender_abort(struct mig_xfer_sender *s, int code, const char *message)
{
    for (unsigned int i = 0; i < s->count; i++) {
        uint8_t head[8];
        char text[1024];
        struct iovec body[2];

        if (s->closed[i] || s->fds[i] < 0)
            continue;
        mig_le32_store(head, (uint32_t)-code);
        mig_le32_store(head + 4, 0);
        body[0].iov_base = head;
        body[0].iov_len = sizeof(head);
        body[1].iov_len = strnlen(message, sizeof(text));
        memcpy(text, message, body[1].iov_len);   /* encrypted in place */
        body[1].iov_base = text;
        (void)send_frame(s, i, WIRE_ABORT, body, 2);
        s->closed[i] = true;
    }
}

int mig_xfer_sender_fd(const struct mig_xfer_sender *s, unsigned int index)
{
    return index < s->count ? s->fds[index] : -1;
}

void mig_xfer_sender_close(struct mig_xfer_sender *s)
{
    if (!s)
        return;
    for (unsigned int i = 0; s->fds && i < s->count; i++)
        if (s->fds[i] >= 0)
            close(s->fds[i]);
    if (s->seals)
        for (unsigned int i = 0; i < s->count; i++)
            seal_dispose(&s->seals[i]);
    for (unsigned int i = 0; s->buffers && i < MAX; i++) {
        free(s->buffers[i].desc);
        free(s->buffers[i].data);
        free(s->buffers[i].lens);
        free(s->buffers[i].zdata);
    }
    free(s->buffers);
    free(s->seals);
    free(s->fds);
    free(s->seq);
    free(s->gen);
    free(s->tries);
    free(s->lost);
    free(s->reconnected);
    free(s->closed);
    free(s->host);
    free(s->port);
    OPENSSL_cleanse(s->key, sizeof(s->key));
    free(s);
}
