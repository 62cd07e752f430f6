/*
 * mig_migrate.h: one live migration, source and destination side.
 *
 * The source drives a backend (mig_backend.h) through pre-copy rounds
 * chosen by the convergence policy (mig_precopy.h), moving pages over N
 * data streams (mig_xfer.h), then pauses the guest, sends the rest and the
 * device state, and only releases its copy once the destination has
 * verified everything and resumed the guest.  Any failure before the
 * destination is cleared to resume leaves the guest running at the
 * source: never two running copies, never none.
 *
 * Control channel (the fds given, e.g. a pipe to `xl-ext migrate-receive`
 * or ssh's stdin/stdout, as xl migrate uses): one JSON object per line,
 * with a "msg" member, and byte blocks announced by a line before them.
 * Protocol version MIG_MIGRATE_PROTOCOL_VERSION; the one specification is
 * docs/formats.md, "Control channel".  In short: the source's "hello"
 * (version, id, sizes, streams, tracing, key and the ciphers offered,
 * acks, backend, prologue, dry_run), the destination's "ready" with the
 * data port and the cipher it chose (or "refuse"), the pages on
 * the data streams (mig_xfer.h) with an "applied" after every epoch,
 * "state" (device state and final dirty set), "switchover", the
 * destination's "received" with its memory digest, "go" (or "abort"), and
 * "resumed" (or "failed", with "source_resumes" when the destination's copy
 * is gone).
 *
 * This file's functions must never exit the process or leave the guest
 * paused on an error path.  Callers ignore SIGPIPE (a peer that hung up is
 * then an error, not the end of the process), as xl-ext does.
 */
#ifndef XENMIG_MIG_MIGRATE_H
#define XENMIG_MIG_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "mig_backend.h"
#include "mig_error.h"
#include "mig_precopy.h"

struct xentoollog_logger;

enum mig_phase {
    MIG_PHASE_CONNECT = 0,
    MIG_PHASE_PRECOPY = 1,
    MIG_PHASE_SWITCHOVER = 2,
    MIG_PHASE_DONE = 3,
    MIG_PHASE_LADDER = 4,   /* a step of the convergence ladder (ladder_*), taken
                               before round 0 or after a round; round is the
                               round it applies from */
    MIG_PHASE_PREDICT = 5,  /* options version 5, dry_run or predict: the probe
                               ended before round 0; probe and prediction say
                               what it measured and predicts */
};

/* Progress of the source, passed to the progress callback. */
struct mig_progress {
    enum mig_phase phase;
    unsigned int round;             /* pre-copy round just finished */
    uint64_t pages_sent;            /* so far, all rounds */
    uint64_t pages_remaining;       /* dirty now */
    uint64_t bytes_sent;
    double dirty_rate;              /* pages/s */
    double link_rate;               /* bytes/s */
    double expected_downtime_ms;    /* the policy's whole estimate: pages and
                                       the fixed overhead (policy.overhead_ms);
                                       -1: unknown, no link sample used yet */
    double elapsed;                 /* seconds since start */
    const char *decision;           /* the policy's reason, valid during the call */
    /* the convergence ladder (mig_precopy.h), after a pre-copy round */
    enum mig_ladder_step ladder_step;   /* the step taken for the next round,
                                           MIG_LADDER_STEP_NONE: none */
    const char *ladder_reason;      /* why, static text; NULL with no step */
    bool compress;                  /* the next round is compressed */
    unsigned int streams;           /* data streams of the next round */
    unsigned int throttle_percent;  /* the guest's CPU share; 100: not throttled */
    double cpu_idle;                /* share of the CPUs idle over the round, the
                                       busier end's; -1: unknown */
    /* MIG_PHASE_PREDICT only (else NULL): borrowed for the call */
    const struct mig_precopy_probe *probe;
    const struct mig_precopy_prediction *prediction;
    /* options version 8, progress_interval_ms: how far the pre-copy round
     * under way (in_round) or just finished (MIG_PHASE_PRECOPY) got.  0 in
     * every other report, and in all of them before version 8. */
    bool in_round;                  /* a report from within a round: round is
                                       the round under way, the policy's figures
                                       (rates, remaining, decision) are still
                                       the last round's */
    uint64_t round_pages;           /* pages the round sends (dirty at its start) */
    uint64_t round_done;            /* of those, read so far (all at its end) */
    bool round_sent;                /* in_round: all of them were read; the round
                                       waits for the data streams and the
                                       destination to apply them ("applied") */
    double round_elapsed;           /* seconds since the round began sending (at
                                       its end: how long sending took) */
};

/*
 * Called after each round and at each phase change, on the engine's
 * thread.  With options version 8 and progress_interval_ms > 0, also
 * every progress_interval_ms ms within each pre-copy round (in_round),
 * from a thread of the engine's own while the engine's thread waits for
 * the round: never two calls at once.  Return 0 to go on; non-zero
 * cancels the migration (MIG_ECANCELLED; the guest resumes at the source;
 * within a round, at the next page read, and no more in-round calls).
 */
typedef int (*mig_progress_fn)(const struct mig_progress *progress, void *payload);

/* Versioned options: initialise with MIG_MIGRATE_OPTIONS_INIT. */
struct mig_migrate_options {
    unsigned int version;               /* MIG_MIGRATE_OPTIONS_VERSION */
    unsigned int streams;               /* data connections, 1..64 */
    enum mig_trace_mode tracing;
    struct mig_precopy_options policy;
    uint64_t max_rate_per_stream;       /* bytes/s per stream, 0 = none; read only
                                           when max_rate is 0 (version 1's meaning) */
    int timeout_ms;                     /* control and data stall limit */
    bool verify_memory;                 /* compare full-memory hashes at the end */
    const char *data_host;              /* where the destination listens */
    mig_progress_fn progress;           /* may be NULL */
    void *progress_payload;
    unsigned int inject_fault;          /* tests: MIG_XFER_FAULT_* on the source,
                                           or MIG_MIGRATE_FAULT_* */
    bool encrypt;                       /* sealed data streams (default; the
                                           cipher: version 6's cipher); false
                                           only when asked for */
    /* version 2 */
    uint64_t max_rate;                  /* bytes/s over all streams, 0 = none; the
                                           engine gives each stream max_rate / streams */
    /* version 3 */
    int cancel_fd;                      /* source: once readable (a signal handler's
                                           pipe), cancel before "go" within a page
                                           (MIG_ECANCELLED; the guest resumes at the
                                           source); ignored after it.  -1: none */
    /* version 4 */
    unsigned int reconnects;            /* source: tries a data stream whose
                                           connection was cut or reset has to come
                                           back, per epoch (mig_xfer.h,
                                           max_reconnects); 0: a lost stream fails
                                           the migration */
    /* version 5: the prediction (docs/architecture.md, "Prediction") */
    bool dry_run;                       /* source: probe and predict after the
                                           handshake, then end: the guest runs on
                                           here untouched (log-dirty off, never
                                           throttled or paused), the destination
                                           keeps nothing; returns 0 with
                                           result->dry_run and ->predicted */
    bool predict;                       /* source: probe and predict before round 0,
                                           then migrate; the prediction is in the
                                           result */
    /* version 6: the data streams' cipher (docs/formats.md, "hello", "ready") */
    unsigned int cipher;                /* source, with encrypt: MIG_MIGRATE_CIPHER_AUTO
                                           (the default, and before version 6):
                                           offer AES-256-GCM first when this
                                           host has AES-NI, else
                                           ChaCha20-Poly1305 first; or a
                                           MIG_XFER_CIPHER_* offered first (with
                                           AES-256-GCM after it, which an older
                                           destination runs).  The destination
                                           chooses; result->cipher says what ran */
    /* version 7 */
    bool resumes_here;                  /* source: a live checkpoint (xl-ext save -c):
                                           after success the backend's release
                                           resumes the guest here, so the check of
                                           its paused memory must not hold it
                                           paused: one not finished by "go" is
                                           dropped (result->verify_dropped), not
                                           waited for */
    /* version 8 */
    unsigned int progress_interval_ms;  /* source: also call progress within each
                                           pre-copy round (in_round), this often,
                                           from a thread of the engine's; 0 (the
                                           default, and before version 8): after
                                           each round only */
};
#define MIG_MIGRATE_CIPHER_AUTO 0xffu
#define MIG_MIGRATE_FAULT_VERSION 100   /* announce protocol version 99 */
#define MIG_MIGRATE_FAULT_DIGEST  101   /* take the destination's digest as wrong */
#define MIG_MIGRATE_FAULT_CPU_UNKNOWN 102 /* the ladder sees the CPUs' idle share as
                                           unknown (headroom), whatever the load */
#define MIG_MIGRATE_FAULT_NO_AES 103   /* either end: act as if this CPU lacked
                                           AES-NI (the cipher negotiation) */
#define MIG_MIGRATE_FAULT_OLD_READY 104 /* destination: answer "ready" without
                                           "cipher" and seal with AES-256-GCM, as a
                                           destination from before the negotiation */
#define MIG_MIGRATE_OPTIONS_VERSION 8
/* The oldest version still accepted: version 1 has no max_rate, 2 no cancel_fd,
 * 3 no reconnects (a lost stream fails the migration), 4 no dry_run or predict,
 * 5 no cipher (the automatic choice), 6 no resumes_here, 7 no
 * progress_interval_ms (progress after each round only). */
#define MIG_MIGRATE_OPTIONS_VERSION_MIN 1

/* The control protocol's version, in "hello" (docs/formats.md). */
#define MIG_MIGRATE_PROTOCOL_VERSION 1
#define MIG_MIGRATE_OPTIONS_INIT \
    { MIG_MIGRATE_OPTIONS_VERSION, 2, MIG_TRACE_LOOSE, MIG_PRECOPY_OPTIONS_INIT, \
      0, 30000, true, "127.0.0.1", NULL, NULL, 0, true, 0, -1, 3, false, false, \
      MIG_MIGRATE_CIPHER_AUTO, false, 0 }

/* Outcome of one migration (either side fills what it knows). */
struct mig_migrate_result {
    bool succeeded;
    bool forced;                   /* switched over above the downtime aimed at
                                      (the target, or above it when the fixed
                                      overhead alone misses it: mig_precopy.h) */
    bool gave_up;                  /* source: the policy gave up (MIG_ECANCELLED,
                                      MIG_PRECOPY_ABORT); the guest runs there */
    double total_seconds;
    double downtime_seconds;       /* source: pause until destination resumed */
    unsigned int rounds;           /* pre-copy rounds, final one excluded */
    uint64_t pages_sent;
    uint64_t bytes_sent;
    uint64_t zero_pages;
    uint64_t unchanged_pages;      /* skipped: unchanged since last sent */
    double harvest_pause_seconds;  /* guest fully paused for pre-copy harvests
                                      (the switchover's is in the downtime) */
    double vcpu_stall_seconds;     /* vCPU stall from harvests, summed */
    double vcpu_stall_max_seconds;
    uint64_t memory_hash;          /* memory digest: source: of its own memory at
                                      pause (or of what it sent, --no-verify);
                                      destination: of what it stored */
    bool memory_verified;          /* source memory at pause matched it */
    bool verified_before_go;       /* that check ended before the destination
                                      was cleared (a miss resumes the source);
                                      else it ended after its resume */
    bool verify_dropped;           /* source, resumes_here: that check had not
                                      ended by "go" and was dropped (the guest
                                      resumed here at once) */
    char reason[256];              /* the policy's last reason */
    /* Source: the policy's expected downtime when it decided to switch over
     * (pages left plus policy.overhead_ms), in ms; -1: it never did. */
    double predicted_downtime_ms;
    /*
     * Source: where the downtime went, in seconds: stopping the guest
     * (pause), the final harvest, the last epoch, reading the device state,
     * the destination taking over (state sent until "received"), and its
     * resume ("go" until "resumed").
     */
    struct {
        double pause, harvest, send, state, destination, resume;
    } downtime_parts;
    /* as agreed in the handshake (the destination learns them there);
     * streams: the data streams at the end, more than agreed when the
     * ladder widened */
    unsigned int streams;
    bool encrypted;
    enum mig_trace_mode tracing;
    /* the data streams' cipher as agreed ("aes-256-gcm",
     * "chacha20-poly1305"; static text), NULL when plain or not agreed yet */
    const char *cipher;
    /*
     * Source, on failure: the destination was told "go" and did not confirm
     * (it died or the link broke after the point of no return).  The guest
     * is left paused here; only the destination can say where it runs.
     */
    bool state_unknown;
    /* Source: lost data connections that came back (mig_xfer_sender_reconnects);
     * destination: the same, as it saw them. */
    uint64_t reconnects;
    /* Source: the convergence ladder's rungs climbed (MIG_LADDER_* bits),
     * the lowest CPU share the guest was throttled to (100: never) and the
     * most data streams that ran. */
    struct {
        unsigned int rungs;
        unsigned int min_throttle_percent;
        unsigned int max_streams;
    } ladder;
    /* A dry run (options version 5) that ended as asked: source: nothing was
     * migrated, the guest runs here; destination: the source's dry run ended
     * it, nothing was kept (succeeded stays false on both sides). */
    bool dry_run;
    /* Source, dry_run or predict: the probe's figures and the prediction
     * made from them before round 0 (mig_precopy_predict). */
    bool predicted;
    struct mig_precopy_probe probe;
    struct mig_precopy_prediction prediction;
};

/*
 * The memory digest both sides compare at switchover, over the array
 * page_hashes[0..nr_pfns-1] (each the mig_page_key (mig_xfer.h) of one
 * 4 KiB page's mig_page_hash and type; 0 = no page there, a hole or never
 * sent): the sum modulo 2^64 of a 64-bit mix
 * of (pfn, hash) over the non-zero entries, mixed once more with nr_pfns
 * (digest.c has the exact rule).  A digest of page hashes lets the
 * destination keep its part up to date as pages arrive, and one scalar
 * pass keeps it cheap inside the downtime.
 */
uint64_t mig_memory_digest(const uint64_t *page_hashes, uint64_t nr_pfns);

/*
 * The same digest kept up to date page by page: it is
 * mig_memory_digest_finish(sum, nr_pfns) where sum (mod 2^64) adds
 * mig_memory_digest_term(pfn, key) for every page (0 for key 0).  A page
 * whose key changes from old to new adds term(new) - term(old), so an end
 * can digest as pages come and go instead of in one pass at switchover.
 */
uint64_t mig_memory_digest_term(uint64_t pfn, uint64_t key);
uint64_t mig_memory_digest_finish(uint64_t sum, uint64_t nr_pfns);

/*
 * Migrate the guest behind (ops, backend) to the destination reached over
 * the control fds.  *result (caller-owned) is filled also on failure.
 * Returns 0 when the destination has resumed the guest (the source copy is
 * then released), else a MIG_E* code with the guest running at the source.
 */
int mig_migrate_send(const struct mig_source_ops *ops, void *backend,
                     int control_in, int control_out,
                     const struct mig_migrate_options *opts,
                     struct xentoollog_logger *log,
                     struct mig_migrate_result *result);

/*
 * Destination side: accept one migration from the control fds into
 * (ops, backend), listening for the data streams on opts->data_host.
 * Returns 0 once the guest runs here; on failure the guest was never
 * resumed here.  *result is filled.
 */
int mig_migrate_receive(const struct mig_destination_ops *ops, void *backend,
                        int control_in, int control_out,
                        const struct mig_migrate_options *opts,
                        struct xentoollog_logger *log,
                        struct mig_migrate_result *result);

#endif /* XENMIG_MIG_MIGRATE_H */
