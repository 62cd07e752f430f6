/*
 * mig_xfer.h: N parallel data streams of one migration (libmig/xfer).
 *
 * A migration moves guest pages over N TCP connections ("streams"), each
 * driven by its own thread.  The pfn space is partitioned over the streams
 * by a fixed rule (mig_xfer_stream_of_pfn), so a given pfn always travels
 * on the same stream and pages of one pfn can never overtake each other.
 * Every page carries its hash (mig_page_hash: xxh64, seed 0); all-zero pages carry no data; pages
 * whose hash equals the one last sent for that pfn are not resent.  An
 * epoch (one pre-copy round, or the final stop-and-copy) ends with an
 * EPOCH_END frame on every stream that carries the count and a digest of
 * what that stream sent, so the receiver can prove that nothing was lost.
 *
 * Wire format: version MIG_XFER_VERSION (5); the one specification is
 * docs/formats.md, "Data streams" (tests/docs/spec-versions.sh checks that
 * its version numbers are this header's).  In short, all integers
 * little-endian: each connection opens with a 48-byte HELLO (magic
 * "XMIGDAT1", version, stream index and count, page size, flags with bit 0
 * HELLO_FLAG_SEALED, bit 1 HELLO_FLAG_RECONNECTS and bits 8..31 the
 * connection's generation, migration id), followed when sealed by a
 * 16-byte proof of key, and is answered by a 24-byte HELLO_REPLY
 * ("XMIGACK1", status, version, the epoch the stream resumes at); a
 * connection that cannot prove the key is dropped without an answer.
 * Then frames of a 16-byte header (type, body length, sequence number)
 * and a body, sealed unless the migration is plain (AES-256-GCM or
 * ChaCha20-Poly1305, as the options say: the layout is the same):
 * 1 PAGES (epoch, count, descriptors {pfn | type << 52 | COMPRESSED << 62 |
 * ZERO << 63, xxh64 hash}, a u16 length per COMPRESSED page, page data:
 * 4096 bytes raw or an LZ4 block each), 2 EPOCH_END (epoch, count, an xxh3-64 chain
 * over the epoch's descriptor arrays), 3 DONE, 4 ABORT (code, message).
 * The receiver answers each EPOCH_END with a 16-byte EPOCH_ACK
 * ("XMIGEND1", epoch).  Between epochs a stream may join the running
 * ones (mig_xfer_sender_add_stream; the receiver allows it up to
 * opts.max_streams): the pfns of later epochs are partitioned over the
 * new count.  A wrong type, sequence number, length, pfn of
 * another stream, hash, or EPOCH_END count or digest is an error naming
 * the stream, frame and byte offset.
 *
 * A stream whose connection is cut or reset (not one that is stalled,
 * tampered with or refused) reconnects when the sender allows it
 * (max_reconnects): a new connection with the next generation, whose
 * nonces therefore differ from every earlier one, whose HELLO proves the
 * key again, and whose reply says the first epoch the receiver has not
 * ended on that stream; the sender resends the whole of that epoch's
 * pages for the stream (the receiver drops what it counted of it).
 *
 * Compression (off unless asked for: mig_xfer_options.compress, then
 * mig_xfer_sender_set_compress between epochs) puts each non-zero page
 * through LZ4 on its own; a page that does not shrink to
 * MIG_XFER_COMPRESS_MAX bytes goes raw.  The receiver bounds every length
 * and checks each page's hash after decompressing it.
 */
#ifndef XENMIG_MIG_XFER_H
#define XENMIG_MIG_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xxhash.h>

#include "mig_error.h"
#include "mig_page.h"

struct xentoollog_logger;

#define MIG_XFER_VERSION      5
#define MIG_XFER_MAX_STREAMS  64
#define MIG_XFER_MAX_BATCH    512          /* pages per PAGES frame */
/* a PAGES body: head, and per page a descriptor, a u16 length, <= 4096 bytes */
#define MIG_XFER_MAX_FRAME    (MIG_XFER_MAX_BATCH * (MIG_PAGE_SIZE + 16 + 2) + 8)
#define MIG_XFER_PFN_MASK     ((UINT64_C(1) << 52) - 1)
#define MIG_XFER_FLAG_ZERO    (UINT64_C(1) << 63)
#define MIG_XFER_FLAG_COMPRESSED (UINT64_C(1) << 62)   /* data is an LZ4 block */
/* the longest compressed page the sender sends; a longer one goes raw */
#define MIG_XFER_COMPRESS_MAX (MIG_PAGE_SIZE - 128)
#define MIG_XFER_TYPE_SHIFT   52
#define MIG_XFER_TYPE_MASK    (UINT64_C(0xf) << MIG_XFER_TYPE_SHIFT)
#define MIG_XFER_CHUNK_SHIFT  9           /* 512 pfns per partition chunk */

/*
 * The hash of one page everywhere in xenmig (descriptors, last-sent
 * table, memory digests): xxh64 with seed 0.
 */
static inline uint64_t mig_page_hash(const void *page)
{
    return XXH64(page, MIG_PAGE_SIZE, 0);
}

/*
 * What a sent page is known by (the last-sent table, memory digests): its
 * hash, mixed with its type when it has one, so that a page whose type
 * changed counts as changed.
 */
static inline uint64_t mig_page_key(uint64_t hash, unsigned int type)
{
    return type ? hash ^ (UINT64_C(0x9e3779b97f4a7c15) * type) : hash;
}

/* The stream that carries pfn: (pfn >> MIG_XFER_CHUNK_SHIFT) % count. */
static inline unsigned int mig_xfer_stream_of_pfn(uint64_t pfn, unsigned int count)
{
    return (unsigned int)((pfn >> MIG_XFER_CHUNK_SHIFT) % count);
}

/* Options of both ends.  Versioned: initialise with MIG_XFER_OPTIONS_INIT. */
struct mig_xfer_options {
    unsigned int version;          /* MIG_XFER_OPTIONS_VERSION */
    unsigned int streams;          /* sender: N connections (1..64) */
    uint64_t max_rate_per_stream;  /* bytes/s through SO_MAX_PACING_RATE; 0 = none */
    unsigned int batch_pages;      /* pages per PAGES frame (1..MIG_XFER_MAX_BATCH) */
    int timeout_ms;                /* connect/accept/read stall limit; 0 = none */
    /*
     * Fault injection for tests (sender only; MIG_XFER_FAULT_*): once the
     * last stream has sent fault_after_pages pages, on that stream:
     * CORRUPT_PAGE flips a bit of a page after hashing it (a hash mismatch),
     * CUT_STREAM shuts the connection, TAMPER_FRAME flips a bit of a sealed
     * frame on the wire, REPLAY_FRAME sends the previous frame again,
     * TRUNCATE sends half a frame and closes, STALL stops sending for
     * fault_stall_ms; WRONG_KEY (at connect time, every stream) proves and
     * seals with another key than the one the receiver was given; RESET
     * resets the connection (a TCP RST) once, RESET_ROUNDS after the first
     * batch of every epoch, RESET_ALWAYS after the first batch of every
     * connection: with max_reconnects the stream comes back, or gives up;
     * RESET_DONE resets it in place of its first DONE, as if DONE went out
     * and the reset lost it before the receiver read it.
     */
    unsigned int fault;
    uint64_t fault_after_pages;
    /*
     * The 32-byte per-migration key (of opts.cipher), or NULL for plain
     * streams, which only an explicit request should give.  Sender: frames
     * are sealed.  Receiver: only sealed streams whose HELLO proves the key
     * are accepted.  The bytes are copied; the caller keeps ownership.
     */
    const uint8_t *key;
    unsigned int fault_stall_ms;    /* STALL: how long */
    /*
     * Receiver: while waiting for the streams, stop with MIG_ECANCELLED as
     * soon as this fd becomes readable or hangs up (the control channel: the
     * source gave up).  -1: none.
     */
    int cancel_fd;
    /*
     * Receiver (version 2): the 16-byte migration id the source announced
     * over the control channel, or NULL.  Given, a plain stream whose HELLO
     * carries another id is a stranger: dropped like a connection that
     * cannot prove the key, never the stream that sets the id.  Copied.
     */
    const uint8_t *expect_id;
    /*
     * Sender (version 3): how often a stream whose connection was cut or
     * reset may try to reconnect since it last ended an epoch (each try
     * within timeout_ms of the loss, 250 ms apart and doubling up to 2 s);
     * 0: a lost connection fails the send, as in version 2.  The HELLO
     * tells the receiver, which then waits up to timeout_ms for a lost
     * stream to come back.
     */
    unsigned int max_reconnects;
    /*
     * Sender (version 3): while reconnecting, give up as soon as cancel_fd
     * becomes readable or hangs up (the operator's cancel) or this fd
     * hangs up (the control channel: the destination is gone).  -1: none.
     * Receiver: cancel_fd hanging up while a stream waits to reconnect
     * ends the wait.
     */
    int hangup_fd;
    /*
     * Sender (version 4): compress the pages of the first epoch (LZ4, page
     * by page); false, the default, sends them raw.
     * mig_xfer_sender_set_compress changes it for the epochs after.
     */
    bool compress;
    /*
     * Receiver (version 5): while the receive runs, a stream of this
     * migration may join between epochs as stream N of N + 1
     * (mig_xfer_sender_add_stream), up to this many streams in all
     * (at most MIG_XFER_MAX_STREAMS); 0, the default: none may join.
     */
    unsigned int max_streams;
    /*
     * Both ends (version 6): the cipher that seals the frames when key is
     * set, MIG_XFER_CIPHER_*; both ends must be given the same one (it is
     * not on the wire: a stream sealed with another fails its proof of
     * key).  Before version 6: AES-256-GCM.
     */
    unsigned int cipher;
};
#define MIG_XFER_CIPHER_AES_256_GCM       0
#define MIG_XFER_CIPHER_CHACHA20_POLY1305 1
#define MIG_XFER_FAULT_NONE         0
#define MIG_XFER_FAULT_CORRUPT_PAGE 1
#define MIG_XFER_FAULT_CUT_STREAM   2
#define MIG_XFER_FAULT_TAMPER_FRAME 3
#define MIG_XFER_FAULT_REPLAY_FRAME 4
#define MIG_XFER_FAULT_TRUNCATE     5
#define MIG_XFER_FAULT_STALL        6
#define MIG_XFER_FAULT_WRONG_KEY    7
#define MIG_XFER_FAULT_RESET        8
#define MIG_XFER_FAULT_RESET_ROUNDS 9
#define MIG_XFER_FAULT_RESET_ALWAYS 10
#define MIG_XFER_FAULT_RESET_DONE   11
#define MIG_XFER_OPTIONS_VERSION 6
#define MIG_XFER_OPTIONS_INIT { MIG_XFER_OPTIONS_VERSION, 1, 0, 256, 30000, \
                                MIG_XFER_FAULT_NONE, 0, NULL, 0, -1, NULL, 0, -1, \
                                false, 0, MIG_XFER_CIPHER_AES_256_GCM }
#define MIG_XFER_KEY_SIZE 32

/*
 * The name of a MIG_XFER_CIPHER_* ("aes-256-gcm", "chacha20-poly1305"),
 * static text; NULL for an unknown one.
 */
const char *mig_xfer_cipher_name(unsigned int cipher);

/* *cipher of a name as mig_xfer_cipher_name gives it: 0, or MIG_EINVAL. */
int mig_xfer_cipher_parse(const char *name, unsigned int *cipher);

/*
 * Counters of one end; all are totals over every stream.  The compression
 * counters let a policy tell a link-bound transfer (bytes well below
 * raw_bytes pays) from a CPU-bound one (compress_ns near the epoch's
 * time per stream thread).
 */
struct mig_xfer_stats {
    uint64_t pages;            /* descriptors sent or received */
    uint64_t zero_pages;       /* of which all-zero (no data on the wire) */
    uint64_t unchanged_pages;  /* sender: skipped because hash == last sent */
    uint64_t bytes;            /* bytes on the wire, headers included */
    uint64_t frames;
    uint64_t epochs;           /* epochs completed on every stream */
    uint64_t reconnects;       /* lost connections a stream came back from */
    uint64_t raw_bytes;        /* page data uncompressed: 4096 per non-zero page */
    uint64_t data_bytes;       /* page data on the wire: raw and compressed pages
                                  and their lengths (== raw_bytes uncompressed) */
    uint64_t compressed_pages; /* of the non-zero pages, those sent compressed */
    uint64_t compress_ns;      /* sender: CPU time its threads spent compressing
                                  (CLOCK_THREAD_CPUTIME_ID, summed) */
    uint64_t decompress_ns;    /* receiver: the same for decompressing */
    uint64_t compress_skipped_pages; /* sender, compressing: non-zero pages sent
                                  raw without a try, their stream's last tried
                                  batch having shrunk by less than an eighth */
};

/*
 * Sender side.
 *
 * read_page(arg, stream, pfn, buf, type_out): stream is the index
 * (0 .. streams-1) of the connection whose thread calls; fill buf (page
 * size bytes) with the current content of pfn and *type_out (set to 0 before the call) with
 * its 4-bit type, return 0, MIG_EABSENT (nothing to send there: the pfn
 * is skipped) or another MIG_E* code.  Called concurrently from the N
 * stream threads (never twice for the same pfn at the same time).
 */
typedef int (*mig_xfer_read_page_fn)(void *arg, unsigned int stream, uint64_t pfn,
                                     void *buf, unsigned int *type_out);

struct mig_xfer_sender;

/*
 * Connect opts->streams connections to host:port and handshake each.
 * id is the 16-byte migration id.  On success *sender_out is a new handle
 * owned by the caller (release with mig_xfer_sender_close).  On failure
 * *sender_out is NULL and every connection made is closed.
 * log may be NULL.
 */
int mig_xfer_sender_connect(const char *host, const char *port,
                            const struct mig_xfer_options *opts,
                            const uint8_t id[16],
                            struct xentoollog_logger *log,
                            struct mig_xfer_sender **sender_out);

/*
 * Send one epoch: the pages pfns[0..count-1] (any order, no duplicates),
 * each stream thread sending the pfns that belong to it, then EPOCH_END on
 * every stream.  last_hash, if not NULL, is an array indexed by pfn
 * (caller-owned, at least max pfn + 1 entries, 0 = never sent): a page
 * whose mig_page_key equals last_hash[pfn] is skipped (a page whose type
 * changed is resent), and last_hash is updated
 * for every page sent.  Statistics are added to *stats (may be NULL).
 * Returns 0, or the first error of any stream (the sender is then broken:
 * call mig_xfer_sender_abort and close).
 */
int mig_xfer_sender_send_epoch(struct mig_xfer_sender *sender, uint32_t epoch,
                               const uint64_t *pfns, size_t count,
                               mig_xfer_read_page_fn read_page, void *arg,
                               uint64_t *last_hash,
                               struct mig_xfer_stats *stats);

/*
 * Optional: before reading each batch, stream thread number stream calls
 * prefetch(arg, stream, pfns, count) with the pfns it reads next, in that order
 * (read_page follows for each; a batch may run past them when pages are
 * skipped).  Lets a backend map a whole batch at once.  Returns 0 or a
 * MIG_E* code that fails the epoch.
 */
typedef int (*mig_xfer_prefetch_fn)(void *arg, unsigned int stream,
                                    const uint64_t *pfns, size_t count);
void mig_xfer_sender_set_prefetch(struct mig_xfer_sender *sender, mig_xfer_prefetch_fn fn);

/*
 * Compress the pages of the epochs sent from the next call of
 * mig_xfer_sender_send_epoch on (on), or send them raw (off); an epoch
 * in progress, or resent after a reconnection, keeps what it began with.
 * Safe to call from another thread while an epoch is sent.  0, or
 * MIG_EINVAL for a NULL sender.
 */
int mig_xfer_sender_set_compress(struct mig_xfer_sender *sender, bool on);

/*
 * The page data bytes a non-zero page would take on the wire compressed:
 * its LZ4 block and the block's u16 length, or MIG_PAGE_SIZE when it does
 * not shrink to MIG_XFER_COMPRESS_MAX (it then goes raw).  The codec of
 * mig_xfer_sender_set_compress; for estimates (the prediction's sample).
 */
size_t mig_xfer_compressed_size(const void *page);

/* Whether the 4 KiB page (8-byte aligned) is all zero: sent as a descriptor
 * alone (MIG_XFER_FLAG_ZERO). */
bool mig_xfer_page_is_zero(const void *page);

/*
 * Open one more stream: index N of N + 1 where N is the count so far
 * (connect, HELLO of generation 0, proof of key, reply, as a first
 * connection).  Between epochs only: never while
 * mig_xfer_sender_send_epoch or mig_xfer_sender_finish runs, nor after
 * finish.  The pfns of the epochs sent after it are partitioned over
 * N + 1 streams (mig_xfer_stream_of_pfn).  The new stream is paced as
 * the others (max_rate_per_stream, or mig_xfer_sender_set_rate).  On
 * failure (MIG_EINVAL for a NULL sender, MIG_ELIMIT at
 * MIG_XFER_MAX_STREAMS, MIG_EIO when it cannot connect, MIG_ECOMPAT when
 * the receiver refuses it, a stall when it does not answer) the sender
 * keeps its N streams and stays usable; the message says why.
 */
int mig_xfer_sender_add_stream(struct mig_xfer_sender *sender);

/* The streams the sender has now (0 for NULL). */
unsigned int mig_xfer_sender_streams(const struct mig_xfer_sender *sender);

/*
 * Pace every stream at bytes_per_second (SO_MAX_PACING_RATE; 0 = no
 * cap) from now on, reconnections and added streams included.  Between
 * epochs only, as mig_xfer_sender_add_stream.  0, MIG_EINVAL for a NULL
 * sender, or MIG_EIO when the kernel refuses the rate (the streams
 * already paced keep the new rate; the message names the stream).
 */
int mig_xfer_sender_set_rate(struct mig_xfer_sender *sender, uint64_t bytes_per_second);

/* Send DONE on every stream (ends the migration's data). */
int mig_xfer_sender_finish(struct mig_xfer_sender *sender);

/* Lost connections the streams came back from so far (0 for NULL). */
uint64_t mig_xfer_sender_reconnects(const struct mig_xfer_sender *sender);

/* Send ABORT with a message on every stream still open; best effort. */
void mig_xfer_sender_abort(struct mig_xfer_sender *sender, int code,
                           const char *message);

/*
 * Close a sender.  Test hook: mig_xfer_sender_fd() gives stream i's
 * socket so fault tests can cut one connection.
 */
void mig_xfer_sender_close(struct mig_xfer_sender *sender);
int mig_xfer_sender_fd(const struct mig_xfer_sender *sender, unsigned int index);

/*
 * Receiver side.
 *
 * write_page(arg, stream, pfn, data, type, epoch): stream is the index
 * (0 .. streams-1) of the connection whose thread calls; store a verified
 * page of that type; data is NULL for an all-zero page; the buffer is only valid
 * during the call.  Called
 * concurrently from the N stream threads (never for the same pfn at once).
 * epoch_done(arg, epoch): every stream has completed epoch (may be NULL).
 * Either callback returns 0 or a MIG_E* code that aborts the receive.
 */
typedef int (*mig_xfer_write_page_fn)(void *arg, unsigned int stream, uint64_t pfn,
                                      const void *data, unsigned int type,
                                      uint32_t epoch);
typedef int (*mig_xfer_epoch_done_fn)(void *arg, uint32_t epoch);

struct mig_xfer_listener;
struct mig_xfer_receiver;

/*
 * Listen on host:port (port "0" picks a free one; read it back with
 * mig_xfer_listener_port).  *listener_out is owned by the caller
 * (mig_xfer_listener_close); NULL on failure.
 */
int mig_xfer_listen(const char *host, const char *port,
                    const struct mig_xfer_options *opts,
                    struct xentoollog_logger *log,
                    struct mig_xfer_listener **listener_out);
unsigned int mig_xfer_listener_port(const struct mig_xfer_listener *listener);
void mig_xfer_listener_close(struct mig_xfer_listener *listener);

/*
 * Accept the N streams of one migration (N is taken from the first HELLO
 * that proves the key or carries opts.expect_id).  Connections are
 * handshaken concurrently: each has an absolute deadline for its whole
 * HELLO (a quarter of the stall limit, at least 1 s or the whole limit
 * when shorter, at most 10 s), at most 16 wait at
 * once (one more closes the oldest), and strangers are dropped with a
 * warning in the log.  A stream of this migration with a bad HELLO (version, count,
 * index) is refused and fails the accept.  Fails with MIG_EIO when no
 * stream joined for opts.timeout_ms, MIG_ECANCELLED when opts.cancel_fd
 * became readable.  *receiver_out is owned by the caller
 * (mig_xfer_receiver_close); NULL on failure.
 */
int mig_xfer_accept(struct mig_xfer_listener *listener,
                    struct mig_xfer_receiver **receiver_out);

/*
 * As mig_xfer_accept, over connections made elsewhere (a test's socket
 * pairs, a fuzz target, streams forwarded by another transport): each fd
 * is handshaken in turn.  The fds are consumed in every case: owned by
 * *receiver_out on success, closed on failure.  Connections that cannot
 * prove the key are dropped; all the others must make up the streams.
 */
int mig_xfer_receiver_adopt(const int *fds, unsigned int nr_fds,
                            const struct mig_xfer_options *opts,
                            struct xentoollog_logger *log,
                            struct mig_xfer_receiver **receiver_out);

/*
 * Receive until every stream has sent DONE, verifying every frame; one
 * thread per stream.  Returns 0 only if every stream ended with DONE and
 * every epoch's count and digest matched on every stream.  Stats are
 * written to *stats (may be NULL).  id_out (may be NULL) receives the
 * migration id.
 */
int mig_xfer_receive(struct mig_xfer_receiver *receiver,
                     mig_xfer_write_page_fn write_page,
                     mig_xfer_epoch_done_fn epoch_done, void *arg,
                     struct mig_xfer_stats *stats, uint8_t id_out[16]);

/*
 * As mig_xfer_receive, with a write_page that is also given the page's
 * hash: mig_page_hash of data (of an all-zero page when data is NULL),
 * which the receiver has just checked against the sender's, so that the
 * callee need not hash the page again.
 */
typedef int (*mig_xfer_write_hashed_fn)(void *arg, unsigned int stream, uint64_t pfn,
                                        const void *data, unsigned int type,
                                        uint32_t epoch, uint64_t hash);
int mig_xfer_receive_hashed(struct mig_xfer_receiver *receiver,
                            mig_xfer_write_hashed_fn write_page,
                            mig_xfer_epoch_done_fn epoch_done, void *arg,
                            struct mig_xfer_stats *stats, uint8_t id_out[16]);

/*
 * The streams the receiver has: those accepted, and once a receive ran,
 * those that joined it (opts.max_streams).
 */
unsigned int mig_xfer_receiver_streams(const struct mig_xfer_receiver *receiver);

/* Test hook: stream index's socket (-1 when it has none), as the sender's. */
int mig_xfer_receiver_fd(const struct mig_xfer_receiver *receiver, unsigned int index);

void mig_xfer_receiver_close(struct mig_xfer_receiver *receiver);

#endif /* XENMIG_MIG_XFER_H */
