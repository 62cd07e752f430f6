/*
 * destination.c: the receiving side of a live migration
 * (mig_migrate_receive).  Accepts the N data streams, stores verified
 * pages through the backend, checks the final dirty set against what
 * arrived in the last epoch, applies the device state, reports its memory
 * hash, and resumes the guest only when the source says "go".
 * It must never resume the guest before "go".
 */
#include "config.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <xentoollog.h>
#include <xxhash.h>

#include "control.h"
#include "mig_dirty.h"
#include "mig_migrate.h"
#include "mig_xfer.h"

/* A guest larger than this (2^36 pages = 256 TiB) is refused. */
#define MAX_GUEST_PFNS (UINT64_C(1) << 36)

struct destination {
    const struct mig_backend_ops *ops;
    void *be;
    struct control *control;    /* "applied" acknowledgements */
    uint64_t nr_pfns;
    uint32_t *received_epoch;   /* per pfn: epoch + 1 it last arrived in, 0 = never */
    uint64_t *page_hash;        /* per pfn: mig_page_key of the page as stored here */
    _Atomic uint64_t digest_sum;        /* mig_memory_digest's sum over page_hash */
    _Atomic uint64_t arrivals;          /* pages of the epoch under way */
    uint64_t epoch_arrivals;            /* pages of the last epoch completed */
};

static int write_page(void *arg, uint64_t pfn, const void *data, unsigned int type,
                      uint32_t epoch)
{
    struct destination *d = arg;

    if (pfn >= d->nr_pfns)
        return mig_error_set(MIG_EFORMAT, "page for pfn %#" PRIx64 " beyond the "
                             "guest's %" PRIu64 " pfns", pfn, d->nr_pfns);
    static _Thread_local uint8_t stored[MIG_XFER_PAGE_SIZE];
    unsigned int stored_type = 0;
    uint64_t key;
    int rc;

    d->received_epoch[pfn] = epoch + 1;
    atomic_fetch_add_explicit(&d->arrivals, 1, memory_order_relaxed);
    rc = d->ops->write_page(d->be, pfn, data, type);
    if (rc)
        return rc;
    if (!d->ops->read_page) {
        /* Nothing to read back (a stream): the digest is of what arrived. */
        if (!data) {
            memset(stored, 0, sizeof(stored));
            data = stored;
        }
        key = mig_page_key(mig_page_hash(data), type);
    } else {
        /* Read the page back: the digest is of what is stored, not of what came. */
        rc = d->ops->read_page(d->be, pfn, stored, &stored_type);
        if (rc)
            return rc;
        key = mig_page_key(mig_page_hash(stored), stored_type);
    }
    /* No other thread writes this pfn now; the sum is shared. */
    atomic_fetch_add_explicit(&d->digest_sum, mig_memory_digest_term(pfn, key) -
                              mig_memory_digest_term(pfn, d->page_hash[pfn]),
                              memory_order_relaxed);
    d->page_hash[pfn] = key;
    return 0;
}

/* Every stream finished an epoch: apply it, then tell the source. */
static int epoch_done(void *arg, uint32_t epoch)
{
    struct destination *d = arg;
    json_object *m;
    int rc;

    /* The source sends no page of the next epoch before "applied". */
    d->epoch_arrivals = atomic_exchange(&d->arrivals, 0);
    control_trace("destination", "epoch arrived; applying");
    if (d->ops->epoch_applied) {
        rc = d->ops->epoch_applied(d->be);
        if (rc)
            return rc;
    }
    m = json_object_new_object();
    if (!m)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    json_object_object_add(m, "msg", json_object_new_string("applied"));
    json_object_object_add(m, "epoch", json_object_new_int64(epoch));
    rc = control_send(d->control, m);
    json_object_put(m);
    return rc;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Check the compacted final dirty set against the pages of the last epoch:
 * every page that arrived in it is in the set (counted over the set only:
 * as many of the set's pfns arrived in it as pages arrived at all).
 */
static int check_final_set(struct destination *d, const void *compact, size_t len,
                           uint32_t final_epoch, uint64_t final_pages,
                           uint64_t final_sent)
{
    struct mig_dirty_bitmap *set = NULL;
    uint64_t arrived = 0;
    int rc;

    uint64_t encoded_pfns;

    rc = mig_dirty_compact_peek_nr_pfns(compact, len, &encoded_pfns);
    if (rc)
        goto out;
    if (encoded_pfns != d->nr_pfns) {
        rc = mig_error_set(MIG_EFORMAT, "final dirty set covers %" PRIu64 " pfns, "
                           "the guest has %" PRIu64, encoded_pfns, d->nr_pfns);
        goto out;
    }
    rc = mig_dirty_bitmap_create(d->nr_pfns, &set);
    if (!rc)
        rc = mig_dirty_compact_decode(compact, len, set);
    if (rc)
        goto out;
    if (mig_dirty_bitmap_count(set) != final_pages) {
        rc = mig_error_set(MIG_ECORRUPT, "final dirty set has %" PRIu64 " pages, "
                           "the source announced %" PRIu64,
                           mig_dirty_bitmap_count(set), final_pages);
        goto out;
    }
    for (uint64_t pfn = mig_dirty_bitmap_next_set(set, 0); pfn < d->nr_pfns;
         pfn = mig_dirty_bitmap_next_set(set, pfn + 1))
        arrived += d->received_epoch[pfn] == final_epoch + 1;
    if (arrived != d->epoch_arrivals) {
        rc = mig_error_set(MIG_ECORRUPT, "%" PRIu64 " pages arrived in the final epoch, "
                           "only %" PRIu64 " of them are in the final dirty set",
                           d->epoch_arrivals, arrived);
        goto out;
    }
    if (arrived != final_sent) {
        rc = mig_error_set(MIG_ECORRUPT, "%" PRIu64 " pages of the final dirty set "
                           "arrived, the source sent %" PRIu64, arrived, final_sent);
        goto out;
    }
    rc = 0;
out:
    mig_dirty_bitmap_free(set);
    return rc;
}

int mig_migrate_receive(const struct mig_backend_ops *ops, void *backend,
                        int control_in, int control_out,
                        const struct mig_migrate_options *opts,
                        struct xentoollog_logger *log,
                        struct mig_migrate_result *result)
{
    struct destination d = { .ops = ops, .be = backend };
    struct control c;
    struct mig_xfer_listener *listener = NULL;
    struct mig_xfer_receiver *receiver = NULL;
    struct mig_xfer_stats st = { 0 };
    json_object *m = NULL;
    void *state = NULL, *compact = NULL;
    unsigned long long v, state_len, compact_len, final_pages, final_sent, epochs;
    struct mig_xfer_options xo = MIG_XFER_OPTIONS_INIT;
    bool control_up = false, go = false, sealed = false;
    uint8_t key[MIG_XFER_KEY_SIZE];
    double start = now(), go_at = 0;
    char hex[17];
    int rc;

    memset(result, 0, sizeof(*result));
    if (!opts || opts->version != MIG_MIGRATE_OPTIONS_VERSION)
        return mig_error_set(MIG_EINVAL, "migrate options version %u is not %u: "
                             "initialise them with MIG_MIGRATE_OPTIONS_INIT",
                             opts ? opts->version : 0, MIG_MIGRATE_OPTIONS_VERSION);
    rc = control_init(&c, control_in, control_out, opts->timeout_ms);
    if (rc)
        return rc;
    control_up = true;

    rc = control_recv(&c, "hello", &m);
    if (rc)
        goto out;
    rc = control_get_uint(m, "version", 1000, &v);
    if (!rc && v != 1)
        rc = mig_error_set(MIG_ECOMPAT, "the source speaks migration protocol "
                           "version %llu, this destination speaks 1: use the same "
                           "xenmig version on both hosts", v);
    if (!rc)
        rc = control_get_uint(m, "page_size", 1 << 30, &v);
    if (!rc && v != MIG_XFER_PAGE_SIZE)
        rc = mig_error_set(MIG_ECOMPAT, "page size %llu is not supported", v);
    if (!rc)
        rc = control_get_uint(m, "nr_pfns", MAX_GUEST_PFNS, &v);
    if (!rc && !v)
        rc = mig_error_set(MIG_EFORMAT, "the source announced a guest of 0 pages");
    if (rc)
        goto out;
    d.nr_pfns = v;
    if (!control_get_uint(m, "streams", MIG_XFER_MAX_STREAMS, &v))
        result->streams = (unsigned int)v;
    {
        json_object *tr;

        result->tracing = json_object_object_get_ex(m, "tracing", &tr) &&
            !strcmp(json_object_get_string(tr), "stop") ? MIG_TRACE_STOP : MIG_TRACE_LOOSE;
    }
    {
        json_object *k;

        if (json_object_object_get_ex(m, "key", &k)) {
            const char *keyhex = json_object_get_string(k);

            if (!json_object_is_type(k, json_type_string) ||
                strlen(keyhex) != 2 * MIG_XFER_KEY_SIZE) {
                rc = mig_error_set(MIG_EFORMAT, "the source's data key is not %d hex "
                                   "digits", 2 * MIG_XFER_KEY_SIZE);
                goto out;
            }
            for (int i = 0; i < MIG_XFER_KEY_SIZE; i++) {
                unsigned int byte;

                if (sscanf(keyhex + 2 * i, "%2x", &byte) != 1) {
                    rc = mig_error_set(MIG_EFORMAT, "the source's data key is not hex");
                    goto out;
                }
                key[i] = (uint8_t)byte;
            }
            sealed = true;
            result->encrypted = true;
        }
    }
    {
        json_object *b;
        const char *source_backend = json_object_object_get_ex(m, "backend", &b) ?
                                     json_object_get_string(b) : "sim";

        size_t family = strcspn(ops->name, "-");

        if (strlen(source_backend) != family ||
            strncmp(source_backend, ops->name, family)) {
            rc = mig_error_set(MIG_ECOMPAT, "the source migrates a '%s' guest, this "
                               "destination receives '%.*s' guests: run xl-ext "
                               "migrate-receive with the matching backend",
                               source_backend, (int)family, ops->name);
            goto out;
        }
    }
    {
        json_object *a;

        /* The source waits for "applied" after each epoch. */
        if (!json_object_object_get_ex(m, "acks", &a) || !json_object_get_boolean(a)) {
            rc = mig_error_set(MIG_ECOMPAT, "the source does not wait for each epoch "
                               "to be applied (no \"acks\" in its hello): it is an "
                               "older xenmig; upgrade it");
            goto out;
        }
        d.control = &c;
    }
    if (json_object_object_get_ex(m, "prologue_length", NULL)) {
        void *prologue;

        rc = control_get_uint(m, "prologue_length", CONTROL_MAX_BLOCK, &v);
        if (rc)
            goto out;
        prologue = malloc(v ? v : 1);

        if (!prologue) {
            rc = mig_error_set(MIG_ENOMEM, "destination out of memory for a "
                               "prologue of %llu bytes", v);
            goto out;
        }
        rc = control_recv_block(&c, prologue, v);
        if (!rc && !ops->accept_prologue)
            rc = mig_error_set(MIG_ECOMPAT, "the source sent a prologue this '%s' "
                               "destination cannot take", ops->name);
        if (!rc)
            rc = ops->accept_prologue(backend, prologue, v);
        free(prologue);
        if (rc)
            goto out;
    }
    json_object_put(m);
    m = NULL;

    d.received_epoch = calloc(d.nr_pfns, sizeof(*d.received_epoch));
    d.page_hash = calloc(d.nr_pfns, sizeof(*d.page_hash));
    if (!d.received_epoch || !d.page_hash) {
        rc = mig_error_set(MIG_ENOMEM, "destination out of memory for the "
                           "bookkeeping of %" PRIu64 " pages", d.nr_pfns);
        goto out;
    }
    rc = ops->prepare ? ops->prepare(backend, d.nr_pfns) : 0;
    if (rc)
        goto out;
    xo.timeout_ms = opts->timeout_ms;
    xo.key = sealed ? key : NULL;
    xo.cancel_fd = control_in;
    rc = mig_xfer_listen(opts->data_host, "0", &xo, log, &listener);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc)
        goto out;
    m = json_object_new_object();
    json_object_object_add(m, "msg", json_object_new_string("ready"));
    json_object_object_add(m, "port", json_object_new_int(
        (int)mig_xfer_listener_port(listener)));
    rc = control_send(&c, m);
    json_object_put(m);
    m = NULL;
    if (rc)
        goto out;

    rc = mig_xfer_accept(listener, &receiver);
    if (rc)
        goto out;
    rc = mig_xfer_receive(receiver, write_page, epoch_done, &d, &st,
                          NULL);
    result->pages_sent = st.pages;
    result->bytes_sent = st.bytes;
    result->zero_pages = st.zero_pages;
    if (rc)
        goto out;

    control_trace("destination", "streams done");
    rc = control_recv(&c, "state", &m);
    if (!rc)
        rc = control_get_uint(m, "length", CONTROL_MAX_BLOCK, &state_len);
    if (!rc)
        rc = control_get_uint(m, "dirty_set_length",
                              mig_dirty_compact_bound(d.nr_pfns), &compact_len);
    if (!rc)
        rc = control_get_uint(m, "final_pages", d.nr_pfns, &final_pages);
    if (!rc)
        rc = control_get_uint(m, "final_sent", d.nr_pfns, &final_sent);
    if (rc)
        goto out;
    json_object_put(m);
    m = NULL;
    state = malloc(state_len ? state_len : 1);
    compact = malloc(compact_len ? compact_len : 1);
    if (!state || !compact) {
        rc = mig_error_set(MIG_ENOMEM, "destination out of memory for the device state");
        goto out;
    }
    rc = control_recv_block(&c, state, state_len);
    if (!rc)
        rc = control_recv_block(&c, compact, compact_len);
    if (!rc)
        rc = control_recv(&c, "switchover", &m);
    if (!rc)
        rc = control_get_uint(m, "epochs", UINT32_MAX, &epochs);
    if (rc)
        goto out;
    if (epochs != st.epochs || !epochs) {
        rc = mig_error_set(MIG_ECORRUPT, "the source sent %llu epochs, %" PRIu64
                           " were completed here", epochs, st.epochs);
        goto out;
    }
    control_trace("destination", "state arrived; checking the final set");
    rc = check_final_set(&d, compact, compact_len, (uint32_t)(epochs - 1),
                         final_pages, final_sent);
    if (rc)
        goto out;
    control_trace("destination", "restoring state");
    rc = ops->restore_state(backend, state, state_len);
    if (rc)
        goto out;
    control_trace("destination", "state restored");
    json_object_put(m);
    m = json_object_new_object();
    json_object_object_add(m, "msg", json_object_new_string("received"));
    result->memory_hash = mig_memory_digest_finish(atomic_load(&d.digest_sum), d.nr_pfns);
    control_hex64(hex, result->memory_hash);
    json_object_object_add(m, "memory_hash", json_object_new_string(hex));
    rc = control_send(&c, m);
    json_object_put(m);
    m = NULL;
    if (rc)
        goto out;

    /* Wait to be cleared; "abort" comes back as an error. */
    rc = control_recv(&c, "go", &m);
    if (rc)
        goto out;
    go = true;
    go_at = now();
    control_trace("destination", "go; resuming");
    rc = ops->resume(backend);
    if (rc == MIG_EABSENT) {
        /* Failed, and nothing runs here: the source may take its guest back. */
        json_object_put(m);
        m = json_object_new_object();
        json_object_object_add(m, "msg", json_object_new_string("failed"));
        json_object_object_add(m, "error", json_object_new_string(mig_error_last()));
        json_object_object_add(m, "source_resumes", json_object_new_boolean(1));
        (void)control_send(&c, m);
        rc = MIG_EIO;
        control_up = false;       /* said already */
        if (log)
            xtl_log(log, XTL_ERROR, -1, "migrate-receive", "%s (the guest is not "
                    "here: the source resumes it)", mig_error_last());
        control_dispose(&c);
        goto out;
    }
    if (rc)
        goto out;
    rc = control_send_simple(&c, "resumed", NULL);
    if (rc)
        goto out;
    result->downtime_seconds = now() - go_at;
    result->succeeded = true;
    result->rounds = (unsigned int)(epochs - 1);
    rc = 0;
out:
    if (rc && control_up) {
        char message[1024];
        int code = rc;

        snprintf(message, sizeof(message), "%s", mig_error_last());
        (void)control_send_simple(&c, !d.nr_pfns || !listener ? "refuse" : "failed",
                                  message);
        if (log)
            xtl_log(log, XTL_ERROR, -1, "migrate-receive", "%s%s", message,
                    go ? "" : " (the guest was not resumed here)");
        mig_error_set(code, "%s", message);
    }
    result->total_seconds = now() - start;
    if (m)
        json_object_put(m);
    mig_xfer_receiver_close(receiver);
    mig_xfer_listener_close(listener);
    free(d.received_epoch);
    free(d.page_hash);
    free(state);
    free(compact);
    if (control_up)
        control_dispose(&c);
    return rc;
}
