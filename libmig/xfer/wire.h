/*
 * wire.h: what both ends of a data stream share (private to libmig/xfer):
 * the HELLO, its reply and the frame header, encoded and decoded; the
 * epoch digest; the seal glue (which bytes a tag covers, under which
 * nonce); socket reads with a stall limit; option checks and statistics.
 * The format itself is specified in docs/formats.md ("Data streams").
 * sender.c and receiver.c use these; nothing outside libmig/xfer may
 * include this header.
 *
 * This file must never hold the state of a sender or a receiver: each
 * function works on what it is given.
 */
#ifndef XENMIG_XFER_WIRE_H
#define XENMIG_XFER_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "mig_xfer.h"
#include "seal.h"

#define WIRE_HELLO_SIZE    48
#define WIRE_REPLY_SIZE    24
#define WIRE_ACK_SIZE      16
/* The EPOCH_ACK epoch that acknowledges DONE (streams with RECONNECTS). */
#define WIRE_ACK_DONE      UINT32_MAX
/* The HELLO_REPLY resume epoch of a reconnection to a stream whose DONE
 * arrived: nothing to resume, the stream ended well. */
#define WIRE_RESUME_DONE   UINT32_MAX
#define WIRE_FRAME_HEADER  16
#define WIRE_HELLO_SEALED  1       /* HELLO flag: frames are sealed (opts.cipher) */
#define WIRE_HELLO_RECONNECTS 2    /* HELLO flag: a lost stream comes back */
/* HELLO flags bits 8..31: the connection's generation, 0 for a stream's
 * first connection, +1 for each reconnection. */
#define WIRE_HELLO_GEN_SHIFT 8
#define WIRE_HELLO_GEN_MAX   0xffffffu

enum wire_frame_type {
    WIRE_PAGES     = 1,
    WIRE_EPOCH_END = 2,
    WIRE_DONE      = 3,
    WIRE_ABORT     = 4,
};

/* A HELLO as decoded; magic is not NUL-terminated (print it with %.8s). */
struct wire_hello {
    char magic[8];
    uint32_t version;
    uint32_t index;
    uint32_t count;
    uint32_t page_size;
    uint64_t flags;
    uint32_t generation;           /* flags bits 8..31 */
    uint8_t id[16];
};

/* A frame header as decoded. */
struct wire_frame_header {
    uint32_t type;
    uint32_t length;               /* of the body, the seal's tag included */
    uint64_t seq;
};

/*
 * The HELLO of connection generation of stream index of count, this
 * build's version and page size, flags WIRE_HELLO_SEALED when sealed and
 * WIRE_HELLO_RECONNECTS when the sender reconnects, migration id.
 */
void wire_hello_encode(uint8_t out[WIRE_HELLO_SIZE], unsigned int index,
                       unsigned int count, bool sealed, bool reconnects,
                       uint32_t generation, const uint8_t id[16]);

void wire_hello_decode(const uint8_t in[WIRE_HELLO_SIZE], struct wire_hello *hello);

/* True when a decoded HELLO's magic is "XMIGDAT1". */
bool wire_hello_magic_ok(const struct wire_hello *hello);

/*
 * The HELLO_REPLY: status 0 (accepted) or a MIG_E* code, this build's
 * version, and the first epoch the stream has not ended at the receiver
 * (where a reconnected stream resumes; 0 on a first connection).
 */
void wire_reply_encode(uint8_t out[WIRE_REPLY_SIZE], int status, uint32_t resume);

/*
 * Decode a HELLO_REPLY: *status (0, or a MIG_E* code negated), the
 * receiver's *version and the *resume epoch; false when its magic is not
 * "XMIGACK1".  A version 3 receiver's reply is only 16 bytes: status and
 * version are its first 16.
 */
bool wire_reply_decode(const uint8_t in[WIRE_REPLY_SIZE], uint32_t *status,
                       uint32_t *version, uint32_t *resume);

/* The EPOCH_ACK the receiver writes back when a stream ended epoch. */
void wire_ack_encode(uint8_t out[WIRE_ACK_SIZE], uint32_t epoch);

/* Decode an EPOCH_ACK into *epoch; false when its magic is not "XMIGEND1". */
bool wire_ack_decode(const uint8_t in[WIRE_ACK_SIZE], uint32_t *epoch);

/*
 * What a connection's nonces are made of: stream index | generation << 8,
 * so that a reconnected stream, whose sequence numbers start again at 0,
 * never repeats a nonce of its earlier connections.
 */
static inline uint32_t wire_conn_id(unsigned int index, uint32_t generation)
{
    return (uint32_t)index | generation << WIRE_HELLO_GEN_SHIFT;
}

void wire_frame_header_encode(uint8_t out[WIRE_FRAME_HEADER], uint32_t type,
                              uint32_t length, uint64_t seq);
void wire_frame_header_decode(const uint8_t in[WIRE_FRAME_HEADER],
                              struct wire_frame_header *header);

/*
 * Chain one PAGES frame into an epoch digest: xxh3-64 of its descriptor
 * array (count x {pfn|flags, hash}, as on the wire), seeded with the digest
 * so far.  One call per frame, not per page.
 */
uint64_t wire_digest_add(uint64_t digest, const uint8_t *descriptors, unsigned int count);

/* mig_page_hash of an all-zero page. */
uint64_t wire_zero_page_hash(void);

/*
 * The seal glue; conn is wire_conn_id() of the connection.  A sealed HELLO
 * is followed by its proof of key: a tag over the HELLO under nonce (conn,
 * SEAL_HELLO_SEQ).  A sealed frame's body is encrypted in place under
 * nonce (conn, seq), its header
 * authenticated, and the tag follows the body.  wire_hello_prove and
 * wire_frame_seal return 0 or MIG_EIO; wire_hello_check_proof and
 * wire_frame_open return 0, MIG_ECORRUPT (not authentic; the caller says
 * which stream and frame) or MIG_EIO.
 */
int wire_hello_prove(struct seal *seal, uint32_t conn,
                     const uint8_t hello[WIRE_HELLO_SIZE], uint8_t tag[SEAL_TAG_SIZE]);
int wire_hello_check_proof(struct seal *seal, uint32_t conn,
                           const uint8_t hello[WIRE_HELLO_SIZE],
                           const uint8_t tag[SEAL_TAG_SIZE]);
int wire_frame_seal(struct seal *seal, uint32_t conn, uint64_t seq,
                    const uint8_t header[WIRE_FRAME_HEADER], struct iovec *body,
                    int body_cnt, uint8_t tag[SEAL_TAG_SIZE]);
int wire_frame_open(struct seal *seal, uint32_t conn, uint64_t seq,
                    const uint8_t header[WIRE_FRAME_HEADER], uint8_t *body,
                    size_t len, const uint8_t tag[SEAL_TAG_SIZE]);

/* The error of a peer silent for timeout_ms (a read timeout or a poll). */
int wire_peer_stalled(const char *what, int timeout_ms);

/* Make blocking reads on fd give up after timeout_ms (0 = never). */
int wire_set_read_timeout(int fd, int timeout_ms);

/*
 * A data stream's TCP socket, at either end: the same timeout for reads
 * and writes (a peer that takes nothing also stalls), and TCP_NODELAY.
 * Every frame goes out in one writev, so Nagle's algorithm has nothing to
 * coalesce; it only held a frame's short last segment (and
 * the small EPOCH_END after it) until the peer acknowledged what was in
 * flight, which a delayed acknowledgement postpones by up to 40 ms: at
 * the end of every epoch, the final one (the guest paused) included.
 * A socket that is not TCP (a socketpair adopted) has no Nagle: left as
 * it is.
 */
int wire_set_stream_socket(int fd, int timeout_ms);

/*
 * Read exactly len bytes; EOF before that is MIG_ETRUNC.  The stall limit
 * is the socket's SO_RCVTIMEO (wire_set_read_timeout), so a read costs one
 * system call, not a poll and a read.  what names the stream in errors.
 */
int wire_read_exact(int fd, void *buf, size_t len, int timeout_ms, const char *what);

/* Check options of either end (sender: the stream count too). */
int wire_check_options(const struct mig_xfer_options *opts, bool sender);

/* Add the counters of from to to. */
void wire_stats_add(struct mig_xfer_stats *to, const struct mig_xfer_stats *from);

/*
 * The calling thread's CPU time in ns (CLOCK_THREAD_CPUTIME_ID; 0 when it
 * cannot be read).  A system call here, not a vDSO read: time a batch,
 * never a page.
 */
uint64_t wire_thread_ns(void);

#endif /* XENMIG_XFER_WIRE_H */
