/*
 * corpus.c: the corpus of real CPUs (cpuid-policy/data/cpus/corpus.txt):
 * raw CPUID leaves copied from public dumps, each CPU with its source.
 *
 * Format:
 *   [CPU NAME]
 *   source = REPOSITORY PATH (commit ...)
 *   leaf LLLLLLLL:SS EAX EBX ECX EDX      hex, as in the dump
 *   msr 0000010a LOW HIGH                  MSR_ARCH_CAPS if the dump has it
 * This file must never invent a value: a CPU is what its leaves say, read
 * through the same mapping as a live CPU (cpuid_featureset_from_leaves).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"
#include "mig_error.h"

#define MAX_CPUS 1024
#define MAX_LEAVES 64

struct corpus_entry {
    struct cpuid_corpus_cpu cpu;
    char *name, *source;
};

struct cpuid_corpus {
    struct corpus_entry *entries;
    unsigned int count;
};

struct pending_cpu {
    struct cpuid_leaf_value leaves[MAX_LEAVES];
    unsigned int nr_leaves;
    uint64_t arch_caps;
};

const char *cpuid_corpus_default_path(void)
{
    const char *env = getenv("XENMIG_CPUID_CORPUS");

    if (env && *env)
        return env;
    if (access(XENMIG_DATADIR "/cpus/corpus.txt", R_OK) == 0)
        return XENMIG_DATADIR "/cpus/corpus.txt";
    return XENMIG_SRCDATADIR "/cpus/corpus.txt";
}

static void finish_cpu(struct corpus_entry *e, const struct pending_cpu *p)
{
    const struct cpuid_leaf_value *leaf0 = NULL, *leaf1 = NULL;

    for (unsigned int i = 0; i < p->nr_leaves; i++) {
        if (p->leaves[i].leaf == 0 && p->leaves[i].subleaf == 0)
            leaf0 = &p->leaves[i];
        if (p->leaves[i].leaf == 1 && p->leaves[i].subleaf == 0)
            leaf1 = &p->leaves[i];
    }
    e->cpu.vendor = leaf0 ? cpuid_vendor_from_leaf0(leaf0->ebx, leaf0->ecx, leaf0->edx)
                          : CPUID_VENDOR_UNKNOWN;
    if (leaf1)
        cpuid_signature_decode(leaf1->eax, &e->cpu.family, &e->cpu.model, &e->cpu.stepping);
    cpuid_featureset_from_leaves(p->leaves, p->nr_leaves, p->arch_caps, &e->cpu.features);
    cpuid_featureset_close(&e->cpu.features);
    e->cpu.name = e->name;
    e->cpu.source = e->source;
}

/* Parse n hex words of exactly 8 digits (or 8/2 for leaf:subleaf) from s. */
static bool parse_hex32(const char *s, size_t len, uint32_t *v)
{
    char buf[9], *end;

    if (len == 0 || len > 8)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (strspn(buf, "0123456789abcdefABCDEF") != len)
        return false;
    *v = (uint32_t)strtoul(buf, &end, 16);
    return true;
}

/* Split line into at most max space-separated tokens. */
static unsigned int split(const char *line, size_t len, const char **tok, size_t *tok_len,
                          unsigned int max)
{
    unsigned int n = 0;
    size_t i = 0;

    while (i < len && n < max) {
        while (i < len && line[i] == ' ')
            i++;
        if (i == len)
            break;
        tok[n] = line + i;
        while (i < len && line[i] != ' ')
            i++;
        tok_len[n] = (size_t)(line + i - tok[n]);
        n++;
    }
    while (i < len && line[i] == ' ')
        i++;
    return i < len ? max + 1 : n;
}

/* A "[CPU NAME]" line: finish the CPU before it and start a new entry in *cur. */
static int corpus_start_cpu(struct cpuid_corpus *corpus, struct pending_cpu *pending,
                            struct corpus_entry **cur, const char *line, size_t line_len,
                            const char *path, unsigned int lineno)
{
    if (line[line_len - 1] != ']' || line_len < 3)
        return mig_error_set(MIG_EFORMAT, "%s:%u: \"%.*s\" is not [CPU NAME]", path, lineno,
                             (int)(line_len > 80 ? 80 : line_len), line);
    if (*cur)
        finish_cpu(*cur, pending);
    if (corpus->count == MAX_CPUS)
        return mig_error_set(MIG_ELIMIT, "%s:%u: more than %u CPUs", path, lineno, MAX_CPUS);
    *cur = &corpus->entries[corpus->count++];
    memset(pending, 0, sizeof(*pending));
    (*cur)->name = strndup(line + 1, line_len - 2);
    if (!(*cur)->name)
        return mig_error_set(MIG_ENOMEM, "out of memory loading '%s'", path);
    return 0;
}

/* The value of a "source = ..." line (the last one counts). */
static int corpus_set_source(struct corpus_entry *cur, const char *value, size_t len,
                             const char *path)
{
    free(cur->source);
    cur->source = strndup(value, len);
    if (!cur->source)
        return mig_error_set(MIG_ENOMEM, "out of memory loading '%s'", path);
    return 0;
}

/* A "leaf ..." or "msr ..." line of the current CPU; any other line is an error. */
static int corpus_add_value(struct pending_cpu *pending, const char *line, size_t line_len,
                            const char *path, unsigned int lineno)
{
    const char *tok[7];
    size_t tok_len[7];
    unsigned int n = split(line, line_len, tok, tok_len, 6);

    if (n == 6 && tok_len[0] == 4 && !strncmp(tok[0], "leaf", 4) && tok_len[1] == 11 &&
        tok[1][8] == ':') {
        struct cpuid_leaf_value v;
        uint32_t sub;

        if (pending->nr_leaves == MAX_LEAVES)
            return mig_error_set(MIG_ELIMIT, "%s:%u: more than %u leaves for one CPU", path,
                                 lineno, MAX_LEAVES);
        if (parse_hex32(tok[1], 8, &v.leaf) && parse_hex32(tok[1] + 9, 2, &sub) &&
            parse_hex32(tok[2], tok_len[2], &v.eax) &&
            parse_hex32(tok[3], tok_len[3], &v.ebx) &&
            parse_hex32(tok[4], tok_len[4], &v.ecx) &&
            parse_hex32(tok[5], tok_len[5], &v.edx)) {
            v.subleaf = sub;
            pending->leaves[pending->nr_leaves++] = v;
            return 0;
        }
    } else if (n == 4 && tok_len[0] == 3 && !strncmp(tok[0], "msr", 3)) {
        uint32_t index, lo, hi;

        if (parse_hex32(tok[1], tok_len[1], &index) && index == 0x10a &&
            parse_hex32(tok[2], tok_len[2], &lo) && parse_hex32(tok[3], tok_len[3], &hi)) {
            pending->arch_caps = ((uint64_t)hi << 32) | lo;
            return 0;
        }
    }
    return mig_error_set(MIG_EFORMAT, "%s:%u: \"%.*s\" is not 'leaf LLLLLLLL:SS EAX EBX "
                         "ECX EDX', 'msr 0000010a LOW HIGH' or 'source = ...'", path, lineno,
                         (int)(line_len > 80 ? 80 : line_len), line);
}

/* Every CPU must say where its dump comes from. */
static int corpus_check_sources(const struct cpuid_corpus *corpus, const char *path)
{
    for (unsigned int i = 0; i < corpus->count; i++)
        if (!corpus->entries[i].source)
            return mig_error_set(MIG_EFORMAT, "%s: CPU '%s' has no 'source = ' line: every "
                                 "CPU records where its dump comes from", path,
                                 corpus->entries[i].name);
    return 0;
}

int cpuid_corpus_load(const char *path, struct cpuid_corpus **out)
{
    struct cpuid_corpus *corpus = NULL;
    struct pending_cpu *pending = NULL;
    const char *cursor, *end, *line;
    char *text = NULL;
    size_t text_len, line_len;
    unsigned int lineno = 0;
    struct corpus_entry *cur = NULL;
    int rc;

    rc = cpuid_read_text_file(path, "CPU corpus", CPUID_MAX_FILE_SIZE, CPUID_READ_REFUSE_NUL,
                              &text, &text_len);
    if (rc)
        return rc;
    corpus = calloc(1, sizeof(*corpus));
    pending = calloc(1, sizeof(*pending));
    if (corpus)
        corpus->entries = calloc(MAX_CPUS, sizeof(*corpus->entries));
    if (!corpus || !pending || !corpus->entries) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory loading '%s'", path);
        goto out;
    }
    cursor = text;
    end = text + text_len;
    while (cpuid_next_line(&cursor, end, &line, &line_len)) {
        lineno++;
        if (line_len == 0 || line[0] == '#')
            continue;
        if (line[0] == '[')
            rc = corpus_start_cpu(corpus, pending, &cur, line, line_len, path, lineno);
        else if (!cur)
            rc = mig_error_set(MIG_EFORMAT, "%s:%u: data before the first [CPU NAME]", path,
                               lineno);
        else if (line_len > 9 && !strncmp(line, "source = ", 9))
            rc = corpus_set_source(cur, line + 9, line_len - 9, path);
        else
            rc = corpus_add_value(pending, line, line_len, path, lineno);
        if (rc)
            goto out;
    }
    if (cur)
        finish_cpu(cur, pending);
    rc = corpus_check_sources(corpus, path);
    if (rc)
        goto out;
    *out = corpus;
    corpus = NULL;
 out:
    free(pending);
    free(text);
    cpuid_corpus_free(corpus);
    return rc;
}

void cpuid_corpus_free(struct cpuid_corpus *corpus)
{
    if (!corpus)
        return;
    for (unsigned int i = 0; corpus->entries && i < corpus->count; i++) {
        free(corpus->entries[i].name);
        free(corpus->entries[i].source);
    }
    free(corpus->entries);
    free(corpus);
}

unsigned int cpuid_corpus_count(const struct cpuid_corpus *corpus)
{
    return corpus ? corpus->count : 0;
}

const struct cpuid_corpus_cpu *cpuid_corpus_get(const struct cpuid_corpus *corpus,
                                                unsigned int i)
{
    return corpus && i < corpus->count ? &corpus->entries[i].cpu : NULL;
}

const struct cpuid_corpus_cpu *cpuid_corpus_find(const struct cpuid_corpus *corpus,
                                                 const char *name)
{
    for (unsigned int i = 0; corpus && name && i < corpus->count; i++)
        if (!strcasecmp(corpus->entries[i].name, name))
            return &corpus->entries[i].cpu;
    return NULL;
}
