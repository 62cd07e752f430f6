/*
 * accept.c: how the receiving end of a migration's data streams lets them
 * in (mig_xfer.h): listen on one address, then handshake every connection
 * that arrives, all at once from one poll loop, until the N streams of this
 * migration have proven themselves.  receiver.c receives their frames.
 *
 * The data port is open to whoever can reach it.  A connection is a
 * stranger until its HELLO proves the migration key (sealed streams) or
 * carries the migration id the control channel announced (plain streams);
 * a stranger gets a slot among MAX_PENDING, an absolute deadline for its
 * whole HELLO, and when the slots are full the oldest stranger makes room.
 * So idle, slow and wrong connections cost the migration neither its
 * streams nor its time.  This file must never block on one connection,
 * nor let a stranger set what the streams must match.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

#include "mig_clock.h"
#include "mig_xfer.h"
#include "receiver.h"
#include "seal.h"
#include "util/io.h"
#include "wire.h"

/* Strangers handshaking at once; one more evicts the oldest. */
#define MAX_PENDING 16
/* The longest a connection may take to send its whole HELLO: a quarter of
 * the stall limit, so that strangers come and go well within it, and at
 * most this; at least the stall limit itself up to a second, so that a
 * short stall limit does not turn a slow but honest handshake away. */
#define HELLO_DEADLINE_MS 10000
#define HELLO_DEADLINE_MIN_MS 1000

#define CONNECTION_DROPPED 1

struct mig_xfer_listener {
    struct mig_xfer_options opts;   /* opts.key points at key below, or NULL */
    xentoollog_logger *log;
    int fd;
    unsigned int port;
    uint8_t key[SEAL_KEY_SIZE];
    uint8_t expect_id[16];          /* opts.expect_id points here, or NULL */
};

/* A connection whose HELLO is still arriving. */
struct pending {
    int fd;                         /* -1: a free slot */
    int64_t deadline_ms;            /* mig_clock_ms by which the HELLO is whole */
    size_t have;                    /* bytes of raw read so far */
    char peer[64];                  /* "ADDR:PORT", for the log */
    uint8_t raw[WIRE_HELLO_SIZE + SEAL_TAG_SIZE];
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
    if (opts->expect_id) {
        memcpy(l->expect_id, opts->expect_id, sizeof(l->expect_id));
        l->opts.expect_id = l->expect_id;
    }
    l->log = log;
    l->fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
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

#define HELLO_FLAGS (WIRE_HELLO_SEALED | WIRE_HELLO_RECONNECTS | \
                     (uint64_t)WIRE_HELLO_GEN_MAX << WIRE_HELLO_GEN_SHIFT)

/*
 * A HELLO of generation 0 while the receive runs: stream N of N + 1 (N
 * the streams there are), within opts.max_streams, reconnecting as the
 * others do.  0 or MIG_EFORMAT / MIG_ELIMIT with the rule it breaks.
 */
static int check_join(const struct mig_xfer_receiver *r, const struct wire_hello *hello)
{
    bool reconnects = hello->flags & WIRE_HELLO_RECONNECTS;

    if (hello->index < r->count)
        return mig_error_set(MIG_EFORMAT, "stream %u announced again while the "
                             "migration runs, not as a reconnection", hello->index);
    if (hello->index != r->count || hello->count != hello->index + 1)
        return mig_error_set(MIG_EFORMAT, "stream %u of %u joins %u running stream(s): "
                             "a stream joins as stream N of N + 1", hello->index,
                             hello->count, r->count);
    if (hello->count > r->opts.max_streams)
        return mig_error_set(MIG_ELIMIT, "stream %u joins, but this receiver lets the "
                             "streams grow to %u at most", hello->index,
                             r->opts.max_streams);
    if (reconnects != r->reconnects)
        return mig_error_set(MIG_EFORMAT, "stream %u joins %s reconnecting, the "
                             "others %s", hello->index, reconnects ? "" : "not",
                             r->reconnects ? "do" : "do not");
    return 0;
}

/*
 * Validate one HELLO against what the receiver has so far; accepted is
 * the number of streams in, UINT_MAX while the receive runs (only a
 * reconnection, generation 1 or more, or a stream that joins, generation
 * 0, may come then).
 */
static int check_hello(struct mig_xfer_receiver *r, const struct wire_hello *hello,
                       unsigned int accepted)
{
    uint32_t index = hello->index, count = hello->count;
    bool rejoin = accepted == UINT_MAX;

    if (!wire_hello_magic_ok(hello))
        return mig_error_set(MIG_EFORMAT, "connection %u: bad magic %.8s: not a "
                             "xenmig data stream", accepted, hello->magic);
    if (hello->version != MIG_XFER_VERSION)
        return mig_error_set(MIG_ECOMPAT, "connection %u: data stream version %u, "
                             "this receiver speaks %d: upgrade the older side",
                             accepted, hello->version, MIG_XFER_VERSION);
    if (hello->page_size != MIG_PAGE_SIZE || (hello->flags & ~(uint64_t)HELLO_FLAGS))
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
    /* The id is known once given (opts.expect_id points at r->id) or set by a stream. */
    if ((r->opts.expect_id || accepted) && memcmp(hello->id, r->id, 16))
        return mig_error_set(MIG_ECOMPAT, "connection %u: belongs to another "
                             "migration (migration id differs)", accepted);
    if (rejoin && !hello->generation)
        return check_join(r, hello);
    if (accepted && count != r->count)
        return mig_error_set(MIG_EFORMAT, "connection %u: stream count %u differs "
                             "from the first stream's %u", accepted, count, r->count);
    if (index >= count)
        return mig_error_set(MIG_EFORMAT, "connection %u: stream index %u out of "
                             "range for %u streams", accepted, index, count);
    if (!rejoin && hello->generation)
        return mig_error_set(MIG_EFORMAT, "connection %u: a reconnection of stream %u "
                             "before all streams were in", accepted, index);
    if (!rejoin && accepted && r->fds[index] >= 0)
        return mig_error_set(MIG_EFORMAT, "connection %u: stream index %u "
                             "announced twice", accepted, index);
    return 0;
}

/*
 * Is this HELLO from the source of this migration?  Sealed streams: the
 * 16 bytes after it are a tag over it under the migration key and cipher.  Plain
 * streams with an expected id: it carries that id.  0, or MIG_ECOMPAT with
 * a message that says why it is a stranger.  Without a key or an expected
 * id every HELLO passes (the first stream then sets the id).
 */
static int authenticate(struct mig_xfer_receiver *r, const uint8_t *raw,
                        const struct wire_hello *hello)
{
    struct seal seal = { 0 };
    int rc;

    if (!r->opts.key) {
        if (r->opts.expect_id && (!wire_hello_magic_ok(hello) ||
                                  memcmp(hello->id, r->id, 16)))
            return mig_error_set(MIG_ECOMPAT, "not a stream of this migration "
                                 "(its migration id is not the one announced)");
        return 0;
    }
    if (!wire_hello_magic_ok(hello) || !(hello->flags & WIRE_HELLO_SEALED))
        return mig_error_set(MIG_ECOMPAT, "a plain or foreign connection to a receiver "
                             "that requires encryption");
    rc = seal_init(&seal, r->opts.cipher, r->opts.key);
    if (!rc)
        rc = wire_hello_check_proof(&seal, wire_conn_id(hello->index, hello->generation),
                                    raw, raw + WIRE_HELLO_SIZE);
    seal_dispose(&seal);
    if (rc == MIG_ECORRUPT)
        rc = mig_error_set(MIG_ECOMPAT, "stream %u does not prove knowledge of the "
                           "migration key (wrong key or not the source)", hello->index);
    return rc;
}

/* Bytes of a whole HELLO from a connection to r: its proof included. */
static size_t hello_bytes(const struct mig_xfer_receiver *r)
{
    return WIRE_HELLO_SIZE + (r->opts.key ? SEAL_TAG_SIZE : 0);
}

/* A connection that joins r: blocking again, with the stall limit. */
static int make_stream(struct mig_xfer_receiver *r, int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK))
        return mig_error_set_errno(MIG_EIO, errno, "fcntl");
    return wire_set_stream_socket(fd, r->opts.timeout_ms);
}

/* receiver.h; the reconnecting stream's DONE answer (receiver.c) uses it too. */
int xfer_send_reply(int fd, int status, uint32_t resume)
{
    uint8_t reply[WIRE_REPLY_SIZE];

    wire_reply_encode(reply, status, resume);
    return mig_write_all(fd, reply, sizeof(reply), MIG_IO_SOCKET,
                         "stream handshake reply: write");
}

/* Answer a HELLO on fd: status 0 or a MIG_E* code, resume epoch 0. */
static int send_reply(int fd, int status)
{
    return xfer_send_reply(fd, status, 0);
}

/*
 * Handshake one connection whose whole HELLO is in raw (fd is consumed in
 * every case): 0 when it joined r as its stream, CONNECTION_DROPPED when
 * it is a stranger (logged, closed, as if it never came), or an error of
 * this migration's own source that fails the whole accept.
 */
static int handshake(struct mig_xfer_receiver *r, int fd, const uint8_t *raw,
                     const char *peer, unsigned int *accepted)
{
    struct wire_hello hello;
    int hello_rc, rc;

    wire_hello_decode(raw, &hello);
    if (authenticate(r, raw, &hello)) {
        if (r->log)
            xtl_log(r->log, XTL_WARN, -1, "xfer", "dropped the connection from %s: %s",
                    peer, mig_error_last());
        close(fd);
        return CONNECTION_DROPPED;
    }
    hello_rc = check_hello(r, &hello, *accepted);
    rc = make_stream(r, fd);
    if (!rc)
        rc = send_reply(fd, hello_rc);
    if (!rc)
        rc = hello_rc;
    if (rc) {
        close(fd);
        return rc;
    }
    if (!*accepted) {
        r->count = hello.count;
        memcpy(r->id, hello.id, 16);
        r->reconnects = hello.flags & WIRE_HELLO_RECONNECTS;
    }
    r->fds[hello.index] = fd;
    (*accepted)++;
    return 0;
}

/*
 * Can stream index join r now (with r->lock held)?  0, MIG_ECANCELLED
 * when the receive is over or failed or its streams end, MIG_EFORMAT
 * inside an epoch (as far as the receiver can tell: the streams have not
 * all ended the same one).
 */
static int join_allowed(const struct mig_xfer_receiver *r, unsigned int index)
{
    if (r->joins_closed || r->first_failed >= 0)
        return mig_error_set(MIG_ECANCELLED, "stream %u joins a receive that is over "
                             "or failed", index);
    for (unsigned int i = 0; i < r->count; i++) {
        if (r->ended[i])
            return mig_error_set(MIG_ECANCELLED, "stream %u joins while stream %u "
                                 "has ended", index, i);
        if (r->last_ended[i] != r->all_ended)
            return mig_error_set(MIG_EFORMAT, "stream %u joins inside epoch %lld "
                                 "(stream %u ended it, others did not): a stream joins "
                                 "between epochs", index, (long long)r->all_ended + 1, i);
    }
    return 0;
}

/*
 * A stream joining r while the receive runs (a HELLO of generation 0 that
 * proved itself; fd is consumed in every case): it becomes stream N of
 * N + 1, its thread begins after the last epoch every stream ended, and
 * the reply says that epoch + 1.  Under the lock, so that no stream
 * begins an epoch with the old count after the reply (the sender sends
 * the next epoch only once it has it).  A HELLO that breaks a rule, or
 * comes when the receive is over, failed or inside an epoch, is answered
 * with the error, so that the source goes on with the streams it has.
 */
static void join_stream(struct mig_xfer_receiver *r, int fd, const struct wire_hello *hello,
                        const char *peer)
{
    uint32_t resume = 0;
    int rc;

    rc = check_hello(r, hello, UINT_MAX);
    if (!rc)
        rc = make_stream(r, fd);
    pthread_mutex_lock(&r->lock);
    if (!rc)
        rc = join_allowed(r, hello->index);
    if (!rc) {
        r->fds[hello->index] = fd;
        r->last_ended[hello->index] = r->all_ended;
        r->count++;
        rc = xfer_stream_start(r, hello->index);
        if (rc) {
            r->count--;
            r->fds[hello->index] = -1;
        }
        resume = (uint32_t)(r->all_ended + 1);
    }
    (void)xfer_send_reply(fd, rc, rc ? 0 : resume);
    pthread_mutex_unlock(&r->lock);
    if (rc) {
        if (r->log)
            xtl_log(r->log, XTL_WARN, -1, "xfer", "refused the stream joining from "
                    "%s: %s", peer, mig_error_last());
        close(fd);
    } else if (r->log) {
        xtl_log(r->log, XTL_INFO, -1, "xfer", "stream %u joined from %s: %u streams "
                "from epoch %u", hello->index, peer, hello->index + 1, resume);
    }
}

/*
 * A connection to r while the receive runs (fd is consumed in every
 * case): a stream that joins (generation 0), else a reconnection, handed
 * to the stream's thread, which answers it once it has left the old
 * connection (shut here to wake it).  Strangers and a generation no newer
 * than the last one (a replay) are dropped; a HELLO of this migration's
 * own source that breaks a rule, or comes for a stream that is over or a
 * receive that failed, gets a reply with the error, so that the source
 * stops trying.  Always 0: the receive goes on.
 */
static int rejoin_stream(struct mig_xfer_receiver *r, int fd, const uint8_t *raw,
                         const char *peer)
{
    struct wire_hello hello;
    const char *why = NULL;
    int rc;

    wire_hello_decode(raw, &hello);
    if (authenticate(r, raw, &hello))
        why = mig_error_last();
    else if (!hello.generation) {
        join_stream(r, fd, &hello, peer);
        return 0;
    } else if ((rc = check_hello(r, &hello, UINT_MAX))) {
        why = mig_error_last();
        (void)send_reply(fd, rc);
    } else if (make_stream(r, fd))
        why = mig_error_last();
    pthread_mutex_lock(&r->lock);
    if (!why && !r->reconnects) {
        why = "a reconnection of a stream that said it does not reconnect";
        (void)send_reply(fd, MIG_EFORMAT);
    } else if (!why && hello.generation <= r->gen[hello.index])
        why = "a reconnection not newer than the stream's last (a replay)";
    else if (!why && r->done[hello.index]) {
        /* DONE arrived but its acknowledgement was lost: say so */
        why = "a reconnection of a stream that ended well (told so)";
        (void)xfer_send_reply(fd, 0, WIRE_RESUME_DONE);
    } else if (!why && (r->ended[hello.index] || r->first_failed >= 0)) {
        why = "a reconnection of a stream that is over, or of a failed receive";
        (void)send_reply(fd, MIG_ECANCELLED);
    }
    if (!why) {
        if (r->next_fd[hello.index] >= 0)
            close(r->next_fd[hello.index]);
        r->next_fd[hello.index] = fd;
        r->gen[hello.index] = hello.generation;
        if (r->fds[hello.index] >= 0)
            shutdown(r->fds[hello.index], SHUT_RDWR);
        pthread_cond_broadcast(&r->changed);
    }
    pthread_mutex_unlock(&r->lock);
    if (why) {
        if (r->log)
            xtl_log(r->log, XTL_WARN, -1, "xfer", "dropped the connection from %s: %s",
                    peer, why);
        close(fd);
    } else if (r->log)
        xtl_log(r->log, XTL_INFO, -1, "xfer", "stream %u came back from %s "
                "(generation %u)", hello.index, peer, hello.generation);
    return 0;
}

static int receiver_new(const struct mig_xfer_options *opts, xentoollog_logger *log,
                        struct mig_xfer_receiver **out)
{
    struct mig_xfer_receiver *r = calloc(1, sizeof(*r));

    if (!r)
        return mig_error_set(MIG_ENOMEM, "out of memory for a receiver");
    r->opts = *opts;
    if (opts->key) {
        memcpy(r->key, opts->key, SEAL_KEY_SIZE);
        r->opts.key = r->key;
    }
    if (opts->expect_id) {
        memcpy(r->id, opts->expect_id, 16);
        r->opts.expect_id = r->id;  /* the caller's copy may go */
    }
    r->log = log;
    r->fds = malloc(MIG_XFER_MAX_STREAMS * sizeof(*r->fds));
    r->next_fd = malloc(MIG_XFER_MAX_STREAMS * sizeof(*r->next_fd));
    r->gen = calloc(MIG_XFER_MAX_STREAMS, sizeof(*r->gen));
    r->ended = calloc(MIG_XFER_MAX_STREAMS, sizeof(*r->ended));
    r->done = calloc(MIG_XFER_MAX_STREAMS, sizeof(*r->done));
    if (!r->fds || !r->next_fd || !r->gen || !r->ended || !r->done) {
        free(r->fds);
        free(r->next_fd);
        free(r->gen);
        free(r->ended);
        free(r->done);
        free(r);
        return mig_error_set(MIG_ENOMEM, "out of memory for a receiver");
    }
    for (int i = 0; i < MIG_XFER_MAX_STREAMS; i++)
        r->fds[i] = r->next_fd[i] = -1;
    r->first_failed = -1;
    pthread_mutex_init(&r->lock, NULL);
    r->synced = !mig_clock_cond_init(&r->changed);
    if (!r->synced) {
        mig_xfer_receiver_close(r);
        return mig_error_set(MIG_ENOMEM, "cannot make a condition variable");
    }
    *out = r;
    return 0;
}

/* "ADDR:PORT" of fd's peer, or "an unknown peer". */
static void peer_name(int fd, char *out, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned int port = 0;

    if (getpeername(fd, (struct sockaddr *)&ss, &sl)) {
        snprintf(out, size, "an unknown peer");
        return;
    }
    if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    } else if (ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    snprintf(out, size, "%s:%u", host, port);
}

/*
 * The accept loop's state: the receiver being filled and its strangers.
 * The same loop runs again in its own thread while the receive runs
 * (receiving), to let lost streams come back.
 */
struct gate {
    struct mig_xfer_listener *l;
    struct mig_xfer_receiver *r;
    struct pending pending[MAX_PENDING];
    unsigned int accepted;
    int64_t stall_deadline_ms;      /* no stream joined by then: stalled */
    unsigned long long dropped;
    bool receiving;                 /* the thread for reconnections */
    int wake[2];                    /* receiving: a byte in wake[0] stops it */
    int hangup_fd;                  /* receiving: opts.cancel_fd until it hangs up */
    bool stop;
    pthread_t thread;
};

static void drop(struct gate *g, struct pending *p, const char *why)
{
    if (g->l->log)
        xtl_log(g->l->log, XTL_WARN, -1, "xfer", "dropped the connection from %s: %s",
                p->peer, why);
    close(p->fd);
    p->fd = -1;
    g->dropped++;
}

/* Read what p's peer sent; hand a whole HELLO to handshake. */
static int pending_read(struct gate *g, struct pending *p)
{
    size_t want = hello_bytes(g->r);
    ssize_t n;
    int fd, rc;

    do {
        n = recv(p->fd, p->raw + p->have, want - p->have, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n <= 0) {
        drop(g, p, n ? "read error before its HELLO" : "closed before its HELLO");
        return 0;
    }
    p->have += (size_t)n;
    if (p->have < want)
        return 0;
    fd = p->fd;
    p->fd = -1;
    if (g->receiving)
        return rejoin_stream(g->r, fd, p->raw, p->peer);
    rc = handshake(g->r, fd, p->raw, p->peer, &g->accepted);
    if (rc == CONNECTION_DROPPED) {
        g->dropped++;
        return 0;
    }
    if (!rc)
        g->stall_deadline_ms = mig_clock_ms() + g->l->opts.timeout_ms;
    return rc;
}

/* The time a connection has for its whole HELLO, given the stall limit. */
static int hello_deadline_ms(int timeout)
{
    int floor = timeout > 0 && timeout < HELLO_DEADLINE_MIN_MS ? timeout
                                                                : HELLO_DEADLINE_MIN_MS;

    if (timeout <= 0 || timeout / 4 >= HELLO_DEADLINE_MS)
        return HELLO_DEADLINE_MS;
    return timeout / 4 > floor ? timeout / 4 : floor;
}

/* Take one connection off the listen queue into a slot, evicting the oldest. */
static int pending_accept(struct gate *g)
{
    struct pending *slot = NULL;
    int fd = accept4(g->l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    int timeout = g->l->opts.timeout_ms;

    if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
            errno == ECONNABORTED)
            return 0;
        return mig_error_set_errno(MIG_EIO, errno, "accept");
    }
    for (int i = 0; i < MAX_PENDING; i++) {
        struct pending *p = &g->pending[i];

        if (p->fd < 0) {
            slot = p;
            break;
        }
        if (!slot || p->deadline_ms < slot->deadline_ms)
            slot = p;
    }
    if (slot->fd >= 0)
        drop(g, slot, "too many connections without a HELLO; this was the oldest");
    slot->fd = fd;
    slot->have = 0;
    slot->deadline_ms = mig_clock_ms() + hello_deadline_ms(timeout);
    peer_name(fd, slot->peer, sizeof(slot->peer));
    return pending_read(g, slot);       /* its HELLO may be there already */
}

/* The source hung up its control channel: waiting streams need not wait. */
static void source_gone(struct gate *g)
{
    pthread_mutex_lock(&g->r->lock);
    g->r->source_gone = true;
    pthread_cond_broadcast(&g->r->changed);
    pthread_mutex_unlock(&g->r->lock);
    g->hangup_fd = -1;
}

/*
 * Poll the listener, the cancel fd (receiving: the wake pipe and the
 * control channel's hang-up) and the strangers, at most until a deadline.
 */
static int gate_poll(struct gate *g, struct pollfd *pfd, int *n_out)
{
    int64_t now = mig_clock_ms();
    int64_t until = g->l->opts.timeout_ms && !g->receiving ? g->stall_deadline_ms
                                                           : INT64_MAX;
    int n = 3, wait_ms = -1;

    pfd[0] = (struct pollfd){ .fd = g->l->fd, .events = POLLIN };
    pfd[1] = (struct pollfd){ .fd = g->receiving ? g->wake[0] : g->l->opts.cancel_fd,
                              .events = POLLIN };
    pfd[2] = (struct pollfd){ .fd = g->receiving ? g->hangup_fd : -1, .events = 0 };
    for (int i = 0; i < MAX_PENDING; i++) {
        if (g->pending[i].fd < 0)
            continue;
        pfd[n++] = (struct pollfd){ .fd = g->pending[i].fd, .events = POLLIN };
        if (g->pending[i].deadline_ms < until)
            until = g->pending[i].deadline_ms;
    }
    if (until != INT64_MAX)
        wait_ms = until <= now ? 0 : until - now > INT_MAX ? INT_MAX : (int)(until - now);
    *n_out = n;
    if (poll(pfd, (nfds_t)n, wait_ms) < 0 && errno != EINTR)
        return mig_error_set_errno(MIG_EIO, errno, "waiting for data streams: poll");
    if (g->receiving) {
        g->stop = pfd[1].revents != 0;
        if (pfd[2].revents & (POLLHUP | POLLERR))
            source_gone(g);
        return 0;
    }
    if (pfd[1].revents)
        return mig_error_set(MIG_ECANCELLED, "waiting for data streams: the source "
                             "gave up (control channel)");
    return 0;
}

/* Every stream of the migration is in (the count comes with the first). */
static bool gate_done(const struct gate *g)
{
    if (g->receiving)
        return g->stop;
    return g->accepted && g->accepted == g->r->count;
}

/* One turn of the accept loop: read the strangers, expire them, take one more. */
static int gate_turn(struct gate *g)
{
    struct pollfd pfd[3 + MAX_PENDING];
    int n, rc;

    rc = gate_poll(g, pfd, &n);
    for (int i = 3; !rc && !gate_done(g) && i < n; i++) {
        struct pending *p = NULL;

        for (int j = 0; j < MAX_PENDING && !p; j++)
            if (g->pending[j].fd == pfd[i].fd)
                p = &g->pending[j];
        if (p && pfd[i].revents)
            rc = pending_read(g, p);
    }
    for (int j = 0; !rc && j < MAX_PENDING; j++)
        if (g->pending[j].fd >= 0 && mig_clock_ms() >= g->pending[j].deadline_ms)
            drop(g, &g->pending[j], "no whole HELLO in time");
    if (!rc && !gate_done(g) && (pfd[0].revents & POLLIN))
        rc = pending_accept(g);
    if (!rc && !gate_done(g) && !g->receiving && g->l->opts.timeout_ms &&
        mig_clock_ms() >= g->stall_deadline_ms)
        rc = wire_peer_stalled("waiting for data streams", g->l->opts.timeout_ms);
    return rc;
}

int mig_xfer_accept(struct mig_xfer_listener *l, struct mig_xfer_receiver **receiver_out)
{
    struct gate g = { .l = l };
    int rc;

    *receiver_out = NULL;
    for (int i = 0; i < MAX_PENDING; i++)
        g.pending[i].fd = -1;
    rc = receiver_new(&l->opts, l->log, &g.r);
    if (rc)
        return rc;
    g.stall_deadline_ms = mig_clock_ms() + l->opts.timeout_ms;
    do {
        rc = gate_turn(&g);
    } while (!rc && !gate_done(&g));
    for (int i = 0; i < MAX_PENDING; i++)
        if (g.pending[i].fd >= 0)
            close(g.pending[i].fd);
    if (rc)
        goto out;
    if (l->log)
        xtl_log(l->log, XTL_INFO, -1, "xfer", "accepted %u stream(s), dropped %llu "
                "other connection(s)", g.r->count, g.dropped);
    g.r->listener = l;
    *receiver_out = g.r;
    g.r = NULL;
out:
    if (g.r)
        mig_xfer_receiver_close(g.r);
    return rc;
}

static void *acceptor_main(void *arg)
{
    struct gate *g = arg;
    int rc = 0;

    while (!rc && !g->stop)
        rc = gate_turn(g);
    if (rc && g->r->log)
        xtl_log(g->r->log, XTL_ERROR, -1, "xfer", "no more reconnections: %s",
                mig_error_last());
    for (int i = 0; i < MAX_PENDING; i++)
        if (g->pending[i].fd >= 0)
            close(g->pending[i].fd);
    return NULL;
}

int xfer_acceptor_start(struct mig_xfer_receiver *r)
{
    struct gate *g;

    if (!r->listener || (!r->reconnects && r->opts.max_streams <= r->count))
        return 0;
    g = calloc(1, sizeof(*g));
    if (!g)
        return mig_error_set(MIG_ENOMEM, "out of memory for the reconnection thread");
    g->l = r->listener;
    g->r = r;
    g->receiving = true;
    g->hangup_fd = r->opts.cancel_fd;
    for (int i = 0; i < MAX_PENDING; i++)
        g->pending[i].fd = -1;
    if (pipe2(g->wake, O_CLOEXEC)) {
        free(g);
        return mig_error_set_errno(MIG_EIO, errno, "pipe");
    }
    if (pthread_create(&g->thread, NULL, acceptor_main, g)) {
        close(g->wake[0]);
        close(g->wake[1]);
        free(g);
        return mig_error_set(MIG_ENOMEM, "cannot start the reconnection thread");
    }
    r->acceptor = g;
    return 0;
}

void xfer_acceptor_stop(struct mig_xfer_receiver *r)
{
    struct gate *g = r->acceptor;

    if (!g)
        return;
    (void)mig_write_all(g->wake[1], "x", 1, 0, "wake: write");
    pthread_join(g->thread, NULL);
    close(g->wake[0]);
    close(g->wake[1]);
    free(g);
    r->acceptor = NULL;
}

int mig_xfer_receiver_adopt(const int *fds, unsigned int nr_fds,
                            const struct mig_xfer_options *opts,
                            struct xentoollog_logger *log,
                            struct mig_xfer_receiver **receiver_out)
{
    struct mig_xfer_receiver *r = NULL;
    uint8_t raw[WIRE_HELLO_SIZE + SEAL_TAG_SIZE];
    unsigned int accepted = 0, i = 0;
    int rc;

    *receiver_out = NULL;
    rc = wire_check_options(opts, false);
    if (!rc)
        rc = receiver_new(opts, log, &r);
    if (rc)
        goto out;
    for (; i < nr_fds; i++) {
        int fd = fds[i];

        rc = wire_set_read_timeout(fd, r->opts.timeout_ms);
        if (!rc)
            rc = wire_read_exact(fd, raw, hello_bytes(r), r->opts.timeout_ms,
                                 "stream handshake");
        if (!rc) {
            rc = handshake(r, fd, raw, "an adopted connection", &accepted);
        } else {
            close(fd);
            if (r->opts.key)            /* a stranger: as if it never came */
                rc = CONNECTION_DROPPED;
        }
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
