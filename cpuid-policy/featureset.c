/*
 * featureset.c: Xen 4.17 featuresets: names, set operations, closure under
 * Xen's dependencies, the bits of OS state, the three text syntaxes (names,
 * hex words, libxl's cpuid= string) and the mapping from raw CPUID leaves.
 *
 * Facts come from the generated feature_table.c only.  This file must never
 * trust a length or a count from its input, and never print: errors go to
 * mig_error_set() quoting the offending token and the whole input.
 */
#include "config.h"

#include <ctype.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuid_policy.h"
#include "mig_error.h"

/* Longest feature name we look up; anything longer is unknown. */
#define NAME_MAX_LEN 63
/* How much of an input an error message quotes. */
#define QUOTE_MAX 160

/* Quote at most QUOTE_MAX characters of s, with "..." when cut. */
static const char *quote_input(const char *s, char buf[QUOTE_MAX + 4])
{
    size_t len = strlen(s);

    if (len <= QUOTE_MAX)
        return s;
    memcpy(buf, s, QUOTE_MAX);
    memcpy(buf + QUOTE_MAX, "...", 4);
    return buf;
}

/* Lower case, '_' and '.' as '-'; false if too long. */
static bool normalise_name(const char *name, size_t len, char out[NAME_MAX_LEN + 1])
{
    if (len == 0 || len > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = (char)tolower((unsigned char)name[i]);
        out[i] = (c == '_' || c == '.') ? '-' : c;
    }
    out[len] = '\0';
    return true;
}

/* Spellings libxl kept from before it used Xen's names. */
static const struct { const char *alias, *name; } legacy_aliases[] = {
    { "aes", "aesni" },
    { "lahfsahf", "lahf-lm" },
};

/*
 * Find a feature.  Xen's own name wins; then xen-cpuid's spelling among
 * Xen-defined features; then names only xen-cpuid knows.  On ambiguity
 * returns NULL and fills candidates[0..1].
 */
static const struct cpuid_feature_info *
lookup_with_candidates(const char *name, size_t len, const struct cpuid_feature_info *cand[2],
                       bool *ambiguous)
{
    char norm[NAME_MAX_LEN + 1], lower[NAME_MAX_LEN + 1];
    const struct cpuid_feature_info *found = NULL;
    unsigned int pass, hits;

    *ambiguous = false;
    cand[0] = cand[1] = NULL;
    if (!normalise_name(name, len, norm))
        return NULL;
    for (size_t i = 0; i < len; i++)
        lower[i] = (char)tolower((unsigned char)name[i]);
    lower[len] = '\0';

    for (unsigned int i = 0; i < sizeof(legacy_aliases) / sizeof(legacy_aliases[0]); i++)
        if (!strcmp(norm, legacy_aliases[i].alias))
            strcpy(norm, legacy_aliases[i].name);

    for (unsigned int i = 0; i < cpuid_features_count; i++)
        if (cpuid_features[i].xen_defined && !strcmp(cpuid_features[i].name, norm))
            return &cpuid_features[i];

    for (pass = 1; pass <= 2; pass++) {
        unsigned int want_defined = pass == 1;

        hits = 0;
        for (unsigned int i = 0; i < cpuid_features_count; i++) {
            const struct cpuid_feature_info *f = &cpuid_features[i];

            if (f->xen_defined != want_defined || !f->xen_cpuid_name)
                continue;
            if (strcmp(f->xen_cpuid_name, lower) && strcmp(f->xen_cpuid_name, norm))
                continue;
            if (hits < 2)
                cand[hits] = f;
            hits++;
            found = f;
        }
        if (hits == 1)
            return found;
        if (hits > 1) {
            *ambiguous = true;
            return NULL;
        }
    }
    return NULL;
}

const struct cpuid_feature_info *cpuid_feature_lookup(const char *name, size_t len,
                                                      bool *ambiguous)
{
    const struct cpuid_feature_info *cand[2];
    bool amb;
    const struct cpuid_feature_info *f = lookup_with_candidates(name, len, cand, &amb);

    if (ambiguous)
        *ambiguous = amb;
    return f;
}

const struct cpuid_feature_info *cpuid_feature_by_index(unsigned int index)
{
    for (unsigned int i = 0; i < cpuid_features_count; i++)
        if (cpuid_features[i].word * 32 + cpuid_features[i].bit == index)
            return &cpuid_features[i];
    return NULL;
}

void cpuid_featureset_intersect(struct cpuid_featureset *out,
                                const struct cpuid_featureset *a,
                                const struct cpuid_featureset *b)
{
    for (unsigned int i = 0; i < CPUID_FEATURESET_WORDS; i++)
        out->words[i] = a->words[i] & b->words[i];
}

void cpuid_featureset_subtract(struct cpuid_featureset *out,
                               const struct cpuid_featureset *a,
                               const struct cpuid_featureset *b)
{
    for (unsigned int i = 0; i < CPUID_FEATURESET_WORDS; i++)
        out->words[i] = a->words[i] & ~b->words[i];
}

bool cpuid_featureset_is_subset(const struct cpuid_featureset *needed,
                                const struct cpuid_featureset *have)
{
    for (unsigned int i = 0; i < CPUID_FEATURESET_WORDS; i++)
        if (needed->words[i] & ~have->words[i])
            return false;
    return true;
}

bool cpuid_featureset_is_empty(const struct cpuid_featureset *fs)
{
    for (unsigned int i = 0; i < CPUID_FEATURESET_WORDS; i++)
        if (fs->words[i])
            return false;
    return true;
}

unsigned int cpuid_featureset_count(const struct cpuid_featureset *fs)
{
    unsigned int n = 0;

    for (unsigned int i = 0; i < CPUID_FEATURESET_WORDS; i++)
        n += (unsigned int)__builtin_popcount(fs->words[i]);
    return n;
}

unsigned int cpuid_featureset_close(struct cpuid_featureset *fs)
{
    unsigned int cleared = 0;
    bool changed;

    do {
        changed = false;
        for (unsigned int i = 0; i < cpuid_feature_dependencies_count; i++) {
            const struct cpuid_feature_dependency *d = &cpuid_feature_dependencies[i];

            if (!cpuid_featureset_test(fs, d->prerequisite) &&
                cpuid_featureset_test(fs, d->dependent)) {
                cpuid_featureset_clear(fs, d->dependent);
                cleared++;
                changed = true;
            }
        }
    } while (changed);
    return cleared;
}

void cpuid_featureset_disable(struct cpuid_featureset *fs, unsigned int index)
{
    cpuid_featureset_clear(fs, index);
    cpuid_featureset_close(fs);
}

/*
 * The bits that describe the running OS or the machine under it, not the
 * CPU (cpuid_policy.h): CR4.OSXSAVE and CR4.PKE as the OS set them, and
 * "running under a hypervisor".  Xen decides all three in a guest.
 */
const char *const cpuid_os_state_feature_names[] = { "osxsave", "ospke", "hypervisor" };
const unsigned int cpuid_os_state_feature_count =
    sizeof(cpuid_os_state_feature_names) / sizeof(cpuid_os_state_feature_names[0]);

void cpuid_featureset_os_state(struct cpuid_featureset *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned int i = 0; i < cpuid_os_state_feature_count; i++) {
        const char *name = cpuid_os_state_feature_names[i];
        const struct cpuid_feature_info *f = cpuid_feature_lookup(name, strlen(name), NULL);

        if (f)
            cpuid_featureset_set(out, f->word * 32 + f->bit);
    }
}

bool cpuid_feature_is_os_state(unsigned int index)
{
    struct cpuid_featureset os;

    cpuid_featureset_os_state(&os);
    return cpuid_featureset_test(&os, index);
}

unsigned int cpuid_featureset_drop_os_state(struct cpuid_featureset *fs)
{
    struct cpuid_featureset os, had;

    cpuid_featureset_os_state(&os);
    cpuid_featureset_intersect(&had, fs, &os);
    cpuid_featureset_subtract(fs, fs, &os);
    return cpuid_featureset_count(&had);
}

int cpuid_featureset_parse_hex(const char *text, unsigned int flags,
                               struct cpuid_featureset *out)
{
    struct cpuid_featureset fs = { { 0 } };
    char qbuf[QUOTE_MAX + 4];
    const char *p = text, *q = quote_input(text, qbuf);
    unsigned int word = 0;

    while (isspace((unsigned char)*p))
        p++;
    for (;;) {
        unsigned int digits = 0;
        uint32_t value = 0;

        while (isxdigit((unsigned char)p[digits])) {
            int c = tolower((unsigned char)p[digits]);

            value = (value << 4) | (uint32_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
            digits++;
            if (digits > 8)
                return mig_error_set(MIG_EINVAL,
                                     "word %u of \"%s\" has more than 8 hex digits: "
                                     "a featureset word is 32 bits", word, q);
        }
        if (digits == 0)
            return mig_error_set(MIG_EINVAL,
                                 "word %u of \"%s\" is not hex (at offset %zu): write "
                                 "colon-separated hex words as xen-cpuid prints them",
                                 word, q, (size_t)(p - text));
        if (word >= CPUID_FEATURESET_WORDS)
            return mig_error_set(MIG_ELIMIT,
                                 "\"%s\" has more than %u words: a Xen 4.17 featureset "
                                 "has %u", q, CPUID_FEATURESET_WORDS, CPUID_FEATURESET_WORDS);
        fs.words[word++] = value;
        p += digits;
        if (*p == ':') {
            p++;
            continue;
        }
        while (isspace((unsigned char)*p))
            p++;
        if (*p != '\0')
            return mig_error_set(MIG_EINVAL,
                                 "unexpected '%c' at offset %zu of \"%s\": words are "
                                 "separated by ':'", *p, (size_t)(p - text), q);
        break;
    }
    if (word != CPUID_FEATURESET_WORDS && !(flags & CPUID_PARSE_ALLOW_SHORT))
        return mig_error_set(MIG_EINVAL,
                             "\"%s\" has %u words: a Xen 4.17 featureset has %u "
                             "(pad with :00000000)", q, word, CPUID_FEATURESET_WORDS);
    *out = fs;
    return 0;
}

/* "w5b13": an unnamed bit.  Returns true and the index if tok is one. */
static bool parse_raw_bit(const char *tok, size_t len, unsigned int *index)
{
    unsigned int word = 0, bit = 0;
    size_t i = 1;

    if (len < 4 || tok[0] != 'w')
        return false;
    for (; i < len && isdigit((unsigned char)tok[i]) && word < 1000; i++)
        word = word * 10 + (unsigned int)(tok[i] - '0');
    if (i == 1 || i >= len || tok[i] != 'b')
        return false;
    if (++i >= len)
        return false;
    for (; i < len && isdigit((unsigned char)tok[i]) && bit < 1000; i++)
        bit = bit * 10 + (unsigned int)(tok[i] - '0');
    if (i != len || word >= CPUID_FEATURESET_WORDS || bit >= 32)
        return false;
    *index = word * 32 + bit;
    return true;
}

/* Resolve one token to a bit index, or fail quoting it and the input. */
static int resolve_token(const char *tok, size_t len, const char *input, unsigned int *index)
{
    const struct cpuid_feature_info *cand[2], *f;
    char qbuf[QUOTE_MAX + 4];
    bool ambiguous;
    int shown = len > NAME_MAX_LEN ? NAME_MAX_LEN : (int)len;

    if (parse_raw_bit(tok, len, index))
        return 0;
    f = lookup_with_candidates(tok, len, cand, &ambiguous);
    if (f) {
        *index = f->word * 32 + f->bit;
        return 0;
    }
    if (ambiguous)
        return mig_error_set(MIG_EINVAL,
                             "ambiguous feature '%.*s' in \"%s\": xen-cpuid uses it for "
                             "'%s' and '%s'; write one of those", shown, tok,
                             quote_input(input, qbuf), cand[0]->name, cand[1]->name);
    return mig_error_set(MIG_EINVAL,
                         "unknown feature '%.*s' in \"%s\": run 'xl-ext cpuid-policy "
                         "features' to list names", shown, tok, quote_input(input, qbuf));
}

/* A set bit whose prerequisite is absent: fail naming both. */
static int check_closed(const struct cpuid_featureset *fs, const char *input)
{
    char qbuf[QUOTE_MAX + 4];

    for (unsigned int i = 0; i < cpuid_feature_dependencies_count; i++) {
        const struct cpuid_feature_dependency *d = &cpuid_feature_dependencies[i];

        if (cpuid_featureset_test(fs, d->dependent) &&
            !cpuid_featureset_test(fs, d->prerequisite)) {
            const struct cpuid_feature_info *dep = cpuid_feature_by_index(d->dependent);
            const struct cpuid_feature_info *pre = cpuid_feature_by_index(d->prerequisite);

            return mig_error_set(MIG_EINVAL,
                                 "feature '%s' in \"%s\" needs '%s', which is not listed: "
                                 "add '%s' (Xen's dependency rules)",
                                 dep ? dep->name : "?", quote_input(input, qbuf),
                                 pre ? pre->name : "?", pre ? pre->name : "?");
        }
    }
    return 0;
}

int cpuid_featureset_parse_names(const char *text, struct cpuid_featureset *out)
{
    struct cpuid_featureset fs = { { 0 } };
    const char *p = text;
    int rc;

    for (;;) {
        size_t len = 0;
        unsigned int index;

        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        while (p[len] && p[len] != ',' && !isspace((unsigned char)p[len]))
            len++;
        rc = resolve_token(p, len, text, &index);
        if (rc)
            goto out;
        cpuid_featureset_set(&fs, index);
        p += len;
    }
    rc = check_closed(&fs, text);
    if (rc)
        goto out;
    *out = fs;
    rc = 0;
 out:
    return rc;
}

/*
 * One NAME=0 / NAME=1 item (len bytes at p) of libxl's cpuid= string
 * `text`: the bit joins *set or *cleared (the last item for a bit wins).
 */
static int libxl_apply_item(const char *p, size_t len, const char *text,
                            struct cpuid_featureset *set, struct cpuid_featureset *cleared)
{
    char qbuf[QUOTE_MAX + 4];
    const char *eq = memchr(p, '=', len);
    size_t name_len;
    unsigned int index;
    int rc;

    if (!eq)
        return mig_error_set(MIG_EINVAL, "item '%.*s' of \"%s\" has no '=': write NAME=0 or "
                             "NAME=1", (int)(len > 64 ? 64 : len), p, quote_input(text, qbuf));
    name_len = (size_t)(eq - p);
    if (memchr(p, ':', name_len))
        return mig_error_set(MIG_EUNSUPP, "raw leaf item '%.*s' of \"%s\" is not supported: "
                             "use feature names", (int)(len > 64 ? 64 : len), p,
                             quote_input(text, qbuf));
    /* libxl's own table: "clflush" is leaf 1 EBX's line-size field there, and
     * the CLFLUSH feature bit is "clfsh". */
    if (name_len == 7 && !strncmp(p, "clflush", 7))
        return mig_error_set(MIG_EUNSUPP, "in libxl's cpuid= syntax 'clflush' of \"%s\" is the "
                             "CLFLUSH line size field, not the feature: write clfsh for the "
                             "feature", quote_input(text, qbuf));
    if (name_len == 5 && !strncmp(p, "clfsh", 5))
        rc = resolve_token("clflush", 7, text, &index);
    else
        rc = resolve_token(p, name_len, text, &index);
    if (rc)
        return rc;
    if (len - name_len == 2 && eq[1] == '1') {
        cpuid_featureset_set(set, index);
        cpuid_featureset_clear(cleared, index);
    } else if (len - name_len == 2 && eq[1] == '0') {
        cpuid_featureset_set(cleared, index);
        cpuid_featureset_clear(set, index);
    } else {
        return mig_error_set(MIG_EUNSUPP, "value of '%.*s' in \"%s\" is not 0 or 1: libxl's "
                             "per-bit x/k/s forms are not supported here",
                             (int)(len > 64 ? 64 : len), p, quote_input(text, qbuf));
    }
    return 0;
}

/* The leading "host" item: start from *host. */
static int libxl_apply_host(bool first, const struct cpuid_featureset *host, const char *text,
                            struct cpuid_featureset *fs)
{
    char qbuf[QUOTE_MAX + 4];

    if (!first)
        return mig_error_set(MIG_EINVAL, "'host' must come first in \"%s\"",
                             quote_input(text, qbuf));
    if (!host)
        return mig_error_set(MIG_EMISSING, "\"%s\" starts from 'host' but no host "
                             "featureset was given", quote_input(text, qbuf));
    *fs = *host;
    return 0;
}

int cpuid_featureset_parse_libxl(const char *text, const struct cpuid_featureset *host,
                                 struct cpuid_featureset *out)
{
    struct cpuid_featureset fs = { { 0 } }, set = { { 0 } }, cleared = { { 0 } };
    char qbuf[QUOTE_MAX + 4];
    const char *p = text;
    bool first = true;
    int rc;

    for (;; first = false) {
        size_t len = 0;

        while (isspace((unsigned char)*p))
            p++;
        while (p[len] && p[len] != ',')
            len++;
        while (len && isspace((unsigned char)p[len - 1]))
            len--;
        if (len == 0) {
            if (!*p && !first)
                break;
            return mig_error_set(MIG_EINVAL, "empty item at offset %zu of \"%s\": write "
                                 "\"host,NAME=0,NAME=1...\"", (size_t)(p - text),
                                 quote_input(text, qbuf));
        }
        if (len == 4 && !strncmp(p, "host", 4))
            rc = libxl_apply_host(first, host, text, &fs);
        else
            rc = libxl_apply_item(p, len, text, &set, &cleared);
        if (rc)
            return rc;
        p += len;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == ',')
            p++;
        else if (!*p)
            break;
    }
    for (unsigned int i = 0; i < CPUID_FEATURESET_WORDS; i++)
        fs.words[i] |= set.words[i];
    for (unsigned int i = 0; i < CPUID_FEATURESET_BITS; i++)
        if (cpuid_featureset_test(&cleared, i))
            cpuid_featureset_disable(&fs, i);
    cpuid_featureset_close(&fs);
    *out = fs;
    return 0;
}

void cpuid_featureset_format_hex(const struct cpuid_featureset *fs,
                                 char buf[CPUID_FEATURESET_HEX_LEN])
{
    char *p = buf;

    for (unsigned int i = 0; i < CPUID_FEATURESET_WORDS; i++) {
        snprintf(p, 10, "%08x%s", fs->words[i], i + 1 < CPUID_FEATURESET_WORDS ? ":" : "");
        p += i + 1 < CPUID_FEATURESET_WORDS ? 9 : 8;
    }
}

int cpuid_featureset_format_names(const struct cpuid_featureset *fs,
                                  enum cpuid_name_style style,
                                  const char *separator, char **out)
{
    size_t cap = 256, used = 0, seplen = strlen(separator);
    char *buf = malloc(cap), *grown;
    int rc;

    if (!buf)
        return mig_error_set(MIG_ENOMEM, "out of memory formatting a featureset");
    buf[0] = '\0';
    for (unsigned int i = 0; i < CPUID_FEATURESET_BITS; i++) {
        const struct cpuid_feature_info *f;
        const char *name;
        char raw[16];
        size_t need;

        if (!cpuid_featureset_test(fs, i))
            continue;
        f = cpuid_feature_by_index(i);
        if (f && style == CPUID_NAMES_XEN_CPUID && f->xen_cpuid_name)
            name = f->xen_cpuid_name;
        else if (f && f->xen_defined)
            name = f->name;
        else {
            /* Not a Xen feature (e.g. AMD's copies of word 0 in word 2). */
            snprintf(raw, sizeof(raw), "w%ub%u", i / 32, i % 32);
            name = raw;
        }
        need = used + (used ? seplen : 0) + strlen(name) + 1;
        if (need > cap) {
            while (cap < need)
                cap *= 2;
            grown = realloc(buf, cap);
            if (!grown) {
                rc = mig_error_set(MIG_ENOMEM, "out of memory formatting a featureset");
                goto out;
            }
            buf = grown;
        }
        if (used) {
            memcpy(buf + used, separator, seplen);
            used += seplen;
        }
        memcpy(buf + used, name, strlen(name) + 1);
        used += strlen(name);
    }
    *out = buf;
    buf = NULL;
    rc = 0;
 out:
    free(buf);
    return rc;
}

static const struct cpuid_leaf_value *find_leaf(const struct cpuid_leaf_value *leaves,
                                                size_t count, uint32_t leaf, uint32_t subleaf)
{
    uint32_t range_base = leaf & 0xffff0000u;
    const struct cpuid_leaf_value *max = NULL;

    for (size_t i = 0; i < count; i++)
        if (leaves[i].leaf == range_base && leaves[i].subleaf == 0)
            max = &leaves[i];
    /* A leaf beyond the range's maximum reads as zero, whatever a dump says. */
    if (max && leaf > max->eax)
        return NULL;
    for (size_t i = 0; i < count; i++)
        if (leaves[i].leaf == leaf && leaves[i].subleaf == subleaf)
            return &leaves[i];
    return NULL;
}

void cpuid_featureset_from_leaves(const struct cpuid_leaf_value *leaves, size_t count,
                                  uint64_t arch_caps, struct cpuid_featureset *out)
{
    /* Word -> (leaf, subleaf, register 0..3 = eax..edx), cpufeatureset.h. */
    static const struct { uint32_t leaf, subleaf; unsigned int reg; } map[] = {
        { 0x00000001, 0, 3 }, { 0x00000001, 0, 2 }, { 0x80000001, 0, 3 },
        { 0x80000001, 0, 2 }, { 0x0000000d, 1, 0 }, { 0x00000007, 0, 1 },
        { 0x00000007, 0, 2 }, { 0x80000007, 0, 3 }, { 0x80000008, 0, 1 },
        { 0x00000007, 0, 3 }, { 0x00000007, 1, 0 }, { 0x80000021, 0, 0 },
        { 0x00000007, 1, 1 }, { 0x00000007, 2, 3 }, { 0x00000007, 1, 2 },
        { 0x00000007, 1, 3 }, { 0, 0, 4 /* MSR_ARCH_CAPS low */ },
        { 0, 0, 5 /* MSR_ARCH_CAPS high */ }, { 0x80000021, 0, 2 },
    };

    _Static_assert(sizeof(map) / sizeof(map[0]) == CPUID_FEATURESET_WORDS,
                   "one leaf per featureset word");
    for (unsigned int w = 0; w < CPUID_FEATURESET_WORDS; w++) {
        const struct cpuid_leaf_value *l;
        uint32_t regs[4];

        if (map[w].reg == 4) {
            out->words[w] = (uint32_t)arch_caps;
            continue;
        }
        if (map[w].reg == 5) {
            out->words[w] = (uint32_t)(arch_caps >> 32);
            continue;
        }
        l = find_leaf(leaves, count, map[w].leaf, map[w].subleaf);
        if (!l) {
            out->words[w] = 0;
            continue;
        }
        regs[0] = l->eax;
        regs[1] = l->ebx;
        regs[2] = l->ecx;
        regs[3] = l->edx;
        out->words[w] = regs[map[w].reg];
    }
}

const char *cpuid_vendor_name(enum cpuid_vendor vendor)
{
    switch (vendor) {
    case CPUID_VENDOR_INTEL: return "intel";
    case CPUID_VENDOR_AMD:   return "amd";
    case CPUID_VENDOR_HYGON: return "hygon";
    default:                 return "unknown";
    }
}

enum cpuid_vendor cpuid_vendor_parse(const char *name)
{
    if (!name)
        return CPUID_VENDOR_UNKNOWN;
    if (!strcasecmp(name, "intel") || !strcmp(name, "GenuineIntel"))
        return CPUID_VENDOR_INTEL;
    if (!strcasecmp(name, "amd") || !strcmp(name, "AuthenticAMD"))
        return CPUID_VENDOR_AMD;
    if (!strcasecmp(name, "hygon") || !strcmp(name, "HygonGenuine"))
        return CPUID_VENDOR_HYGON;
    return CPUID_VENDOR_UNKNOWN;
}

enum cpuid_vendor cpuid_vendor_from_leaf0(uint32_t ebx, uint32_t ecx, uint32_t edx)
{
    char id[13];

    memcpy(id, &ebx, 4);
    memcpy(id + 4, &edx, 4);
    memcpy(id + 8, &ecx, 4);
    id[12] = '\0';
    return cpuid_vendor_parse(id);
}

void cpuid_signature_decode(uint32_t eax, unsigned int *family, unsigned int *model,
                            unsigned int *stepping)
{
    unsigned int fam = (eax >> 8) & 0xf, mod = (eax >> 4) & 0xf;

    if (fam == 0xf)
        fam += (eax >> 20) & 0xff;
    if (fam >= 6)
        mod |= ((eax >> 16) & 0xf) << 4;
    *family = fam;
    *model = mod;
    *stepping = eax & 0xf;
}
