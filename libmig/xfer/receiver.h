/*
 * receiver.h: the receiving end's handle, shared by accept.c (which
 * listens and handshakes the streams into it) and receiver.c (which
 * receives and verifies their frames).  Private to libmig/xfer.
 *
 * This file must never declare anything a caller outside libmig/xfer
 * could use: the public interface is mig_xfer.h.
 */
#ifndef XENMIG_XFER_RECEIVER_H
#define XENMIG_XFER_RECEIVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <xentoollog.h>

#include "mig_xfer.h"
#include "seal.h"

struct gate;
struct recv_stream;

/*
 * Arrays are by stream index, MIG_XFER_MAX_STREAMS long.  While the
 * receive runs, fds, next_fd, gen and ended change only under lock: a
 * stream thread swaps its connection, the acceptor thread hands it a new
 * one, a failing stream shuts the others.  count, started, streams,
 * threads and last_ended change under lock too: a stream that joins
 * (opts.max_streams) gets the next index and its own thread.
 */
struct mig_xfer_receiver {
    struct mig_xfer_options opts;   /* opts.key points at key below, or NULL */
    uint8_t key[SEAL_KEY_SIZE];
    xentoollog_logger *log;
    unsigned int count;
    int *fds;               /* by stream index */
    uint8_t id[16];         /* opts.expect_id points here when one was given */
    bool reconnects;        /* the streams announced they come back when lost */
    struct mig_xfer_listener *listener;  /* where they come back; NULL: adopted */

    /* receive state */
    pthread_mutex_t lock;
    pthread_cond_t changed;  /* a connection came back, a stream failed, the source left */
    bool synced;            /* lock and changed exist (receiver_new to close) */
    int *next_fd;           /* a reconnection waiting for its stream, -1 = none */
    uint32_t *gen;          /* generation of each stream's newest connection */
    bool *ended;            /* the stream is over (DONE or failed): no coming back */
    bool *done;             /* of those, the ones that ended with DONE */
    bool source_gone;       /* opts.cancel_fd hung up */
    struct recv_stream *streams;  /* while the receive runs: one per stream */
    pthread_t *threads;     /* the receive thread of each of them */
    unsigned int started;   /* threads started: streams 0 .. started-1 */
    bool joins_closed;      /* the receive is over: no stream joins any more */
    int64_t *last_ended;    /* last epoch ended per stream, -1 = none */
    int64_t all_ended;      /* last epoch ended on every stream */
    int first_failed;       /* stream whose error woke the others, -1 = none */
    mig_xfer_write_page_fn write_page;
    mig_xfer_write_hashed_fn write_hashed;   /* or this, with the hash */
    mig_xfer_epoch_done_fn epoch_done;
    void *arg;
    struct gate *acceptor;  /* accept.c's thread for reconnections, or NULL */
};

/*
 * accept.c: from the start of the receive until the receiver is closed,
 * let lost streams of r come back on its listener, and new ones join it
 * up to opts.max_streams (a thread polling it; nothing when r has no
 * listener, or its streams neither reconnect nor may join).  After
 * the receive it still answers a stream that comes back for the
 * acknowledgement of its DONE.  Start after r->lock and r->changed exist;
 * stop before they go.  0 or MIG_ENOMEM/MIG_EIO.
 */
int xfer_acceptor_start(struct mig_xfer_receiver *r);

/*
 * receiver.c: start the receive thread of stream index (== r->started,
 * < r->count), whose connection is r->fds[index] and whose last ended
 * epoch is r->last_ended[index].  With r->lock held, while the receive
 * runs (accept.c calls it for a stream that joins).  0 or MIG_ENOMEM.
 */
int xfer_stream_start(struct mig_xfer_receiver *r, unsigned int index);
void xfer_acceptor_stop(struct mig_xfer_receiver *r);
/*
 * Answer a stream's HELLO on fd: status (0 or a MIG_E* code) and the epoch
 * it resumes at (WIRE_RESUME_DONE: it ended well).  0 or the write's error.
 */
int xfer_send_reply(int fd, int status, uint32_t resume);

#endif
