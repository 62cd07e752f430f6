/*
 * test_savefile.c: the mapped save file (libmig/savefile).  A live save
 * of the memory test double through the engine into the mapped
 * destination, dirtied between rounds, replayed into another double: the
 * memory and page types arrive as they were, the file did not grow with
 * the rounds, and its digest is the engine's.  The destination driven by
 * hand: a page sent again overwrites its slot, zero pages take none, a
 * close without resume leaves the old file alone.  Every file cut short
 * or damaged (superblock, prologue, pages, tail, index, marker, version,
 * trailing bytes) is refused with the offset before the destination is
 * called once; a progress callback cancels in either phase; a file of
 * another family is refused; a destination that takes pages from the file
 * (write_file_pages) gets runs of consecutive slots, unread.  The sim's
 * sequential file replays too.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem_backend.h"
#include "mig_migrate.h"
#include "mig_savefile.h"
#include "mig_xen.h"
#include "mig_xfer.h"

#define PFNS 2048       /* 8 MiB */

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/test_savefile.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* DIR/NAME in one of 8 buffers used in turn (valid for the next 7 calls). */
static char *path_in_dir(const char *name)
{
    static char paths[8][128];
    static unsigned int next;
    char *path = paths[next++ % 8];

    snprintf(path, sizeof(paths[0]), "%s/%s", dir, name);
    return path;
}

static uint64_t file_size(const char *path)
{
    struct stat st;

    ck_assert_int_eq(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* How many entries the directory holds (the save's temporary files included). */
static int dir_entries(void)
{
    char cmd[160];
    FILE *p;
    int n = -1;

    snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

/* ---- a live save through the engine ---- */

struct save_run {
    struct mem_backend src;
    struct mig_mapped_dest *dest;
    struct mig_migrate_options opts;
    struct mig_migrate_result result, dest_result;
    int in, out, rc, dest_rc;
    unsigned int round;
    char message[1024], dest_message[1024];
};

static void *receive_main(void *arg)
{
    struct save_run *s = arg;

    s->dest_rc = mig_migrate_receive(mig_mapped_dest_ops(s->dest), s->dest, s->in, s->out,
                                     &s->opts, NULL, &s->dest_result);
    if (s->dest_rc)
        snprintf(s->dest_message, sizeof(s->dest_message), "%s", mig_error_last());
    close(s->out);
    return NULL;
}

/* Between rounds the guest rewrites 300 pages, some of them to zero. */
static void dirty_between_rounds(struct mem_backend *m, void *arg)
{
    struct save_run *s = arg;

    for (unsigned int i = 0; i < 300; i++) {
        uint64_t pfn = (s->round * 389 + i * 7) % PFNS;

        if (i % 50 == 0) {
            memset(m->memory + pfn * 4096, 0, 4096);
            mem_backend_write(m, pfn, 0);
        } else {
            mem_backend_write(m, pfn, (uint8_t)(s->round + i + 1));
        }
    }
    if (s->round == 0)
        for (uint64_t pfn = 0; pfn < PFNS; pfn += 11)
            mem_backend_set_type(m, pfn, (unsigned int)(pfn % 16));
    s->round++;
}

static void save_live(struct save_run *s, const char *path, unsigned int streams)
{
    struct mig_mapped_dest_options o = MIG_MAPPED_DEST_OPTIONS_INIT;
    int to_dest[2], to_src[2];
    pthread_t t;

    memset(s, 0, sizeof(*s));
    mem_backend_init(&s->src, PFNS, true);
    s->src.guest_writes = dirty_between_rounds;
    s->src.guest_writes_arg = s;
    o.path = path;
    o.family = "mem";
    ck_assert_int_eq(mig_mapped_dest_open(&o, &s->dest), 0);
    s->opts = (struct mig_migrate_options)MIG_MIGRATE_OPTIONS_INIT;
    s->opts.streams = streams;
    s->opts.timeout_ms = 60000;
    s->opts.policy.kind = MIG_PRECOPY_XEN_DEFAULT;     /* 5 rounds: dirtied each */
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, to_dest), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, to_src), 0);
    s->in = to_dest[1];
    s->out = to_src[0];
    ck_assert_int_eq(pthread_create(&t, NULL, receive_main, s), 0);
    s->rc = mig_migrate_send(&mem_source_ops, &s->src, to_src[1], to_dest[0], &s->opts,
                             NULL, &s->result);
    if (s->rc)
        snprintf(s->message, sizeof(s->message), "%s", mig_error_last());
    close(to_dest[0]);
    pthread_join(t, NULL);
    close(to_dest[1]);
    close(to_src[1]);
}

START_TEST(test_live_save_replays_whole)
{
    const char *path;
    struct mig_replay_result rr;
    struct mig_mapped_file *f;
    struct mig_mapped_info info;
    struct mem_backend dst;
    struct save_run s;
    uint64_t nonzero = 0;

    make_dir();
    path = path_in_dir("live.mapped");
    save_live(&s, path, 3);
    ck_assert_msg(s.rc == 0, "source: %s", s.message);
    ck_assert_msg(s.dest_rc == 0, "destination: %s", s.dest_message);
    ck_assert_uint_ge(s.result.rounds, 3);
    ck_assert_uint_gt(s.result.pages_sent, PFNS);            /* pages went again */
    ck_assert_uint_eq(mig_mapped_dest_digest(s.dest), s.dest_result.memory_hash);
    ck_assert_uint_eq(s.result.memory_hash, s.dest_result.memory_hash);
    mig_mapped_dest_close(s.dest);
    ck_assert_int_eq(dir_entries(), 1);                       /* no temporary left */
    ck_assert_int_eq(mig_mapped_file_open(path, &f), 0);
    mig_mapped_file_info(f, &info);
    for (uint64_t p = 0; p < PFNS; p++)
        nonzero += !mig_xfer_page_is_zero(s.src.memory + p * 4096);
    /* Every pfn has an entry; a slot only for a page that had data once,
     * however often it was sent: the file did not grow with the rounds. */
    ck_assert_str_eq(info.family, "mem");
    ck_assert_uint_eq(info.nr_entries, PFNS);
    ck_assert_uint_ge(info.nr_slots, nonzero);
    ck_assert_uint_le(info.nr_slots, nonzero + 64);           /* pages zeroed later */
    ck_assert_uint_le(file_size(path), (uint64_t)PFNS * 4096 * 105 / 100);
    ck_assert_uint_eq(info.memory_digest, s.result.memory_hash);
    mig_mapped_file_close(f);
    mem_backend_init(&dst, 0, false);
    ck_assert_int_eq(mig_mapped_replay(path, &mem_destination_ops, &dst, 2, NULL, &rr), 0);
    ck_assert_int_eq(memcmp(dst.memory, s.src.memory, (size_t)PFNS * 4096), 0);
    ck_assert_int_eq(memcmp(dst.types, s.src.types, PFNS), 0);
    ck_assert_str_eq(dst.state, s.src.state);
    ck_assert_uint_eq(dst.resumes, 1);
    ck_assert_uint_eq(dst.streams_opened, 1);
    ck_assert_uint_eq(dst.streams_open, 2);
    ck_assert_uint_eq(dst.streams_closed, 1);
    ck_assert_uint_eq(rr.pages, PFNS);
    ck_assert_uint_eq(rr.zero_pages, PFNS - nonzero);
    ck_assert_uint_eq(rr.memory_digest, s.result.memory_hash);
    mem_backend_dispose(&dst);
    mem_backend_dispose(&s.src);
    remove_dir();
}
END_TEST

/* ---- the destination by hand ---- */

static uint8_t page_a[4096], page_b[4096];
static struct mig_stream_ctx ctx0 = { 0, NULL };

static struct mig_mapped_dest *open_dest(const char *path, const char *family)
{
    struct mig_mapped_dest_options o = MIG_MAPPED_DEST_OPTIONS_INIT;
    struct mig_mapped_dest *d;

    o.path = path;
    o.family = family;
    ck_assert_int_eq(mig_mapped_dest_open(&o, &d), 0);
    return d;
}

/*
 * 16 pfns: 1 A then B (overwritten in place), 2 zero, 3 A then zero (its
 * slot stays behind), 4 zero then A, 5 type 3 A; the rest never written.
 */
static void write_small(struct mig_mapped_dest *d, const char *state)
{
    const struct mig_destination_ops *ops = mig_mapped_dest_ops(d);

    memset(page_a, 0xa5, sizeof(page_a));
    memset(page_b, 0x5b, sizeof(page_b));
    ck_assert_int_eq(ops->prepare(d, 16), 0);
    ck_assert_int_eq(ops->write_page(d, &ctx0, 1, page_a, 0), 0);
    ck_assert_int_eq(ops->write_page(d, &ctx0, 2, NULL, 0), 0);
    ck_assert_int_eq(ops->write_page(d, &ctx0, 3, page_a, 0), 0);
    ck_assert_int_eq(ops->write_page(d, &ctx0, 4, NULL, 0), 0);
    ck_assert_int_eq(ops->write_page(d, &ctx0, 1, page_b, 0), 0);
    ck_assert_int_eq(ops->write_page(d, &ctx0, 3, NULL, 0), 0);
    ck_assert_int_eq(ops->write_page(d, &ctx0, 4, page_a, 0), 0);
    ck_assert_int_eq(ops->write_page(d, &ctx0, 5, page_a, 3), 0);
    ck_assert_int_eq(ops->restore_state(d, state, strlen(state)), 0);
}

#define SIM_STATE "xenmig-sim-state v1 nr_pfns=16 vcpus=1\n"

/* A small file as write_small makes it, put in place; its path (static). */
static const char *save_small(const char *name, const char *state)
{
    char *path = path_in_dir(name);
    struct mig_mapped_dest *d = open_dest(path, "sim");

    write_small(d, state);
    ck_assert_int_eq(mig_mapped_dest_ops(d)->resume(d), 0);
    mig_mapped_dest_close(d);
    return path;
}

START_TEST(test_pages_overwrite_in_place)
{
    struct mig_mapped_dest *d;
    struct mig_mapped_file *f;
    struct mig_mapped_info info;
    struct mig_mapped_entry e[5];
    uint8_t back[4096];
    unsigned int type = 99;
    const char *path;

    make_dir();
    path = path_in_dir("small.mapped");
    d = open_dest(path, "sim");
    write_small(d, "state");
    /* What the engine's digest reads back is the latest copy. */
    ck_assert_int_eq(mig_mapped_dest_ops(d)->read_page(d, &ctx0, 1, back, &type), 0);
    ck_assert_int_eq(memcmp(back, page_b, 4096), 0);
    ck_assert_int_eq(mig_mapped_dest_ops(d)->read_page(d, &ctx0, 3, back, &type), 0);
    ck_assert_int_eq(memcmp(back, page_b, 4096) && !back[0] && !back[4095], 1);
    ck_assert_int_eq(mig_mapped_dest_ops(d)->read_page(d, &ctx0, 5, back, &type), 0);
    ck_assert_uint_eq(type, 3);
    ck_assert_int_eq(mig_mapped_dest_ops(d)->read_page(d, &ctx0, 9, back, &type), MIG_EINVAL);
    ck_assert_int_eq(mig_mapped_dest_ops(d)->resume(d), 0);
    mig_mapped_dest_close(d);
    ck_assert_msg(mig_mapped_file_open(path, &f) == 0, "%s", mig_error_last());
    mig_mapped_file_info(f, &info);
    ck_assert_uint_eq(info.nr_entries, 5);
    ck_assert_uint_eq(info.nr_zero, 2);
    ck_assert_uint_eq(info.nr_slots, 4);         /* pfns 1, 3, 4, 5: one slot each */
    ck_assert_uint_eq(info.pages.offset, 4096);
    ck_assert_uint_eq(file_size(path), 4096 + 4 * 4096 + 8 + 5 * 24);   /* "state": 5 + 3 */
    for (unsigned int i = 0; i < 5; i++)
        ck_assert_int_eq(mig_mapped_file_entry(f, i, &e[i]), 0);
    ck_assert_int_eq(mig_mapped_file_entry(f, 5, &e[0]), MIG_EINVAL);
    ck_assert(e[0].pfn == 1 && !e[0].zero && e[0].slot == 0 && e[0].hash == mig_page_hash(page_b));
    ck_assert(e[1].pfn == 2 && e[1].zero && e[1].slot == MIG_MAPPED_NO_SLOT);
    ck_assert(e[2].pfn == 3 && e[2].zero && e[2].slot == 1);    /* left behind */
    ck_assert(e[3].pfn == 4 && !e[3].zero && e[3].slot == 2);
    ck_assert(e[4].pfn == 5 && e[4].type == 3 && e[4].slot == 3);
    ck_assert_int_eq(mig_mapped_file_verify_pages(f, 3, NULL), 0);
    mig_mapped_file_close(f);
    remove_dir();
}
END_TEST

/* A page that says which pfn and which round it is. */
static void fill_page(uint8_t *page, uint64_t pfn, unsigned int round)
{
    for (size_t i = 0; i < 4096; i += 8) {
        uint64_t v = pfn * 1000 + round + i;

        memcpy(page + i, &v, sizeof(v));
    }
}

/*
 * Two streams with their own contexts, writing alternately as the engine's
 * threads would: stream 0 pfns 0..99 (every tenth all zero), stream 1
 * pfns 128..199, then a second epoch rewrites pfns 10..29 and 150..159.
 * Each stream's pfns get slots one after another (so its pages go out in
 * runs), a page read back while its run waits is the latest, and the file
 * has no unused slot: the blocks' unused ends were filled by the last
 * slots' pages, which still hash right.
 */
START_TEST(test_streams_write_runs)
{
    struct mig_stream_ctx ctx[2] = { { 0, NULL }, { 1, NULL } };
    struct mig_mapped_dest *d;
    const struct mig_destination_ops *ops;
    struct mig_mapped_file *f;
    struct mig_mapped_info info;
    struct mig_mapped_entry e, prev = { 0 };
    uint8_t page[4096], back[4096];
    unsigned int type, data_pages = 0;
    const char *path;

    make_dir();
    path = path_in_dir("runs.mapped");
    d = open_dest(path, "sim");
    ops = mig_mapped_dest_ops(d);
    ck_assert_int_eq(ops->prepare(d, 256), 0);
    ck_assert_int_eq(ops->open_streams(d, ctx, 2), 0);
    for (uint64_t i = 0; i < 100; i++) {
        fill_page(page, i, 0);
        ck_assert_int_eq(ops->write_page(d, &ctx[0], i, i % 10 == 9 ? NULL : page, 0), 0);
        data_pages += i % 10 != 9;
        if (i < 72) {
            fill_page(page, 128 + i, 0);
            ck_assert_int_eq(ops->write_page(d, &ctx[1], 128 + i, page, 0), 0);
            data_pages++;
        }
    }
    ck_assert_int_eq(ops->epoch_applied(d), 0);
    for (uint64_t i = 0; i < 20; i++) {
        fill_page(page, 10 + i, 1);
        ck_assert_int_eq(ops->write_page(d, &ctx[0], 10 + i, page, 0), 0);
        ck_assert_int_eq(ops->read_page(d, &ctx[0], 10 + i, back, &type), 0);
        ck_assert_int_eq(memcmp(back, page, 4096), 0);
        if (i < 10) {
            fill_page(page, 150 + i, 1);
            ck_assert_int_eq(ops->write_page(d, &ctx[1], 150 + i, page, 0), 0);
        }
    }
    data_pages += 2;        /* pfns 19 and 29: zero, then data: a slot now */
    ops->close_streams(d, ctx, 2);
    ck_assert_ptr_null(ctx[0].priv);
    ck_assert_int_eq(ops->restore_state(d, SIM_STATE, strlen(SIM_STATE)), 0);
    ck_assert_int_eq(ops->resume(d), 0);
    mig_mapped_dest_close(d);

    ck_assert_msg(mig_mapped_file_open(path, &f) == 0, "%s", mig_error_last());
    mig_mapped_file_info(f, &info);
    ck_assert_uint_eq(info.nr_slots, data_pages);           /* dense: no unused slot */
    for (uint64_t i = 0; i < info.nr_entries; i++) {
        ck_assert_int_eq(mig_mapped_file_entry(f, i, &e), 0);
        fill_page(page, e.pfn, (e.pfn >= 10 && e.pfn < 30) || (e.pfn >= 150 && e.pfn < 160));
        ck_assert_uint_eq(e.hash, e.zero ? mig_page_hash(memset(back, 0, 4096))
                                         : mig_page_hash(page));
        /* in the streams' first blocks (slots 0..127), a stream's next
         * page with data took the next slot */
        if (i && !e.zero && !prev.zero && e.pfn == prev.pfn + 1 &&
            e.slot < 128 && prev.slot < 128)
            ck_assert_uint_eq(e.slot, prev.slot + 1);
        prev = e;
    }
    ck_assert_int_eq(mig_mapped_file_verify_pages(f, 2, NULL), 0);
    mig_mapped_file_close(f);
    remove_dir();
}
END_TEST

START_TEST(test_close_without_resume_keeps_the_old_file)
{
    const char *path;
    struct mig_mapped_dest *d;
    FILE *old;
    char text[32] = "";

    make_dir();
    path = path_in_dir("kept");
    old = fopen(path, "w");
    fputs("an older save", old);
    fclose(old);
    d = open_dest(path, "sim");
    ck_assert_int_eq(dir_entries(), 2);                       /* its temporary file */
    write_small(d, "state");
    mig_mapped_dest_close(d);                                 /* no resume: the save failed */
    ck_assert_int_eq(dir_entries(), 1);
    old = fopen(path, "r");
    ck_assert_ptr_nonnull(fgets(text, sizeof(text), old));
    fclose(old);
    ck_assert_str_eq(text, "an older save");
    remove_dir();
}
END_TEST

/* ---- a destination that records what it is asked ---- */

struct recorder {
    unsigned int calls;             /* every call */
    unsigned int resumes;
    uint8_t memory[16 * 4096];
    unsigned int types[16];
    char state[64];
};

static int rec_prepare(void *b, uint64_t nr_pfns)
{
    ((struct recorder *)b)->calls++;
    return nr_pfns == 16 ? 0 : mig_error_set(MIG_EINVAL, "not 16 pfns");
}

static int rec_write(void *b, struct mig_stream_ctx *st, uint64_t pfn, const void *data,
                     unsigned int type)
{
    struct recorder *r = b;

    __atomic_fetch_add(&r->calls, 1, __ATOMIC_RELAXED);
    if (data)
        memcpy(r->memory + pfn * 4096, data, 4096);
    else
        memset(r->memory + pfn * 4096, 0, 4096);
    r->types[pfn] = type;
    return 0;
}

static int rec_state(void *b, const void *state, size_t len)
{
    struct recorder *r = b;

    r->calls++;
    snprintf(r->state, sizeof(r->state), "%.*s", (int)len, (const char *)state);
    return 0;
}

static int rec_resume(void *b)
{
    ((struct recorder *)b)->calls++;
    ((struct recorder *)b)->resumes++;
    return 0;
}

static const struct mig_destination_ops recorder_sim_ops = {
    .name = "sim-destination", .prepare = rec_prepare, .write_page = rec_write,
    .restore_state = rec_state, .resume = rec_resume,
};

START_TEST(test_replay_small)
{
    static struct recorder r;
    struct mig_replay_result rr;
    const char *path;

    make_dir();
    path = save_small("small.mapped", SIM_STATE);
    memset(&r, 0x77, sizeof(r));
    r.calls = r.resumes = 0;
    ck_assert_int_eq(mig_mapped_replay(path, &recorder_sim_ops, &r, 4, NULL, &rr), 0);
    ck_assert_uint_eq(r.resumes, 1);
    ck_assert_uint_eq(r.calls, 1 + 5 + 1 + 1);         /* prepare, pages, state, resume */
    ck_assert_int_eq(memcmp(r.memory + 1 * 4096, page_b, 4096), 0);
    ck_assert(!r.memory[2 * 4096] && !r.memory[3 * 4096 + 4095]);
    ck_assert_int_eq(memcmp(r.memory + 4 * 4096, page_a, 4096), 0);
    ck_assert_uint_eq(r.types[5], 3);
    ck_assert_uint_eq(r.memory[9 * 4096], 0x77);       /* never written: not replayed */
    ck_assert_str_eq(r.state, SIM_STATE);
    ck_assert_uint_eq(rr.pages, 5);
    ck_assert_uint_eq(rr.zero_pages, 2);
    /* a destination of another family is refused before any call */
    struct mig_destination_ops other = recorder_sim_ops;

    other.name = "xen-destination";
    r.calls = 0;
    ck_assert_int_eq(mig_mapped_replay(path, &other, &r, 1, NULL, &rr), MIG_ECOMPAT);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "holds a 'sim' guest, this destination "
                                 "takes 'xen' guests"));
    ck_assert_uint_eq(r.calls, 0);
    ck_assert_int_eq(mig_mapped_replay(path, &recorder_sim_ops, &r, 65, NULL, &rr),
                     MIG_EINVAL);
    remove_dir();
}
END_TEST

/* write_file_pages: each run read back from the file and stored page by page. */
static unsigned int file_runs, longest_run;

static int rec_write_file(void *b, struct mig_stream_ctx *st, int fd, uint64_t offset,
                          const uint64_t *pfns, const unsigned int *types, unsigned int n)
{
    uint8_t page[4096];

    __atomic_fetch_add(&file_runs, 1, __ATOMIC_RELAXED);
    if (n > longest_run)
        longest_run = n;
    for (unsigned int i = 0; i < n; i++) {
        ck_assert_int_eq(pread(fd, page, sizeof(page), (off_t)(offset + i * 4096ull)), 4096);
        rec_write(b, st, pfns[i], page, types[i]);
    }
    return 0;
}

/* A destination that takes pages from the file gets the runs of slots
 * with data unread (a slot left behind by a zero page ends a run) and the
 * zero pages by write_page: the same memory. */
START_TEST(test_replay_file_runs)
{
    static struct recorder r;
    struct mig_destination_ops ops = recorder_sim_ops;
    struct mig_replay_result rr;
    const char *path;

    ops.write_file_pages = rec_write_file;
    make_dir();
    path = save_small("small.mapped", SIM_STATE);
    memset(&r, 0x77, sizeof(r));
    r.calls = r.resumes = 0;
    file_runs = longest_run = 0;
    ck_assert_int_eq(mig_mapped_replay(path, &ops, &r, 1, NULL, &rr), 0);
    /* slots: pfn 1, pfn 3 (left behind), pfn 4, pfn 5: runs [1] and [4, 5] */
    ck_assert_uint_eq(file_runs, 2);
    ck_assert_uint_eq(longest_run, 2);
    ck_assert_uint_eq(r.calls, 1 + 5 + 1 + 1);
    ck_assert_int_eq(memcmp(r.memory + 1 * 4096, page_b, 4096), 0);
    ck_assert(!r.memory[2 * 4096] && !r.memory[3 * 4096 + 4095]);
    ck_assert_int_eq(memcmp(r.memory + 4 * 4096, page_a, 4096), 0);
    ck_assert_uint_eq(r.types[5], 3);
    ck_assert_uint_eq(r.memory[9 * 4096], 0x77);
    ck_assert_uint_eq(rr.pages, 5);
    remove_dir();
}
END_TEST

/* ---- damaged files ---- */

static void copy_file(const char *from, const char *to, off_t truncate_at)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
    ck_assert_int_eq(system(cmd), 0);
    if (truncate_at >= 0)
        ck_assert_int_eq(truncate(to, truncate_at), 0);
}

static void poke(const char *path, off_t offset, const void *bytes, size_t len)
{
    int fd = open(path, O_WRONLY);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, bytes, len, offset), (ssize_t)len);
    close(fd);
}

static void flip(const char *path, off_t offset)
{
    int fd = open(path, O_RDWR);
    uint8_t b;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &b, 1, offset), 1);
    b ^= 0x10;
    ck_assert_int_eq(pwrite(fd, &b, 1, offset), 1);
    close(fd);
}

/* The replay of path fails with code and a message holding want; nothing called. */
static void refused(const char *path, int code, const char *want)
{
    static struct recorder r;
    struct mig_replay_result rr;
    int rc;

    r.calls = 0;
    rc = mig_mapped_replay(path, &recorder_sim_ops, &r, 2, NULL, &rr);
    ck_assert_msg(rc == code, "rc %d (%s), wanted %d", rc, mig_error_last(), code);
    ck_assert_msg(strstr(mig_error_last(), want), "'%s' lacks '%s'", mig_error_last(), want);
    ck_assert_msg(strstr(mig_error_last(), path), "'%s' does not name the file",
                  mig_error_last());
    ck_assert_uint_eq(r.calls, 0);
}

START_TEST(test_cut_short_refused)
{
    const char *good, *cut = "/tmp/never";
    char cutbuf[128], want[128];
    /* "state" tail: superblock 4096, pages 4096 .. 20480, tail .. 20485,
     * index 20488 .. 20608 */
    static const struct { off_t at; const char *section; } cuts[] = {
        { 0, NULL }, { 100, NULL }, { 4095, NULL }, { 4096, "pages" }, { 12000, "pages" },
        { 20480, "tail" }, { 20484, "tail" }, { 20487, "index" }, { 20607, "index" },
    };

    make_dir();
    good = save_small("good.mapped", "state");
    ck_assert_uint_eq(file_size(good), 20608);
    snprintf(cutbuf, sizeof(cutbuf), "%s", path_in_dir("cut.mapped"));
    cut = cutbuf;
    for (unsigned int i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        copy_file(good, cut, cuts[i].at);
        if (cuts[i].section)
            snprintf(want, sizeof(want), "ends at offset %lld, the %s section",
                     (long long)cuts[i].at, cuts[i].section);
        else
            snprintf(want, sizeof(want), "ends at offset %lld in the superblock",
                     (long long)cuts[i].at);
        refused(cut, MIG_ETRUNC, want);
    }
    remove_dir();
}
END_TEST

START_TEST(test_damage_refused)
{
    const char *good;
    char bad[128];
    uint8_t zero8[8] = { 0 }, two = 2, one = 1;

    make_dir();
    good = save_small("good.mapped", "state");
    snprintf(bad, sizeof(bad), "%s", path_in_dir("bad.mapped"));
    copy_file(good, bad, -1);
    flip(bad, 4096 + 2 * 4096 + 17);                 /* pfn 4's page (slot 2) */
    refused(bad, MIG_ECORRUPT, "at offset 12288: the page of pfn 0x4 (slot 2) fails its "
            "checksum");
    copy_file(good, bad, -1);
    flip(bad, 20482);                                /* the tail */
    refused(bad, MIG_ECORRUPT, "at offset 20480: the tail section (5 bytes) fails its "
            "checksum");
    copy_file(good, bad, -1);
    flip(bad, 20488 + 24 + 9);                       /* the index, entry 1's slot */
    refused(bad, MIG_ECORRUPT, "the index section (120 bytes) fails its checksum");
    copy_file(good, bad, -1);
    flip(bad, 44);                                   /* nr_pfns */
    refused(bad, MIG_ECORRUPT, "the superblock fails its checksum");
    copy_file(good, bad, -1);
    poke(bad, 4088, zero8, 8);                       /* no complete marker */
    refused(bad, MIG_EFORMAT, "at offset 4088: no complete marker");
    copy_file(good, bad, -1);
    poke(bad, 8, &two, 1);                           /* a later version */
    refused(bad, MIG_EUNSUPP, "at offset 8: mapped format version 2");
    copy_file(good, bad, -1);
    poke(bad, 0, "XMIGMAP9", 8);
    refused(bad, MIG_EFORMAT, "at offset 0: no magic");
    copy_file(good, bad, -1);
    poke(bad, 20608, &one, 1);                       /* a byte after the index */
    refused(bad, MIG_EFORMAT, "1 bytes after the end of its index at offset 20608");
    remove_dir();
}
END_TEST

/* ---- cancelling ---- */

struct canceller {
    enum mig_replay_phase phase;
    unsigned int reports;
};

static int cancel_in_phase(const struct mig_replay_progress *p, void *payload)
{
    struct canceller *c = payload;

    c->reports++;
    return p->phase == c->phase;
}

START_TEST(test_cancel)
{
    static struct recorder r;
    struct mig_replay_options o = MIG_REPLAY_OPTIONS_INIT;
    struct canceller c = { MIG_REPLAY_VERIFY, 0 };
    struct mig_replay_result rr;
    const char *path;

    make_dir();
    path = save_small("small.mapped", "state");
    o.progress = cancel_in_phase;
    o.progress_payload = &c;
    r.calls = r.resumes = 0;
    ck_assert_int_eq(mig_mapped_replay(path, &recorder_sim_ops, &r, 2, &o, &rr),
                     MIG_ECANCELLED);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "nothing was started"));
    ck_assert_uint_eq(r.calls, 0);
    c.phase = MIG_REPLAY_PAGES;
    ck_assert_int_eq(mig_mapped_replay(path, &recorder_sim_ops, &r, 2, &o, &rr),
                     MIG_ECANCELLED);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "the guest was not resumed"));
    ck_assert_uint_eq(r.calls, 1);                   /* prepare only */
    ck_assert_uint_eq(r.resumes, 0);
    remove_dir();
}
END_TEST

/* ---- the Xen family: a prologue, checked ---- */

static int refuse_avx2(void *arg, const char *meta)
{
    *(int *)arg += 1;
    return strstr(meta, "avx2") ? mig_error_set(MIG_ECOMPAT, "missing features: avx2") : 0;
}

/* ---- warm_up: before the pages are checked, never followed on a bad page ---- */

struct warm_recorder {
    char order[16];                 /* 'w' warm_up, 'a' accept_prologue, 'p' a page */
    unsigned int n;
    size_t warm_len, accept_len;
};

static void warm_note(struct warm_recorder *w, char what)
{
    if (w->n + 1 < sizeof(w->order))
        w->order[w->n++] = what;
}

static int warm_rec_warm_up(void *b, const void *blob, size_t len)
{
    ((struct warm_recorder *)b)->warm_len = len;
    warm_note(b, 'w');
    return 0;
}

static int warm_rec_accept(void *b, const void *blob, size_t len)
{
    ((struct warm_recorder *)b)->accept_len = len;
    warm_note(b, 'a');
    return 0;
}

static int warm_rec_write(void *b, struct mig_stream_ctx *st, uint64_t pfn, const void *data,
                          unsigned int type)
{
    warm_note(b, 'p');
    return 0;
}

static int warm_rec_nothing(void *b, const void *state, size_t len)
{
    return 0;
}

static int warm_rec_resume(void *b)
{
    return 0;
}

/*
 * path: a xen family file with a prologue and one page with data at
 * pages_offset: warm_up first with the prologue accept_prologue gets, then
 * the pages; with the page damaged, warm_up alone (nothing started).
 */
static void warm_up_then_prologue(const char *path, off_t pages_offset)
{
    static const struct mig_destination_ops ops = {
        .name = "xen-destination", .warm_up = warm_rec_warm_up,
        .accept_prologue = warm_rec_accept, .write_page = warm_rec_write,
        .restore_state = warm_rec_nothing, .resume = warm_rec_resume,
    };
    struct warm_recorder w = { .n = 0 };
    struct mig_replay_result rr;

    ck_assert_int_eq(mig_mapped_replay(path, &ops, &w, 1, NULL, &rr), 0);
    ck_assert_str_eq(w.order, "wap");
    ck_assert_uint_gt(w.warm_len, 0);
    ck_assert_uint_eq(w.warm_len, w.accept_len);
    ck_assert(rr.warm_up_called && rr.started);
    flip(path, pages_offset + 100);
    memset(&w, 0, sizeof(w));
    ck_assert_int_eq(mig_mapped_replay(path, &ops, &w, 1, NULL, &rr), MIG_ECORRUPT);
    ck_assert_str_eq(w.order, "w");
    ck_assert(rr.warm_up_called && !rr.started);
}

START_TEST(test_xen_prologue)
{
    static const uint8_t head[] = "an xl stream head";
    struct mig_mapped_dest_options o = MIG_MAPPED_DEST_OPTIONS_INIT;
    struct mig_mapped_dest *d;
    struct mig_mapped_file *f;
    const struct mig_destination_ops *ops;
    void *blob;
    size_t len, got_len;
    const void *got;
    int preflights = 0;

    make_dir();
    o.path = path_in_dir("xen.mapped");
    o.family = "xen";
    o.preflight = refuse_avx2;
    o.preflight_arg = &preflights;
    ck_assert_int_eq(mig_mapped_dest_open(&o, &d), 0);
    ops = mig_mapped_dest_ops(d);
    ck_assert_str_eq(ops->name, "xen-destination");
    ck_assert_int_eq(ops->prepare(d, 16), MIG_ECOMPAT);          /* no prologue yet */
    ck_assert_int_ne(ops->accept_prologue(d, "junk", 4), 0);
    ck_assert_int_eq(mig_xen_prologue_build("{\"features\":\"avx2\"}", head, sizeof(head),
                                            &blob, &len), 0);
    ck_assert_int_eq(ops->accept_prologue(d, blob, len), MIG_ECOMPAT);
    free(blob);
    ck_assert_int_eq(mig_xen_prologue_build("{\"domain\":\"d1\"}", head, sizeof(head),
                                            &blob, &len), 0);
    ck_assert_int_eq(ops->accept_prologue(d, blob, len), 0);
    ck_assert_int_eq(preflights, 2);
    ck_assert_str_eq(mig_mapped_dest_metadata(d), "{\"domain\":\"d1\"}");
    ck_assert_int_eq(ops->prepare(d, 16), 0);
    ck_assert_int_eq(ops->write_page(d, &ctx0, 7, page_a, 1), 0);
    ck_assert_int_eq(ops->restore_state(d, "tail", 4), 0);
    ck_assert_int_eq(ops->resume(d), 0);
    mig_mapped_dest_close(d);
    ck_assert_int_eq(mig_mapped_file_open(o.path, &f), 0);
    got = mig_mapped_file_prologue(f, &got_len);
    ck_assert_uint_eq(got_len, len);
    ck_assert_int_eq(memcmp(got, blob, len), 0);
    mig_mapped_file_close(f);
    /* the pages start on the page boundary after the prologue */
    ck_assert_uint_eq(file_size(o.path), 8192 + 4096 + 8 + 24);
    free(blob);
    warm_up_then_prologue(o.path, 8192);
    /* a sim source's prologue-less family takes no prologue */
    d = open_dest(path_in_dir("sim.mapped"), "sim");
    ck_assert_int_eq(mig_mapped_dest_ops(d)->accept_prologue(d, "x", 1), MIG_ECOMPAT);
    mig_mapped_dest_close(d);
    o.family = "Xen";
    ck_assert_int_eq(mig_mapped_dest_open(&o, &d), MIG_EINVAL);
    remove_dir();
}
END_TEST

/* ---- the sim's sequential file ---- */

START_TEST(test_sim_sequential)
{
    static struct recorder r;
    struct mig_replay_result rr;
    static const char state[] = "xenmig-sim-state v1 nr_pfns=16 vcpus=1\n";
    enum mig_savefile_format format;
    char cut[128];
    uint8_t head[32] = "XENMIG-SIM-SAVE1";
    FILE *f;

    make_dir();
    head[16] = 16;
    head[24] = sizeof(state) - 1;
    f = fopen(path_in_dir("seq.save"), "w");
    fwrite(head, 1, sizeof(head), f);
    fwrite(state, 1, sizeof(state) - 1, f);
    memset(page_a, 0xa5, sizeof(page_a));
    for (int p = 0; p < 16; p++) {
        static const uint8_t zero[4096];

        fwrite(p % 3 ? page_a : zero, 1, 4096, f);
    }
    fclose(f);
    ck_assert_int_eq(mig_savefile_sniff(path_in_dir("seq.save"), &format), 0);
    ck_assert_int_eq(format, MIG_SAVEFILE_SIM);
    r.calls = 0;
    ck_assert_int_eq(mig_sim_save_replay(path_in_dir("seq.save"), &recorder_sim_ops, &r, 3,
                                         NULL, &rr), 0);
    ck_assert_uint_eq(rr.pages, 16);
    ck_assert_uint_eq(rr.zero_pages, 6);
    ck_assert_int_eq(memcmp(r.memory + 4096, page_a, 4096), 0);
    ck_assert_str_eq(r.state, state);
    snprintf(cut, sizeof(cut), "%s", path_in_dir("cut.save"));
    copy_file(path_in_dir("seq.save"), cut, 32 + 39 + 5 * 4096 + 1);
    r.calls = 0;
    ck_assert_int_eq(mig_sim_save_replay(cut, &recorder_sim_ops, &r, 3, NULL, &rr),
                     MIG_ETRUNC);
    ck_assert_ptr_nonnull(strstr(mig_error_last(), "ends at offset 20552, its pages run to "
                                 "offset 65607 (45055 bytes missing)"));
    ck_assert_uint_eq(r.calls, 0);
    ck_assert_int_eq(mig_savefile_sniff(save_small("m", "state"), &format), 0);
    ck_assert_int_eq(format, MIG_SAVEFILE_MAPPED);
    remove_dir();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("savefile");
    TCase *tc = tcase_create("mapped");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_live_save_replays_whole);
    tcase_add_test(tc, test_pages_overwrite_in_place);
    tcase_add_test(tc, test_streams_write_runs);
    tcase_add_test(tc, test_close_without_resume_keeps_the_old_file);
    tcase_add_test(tc, test_replay_small);
    tcase_add_test(tc, test_replay_file_runs);
    tcase_add_test(tc, test_cut_short_refused);
    tcase_add_test(tc, test_damage_refused);
    tcase_add_test(tc, test_cancel);
    tcase_add_test(tc, test_xen_prologue);
    tcase_add_test(tc, test_sim_sequential);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
