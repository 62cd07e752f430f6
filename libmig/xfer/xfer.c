/*
 * xfer.c: N parallel data streams of one migration; the wire format is
 * specified in mig_xfer.h.
 *
 * This file moves and verifies pages; it must never decide which pages to
 * send (that is the pre-copy policy's job) nor touch guest memory except
 * through the read_page/write_page callbacks it is given.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <xentoollog.h>
#include <xxhash.h>
#include <openssl/crypto.h>

#include "mig_xfer.h"
#include "seal.h"
#include "util/io.h"
#include "util/le.h"

#define HELLO_SIZE       48
#define HELLO_REPLY_SIZE 16
#define FRAME_HEADER     16
#define HELLO_FLAG_SEALED 1       /* frames are AES-256-GCM sealed */

enum frame_type {
    FRAME_PAGES     = 1,
    FRAME_EPOCH_END = 2,
    FRAME_DONE      = 3,
    FRAME_ABORT     = 4,
};

static const char hello_magic[8] = { 'X', 'M', 'I', 'G', 'D', 'A', 'T', '1' };
static const char reply_magic[8] = { 'X', 'M', 'I', 'G', 'A', 'C', 'K', '1' };

/*
 * Chain one PAGES frame into an epoch digest: xxh3-64 of its descriptor
 * array (count x {pfn|flags, hash}, as on the wire), seeded with the digest
 * so far.  One call per frame, not per page.
 */
static uint64_t digest_add(uint64_t digest, const uint8_t *descriptors, unsigned int count)
{
    return XXH3_64bits_withSeed(descriptors, (size_t)count * 16, digest);
}

static uint64_t zero_page_hash(void)
{
    static const uint8_t zero[MIG_XFER_PAGE_SIZE];

    return mig_page_hash(zero);
}

static bool page_is_zero(const uint8_t *page)
{
    const uint64_t *w = (const uint64_t *)page;

    for (size_t i = 0; i < MIG_XFER_PAGE_SIZE / sizeof(*w); i++)
        if (w[i])
            return false;
    return true;
}

/* ---- socket I/O ------------------------------------------------------ */

/* Wait until fd is readable, at most timeout_ms (0 = forever). */
/* The error of a peer silent for timeout_ms (a read timeout or a poll). */
static int peer_stalled(const char *what, int timeout_ms)
{
    return mig_error_set(MIG_EIO, "%s: no data for %d ms (peer stalled); "
                         "raise the timeout or check the link", what, timeout_ms);
}

/*
 * Wait until fd is readable, at most timeout_ms (0 = forever); when
 * cancel_fd (>= 0; poll ignores -1) becomes readable or hangs up first,
 * MIG_ECANCELLED.
 */
static int wait_readable(int fd, int cancel_fd, int timeout_ms, const char *what)
{
    struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN },
                             { .fd = cancel_fd, .events = POLLIN } };
    int n;

    do {
        n = poll(pfd, 2, timeout_ms > 0 ? timeout_ms : -1);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return mig_error_set_errno(MIG_EIO, errno, "%s: poll", what);
    if (n == 0)
        return peer_stalled(what, timeout_ms);
    if (pfd[1].revents)
        return mig_error_set(MIG_ECANCELLED, "%s: the source gave up (control "
                             "channel)", what);
    return 0;
}

/* Make blocking reads on fd give up after timeout_ms (0 = never). */
static int set_read_timeout(int fd, int timeout_ms)
{
    struct timeval tv = { .tv_sec = timeout_ms / 1000,
                          .tv_usec = (timeout_ms % 1000) * 1000 };

    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
        return mig_error_set_errno(MIG_EIO, errno, "cannot set a read timeout");
    return 0;
}

/*
 * Read exactly len bytes; EOF before that is MIG_ETRUNC.  The stall limit
 * is the socket's SO_RCVTIMEO (set_read_timeout), so a read costs one
 * system call, not a poll and a read.
 */
static int read_exact(int fd, void *buf, size_t len, int timeout_ms,
                      const char *what)
{
    uint8_t *p = buf;

    while (len) {
        ssize_t n = recv(fd, p, len, MSG_WAITALL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return peer_stalled(what, timeout_ms);
        if (n < 0 && errno == ECONNRESET)
            return mig_error_set(MIG_ETRUNC, "%s: connection reset by peer with %zu "
                                 "bytes still expected", what, len);
        if (n < 0)
            return mig_error_set_errno(MIG_EIO, errno, "%s: read", what);
        if (n == 0)
            return mig_error_set(MIG_ETRUNC, "%s: connection closed by peer "
                                 "with %zu bytes still expected", what, len);
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int check_options(const struct mig_xfer_options *opts, bool sender)
{
    if (!opts || opts->version != MIG_XFER_OPTIONS_VERSION)
        return mig_error_set(MIG_EINVAL, "xfer options version %u is not %u: "
                             "initialise them with MIG_XFER_OPTIONS_INIT",
                             opts ? opts->version : 0, MIG_XFER_OPTIONS_VERSION);
    if (sender && (opts->streams < 1 || opts->streams > MIG_XFER_MAX_STREAMS))
        return mig_error_set(MIG_EINVAL, "stream count %u is out of range: "
                             "use 1 to %d streams", opts->streams,
                             MIG_XFER_MAX_STREAMS);
    if (opts->batch_pages < 1 || opts->batch_pages > MIG_XFER_MAX_BATCH)
        return mig_error_set(MIG_EINVAL, "batch of %u pages is out of range: "
                             "use 1 to %d", opts->batch_pages, MIG_XFER_MAX_BATCH);
    return 0;
}

/* ---- sender ---------------------------------------------------------- */

struct mig_xfer_sender {
    struct mig_xfer_options opts;
    xentoollog_logger *log;
    unsigned int count;
    int *fds;
    uint64_t *seq;          /* next frame sequence number per stream */
    bool *closed;           /* DONE or ABORT sent */
    uint64_t fault_pages;   /* pages the last stream sent (fault injection) */
    bool fault_done;
    int wire_fault;         /* a MIG_XFER_FAULT_* to apply to the next frame */
    struct seal *seals;     /* per stream, NULL when plain */
    mig_xfer_prefetch_fn prefetch;  /* or NULL */
};

void mig_xfer_sender_set_prefetch(struct mig_xfer_sender *s, mig_xfer_prefetch_fn fn)
{
    s->prefetch = fn;
}

/* Write len bytes of frame to stream index (the faults below). */
static int stream_write(struct mig_xfer_sender *s, unsigned int index,
                        const uint8_t *frame, size_t len)
{
    return mig_write_all(s->fds[index], frame, len, MIG_IO_SOCKET, "stream %u: write",
                         index);
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
    uint8_t hdr[FRAME_HEADER], tag[SEAL_TAG_SIZE];
    struct iovec iov[5];
    size_t len = s->seals ? SEAL_TAG_SIZE : 0;
    uint64_t seq = s->seq[index]++;
    int n = 1, rc;

    for (int i = 0; i < body_cnt; i++)
        len += body[i].iov_len;
    mig_le32_store(hdr, type);
    mig_le32_store(hdr + 4, (uint32_t)len);
    mig_le64_store(hdr + 8, seq);
    iov[0].iov_base = hdr;
    iov[0].iov_len = sizeof(hdr);
    for (int i = 0; i < body_cnt; i++)
        iov[n++] = body[i];
    if (s->seals) {
        /* The body is encrypted in place; the header is authenticated. */
        rc = seal_encrypt(&s->seals[index], index, seq, hdr, sizeof(hdr), body,
                          body_cnt, tag);
        if (rc)
            return rc;
        iov[n].iov_base = tag;
        iov[n++].iov_len = sizeof(tag);
    }
    if (s->wire_fault && index == s->count - 1)
        return send_frame_faulty(s, index, iov, n);
    return mig_write_all_iov(s->fds[index], iov, n, MIG_IO_SOCKET, "stream %u: write",
                             index);
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
    rc = set_read_timeout(fd, opts->timeout_ms);
    if (rc) {
        close(fd);
        goto out;
    }
    if (opts->max_rate_per_stream) {
        /* TCP pacing caps this one connection (see DESIGN.md). */
        unsigned long rate = (unsigned long)opts->max_rate_per_stream;

        if (setsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE, &rate, sizeof(rate))) {
            rc = mig_error_set_errno(MIG_EIO, errno,
                                     "cannot cap stream at %lu bytes/s", rate);
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

int mig_xfer_sender_connect(const char *host, const char *port,
                            const struct mig_xfer_options *opts,
                            const uint8_t id[16],
                            struct xentoollog_logger *log,
                            struct mig_xfer_sender **sender_out)
{
    struct mig_xfer_sender *s = NULL;
    int rc;

    *sender_out = NULL;
    rc = check_options(opts, true);
    if (rc)
        return rc;

    s = calloc(1, sizeof(*s));
    if (!s)
        return mig_error_set(MIG_ENOMEM, "out of memory for the sender");
    s->opts = *opts;
    s->log = log;
    s->count = opts->streams;
    s->fds = malloc(s->count * sizeof(*s->fds));
    s->seq = calloc(s->count, sizeof(*s->seq));
    s->closed = calloc(s->count, sizeof(*s->closed));
    if (!s->fds || !s->seq || !s->closed) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory for %u streams", s->count);
        goto out;
    }
    for (unsigned int i = 0; i < s->count; i++)
        s->fds[i] = -1;
    if (opts->key) {
        s->seals = calloc(s->count, sizeof(*s->seals));
        if (!s->seals) {
            rc = mig_error_set(MIG_ENOMEM, "out of memory for %u ciphers", s->count);
            goto out;
        }
        for (unsigned int i = 0; i < s->count; i++) {
            uint8_t key[SEAL_KEY_SIZE];

            memcpy(key, opts->key, sizeof(key));
            if (opts->fault == MIG_XFER_FAULT_WRONG_KEY)
                key[0] ^= 0x80;                 /* test fault: not the agreed key */
            rc = seal_init(&s->seals[i], key);
            OPENSSL_cleanse(key, sizeof(key));
            if (rc)
                goto out;
        }
    }

    for (unsigned int i = 0; i < s->count; i++) {
        uint8_t hello[HELLO_SIZE], reply[HELLO_REPLY_SIZE];
        char what[48];
        uint32_t status;

        rc = connect_one(host, port, opts, &s->fds[i]);
        if (rc)
            goto out;
        memcpy(hello, hello_magic, 8);
        mig_le32_store(hello + 8, MIG_XFER_VERSION);
        mig_le32_store(hello + 12, i);
        mig_le32_store(hello + 16, s->count);
        mig_le32_store(hello + 20, MIG_XFER_PAGE_SIZE);
        mig_le64_store(hello + 24, s->seals ? HELLO_FLAG_SEALED : 0);
        memcpy(hello + 32, id, 16);
        snprintf(what, sizeof(what), "stream %u handshake", i);
        rc = mig_write_all(s->fds[i], hello, sizeof(hello), MIG_IO_SOCKET, "%s: write",
                           what);
        if (!rc && s->seals) {
            /* Proof of key: a tag over the HELLO, before any frame. */
            uint8_t tag[SEAL_TAG_SIZE];

            rc = seal_encrypt(&s->seals[i], i, SEAL_HELLO_SEQ, hello, sizeof(hello),
                              NULL, 0, tag);
            if (!rc)
                rc = mig_write_all(s->fds[i], tag, sizeof(tag), MIG_IO_SOCKET, "%s: write",
                                   what);
        }
        if (rc)
            goto out;
        rc = read_exact(s->fds[i], reply, sizeof(reply), opts->timeout_ms, what);
        if (rc == MIG_ETRUNC)
            rc = mig_error_set(MIG_ECOMPAT, "%s: the receiver dropped the connection "
                               "without an answer: it does not accept this migration's "
                               "key (or %s)", what, s->seals ? "is not a xenmig receiver"
                               : "requires encryption");
        if (rc)
            goto out;
        if (memcmp(reply, reply_magic, 8)) {
            rc = mig_error_set(MIG_ECOMPAT, "%s: the receiver at %s port %s does "
                               "not speak the xenmig data protocol", what, host, port);
            goto out;
        }
        status = mig_le32_load(reply + 8);
        if (status) {
            rc = mig_error_set(MIG_ECOMPAT, "%s: refused by the receiver (%s, "
                               "its version %u); see the receiver's log", what,
                               mig_error_name(-(int)status), mig_le32_load(reply + 12));
            goto out;
        }
    }
    if (log)
        xtl_log(log, XTL_INFO, -1, "xfer", "connected %u stream(s) to %s port %s",
                s->count, host, port);
    *sender_out = s;
    s = NULL;
    rc = 0;
out:
    if (s)
        mig_xfer_sender_close(s);
    return rc;
}

struct send_job {
    struct mig_xfer_sender *sender;
    unsigned int index;
    uint32_t epoch;
    const uint64_t *pfns;       /* this stream's pfns */
    size_t count;
    mig_xfer_read_page_fn read_page;
    void *arg;
    uint64_t *last_hash;
    struct mig_xfer_stats stats;
    int rc;
    char message[512];
};

static int send_stream_epoch(struct send_job *job)
{
    struct mig_xfer_sender *s = job->sender;
    unsigned int batch = s->opts.batch_pages;
    uint64_t zero_hash = zero_page_hash();
    uint8_t *desc = NULL, *data = NULL;
    uint64_t digest = job->epoch, sent = 0;
    size_t i = 0;
    int rc;

    desc = malloc(8 + (size_t)batch * 16);
    data = malloc((size_t)batch * MIG_XFER_PAGE_SIZE);
    if (!desc || !data) {
        rc = mig_error_set(MIG_ENOMEM, "stream %u: out of memory for a batch",
                           job->index);
        goto out;
    }

    while (i < job->count) {
        unsigned int n = 0, n_data = 0;
        struct iovec body[2];

        if (s->prefetch) {
            rc = s->prefetch(job->arg, job->index, job->pfns + i,
                             job->count - i < batch ? job->count - i : batch);
            if (rc)
                goto out;
        }

        while (n < batch && i < job->count) {
            uint64_t pfn = job->pfns[i++];
            uint8_t *page = data + (size_t)n_data * MIG_XFER_PAGE_SIZE;
            uint64_t hash, word = pfn;
            unsigned int type = 0;

            rc = job->read_page(job->arg, job->index, pfn, page, &type);
            if (rc == MIG_EABSENT)
                continue;           /* a hole: nothing to send */
            if (rc)
                goto out;
            if (type > MIG_XFER_TYPE_MASK >> MIG_XFER_TYPE_SHIFT) {
                rc = mig_error_set(MIG_EINVAL, "stream %u: the backend gave pfn %#llx "
                                   "type %u, beyond the 4 bits a type has", job->index,
                                   (unsigned long long)pfn, type);
                goto out;
            }
            word |= (uint64_t)type << MIG_XFER_TYPE_SHIFT;
            /* One pass: hash, and scan for zeros only on a zero-page hash. */
            hash = mig_page_hash(page);
            if (hash == zero_hash && page_is_zero(page))
                word |= MIG_XFER_FLAG_ZERO;
            if (job->last_hash && job->last_hash[pfn] == mig_page_key(hash, type)) {
                job->stats.unchanged_pages++;
                continue;
            }
            if (job->last_hash)
                job->last_hash[pfn] = mig_page_key(hash, type);
            if (word & MIG_XFER_FLAG_ZERO)
                job->stats.zero_pages++;
            else
                n_data++;
            mig_le64_store(desc + 8 + (size_t)n * 16, word);
            mig_le64_store(desc + 8 + (size_t)n * 16 + 8, hash);
            n++;
        }
        if (!n)
            continue;
        digest = digest_add(digest, desc + 8, n);
        if (s->opts.fault && !s->fault_done && job->index == s->count - 1 &&
            (s->fault_pages += n) >= s->opts.fault_after_pages) {
            s->fault_done = true;
            switch (s->opts.fault) {
            case MIG_XFER_FAULT_CORRUPT_PAGE:
                if (n_data)
                    data[100] ^= 0x01;      /* after hashing: a wire corruption */
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
            default:
                s->wire_fault = (int)s->opts.fault;
            }
        }
        mig_le32_store(desc, job->epoch);
        mig_le32_store(desc + 4, n);
        body[0].iov_base = desc;
        body[0].iov_len = 8 + (size_t)n * 16;
        body[1].iov_base = data;
        body[1].iov_len = (size_t)n_data * MIG_XFER_PAGE_SIZE;
        rc = send_frame(s, job->index, FRAME_PAGES, body, n_data ? 2 : 1);
        if (rc)
            goto out;
        sent += n;
        job->stats.pages += n;
        job->stats.frames++;
        job->stats.bytes += FRAME_HEADER + body[0].iov_len + body[1].iov_len;
    }

    {
        uint8_t end[24];
        struct iovec body = { .iov_base = end, .iov_len = sizeof(end) };

        mig_le32_store(end, job->epoch);
        mig_le32_store(end + 4, 0);
        mig_le64_store(end + 8, sent);
        mig_le64_store(end + 16, digest);
        rc = send_frame(s, job->index, FRAME_EPOCH_END, &body, 1);
        if (rc)
            goto out;
        job->stats.frames++;
        job->stats.bytes += FRAME_HEADER + sizeof(end);
    }
    rc = 0;
out:
    free(desc);
    free(data);
    return rc;
}

static void *send_thread(void *arg)
{
    struct send_job *job = arg;

    job->rc = send_stream_epoch(job);
    if (job->rc)
        snprintf(job->message, sizeof(job->message), "%s", mig_error_last());
    return NULL;
}

static void stats_add(struct mig_xfer_stats *to, const struct mig_xfer_stats *from)
{
    to->pages += from->pages;
    to->zero_pages += from->zero_pages;
    to->unchanged_pages += from->unchanged_pages;
    to->bytes += from->bytes;
    to->frames += from->frames;
    to->epochs += from->epochs;
}

int mig_xfer_sender_send_epoch(struct mig_xfer_sender *s, uint32_t epoch,
                               const uint64_t *pfns, size_t count,
                               mig_xfer_read_page_fn read_page, void *arg,
                               uint64_t *last_hash,
                               struct mig_xfer_stats *stats)
{
    unsigned int n = s->count;
    struct send_job *jobs = NULL;
    pthread_t *threads = NULL;
    uint64_t *bucketed = NULL;
    size_t *fill = NULL;
    unsigned int started = 0;
    int rc;

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

    for (unsigned int j = 0; j < n; j++) {
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
    for (unsigned int j = 0; j < started; j++) {
        if (stats)
            stats_add(stats, &jobs[j].stats);
        if (!rc && jobs[j].rc)
            rc = mig_error_set(jobs[j].rc, "%s", jobs[j].message);
    }
    if (!rc && stats)
        stats->epochs++;
out:
    free(jobs);
    free(threads);
    free(bucketed);
    free(fill);
    return rc;
}

int mig_xfer_sender_finish(struct mig_xfer_sender *s)
{
    int rc;

    for (unsigned int i = 0; i < s->count; i++) {
        if (s->closed[i])
            continue;
        rc = send_frame(s, i, FRAME_DONE, NULL, 0);
        if (rc)
            return rc;
        s->closed[i] = true;
    }
    return 0;
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
        (void)send_frame(s, i, FRAME_ABORT, body, 2);
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
    free(s->seals);
    free(s->fds);
    free(s->seq);
    free(s->closed);
    free(s);
}

/* ---- receiver -------------------------------------------------------- */

struct mig_xfer_listener {
    struct mig_xfer_options opts;   /* opts.key points at key below, or NULL */
    xentoollog_logger *log;
    int fd;
    unsigned int port;
    uint8_t key[SEAL_KEY_SIZE];
};

struct mig_xfer_receiver {
    struct mig_xfer_options opts;   /* opts.key points at key below, or NULL */
    uint8_t key[SEAL_KEY_SIZE];
    xentoollog_logger *log;
    unsigned int count;
    int *fds;               /* by stream index */
    uint8_t id[16];

    /* receive state */
    pthread_mutex_t lock;
    int64_t *last_ended;    /* last epoch ended per stream, -1 = none */
    int64_t all_ended;      /* last epoch ended on every stream */
    int first_failed;       /* stream whose error woke the others, -1 = none */
    mig_xfer_write_page_fn write_page;
    mig_xfer_epoch_done_fn epoch_done;
    void *arg;
};

int mig_xfer_listen(const char *host, const char *port,
                    const struct mig_xfer_options *opts,
                    struct xentoollog_logger *log,
                    struct mig_xfer_listener **listener_out)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
    struct addrinfo *res = NULL;
    struct mig_xfer_listener *l = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int one = 1, rc;

    *listener_out = NULL;
    rc = check_options(opts, false);
    if (rc)
        return rc;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc) {
        rc = mig_error_set(MIG_EINVAL, "cannot resolve '%s' port '%s' to listen on: %s",
                           host ? host : "*", port, gai_strerror(rc));
        res = NULL;
        goto out;
    }
    l = calloc(1, sizeof(*l));
    if (!l) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory for a listener");
        goto out;
    }
    l->opts = *opts;
    if (opts->key) {
        memcpy(l->key, opts->key, SEAL_KEY_SIZE);
        l->opts.key = l->key;
    }
    l->log = log;
    l->fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l->fd < 0) {
        rc = mig_error_set_errno(MIG_EIO, errno, "socket");
        goto out;
    }
    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(l->fd, res->ai_addr, res->ai_addrlen) || listen(l->fd, 2 * MIG_XFER_MAX_STREAMS)) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot listen on %s port %s",
                                 host ? host : "*", port);
        goto out;
    }
    if (getsockname(l->fd, (struct sockaddr *)&ss, &sl)) {
        rc = mig_error_set_errno(MIG_EIO, errno, "getsockname");
        goto out;
    }
    l->port = ntohs(ss.ss_family == AF_INET6
                    ? ((struct sockaddr_in6 *)&ss)->sin6_port
                    : ((struct sockaddr_in *)&ss)->sin_port);
    *listener_out = l;
    l = NULL;
    rc = 0;
out:
    if (l) {
        if (l->fd >= 0)
            close(l->fd);
        free(l);
    }
    if (res)
        freeaddrinfo(res);
    return rc;
}

unsigned int mig_xfer_listener_port(const struct mig_xfer_listener *l)
{
    return l->port;
}

void mig_xfer_listener_close(struct mig_xfer_listener *l)
{
    if (!l)
        return;
    close(l->fd);
    OPENSSL_cleanse(l->key, sizeof(l->key));
    free(l);
}

/* Validate one HELLO against what the receiver has so far. */
static int check_hello(struct mig_xfer_receiver *r, const uint8_t *hello,
                       unsigned int accepted)
{
    uint32_t version = mig_le32_load(hello + 8), index = mig_le32_load(hello + 12);
    uint32_t count = mig_le32_load(hello + 16), page = mig_le32_load(hello + 20);

    if (memcmp(hello, hello_magic, 8))
        return mig_error_set(MIG_EFORMAT, "connection %u: bad magic %.8s: not a "
                             "xenmig data stream", accepted, (const char *)hello);
    if (version != MIG_XFER_VERSION)
        return mig_error_set(MIG_ECOMPAT, "connection %u: data stream version %u, "
                             "this receiver speaks %d: upgrade the older side",
                             accepted, version, MIG_XFER_VERSION);
    if (page != MIG_XFER_PAGE_SIZE ||
        (mig_le64_load(hello + 24) & ~(uint64_t)HELLO_FLAG_SEALED))
        return mig_error_set(MIG_ECOMPAT, "connection %u: page size %u / flags "
                             "%#llx not supported", accepted, page,
                             (unsigned long long)mig_le64_load(hello + 24));
    if (r->opts.key && !(mig_le64_load(hello + 24) & HELLO_FLAG_SEALED))
        return mig_error_set(MIG_ECOMPAT, "connection %u: a plain (unencrypted) data "
                             "stream, but this receiver requires encryption",
                             accepted);
    if (!r->opts.key && (mig_le64_load(hello + 24) & HELLO_FLAG_SEALED))
        return mig_error_set(MIG_ECOMPAT, "connection %u: an encrypted data stream, "
                             "but this receiver was given no key", accepted);
    if (count < 1 || count > MIG_XFER_MAX_STREAMS)
        return mig_error_set(MIG_EFORMAT, "connection %u: stream count %u out of "
                             "range 1..%d", accepted, count, MIG_XFER_MAX_STREAMS);
    if (accepted && count != r->count)
        return mig_error_set(MIG_EFORMAT, "connection %u: stream count %u differs "
                             "from the first stream's %u", accepted, count, r->count);
    if (accepted && memcmp(hello + 32, r->id, 16))
        return mig_error_set(MIG_ECOMPAT, "connection %u: belongs to another "
                             "migration (migration id differs)", accepted);
    if (index >= count)
        return mig_error_set(MIG_EFORMAT, "connection %u: stream index %u out of "
                             "range for %u streams", accepted, index, count);
    if (accepted && r->fds[index] >= 0)
        return mig_error_set(MIG_EFORMAT, "connection %u: stream index %u "
                             "announced twice", accepted, index);
    return 0;
}

/*
 * Read the 16-byte proof that follows a sealed HELLO and check it: a GCM
 * tag over the HELLO under the migration key.  0, or an error that says
 * the peer does not know the key.
 */
static int prove_key(struct mig_xfer_receiver *r, int fd, const uint8_t *hello)
{
    struct seal seal = { 0 };
    uint8_t tag[SEAL_TAG_SIZE];
    uint32_t index = mig_le32_load(hello + 12);
    int rc;

    if (memcmp(hello, hello_magic, 8) || !(mig_le64_load(hello + 24) & HELLO_FLAG_SEALED))
        return mig_error_set(MIG_ECOMPAT, "a plain or foreign connection to a receiver "
                             "that requires encryption");
    rc = read_exact(fd, tag, sizeof(tag), r->opts.timeout_ms, "stream key proof");
    if (rc)
        return rc;
    rc = seal_init(&seal, r->opts.key);
    if (!rc)
        rc = seal_decrypt(&seal, index, SEAL_HELLO_SEQ, hello, HELLO_SIZE, NULL, 0, tag);
    seal_dispose(&seal);
    if (rc == MIG_ECORRUPT)
        rc = mig_error_set(MIG_ECOMPAT, "stream %u does not prove knowledge of the "
                           "migration key (wrong key or not the source)", index);
    return rc;
}

static int receiver_new(const struct mig_xfer_options *opts, const uint8_t *key,
                        xentoollog_logger *log, struct mig_xfer_receiver **out)
{
    struct mig_xfer_receiver *r = calloc(1, sizeof(*r));

    if (!r)
        return mig_error_set(MIG_ENOMEM, "out of memory for a receiver");
    r->opts = *opts;
    if (key) {
        memcpy(r->key, key, SEAL_KEY_SIZE);
        r->opts.key = r->key;
    }
    r->log = log;
    r->fds = malloc(MIG_XFER_MAX_STREAMS * sizeof(*r->fds));
    if (!r->fds) {
        free(r);
        return mig_error_set(MIG_ENOMEM, "out of memory for a receiver");
    }
    for (int i = 0; i < MIG_XFER_MAX_STREAMS; i++)
        r->fds[i] = -1;
    *out = r;
    return 0;
}

#define CONNECTION_DROPPED 1

/*
 * Handshake one new connection (fd is consumed in every case): 0 when it
 * joined the receiver as its stream, CONNECTION_DROPPED when it could not
 * prove the key (ignored, as if it never came), or an error that fails the
 * whole accept.
 */
static int accept_connection(struct mig_xfer_receiver *r, int fd, unsigned int *accepted)
{
    uint8_t hello[HELLO_SIZE], reply[HELLO_REPLY_SIZE];
    int hello_rc, rc;

    rc = set_read_timeout(fd, r->opts.timeout_ms);
    if (!rc)
        rc = read_exact(fd, hello, sizeof(hello), r->opts.timeout_ms, "stream handshake");
    if (r->opts.key) {
        if (!rc)
            rc = prove_key(r, fd, hello);
        if (rc) {
            /*
             * A connection that cannot prove it knows the key never gets
             * further, and cannot disturb the migration either: drop it
             * and keep waiting for the real streams.
             */
            if (r->log)
                xtl_log(r->log, XTL_WARN, -1, "xfer", "dropped a connection: %s",
                        mig_error_last());
            close(fd);
            return CONNECTION_DROPPED;
        }
    }
    if (rc)
        goto fail;
    hello_rc = check_hello(r, hello, *accepted);
    memcpy(reply, reply_magic, 8);
    mig_le32_store(reply + 8, (uint32_t)-hello_rc);
    mig_le32_store(reply + 12, MIG_XFER_VERSION);
    rc = mig_write_all(fd, reply, sizeof(reply), MIG_IO_SOCKET,
                       "stream handshake reply: write");
    if (!rc)
        rc = hello_rc;
    if (rc)
        goto fail;
    if (!*accepted) {
        r->count = mig_le32_load(hello + 16);
        memcpy(r->id, hello + 32, 16);
    }
    r->fds[mig_le32_load(hello + 12)] = fd;
    (*accepted)++;
    return 0;
fail:
    close(fd);
    return rc;
}

int mig_xfer_accept(struct mig_xfer_listener *l, struct mig_xfer_receiver **receiver_out)
{
    struct mig_xfer_receiver *r = NULL;
    unsigned int accepted = 0;
    int rc;

    *receiver_out = NULL;
    rc = receiver_new(&l->opts, l->opts.key ? l->key : NULL, l->log, &r);
    if (rc)
        return rc;
    do {
        int fd;

        rc = wait_readable(l->fd, l->opts.cancel_fd, l->opts.timeout_ms,
                                     "waiting for data streams");
        if (rc)
            goto out;
        fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            rc = mig_error_set_errno(MIG_EIO, errno, "accept");
            goto out;
        }
        rc = accept_connection(r, fd, &accepted);
        if (rc < 0)
            goto out;
    } while (!accepted || accepted < r->count);   /* count is known from the first */

    if (r->log)
        xtl_log(r->log, XTL_INFO, -1, "xfer", "accepted %u stream(s)", r->count);
    *receiver_out = r;
    r = NULL;
    rc = 0;
out:
    if (r)
        mig_xfer_receiver_close(r);
    return rc;
}

int mig_xfer_receiver_adopt(const int *fds, unsigned int nr_fds,
                            const struct mig_xfer_options *opts,
                            struct xentoollog_logger *log,
                            struct mig_xfer_receiver **receiver_out)
{
    struct mig_xfer_receiver *r = NULL;
    unsigned int accepted = 0, i = 0;
    int rc;

    *receiver_out = NULL;
    rc = check_options(opts, false);
    if (!rc)
        rc = receiver_new(opts, opts->key, log, &r);
    if (rc)
        goto out;
    for (; i < nr_fds; i++) {
        rc = accept_connection(r, fds[i], &accepted);
        if (rc < 0) {
            i++;
            goto out;
        }
    }
    if (!accepted || accepted != r->count) {
        rc = mig_error_set(MIG_EFORMAT, "%u of the streams proved themselves, the "
                           "first announced %u", accepted, r->count);
        goto out;
    }
    *receiver_out = r;
    r = NULL;
    rc = 0;
out:
    for (; i < nr_fds; i++)
        close(fds[i]);
    if (r)
        mig_xfer_receiver_close(r);
    return rc;
}

struct recv_job {
    struct mig_xfer_receiver *receiver;
    unsigned int index;
    struct mig_xfer_stats stats;
    int rc;
    char message[512];
};

/* Stream index has ended epoch: advance the all-streams barrier. */
static int epoch_ended(struct mig_xfer_receiver *r, unsigned int index, int64_t epoch)
{
    int rc = 0;

    pthread_mutex_lock(&r->lock);
    r->last_ended[index] = epoch;
    for (;;) {
        int64_t min = r->last_ended[0];

        for (unsigned int i = 1; i < r->count; i++)
            if (r->last_ended[i] < min)
                min = r->last_ended[i];
        if (min <= r->all_ended)
            break;
        r->all_ended++;
        if (r->epoch_done) {
            rc = r->epoch_done(r->arg, (uint32_t)r->all_ended);
            if (rc)
                break;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

static int receive_stream(struct recv_job *job)
{
    struct mig_xfer_receiver *r = job->receiver;
    unsigned int idx = job->index, count = r->count;
    uint64_t zero_hash = zero_page_hash();
    uint64_t seq = 0, offset = 0, digest = 0, in_epoch = 0;
    int64_t epoch = -1;          /* epoch in progress on this stream */
    int64_t last_ended = -1;
    uint8_t *body = NULL;
    struct seal seal = { 0 };
    uint32_t max_len = MIG_XFER_MAX_FRAME + (r->opts.key ? SEAL_TAG_SIZE : 0);
    char what[64];
    int rc;

    snprintf(what, sizeof(what), "stream %u", idx);
    body = malloc(max_len);
    if (!body) {
        rc = mig_error_set(MIG_ENOMEM, "%s: out of memory", what);
        goto out;
    }
    if (r->opts.key) {
        rc = seal_init(&seal, r->opts.key);
        if (rc)
            goto out;
    }

    for (;;) {
        uint8_t hdr[FRAME_HEADER];
        uint32_t type, len;
        uint64_t frame_seq, frame_off = offset;

        rc = read_exact(r->fds[idx], hdr, sizeof(hdr), r->opts.timeout_ms, what);
        if (rc) {
            if (rc == MIG_ETRUNC)
                rc = mig_error_set(MIG_ETRUNC, "%s: connection lost at byte %llu "
                                   "before DONE: the sender died or the link was cut",
                                   what, (unsigned long long)offset);
            goto out;
        }
        type = mig_le32_load(hdr);
        len = mig_le32_load(hdr + 4);
        frame_seq = mig_le64_load(hdr + 8);
        if (frame_seq != seq) {
            rc = mig_error_set(MIG_EFORMAT, "%s frame at offset %llu: sequence %llu, "
                               "expected %llu (replayed, reordered or lost frame)",
                               what, (unsigned long long)frame_off,
                               (unsigned long long)frame_seq, (unsigned long long)seq);
            goto out;
        }
        if (len > max_len || (r->opts.key && len < SEAL_TAG_SIZE)) {
            rc = mig_error_set(MIG_ELIMIT, "%s frame %llu at offset %llu: length %u "
                               "is outside 0..%u", what,
                               (unsigned long long)seq, (unsigned long long)frame_off,
                               len, max_len);
            goto out;
        }
        rc = read_exact(r->fds[idx], body, len, r->opts.timeout_ms, what);
        if (rc)
            goto out;
        offset += FRAME_HEADER + len;
        seq++;
        job->stats.frames++;
        job->stats.bytes += FRAME_HEADER + len;
        if (r->opts.key) {
            /* Nothing of a frame is looked at before it is proven authentic. */
            len -= SEAL_TAG_SIZE;
            rc = seal_decrypt(&seal, idx, frame_seq, hdr, sizeof(hdr), body, len,
                              body + len);
            if (rc == MIG_ECORRUPT)
                rc = mig_error_set(MIG_ECORRUPT, "%s frame %llu at offset %llu fails "
                                   "authentication: tampered, replayed from another "
                                   "stream, or sealed with another key", what,
                                   (unsigned long long)frame_seq,
                                   (unsigned long long)frame_off);
            if (rc)
                goto out;
        }

        switch (type) {
        case FRAME_PAGES: {
            uint32_t e, n;
            size_t need, data_off;

            if (len < 8) {
                rc = mig_error_set(MIG_EFORMAT, "%s PAGES frame %llu at offset %llu: "
                                   "%u-byte body is shorter than its 8-byte head",
                                   what, (unsigned long long)(seq - 1),
                                   (unsigned long long)frame_off, len);
                goto out;
            }
            e = mig_le32_load(body);
            n = mig_le32_load(body + 4);
            if (n < 1 || n > MIG_XFER_MAX_BATCH) {
                rc = mig_error_set(MIG_EFORMAT, "%s PAGES frame %llu at offset %llu: "
                                   "count %u out of range 1..%d", what,
                                   (unsigned long long)(seq - 1),
                                   (unsigned long long)frame_off, n, MIG_XFER_MAX_BATCH);
                goto out;
            }
            if (epoch < 0) {
                if ((int64_t)e != last_ended + 1) {
                    rc = mig_error_set(MIG_EFORMAT, "%s PAGES frame %llu at offset "
                                       "%llu: epoch %u, expected %lld", what,
                                       (unsigned long long)(seq - 1),
                                       (unsigned long long)frame_off, e,
                                       (long long)(last_ended + 1));
                    goto out;
                }
                epoch = e;
                digest = e;
                in_epoch = 0;
            } else if ((int64_t)e != epoch) {
                rc = mig_error_set(MIG_EFORMAT, "%s PAGES frame %llu at offset %llu: "
                                   "epoch %u inside epoch %lld", what,
                                   (unsigned long long)(seq - 1),
                                   (unsigned long long)frame_off, e, (long long)epoch);
                goto out;
            }
            need = 8 + (size_t)n * 16;
            for (uint32_t k = 0; k < n && need <= len; k++)
                if (!(mig_le64_load(body + 8 + (size_t)k * 16) & MIG_XFER_FLAG_ZERO))
                    need += MIG_XFER_PAGE_SIZE;
            if (need != len) {
                rc = mig_error_set(MIG_EFORMAT, "%s PAGES frame %llu at offset %llu: "
                                   "length %u does not match its %u descriptors "
                                   "(%zu bytes)", what, (unsigned long long)(seq - 1),
                                   (unsigned long long)frame_off, len, n, need);
                goto out;
            }
            data_off = 8 + (size_t)n * 16;
            for (uint32_t k = 0; k < n; k++) {
                uint64_t word = mig_le64_load(body + 8 + (size_t)k * 16);
                uint64_t hash = mig_le64_load(body + 8 + (size_t)k * 16 + 8);
                uint64_t pfn = word & MIG_XFER_PFN_MASK;
                const uint8_t *data = NULL;
                uint64_t actual;

                if ((word & ~(MIG_XFER_PFN_MASK | MIG_XFER_TYPE_MASK |
                              MIG_XFER_FLAG_ZERO)) ||
                    mig_xfer_stream_of_pfn(pfn, count) != idx) {
                    rc = mig_error_set(MIG_EFORMAT, "%s PAGES frame %llu at offset "
                                       "%llu: descriptor %u (%#llx) names pfn %#llx "
                                       "of another stream or reserved flags", what,
                                       (unsigned long long)(seq - 1),
                                       (unsigned long long)frame_off, k,
                                       (unsigned long long)word,
                                       (unsigned long long)pfn);
                    goto out;
                }
                if (word & MIG_XFER_FLAG_ZERO) {
                    actual = zero_hash;
                    job->stats.zero_pages++;
                } else {
                    data = body + data_off;
                    data_off += MIG_XFER_PAGE_SIZE;
                    actual = mig_page_hash(data);
                }
                if (actual != hash) {
                    rc = mig_error_set(MIG_ECORRUPT, "%s PAGES frame %llu at offset "
                                       "%llu: pfn %#llx arrived corrupted (hash "
                                       "%016llx, sender said %016llx)", what,
                                       (unsigned long long)(seq - 1),
                                       (unsigned long long)frame_off,
                                       (unsigned long long)pfn,
                                       (unsigned long long)actual,
                                       (unsigned long long)hash);
                    goto out;
                }
                rc = r->write_page(r->arg, job->index, pfn, data,
                                   (unsigned int)((word & MIG_XFER_TYPE_MASK) >>
                                                  MIG_XFER_TYPE_SHIFT),
                                   (uint32_t)epoch);
                if (rc)
                    goto out;
                in_epoch++;
                job->stats.pages++;
            }
            digest = digest_add(digest, body + 8, n);
            break;
        }
        case FRAME_EPOCH_END: {
            uint32_t e;

            if (len != 24) {
                rc = mig_error_set(MIG_EFORMAT, "%s EPOCH_END frame %llu at offset "
                                   "%llu: length %u, expected 24", what,
                                   (unsigned long long)(seq - 1),
                                   (unsigned long long)frame_off, len);
                goto out;
            }
            e = mig_le32_load(body);
            if (epoch < 0) {
                /* An epoch in which this stream had nothing to send. */
                epoch = e;
                digest = e;
                in_epoch = 0;
            }
            if ((int64_t)e != epoch || (int64_t)e != last_ended + 1) {
                rc = mig_error_set(MIG_EFORMAT, "%s EPOCH_END frame %llu at offset "
                                   "%llu: epoch %u, expected %lld", what,
                                   (unsigned long long)(seq - 1),
                                   (unsigned long long)frame_off, e,
                                   (long long)(last_ended + 1));
                goto out;
            }
            if (mig_le64_load(body + 8) != in_epoch ||
                mig_le64_load(body + 16) != digest) {
                rc = mig_error_set(MIG_ECORRUPT, "%s epoch %u incomplete: sender sent "
                                   "%llu pages, %llu arrived (digest %016llx vs "
                                   "%016llx): pages were lost or altered", what, e,
                                   (unsigned long long)mig_le64_load(body + 8),
                                   (unsigned long long)in_epoch,
                                   (unsigned long long)mig_le64_load(body + 16),
                                   (unsigned long long)digest);
                goto out;
            }
            last_ended = e;
            epoch = -1;
            rc = epoch_ended(r, idx, e);
            if (rc)
                goto out;
            break;
        }
        case FRAME_DONE:
            if (epoch >= 0) {
                rc = mig_error_set(MIG_EFORMAT, "%s DONE at offset %llu inside epoch "
                                   "%lld: the last epoch was not ended", what,
                                   (unsigned long long)frame_off, (long long)epoch);
                goto out;
            }
            rc = 0;
            goto out;
        case FRAME_ABORT:
            rc = mig_error_set(MIG_ECANCELLED, "%s: the sender aborted the migration: "
                               "%.*s", what, len > 8 ? (int)(len - 8) : 0,
                               (const char *)body + 8);
            goto out;
        default:
            rc = mig_error_set(MIG_EFORMAT, "%s frame %llu at offset %llu: unknown "
                               "frame type %u", what, (unsigned long long)(seq - 1),
                               (unsigned long long)frame_off, type);
            goto out;
        }
    }
out:
    seal_dispose(&seal);
    free(body);
    return rc;
}

static void *receive_thread(void *arg)
{
    struct recv_job *job = arg;
    struct mig_xfer_receiver *r = job->receiver;

    job->rc = receive_stream(job);
    if (job->rc) {
        bool first;

        snprintf(job->message, sizeof(job->message), "%s", mig_error_last());
        pthread_mutex_lock(&r->lock);
        first = r->first_failed < 0;
        if (first)
            r->first_failed = (int)job->index;
        pthread_mutex_unlock(&r->lock);
        /* Wake the other streams: the migration has failed. */
        if (first)
            for (unsigned int i = 0; i < r->count; i++)
                shutdown(r->fds[i], SHUT_RDWR);
    }
    return NULL;
}

int mig_xfer_receive(struct mig_xfer_receiver *r,
                     mig_xfer_write_page_fn write_page,
                     mig_xfer_epoch_done_fn epoch_done, void *arg,
                     struct mig_xfer_stats *stats, uint8_t id_out[16])
{
    struct recv_job *jobs = NULL;
    pthread_t *threads = NULL;
    unsigned int started = 0;
    struct mig_xfer_stats total = { 0 };
    int rc;

    jobs = calloc(r->count, sizeof(*jobs));
    threads = calloc(r->count, sizeof(*threads));
    r->last_ended = malloc(r->count * sizeof(*r->last_ended));
    if (!jobs || !threads || !r->last_ended) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory for %u streams", r->count);
        goto out;
    }
    for (unsigned int i = 0; i < r->count; i++)
        r->last_ended[i] = -1;
    r->all_ended = -1;
    r->first_failed = -1;
    r->write_page = write_page;
    r->epoch_done = epoch_done;
    r->arg = arg;
    pthread_mutex_init(&r->lock, NULL);

    rc = 0;
    for (unsigned int i = 0; i < r->count; i++) {
        jobs[i].receiver = r;
        jobs[i].index = i;
        if (pthread_create(&threads[i], NULL, receive_thread, &jobs[i])) {
            rc = mig_error_set(MIG_ENOMEM, "cannot start receiver thread %u", i);
            for (unsigned int k = 0; k < r->count; k++)
                shutdown(r->fds[k], SHUT_RDWR);
            break;
        }
        started++;
    }
    for (unsigned int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    pthread_mutex_destroy(&r->lock);

    /* Report the stream that failed first, not the ones it woke. */
    if (!rc && r->first_failed >= 0)
        rc = mig_error_set(jobs[r->first_failed].rc, "%s",
                           jobs[r->first_failed].message);
    for (unsigned int i = 0; i < started; i++)
        stats_add(&total, &jobs[i].stats);
    total.epochs = r->all_ended >= 0 ? (uint64_t)r->all_ended + 1 : 0;
    if (stats)
        *stats = total;
    if (id_out)
        memcpy(id_out, r->id, 16);
out:
    free(jobs);
    free(threads);
    free(r->last_ended);
    r->last_ended = NULL;
    return rc;
}

void mig_xfer_receiver_close(struct mig_xfer_receiver *r)
{
    if (!r)
        return;
    for (int i = 0; r->fds && i < MIG_XFER_MAX_STREAMS; i++)
        if (r->fds[i] >= 0)
            close(r->fds[i]);
    free(r->fds);
    OPENSSL_cleanse(r->key, sizeof(r->key));
    free(r);
}
