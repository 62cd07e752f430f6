/*
 * xen-source-double.c: a migration source for the Xen destination's tests
 * (no Xen needed).  The guest is the memory test double (mem_backend.h)
 * dressed as a "xen" backend: its prologue carries metadata and the head
 * of a real xl stream, its state is that stream's tail.  It starts the
 * receiver command given after "--" (xl-ext migrate-receive --xen ...) on
 * a control channel, migrates, and prints what happened:
 *
 *   source: rc=N error=...        the engine's result here
 *   receiver: exit=N              the receiver's exit status
 *   check: ok ... | check: FAILED ...   (--check CAPTURE) the merged stream
 *
 * --extract LAB.xl-save.xz HEAD TAIL cuts a real capture into the head (up
 * to and including STATIC_DATA_END) and the tail (after the last
 * PAGE_DATA), as a Xen source sends them.
 *
 * Exit 0 when it ran (whatever the migration's result), 2 on its own
 * errors.  It must never report a check as ok that compared nothing.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpuid_policy.h"
#include "mem_backend.h"
#include "mig_migrate.h"
#include "mig_stream.h"
#include "mig_xen.h"

struct blob {
    uint8_t *data;
    size_t size;
};

static int read_stream(FILE *f, struct blob *b)
{
    size_t capacity = 0;

    b->data = NULL;
    b->size = 0;
    for (;;) {
        if (b->size == capacity) {
            uint8_t *grown = realloc(b->data, capacity = capacity ? 2 * capacity : 1 << 20);

            if (!grown)
                return -1;
            b->data = grown;
        }
        size_t n = fread(b->data + b->size, 1, capacity - b->size, f);

        if (!n)
            return ferror(f) ? -1 : 0;
        b->size += n;
    }
}

static int read_file(const char *path, struct blob *b)
{
    FILE *f = fopen(path, "rb");
    int rc;

    if (!f) {
        fprintf(stderr, "xen-source-double: cannot open '%s': %s\n", path, strerror(errno));
        return -1;
    }
    rc = read_stream(f, b);
    fclose(f);
    return rc;
}

static int write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    int rc = f && fwrite(data, 1, size, f) == size ? 0 : -1;

    if (f && fclose(f))
        rc = -1;
    if (rc)
        fprintf(stderr, "xen-source-double: cannot write '%s'\n", path);
    return rc;
}

/* Cut a real capture into its head and tail. */
static int extract(const char *xz_path, const char *head_path, const char *tail_path)
{
    struct mig_stream_reader *reader = NULL;
    struct mig_stream_record rec;
    struct blob all;
    uint64_t head_end = 0, pages_end = 0;
    char command[4200];
    FILE *f;
    int rc;

    snprintf(command, sizeof(command), "xz -dc '%s'", xz_path);
    f = popen(command, "r");
    if (!f || read_stream(f, &all) || pclose(f)) {
        fprintf(stderr, "xen-source-double: '%s' failed\n", command);
        return 2;
    }
    rc = mig_stream_reader_open_mem(&reader, all.data, all.size, NULL);
    while (!rc && !(rc = mig_stream_read_record(reader, &rec))) {
        if (rec.kind != MIG_STREAM_ITEM_RECORD || rec.layer != MIG_STREAM_LAYER_LIBXC)
            continue;
        if (rec.type == MIG_LIBXC_STATIC_DATA_END)
            head_end = rec.offset + rec.size;
        if (rec.type == MIG_LIBXC_PAGE_DATA)
            pages_end = rec.offset + rec.size;
    }
    mig_stream_reader_close(reader);
    if (rc != 1 || !head_end || pages_end <= head_end) {
        fprintf(stderr, "xen-source-double: '%s' is not a stream with STATIC_DATA_END "
                "and pages: %s\n", xz_path, rc < 0 ? mig_error_last() : "");
        free(all.data);
        return 2;
    }
    rc = write_file(head_path, all.data, head_end) ||
         write_file(tail_path, all.data + pages_end, all.size - pages_end) ? 2 : 0;
    printf("extract: head %" PRIu64 " bytes, tail %" PRIu64 " bytes of %zu\n", head_end,
           (uint64_t)all.size - pages_end, all.size);
    free(all.data);
    return rc;
}

/* The memory double, dressed as a Xen source. */
static struct {
    void *prologue;
    size_t prologue_len;
    struct blob tail;
    unsigned int dirty;           /* pages written per round, halving */
    bool miss_one;                /* one write tracking misses: hashes differ */
    unsigned int round;
    uint64_t zero_at_start;       /* all-zero pages before round 0 */
} guest;

static int xs_prologue(void *backend, void **blob_out, size_t *len_out)
{
    (void)backend;
    *blob_out = malloc(guest.prologue_len);
    if (!*blob_out)
        return mig_error_set(MIG_ENOMEM, "no memory");
    memcpy(*blob_out, guest.prologue, guest.prologue_len);
    *len_out = guest.prologue_len;
    return 0;
}

static int xs_save_state(void *backend, void **state_out, size_t *len_out)
{
    (void)backend;
    *state_out = malloc(guest.tail.size);
    if (!*state_out)
        return mig_error_set(MIG_ENOMEM, "no memory");
    memcpy(*state_out, guest.tail.data, guest.tail.size);
    *len_out = guest.tail.size;
    return 0;
}

static void guest_writes(struct mem_backend *m, void *arg)
{
    (void)arg;
    if (guest.dirty && guest.round == 0) {
        /* pfn 1 (data at round 0) is zeroed: its zero copy must carry data */
        memset(m->memory + 4096, 0, 4096);
        mem_backend_write(m, 1, 0);
    }
    for (unsigned int i = 0; i < guest.dirty; i++)
        mem_backend_write(m, (guest.round * 131 + i * 7) % m->nr_pfns,
                          (uint8_t)(guest.round + i + 1));
    if (guest.miss_one && guest.round == 0)
        m->memory[3 * 4096 + 11] ^= 0x5a;
    guest.dirty /= 2;
    guest.round++;
}

/* The merged stream: head, then pages equal to the source's, then tail. */
static int check_capture(const char *path, const struct blob *head, const struct mem_backend *m)
{
    struct mig_stream_reader *reader = NULL;
    struct mig_stream_record rec;
    struct mig_stream_body body;
    struct blob cap;
    uint8_t *got = calloc(m->nr_pfns, 4096);
    bool *seen = calloc(m->nr_pfns, sizeof(*seen));
    uint64_t records = 0, pages = 0, matched = 0, alloc_only = 0;
    bool bad_word = false;
    int rc;

    if (!got || !seen || read_file(path, &cap)) {
        printf("check: FAILED: cannot read the capture '%s'\n", path);
        free(got);
        free(seen);
        return 1;
    }
    rc = mig_stream_reader_open_mem(&reader, cap.data, cap.size, NULL);
    while (!rc && !bad_word && !(rc = mig_stream_read_record(reader, &rec))) {
        if (rec.kind != MIG_STREAM_ITEM_RECORD || rec.layer != MIG_STREAM_LAYER_LIBXC ||
            rec.type != MIG_LIBXC_PAGE_DATA)
            continue;
        rc = mig_stream_decode_body(&rec, &body);
        if (rc)
            break;
        records++;
        for (uint32_t i = 0, data = 0; i < body.u.page_data.count; i++) {
            uint64_t word = mig_stream_page_data_word(&body, i);
            uint64_t pfn = mig_stream_word_pfn(word);
            unsigned int type = mig_stream_word_type(word);

            if ((type != MIG_STREAM_PAGE_NOTAB && type != MIG_STREAM_PAGE_XALLOC) ||
                pfn >= m->nr_pfns) {
                printf("check: FAILED: PAGE_DATA word %#" PRIx64 " (record at offset %"
                       PRIu64 ")\n", word, rec.offset);
                bad_word = true;
                break;
            }
            if (type == MIG_STREAM_PAGE_XALLOC) {
                /* libxc populates it and Xen zeroes it; were it populated
                 * already, its old content would stay. */
                if (seen[pfn]) {
                    printf("check: FAILED: XALLOC for pfn %" PRIu64 ", written before "
                           "(record at offset %" PRIu64 "): its old content would stay\n",
                           pfn, rec.offset);
                    bad_word = true;
                    break;
                }
                alloc_only++;
            } else
                /* A later copy of a pfn replaces the earlier one, as in libxc. */
                memcpy(got + pfn * 4096,
                       (const uint8_t *)body.u.page_data.pages + (size_t)data++ * 4096, 4096);
            seen[pfn] = true;
            pages++;
        }
    }
    mig_stream_reader_close(reader);
    if (rc != 1 || bad_word) {
        if (!bad_word)
            printf("check: FAILED: libmig's reader refuses the capture: %s\n",
                   mig_error_last());
        rc = 1;
        goto out;
    }
    if (cap.size < head->size + guest.tail.size ||
        memcmp(cap.data, head->data, head->size) ||
        memcmp(cap.data + cap.size - guest.tail.size, guest.tail.data, guest.tail.size)) {
        printf("check: FAILED: the capture does not start with the head and end with "
               "the tail\n");
        rc = 1;
        goto out;
    }
    for (uint64_t pfn = 0; pfn < m->nr_pfns; pfn++) {
        if (!seen[pfn] || memcmp(got + pfn * 4096, m->memory + pfn * 4096, 4096)) {
            printf("check: FAILED: pfn %" PRIu64 " %s\n", pfn,
                   seen[pfn] ? "differs from the source's page" : "never arrived");
            rc = 1;
            goto out;
        }
        matched++;
    }
    printf("check: ok: %" PRIu64 " PAGE_DATA records, %" PRIu64 " pages (%" PRIu64
           " allocate-only; %" PRIu64 " zero at the start), all %" PRIu64 " pfns equal to "
           "the source's\n", records, pages, alloc_only, guest.zero_at_start, matched);
    rc = 0;
out:
    free(cap.data);
    free(got);
    free(seen);
    return rc;
}

static int cancel_at_switchover(const struct mig_progress *p, void *payload)
{
    (void)payload;
    return p->phase == MIG_PHASE_SWITCHOVER;
}

struct direct_writer {
    struct mig_xen_dest *dest;
    struct mig_stream_ctx *ctx;          /* this writer's stream */
    const struct mem_backend *m;
    unsigned int first, step;
    int rc;
};

static void *direct_write_pages(void *arg)
{
    struct direct_writer *w = arg;

    for (uint64_t pfn = w->first; pfn < w->m->nr_pfns && !w->rc; pfn += w->step)
        w->rc = mig_xen_dest_ops.write_page(w->dest, w->ctx, pfn,
                                            pfn % 5 ? w->m->memory + pfn * 4096 : NULL, 0);
    return NULL;
}

/*
 * Drive the destination without the engine: prologue, pages from two
 * threads, state; then close it without resume (the source never said go).
 */
static int direct_no_go(const char *xl, uint64_t pfns)
{
    struct mig_xen_dest_options opts = MIG_XEN_DEST_OPTIONS_INIT;
    struct direct_writer w[2];
    struct mig_stream_ctx ctx[2] = { { 0, NULL }, { 1, NULL } };
    struct mig_xen_dest *dest;
    struct mem_backend m;
    pthread_t threads[2];
    int rc;

    opts.xl = xl;
    mem_backend_init(&m, pfns, true);
    rc = mig_xen_dest_open(NULL, &opts, &dest);
    if (!rc)
        rc = mig_xen_dest_ops.accept_prologue(dest, guest.prologue, guest.prologue_len);
    if (!rc)
        rc = mig_xen_dest_ops.prepare(dest, pfns);
    if (!rc)
        rc = mig_xen_dest_ops.open_streams(dest, ctx, 2);
    for (unsigned int i = 0; !rc && i < 2; i++) {
        w[i] = (struct direct_writer){ dest, &ctx[i], &m, i, 2, 0 };
        pthread_create(&threads[i], NULL, direct_write_pages, &w[i]);
    }
    for (unsigned int i = 0; !rc && i < 2; i++) {
        pthread_join(threads[i], NULL);
        rc = rc ? rc : w[i].rc;
    }
    if (!rc)
        rc = mig_xen_dest_ops.restore_state(dest, guest.tail.data, guest.tail.size);
    printf("direct: restore_state rc=%d error=%s\n", rc, rc ? mig_error_last() : "none");
    mig_xen_dest_close(dest);
    printf("direct: closed\n");
    mem_backend_dispose(&m);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "extract", no_argument, NULL, 'x' },
        { "head", required_argument, NULL, 'H' },
        { "tail", required_argument, NULL, 'T' },
        { "pfns", required_argument, NULL, 'n' },
        { "streams", required_argument, NULL, 's' },
        { "dirty", required_argument, NULL, 'w' },
        { "miss-one", no_argument, NULL, 'm' },
        { "feature-names", required_argument, NULL, 'f' },
        { "baseline", required_argument, NULL, 'b' },
        { "check", required_argument, NULL, 'c' },
        { "cancel-at-switchover", no_argument, NULL, 'C' },
        { "direct-no-go", required_argument, NULL, 'D' },
        { NULL, 0, NULL, 0 },
    };

    /* As xl-ext migrate: a receiver that hung up is an error, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    struct mig_migrate_options opts = MIG_MIGRATE_OPTIONS_INIT;
    struct mig_migrate_result result;
    struct mig_source_ops ops = mem_source_ops;
    struct cpuid_featureset features;
    struct mem_backend src;
    struct blob head = { 0 };
    const char *head_path = NULL, *tail_path = NULL, *check = NULL, *names = "";
    const char *baseline = NULL, *direct_xl = NULL;
    char hex[CPUID_FEATURESET_HEX_LEN], meta[1024];
    uint64_t pfns = 4096;
    int to_dest[2], to_src[2], opt, rc, status;
    bool do_extract = false;
    pid_t pid;

    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'x': do_extract = true; break;
        case 'H': head_path = optarg; break;
        case 'T': tail_path = optarg; break;
        case 'n': pfns = strtoull(optarg, NULL, 0); break;
        case 's': opts.streams = (unsigned int)atoi(optarg); break;
        case 'w': guest.dirty = (unsigned int)atoi(optarg); break;
        case 'm': guest.miss_one = true; break;
        case 'f': names = optarg; break;
        case 'b': baseline = optarg; break;
        case 'c': check = optarg; break;
        case 'C': opts.progress = cancel_at_switchover; break;
        case 'D': direct_xl = optarg; break;
        default: return 2;
        }
    }
    if (do_extract)
        return argc - optind == 3 ? extract(argv[optind], argv[optind + 1], argv[optind + 2])
                                  : 2;
    if (!head_path || !tail_path || (optind >= argc && !direct_xl) || !pfns ||
        pfns > (1u << 20)) {
        fprintf(stderr, "usage: xen-source-double --head F --tail F [--pfns N] "
                "[--streams N] [--dirty N] [--miss-one] [--feature-names LIST] "
                "[--baseline NAME] [--check CAPTURE] -- RECEIVER...\n");
        return 2;
    }
    if (read_file(head_path, &head) || read_file(tail_path, &guest.tail)) {
        free(head.data);
        free(guest.tail.data);
        return 2;
    }
    /* The named bits as given (not closed: a running policy is what it is). */
    memset(&features, 0, sizeof(features));
    for (const char *p = names; *p; p += *p == ',') {
        size_t len = strcspn(p, ",");
        bool ambiguous;
        const struct cpuid_feature_info *f = cpuid_feature_lookup(p, len, &ambiguous);

        if (!f) {
            fprintf(stderr, "xen-source-double: unknown feature '%.*s'\n", (int)len, p);
            free(head.data);
            free(guest.tail.data);
            return 2;
        }
        cpuid_featureset_set(&features, f->word * 32 + f->bit);
        p += len;
    }
    cpuid_featureset_format_hex(&features, hex);
    snprintf(meta, sizeof(meta), "{\"domain\":\"lab-pvh\",\"uuid\":"
             "\"6a1b7c9e-0000-4000-8000-000000000001\",\"type\":\"pvh\",\"features\":\"%s\","
             "\"xen_version\":\"4.17\"%s%s%s}", hex, baseline ? ",\"cpuid_baseline\":\"" : "",
             baseline ? baseline : "", baseline ? "\"" : "");
    if (mig_xen_prologue_build(meta, head.data, head.size, &guest.prologue,
                               &guest.prologue_len)) {
        fprintf(stderr, "xen-source-double: %s\n", mig_error_last());
        return 2;
    }
    if (direct_xl) {
        rc = direct_no_go(direct_xl, pfns);
        free(head.data);
        free(guest.tail.data);
        free(guest.prologue);
        return rc;
    }
    ops.name = "xen";
    ops.prologue = xs_prologue;
    ops.save_state = xs_save_state;
    mem_backend_init(&src, pfns, true);
    src.guest_writes = guest_writes;
    for (uint64_t p = 0; p < pfns; p++) {
        static const uint8_t zero[4096];

        guest.zero_at_start += !memcmp(src.memory + p * 4096, zero, sizeof(zero));
    }

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, to_dest) ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, to_src))
        return 2;
    pid = fork();
    if (pid < 0)
        return 2;
    if (!pid) {
        dup2(to_dest[1], STDIN_FILENO);
        dup2(to_src[1], STDOUT_FILENO);
        execvp(argv[optind], argv + optind);
        fprintf(stderr, "xen-source-double: cannot run '%s': %s\n", argv[optind],
                strerror(errno));
        _exit(127);
    }
    close(to_dest[1]);
    close(to_src[1]);
    opts.timeout_ms = 20000;
    rc = mig_migrate_send(&ops, &src, to_src[0], to_dest[0], &opts, NULL, &result);
    printf("source: rc=%d error=%s\n", rc, rc ? mig_error_last() : "none");
    close(to_dest[0]);
    close(to_src[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    printf("receiver: exit=%d\n", WIFEXITED(status) ? WEXITSTATUS(status)
                                                    : 128 + WTERMSIG(status));
    printf("source: released=%d paused=%d\n", src.released, src.paused);
    if (check)
        check_capture(check, &head, &src);
    fflush(stdout);
    mem_backend_dispose(&src);
    free(head.data);
    free(guest.tail.data);
    free(guest.prologue);
    return 0;
}
