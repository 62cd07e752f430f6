/*
 * fill.c: the memory a simulated guest starts with (mig_sim.h, enum
 * mig_sim_fill).  ZERO leaves the fresh mapping as it is; RANDOM and
 * REALISTIC write every page from a PRNG seeded by the guest's seed and the
 * pfn, with one thread per online CPU (up to FILL_MAX_THREADS) each taking
 * a contiguous share of the pfns.
 *
 * REALISTIC picks each page's kind (zero, text, binary, entropy) with the
 * MIG_SIM_REALISTIC_*_PERMILLE proportions, then writes it with one of the
 * generators below; docs/benchmarks.md ("Sim guest memory") measures the
 * result against real memory.
 *
 * What it must never do: let a page's content depend on anything but the
 * seed, the fill and the pfn (not on which thread wrote it, nor on the
 * guest's size), or run once dirty tracking is armed (the fill is not a
 * guest write).
 */
#include "config.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "sim_private.h"

#define FILL_MAX_THREADS 8
#define FILL_MIN_PFNS_PER_THREAD 4096     /* smaller guests: fewer threads */
#define WORDS_PER_PAGE (MIG_PAGE_SIZE / sizeof(uint64_t))

/* ---- text ---------------------------------------------------------------- */

static const char *const words[] = {
    "the", "of", "and", "to", "in", "is", "for", "on", "with", "as", "by", "at",
    "from", "not", "all", "new", "no", "set", "get", "add", "end", "out", "use",
    "error", "warning", "info", "debug", "failed", "started", "stopped",
    "connection", "device", "driver", "kernel", "memory", "page", "cache",
    "buffer", "queue", "request", "reply", "timeout", "retry", "session",
    "user", "root", "system", "service", "network", "interface", "address",
    "link", "up", "down", "state", "changed", "loaded", "unit", "mount",
    "file", "path", "directory", "config", "option", "value", "default",
    "enabled", "disabled", "true", "false", "null", "none", "size", "count",
    "index", "offset", "length", "type", "name", "version", "module", "port",
    "host", "client", "server", "socket", "thread", "process", "pid", "signal",
    "exit", "status", "code", "message", "event", "handler", "callback",
    "write", "read", "open", "close", "sync", "flush", "commit", "update",
    "install", "package", "library", "function", "return", "struct", "const",
    "static", "int", "char", "void", "unsigned", "long", "http", "json",
    "data", "block", "disk", "volume", "partition", "filesystem", "journal",
    "log", "audit", "policy", "security", "key", "certificate", "token",
    "time", "date", "clock", "timer", "interval", "period", "rate", "limit",
    "max", "min", "total", "free", "used", "available", "reserved",
};
#define NR_WORDS (sizeof(words) / sizeof(words[0]))

static const char *const months[] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
    "Nov", "Dec",
};

#define PAGE_WORDS 32     /* a page's text draws on this many words */

struct text {
    uint8_t *p;
    size_t len;
    uint64_t *state;
    const char *vocabulary[PAGE_WORDS];
};

static void put(struct text *t, const char *s, size_t n)
{
    if (n > MIG_PAGE_SIZE - t->len)
        n = MIG_PAGE_SIZE - t->len;
    memcpy(t->p + t->len, s, n);
    t->len += n;
}

static void put_str(struct text *t, const char *s)
{
    put(t, s, strlen(s));
}

/* one of the page's words; the first few the most often, as in real text */
static void put_word(struct text *t)
{
    uint64_t r = sim_random_next(t->state);

    put_str(t, t->vocabulary[r % 2 ? r % 8 : r % PAGE_WORDS]);
}

/* value in decimal, at least width digits (zero-padded) */
static void put_uint(struct text *t, uint64_t value, unsigned width)
{
    char digits[24];
    unsigned n = 0;

    do {
        digits[sizeof(digits) - ++n] = (char)('0' + value % 10);
        value /= 10;
    } while (value || n < width);
    put(t, digits + sizeof(digits) - n, n);
}

/* "Dec  6 10:39:27 host service[1234]: word word ... word=42\n" */
static void put_log_line(struct text *t, uint64_t *clock)
{
    uint64_t r = sim_random_next(t->state), n;

    *clock += r % 5;
    put_str(t, months[(*clock / 2678400) % 12]);
    put(t, " ", 1);
    put_uint(t, 1 + (*clock / 86400) % 28, 2);
    put(t, " ", 1);
    put_uint(t, (*clock / 3600) % 24, 2);
    put(t, ":", 1);
    put_uint(t, (*clock / 60) % 60, 2);
    put(t, ":", 1);
    put_uint(t, *clock % 60, 2);
    put_str(t, " host ");
    put_str(t, t->vocabulary[(r >> 4) % 3]);           /* a few services */
    put(t, "[", 1);
    put_uint(t, 100 + (r >> 4) % 3 * 997, 1);
    put_str(t, "]: ");
    for (n = 3 + (r >> 24) % 7; n; n--) {
        put_word(t);
        put(t, " ", 1);
    }
    put_word(t);
    put(t, "=", 1);
    put_uint(t, (r >> 32) % 1000, 1);
    put(t, "\n", 1);
}

/* "[section]" now and then, else "word_word = value" */
static void put_config_line(struct text *t)
{
    uint64_t r = sim_random_next(t->state);

    if (r % 12 == 0) {
        put(t, "\n[", 2);
        put_word(t);
        put_str(t, "]\n");
        return;
    }
    put_word(t);
    put(t, "_", 1);
    put_word(t);
    put_str(t, " = ");
    switch ((r >> 8) % 3) {
    case 0:
        put_uint(t, (r >> 16) % 4096, 1);
        break;
    case 1:
        put_str(t, "/usr/lib/");
        put_word(t);
        put(t, "/", 1);
        put_word(t);
        break;
    default:
        put_word(t);
        break;
    }
    put(t, "\n", 1);
}

/* words, sentences of 4..19 of them, a line break now and then */
static void put_prose(struct text *t)
{
    uint64_t r = sim_random_next(t->state), n;

    for (n = 4 + r % 16; n; n--) {
        put_word(t);
        put(t, n > 1 ? " " : ".", 1);
    }
    put(t, (r >> 8) % 4 ? " " : "\n", 1);
}

/* Text pages: one style per page; a quarter end early (a file's tail). */
static void fill_text(uint8_t *page, uint64_t *state)
{
    struct text t = { .p = page, .len = 0, .state = state };
    uint64_t r = sim_random_next(state), clock = r >> 40;
    size_t end = (r >> 4) % 4 ? MIG_PAGE_SIZE : 256 + (r >> 8) % 3584;
    unsigned i;

    for (i = 0; i < PAGE_WORDS; i++)
        t.vocabulary[i] = words[sim_random_next(state) % NR_WORDS];
    while (t.len < end) {
        switch (r % 3) {
        case 0:
            put_log_line(&t, &clock);
            break;
        case 1:
            put_config_line(&t);
            break;
        default:
            put_prose(&t);
            break;
        }
    }
    memset(page + end, 0, MIG_PAGE_SIZE - end);
}

/* ---- binary ---------------------------------------------------------------- */

/* 32-bit small values, most of them zero (flags, counts, enums). */
static void fill_small_integers(void *page, uint64_t *state)
{
    uint32_t *values = page;
    uint64_t r = sim_random_next(state);
    uint32_t bound = UINT32_C(4) << (r % 4 * 2);       /* 4 .. 256 */
    unsigned i;

    for (i = 0; i < MIG_PAGE_SIZE / sizeof(*values); i++) {
        r = sim_random_next(state);
        values[i] = r % 5 < 3 ? 0 : (uint32_t)(r >> 8) % bound;
    }
}

/* Page-table-like entries: frames counting up with flags, some empty. */
static void fill_page_table(void *page, uint64_t *state)
{
    uint64_t *values = page;
    uint64_t r = sim_random_next(state), frame = (r >> 16) % (UINT64_C(1) << 24);
    uint64_t flags = r % 2 ? 0x067 : UINT64_C(0x8000000000000063);
    unsigned i;

    for (i = 0; i < WORDS_PER_PAGE; i++) {
        r = sim_random_next(state);
        frame += r % 8 ? 1 : (r >> 8) % 4096;
        values[i] = r % 10 ? frame << 12 | flags : 0;
    }
}

/* Mostly zero: a few values here and there (a sparse table, a stack's end). */
static void fill_sparse(void *page, uint64_t *state)
{
    uint64_t *values = page;
    uint64_t r = sim_random_next(state), n;

    memset(values, 0, MIG_PAGE_SIZE);
    for (n = 1 + r % 64; n; n--) {
        r = sim_random_next(state);
        values[r % WORDS_PER_PAGE] = sim_random_next(state) >> (r >> 8) % 64;
    }
}

/*
 * 8-byte pointer-like values into one region (kernel direct map or user
 * heap), so they share their high bits; a third NULL.
 */
static void fill_pointers(void *page, uint64_t *state)
{
    uint64_t *values = page;
    uint64_t r = sim_random_next(state), base;
    unsigned i;

    base = r % 2 ? UINT64_C(0xffff888000000000) + ((r >> 8) % 64 << 30)
                 : UINT64_C(0x00007f0000000000) + ((r >> 8) % 256 << 32);
    for (i = 0; i < WORDS_PER_PAGE; i++) {
        r = sim_random_next(state);
        values[i] = r % 3 ? base + ((r >> 8) % (UINT64_C(1) << 21) & ~UINT64_C(63)) : 0;
    }
}

/*
 * 64-byte records as a slab holds them: list links to neighbouring
 * records, an id counting up, constant flags, a key in some, zero padding.
 */
static void fill_records(void *page, uint64_t *state)
{
    uint64_t *values = page;
    uint64_t r = sim_random_next(state), base, flags, id = r >> 48;
    unsigned i;

    base = UINT64_C(0xffff888000000000) + ((r >> 8) % (UINT64_C(1) << 30) & ~UINT64_C(4095));
    flags = (r >> 16) & UINT64_C(0x0000f0f0000000ff);
    for (i = 0; i < WORDS_PER_PAGE; i += 8) {
        r = sim_random_next(state);
        values[i] = base + (i + 8) * sizeof(uint64_t);
        values[i + 1] = base + (i - 8) * sizeof(uint64_t);
        values[i + 2] = (id++ << 32) | flags;
        values[i + 3] = r % 4 ? 0 : sim_random_next(state);
        values[i + 4] = (r >> 8) % 16;
        values[i + 5] = 0;
        values[i + 6] = r % 8 ? 0 : base + ((r >> 16) % 64 << 6);
        values[i + 7] = 0;
    }
}

/*
 * x86-64 instruction-like bytes: common encodings, with random 8-aligned
 * displacements and, for calls, jumps and RIP-relative loads, one of the
 * page's 16 targets.  disp8_at and rel32_at: where those go (0: none).
 */
static const struct {
    uint8_t len, disp8_at, rel32_at;
    uint8_t bytes[7];
} insns[] = {
    { 1, 0, 0, { 0x55 } },                          /* push %rbp */
    { 3, 0, 0, { 0x48, 0x89, 0xe5 } },              /* mov %rsp,%rbp */
    { 2, 0, 0, { 0x41, 0x54 } },                    /* push %r12 */
    { 1, 0, 0, { 0x53 } },                          /* push %rbx */
    { 4, 3, 0, { 0x48, 0x83, 0xec, 0 } },           /* sub $d8,%rsp */
    { 4, 3, 0, { 0x48, 0x8b, 0x45, 0 } },           /* mov d8(%rbp),%rax */
    { 4, 3, 0, { 0x48, 0x89, 0x7d, 0 } },           /* mov %rdi,d8(%rbp) */
    { 3, 2, 0, { 0x8b, 0x47, 0 } },                 /* mov d8(%rdi),%eax */
    { 5, 0, 1, { 0xe8 } },                          /* call rel32 */
    { 7, 0, 3, { 0x48, 0x8b, 0x05 } },              /* mov rel32(%rip),%rax */
    { 7, 0, 3, { 0x48, 0x8d, 0x3d } },              /* lea rel32(%rip),%rdi */
    { 2, 0, 0, { 0x85, 0xc0 } },                    /* test %eax,%eax */
    { 2, 1, 0, { 0x74, 0 } },                       /* je d8 */
    { 2, 1, 0, { 0x75, 0 } },                       /* jne d8 */
    { 2, 0, 0, { 0x31, 0xc0 } },                    /* xor %eax,%eax */
    { 3, 0, 0, { 0x48, 0x89, 0xc7 } },              /* mov %rax,%rdi */
    { 3, 0, 0, { 0x48, 0x85, 0xff } },              /* test %rdi,%rdi */
    { 5, 0, 0, { 0x0f, 0x1f, 0x44, 0x00, 0x00 } },  /* nopl 0(%rax,%rax) */
    { 1, 0, 0, { 0x5b } },                          /* pop %rbx */
    { 1, 0, 0, { 0x5d } },                          /* pop %rbp */
    { 1, 0, 0, { 0xc3 } },                          /* ret */
    { 5, 0, 1, { 0xe9 } },                          /* jmp rel32 */
};
#define NR_INSNS (sizeof(insns) / sizeof(insns[0]))

static void fill_code(void *memory, uint64_t *state)
{
    uint8_t *page = memory;
    int32_t targets[16];
    size_t at = 0, k;
    uint64_t r;

    for (k = 0; k < 16; k++)
        targets[k] = (int32_t)(sim_random_next(state) % (1 << 20)) - (1 << 19);
    while (at < MIG_PAGE_SIZE) {
        r = sim_random_next(state);
        k = r % NR_INSNS;
        if (at + insns[k].len > MIG_PAGE_SIZE) {
            memset(page + at, 0xcc, MIG_PAGE_SIZE - at);      /* int3 padding */
            break;
        }
        memcpy(page + at, insns[k].bytes, insns[k].len);
        if (insns[k].disp8_at)
            page[at + insns[k].disp8_at] = (uint8_t)((r >> 8) & 0xf8);
        if (insns[k].rel32_at)
            memcpy(page + at + insns[k].rel32_at, &targets[(r >> 16) % 16],
                   sizeof(targets[0]));
        at += insns[k].len;
    }
}

/*
 * Binary pages: one generator per page, sparse and code pages twice as
 * often as each of the others (real memory has many pages that are nearly
 * empty and many that barely compress).
 */
static void fill_binary(uint8_t *page, uint64_t *state)
{
    static void (*const generators[8])(void *, uint64_t *) = {
        fill_small_integers, fill_page_table, fill_pointers, fill_records,
        fill_sparse, fill_sparse, fill_code, fill_code,
    };

    generators[sim_random_next(state) % 8](page, state);
}

/* ---- pages and threads ------------------------------------------------------ */

static void fill_entropy(void *page, uint64_t *state)
{
    uint64_t *values = page;
    unsigned i;

    for (i = 0; i < WORDS_PER_PAGE; i++)
        values[i] = sim_random_next(state);
}

void sim_fill_page(uint8_t *page, enum mig_sim_fill fill, uint64_t seed,
                   uint64_t pfn)
{
    uint64_t state = seed * UINT64_C(0x9e3779b97f4a7c15) ^ pfn, kind;

    state = sim_random_next(&state);        /* pages' streams apart */
    if (fill == MIG_SIM_FILL_RANDOM) {
        fill_entropy(page, &state);
        return;
    }
    kind = sim_random_next(&state) % 1000;
    if (kind < MIG_SIM_REALISTIC_ZERO_PERMILLE)
        memset(page, 0, MIG_PAGE_SIZE);
    else if ((kind -= MIG_SIM_REALISTIC_ZERO_PERMILLE) <
             MIG_SIM_REALISTIC_TEXT_PERMILLE)
        fill_text(page, &state);
    else if ((kind -= MIG_SIM_REALISTIC_TEXT_PERMILLE) <
             MIG_SIM_REALISTIC_BINARY_PERMILLE)
        fill_binary(page, &state);
    else
        fill_entropy(page, &state);
}

struct fill_share {
    struct mig_sim_guest *guest;
    uint64_t first, end;
    pthread_t thread;
};

static void *fill_thread(void *opaque)
{
    struct fill_share *share = opaque;
    const struct mig_sim_options *options = &share->guest->options;
    uint64_t pfn;

    for (pfn = share->first; pfn < share->end; pfn++)
        sim_fill_page(share->guest->memory + pfn * MIG_PAGE_SIZE,
                      options->fill, options->seed, pfn);
    return NULL;
}

void sim_fill_memory(struct mig_sim_guest *guest)
{
    struct fill_share shares[FILL_MAX_THREADS];
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t nr_threads, t;
    int started[FILL_MAX_THREADS] = { 0 };

    if (guest->options.fill == MIG_SIM_FILL_ZERO)
        return;                                 /* a fresh mapping is zero */
    nr_threads = online < 1 ? 1 : online > FILL_MAX_THREADS
                 ? FILL_MAX_THREADS : (uint64_t)online;
    if (nr_threads > guest->nr_pfns / FILL_MIN_PFNS_PER_THREAD)
        nr_threads = guest->nr_pfns / FILL_MIN_PFNS_PER_THREAD + 1;
    for (t = 0; t < nr_threads; t++) {
        shares[t].guest = guest;
        shares[t].first = guest->nr_pfns * t / nr_threads;
        shares[t].end = guest->nr_pfns * (t + 1) / nr_threads;
        /* share 0 is this thread's, as is any share whose thread did not start */
        started[t] = t && !pthread_create(&shares[t].thread, NULL,
                                          fill_thread, &shares[t]);
    }
    for (t = 0; t < nr_threads; t++)
        if (!started[t])
            fill_thread(&shares[t]);
    for (t = 0; t < nr_threads; t++)
        if (started[t])
            pthread_join(shares[t].thread, NULL);
}
