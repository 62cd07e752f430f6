/*
 * receiver.c: the receiving end of the N data streams of one migration
 * (mig_xfer.h): listen, accept (or adopt) and handshake every stream, then
 * receive and verify every frame from one thread per stream.  What both
 * ends share is in wire.c.
 *
 * This file verifies what arrives; it must never hand a page to write_page
 * before its frame is proven authentic and its hash matches, nor touch
 * guest memory except through the write_page callback it is given.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xentoollog.h>
#include <openssl/crypto.h>

#include "mig_xfer.h"
#include "seal.h"
#include "util/io.h"
#include "util/le.h"
#include "wire.h"

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
        return wire_peer_stalled(what, timeout_ms);
    if (pfd[1].revents)
        return mig_error_set(MIG_ECANCELLED, "%s: the source gave up (control "
                             "channel)", what);
    return 0;
}

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
    rc = wire_check_options(opts, false);
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
static int check_hello(struct mig_xfer_receiver *r, const struct wire_hello *hello,
                       unsigned int accepted)
{
    uint32_t index = hello->index, count = hello->count;

    if (!wire_hello_magic_ok(hello))
        return mig_error_set(MIG_EFORMAT, "connection %u: bad magic %.8s: not a "
                             "xenmig data stream", accepted, hello->magic);
    if (hello->version != MIG_XFER_VERSION)
        return mig_error_set(MIG_ECOMPAT, "connection %u: data stream version %u, "
                             "this receiver speaks %d: upgrade the older side",
                             accepted, hello->version, MIG_XFER_VERSION);
    if (hello->page_size != MIG_PAGE_SIZE ||
        (hello->flags & ~(uint64_t)WIRE_HELLO_SEALED))
        return mig_error_set(MIG_ECOMPAT, "connection %u: page size %u / flags "
                             "%#llx not supported", accepted, hello->page_size,
                             (unsigned long long)hello->flags);
    if (r->opts.key && !(hello->flags & WIRE_HELLO_SEALED))
        return mig_error_set(MIG_ECOMPAT, "connection %u: a plain (unencrypted) data "
                             "stream, but this receiver requires encryption",
                             accepted);
    if (!r->opts.key && (hello->flags & WIRE_HELLO_SEALED))
        return mig_error_set(MIG_ECOMPAT, "connection %u: an encrypted data stream, "
                             "but this receiver was given no key", accepted);
    if (count < 1 || count > MIG_XFER_MAX_STREAMS)
        return mig_error_set(MIG_EFORMAT, "connection %u: stream count %u out of "
                             "range 1..%d", accepted, count, MIG_XFER_MAX_STREAMS);
    if (accepted && count != r->count)
        return mig_error_set(MIG_EFORMAT, "connection %u: stream count %u differs "
                             "from the first stream's %u", accepted, count, r->count);
    if (accepted && memcmp(hello->id, r->id, 16))
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
static int prove_key(struct mig_xfer_receiver *r, int fd, const uint8_t *raw,
                     const struct wire_hello *hello)
{
    struct seal seal = { 0 };
    uint8_t tag[SEAL_TAG_SIZE];
    uint32_t index = hello->index;
    int rc;

    if (!wire_hello_magic_ok(hello) || !(hello->flags & WIRE_HELLO_SEALED))
        return mig_error_set(MIG_ECOMPAT, "a plain or foreign connection to a receiver "
                             "that requires encryption");
    rc = wire_read_exact(fd, tag, sizeof(tag), r->opts.timeout_ms, "stream key proof");
    if (rc)
        return rc;
    rc = seal_init(&seal, r->opts.key);
    if (!rc)
        rc = wire_hello_check_proof(&seal, index, raw, tag);
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
    uint8_t raw[WIRE_HELLO_SIZE], reply[WIRE_REPLY_SIZE];
    struct wire_hello hello;
    int hello_rc, rc;

    rc = wire_set_read_timeout(fd, r->opts.timeout_ms);
    if (!rc)
        rc = wire_read_exact(fd, raw, sizeof(raw), r->opts.timeout_ms, "stream handshake");
    if (!rc)
        wire_hello_decode(raw, &hello);
    if (r->opts.key) {
        if (!rc)
            rc = prove_key(r, fd, raw, &hello);
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
    hello_rc = check_hello(r, &hello, *accepted);
    wire_reply_encode(reply, hello_rc);
    rc = mig_write_all(fd, reply, sizeof(reply), MIG_IO_SOCKET,
                       "stream handshake reply: write");
    if (!rc)
        rc = hello_rc;
    if (rc)
        goto fail;
    if (!*accepted) {
        r->count = hello.count;
        memcpy(r->id, hello.id, 16);
    }
    r->fds[hello.index] = fd;
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
    rc = wire_check_options(opts, false);
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

/*
 * The receive context of one stream: what receive_stream's frame loop and
 * the handle_* functions share.  One per stream, owned by mig_xfer_receive;
 * body and seal are receive_stream's.
 */
struct recv_stream {
    struct mig_xfer_receiver *receiver;
    unsigned int index;
    char what[64];             /* "stream N", for errors */
    uint8_t *body;             /* the current frame's body, max_len bytes */
    uint32_t max_len;          /* the longest body accepted, tag included */
    struct seal seal;          /* sealed streams: opens every frame */
    uint64_t zero_hash;        /* mig_page_hash of an all-zero page */

    /* the current frame */
    uint32_t type;
    uint32_t len;              /* of its body, without the seal's tag */
    uint64_t frame_seq;
    uint64_t frame_off;        /* byte offset of its header in the stream */

    /* the stream so far */
    uint64_t seq;              /* sequence number the next frame must have */
    uint64_t offset;           /* bytes read */
    int64_t epoch;             /* epoch in progress, -1 = none */
    int64_t last_ended;        /* last epoch ended, -1 = none */
    uint64_t digest;           /* of the epoch in progress */
    uint64_t in_epoch;         /* descriptors received in it */
    bool done;                 /* DONE arrived: the stream ended well */

    /* the outcome, read by mig_xfer_receive */
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

/*
 * An error in the current frame: "stream N KIND frame SEQ at offset OFF:
 * DETAIL", KIND being "PAGES ", "EPOCH_END " or "".
 */
__attribute__((format(printf, 4, 5)))
static int frame_error(const struct recv_stream *rs, int code, const char *kind,
                       const char *fmt, ...)
{
    char detail[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    return mig_error_set(code, "%s %sframe %llu at offset %llu: %s", rs->what, kind,
                         (unsigned long long)rs->frame_seq,
                         (unsigned long long)rs->frame_off, detail);
}

/* Open a sealed frame in place (hdr: its header as read); drops the tag. */
static int open_frame(struct recv_stream *rs, const uint8_t *hdr)
{
    int rc;

    rs->len -= SEAL_TAG_SIZE;
    rc = wire_frame_open(&rs->seal, rs->index, rs->frame_seq, hdr, rs->body, rs->len,
                         rs->body + rs->len);
    if (rc == MIG_ECORRUPT)
        rc = mig_error_set(MIG_ECORRUPT, "%s frame %llu at offset %llu fails "
                           "authentication: tampered, replayed from another "
                           "stream, or sealed with another key", rs->what,
                           (unsigned long long)rs->frame_seq,
                           (unsigned long long)rs->frame_off);
    return rc;
}

/*
 * Read the next frame into rs (type, len, body) and, on a sealed stream,
 * open it: nothing of a frame is looked at before it is proven authentic.
 */
static int read_frame(struct recv_stream *rs)
{
    struct mig_xfer_receiver *r = rs->receiver;
    int fd = r->fds[rs->index], rc;
    uint8_t hdr[WIRE_FRAME_HEADER];
    struct wire_frame_header header;

    rs->frame_off = rs->offset;
    rc = wire_read_exact(fd, hdr, sizeof(hdr), r->opts.timeout_ms, rs->what);
    if (rc == MIG_ETRUNC)
        return mig_error_set(MIG_ETRUNC, "%s: connection lost at byte %llu before "
                             "DONE: the sender died or the link was cut", rs->what,
                             (unsigned long long)rs->offset);
    if (rc)
        return rc;
    wire_frame_header_decode(hdr, &header);
    rs->type = header.type;
    rs->len = header.length;
    rs->frame_seq = header.seq;
    if (header.seq != rs->seq)
        return mig_error_set(MIG_EFORMAT, "%s frame at offset %llu: sequence %llu, "
                             "expected %llu (replayed, reordered or lost frame)",
                             rs->what, (unsigned long long)rs->frame_off,
                             (unsigned long long)header.seq, (unsigned long long)rs->seq);
    if (rs->len > rs->max_len || (r->opts.key && rs->len < SEAL_TAG_SIZE))
        return frame_error(rs, MIG_ELIMIT, "", "length %u is outside 0..%u", rs->len,
                           rs->max_len);
    rc = wire_read_exact(fd, rs->body, rs->len, r->opts.timeout_ms, rs->what);
    if (rc)
        return rc;
    rs->offset += WIRE_FRAME_HEADER + rs->len;
    rs->seq++;
    rs->stats.frames++;
    rs->stats.bytes += WIRE_FRAME_HEADER + rs->len;
    return r->opts.key ? open_frame(rs, hdr) : 0;
}

/* Epoch e begins on this stream: its count and digest start afresh. */
static void begin_epoch(struct recv_stream *rs, uint32_t e)
{
    rs->epoch = e;
    rs->digest = e;
    rs->in_epoch = 0;
}

/*
 * A PAGES frame of epoch e either begins the epoch after the last one
 * ended or continues the one in progress.
 */
static int pages_enter_epoch(struct recv_stream *rs, uint32_t e)
{
    if (rs->epoch < 0) {
        if ((int64_t)e != rs->last_ended + 1)
            return frame_error(rs, MIG_EFORMAT, "PAGES ", "epoch %u, expected %lld", e,
                               (long long)(rs->last_ended + 1));
        begin_epoch(rs, e);
    } else if ((int64_t)e != rs->epoch) {
        return frame_error(rs, MIG_EFORMAT, "PAGES ", "epoch %u inside epoch %lld", e,
                           (long long)rs->epoch);
    }
    return 0;
}

/* The body holds count descriptors and the data of each non-zero page, no more. */
static int pages_check_length(struct recv_stream *rs, uint32_t count)
{
    size_t need = 8 + (size_t)count * 16;

    for (uint32_t k = 0; k < count && need <= rs->len; k++)
        if (!(mig_le64_load(rs->body + 8 + (size_t)k * 16) & MIG_XFER_FLAG_ZERO))
            need += MIG_PAGE_SIZE;
    if (need != rs->len)
        return frame_error(rs, MIG_EFORMAT, "PAGES ", "length %u does not match its %u "
                           "descriptors (%zu bytes)", rs->len, count, need);
    return 0;
}

/*
 * Verify descriptor k of the current PAGES frame and hand its page to
 * write_page.  *data_off: where the next page's data starts in the body.
 */
static int deliver_page(struct recv_stream *rs, uint32_t k, size_t *data_off)
{
    struct mig_xfer_receiver *r = rs->receiver;
    const uint8_t *desc = rs->body + 8 + (size_t)k * 16, *data = NULL;
    uint64_t word = mig_le64_load(desc), hash = mig_le64_load(desc + 8);
    uint64_t pfn = word & MIG_XFER_PFN_MASK, actual;
    int rc;

    if ((word & ~(MIG_XFER_PFN_MASK | MIG_XFER_TYPE_MASK | MIG_XFER_FLAG_ZERO)) ||
        mig_xfer_stream_of_pfn(pfn, r->count) != rs->index)
        return frame_error(rs, MIG_EFORMAT, "PAGES ", "descriptor %u (%#llx) names pfn "
                           "%#llx of another stream or reserved flags", k,
                           (unsigned long long)word, (unsigned long long)pfn);
    if (word & MIG_XFER_FLAG_ZERO) {
        actual = rs->zero_hash;
        rs->stats.zero_pages++;
    } else {
        data = rs->body + *data_off;
        *data_off += MIG_PAGE_SIZE;
        actual = mig_page_hash(data);
    }
    if (actual != hash)
        return frame_error(rs, MIG_ECORRUPT, "PAGES ", "pfn %#llx arrived corrupted (hash "
                           "%016llx, sender said %016llx)", (unsigned long long)pfn,
                           (unsigned long long)actual, (unsigned long long)hash);
    rc = r->write_page(r->arg, rs->index, pfn, data,
                       (unsigned int)((word & MIG_XFER_TYPE_MASK) >> MIG_XFER_TYPE_SHIFT),
                       (uint32_t)rs->epoch);
    if (rc)
        return rc;
    rs->in_epoch++;
    rs->stats.pages++;
    return 0;
}

/* PAGES: u32 epoch, u32 count, count descriptors, the non-zero pages' data. */
static int handle_pages(struct recv_stream *rs)
{
    uint32_t epoch, count;
    size_t data_off;
    int rc;

    if (rs->len < 8)
        return frame_error(rs, MIG_EFORMAT, "PAGES ", "%u-byte body is shorter than its "
                           "8-byte head", rs->len);
    epoch = mig_le32_load(rs->body);
    count = mig_le32_load(rs->body + 4);
    if (count < 1 || count > MIG_XFER_MAX_BATCH)
        return frame_error(rs, MIG_EFORMAT, "PAGES ", "count %u out of range 1..%d",
                           count, MIG_XFER_MAX_BATCH);
    rc = pages_enter_epoch(rs, epoch);
    if (!rc)
        rc = pages_check_length(rs, count);
    data_off = 8 + (size_t)count * 16;
    for (uint32_t k = 0; !rc && k < count; k++)
        rc = deliver_page(rs, k, &data_off);
    if (rc)
        return rc;
    rs->digest = wire_digest_add(rs->digest, rs->body + 8, count);
    return 0;
}

/* EPOCH_END: u32 epoch, u32 zero, u64 descriptors sent, u64 digest. */
static int handle_epoch_end(struct recv_stream *rs)
{
    uint32_t e;
    uint64_t sent, digest;

    if (rs->len != 24)
        return frame_error(rs, MIG_EFORMAT, "EPOCH_END ", "length %u, expected 24",
                           rs->len);
    e = mig_le32_load(rs->body);
    sent = mig_le64_load(rs->body + 8);
    digest = mig_le64_load(rs->body + 16);
    if (rs->epoch < 0)
        begin_epoch(rs, e);    /* an epoch in which this stream had nothing to send */
    if ((int64_t)e != rs->epoch || (int64_t)e != rs->last_ended + 1)
        return frame_error(rs, MIG_EFORMAT, "EPOCH_END ", "epoch %u, expected %lld", e,
                           (long long)(rs->last_ended + 1));
    if (sent != rs->in_epoch || digest != rs->digest)
        return mig_error_set(MIG_ECORRUPT, "%s epoch %u incomplete: sender sent %llu "
                             "pages, %llu arrived (digest %016llx vs %016llx): pages "
                             "were lost or altered", rs->what, e, (unsigned long long)sent,
                             (unsigned long long)rs->in_epoch,
                             (unsigned long long)digest, (unsigned long long)rs->digest);
    rs->last_ended = e;
    rs->epoch = -1;
    return epoch_ended(rs->receiver, rs->index, e);
}

/* DONE: the stream ends, never inside an epoch. */
static int handle_done(struct recv_stream *rs)
{
    if (rs->epoch >= 0)
        return mig_error_set(MIG_EFORMAT, "%s DONE at offset %llu inside epoch %lld: "
                             "the last epoch was not ended", rs->what,
                             (unsigned long long)rs->frame_off, (long long)rs->epoch);
    rs->done = true;
    return 0;
}

/* ABORT: u32 code, u32 zero, the sender's message; fails the receive with it. */
static int handle_abort(struct recv_stream *rs)
{
    return mig_error_set(MIG_ECANCELLED, "%s: the sender aborted the migration: %.*s",
                         rs->what, rs->len > 8 ? (int)(rs->len - 8) : 0,
                         (const char *)rs->body + 8);
}

/* Hand the current frame to its handler; an unknown type is an error. */
static int process_frame(struct recv_stream *rs)
{
    switch (rs->type) {
    case WIRE_PAGES:
        return handle_pages(rs);
    case WIRE_EPOCH_END:
        return handle_epoch_end(rs);
    case WIRE_DONE:
        return handle_done(rs);
    case WIRE_ABORT:
        return handle_abort(rs);
    default:
        return frame_error(rs, MIG_EFORMAT, "", "unknown frame type %u", rs->type);
    }
}

/* Receive stream rs->index, frame by frame, until DONE or the first error. */
static int receive_stream(struct recv_stream *rs)
{
    struct mig_xfer_receiver *r = rs->receiver;
    int rc;

    snprintf(rs->what, sizeof(rs->what), "stream %u", rs->index);
    rs->zero_hash = wire_zero_page_hash();
    rs->epoch = -1;
    rs->last_ended = -1;
    rs->max_len = MIG_XFER_MAX_FRAME + (r->opts.key ? SEAL_TAG_SIZE : 0);
    rs->body = malloc(rs->max_len);
    if (!rs->body) {
        rc = mig_error_set(MIG_ENOMEM, "%s: out of memory", rs->what);
        goto out;
    }
    if (r->opts.key) {
        rc = seal_init(&rs->seal, r->opts.key);
        if (rc)
            goto out;
    }
    do {
        rc = read_frame(rs);
        if (!rc)
            rc = process_frame(rs);
    } while (!rc && !rs->done);
out:
    seal_dispose(&rs->seal);
    free(rs->body);
    rs->body = NULL;
    return rc;
}

static void *receive_thread(void *arg)
{
    struct recv_stream *rs = arg;
    struct mig_xfer_receiver *r = rs->receiver;

    rs->rc = receive_stream(rs);
    if (rs->rc) {
        bool first;

        snprintf(rs->message, sizeof(rs->message), "%s", mig_error_last());
        pthread_mutex_lock(&r->lock);
        first = r->first_failed < 0;
        if (first)
            r->first_failed = (int)rs->index;
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
    struct recv_stream *streams = NULL;
    pthread_t *threads = NULL;
    unsigned int started = 0;
    struct mig_xfer_stats total = { 0 };
    int rc;

    streams = calloc(r->count, sizeof(*streams));
    threads = calloc(r->count, sizeof(*threads));
    r->last_ended = malloc(r->count * sizeof(*r->last_ended));
    if (!streams || !threads || !r->last_ended) {
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
        streams[i].receiver = r;
        streams[i].index = i;
        if (pthread_create(&threads[i], NULL, receive_thread, &streams[i])) {
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
        rc = mig_error_set(streams[r->first_failed].rc, "%s",
                           streams[r->first_failed].message);
    for (unsigned int i = 0; i < started; i++)
        wire_stats_add(&total, &streams[i].stats);
    total.epochs = r->all_ended >= 0 ? (uint64_t)r->all_ended + 1 : 0;
    if (stats)
        *stats = total;
    if (id_out)
        memcpy(id_out, r->id, 16);
out:
    free(streams);
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
