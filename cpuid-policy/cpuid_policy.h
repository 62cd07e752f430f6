/*
 * cpuid_policy.h: the CPU side of the cpuid-policy library: Xen 4.17
 * featuresets, named baselines, host descriptions, cluster baselines and the
 * domain pre-flight check.
 *
 * Conventions (libgit2 style, see mig_error.h): every function that can fail
 * returns 0 or a negative MIG_E* code and leaves a message quoting the
 * offending input in mig_error_last().  Out-parameters are written only on
 * success; who frees them is stated above each function.  Nothing here
 * prints; the CLI (xl-ext/cmd_cpuid_policy*.c) does.
 *
 * The vGPU side (gpu_level.h, domain_config.h) is a separate room; a host
 * description keeps its "gpu" object and any unknown key untouched so that
 * side can read and write it.
 */
#ifndef XENMIG_CPUID_POLICY_H
#define XENMIG_CPUID_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* Featureset model                                                     */
/* ------------------------------------------------------------------ */

/* Words in a Xen 4.17 featureset (FEATURESET_NR_ENTRIES of gen-cpuid.py). */
#define CPUID_FEATURESET_WORDS 19
#define CPUID_FEATURESET_BITS  (CPUID_FEATURESET_WORDS * 32)
/* "xxxxxxxx:" per word, the last without ':', plus NUL. */
#define CPUID_FEATURESET_HEX_LEN (CPUID_FEATURESET_WORDS * 9)

/* A featureset: bit (word*32 + bit) set = feature present. */
struct cpuid_featureset {
    uint32_t words[CPUID_FEATURESET_WORDS];
};

/* One row of the generated feature table (feature_table.c). */
struct cpuid_feature_info {
    const char *name;           /* Xen's name: cpufeatureset.h lower case, '_' as '-'
                                 * (what libxl's cpuid= and Xen's command line take) */
    const char *xen_cpuid_name; /* what xen-cpuid 4.17 prints, or NULL */
    unsigned int word, bit;
    const char *attributes;     /* header attribute letters ("A", "!a", "S"...) */
    unsigned int xen_defined;   /* 1: in cpufeatureset.h; 0: a name only xen-cpuid prints */
};

/* Xen's direct dependency: clearing `prerequisite` clears `dependent`. */
struct cpuid_feature_dependency {
    unsigned int prerequisite, dependent;   /* word*32 + bit */
};

extern const struct cpuid_feature_info cpuid_features[];
extern const unsigned int cpuid_features_count;
extern const struct cpuid_feature_dependency cpuid_feature_dependencies[];
extern const unsigned int cpuid_feature_dependencies_count;
/* What each word holds ("Intel, CPUID level 0x00000001.edx"). */
extern const char *const cpuid_featureset_word_names[CPUID_FEATURESET_WORDS];

/*
 * Look a feature name up.  Accepted spellings: Xen's name ("sse4-2"), the
 * header spelling ("sse4_2", "SSE4_2"), libxl's dotted one ("sse4.2") and
 * xen-cpuid's ("sse42").  A name xen-cpuid uses for two Xen features (e.g.
 * "ppin") is ambiguous.  Returns the table row (static, never freed), or
 * NULL with *ambiguous set to whether the name was ambiguous.
 */
const struct cpuid_feature_info *cpuid_feature_lookup(const char *name, size_t len,
                                                      bool *ambiguous);

/* The table row of bit index (word*32+bit), NULL if the bit is unnamed. */
const struct cpuid_feature_info *cpuid_feature_by_index(unsigned int index);

static inline bool cpuid_featureset_test(const struct cpuid_featureset *fs, unsigned int index)
{
    return index < CPUID_FEATURESET_BITS &&
           (fs->words[index / 32] >> (index % 32)) & 1;
}
static inline void cpuid_featureset_set(struct cpuid_featureset *fs, unsigned int index)
{
    if (index < CPUID_FEATURESET_BITS)
        fs->words[index / 32] |= UINT32_C(1) << (index % 32);
}
static inline void cpuid_featureset_clear(struct cpuid_featureset *fs, unsigned int index)
{
    if (index < CPUID_FEATURESET_BITS)
        fs->words[index / 32] &= ~(UINT32_C(1) << (index % 32));
}

/* out = a & b.  out may alias a or b. */
void cpuid_featureset_intersect(struct cpuid_featureset *out,
                                const struct cpuid_featureset *a,
                                const struct cpuid_featureset *b);
/* out = a & ~b (what a has that b lacks).  out may alias a or b. */
void cpuid_featureset_subtract(struct cpuid_featureset *out,
                               const struct cpuid_featureset *a,
                               const struct cpuid_featureset *b);
/* true if every feature of `needed` is in `have`. */
bool cpuid_featureset_is_subset(const struct cpuid_featureset *needed,
                                const struct cpuid_featureset *have);
bool cpuid_featureset_is_empty(const struct cpuid_featureset *fs);
unsigned int cpuid_featureset_count(const struct cpuid_featureset *fs);

/*
 * Clear every feature whose prerequisite (transitively) is absent, so that
 * fs is closed under Xen's dependencies.  Returns how many bits it cleared.
 */
unsigned int cpuid_featureset_close(struct cpuid_featureset *fs);

/* Clear feature `index` and everything that depends on it. */
void cpuid_featureset_disable(struct cpuid_featureset *fs, unsigned int index);

/* Flags of the parsers. */
#define CPUID_PARSE_ALLOW_SHORT 0x1u  /* hex: fewer than 19 words, the rest zero */

/*
 * Parse Xen's colon-separated hex words ("178bfbff:f6f83203:...", as
 * xen-cpuid prints and takes).  Exactly CPUID_FEATURESET_WORDS words unless
 * CPUID_PARSE_ALLOW_SHORT.  The result is not closed: it is what was written.
 */
int cpuid_featureset_parse_hex(const char *text, unsigned int flags,
                               struct cpuid_featureset *out);

/*
 * Parse a list of feature names separated by commas and/or white space
 * ("sse4_2, avx2 fma").  "w5b13" names an unnamed bit (word 5, bit 13).
 * The result is closed under the dependencies (a feature listed without its
 * prerequisite is an error, quoting both).
 */
int cpuid_featureset_parse_names(const char *text, struct cpuid_featureset *out);

/*
 * Parse libxl's cpuid= string syntax: "host,avx512f=0,sse4_2=1".  The
 * leading "host" starts from *host (required then; without "host" the
 * start is the empty set); NAME=0 clears the feature and its dependents,
 * NAME=1 sets it; libxl's per-bit 'x'/'k'/'s' and raw leaf syntax are
 * refused (MIG_EUNSUPP).  Names as libxl 4.17 reads them: "clfsh" is the
 * CLFLUSH feature, "clflush" (libxl's line-size field) is refused.  The
 * result is closed.
 */
int cpuid_featureset_parse_libxl(const char *text, const struct cpuid_featureset *host,
                                 struct cpuid_featureset *out);

/* Write fs as 19 colon-separated hex words into buf (never fails). */
void cpuid_featureset_format_hex(const struct cpuid_featureset *fs,
                                 char buf[CPUID_FEATURESET_HEX_LEN]);

enum cpuid_name_style {
    CPUID_NAMES_XEN,        /* Xen's names, libxl's cpuid= accepts them */
    CPUID_NAMES_XEN_CPUID,  /* xen-cpuid 4.17's spelling */
};

/*
 * Format the features of fs as names separated by `separator`, in bit
 * order.  Bits that are not Xen features come out as "w<word>b<bit>" in
 * CPUID_NAMES_XEN style (so the list parses back to the same bits); in
 * CPUID_NAMES_XEN_CPUID style a bit xen-cpuid names gets that name.  *out is
 * malloc'ed, the caller frees it.
 */
int cpuid_featureset_format_names(const struct cpuid_featureset *fs,
                                  enum cpuid_name_style style,
                                  const char *separator, char **out);

/* A CPUID leaf as read from the CPU (or a dump of one). */
struct cpuid_leaf_value {
    uint32_t leaf, subleaf;
    uint32_t eax, ebx, ecx, edx;
};

/*
 * Build a featureset from raw CPUID leaves (and MSR_ARCH_CAPS, 0 if
 * unknown), mapping each word to its leaf/register as cpufeatureset.h
 * says.  Leaves absent from the array read as zero.
 */
void cpuid_featureset_from_leaves(const struct cpuid_leaf_value *leaves, size_t count,
                                  uint64_t arch_caps, struct cpuid_featureset *out);

/* ------------------------------------------------------------------ */
/* CPU identity                                                         */
/* ------------------------------------------------------------------ */

enum cpuid_vendor {
    CPUID_VENDOR_UNKNOWN = 0,
    CPUID_VENDOR_INTEL,
    CPUID_VENDOR_AMD,
    CPUID_VENDOR_HYGON,
};

/* "intel", "amd", "hygon", "unknown"; never NULL. */
const char *cpuid_vendor_name(enum cpuid_vendor vendor);
/* Parse a name as above (case-insensitive); CPUID_VENDOR_UNKNOWN if not one. */
enum cpuid_vendor cpuid_vendor_parse(const char *name);
/* Vendor from leaf 0's ebx/edx/ecx. */
enum cpuid_vendor cpuid_vendor_from_leaf0(uint32_t ebx, uint32_t ecx, uint32_t edx);
/* Family/model/stepping from leaf 1's eax (extended fields applied). */
void cpuid_signature_decode(uint32_t eax, unsigned int *family, unsigned int *model,
                            unsigned int *stepping);

/* ------------------------------------------------------------------ */
/* Named levels (data files, cpuid-policy/data/levels/NAME.level)       */
/* ------------------------------------------------------------------ */

struct cpuid_level {
    const char *name;       /* "x86-64-v3", "intel-skylake", "amd-zen2" */
    const char *family;     /* ordering family: "x86-64", "intel" or "amd" */
    unsigned int rank;      /* order inside the family, higher = newer */
    enum cpuid_vendor vendor; /* CPUID_VENDOR_UNKNOWN for vendor-neutral levels */
    const char *source;     /* where the facts come from */
    struct cpuid_featureset features; /* closed; a level constrains only these */
};

/* Opaque set of loaded levels. */
struct cpuid_level_set;

/*
 * The directory named levels are read from: $XENMIG_CPUID_LEVELS_DIR if
 * set, else the installed pkgdatadir/levels if it exists, else the source
 * tree's cpuid-policy/data/levels.  Static string, never freed.
 */
const char *cpuid_levels_default_dir(void);

/*
 * Load every *.level file of dir (NULL: the default dir) into *out, which
 * the caller frees with cpuid_level_set_free().  A malformed file fails the
 * whole load with the file, line and token quoted.
 */
int cpuid_level_set_load(const char *dir, struct cpuid_level_set **out);
void cpuid_level_set_free(struct cpuid_level_set *set);
unsigned int cpuid_level_set_count(const struct cpuid_level_set *set);
/* Levels sorted by family, then rank; owned by the set. */
const struct cpuid_level *cpuid_level_set_get(const struct cpuid_level_set *set,
                                              unsigned int index);
/*
 * The bits named levels constrain: the union of every level's features
 * (a level never constrains a bit outside it: README "Named levels").
 */
void cpuid_level_set_universe(const struct cpuid_level_set *set, struct cpuid_featureset *out);
/* By name (case-insensitive); NULL if unknown.  Owned by the set. */
const struct cpuid_level *cpuid_level_set_find(const struct cpuid_level_set *set,
                                               const char *name);
/*
 * The highest-ranked level of `family` whose features are all in fs and
 * whose vendor (if any) is `vendor`; NULL if none.  Owned by the set.
 */
const struct cpuid_level *cpuid_level_set_highest(const struct cpuid_level_set *set,
                                                  const char *family,
                                                  enum cpuid_vendor vendor,
                                                  const struct cpuid_featureset *fs);

/* ------------------------------------------------------------------ */
/* Host descriptions (HOST.json, see README "Host file format")         */
/* ------------------------------------------------------------------ */

#define CPUID_HOST_SCHEMA_VERSION 1

enum cpuid_host_policy {
    CPUID_HOST_POLICY_HOST = 0, /* what the hardware + Xen offer ("host") */
    CPUID_HOST_POLICY_PV_MAX,   /* the most a PV guest may get ("pv_max") */
    CPUID_HOST_POLICY_HVM_MAX,  /* the most an HVM/PVH guest may get ("hvm_max") */
    CPUID_HOST_POLICY_COUNT
};

/* Opaque host description. */
struct cpuid_host;

/*
 * Parse a host JSON document of `len` bytes; `origin` names it in errors
 * (a file name).  *out is freed with cpuid_host_free().  Unknown keys and
 * the "gpu" object are kept as they are.
 */
int cpuid_host_parse(const char *text, size_t len, const char *origin,
                     struct cpuid_host **out);
/* As cpuid_host_parse() on the contents of the file at path. */
int cpuid_host_read_file(const char *path, struct cpuid_host **out);

/*
 * Describe this machine: on a Xen host, the host/PV max/HVM max policies
 * from libxenguest (source "xen"); elsewhere the CPU's own CPUID read with
 * the cpuid instruction (source "native-cpuid", all three featuresets the
 * same).  logger may be NULL.  *out is freed with cpuid_host_free().
 */
struct xentoollog_logger;
int cpuid_host_probe(struct xentoollog_logger *logger, struct cpuid_host **out);

/*
 * Build a description from parts (used by tests and the corpus).  Copies
 * every argument; *out is freed with cpuid_host_free().
 */
int cpuid_host_new(const char *hostname, const char *source, enum cpuid_vendor vendor,
                   unsigned int family, unsigned int model, unsigned int stepping,
                   const struct cpuid_featureset policies[CPUID_HOST_POLICY_COUNT],
                   struct cpuid_host **out);

void cpuid_host_free(struct cpuid_host *host);

/* Accessors; strings are owned by the host. */
const char *cpuid_host_hostname(const struct cpuid_host *host);
const char *cpuid_host_source(const struct cpuid_host *host);
enum cpuid_vendor cpuid_host_vendor(const struct cpuid_host *host);
void cpuid_host_signature(const struct cpuid_host *host, unsigned int *family,
                          unsigned int *model, unsigned int *stepping);
const struct cpuid_featureset *cpuid_host_featureset(const struct cpuid_host *host,
                                                     enum cpuid_host_policy which);
/*
 * The host's whole JSON object (a json_object *, borrowed, valid while the
 * host lives): where the vGPU room reads and adds its "gpu" object.
 */
void *cpuid_host_json(struct cpuid_host *host);

/* Serialise (pretty JSON, newline-terminated).  *out is malloc'ed, caller frees. */
int cpuid_host_to_json(const struct cpuid_host *host, char **out);
/* Write the JSON to path (through path.tmp and a rename). */
int cpuid_host_write_file(const struct cpuid_host *host, const char *path);

/* ------------------------------------------------------------------ */
/* Clusters                                                             */
/* ------------------------------------------------------------------ */

/*
 * The cluster baseline of n hosts for policy `which`: the intersection of
 * their featuresets.  Vendor rule: all hosts must have the same vendor
 * (a guest sees the vendor string and vendor-specific behaviour, and Xen
 * does not migrate across vendors); a mix is MIG_ECOMPAT naming the first
 * host of each vendor.  *vendor_out gets the common vendor.
 */
int cpuid_cluster_baseline(struct cpuid_host *const *hosts, unsigned int n,
                           enum cpuid_host_policy which,
                           struct cpuid_featureset *baseline_out,
                           enum cpuid_vendor *vendor_out);

/* Opaque cluster file (members, baseline, optional pinned level). */
struct cpuid_cluster;

/* A new empty cluster named `name`; freed with cpuid_cluster_free(). */
int cpuid_cluster_new(const char *name, struct cpuid_cluster **out);
/* Read/write a cluster file (JSON, README "Cluster file format"). */
int cpuid_cluster_read_file(const char *path, struct cpuid_cluster **out);
int cpuid_cluster_parse(const char *text, size_t len, const char *origin,
                        struct cpuid_cluster **out);
int cpuid_cluster_write_file(const struct cpuid_cluster *cluster, const char *path);
int cpuid_cluster_to_json(const struct cpuid_cluster *cluster, char **out);
void cpuid_cluster_free(struct cpuid_cluster *cluster);

/*
 * Pin the cluster to a named level: its baseline becomes the level's
 * features.  Refused (MIG_ECOMPAT) if a member lacks any of them; *missing
 * (may be NULL) then gets what the first such member lacks.
 */
int cpuid_cluster_pin_level(struct cpuid_cluster *cluster, const struct cpuid_level *level,
                            struct cpuid_featureset *missing);

/*
 * Add a host.  The first host sets the vendor and (unless pinned) the
 * baseline; later hosts must have the vendor and every baseline feature,
 * else MIG_ECOMPAT with *missing (may be NULL) = the baseline features the
 * host lacks.  A host of the same hostname is replaced.  The HVM max
 * policy is used (the superset a guest can see).
 */
int cpuid_cluster_add(struct cpuid_cluster *cluster, const struct cpuid_host *host,
                      struct cpuid_featureset *missing);

const char *cpuid_cluster_name(const struct cpuid_cluster *cluster);
enum cpuid_vendor cpuid_cluster_vendor(const struct cpuid_cluster *cluster);
const struct cpuid_featureset *cpuid_cluster_baseline_features(const struct cpuid_cluster *cluster);
/* The pinned level's name or NULL. */
const char *cpuid_cluster_pinned_level(const struct cpuid_cluster *cluster);
unsigned int cpuid_cluster_member_count(const struct cpuid_cluster *cluster);
/* Member i: hostname and featureset (owned by the cluster). */
const char *cpuid_cluster_member_name(const struct cpuid_cluster *cluster, unsigned int i);
const struct cpuid_featureset *cpuid_cluster_member_features(const struct cpuid_cluster *cluster,
                                                             unsigned int i);

/*
 * The cluster's GPU level (a gpu_baseline string, gpu_level.h), NULL when
 * the file records none (a cluster made before GPU levels).  *pinned (may
 * be NULL) says whether it was pinned rather than the minimum over members.
 * The rules live in cluster_gpu.h; these only store.  Strings are owned by
 * the cluster.
 */
const char *cpuid_cluster_gpu_baseline(const struct cpuid_cluster *cluster, bool *pinned);
/* Member i's GPU levels as a baseline string, NULL if not recorded. */
const char *cpuid_cluster_member_gpu_baseline(const struct cpuid_cluster *cluster,
                                              unsigned int i);
/* Set (copy) or clear (NULL) the cluster's GPU level. */
int cpuid_cluster_set_gpu_baseline(struct cpuid_cluster *cluster, const char *baseline,
                                   bool pinned);
/* Set (copy) the GPU levels of member `hostname`; MIG_EINVAL if no such member. */
int cpuid_cluster_set_member_gpu_baseline(struct cpuid_cluster *cluster, const char *hostname,
                                          const char *baseline);

/* ------------------------------------------------------------------ */
/* Domains                                                              */
/* ------------------------------------------------------------------ */

/*
 * What a domain needs, from its xl.cfg: `cpuid_baseline = "NAME"` and its
 * type, read with libxlutil (a thin wrapper over cpuid_domain_config_read_file()
 * of domain_config.h, which also validates gpu_baseline; use that one for
 * the GPU key and the name).  *baseline_out / *type_out are malloc'ed
 * (caller frees); *baseline_out is NULL when the key is absent, *type_out
 * is "pv", "pvh" or "hvm".  Errors as cpuid_domain_config_read_file().
 */
int cpuid_domain_config_read(const char *path, char **baseline_out, char **type_out);

/*
 * Resolve a baseline name to features: a level name, "cluster" (needs
 * cluster), or Xen hex words.  origin names the input in errors.
 */
int cpuid_baseline_resolve(const char *baseline, const struct cpuid_level_set *levels,
                           const struct cpuid_cluster *cluster, const char *origin,
                           struct cpuid_featureset *out);

/*
 * The pre-flight check: can a host whose policy is `host` run a domain
 * that needs `required`?  Returns 0 if so; MIG_ECOMPAT if not, with
 * *missing (may be NULL) = required & ~host and a message counting them.
 */
int cpuid_policy_check(const struct cpuid_featureset *required,
                       const struct cpuid_featureset *host,
                       struct cpuid_featureset *missing);

/* Policy of a host that a domain of `type` ("pv", "pvh", "hvm") gets. */
enum cpuid_host_policy cpuid_host_policy_for_type(const char *type);

/* ------------------------------------------------------------------ */
/* Enforcing a baseline on a Xen host (libxl_mask.c)                    */
/* ------------------------------------------------------------------ */

/*
 * Whether Xen marks feature bit `index` special ('!' in cpufeatureset.h):
 * Xen decides its value in a guest and may override the toolstack's.
 */
bool cpuid_feature_is_xen_controlled(unsigned int index);

/*
 * The libxl cpuid= string that masks `host` (the host's policy for the
 * domain's type) down to `baseline`: "host" followed by ",NAME=0" for
 * every feature of host & ~baseline & constrained (constrained NULL: every
 * bit; for a named level pass cpuid_level_set_universe()), in bit order, with the names libxl
 * 4.17 (>= 4.17.2) gives those bits (README "xl-ext create").  When a bit
 * to mask has no libxl name, fails with MIG_EUNSUPP listing the bits
 * (never drops one).  On success *out is malloc'ed, the caller frees it.
 */
int cpuid_libxl_mask_string(const struct cpuid_featureset *host,
                            const struct cpuid_featureset *baseline,
                            const struct cpuid_featureset *constrained, char **out);

/*
 * Compare a running domain's policy with its baseline: *excess_out (may
 * be NULL) = the features of domain & ~baseline & constrained (NULL: every
 * bit) that the toolstack controls; *xen_controlled_out (may be NULL) = those Xen controls itself
 * (cpuid_feature_is_xen_controlled), which never count as excess.  Returns
 * 0 if there is no excess, else MIG_ECOMPAT counting them.
 */
int cpuid_domain_policy_excess(const struct cpuid_featureset *domain,
                               const struct cpuid_featureset *baseline,
                               const struct cpuid_featureset *constrained,
                               struct cpuid_featureset *excess_out,
                               struct cpuid_featureset *xen_controlled_out);

/*
 * The CPU policy of running domain `domid` as a featureset
 * (xc_cpu_policy_get_domain, serialised, mapped as the host policies are).
 * Needs a Xen host: MIG_EIO when libxenctrl cannot be opened or the domain
 * cannot be read (the message says which).  logger may be NULL.
 */
int cpuid_domain_policy_read(struct xentoollog_logger *logger, uint32_t domid,
                             struct cpuid_featureset *out);

/* ------------------------------------------------------------------ */
/* Corpus of real CPUs (cpuid-policy/data/cpus/corpus.txt)              */
/* ------------------------------------------------------------------ */

struct cpuid_corpus_cpu {
    const char *name;       /* "Intel Core i7-2600" */
    const char *source;     /* repository + path (+ commit) of the dump */
    enum cpuid_vendor vendor;
    unsigned int family, model, stepping;
    struct cpuid_featureset features;  /* from the leaves, closed */
};

/* Opaque loaded corpus. */
struct cpuid_corpus;

/*
 * The corpus file: $XENMIG_CPUID_CORPUS if set, else the installed
 * pkgdatadir/cpus/corpus.txt if it exists, else the source tree's.  Static.
 */
const char *cpuid_corpus_default_path(void);

/* Load a corpus file; *out is freed with cpuid_corpus_free(). */
int cpuid_corpus_load(const char *path, struct cpuid_corpus **out);
void cpuid_corpus_free(struct cpuid_corpus *corpus);
unsigned int cpuid_corpus_count(const struct cpuid_corpus *corpus);
const struct cpuid_corpus_cpu *cpuid_corpus_get(const struct cpuid_corpus *corpus,
                                                unsigned int i);
/* By name, case-insensitive; NULL if absent. */
const struct cpuid_corpus_cpu *cpuid_corpus_find(const struct cpuid_corpus *corpus,
                                                 const char *name);

#endif /* XENMIG_CPUID_POLICY_H */
