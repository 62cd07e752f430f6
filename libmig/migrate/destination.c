/*
 * destination.c: the receiving side of a live migration
 * (mig_migrate_receive).  Accepts the N data streams, stores verified
 * pages through the backend, checks the final dirty set against what
 * arrived in the last epoch, applies the device state, reports its memory
 * hash, and resumes the guest only when the source says "go".
 * It must never resume the guest before "go".
 */
#include "config.h"

#include <ctype.h>
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

#include "cipher.h"
#include "control.h"
#include "mig_clock.h"
#include "mig_dirty.h"
#include "mig_migrate.h"
#include "mig_xfer.h"
#include "sys/mig_backend.h"
#include "util/host.h"
#include "util/trace.h"

/* A guest larger than this (2^36 pages = 256 TiB) is refused. */
#define MAX_GUEST_PFNS (UINT64_C(1) << 36)

struct destination {
    const struct mig_destination_ops *ops;
    void *be;
    const struct mig_migrate_options *opts;
    struct xentoollog_logger *log;
    struct mig_migrate_result *result;
    struct control control;
    bool control_up;
    uint64_t nr_pfns;
    unsigned int streams;               /* announced in the source's hello */
    unsigned int max_streams;           /* the most it may widen to (hello's
                                           max_streams, else streams): entries
                                           of ctx and scratch */
    struct mig_stream_ctx *ctx;         /* by stream; priv is the backend's */
    bool ctx_open;
    uint8_t *scratch;                   /* a page per stream, to read back into */
    bool sealed;                        /* the source sent a data key */
    unsigned int cipher;                /* and the cipher chosen (MIG_XFER_CIPHER_*) */
    uint8_t key[MIG_XFER_KEY_SIZE];
    uint8_t id[16];                     /* the migration's, from the hello */
    struct mig_xfer_listener *listener;
    struct mig_xfer_receiver *receiver; /* from the accept until "state" arrives:
                                           a stream may come back for its DONE */
    struct mig_xfer_stats xfer;
    uint32_t *received_epoch;   /* per pfn: epoch + 1 it last arrived in, 0 = never */
    uint64_t *page_hash;        /* per pfn: mig_page_key of the page as stored here */
    _Atomic uint64_t digest_sum;        /* mig_memory_digest's sum over page_hash */
    _Atomic uint64_t arrivals;          /* pages of the epoch under way */
    uint64_t epoch_arrivals;            /* pages of the last epoch completed */
    unsigned long long epochs;          /* the source's count at switchover */
    bool go;                            /* told to resume */
    bool dry_run;                       /* the hello says: a dry run, ended by
                                           "abort" with dry_run after the probe */
    struct mig_cpu_sample cpu_at;       /* at the last "applied" (or the start) */
};

/*
 * The key of a page as stored here, data (NULL: all zero) being what was
 * written and hash its mig_page_hash, which the receiver checked: read
 * back (or looked at in place: stored_page) if the backend can.  A page
 * read back equal to what was written, with its type, has that hash (one
 * hash a page, not two); one that differs is hashed as it is.
 */
static int stored_key(struct destination *d, unsigned int stream, uint64_t pfn,
                      const void *data, unsigned int type, uint64_t hash,
                      uint64_t *key_out)
{
    uint8_t *scratch = d->scratch + (size_t)stream * MIG_PAGE_SIZE;
    const uint8_t *stored = scratch;
    unsigned int stored_type = 0;
    bool same;
    int rc;

    if (!d->ops->read_page && !d->ops->stored_page) {
        /* Nothing to read back (a stream): the digest is of what arrived. */
        *key_out = mig_page_key(hash, type);
        return 0;
    }
    /* Read the page back: the digest is of what is stored, not of what
     * came; in place where the backend can say where it is. */
    if (d->ops->stored_page) {
        stored = d->ops->stored_page(d->be, &d->ctx[stream], pfn, &stored_type);
    } else {
        rc = d->ops->read_page(d->be, &d->ctx[stream], pfn, scratch, &stored_type);
        if (rc)
            return rc;
    }
    same = stored_type == type && (data ? !memcmp(stored, data, MIG_PAGE_SIZE)
                                        : mig_xfer_page_is_zero(stored));
    *key_out = mig_page_key(same ? hash : mig_page_hash(stored), stored_type);
    return 0;
}

static int write_page(void *arg, unsigned int stream, uint64_t pfn, const void *data,
                      unsigned int type, uint32_t epoch, uint64_t hash)
{
    struct destination *d = arg;
    uint64_t key;
    int rc;

    if (pfn >= d->nr_pfns)
        return mig_error_set(MIG_EFORMAT, "page for pfn %#" PRIx64 " beyond the "
                             "guest's %" PRIu64 " pfns", pfn, d->nr_pfns);
    if (stream >= d->max_streams)
        return mig_error_set(MIG_EFORMAT, "a page came on stream %u, the source "
                             "announced %u streams at most", stream, d->max_streams);
    /* Pages, not copies: a stream that came back sends its epoch again. */
    if (d->received_epoch[pfn] != epoch + 1)
        atomic_fetch_add_explicit(&d->arrivals, 1, memory_order_relaxed);
    d->received_epoch[pfn] = epoch + 1;
    rc = d->ops->write_page(d->be, &d->ctx[stream], pfn, data, type);
    if (!rc)
        rc = stored_key(d, stream, pfn, data, type, hash, &key);
    if (rc)
        return rc;
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
    struct mig_cpu_sample now;
    json_object *m;
    int rc;

    /* The source sends no page of the next epoch before "applied". */
    d->epoch_arrivals = atomic_exchange(&d->arrivals, 0);
    mig_trace("destination", "epoch arrived; applying");
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
    /* how idle this end's CPUs were over the epoch, for the ladder */
    (void)mig_host_cpu_sample(&now);
    json_object_object_add(m, "cpu_idle",
                           json_object_new_double(mig_host_cpu_idle(&d->cpu_at, &now)));
    d->cpu_at = now;
    rc = control_send(&d->control, m);
    json_object_put(m);
    return rc;
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

/* The hello's numbers: protocol version, page size, guest size, streams. */
static int hello_sizes(struct destination *d, json_object *m)
{
    unsigned long long v;
    json_object *tr;
    int rc;

    rc = control_get_uint(m, "version", 1000, &v);
    if (!rc && v != MIG_MIGRATE_PROTOCOL_VERSION)
        rc = mig_error_set(MIG_ECOMPAT, "the source speaks migration protocol "
                           "version %llu, this destination speaks %d: use the same "
                           "xenmig version on both hosts", v, MIG_MIGRATE_PROTOCOL_VERSION);
    if (!rc)
        rc = control_get_uint(m, "page_size", 1 << 30, &v);
    if (!rc && v != MIG_PAGE_SIZE)
        rc = mig_error_set(MIG_ECOMPAT, "page size %llu is not supported", v);
    if (!rc)
        rc = control_get_uint(m, "nr_pfns", MAX_GUEST_PFNS, &v);
    if (!rc && !v)
        rc = mig_error_set(MIG_EFORMAT, "the source announced a guest of 0 pages");
    if (rc)
        return rc;
    d->nr_pfns = v;
    rc = control_get_uint(m, "streams", MIG_XFER_MAX_STREAMS, &v);
    if (!rc && !v)
        rc = mig_error_set(MIG_EFORMAT, "the source announced 0 data streams");
    if (rc)
        return rc;
    d->streams = d->max_streams = (unsigned int)v;
    d->result->streams = d->streams;
    /* The most streams the source's ladder may widen to (optional). */
    if (json_object_object_get_ex(m, "max_streams", &tr)) {
        rc = control_get_uint(m, "max_streams", MIG_XFER_MAX_STREAMS, &v);
        if (rc)
            return rc;
        if (v > d->streams)
            d->max_streams = (unsigned int)v;
    }
    d->result->tracing = json_object_object_get_ex(m, "tracing", &tr) &&
        !strcmp(json_object_get_string(tr), "stop") ? MIG_TRACE_STOP : MIG_TRACE_LOOSE;
    d->dry_run = json_object_object_get_ex(m, "dry_run", &tr) &&
                 json_object_get_boolean(tr);
    return 0;
}

/*
 * The hello's string field name as len bytes of hex into out: 0, 1 when
 * it is absent, or MIG_EFORMAT naming what it should have been.
 */
static int hello_hex(json_object *m, const char *name, const char *what,
                     uint8_t *out, size_t len)
{
    json_object *k;
    const char *hex;

    if (!json_object_object_get_ex(m, name, &k))
        return 1;
    hex = json_object_get_string(k);
    if (!json_object_is_type(k, json_type_string) || strlen(hex) != 2 * len)
        return mig_error_set(MIG_EFORMAT, "the source's %s is not %zu hex digits",
                             what, 2 * len);
    for (size_t i = 0; i < len; i++) {
        unsigned int byte;

        if (!isxdigit((unsigned char)hex[2 * i]) || !isxdigit((unsigned char)hex[2 * i + 1]) ||
            sscanf(hex + 2 * i, "%2x", &byte) != 1)
            return mig_error_set(MIG_EFORMAT, "the source's %s is not hex", what);
        out[i] = (uint8_t)byte;
    }
    return 0;
}

/*
 * The cipher of sealed streams, from the source's offer (cipher_choose):
 * ChaCha20-Poly1305 when this host lacks AES instructions and it is
 * offered, else the source's first; AES-256-GCM for a source that offers
 * none, and for a test posing as an older destination.
 */
static int hello_cipher(struct destination *d, json_object *m)
{
    bool has_aes = mig_host_has_aes_instructions() &&
                   d->opts->inject_fault != MIG_MIGRATE_FAULT_NO_AES;
    int rc = cipher_choose(m, has_aes, &d->cipher);

    if (rc)
        return rc;
    if (d->opts->inject_fault == MIG_MIGRATE_FAULT_OLD_READY)
        d->cipher = MIG_XFER_CIPHER_AES_256_GCM;
    d->result->cipher = mig_xfer_cipher_name(d->cipher);
    if (d->log)
        xtl_log(d->log, XTL_INFO, -1, "migrate", "this host %s AES instructions: the "
                "data streams are sealed with %s", has_aes ? "has" : "lacks",
                d->result->cipher);
    return 0;
}

/*
 * The migration id, which every data stream must carry, and the data key
 * (with its cipher) when the source seals its streams.
 */
static int hello_key(struct destination *d, json_object *m)
{
    int rc = hello_hex(m, "id", "migration id", d->id, sizeof(d->id));

    if (rc == 1)
        return mig_error_set(MIG_ECOMPAT, "the source's hello has no migration id: "
                             "it is an older xenmig; upgrade it");
    if (rc)
        return rc;
    rc = hello_hex(m, "key", "data key", d->key, MIG_XFER_KEY_SIZE);
    if (rc == 1)
        return 0;
    if (rc)
        return rc;
    d->sealed = true;
    d->result->encrypted = true;
    return hello_cipher(d, m);
}

/* The source's backend family must be ours, and it must wait for "applied". */
static int hello_peer(struct destination *d, json_object *m)
{
    json_object *b, *a;
    const char *source_backend = json_object_object_get_ex(m, "backend", &b) ?
                                 json_object_get_string(b) : "sim";
    size_t family = strcspn(d->ops->name, "-");

    if (strlen(source_backend) != family || strncmp(source_backend, d->ops->name, family))
        return mig_error_set(MIG_ECOMPAT, "the source migrates a '%s' guest, this "
                             "destination receives '%.*s' guests: run xl-ext "
                             "migrate-receive with the matching backend",
                             source_backend, (int)family, d->ops->name);
    /* The source waits for "applied" after each epoch. */
    if (!json_object_object_get_ex(m, "acks", &a) || !json_object_get_boolean(a))
        return mig_error_set(MIG_ECOMPAT, "the source does not wait for each epoch "
                             "to be applied (no \"acks\" in its hello): it is an "
                             "older xenmig; upgrade it");
    return 0;
}

/* The prologue that follows the hello, if it announced one. */
static int accept_prologue(struct destination *d, json_object *m)
{
    unsigned long long len;
    void *prologue;
    int rc;

    if (!json_object_object_get_ex(m, "prologue_length", NULL))
        return 0;
    rc = control_get_uint(m, "prologue_length", CONTROL_MAX_BLOCK, &len);
    if (rc)
        return rc;
    prologue = malloc(len ? len : 1);
    if (!prologue)
        return mig_error_set(MIG_ENOMEM, "destination out of memory for a "
                             "prologue of %llu bytes", len);
    rc = control_recv_block(&d->control, prologue, len);
    if (!rc && !d->ops->accept_prologue)
        rc = mig_error_set(MIG_ECOMPAT, "the source sent a prologue this '%s' "
                           "destination cannot take", d->ops->name);
    if (!rc)
        rc = d->ops->accept_prologue(d->be, prologue, len);
    free(prologue);
    return rc;
}

/* "hello" and its prologue: what comes, and whether this end can take it. */
static int receive_hello(struct destination *d)
{
    json_object *m = NULL;
    int rc;

    rc = control_recv(&d->control, "hello", &m);
    if (!rc)
        rc = hello_sizes(d, m);
    if (!rc)
        rc = hello_key(d, m);
    if (!rc)
        rc = hello_peer(d, m);
    if (!rc)
        rc = accept_prologue(d, m);
    control_wipe_string(m, "key");
    if (m)
        json_object_put(m);
    return rc;
}

/* Bookkeeping, the backend's room and its stream contexts. */
static int prepare(struct destination *d)
{
    uint64_t need = d->nr_pfns * (sizeof(*d->received_epoch) + sizeof(*d->page_hash));
    uint64_t have = mig_host_memory_bytes();
    int rc;

    /* The backend's own limit first, then ours: never ask malloc for the impossible. */
    rc = d->ops->prepare ? d->ops->prepare(d->be, d->nr_pfns) : 0;
    if (rc)
        return rc;
    if (need > have)
        return mig_error_set(MIG_ENOMEM, "destination out of memory: the bookkeeping of "
                             "%" PRIu64 " pages needs %" PRIu64 " MiB, this host has "
                             "%" PRIu64 " MiB", d->nr_pfns, need >> 20, have >> 20);
    d->received_epoch = calloc(d->nr_pfns, sizeof(*d->received_epoch));
    d->page_hash = calloc(d->nr_pfns, sizeof(*d->page_hash));
    /* A context for every stream the migration may use, opened up front. */
    d->ctx = calloc(d->max_streams, sizeof(*d->ctx));
    d->scratch = malloc((size_t)d->max_streams * MIG_PAGE_SIZE);
    if (!d->received_epoch || !d->page_hash || !d->ctx || !d->scratch)
        return mig_error_set(MIG_ENOMEM, "destination out of memory for the "
                             "bookkeeping of %" PRIu64 " pages", d->nr_pfns);
    for (unsigned int i = 0; i < d->max_streams; i++)
        d->ctx[i].index = i;
    if (d->ops->open_streams) {
        rc = d->ops->open_streams(d->be, d->ctx, d->max_streams);
        if (rc)
            return rc;
    }
    d->ctx_open = true;
    return 0;
}

/* Listen, say "ready" with the port, then take every page until DONE. */
static int receive_pages(struct destination *d, int control_in)
{
    struct mig_xfer_options xo = MIG_XFER_OPTIONS_INIT;
    json_object *m;
    int rc;

    xo.timeout_ms = d->opts->timeout_ms;
    xo.key = d->sealed ? d->key : NULL;
    xo.cipher = d->cipher;
    xo.cancel_fd = control_in;
    xo.expect_id = d->id;
    xo.max_streams = d->max_streams > d->streams ? d->max_streams : 0;
    rc = mig_xfer_listen(d->opts->data_host, "0", &xo, d->log, &d->listener);
    OPENSSL_cleanse(d->key, sizeof(d->key));
    if (rc)
        return rc;
    m = json_object_new_object();
    if (!m)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    json_object_object_add(m, "msg", json_object_new_string("ready"));
    json_object_object_add(m, "port", json_object_new_int(
        (int)mig_xfer_listener_port(d->listener)));
    if (xo.max_streams)         /* streams may join, up to this many */
        json_object_object_add(m, "max_streams", json_object_new_int((int)xo.max_streams));
    if (d->sealed && d->opts->inject_fault != MIG_MIGRATE_FAULT_OLD_READY)
        json_object_object_add(m, "cipher", json_object_new_string(d->result->cipher));
    rc = control_send(&d->control, m);
    json_object_put(m);
    if (!rc)
        rc = mig_xfer_accept(d->listener, &d->receiver);
    (void)mig_host_cpu_sample(&d->cpu_at);
    if (!rc)
        rc = mig_xfer_receive_hashed(d->receiver, write_page, epoch_done, d, &d->xfer,
                                     NULL);
    if (d->receiver)            /* with the streams that joined */
        d->result->streams = mig_xfer_receiver_streams(d->receiver);
    d->result->pages_sent = d->xfer.pages;
    d->result->bytes_sent = d->xfer.bytes;
    d->result->zero_pages = d->xfer.zero_pages;
    d->result->reconnects = d->xfer.reconnects;
    return rc;
}

/* "state" with the device state and the final dirty set, then "switchover". */
static int receive_state(struct destination *d, void **state, unsigned long long *state_len,
                         void **compact, unsigned long long *compact_len,
                         unsigned long long *final_pages, unsigned long long *final_sent)
{
    json_object *m = NULL;
    int rc;

    rc = control_recv(&d->control, "state", &m);
    if (!rc)
        rc = control_get_uint(m, "length", CONTROL_MAX_BLOCK, state_len);
    if (!rc)
        rc = control_get_uint(m, "dirty_set_length", mig_dirty_compact_bound(d->nr_pfns),
                              compact_len);
    if (!rc)
        rc = control_get_uint(m, "final_pages", d->nr_pfns, final_pages);
    if (!rc)
        rc = control_get_uint(m, "final_sent", d->nr_pfns, final_sent);
    if (m)
        json_object_put(m);
    m = NULL;
    if (rc)
        return rc;
    *state = malloc(*state_len ? *state_len : 1);
    *compact = malloc(*compact_len ? *compact_len : 1);
    if (!*state || !*compact)
        return mig_error_set(MIG_ENOMEM, "destination out of memory for the device state");
    rc = control_recv_block(&d->control, *state, *state_len);
    if (!rc)
        rc = control_recv_block(&d->control, *compact, *compact_len);
    if (!rc)
        rc = control_recv(&d->control, "switchover", &m);
    if (!rc)
        rc = control_get_uint(m, "epochs", UINT32_MAX, &d->epochs);
    if (m)
        json_object_put(m);
    if (!rc && (d->epochs != d->xfer.epochs || !d->epochs))
        rc = mig_error_set(MIG_ECORRUPT, "the source sent %llu epochs, %" PRIu64
                           " were completed here", d->epochs, d->xfer.epochs);
    return rc;
}

/*
 * A dry run's end, after its last epoch: the source's "abort" with
 * dry_run true ends it well (nothing restored, nothing resumed: the
 * caller discards what arrived); any other message (control_recv names
 * it), or an "abort" without dry_run (the source failed), is an error.
 */
static int end_dry_run(struct destination *d)
{
    json_object *m = NULL, *flag;
    int rc;

    mig_xfer_receiver_close(d->receiver);
    d->receiver = NULL;
    rc = control_recv(&d->control, "abort", &m);
    if (rc == MIG_ECANCELLED && json_object_object_get_ex(m, "dry_run", &flag) &&
        json_object_get_boolean(flag))
        rc = 0;
    if (m)
        json_object_put(m);
    if (rc)
        return rc;
    d->result->dry_run = true;
    snprintf(d->result->reason, sizeof(d->result->reason), "dry run: nothing kept");
    if (d->log)
        xtl_log(d->log, XTL_INFO, -1, "migrate-receive", "dry run: nothing kept");
    mig_trace("destination", "dry run: nothing kept");
    return 0;
}

/* The switchover's check and restore, then "received" with our digest. */
static int restore(struct destination *d)
{
    void *state = NULL, *compact = NULL;
    unsigned long long state_len, compact_len, final_pages, final_sent;
    json_object *m;
    char hex[17];
    int rc;

    mig_trace("destination", "streams done");
    rc = receive_state(d, &state, &state_len, &compact, &compact_len, &final_pages,
                       &final_sent);
    /* the source has finished its streams: none comes back any more */
    mig_xfer_receiver_close(d->receiver);
    d->receiver = NULL;
    if (rc)
        goto out;
    mig_trace("destination", "state arrived; checking the final set");
    rc = check_final_set(d, compact, compact_len, (uint32_t)(d->epochs - 1),
                         final_pages, final_sent);
    if (rc)
        goto out;
    mig_trace("destination", "restoring state");
    rc = d->ops->restore_state(d->be, state, state_len);
    if (rc)
        goto out;
    mig_trace("destination", "state restored");
    m = json_object_new_object();
    if (!m) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory");
        goto out;
    }
    json_object_object_add(m, "msg", json_object_new_string("received"));
    d->result->memory_hash = mig_memory_digest_finish(atomic_load(&d->digest_sum),
                                                      d->nr_pfns);
    control_hex64(hex, d->result->memory_hash);
    json_object_object_add(m, "memory_hash", json_object_new_string(hex));
    rc = control_send(&d->control, m);
    json_object_put(m);
out:
    free(state);
    free(compact);
    return rc;
}

/*
 * The backend failed to resume and nothing runs here (MIG_EABSENT): say
 * so, so that the source takes its guest back.
 */
static int resume_failed_absent(struct destination *d)
{
    json_object *m = json_object_new_object();

    if (m) {
        json_object_object_add(m, "msg", json_object_new_string("failed"));
        json_object_object_add(m, "error", json_object_new_string(mig_error_last()));
        json_object_object_add(m, "source_resumes", json_object_new_boolean(1));
        (void)control_send(&d->control, m);
        json_object_put(m);
    }
    if (d->log)
        xtl_log(d->log, XTL_ERROR, -1, "migrate-receive", "%s (the guest is not "
                "here: the source resumes it)", mig_error_last());
    d->control_up = false;       /* said already */
    control_dispose(&d->control);
    return MIG_EIO;
}

/* Wait to be cleared ("abort" comes back as an error), resume, say so. */
static int resume_on_go(struct destination *d)
{
    json_object *m = NULL;
    double go_at;
    int rc;

    rc = control_recv(&d->control, "go", &m);
    if (m)
        json_object_put(m);
    if (rc)
        return rc;
    d->go = true;
    go_at = mig_clock_seconds();
    mig_trace("destination", "go; resuming");
    rc = d->ops->resume(d->be);
    if (rc == MIG_EABSENT)
        return resume_failed_absent(d);
    if (!rc)
        rc = control_send_simple(&d->control, "resumed", NULL);
    if (rc)
        return rc;
    d->result->downtime_seconds = mig_clock_seconds() - go_at;
    d->result->succeeded = true;
    d->result->rounds = (unsigned int)(d->epochs - 1);
    return 0;
}

/* A failure the source has not heard of yet: tell it, and log it. */
static void report_failure(struct destination *d, int rc)
{
    char message[1024];

    snprintf(message, sizeof(message), "%s", mig_error_last());
    (void)control_send_simple(&d->control, !d->nr_pfns || !d->listener ? "refuse"
                              : "failed", message);
    if (d->log)
        xtl_log(d->log, XTL_ERROR, -1, "migrate-receive", "%s%s", message,
                d->go ? "" : " (the guest was not resumed here)");
    mig_error_set(rc, "%s", message);
}

int mig_migrate_receive(const struct mig_destination_ops *ops, void *backend,
                        int control_in, int control_out,
                        const struct mig_migrate_options *opts,
                        struct xentoollog_logger *log,
                        struct mig_migrate_result *result)
{
    struct destination d = { .ops = ops, .be = backend, .opts = opts, .log = log,
                             .result = result };
    double start = mig_clock_seconds();
    int rc;

    memset(result, 0, sizeof(*result));
    result->predicted_downtime_ms = -1;
    if (!opts || opts->version < MIG_MIGRATE_OPTIONS_VERSION_MIN ||
        opts->version > MIG_MIGRATE_OPTIONS_VERSION)
        return mig_error_set(MIG_EINVAL, "migrate options version %u is not %u to %u: "
                             "initialise them with MIG_MIGRATE_OPTIONS_INIT",
                             opts ? opts->version : 0, MIG_MIGRATE_OPTIONS_VERSION_MIN,
                             MIG_MIGRATE_OPTIONS_VERSION);
    rc = control_init(&d.control, control_in, control_out, opts->timeout_ms);
    if (rc)
        return rc;
    d.control_up = true;
    mig_host_hide_begin();          /* a key and guest memory come */
    rc = receive_hello(&d);
    if (!rc)
        rc = prepare(&d);
    if (!rc)
        rc = receive_pages(&d, control_in);
    if (!rc && d.dry_run) {
        rc = end_dry_run(&d);
    } else if (!rc) {
        rc = restore(&d);
        if (!rc)
            rc = resume_on_go(&d);
    }
    if (rc && d.control_up)
        report_failure(&d, rc);
    result->total_seconds = mig_clock_seconds() - start;
    if (d.ctx_open && ops->close_streams)
        ops->close_streams(backend, d.ctx, d.max_streams);
    OPENSSL_cleanse(d.key, sizeof(d.key));
    mig_xfer_receiver_close(d.receiver);
    mig_xfer_listener_close(d.listener);
    free(d.ctx);
    free(d.scratch);
    free(d.received_epoch);
    free(d.page_hash);
    if (d.control_up)
        control_dispose(&d.control);
    mig_host_hide_end();
    return rc;
}
