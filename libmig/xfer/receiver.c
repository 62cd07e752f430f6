/*
 * receiver.c: the receiving end of the N data streams of one migration
 * (mig_xfer.h): receive and verify every frame from one thread per stream,
 * once accept.c has let the streams in.  What both ends share is in
 * wire.c.
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

#include <lz4.h>
#include <xentoollog.h>
#include <openssl/crypto.h>

#include "mig_clock.h"
#include "mig_xfer.h"
#include "receiver.h"
#include "seal.h"
#include "util/io.h"
#include "util/le.h"
#include "util/trace.h"
#include "wire.h"

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
    uint8_t *pages;            /* its COMPRESSED pages decompressed, in order
                                  (MIG_XFER_MAX_BATCH pages; from the first) */
    struct seal seal;          /* sealed streams: opens every frame */
    uint64_t zero_hash;        /* mig_page_hash of an all-zero page */
    int fd;                    /* the stream's connection (r->fds[index]) */
    uint32_t conn;             /* its wire_conn_id: index and generation */
    bool lost;                 /* the last error was the connection's: cut, reset */

    /* the current frame */
    uint32_t type;
    uint32_t len;              /* of its body, without the seal's tag */
    uint64_t frame_seq;
    uint64_t frame_off;        /* byte offset of its header in the stream */

    /* the stream so far */
    uint64_t seq;              /* sequence number the next frame must have */
    uint64_t offset;           /* bytes read */
    int64_t epoch;             /* epoch in progress, -1 = none */
    unsigned int count;        /* the streams its pfns are partitioned over */
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
    rc = wire_frame_open(&rs->seal, rs->conn, rs->frame_seq, hdr, rs->body, rs->len,
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
    int fd = rs->fd, rc;
    uint8_t hdr[WIRE_FRAME_HEADER];
    struct wire_frame_header header;

    rs->frame_off = rs->offset;
    rc = wire_read_exact(fd, hdr, sizeof(hdr), r->opts.timeout_ms, rs->what);
    rs->lost = rc == MIG_ETRUNC;
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
    rs->lost = rc == MIG_ETRUNC;
    if (rc)
        return rc;
    rs->offset += WIRE_FRAME_HEADER + rs->len;
    rs->seq++;
    rs->stats.frames++;
    rs->stats.bytes += WIRE_FRAME_HEADER + rs->len;
    return r->opts.key ? open_frame(rs, hdr) : 0;
}

/*
 * Epoch e begins on this stream: its count and digest start afresh, and
 * its pfns are those of this stream among the streams there are now (a
 * stream joins between epochs, before the sender sends the next one).
 */
static void begin_epoch(struct recv_stream *rs, uint32_t e)
{
    struct mig_xfer_receiver *r = rs->receiver;

    pthread_mutex_lock(&r->lock);
    rs->count = r->count;
    pthread_mutex_unlock(&r->lock);
    rs->epoch = e;
    rs->digest = e;
    rs->in_epoch = 0;
    mig_trace("destination", "stream %u: epoch %u: first frame", rs->index, e);
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

/*
 * Where a PAGES frame's page data is, as its descriptors are walked in
 * order: the next length in the table, the next page's data in the body,
 * the next decompressed page.
 */
struct pages_cursor {
    size_t len_off;
    size_t data_off;
    uint32_t comp;
};

/* The cursor at a frame's first page; the table follows the descriptors. */
static struct pages_cursor pages_start(uint32_t count, uint32_t n_comp)
{
    struct pages_cursor c = { 8 + (size_t)count * 16, 0, 0 };

    c.data_off = c.len_off + 2 * (size_t)n_comp;
    return c;
}

/*
 * Step the cursor over the page of descriptor word: its data's place in
 * the body (*at) and length (*len: 4096 raw, else from the table).
 */
static void pages_step(struct recv_stream *rs, struct pages_cursor *c, uint64_t word,
                       size_t *at, uint32_t *len)
{
    *at = c->data_off;
    *len = MIG_PAGE_SIZE;
    if (word & MIG_XFER_FLAG_COMPRESSED) {
        *len = mig_le16_load(rs->body + c->len_off);
        c->len_off += 2;
    }
    c->data_off += *len;
}

/*
 * The body holds count descriptors, a length for each COMPRESSED page (1 ..
 * MIG_PAGE_SIZE) and the data of each non-zero page, no more.  *n_comp:
 * the COMPRESSED pages.
 */
static int pages_check_length(struct recv_stream *rs, uint32_t count, uint32_t *n_comp)
{
    struct pages_cursor c;
    size_t at;
    uint32_t len;

    *n_comp = 0;
    if (8 + (size_t)count * 16 > rs->len)
        return frame_error(rs, MIG_EFORMAT, "PAGES ", "length %u is too short for its "
                           "%u descriptors", rs->len, count);
    for (uint32_t k = 0; k < count; k++) {
        uint64_t word = mig_le64_load(rs->body + 8 + (size_t)k * 16);

        if ((word & MIG_XFER_FLAG_ZERO) && (word & MIG_XFER_FLAG_COMPRESSED))
            return frame_error(rs, MIG_EFORMAT, "PAGES ", "descriptor %u (%#llx): pfn "
                               "%#llx is flagged both ZERO and COMPRESSED", k,
                               (unsigned long long)word,
                               (unsigned long long)(word & MIG_XFER_PFN_MASK));
        *n_comp += (word & MIG_XFER_FLAG_COMPRESSED) != 0;
    }
    c = pages_start(count, *n_comp);
    for (uint32_t k = 0; k < count && c.data_off <= rs->len; k++) {
        uint64_t word = mig_le64_load(rs->body + 8 + (size_t)k * 16);

        if (word & MIG_XFER_FLAG_ZERO)
            continue;
        pages_step(rs, &c, word, &at, &len);
        if (len < 1 || len > MIG_PAGE_SIZE)
            return frame_error(rs, MIG_EFORMAT, "PAGES ", "pfn %#llx: compressed "
                               "length %u is outside 1..%d",
                               (unsigned long long)(word & MIG_XFER_PFN_MASK), len,
                               MIG_PAGE_SIZE);
    }
    if (c.data_off != rs->len)
        return frame_error(rs, MIG_EFORMAT, "PAGES ", "length %u does not match its %u "
                           "descriptors (%zu bytes)", rs->len, count, c.data_off);
    return 0;
}

/*
 * Decompress the frame's n_comp COMPRESSED pages into rs->pages, in order;
 * each must be an LZ4 block of exactly one page.  Timed in this thread's
 * CPU time, once for the frame.
 */
static int decompress_pages(struct recv_stream *rs, uint32_t count, uint32_t n_comp)
{
    struct pages_cursor c = pages_start(count, n_comp);
    uint64_t start;
    size_t at;
    uint32_t len;
    int got, rc = 0;

    if (!rs->pages)
        rs->pages = malloc((size_t)MIG_XFER_MAX_BATCH * MIG_PAGE_SIZE);
    if (!rs->pages)
        return mig_error_set(MIG_ENOMEM, "%s: out of memory for decompressed pages",
                             rs->what);
    start = wire_thread_ns();
    for (uint32_t k = 0; !rc && k < count; k++) {
        uint64_t word = mig_le64_load(rs->body + 8 + (size_t)k * 16);

        if (word & MIG_XFER_FLAG_ZERO)
            continue;
        pages_step(rs, &c, word, &at, &len);
        if (!(word & MIG_XFER_FLAG_COMPRESSED))
            continue;
        got = LZ4_decompress_safe((const char *)rs->body + at,
                                  (char *)rs->pages + (size_t)c.comp++ * MIG_PAGE_SIZE,
                                  (int)len, MIG_PAGE_SIZE);
        if (got < 0)
            rc = frame_error(rs, MIG_EFORMAT, "PAGES ", "pfn %#llx: its %u compressed "
                             "bytes (body offset %zu) are not an LZ4 block of at most "
                             "%d bytes", (unsigned long long)(word & MIG_XFER_PFN_MASK),
                             len, at, MIG_PAGE_SIZE);
        else if (got != MIG_PAGE_SIZE)
            rc = frame_error(rs, MIG_EFORMAT, "PAGES ", "pfn %#llx: its %u compressed "
                             "bytes (body offset %zu) decompress to %d bytes, not %d",
                             (unsigned long long)(word & MIG_XFER_PFN_MASK), len, at,
                             got, MIG_PAGE_SIZE);
    }
    rs->stats.decompress_ns += wire_thread_ns() - start;
    return rc;
}

/*
 * Verify descriptor k of the current PAGES frame and hand its page to
 * write_page.  *c: where the next page's data is (pages_cursor).
 */
static int deliver_page(struct recv_stream *rs, uint32_t k, struct pages_cursor *c)
{
    struct mig_xfer_receiver *r = rs->receiver;
    const uint8_t *desc = rs->body + 8 + (size_t)k * 16, *data = NULL;
    uint64_t word = mig_le64_load(desc), hash = mig_le64_load(desc + 8);
    uint64_t pfn = word & MIG_XFER_PFN_MASK, actual;
    unsigned int type;
    size_t at;
    uint32_t len;
    int rc;

    if ((word & ~(MIG_XFER_PFN_MASK | MIG_XFER_TYPE_MASK | MIG_XFER_FLAG_ZERO |
                  MIG_XFER_FLAG_COMPRESSED)) ||
        mig_xfer_stream_of_pfn(pfn, rs->count) != rs->index)
        return frame_error(rs, MIG_EFORMAT, "PAGES ", "descriptor %u (%#llx) names pfn "
                           "%#llx of another stream or reserved flags", k,
                           (unsigned long long)word, (unsigned long long)pfn);
    if (word & MIG_XFER_FLAG_ZERO) {
        actual = rs->zero_hash;
        rs->stats.zero_pages++;
    } else {
        pages_step(rs, c, word, &at, &len);
        data = rs->body + at;
        rs->stats.raw_bytes += MIG_PAGE_SIZE;
        rs->stats.data_bytes += len;
        if (word & MIG_XFER_FLAG_COMPRESSED) {
            data = rs->pages + (size_t)c->comp++ * MIG_PAGE_SIZE;
            rs->stats.data_bytes += 2;
            rs->stats.compressed_pages++;
        }
        actual = mig_page_hash(data);
    }
    if (actual != hash)
        return frame_error(rs, MIG_ECORRUPT, "PAGES ", "pfn %#llx arrived corrupted (hash "
                           "%016llx, sender said %016llx)", (unsigned long long)pfn,
                           (unsigned long long)actual, (unsigned long long)hash);
    type = (unsigned int)((word & MIG_XFER_TYPE_MASK) >> MIG_XFER_TYPE_SHIFT);
    rc = r->write_hashed ? r->write_hashed(r->arg, rs->index, pfn, data, type,
                                           (uint32_t)rs->epoch, actual)
                         : r->write_page(r->arg, rs->index, pfn, data, type,
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
    uint32_t epoch, count, n_comp = 0;
    struct pages_cursor c;
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
        rc = pages_check_length(rs, count, &n_comp);
    if (!rc && n_comp)
        rc = decompress_pages(rs, count, n_comp);
    c = pages_start(count, n_comp);
    for (uint32_t k = 0; !rc && k < count; k++)
        rc = deliver_page(rs, k, &c);
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
    int rc;

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
    mig_trace("destination", "stream %u: epoch %u: ended (%llu pages)", rs->index, e,
              (unsigned long long)sent);
    rc = epoch_ended(rs->receiver, rs->index, e);
    if (!rc) {
        uint8_t ack[WIRE_ACK_SIZE];

        wire_ack_encode(ack, e);
        rc = mig_write_all(rs->fd, ack, sizeof(ack), MIG_IO_SOCKET, "%s: EPOCH_ACK: write",
                           rs->what);
        rs->lost = rc != 0;
    }
    return rc;
}

/* DONE: the stream ends, never inside an epoch. */
static int handle_done(struct recv_stream *rs)
{
    struct mig_xfer_receiver *r = rs->receiver;
    int parked;

    if (rs->epoch >= 0)
        return mig_error_set(MIG_EFORMAT, "%s DONE at offset %llu inside epoch %lld: "
                             "the last epoch was not ended", rs->what,
                             (unsigned long long)rs->frame_off, (long long)rs->epoch);
    rs->done = true;
    pthread_mutex_lock(&r->lock);
    r->ended[rs->index] = r->done[rs->index] = true;
    /* A reconnection the acceptor parked while DONE still sat unread on the
     * old connection: nobody else answers it now (a later one is answered
     * by the acceptor, which sees done). */
    parked = r->next_fd[rs->index];
    r->next_fd[rs->index] = -1;
    pthread_mutex_unlock(&r->lock);
    /* A sender that reconnects waits for this; one lost is told at its
     * reconnection (WIRE_RESUME_DONE). */
    if (r->reconnects) {
        uint8_t ack[WIRE_ACK_SIZE];

        wire_ack_encode(ack, WIRE_ACK_DONE);
        (void)mig_write_all(rs->fd, ack, sizeof(ack), MIG_IO_SOCKET, "%s: DONE ack: write",
                            rs->what);
    }
    if (parked >= 0) {
        (void)xfer_send_reply(parked, 0, WIRE_RESUME_DONE);
        close(parked);
        if (r->log)
            xtl_log(r->log, XTL_WARN, -1, "xfer", "%s came back with its DONE already "
                    "sent: told it the stream ended well", rs->what);
    }
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

/*
 * Wait, within the stall limit, for the acceptor to hand stream rs->index
 * a new connection (its old one is closed here); then answer it with the
 * epoch it resumes at and start the connection afresh: sequence numbers
 * from 0, nonces of its generation, and the epoch in progress dropped (the
 * sender sends all of it again).  0, or the loss (its error is set) with
 * why the stream did not come back.
 */
static int await_reconnection(struct recv_stream *rs)
{
    struct mig_xfer_receiver *r = rs->receiver;
    unsigned int i = rs->index;
    uint8_t reply[WIRE_REPLY_SIZE];
    struct timespec deadline;
    char cause[512];
    int rc = 0;

    snprintf(cause, sizeof(cause), "%s", mig_error_last());
    mig_clock_deadline(&deadline, r->opts.timeout_ms ? r->opts.timeout_ms : 30000);
    pthread_mutex_lock(&r->lock);
    close(r->fds[i]);
    r->fds[i] = rs->fd = -1;
    while (r->next_fd[i] < 0 && r->first_failed < 0 && !r->source_gone && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&r->changed, &r->lock, &deadline);
    rs->fd = r->fds[i] = r->next_fd[i];
    r->next_fd[i] = -1;
    rs->conn = wire_conn_id(i, r->gen[i]);
    pthread_mutex_unlock(&r->lock);
    rs->lost = false;
    if (rs->fd < 0)
        return mig_error_set(MIG_ETRUNC, "%s; it did not come back within %d ms", cause,
                             r->opts.timeout_ms);
    rs->seq = 0;
    rs->offset = 0;
    rs->epoch = -1;
    rs->stats.reconnects++;
    wire_reply_encode(reply, 0, (uint32_t)(rs->last_ended + 1));
    rc = mig_write_all(rs->fd, reply, sizeof(reply), MIG_IO_SOCKET, "%s: reply: write",
                       rs->what);
    rs->lost = rc != 0;
    if (!rc && r->log)
        xtl_log(r->log, XTL_WARN, -1, "xfer", "%s came back after: %s; resuming at "
                "epoch %lld", rs->what, cause, (long long)(rs->last_ended + 1));
    return rc;
}

/* Receive stream rs->index, frame by frame, until DONE or the first error. */
static int receive_stream(struct recv_stream *rs)
{
    struct mig_xfer_receiver *r = rs->receiver;
    int rc;

    snprintf(rs->what, sizeof(rs->what), "stream %u", rs->index);
    rs->zero_hash = wire_zero_page_hash();
    rs->epoch = -1;
    rs->last_ended = r->last_ended[rs->index];    /* -1, or where it joined */
    rs->max_len = MIG_XFER_MAX_FRAME + (r->opts.key ? SEAL_TAG_SIZE : 0);
    rs->body = malloc(rs->max_len);
    if (!rs->body) {
        rc = mig_error_set(MIG_ENOMEM, "%s: out of memory", rs->what);
        goto out;
    }
    if (r->opts.key) {
        rc = seal_init(&rs->seal, r->opts.cipher, r->opts.key);
        if (rc)
            goto out;
    }
    rs->fd = r->fds[rs->index];
    rs->conn = wire_conn_id(rs->index, 0);
    do {
        rc = read_frame(rs);
        if (!rc)
            rc = process_frame(rs);
        while (rc && rs->lost && r->reconnects && r->acceptor)
            rc = await_reconnection(rs);
    } while (!rc && !rs->done);
out:
    seal_dispose(&rs->seal);
    free(rs->body);
    rs->body = NULL;
    free(rs->pages);
    rs->pages = NULL;
    return rc;
}

/*
 * The migration has failed (on stream failed, or r->count when no stream
 * did): the first to say so shuts every stream's connection and wakes the
 * ones waiting to reconnect, so that all of them end.
 */
static void stop_streams(struct mig_xfer_receiver *r, int failed)
{
    pthread_mutex_lock(&r->lock);
    if (r->first_failed < 0) {
        r->first_failed = failed;
        for (unsigned int i = 0; i < r->count; i++)
            if (r->fds[i] >= 0)
                shutdown(r->fds[i], SHUT_RDWR);
        pthread_cond_broadcast(&r->changed);
    }
    pthread_mutex_unlock(&r->lock);
}

static void *receive_thread(void *arg)
{
    struct recv_stream *rs = arg;
    struct mig_xfer_receiver *r = rs->receiver;

    rs->rc = receive_stream(rs);
    if (rs->rc) {
        snprintf(rs->message, sizeof(rs->message), "%s", mig_error_last());
        pthread_mutex_lock(&r->lock);
        r->ended[rs->index] = true;
        pthread_mutex_unlock(&r->lock);
        stop_streams(r, (int)rs->index);
    }
    return NULL;
}

int xfer_stream_start(struct mig_xfer_receiver *r, unsigned int index)
{
    struct recv_stream *rs = &r->streams[index];

    memset(rs, 0, sizeof(*rs));
    rs->receiver = r;
    rs->index = index;
    if (pthread_create(&r->threads[index], NULL, receive_thread, rs))
        return mig_error_set(MIG_ENOMEM, "cannot start receiver thread %u", index);
    r->started++;
    return 0;
}

/*
 * Join every stream thread, those of streams that joined on the way too;
 * the last look at r->started closes the receive to joins.
 */
static void join_streams(struct mig_xfer_receiver *r)
{
    for (unsigned int i = 0;; i++) {
        bool over;

        pthread_mutex_lock(&r->lock);
        over = i >= r->started;
        if (over)
            r->joins_closed = true;
        pthread_mutex_unlock(&r->lock);
        if (over)
            return;
        pthread_join(r->threads[i], NULL);
    }
}

/*
 * One thread per stream, and the acceptor for reconnections and joins
 * while they run; returns when every stream thread has ended.  0, or why
 * the threads could not all start (the started ones are woken and joined).
 */
static int run_streams(struct mig_xfer_receiver *r)
{
    int rc;

    rc = xfer_acceptor_start(r);
    pthread_mutex_lock(&r->lock);
    for (unsigned int i = 0; !rc && i < r->count; i++)
        rc = xfer_stream_start(r, i);
    pthread_mutex_unlock(&r->lock);
    if (rc)
        stop_streams(r, (int)r->count);
    join_streams(r);
    /* the acceptor stays until the receiver is closed: a DONE whose
     * acknowledgement was lost is still answered */
    return rc;
}

/* mig_xfer_receive with r->write_page or r->write_hashed set. */
static int receive(struct mig_xfer_receiver *r, mig_xfer_epoch_done_fn epoch_done,
                   void *arg, struct mig_xfer_stats *stats, uint8_t id_out[16])
{
    struct mig_xfer_stats total = { 0 };
    int rc;

    r->streams = calloc(MIG_XFER_MAX_STREAMS, sizeof(*r->streams));
    r->threads = calloc(MIG_XFER_MAX_STREAMS, sizeof(*r->threads));
    r->last_ended = malloc(MIG_XFER_MAX_STREAMS * sizeof(*r->last_ended));
    if (!r->streams || !r->threads || !r->last_ended) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory for %u streams", r->count);
        goto out;
    }
    for (unsigned int i = 0; i < MIG_XFER_MAX_STREAMS; i++)
        r->last_ended[i] = -1;
    r->all_ended = -1;
    r->epoch_done = epoch_done;
    r->arg = arg;
    rc = run_streams(r);

    /* Report the stream that failed first, not the ones it woke. */
    if (!rc && r->first_failed >= 0)
        rc = mig_error_set(r->streams[r->first_failed].rc, "%s",
                           r->streams[r->first_failed].message);
    for (unsigned int i = 0; i < r->started; i++)
        wire_stats_add(&total, &r->streams[i].stats);
    total.epochs = r->all_ended >= 0 ? (uint64_t)r->all_ended + 1 : 0;
    if (stats)
        *stats = total;
    if (id_out)
        memcpy(id_out, r->id, 16);
out:
    pthread_mutex_lock(&r->lock);
    r->joins_closed = true;         /* before the arrays go */
    pthread_mutex_unlock(&r->lock);
    free(r->streams);
    free(r->threads);
    free(r->last_ended);
    r->streams = NULL;
    r->threads = NULL;
    r->last_ended = NULL;
    return rc;
}

int mig_xfer_receive(struct mig_xfer_receiver *r,
                     mig_xfer_write_page_fn write_page,
                     mig_xfer_epoch_done_fn epoch_done, void *arg,
                     struct mig_xfer_stats *stats, uint8_t id_out[16])
{
    r->write_page = write_page;
    r->write_hashed = NULL;
    return receive(r, epoch_done, arg, stats, id_out);
}

int mig_xfer_receive_hashed(struct mig_xfer_receiver *r,
                            mig_xfer_write_hashed_fn write_page,
                            mig_xfer_epoch_done_fn epoch_done, void *arg,
                            struct mig_xfer_stats *stats, uint8_t id_out[16])
{
    r->write_page = NULL;
    r->write_hashed = write_page;
    return receive(r, epoch_done, arg, stats, id_out);
}

unsigned int mig_xfer_receiver_streams(const struct mig_xfer_receiver *r)
{
    return r ? r->count : 0;
}

int mig_xfer_receiver_fd(const struct mig_xfer_receiver *r, unsigned int index)
{
    return r && index < r->count ? r->fds[index] : -1;
}

void mig_xfer_receiver_close(struct mig_xfer_receiver *r)
{
    if (!r)
        return;
    xfer_acceptor_stop(r);
    if (r->synced) {
        pthread_cond_destroy(&r->changed);
        pthread_mutex_destroy(&r->lock);
    }
    for (int i = 0; r->fds && i < MIG_XFER_MAX_STREAMS; i++) {
        if (r->fds[i] >= 0)
            close(r->fds[i]);
        if (r->next_fd[i] >= 0)
            close(r->next_fd[i]);
    }
    free(r->fds);
    free(r->next_fd);
    free(r->gen);
    free(r->ended);
    free(r->done);
    OPENSSL_cleanse(r->key, sizeof(r->key));
    free(r);
}
