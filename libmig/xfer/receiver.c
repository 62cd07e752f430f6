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
    if (hello->page_size != MIG_XFER_PAGE_SIZE ||
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
    uint64_t zero_hash = wire_zero_page_hash();
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
        uint8_t hdr[WIRE_FRAME_HEADER];
        struct wire_frame_header header;
        uint32_t type, len;
        uint64_t frame_seq, frame_off = offset;

        rc = wire_read_exact(r->fds[idx], hdr, sizeof(hdr), r->opts.timeout_ms, what);
        if (rc) {
            if (rc == MIG_ETRUNC)
                rc = mig_error_set(MIG_ETRUNC, "%s: connection lost at byte %llu "
                                   "before DONE: the sender died or the link was cut",
                                   what, (unsigned long long)offset);
            goto out;
        }
        wire_frame_header_decode(hdr, &header);
        type = header.type;
        len = header.length;
        frame_seq = header.seq;
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
        rc = wire_read_exact(r->fds[idx], body, len, r->opts.timeout_ms, what);
        if (rc)
            goto out;
        offset += WIRE_FRAME_HEADER + len;
        seq++;
        job->stats.frames++;
        job->stats.bytes += WIRE_FRAME_HEADER + len;
        if (r->opts.key) {
            /* Nothing of a frame is looked at before it is proven authentic. */
            len -= SEAL_TAG_SIZE;
            rc = wire_frame_open(&seal, idx, frame_seq, hdr, body, len, body + len);
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
        case WIRE_PAGES: {
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
            digest = wire_digest_add(digest, body + 8, n);
            break;
        }
        case WIRE_EPOCH_END: {
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
        case WIRE_DONE:
            if (epoch >= 0) {
                rc = mig_error_set(MIG_EFORMAT, "%s DONE at offset %llu inside epoch "
                                   "%lld: the last epoch was not ended", what,
                                   (unsigned long long)frame_off, (long long)epoch);
                goto out;
            }
            rc = 0;
            goto out;
        case WIRE_ABORT:
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
        wire_stats_add(&total, &jobs[i].stats);
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
