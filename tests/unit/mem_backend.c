/* mem_backend.c: test double of a migration backend (see mem_backend.h). */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "mem_backend.h"
#include "mig_clock.h"
#include "mig_dirty.h"
#include "mig_migrate.h"
#include "mig_xfer.h"

static uint64_t mb_nr_pfns(void *b)
{
    return ((struct mem_backend *)b)->nr_pfns;
}

/*
 * One side's wait for the other's step (mem_backend.h): a condition
 * variable that every flag set here signals.  The engine's cancel flag is
 * set without it, so a wait that may be cancelled also looks at that flag
 * every CANCEL_LOOK_MS.
 */
#define CANCEL_LOOK_MS 10

static pthread_mutex_t side_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t side_cond;
static pthread_once_t side_once = PTHREAD_ONCE_INIT;

static void side_cond_init(void)
{
    if (mig_clock_cond_init(&side_cond))
        abort();
}

static bool earlier(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* The monotonic clock's now + ms (mig_clock.h). */
static struct timespec monotonic_in(long ms)
{
    struct timespec t;

    mig_clock_deadline(&t, ms);
    return t;
}

/* The other side's step, when the test orders them (mem_backend.h); false
 * when cancel (may be NULL) ended the wait first.  True also when the
 * bound ran out: *m->wait_for is then still false. */
static bool wait_for_other_side(struct mem_backend *m, const atomic_bool *cancel)
{
    struct timespec deadline, now, until;
    bool cancelled = false;

    if (!m->wait_for)
        return true;
    pthread_once(&side_once, side_cond_init);
    deadline = monotonic_in(MEM_BACKEND_WAIT_S * 1000L);
    pthread_mutex_lock(&side_lock);
    while (!*m->wait_for) {
        cancelled = cancel && atomic_load(cancel);
        now = monotonic_in(0);
        if (cancelled || !earlier(&now, &deadline))
            break;
        until = monotonic_in(CANCEL_LOOK_MS);
        if (!cancel || earlier(&deadline, &until))
            until = deadline;
        (void)pthread_cond_timedwait(&side_cond, &side_lock, &until);
    }
    pthread_mutex_unlock(&side_lock);
    return !cancelled;
}

static void signal_other_side(_Atomic bool *flag)
{
    if (!flag)
        return;
    pthread_once(&side_once, side_cond_init);
    pthread_mutex_lock(&side_lock);
    *flag = true;
    pthread_cond_broadcast(&side_cond);
    pthread_mutex_unlock(&side_lock);
}

static int mb_prepare(void *b, uint64_t nr_pfns)
{
    struct mem_backend *m = b;

    if (m->fail_prepare)
        return mig_error_set(m->fail_prepare, "destination has no room for %llu pages",
                             (unsigned long long)nr_pfns);
    m->nr_pfns = nr_pfns;
    m->memory = calloc(nr_pfns, 4096);
    m->types = calloc(nr_pfns, 1);
    return m->memory && m->types ? 0 : mig_error_set(MIG_ENOMEM, "no memory");
}

/*
 * A stream's context: its priv must be the tag open_streams gave it (a
 * call with another stream's context, or none, is an error the test sees).
 */
static int check_stream(struct mem_backend *m, const struct mig_stream_ctx *st)
{
    if (!m->stream_tags || st->index >= m->streams_open ||
        st->priv != &m->stream_tags[st->index])
        return mig_error_set(MIG_EINVAL, "called with stream context %u (priv %p), "
                             "which open_streams did not set up", st->index, st->priv);
    return 0;
}

/* A page read or written on stream st (stream_pages). */
static void count_page(struct mem_backend *m, const struct mig_stream_ctx *st)
{
    if (st->index < MEM_BACKEND_COUNTED_STREAMS)
        m->stream_pages[st->index]++;
}

static int mb_open_streams(void *b, struct mig_stream_ctx *streams, unsigned int n)
{
    struct mem_backend *m = b;

    if (m->stream_tags)
        return mig_error_set(MIG_EINVAL, "open_streams called twice");
    m->stream_tags = calloc(n, sizeof(*m->stream_tags));
    if (!m->stream_tags)
        return mig_error_set(MIG_ENOMEM, "no memory");
    for (unsigned int i = 0; i < n; i++) {
        if (streams[i].index != i || streams[i].priv)
            return mig_error_set(MIG_EINVAL, "stream context %u came as index %u",
                                 i, streams[i].index);
        streams[i].priv = &m->stream_tags[i];
    }
    m->streams_open = n;
    m->streams_opened++;
    return 0;
}

static void mb_close_streams(void *b, struct mig_stream_ctx *streams, unsigned int n)
{
    struct mem_backend *m = b;

    if (n == m->streams_open && streams[0].priv == m->stream_tags)
        m->streams_closed++;
    free(m->stream_tags);
    m->stream_tags = NULL;
}

static int mb_read_page(void *b, struct mig_stream_ctx *st, uint64_t pfn, void *buf,
                        unsigned int *type_out)
{
    struct mem_backend *m = b;
    int rc = check_stream(m, st);

    if (rc)
        return rc;

    memcpy(buf, m->memory + pfn * 4096, 4096);
    *type_out = m->types[pfn];
    m->pages_read++;
    count_page(m, st);
    return 0;
}

static int mb_write_page(void *b, struct mig_stream_ctx *st, uint64_t pfn, const void *data,
                         unsigned int type)
{
    struct mem_backend *m = b;
    int rc = check_stream(m, st);

    if (rc)
        return rc;

    if (data)
        memcpy(m->memory + pfn * 4096, data, 4096);
    else
        memset(m->memory + pfn * 4096, 0, 4096);
    m->types[pfn] = (uint8_t)type;
    count_page(m, st);
    if (m->corrupt_writes && pfn == 7)
        m->memory[pfn * 4096 + 9] ^= 0x40;      /* a faulty store */
    return 0;
}

static int mb_log_dirty_enable(void *b)
{
    struct mem_backend *m = b;

    if (m->fail_log_dirty)
        return mig_error_set(m->fail_log_dirty, "cannot track this guest's writes");
    m->logging = true;
    m->log_enables++;
    mig_dirty_bitmap_clear_all(m->tracked);
    return 0;
}

static int mb_log_dirty_disable(void *b)
{
    ((struct mem_backend *)b)->logging = false;
    return 0;
}

static int mb_harvest(void *b, enum mig_trace_mode mode, struct mig_dirty_bitmap *dst,
                      struct mig_harvest_stats *st)
{
    struct mem_backend *m = b;
    uint64_t n = 0;
    int rc;

    if (m->guest_writes && !m->paused)
        m->guest_writes(m, m->guest_writes_arg);
    rc = mig_dirty_bitmap_harvest(m->tracked, dst, &n);

    m->harvests++;
    st->pages = n;
    return rc;
}

static int mb_pause(void *b)
{
    struct mem_backend *m = b;

    m->paused = true;
    m->pauses++;
    return 0;
}

int mem_backend_throttle(void *b, unsigned int percent)
{
    struct mem_backend *m = b;

    if (!percent || percent > 100)
        return mig_error_set(MIG_EINVAL, "throttle to %u%%", percent);
    m->throttle_percent = percent;
    if (percent < m->throttle_min)
        m->throttle_min = percent;
    m->throttle_calls++;
    return 0;
}

static int mb_epoch_applied(void *b)
{
    struct mem_backend *m = b;

    if (atomic_load(&m->fail_next_epoch))
        return mig_error_set(MIG_EIO, "the destination died (test)");
    return 0;
}

static int mb_resume(void *b)
{
    struct mem_backend *m = b;

    if (m->throttle_percent < 100)
        m->resumed_throttled = true;
    m->paused = false;
    m->handed_over = false;
    m->resumes++;
    signal_other_side(m->resumed_flag);
    return 0;
}

static int mb_save_state(void *b, void **state, size_t *len)
{
    struct mem_backend *m = b;

    *state = malloc(sizeof(m->state));
    if (!*state)
        return mig_error_set(MIG_ENOMEM, "no memory");
    memcpy(*state, m->state, sizeof(m->state));
    *len = sizeof(m->state);
    return 0;
}

static int mb_restore_state(void *b, const void *state, size_t len)
{
    struct mem_backend *m = b;

    if (len != sizeof(m->state))
        return mig_error_set(MIG_EFORMAT, "state of %zu bytes", len);
    if (m->wait_for) {
        (void)wait_for_other_side(m, NULL);
        m->waited_in_vain = !*m->wait_for;
    }
    memcpy(m->state, state, len);
    return 0;
}

/*
 * hashed_flag is set once every pfn was hashed by a thread that has ended
 * since: the engine's hash thread counts its part as done only after
 * memory_hash returned, so the flag must wait for the thread's end (a
 * thread-specific value's destructor), not for the hash.
 */
struct hash_part {
    struct mem_backend *m;
    uint64_t pages;
};

static pthread_key_t hash_part_key;
static pthread_once_t hash_part_once = PTHREAD_ONCE_INIT;

static void hash_thread_ended(void *arg)
{
    struct hash_part *part = arg;
    struct mem_backend *m = part->m;

    if (atomic_fetch_add(&m->ended_hash_pages, part->pages) + part->pages == m->nr_pfns)
        signal_other_side(m->hashed_flag);
    free(part);
}

static void hash_part_key_create(void)
{
    if (pthread_key_create(&hash_part_key, hash_thread_ended))
        abort();
}

/* This thread hashed count pages: they count for hashed_flag at its end. */
static int count_at_thread_end(struct mem_backend *m, uint64_t count)
{
    struct hash_part *part;

    pthread_once(&hash_part_once, hash_part_key_create);
    part = pthread_getspecific(hash_part_key);
    if (part) {
        part->pages += count;
        return 0;
    }
    part = malloc(sizeof(*part));
    if (!part)
        return mig_error_set(MIG_ENOMEM, "no memory");
    *part = (struct hash_part){ .m = m, .pages = count };
    if (pthread_setspecific(hash_part_key, part)) {
        free(part);
        return mig_error_set(MIG_ENOMEM, "no memory for a thread-specific value");
    }
    return 0;
}

static int mb_memory_hash(void *b, struct mig_stream_ctx *st, uint64_t first, uint64_t count,
                          const atomic_bool *cancel, uint64_t *sum)
{
    struct mem_backend *m = b;
    uint64_t total = 0;
    int rc = check_stream(m, st);

    if (rc)
        return rc;
    if (count > m->nr_pfns || first > m->nr_pfns - count)
        return mig_error_set(MIG_EINVAL, "pfns beyond the guest");
    if (!wait_for_other_side(m, cancel)) {
        m->hash_cancelled = true;
        return mig_error_set(MIG_ECANCELLED, "hash cancelled");
    }
    if (m->wait_for && !*m->wait_for)
        m->waited_in_vain = true;
    for (uint64_t p = first; p < first + count; p++)
        total += mig_memory_digest_term(p, mig_page_key(mig_page_hash(m->memory + p * 4096),
                                                         m->types[p]));
    *sum = total;
    m->hash_calls++;
    m->hashed_pages += count;
    /* The whole guest hashed, over however many threads: once they have
     * ended, the other side may go. */
    return m->hashed_flag ? count_at_thread_end(m, count) : 0;
}

static int mb_handover(void *b)
{
    struct mem_backend *m = b;

    m->handovers++;
    if (m->fail_handover)
        return mig_error_set(m->fail_handover, "cannot rename the guest away");
    m->handed_over = true;
    signal_other_side(m->handed_flag);
    return 0;
}

int mem_backend_resume_early(void *b)
{
    struct mem_backend *m = b;

    m->paused = false;
    m->logging_at_early_resume = m->logging;
    m->early_resumes++;
    signal_other_side(m->early_flag);
    return 0;
}

static int mb_release(void *b)
{
    ((struct mem_backend *)b)->released = true;
    return 0;
}

static int mb_prefetch(void *backend, struct mig_stream_ctx *st, const uint64_t *pfns,
                       size_t count)
{
    struct mem_backend *m = backend;
    int rc = check_stream(m, st);

    if (rc)
        return rc;
    for (size_t i = 0; i < count; i++) {
        if (i && pfns[i] <= pfns[i - 1])
            m->prefetch_disorder++;
        if (pfns[i] >= m->nr_pfns)
            return mig_error_set(MIG_EINVAL, "prefetch of pfn %llu beyond the guest",
                                 (unsigned long long)pfns[i]);
    }
    m->prefetched += count;
    return 0;
}

const struct mig_source_ops mem_source_ops = {
    .name = "mem",
    .nr_pfns = mb_nr_pfns,
    .open_streams = mb_open_streams,
    .close_streams = mb_close_streams,
    .log_dirty_enable = mb_log_dirty_enable,
    .log_dirty_disable = mb_log_dirty_disable,
    .harvest = mb_harvest,
    .prefetch = mb_prefetch,
    .read_page = mb_read_page,
    .pause = mb_pause,
    .resume = mb_resume,
    .save_state = mb_save_state,
    .handover = mb_handover,
    .memory_hash = mb_memory_hash,
    .release = mb_release,
};

/* The stored page in place (mig_destination_ops.stored_page). */
static const void *mb_stored_page(void *b, struct mig_stream_ctx *st, uint64_t pfn,
                                  unsigned int *type_out)
{
    struct mem_backend *m = b;

    *type_out = m->types[pfn];
    m->pages_in_place++;
    return m->memory + pfn * 4096;
}

const struct mig_destination_ops mem_destination_ops = {
    .name = "mem-destination",
    .prepare = mb_prepare,
    .epoch_applied = mb_epoch_applied,
    .open_streams = mb_open_streams,
    .close_streams = mb_close_streams,
    .write_page = mb_write_page,
    .read_page = mb_read_page,
    .restore_state = mb_restore_state,
    .resume = mb_resume,
};

const struct mig_destination_ops mem_destination_in_place_ops = {
    .name = "mem-destination",
    .prepare = mb_prepare,
    .epoch_applied = mb_epoch_applied,
    .open_streams = mb_open_streams,
    .close_streams = mb_close_streams,
    .write_page = mb_write_page,
    .read_page = mb_read_page,
    .restore_state = mb_restore_state,
    .resume = mb_resume,
    .stored_page = mb_stored_page,
};

void mem_backend_init(struct mem_backend *m, uint64_t nr_pfns, bool source)
{
    memset(m, 0, sizeof(*m));
    m->throttle_percent = m->throttle_min = 100;
    if (!source)
        return;
    m->nr_pfns = nr_pfns;
    m->memory = calloc(nr_pfns, 4096);
    m->types = calloc(nr_pfns, 1);
    for (uint64_t p = 0; p < nr_pfns; p++)
        if (p % 5)                       /* every 5th page stays zero */
            memset(m->memory + p * 4096, (int)(p * 7 + 1), 4096);
    mig_dirty_bitmap_create(nr_pfns, &m->tracked);
    strcpy(m->state, "vcpu0: rip=ffffffff81000000");
}

void mem_backend_dispose(struct mem_backend *m)
{
    free(m->memory);
    free(m->types);
    free(m->stream_tags);
    mig_dirty_bitmap_free(m->tracked);
}

void mem_backend_write(struct mem_backend *m, uint64_t pfn, uint8_t value)
{
    m->memory[pfn * 4096 + (pfn % 4096)] = value;
    if (m->logging)
        mig_dirty_bitmap_set_atomic(m->tracked, pfn);
}

void mem_backend_set_type(struct mem_backend *m, uint64_t pfn, unsigned int type)
{
    m->types[pfn] = (uint8_t)type;
    if (m->logging)
        mig_dirty_bitmap_set_atomic(m->tracked, pfn);
}
