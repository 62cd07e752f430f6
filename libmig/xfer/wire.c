/*
 * wire.c: what both ends of a data stream share (see wire.h); the wire
 * format is specified in docs/formats.md ("Data streams").
 *
 * This file encodes, decodes and reads; it must never decide whether a
 * peer is accepted or a frame is valid (receiver.c does), nor keep state.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <xxhash.h>

#include "mig_xfer.h"
#include "seal.h"
#include "util/le.h"
#include "wire.h"

static const char hello_magic[8] = { 'X', 'M', 'I', 'G', 'D', 'A', 'T', '1' };
static const char reply_magic[8] = { 'X', 'M', 'I', 'G', 'A', 'C', 'K', '1' };
static const char ack_magic[8] = { 'X', 'M', 'I', 'G', 'E', 'N', 'D', '1' };

/* ---- HELLO, HELLO_REPLY, frame header -------------------------------- */

void wire_hello_encode(uint8_t out[WIRE_HELLO_SIZE], unsigned int index,
                       unsigned int count, bool sealed, bool reconnects,
                       uint32_t generation, const uint8_t id[16])
{
    uint64_t flags = (uint64_t)generation << WIRE_HELLO_GEN_SHIFT |
                     (reconnects ? WIRE_HELLO_RECONNECTS : 0);

    memcpy(out, hello_magic, 8);
    mig_le32_store(out + 8, MIG_XFER_VERSION);
    mig_le32_store(out + 12, index);
    mig_le32_store(out + 16, count);
    mig_le32_store(out + 20, MIG_PAGE_SIZE);
    mig_le64_store(out + 24, flags | (sealed ? WIRE_HELLO_SEALED : 0));
    memcpy(out + 32, id, 16);
}

void wire_hello_decode(const uint8_t in[WIRE_HELLO_SIZE], struct wire_hello *hello)
{
    memcpy(hello->magic, in, 8);
    hello->version = mig_le32_load(in + 8);
    hello->index = mig_le32_load(in + 12);
    hello->count = mig_le32_load(in + 16);
    hello->page_size = mig_le32_load(in + 20);
    hello->flags = mig_le64_load(in + 24);
    hello->generation = (uint32_t)(hello->flags >> WIRE_HELLO_GEN_SHIFT) & WIRE_HELLO_GEN_MAX;
    memcpy(hello->id, in + 32, 16);
}

bool wire_hello_magic_ok(const struct wire_hello *hello)
{
    return !memcmp(hello->magic, hello_magic, 8);
}

void wire_reply_encode(uint8_t out[WIRE_REPLY_SIZE], int status, uint32_t resume)
{
    memcpy(out, reply_magic, 8);
    mig_le32_store(out + 8, (uint32_t)-status);
    mig_le32_store(out + 12, MIG_XFER_VERSION);
    mig_le32_store(out + 16, resume);
    mig_le32_store(out + 20, 0);
}

bool wire_reply_decode(const uint8_t in[WIRE_REPLY_SIZE], uint32_t *status,
                       uint32_t *version, uint32_t *resume)
{
    *status = mig_le32_load(in + 8);
    *version = mig_le32_load(in + 12);
    *resume = mig_le32_load(in + 16);
    return !memcmp(in, reply_magic, 8);
}

void wire_ack_encode(uint8_t out[WIRE_ACK_SIZE], uint32_t epoch)
{
    memcpy(out, ack_magic, 8);
    mig_le32_store(out + 8, epoch);
    mig_le32_store(out + 12, 0);
}

bool wire_ack_decode(const uint8_t in[WIRE_ACK_SIZE], uint32_t *epoch)
{
    *epoch = mig_le32_load(in + 8);
    return !memcmp(in, ack_magic, 8);
}

void wire_frame_header_encode(uint8_t out[WIRE_FRAME_HEADER], uint32_t type,
                              uint32_t length, uint64_t seq)
{
    mig_le32_store(out, type);
    mig_le32_store(out + 4, length);
    mig_le64_store(out + 8, seq);
}

void wire_frame_header_decode(const uint8_t in[WIRE_FRAME_HEADER],
                              struct wire_frame_header *header)
{
    header->type = mig_le32_load(in);
    header->length = mig_le32_load(in + 4);
    header->seq = mig_le64_load(in + 8);
}

/* ---- digest ----------------------------------------------------------- */

uint64_t wire_digest_add(uint64_t digest, const uint8_t *descriptors, unsigned int count)
{
    return XXH3_64bits_withSeed(descriptors, (size_t)count * 16, digest);
}

uint64_t wire_zero_page_hash(void)
{
    static const uint8_t zero[MIG_PAGE_SIZE];

    return mig_page_hash(zero);
}

/* ---- seal glue -------------------------------------------------------- */

int wire_hello_prove(struct seal *seal, uint32_t conn,
                     const uint8_t hello[WIRE_HELLO_SIZE], uint8_t tag[SEAL_TAG_SIZE])
{
    return seal_encrypt(seal, conn, SEAL_HELLO_SEQ, hello, WIRE_HELLO_SIZE, NULL, 0, tag);
}

int wire_hello_check_proof(struct seal *seal, uint32_t conn,
                           const uint8_t hello[WIRE_HELLO_SIZE],
                           const uint8_t tag[SEAL_TAG_SIZE])
{
    return seal_decrypt(seal, conn, SEAL_HELLO_SEQ, hello, WIRE_HELLO_SIZE, NULL, 0, tag);
}

int wire_frame_seal(struct seal *seal, uint32_t conn, uint64_t seq,
                    const uint8_t header[WIRE_FRAME_HEADER], struct iovec *body,
                    int body_cnt, uint8_t tag[SEAL_TAG_SIZE])
{
    return seal_encrypt(seal, conn, seq, header, WIRE_FRAME_HEADER, body, body_cnt, tag);
}

int wire_frame_open(struct seal *seal, uint32_t conn, uint64_t seq,
                    const uint8_t header[WIRE_FRAME_HEADER], uint8_t *body,
                    size_t len, const uint8_t tag[SEAL_TAG_SIZE])
{
    return seal_decrypt(seal, conn, seq, header, WIRE_FRAME_HEADER, body, len, tag);
}

/* ---- socket reads ----------------------------------------------------- */

int wire_peer_stalled(const char *what, int timeout_ms)
{
    return mig_error_set(MIG_EIO, "%s: no data for %d ms (peer stalled); "
                         "raise the timeout or check the link", what, timeout_ms);
}

/* SO_RCVTIMEO or SO_SNDTIMEO (which: "read" or "write") of timeout_ms. */
static int set_timeout(int fd, int option, int timeout_ms, const char *which)
{
    struct timeval tv = { .tv_sec = timeout_ms / 1000,
                          .tv_usec = (timeout_ms % 1000) * 1000 };

    if (setsockopt(fd, SOL_SOCKET, option, &tv, sizeof(tv)))
        return mig_error_set_errno(MIG_EIO, errno, "cannot set a %s timeout", which);
    return 0;
}

int wire_set_read_timeout(int fd, int timeout_ms)
{
    return set_timeout(fd, SO_RCVTIMEO, timeout_ms, "read");
}

/* The stall limit both ways: a peer that takes nothing also stalls. */
static int set_timeouts(int fd, int timeout_ms)
{
    int rc = set_timeout(fd, SO_RCVTIMEO, timeout_ms, "read");

    return rc ? rc : set_timeout(fd, SO_SNDTIMEO, timeout_ms, "write");
}

int wire_set_stream_socket(int fd, int timeout_ms)
{
    int one = 1, rc = set_timeouts(fd, timeout_ms);

    if (rc || !setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
        return rc;
    if (errno == EOPNOTSUPP || errno == ENOPROTOOPT)
        return 0;           /* not TCP (a socketpair handed over): no Nagle there */
    return mig_error_set_errno(MIG_EIO, errno, "cannot set TCP_NODELAY on a data "
                               "stream's socket");
}

int wire_read_exact(int fd, void *buf, size_t len, int timeout_ms, const char *what)
{
    uint8_t *p = buf;

    while (len) {
        ssize_t n = recv(fd, p, len, MSG_WAITALL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return wire_peer_stalled(what, timeout_ms);
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

/* ---- options and statistics ------------------------------------------- */

int wire_check_options(const struct mig_xfer_options *opts, bool sender)
{
    if (!opts || opts->version != MIG_XFER_OPTIONS_VERSION)
        return mig_error_set(MIG_EINVAL, "xfer options version %u is not %u: "
                             "initialise them with MIG_XFER_OPTIONS_INIT",
                             opts ? opts->version : 0, MIG_XFER_OPTIONS_VERSION);
    if (sender && (opts->streams < 1 || opts->streams > MIG_XFER_MAX_STREAMS))
        return mig_error_set(MIG_EINVAL, "stream count %u is out of range: "
                             "use 1 to %d streams", opts->streams,
                             MIG_XFER_MAX_STREAMS);
    if (opts->max_streams > MIG_XFER_MAX_STREAMS)
        return mig_error_set(MIG_EINVAL, "the streams may grow to %u: use at most %d",
                             opts->max_streams, MIG_XFER_MAX_STREAMS);
    if (opts->batch_pages < 1 || opts->batch_pages > MIG_XFER_MAX_BATCH)
        return mig_error_set(MIG_EINVAL, "batch of %u pages is out of range: "
                             "use 1 to %d", opts->batch_pages, MIG_XFER_MAX_BATCH);
    if (!mig_xfer_cipher_name(opts->cipher))
        return mig_error_set(MIG_EINVAL, "data stream cipher %u is none of xenmig's: use "
                             "MIG_XFER_CIPHER_AES_256_GCM or _CHACHA20_POLY1305",
                             opts->cipher);
    return 0;
}

void wire_stats_add(struct mig_xfer_stats *to, const struct mig_xfer_stats *from)
{
    to->pages += from->pages;
    to->zero_pages += from->zero_pages;
    to->unchanged_pages += from->unchanged_pages;
    to->bytes += from->bytes;
    to->frames += from->frames;
    to->epochs += from->epochs;
    to->reconnects += from->reconnects;
    to->raw_bytes += from->raw_bytes;
    to->data_bytes += from->data_bytes;
    to->compressed_pages += from->compressed_pages;
    to->compress_ns += from->compress_ns;
    to->decompress_ns += from->decompress_ns;
    to->compress_skipped_pages += from->compress_skipped_pages;
}

uint64_t wire_thread_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
