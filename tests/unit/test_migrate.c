/*
 * test_migrate.c: source and destination of a migration (libmig/migrate)
 * in one process, over a real control pipe and real loopback streams, on
 * the memory test double.  The guest is dirtied between rounds through the
 * progress callback, so each run is deterministic.  Asserts the
 * destination's memory equals the source's at pause, and that every
 * failure leaves the guest running at the source exactly once.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mem_backend.h"
#include "mig_migrate.h"
#include "mig_xfer.h"

#define PFNS 4096      /* 16 MiB */

struct dest_side {
    struct mem_backend be;
    struct mig_migrate_options opts;
    struct mig_migrate_result result;
    int in, out, rc;
    char message[1024];
};

static void *dest_main(void *arg)
{
    struct dest_side *d = arg;

    d->rc = mig_migrate_receive(&mem_backend_ops, &d->be, d->in, d->out, &d->opts,
                                NULL, &d->result);
    if (d->rc)
        snprintf(d->message, sizeof(d->message), "%s", mig_error_last());
    close(d->out);
    return NULL;
}

struct dirtier {
    unsigned int pages_per_round;
    unsigned int rounds_seen;
    int cancel_at_round;        /* -1: never */
    bool rewrite_same;          /* write the byte already there */
    bool steady;                /* the same number of pages every round */
    bool miss_one;              /* a write dirty tracking does not see */
    bool retype;                /* round 0: pages change type, not content */
};

/* The guest's writes during a round (called at each harvest). */
static void guest_writes(struct mem_backend *m, void *arg)
{
    struct dirtier *w = arg;

    for (unsigned int i = 0; i < w->pages_per_round; i++) {
        uint64_t pfn = (w->rounds_seen * 977 + i * 13) % PFNS;
        uint8_t value = w->rewrite_same ? m->memory[pfn * 4096 + pfn % 4096]
                                        : (uint8_t)(w->rounds_seen + i + 1);

        mem_backend_write(m, pfn, value);
    }
    if (w->retype && w->rounds_seen == 0)
        for (uint64_t pfn = 0; pfn < 50; pfn++)   /* zero pages among them */
            mem_backend_set_type(m, pfn, (unsigned int)(pfn % 4) + 1);
    if (w->miss_one && w->rounds_seen == 0)
        m->memory[99 * 4096 + 5] ^= 0xff;      /* not marked dirty */
    /* Pages dirtied each round shrink, so the policy converges. */
    if (!w->steady)
        w->pages_per_round /= 2;
    w->rounds_seen++;
}

static int cancel_hook(const struct mig_progress *p, void *payload)
{
    struct dirtier *w = payload;

    return p->phase == MIG_PHASE_PRECOPY && (int)p->round == w->cancel_at_round;
}

struct run {
    struct mem_backend src;
    struct dest_side dst;
    struct mig_migrate_options opts;
    struct mig_migrate_result result;
    struct dirtier w;
    int rc;
    char message[1024];
};

static void migrate(struct run *r, unsigned int streams)
{
    int to_dest[2], to_src[2];
    pthread_t t;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, to_dest), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, to_src), 0);
    r->dst.in = to_dest[1];
    r->dst.out = to_src[0];
    ck_assert_int_eq(pthread_create(&t, NULL, dest_main, &r->dst), 0);
    r->opts.streams = streams;
    r->opts.progress = cancel_hook;
    r->opts.progress_payload = &r->w;
    r->src.guest_writes = guest_writes;
    r->src.guest_writes_arg = &r->w;
    r->rc = mig_migrate_send(&mem_backend_ops, &r->src, to_src[1], to_dest[0],
                             &r->opts, NULL, &r->result);
    if (r->rc)
        snprintf(r->message, sizeof(r->message), "%s", mig_error_last());
    close(to_dest[0]);
    pthread_join(t, NULL);
    close(to_dest[1]);
    close(to_src[1]);
}

static void setup(struct run *r, unsigned int dirty_pages)
{
    memset(r, 0, sizeof(*r));
    mem_backend_init(&r->src, PFNS, true);
    mem_backend_init(&r->dst.be, 0, false);
    r->opts = (struct mig_migrate_options)MIG_MIGRATE_OPTIONS_INIT;
    r->opts.timeout_ms = 10000;
    r->dst.opts = r->opts;
    r->w.pages_per_round = dirty_pages;
    r->w.cancel_at_round = -1;
}

static void teardown(struct run *r)
{
    mem_backend_dispose(&r->src);
    mem_backend_dispose(&r->dst.be);
}

/* The guest runs exactly once: at the source, never resumed elsewhere. */
static void assert_running_at_source(struct run *r)
{
    ck_assert(!r->src.paused);
    ck_assert(!r->src.released);
    ck_assert(!r->src.logging);
    ck_assert_uint_eq(r->dst.be.resumes, 0);
}

static void successful_migration(unsigned int streams)
{
    struct run r;

    setup(&r, 600);
    r.opts.policy.max_downtime_ms = 5000;     /* generous: test machines are slow */
    migrate(&r, streams);
    ck_assert_msg(r.rc == 0, "source: %s", r.message);
    ck_assert_msg(r.dst.rc == 0, "destination: %s", r.dst.message);
    ck_assert(r.result.succeeded && r.dst.result.succeeded);
    ck_assert(r.src.released);
    ck_assert(r.src.paused);                          /* never resumed here */
    ck_assert_uint_eq(r.dst.be.resumes, 1);
    ck_assert_uint_eq(r.dst.be.nr_pfns, PFNS);
    ck_assert_int_eq(memcmp(r.src.memory, r.dst.be.memory, (size_t)PFNS * 4096), 0);
    ck_assert_str_eq(r.dst.be.state, r.src.state);
    ck_assert_uint_eq(r.result.memory_hash, r.dst.result.memory_hash);
    ck_assert(r.result.memory_verified);
    ck_assert_uint_ge(r.result.rounds, 1);
    /* Every 5th page is zero: the first round skipped their data. */
    ck_assert_uint_ge(r.result.zero_pages, PFNS / 5);
    ck_assert_uint_ge(r.result.pages_sent, PFNS);
    ck_assert_uint_eq(r.result.pages_sent, r.dst.result.pages_sent);
    teardown(&r);
}

START_TEST(test_prefetch_announces_what_is_read)
{
    struct run r;

    setup(&r, 600);
    r.opts.policy.max_downtime_ms = 5000;
    migrate(&r, 3);
    ck_assert_msg(r.rc == 0, "source: %s", r.message);
    ck_assert_int_eq(memcmp(r.src.memory, r.dst.be.memory, (size_t)PFNS * 4096), 0);
    /* Every page read was announced first, in ascending order per batch. */
    ck_assert_uint_ge(r.src.prefetched, PFNS);
    ck_assert_uint_eq(r.src.prefetch_disorder, 0);
    teardown(&r);
}
END_TEST

START_TEST(test_memory_digest_sees_moves_and_changes)
{
    uint64_t a[64] = { 0 }, b[64];

    for (int i = 0; i < 64; i += 3)
        a[i] = 0x1234567890abcdefULL * (uint64_t)(i + 1);
    memcpy(b, a, sizeof(a));
    ck_assert_uint_eq(mig_memory_digest(a, 64), mig_memory_digest(b, 64));
    b[3] ^= 1;                                  /* one page differs */
    ck_assert_uint_ne(mig_memory_digest(a, 64), mig_memory_digest(b, 64));
    memcpy(b, a, sizeof(a));
    b[4] = b[3];                                /* a page at the wrong pfn */
    b[3] = 0;
    ck_assert_uint_ne(mig_memory_digest(a, 64), mig_memory_digest(b, 64));
    memcpy(b, a, sizeof(a));
    b[5] = 42;                                  /* an extra page */
    ck_assert_uint_ne(mig_memory_digest(a, 64), mig_memory_digest(b, 64));
    /* The same pages in a larger guest are another guest. */
    ck_assert_uint_ne(mig_memory_digest(a, 64), mig_memory_digest(a, 63));
}
END_TEST

/* Kept page by page, the digest is the one-pass digest, at every step. */
START_TEST(test_memory_digest_kept_up_to_date)
{
    uint64_t keys[300] = { 0 }, sum = 0;

    for (unsigned int step = 0; step < 2000; step++) {
        uint64_t pfn = (step * 7919u) % 300;
        uint64_t key = step % 9 ? mig_page_key(0x5bd1e995u * (uint64_t)(step + 1), step % 5)
                                : 0;            /* some pages leave again */

        sum += mig_memory_digest_term(pfn, key) - mig_memory_digest_term(pfn, keys[pfn]);
        keys[pfn] = key;
        if (step % 97 == 0)
            ck_assert_uint_eq(mig_memory_digest_finish(sum, 300),
                              mig_memory_digest(keys, 300));
    }
    ck_assert_uint_eq(mig_memory_digest_finish(sum, 300), mig_memory_digest(keys, 300));
    ck_assert_uint_eq(mig_memory_digest_term(5, 0), 0);
}
END_TEST

START_TEST(test_migrate_one_stream)
{
    successful_migration(1);
}
END_TEST

START_TEST(test_migrate_three_streams)
{
    successful_migration(3);
}
END_TEST

START_TEST(test_unchanged_pages_not_resent)
{
    struct run r;

    setup(&r, 256);
    /* Dirty pages without changing them: the same byte written again. */
    r.w.rewrite_same = true;
    r.opts.policy.max_downtime_ms = 5000;
    migrate(&r, 2);
    ck_assert_msg(r.rc == 0, "source: %s", r.message);
    /* 256 pages dirtied in round 0 (some zero pages among them), none changed. */
    ck_assert_uint_ge(r.result.unchanged_pages, 256);
    ck_assert_uint_eq(r.result.pages_sent, PFNS);
    ck_assert_int_eq(memcmp(r.src.memory, r.dst.be.memory, (size_t)PFNS * 4096), 0);
    teardown(&r);
}
END_TEST

START_TEST(test_page_types_arrive)
{
    struct run r;

    setup(&r, 0);
    for (uint64_t pfn = 0; pfn < PFNS; pfn += 7)
        r.src.types[pfn] = (uint8_t)(pfn % 16);   /* every type, zero pages too */
    r.w.retype = true;                             /* then a change of type only */
    r.opts.policy.max_downtime_ms = 5000;
    migrate(&r, 3);
    ck_assert_msg(r.rc == 0, "source: %s", r.message);
    ck_assert_msg(r.dst.rc == 0, "destination: %s", r.dst.message);
    ck_assert_int_eq(r.src.types[49], 2);
    ck_assert_int_eq(memcmp(r.src.types, r.dst.be.types, PFNS), 0);
    ck_assert_int_eq(memcmp(r.src.memory, r.dst.be.memory, (size_t)PFNS * 4096), 0);
    teardown(&r);
}
END_TEST

START_TEST(test_destination_refuses)
{
    struct run r;

    setup(&r, 100);
    r.dst.be.fail_prepare = MIG_ENOMEM;
    migrate(&r, 2);
    ck_assert_int_eq(r.rc, MIG_ECOMPAT);
    ck_assert_ptr_nonnull(strstr(r.message, "destination has no room for 4096 pages"));
    ck_assert_int_eq(r.dst.rc, MIG_ENOMEM);
    assert_running_at_source(&r);
    ck_assert_uint_eq(r.src.pauses, 0);
    teardown(&r);
}
END_TEST

START_TEST(test_policy_gives_up)
{
    struct run r;

    setup(&r, 4000);
    r.w.steady = true;
    r.opts.policy.max_downtime_ms = 1;               /* below the overhead */
    r.opts.policy.max_rounds = 2;
    r.opts.policy.on_no_convergence = MIG_PRECOPY_ABORT;
    migrate(&r, 2);
    ck_assert_int_eq(r.rc, MIG_ECANCELLED);
    ck_assert_ptr_nonnull(strstr(r.message, "given up after 2 rounds"));
    ck_assert_int_ne(r.dst.rc, 0);
    assert_running_at_source(&r);
    teardown(&r);
}
END_TEST

START_TEST(test_cancel_from_progress)
{
    struct run r;

    setup(&r, 100);
    r.w.cancel_at_round = 0;
    migrate(&r, 1);
    ck_assert_int_eq(r.rc, MIG_ECANCELLED);
    ck_assert_ptr_nonnull(strstr(r.message, "cancelled by the caller"));
    assert_running_at_source(&r);
    teardown(&r);
}
END_TEST

START_TEST(test_memory_mismatch_not_resumed)
{
    struct run r;

    setup(&r, 100);
    r.opts.policy.max_downtime_ms = 5000;
    r.dst.be.corrupt_writes = true;         /* the destination's copy differs */
    migrate(&r, 2);
    ck_assert_int_eq(r.rc, MIG_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(r.message, "destination memory differs"));
    ck_assert_int_eq(r.dst.rc, MIG_ECANCELLED);
    /* Paused for the switchover, then resumed at the source. */
    ck_assert_uint_eq(r.src.pauses, 1);
    ck_assert_uint_eq(r.src.resumes, 1);
    assert_running_at_source(&r);
    teardown(&r);
}
END_TEST

START_TEST(test_missed_write_found_after_switchover)
{
    struct run r;

    setup(&r, 100);
    r.opts.policy.max_downtime_ms = 5000;
    r.w.miss_one = true;
    migrate(&r, 2);
    /* The guest runs at the destination; the late check reports the miss. */
    ck_assert_int_eq(r.rc, MIG_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(r.message, "dirty tracking missed a write"));
    ck_assert(r.result.succeeded);
    ck_assert(!r.result.memory_verified);
    ck_assert_int_eq(r.dst.rc, 0);
    ck_assert_uint_eq(r.dst.be.resumes, 1);
    ck_assert(r.src.released);
    ck_assert_uint_eq(r.src.resumes, 0);        /* never two running copies */
    teardown(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("migrate");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_memory_digest_sees_moves_and_changes);
    tcase_add_test(tc, test_memory_digest_kept_up_to_date);
    tcase_add_test(tc, test_prefetch_announces_what_is_read);
    tcase_add_test(tc, test_migrate_one_stream);
    tcase_add_test(tc, test_migrate_three_streams);
    tcase_add_test(tc, test_unchanged_pages_not_resent);
    tcase_add_test(tc, test_page_types_arrive);
    tcase_add_test(tc, test_destination_refuses);
    tcase_add_test(tc, test_policy_gives_up);
    tcase_add_test(tc, test_cancel_from_progress);
    tcase_add_test(tc, test_memory_mismatch_not_resumed);
    tcase_add_test(tc, test_missed_write_found_after_switchover);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
