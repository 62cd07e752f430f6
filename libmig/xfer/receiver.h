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

struct mig_xfer_receiver {
    struct mig_xfer_options opts;   /* opts.key points at key below, or NULL */
    uint8_t key[SEAL_KEY_SIZE];
    xentoollog_logger *log;
    unsigned int count;
    int *fds;               /* by stream index */
    uint8_t id[16];         /* opts.expect_id points here when one was given */

    /* receive state */
    pthread_mutex_t lock;
    int64_t *last_ended;    /* last epoch ended per stream, -1 = none */
    int64_t all_ended;      /* last epoch ended on every stream */
    int first_failed;       /* stream whose error woke the others, -1 = none */
    mig_xfer_write_page_fn write_page;
    mig_xfer_epoch_done_fn epoch_done;
    void *arg;
};

#endif
