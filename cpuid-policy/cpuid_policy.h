/*
 * cpuid_policy.h: the one public header of the cpuid-policy library
 * (libcpuidpolicy.a).  Its users (xl-ext, the tests) include only this;
 * the library's own files also include cpuid_internal.h.
 *
 * The CPU side: Xen 4.17 featuresets, named CPU levels, host descriptions,
 * cluster baselines, the domain pre-flight check, the libxl mask and the
 * corpus of real CPUs.  The vGPU side: GPU facts and their probe, GPU
 * levels, the "gpu" object of a host description, a cluster's GPU level,
 * and the xenmig keys of a domain's xl.cfg.  Each section names the source
 * file that defines it.
 *
 * Conventions (libgit2 style, see mig_error.h): every function that can fail
 * returns 0 or a negative MIG_E* code and leaves a message quoting the
 * offending input in mig_error_last().  Out-parameters are written only on
 * success unless the function says otherwise; who owns them is stated above
 * each function ("caller's storage": the caller passes the memory; "the
 * caller frees": a new allocation; "owned by X": borrowed, valid while X
 * lives).  Nothing here prints; the CLI (xl-ext) does.
 *
 * A host description keeps its "gpu" object and any unknown key untouched,
 * so the vGPU side can read and write it (cpuid_host_json()).
 */
#ifndef XENMIG_CPUID_POLICY_H
#define XENMIG_CPUID_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* json-c's object (json_object); the vGPU side reads and writes JSON trees. */
struct json_object;

/* ------------------------------------------------------------------ */
/* Featureset model (featureset.c, feature_table.c)                     */
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

/*
 * OS state.  A few bits describe the running OS or the machine under it,
 * not the CPU: `osxsave` and `ospke` (CR4.OSXSAVE and CR4.PKE as the OS set
 * them: a host whose OS did not enable PKE lacks `ospke` though its CPU has
 * `pku`) and `hypervisor` (the dump was made inside a VM).  Xen decides
 * them in every guest.  They never take part in a baseline, a level or a
 * check: every computation of this library drops them from the featuresets
 * it is given (cluster baselines and members, levels, resolved baselines,
 * the pre-flight check, the libxl mask and excess) and a native-cpuid host
 * description loses them when it is read or probed.  The list is data, by
 * Xen feature name, here only:
 */
extern const char *const cpuid_os_state_feature_names[];
extern const unsigned int cpuid_os_state_feature_count;
/* The OS-state bits as a featureset (caller's storage). */
void cpuid_featureset_os_state(struct cpuid_featureset *out);
/* Whether bit `index` is one of them. */
bool cpuid_feature_is_os_state(unsigned int index);
/* Clear them from fs; returns how many were set. */
unsigned int cpuid_featureset_drop_os_state(struct cpuid_featureset *fs);

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
 * leading "host" starts from *host (required then: MIG_EMISSING when host
 * is NULL; without "host" the start is the empty set); NAME=0 clears the
 * feature and its dependents, NAME=1 sets it; libxl's per-bit 'x'/'k'/'s'
 * and raw leaf syntax are refused (MIG_EUNSUPP).  Names as libxl 4.17 reads them: "clfsh" is the
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
/* CPU identity (featureset.c)                                          */
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
/* Named CPU levels (levels.c; data/levels/NAME.level)                  */
/* ------------------------------------------------------------------ */

struct cpuid_level {
    const char *name;       /* "x86-64-v3", "intel-skylake", "libvirt:Haswell-noTSX" */
    const char *family;     /* ordering family: "x86-64", "intel", "amd" or "libvirt" */
    unsigned int rank;      /* order inside the family, higher = newer */
    enum cpuid_vendor vendor; /* CPUID_VENDOR_UNKNOWN for vendor-neutral levels */
    const char *source;     /* where the facts come from */
    struct cpuid_featureset features; /* closed; a level constrains only these */
    /*
     * libvirt models only (NULL for the others): word lists " A B" of the
     * model's libvirt features that Xen 4.17 has no equivalent for, whose
     * Xen bit Xen 4.17 offers no HVM guest, that the mapping table does not
     * list (a newer installed map), and of the Xen features left out by
     * Xen's dependency rules, as "FEATURE:NEEDED".  None of them is in
     * `features`.
     */
    const char *no_xen_features, *no_guest_features, *unmapped_features, *dropped_features;
    /*
     * libvirt models that only rename an earlier model (libvirt's
     * "Haswell-v4" is "Haswell-noTSX-IBRS"): that model's level name;
     * NULL otherwise.  cpuid_level_set_highest() names the earlier model.
     */
    const char *alias_of;
};

/* Opaque set of loaded levels. */
struct cpuid_level_set;

/*
 * libvirt's x86 CPU models are levels too, "libvirt:NAME" in family
 * "libvirt" (libvirt_models.c; docs/formats.md "libvirt CPU models"): the
 * models of the installed libvirt CPU map plus the newer ones xenmig ships
 * as data (a model the installed map defines is taken from it), ranked in
 * libvirt's own order of generations, vendor-neutral when libvirt gives no
 * vendor.  Their features are libvirt's mapped to Xen's by bit position
 * (data/libvirt/x86-features.map).  They never widen
 * cpuid_level_set_universe(): as baselines they constrain the same bits.
 *
 * The installed map: $XENMIG_LIBVIRT_CPU_MAP if set ("none": none; a
 * directory named there must hold index.xml), else /usr/share/libvirt/
 * cpu_map when present.  Static string or NULL.
 */
const char *cpuid_libvirt_cpu_map_dir(void);
/*
 * The shipped libvirt data (x86-features.map, x86-models.txt):
 * $XENMIG_LIBVIRT_DATA_DIR if set ("none": no libvirt models at all), else
 * pkgdatadir/libvirt if present, else the source tree's.  Static or NULL.
 */
const char *cpuid_libvirt_data_dir(void);

/*
 * The directory named levels are read from: $XENMIG_CPUID_LEVELS_DIR if
 * set, else the installed pkgdatadir/levels if it exists, else the source
 * tree's cpuid-policy/data/levels.  Static string, never freed.
 */
const char *cpuid_levels_default_dir(void);

/*
 * Load every *.level file of dir (NULL: the default dir), then libvirt's
 * models (above), into *out, which the caller frees with
 * cpuid_level_set_free().  A malformed file fails the whole load with the
 * file, line and token quoted (for the installed libvirt map, with how to
 * leave it out).
 */
int cpuid_level_set_load(const char *dir, struct cpuid_level_set **out);
void cpuid_level_set_free(struct cpuid_level_set *set);
unsigned int cpuid_level_set_count(const struct cpuid_level_set *set);
/* Levels sorted by family, then rank; owned by the set. */
const struct cpuid_level *cpuid_level_set_get(const struct cpuid_level_set *set,
                                              unsigned int index);
/*
 * The bits named levels constrain: the union of every level's features
 * (a level never constrains a bit outside it: docs/architecture.md
 * "Named levels").
 */
void cpuid_level_set_universe(const struct cpuid_level_set *set, struct cpuid_featureset *out);
/*
 * libvirt models found but no level ("libvirt:NAME: REASON": a vendor
 * xenmig does not level, an ancestor defined nowhere).  Owned by the set.
 */
unsigned int cpuid_level_set_skipped_count(const struct cpuid_level_set *set);
const char *cpuid_level_set_skipped(const struct cpuid_level_set *set, unsigned int index);
/* By name (case-insensitive); NULL if unknown.  Owned by the set. */
const struct cpuid_level *cpuid_level_set_find(const struct cpuid_level_set *set,
                                               const char *name);
/*
 * The highest-ranked level of `family` whose features are all in fs and
 * whose vendor (if any) is `vendor`, aliases (alias_of) left out; NULL if
 * none.  Owned by the set.
 */
const struct cpuid_level *cpuid_level_set_highest(const struct cpuid_level_set *set,
                                                  const char *family,
                                                  enum cpuid_vendor vendor,
                                                  const struct cpuid_featureset *fs);

/* ------------------------------------------------------------------ */
/* Host descriptions (host.c; docs/formats.md "Host file format")       */
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
/*
 * Name the host `hostname` (copied; 1 to 255 characters, else MIG_EINVAL):
 * how a cluster calls its member, where the machine's own name will not do
 * (two machines of one name).
 */
int cpuid_host_set_hostname(struct cpuid_host *host, const char *hostname);
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
/* Clusters (cluster.c)                                                 */
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

/* "sha256:" + 64 hex digits + NUL: a cluster's content hash. */
#define CPUID_CLUSTER_HASH_TEXT 72
/* How long cpuid_cluster_write_file() waits for another writer's lock. */
#define CPUID_CLUSTER_LOCK_WAIT_MS 10000

/* A new empty cluster named `name`; freed with cpuid_cluster_free(). */
int cpuid_cluster_new(const char *name, struct cpuid_cluster **out);
/*
 * Cluster files (cluster_file.c; docs/formats.md "Cluster file format").
 * A file carries its "version" (how many times xl-ext wrote it; a file
 * written before versions reads as 0) and its "content_hash" (SHA-256 of
 * its JSON without that member).  Two commands changing one file at the
 * same time cannot lose each other's change: each reads the file (noting
 * the content hash of what it read), changes the cluster in memory, and
 * writes with cpuid_cluster_write_file(), which holds an exclusive flock
 * on PATH.lock while it re-reads PATH and compares, and refuses when the
 * file changed since it was read.  Files without version or hash read as
 * before.
 */

/*
 * Read a cluster file, or parse `len` bytes of its text (`origin` names it
 * in errors).  *out is freed with cpuid_cluster_free(); it remembers the
 * content hash of what was read (cpuid_cluster_read_hash()).
 */
int cpuid_cluster_read_file(const char *path, struct cpuid_cluster **out);
int cpuid_cluster_parse(const char *text, size_t len, const char *origin,
                        struct cpuid_cluster **out);
/*
 * Write the cluster to path, compare-and-swap: with PATH.lock held
 * (exclusive flock, waited for at most CPUID_CLUSTER_LOCK_WAIT_MS, or
 * `lock_wait_ms` for the _within variant), PATH is read again; unless its
 * content hash is the one the cluster was read with (or, for a cluster not
 * read from a file, PATH is absent) the write is refused with MIG_ECORRUPT:
 * "PATH changed underneath (hash X, expected Y); run the command again".
 * Else the version goes up by one and the file is replaced whole (temporary
 * file, fsync, rename, directory fsync); the cluster then counts as read
 * from what was written, so it can be written again.  Other errors:
 * MIG_EIO (the lock is held longer than the wait, or I/O, naming the file),
 * errors of reading PATH back (it no longer parses), MIG_ENOMEM.  Nothing
 * is written on any error.
 */
int cpuid_cluster_write_file(struct cpuid_cluster *cluster, const char *path);
int cpuid_cluster_write_file_within(struct cpuid_cluster *cluster, const char *path,
                                    unsigned int lock_wait_ms);
/*
 * Serialise (pretty JSON, newline-terminated, with the version and the
 * content hash).  *out is malloc'ed, caller frees.
 */
int cpuid_cluster_to_json(const struct cpuid_cluster *cluster, char **out);
/* The content hash of the cluster as it is now, into the caller's out. */
int cpuid_cluster_content_hash(const struct cpuid_cluster *cluster,
                               char out[CPUID_CLUSTER_HASH_TEXT]);
/* The file's version as read (0: new, or a file from before versions). */
unsigned long long cpuid_cluster_version(const struct cpuid_cluster *cluster);
/* The content hash of what was read ("" for a cluster not read); owned by the cluster. */
const char *cpuid_cluster_read_hash(const struct cpuid_cluster *cluster);
/*
 * The "content_hash" the file itself states, NULL if none; differing from
 * cpuid_cluster_read_hash() means the file was changed by something other
 * than xl-ext (an editor).  Owned by the cluster.
 */
const char *cpuid_cluster_stated_hash(const struct cpuid_cluster *cluster);
/* Free a cluster; NULL is fine. */
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

/*
 * Clusters that change (`cluster create`, `remove`, `relevel`).  Only
 * these lower a baseline, and only when asked to.
 *
 * cpuid_cluster_join(): what `cluster create` does for each of its hosts
 * (and `cluster add --relevel`): add the host and lower the baseline to
 * what it shares with it (the host's own featureset for the first one); a
 * pinned cluster whose level the host lacks in part is unpinned.  The
 * vendor rule of cpuid_cluster_add() holds (MIG_ECOMPAT); a host of a
 * member's hostname replaces that member (a host dumped again).  Nothing
 * changes on an error.
 */
int cpuid_cluster_join(struct cpuid_cluster *cluster, const struct cpuid_host *host);
/*
 * Remove member `hostname` (MIG_EINVAL naming it if there is none).  The
 * baseline stays as it is: cpuid_cluster_relevel_auto() raises it to what
 * the remaining members share.
 */
int cpuid_cluster_remove(struct cpuid_cluster *cluster, const char *hostname);
/*
 * What the members share: the intersection of their featuresets, less OS
 * state, closed, into the caller's *out.  MIG_EINVAL without members.
 */
int cpuid_cluster_members_share(const struct cpuid_cluster *cluster,
                                struct cpuid_featureset *out);
/*
 * Relevel to what the members share (cpuid_cluster_members_share()),
 * unpinning the cluster: the baseline may go down (a weaker member) or up
 * (a member removed).  Relevelling to a named level is
 * cpuid_cluster_pin_level().  Which recorded domains a lower baseline
 * leaves behind is cpuid_baseline_leaves_behind()'s to say, before.
 */
int cpuid_cluster_relevel_auto(struct cpuid_cluster *cluster);

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
 * The cluster's GPU level (a gpu_baseline string, "GPU levels" below),
 * NULL when the file records none (a cluster made before GPU levels).
 * *pinned (may be NULL) says whether it was pinned rather than the minimum
 * over members.  The rules live in "Cluster GPU level" below; these only
 * store.  Strings are owned by the cluster.
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
/* Domains (domain.c)                                                   */
/* ------------------------------------------------------------------ */

/*
 * What a domain needs, from its xl.cfg: `cpuid_baseline = "NAME"` and its
 * type, read with libxlutil (a thin wrapper over
 * cpuid_domain_config_read_file(), "Domain config" below, which also
 * validates gpu_baseline; use that one for the GPU key and the name).  *baseline_out / *type_out are malloc'ed
 * (caller frees); *baseline_out is NULL when the key is absent, *type_out
 * is "pv", "pvh" or "hvm".  Errors as cpuid_domain_config_read_file().
 */
int cpuid_domain_config_read(const char *path, char **baseline_out, char **type_out);

/*
 * Resolve a cpuid_baseline value (cpuid_baseline_parse()) to features: a
 * level name (MIG_EINVAL if no such level), "cluster" (needs cluster:
 * MIG_EMISSING when it is NULL), or Xen hex words.  origin names the input
 * in errors.
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

/*
 * Would a cluster's baseline going from `before` to `after` leave behind a
 * domain that needs `needs` (its recorded featureset, or its resolved
 * cpuid_baseline): one that `before` covers (has every feature it needs)
 * and `after` does not?  *lost (caller's, may be NULL) = the features of
 * `needs` that `after` lacks.  Bits of OS state never count.
 */
bool cpuid_baseline_leaves_behind(const struct cpuid_featureset *needs,
                                  const struct cpuid_featureset *before,
                                  const struct cpuid_featureset *after,
                                  struct cpuid_featureset *lost);

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
 * 4.17 (>= 4.17.2) gives those bits (docs/architecture.md "xl-ext create").  When a bit
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
/* Corpus of real CPUs (corpus.c; data/cpus/corpus.txt)                 */
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

/* ------------------------------------------------------------------ */
/* Reading a text file (util.c)                                         */
/* ------------------------------------------------------------------ */

/* Flags of cpuid_read_text_file(). */
#define CPUID_READ_REFUSE_NUL 0x1u  /* a NUL byte in the file is an error */

/*
 * Read the whole file at `path` into memory for a parser: the one reader
 * of whole text files of the library and of xl-ext.  At most `limit`
 * bytes; `what` names the file in messages ("domain config", "host
 * file").
 *
 * On success *text_out is a new NUL-terminated buffer owned by the caller
 * (free()) holding *length_out bytes, which may include NUL bytes of the
 * file unless `flags` has CPUID_READ_REFUSE_NUL.  On failure *text_out is
 * NULL and *length_out 0.  Returns 0, or an error whose message names
 * `what` and quotes `path`: MIG_EIO (cannot open or read it, errno's text
 * appended), MIG_ELIMIT (larger than `limit`), MIG_EFORMAT (a NUL byte, at
 * the offset named, with CPUID_READ_REFUSE_NUL), MIG_ENOMEM.
 */
int cpuid_read_text_file(const char *path, const char *what, size_t limit, unsigned int flags,
                         char **text_out, size_t *length_out);

/* ------------------------------------------------------------------ */
/* GPU facts (gpu_facts.c)                                              */
/* ------------------------------------------------------------------ */

/*
 * The raw GPU facts of a host and their JSON form (the "facts" of the "gpu"
 * object of `host-dump`).  Facts come from the probe ("GPU probe" below) or
 * are read back from JSON (recorded probes, other hosts' dumps); the levels
 * a host reaches are derived from them by pure code ("GPU levels" below),
 * so everything but the collection itself can be tested without a GPU.
 *
 * Facts are plain value structs (fixed-size, no pointers), so they can be
 * copied, compared and sent through a pipe.  Every string in them is
 * NUL-terminated and truncated to its buffer.
 */

#define CPUID_GPU_PROBE_MAX_DEVICES   16     /* devices recorded; more are counted only */
#define CPUID_GPU_PROBE_TEXT_MAX      128    /* names, versions, GL strings */
#define CPUID_GPU_PROBE_REASON_MAX    256    /* why a source is absent or failed */
#define CPUID_GPU_PROBE_EXTENSIONS_MAX 32768 /* GL extension list, space separated */

/* State of one source of facts (NVML, EGL/OpenGL). */
enum cpuid_gpu_source_status {
    CPUID_GPU_SOURCE_OK     = 0, /* facts collected */
    CPUID_GPU_SOURCE_ABSENT = 1, /* library, driver or device not present */
    CPUID_GPU_SOURCE_ERROR  = 2, /* present but failed (reason says how) */
};

/* One NVIDIA device as NVML reports it. */
struct cpuid_gpu_device_facts {
    char name[CPUID_GPU_PROBE_TEXT_MAX];    /* "NVIDIA H100 80GB HBM3" */
    int compute_major;                      /* CUDA compute capability, -1 unknown */
    int compute_minor;
};

struct cpuid_gpu_facts {
    /* NVIDIA, through NVML */
    enum cpuid_gpu_source_status nvml_status;
    char nvml_reason[CPUID_GPU_PROBE_REASON_MAX];   /* "" when OK */
    char driver_version[CPUID_GPU_PROBE_TEXT_MAX];  /* "535.129.03" */
    unsigned int device_count;                      /* as NVML counted them */
    unsigned int devices_recorded;                  /* <= CPUID_GPU_PROBE_MAX_DEVICES */
    struct cpuid_gpu_device_facts devices[CPUID_GPU_PROBE_MAX_DEVICES];

    /* OpenGL, through EGL (any vendor: NVIDIA, Mesa, ...) */
    enum cpuid_gpu_source_status gl_status;
    char gl_reason[CPUID_GPU_PROBE_REASON_MAX];     /* "" when OK */
    char gl_version[CPUID_GPU_PROBE_TEXT_MAX];      /* GL_VERSION, verbatim */
    char gl_renderer[CPUID_GPU_PROBE_TEXT_MAX];     /* GL_RENDERER, verbatim */
    char gl_vendor[CPUID_GPU_PROBE_TEXT_MAX];       /* GL_VENDOR, verbatim */
    char gl_extensions[CPUID_GPU_PROBE_EXTENSIONS_MAX]; /* space separated; cut at a whole name */
};

/* Fill *facts (caller's storage) with "nothing known": both sources absent, no reason. */
void cpuid_gpu_facts_init(struct cpuid_gpu_facts *facts);

/* "ok", "absent" or "error" (static, never freed). */
const char *cpuid_gpu_source_status_name(enum cpuid_gpu_source_status status);

/*
 * The JSON form of the facts (docs/formats.md "GPU object"): {"nvml":
 * {...}, "gl": {...}}.  *json_out is a new reference owned by the caller
 * (json_object_put).  Returns 0 or MIG_ENOMEM.
 */
int cpuid_gpu_facts_to_json(const struct cpuid_gpu_facts *facts, struct json_object **json_out);

/*
 * Read facts back from their JSON form (a recorded probe, or the "facts"
 * member of another host's dump) into *facts_out (caller's storage).
 * Unknown members are ignored; a missing "nvml" or "gl" member means that
 * source is absent.  Strings longer than their buffers, bad types,
 * out-of-range compute capabilities or more than
 * CPUID_GPU_PROBE_MAX_DEVICES devices are errors.  `origin` names the input
 * in messages ("h100.json").  Returns 0, or MIG_EFORMAT with a message that
 * quotes the offending member; *facts_out is then unspecified.
 */
int cpuid_gpu_facts_from_json(const struct json_object *json, const char *origin,
                              struct cpuid_gpu_facts *facts_out);

/*
 * As cpuid_gpu_facts_from_json(), from JSON text of `length` bytes (need
 * not be NUL-terminated; at most 1 MiB).  The text is either a facts object
 * or a probe document with the facts under "facts" (what `xl-ext gpu-probe
 * --json` prints).  MIG_EFORMAT quotes the JSON parser's complaint.
 */
int cpuid_gpu_facts_from_json_text(const char *text, size_t length, const char *origin,
                                   struct cpuid_gpu_facts *facts_out);

/*
 * As cpuid_gpu_facts_from_json_text(), from the file at `path` (a recorded
 * probe or a host's dump; at most 1 MiB).  Also MIG_EIO when it cannot be
 * read.
 */
int cpuid_gpu_facts_read_file(const char *path, struct cpuid_gpu_facts *facts_out);

/*
 * Parse a GL_VERSION string ("4.5 (Compatibility Profile) Mesa 22.3.6",
 * "4.6.0 NVIDIA 535.129.03") into *major_out / *minor_out (caller's ints,
 * set only on success).  Returns 0, or MIG_EFORMAT (quoting it) when it is
 * not "MAJOR.MINOR..." or is OpenGL ES.
 */
int cpuid_gpu_gl_version_parse(const char *version, int *major_out, int *minor_out);

/* ------------------------------------------------------------------ */
/* GPU probe (gpu_probe.c; sources gpu_probe_nvml.c, gpu_probe_gl.c)    */
/* ------------------------------------------------------------------ */

/*
 * The probe gathers raw facts from the drivers that are present, loading
 * them at run time with dlopen (no build dependency): NVIDIA devices
 * through NVML (libnvidia-ml.so.1), the OpenGL version through EGL
 * (libEGL.so.1).  No GPU or no library is not an error: the facts then say
 * "absent" with the reason.
 */

/* Options of cpuid_gpu_probe_collect(): versioned, initialise with the macro. */
struct cpuid_gpu_probe_options {
    unsigned int version;
    const char *nvml_library;  /* NULL: "libnvidia-ml.so.1" (tests pass a fake) */
    const char *egl_library;   /* NULL: "libEGL.so.1" */
    int skip_nvml;             /* nonzero: do not look for NVIDIA devices */
    int skip_gl;               /* nonzero: do not create an EGL context */
    int in_process;            /* nonzero: probe in this process, not a child */
    unsigned int timeout_ms;   /* child's time limit; 0 means the default (20 s) */
};
#define CPUID_GPU_PROBE_OPTIONS_VERSION 1
#define CPUID_GPU_PROBE_OPTIONS_INIT { CPUID_GPU_PROBE_OPTIONS_VERSION, NULL, NULL, 0, 0, 0, 0 }

/*
 * Collect the raw GPU facts of this host into *facts_out (caller's
 * storage; about 40 KiB, so prefer the heap in threads with small stacks).
 * options may be NULL (defaults).
 *
 * By default the drivers are loaded in a forked child process that sends
 * the facts back through a pipe and is killed after the timeout, so a
 * crashing or hanging driver (or a driver's leaks) cannot take the caller
 * with it; a child that dies or times out gives CPUID_GPU_SOURCE_ERROR with
 * the reason.  The probe never initialises a device beyond what NVML's and
 * EGL's own queries do.  The child is forked: in a threaded caller, probe
 * before starting threads where possible (the child only runs dlopen and
 * driver code, then _exits).  Measured here with Mesa llvmpipe: 33 ms per
 * probe in a child and 33 ms in process (median of 10 runs of xl-ext).
 *
 * Returns 0 whenever *facts_out is filled (also when there is no GPU);
 * MIG_EINVAL for a bad options version, MIG_EIO if no child could be
 * started (message via mig_error_last()).
 */
int cpuid_gpu_probe_collect(const struct cpuid_gpu_probe_options *options,
                            struct cpuid_gpu_facts *facts_out);

/* ------------------------------------------------------------------ */
/* GPU levels (gpu_level.c)                                             */
/* ------------------------------------------------------------------ */

/*
 * Virtual-GPU capability levels, GPU baselines and the check "can this
 * host (or cluster) run a domain with this gpu_baseline".
 *
 * Two independent axes:
 *   graphics  d3d10.0-gl3.3 < d3d10.1-gl3.3 < d3d11.0-gl4.1 < ... (the order
 *             of the lines of the levels file);
 *   compute   cuda-MAJOR.MINOR, the CUDA compute capability, ordered by
 *             major then minor (cuda-8.6 < cuda-9.0 < cuda-10.0).
 * "none" is below every level of either axis.
 *
 * A gpu_baseline (xl.cfg key, or a cluster's GPU level) names at most one
 * level of each axis, comma separated, in either order:
 *   "d3d11.0-gl4.1"   "cuda-8.0"   "d3d11.0-gl4.1,cuda-8.0"   "none"
 * A host satisfies it iff its graphics level >= the graphics part and its
 * compute capability >= the compute part.
 *
 * The levels live in a data file (cpuid-policy/data/gpu-levels, installed
 * to $(pkgdatadir)/gpu-levels; docs/formats.md "GPU levels file"), so
 * adding a level needs no rebuild.  A host's levels are derived from its
 * raw facts by pure code, so recorded facts test every rule.
 *
 * How the commands use it:
 *   host-dump   cpuid_gpu_host_json_add (probe, derive, the "gpu" object)
 *   check / create / migration pre-flight
 *               cpuid_gpu_requirement_parse(domain's gpu_baseline) +
 *               cpuid_gpu_capability_check(requirement, host) -> MIG_ECOMPAT
 *               with the shortfall ("needs cuda-9.0, host has cuda-8.6 (NVIDIA A10)")
 *   cluster add cpuid_gpu_capability_intersect(cluster, new host) (the
 *               cluster's GPU level is the minimum of its hosts, as for CPU
 *               features; "Cluster GPU level" below)
 *   report      cpuid_gpu_capability_format_baseline
 *
 * Nothing here touches a device or the file system, except
 * cpuid_gpu_level_table_load() which reads the levels file.
 */

#define CPUID_GPU_LEVEL_NAME_MAX   32    /* level names incl. NUL ("d3d11.0-gl4.1") */
#define CPUID_GPU_LEVEL_DETAIL_MAX 160   /* "NVIDIA A10", "llvmpipe (LLVM 15.0.6, 256 bits)" */
#define CPUID_GPU_BASELINE_TEXT_MAX 128  /* a gpu_baseline string, incl. NUL */

/* The level table: opaque, read-only once loaded, safe to share between threads. */
typedef struct cpuid_gpu_level_table cpuid_gpu_level_table;

/*
 * Load the level table from `path`, or when path is NULL from the first
 * that exists of: $XENMIG_GPU_LEVELS, $(pkgdatadir)/gpu-levels, the source
 * tree's cpuid-policy/data/gpu-levels.  On success *table_out is a new
 * table owned by the caller (cpuid_gpu_level_table_free).  Returns 0,
 * MIG_EIO (file unreadable), MIG_EFORMAT (bad line: message quotes it with
 * file:line), MIG_ELIMIT (file over 64 KiB or too many levels).
 */
int cpuid_gpu_level_table_load(const char *path, cpuid_gpu_level_table **table_out);

/*
 * Parse a level table from text of `length` bytes (need not be
 * NUL-terminated).  `origin` names it in messages.  Same ownership and
 * errors as cpuid_gpu_level_table_load().
 */
int cpuid_gpu_level_table_parse(const char *text, size_t length, const char *origin,
                                cpuid_gpu_level_table **table_out);

/* Free a table; NULL is fine. */
void cpuid_gpu_level_table_free(cpuid_gpu_level_table *table);

/* The file the table came from (or the origin given to _parse); owned by the table. */
const char *cpuid_gpu_level_table_origin(const cpuid_gpu_level_table *table);

/*
 * Every valid baseline level name, lowest first, comma separated ("none,
 * d3d10.0-gl3.3, ..., cuda-3.5, ..."): for error messages and help.  Owned
 * by the table.
 */
const char *cpuid_gpu_level_table_names(const cpuid_gpu_level_table *table);

/* What a domain (or cluster) requires. */
struct cpuid_gpu_requirement {
    int graphics_level;                  /* index in the table, -1: no graphics need */
    char graphics_name[CPUID_GPU_LEVEL_NAME_MAX];  /* "none" when -1 */
    int compute_major;                   /* -1: no compute need */
    int compute_minor;
    char compute_name[CPUID_GPU_LEVEL_NAME_MAX];   /* "cuda-9.0", or "none" */
};

/*
 * Parse a gpu_baseline string (syntax above; spaces around the comma are
 * allowed) into *requirement_out (caller's storage).  Every level named
 * must be in the table.  Returns 0, or MIG_EINVAL with a message quoting
 * the input and the bad part and listing the valid levels (two graphics or
 * two compute parts, "none" combined with a level, unknown names, empty
 * parts, over-long input).
 */
int cpuid_gpu_requirement_parse(const cpuid_gpu_level_table *table, const char *text,
                                struct cpuid_gpu_requirement *requirement_out);

/*
 * Format a requirement as a baseline string ("d3d11.0-gl4.1,cuda-8.0",
 * "none") into the caller's buf of `size` bytes (cut to fit,
 * NUL-terminated).
 */
void cpuid_gpu_requirement_format(const struct cpuid_gpu_requirement *requirement,
                                  char *buf, size_t size);

/* What a host (or, after intersection, a cluster) offers. */
struct cpuid_gpu_capability {
    int graphics_level;                  /* index in the table, -1: none */
    char graphics_name[CPUID_GPU_LEVEL_NAME_MAX];
    int gl_major;                        /* -1: no desktop OpenGL */
    int gl_minor;
    char graphics_detail[CPUID_GPU_LEVEL_DETAIL_MAX]; /* renderer and GL version, or why none */
    int compute_major;                   /* -1: no CUDA device */
    int compute_minor;
    char compute_name[CPUID_GPU_LEVEL_NAME_MAX];      /* "cuda-9.0" or "none" */
    char compute_detail[CPUID_GPU_LEVEL_DETAIL_MAX];  /* device name, or why none */
};

/*
 * Derive the levels a host reaches from its raw facts (pure) into
 * *capability_out (caller's storage, fully overwritten):
 *   compute  the highest compute capability among the NVIDIA devices (a
 *            domain is given one device; the best one decides whether any
 *            device can serve it); "none" when NVML found no device.
 *   graphics the highest table level whose GL version (and extensions, see
 *            the levels file) the GL_VERSION string reaches; "none" without
 *            a desktop OpenGL context (OpenGL ES only counts as none).
 * Always succeeds for facts that cpuid_gpu_facts_from_json accepted or
 * cpuid_gpu_probe_collect produced; returns 0, or MIG_EFORMAT when a
 * GL_VERSION that the facts call OK does not start with MAJOR.MINOR
 * (message quotes it).
 */
int cpuid_gpu_capability_from_facts(const cpuid_gpu_level_table *table,
                                    const struct cpuid_gpu_facts *facts,
                                    struct cpuid_gpu_capability *capability_out);

/*
 * Can `host` run a domain that requires `requirement`?  Both must come
 * from the same level table (graphics levels compare by table index; a
 * host dump from elsewhere is re-derived from its facts first).  Returns 0
 * if so, MIG_ECOMPAT if not, with every shortfall in the message, e.g.
 * "GPU baseline 'd3d11.0-gl4.1,cuda-9.0' not met: needs cuda-9.0, host has
 * cuda-8.6 (NVIDIA A10)".  When `shortfall` is not NULL the same text
 * (without the prefix) is written to that caller's buffer of
 * `shortfall_size` bytes ("" when met).
 */
int cpuid_gpu_capability_check(const struct cpuid_gpu_requirement *requirement,
                               const struct cpuid_gpu_capability *host,
                               char *shortfall, size_t shortfall_size);

/*
 * The level a group of hosts shares (cluster join): for each axis the
 * lower of `a` and `b`, written to the caller's *out, which may alias a or b.
 */
void cpuid_gpu_capability_intersect(const struct cpuid_gpu_capability *a,
                                    const struct cpuid_gpu_capability *b,
                                    struct cpuid_gpu_capability *out);

/*
 * The host's levels as a gpu_baseline string a domain could require
 * ("d3d12-gl4.6,cuda-9.0", "cuda-8.0", "none") into the caller's buf of
 * `size` bytes (cut to fit, NUL-terminated).
 */
void cpuid_gpu_capability_format_baseline(const struct cpuid_gpu_capability *capability,
                                          char *buf, size_t size);

/* ------------------------------------------------------------------ */
/* The "gpu" object of a host description (gpu_host.c)                  */
/* ------------------------------------------------------------------ */

/*
 * Where the facts, the probe and the levels meet: host-dump writes the
 * object, check / cluster add / report read it back and re-derive the
 * levels from its facts with their own table.
 */

/*
 * The "gpu" object of a host dump (docs/formats.md "GPU object"):
 * {"facts": <cpuid_gpu_facts_to_json>, "levels": {"graphics", "compute",
 * "baseline", "graphics_detail", "compute_detail"}}.  Readers must
 * re-derive levels from "facts" with their own table rather than trust
 * "levels".  *json_out is a new reference owned by the caller
 * (json_object_put).  Returns 0 or MIG_ENOMEM.
 */
int cpuid_gpu_host_to_json(const struct cpuid_gpu_facts *facts,
                           const struct cpuid_gpu_capability *capability,
                           struct json_object **json_out);

/*
 * For host-dump: probe this host (cpuid_gpu_probe_collect with `options`,
 * NULL for defaults), derive its levels with `table`, and set the result
 * as the "gpu" member of the host JSON object `host_json` (replacing any).
 * The object stays owned by the caller.  Returns 0, or an error of
 * cpuid_gpu_probe_collect / MIG_ENOMEM.  A host without a GPU gets levels
 * "none".
 */
int cpuid_gpu_host_json_add(struct json_object *host_json, const cpuid_gpu_level_table *table,
                            const struct cpuid_gpu_probe_options *options);

/*
 * For check / cluster add / report: the capability of a host from its host
 * JSON (as cpuid_gpu_host_json_add left it, possibly from another
 * machine): its "gpu" facts re-derived with `table` into *capability_out
 * (caller's storage).  A host JSON without "gpu" (dumped before GPU
 * probing) gives levels "none" with that reason, not an error.  Returns 0,
 * or MIG_EFORMAT quoting the bad member, with `origin` (the file) in the
 * message.
 */
int cpuid_gpu_host_json_capability(const struct json_object *host_json,
                                   const cpuid_gpu_level_table *table,
                                   const char *origin,
                                   struct cpuid_gpu_capability *capability_out);

/* ------------------------------------------------------------------ */
/* Cluster GPU level (cluster_gpu.c)                                    */
/* ------------------------------------------------------------------ */

/*
 * The GPU side of a cluster: its GPU level is the minimum of its members'
 * levels (cpuid_gpu_capability_intersect), or a pinned gpu_baseline, and a
 * host below it is refused, as for CPU features.
 *
 * The level is stored in the cluster file ("gpu_baseline", docs/formats.md
 * "Cluster file format"); a cluster file without one (made before GPU
 * levels) imposes no GPU rule and records none until it is pinned, because
 * the levels of its existing members are unknown.  Nothing here prints or
 * touches a file.
 */

/*
 * Can a host with GPU levels `host` join `cluster`?  0 if the cluster has
 * no GPU level or the host meets it; MIG_ECOMPAT if not, with the shortfall
 * ("needs cuda-9.0, host has cuda-8.6 (NVIDIA A10)") written to the
 * caller's `shortfall` buffer (may be NULL; "" when met) and the message
 * naming the cluster.  MIG_EFORMAT if the recorded level is not valid in
 * `table`.  Changes nothing.
 */
int cpuid_cluster_gpu_check(const struct cpuid_cluster *cluster,
                            const cpuid_gpu_level_table *table, const char *hostname,
                            const struct cpuid_gpu_capability *host,
                            char *shortfall, size_t shortfall_size);

/*
 * After cpuid_cluster_add() of `hostname`: record the member's GPU levels
 * and lower the cluster's level to the minimum of it and the host's
 * (the host's own level when it is the only member; unchanged when pinned
 * or when the file recorded none).  Returns 0, MIG_EINVAL (no such
 * member), MIG_EFORMAT (recorded level invalid in `table`), MIG_ENOMEM.
 */
int cpuid_cluster_gpu_record(struct cpuid_cluster *cluster, const cpuid_gpu_level_table *table,
                             const char *hostname, const struct cpuid_gpu_capability *host);

/*
 * Pin the cluster's GPU level to `baseline` (a gpu_baseline string, "none"
 * unpins nothing: it pins the lowest level).  Refused with MIG_ECOMPAT if a
 * member whose level is recorded is below it (*shortfall as above, naming
 * the member's levels); MIG_EINVAL for a baseline the table does not know.
 */
int cpuid_cluster_gpu_pin(struct cpuid_cluster *cluster, const cpuid_gpu_level_table *table,
                          const char *baseline, char *shortfall, size_t shortfall_size);

/*
 * The levels a gpu_baseline string stands for, as a capability (graphics
 * and compute parts; the details say `what` they come from, e.g. "cluster
 * 'lab'") in the caller's *capability_out.  MIG_EINVAL as
 * cpuid_gpu_requirement_parse().
 */
int cpuid_gpu_capability_from_baseline(const cpuid_gpu_level_table *table, const char *baseline,
                                       const char *what,
                                       struct cpuid_gpu_capability *capability_out);

/* ------------------------------------------------------------------ */
/* Domain config: the xenmig keys of an xl.cfg (domain_config.c)        */
/* ------------------------------------------------------------------ */

/*
 * The xenmig keys of a domain's xl.cfg, read with libxlutil (the parser
 * stock xl uses), and written back into config text:
 *
 *   name            = "web1"                 the domain's name (xl's key)
 *   type            = "hvm"                  pv, pvh or hvm (xl's key; CPUID policy choice)
 *   cpuid_baseline  = "x86-64-v3"            a named CPU level, "cluster", or Xen's
 *                                            19 colon-separated hex words
 *   gpu_baseline    = "d3d11.0-gl4.1,cuda-8.0"  see "GPU levels" above
 *
 * Stock xl ignores the two baseline keys; xl-ext reads them here.  The
 * reader works on a file or on an in-memory blob (the config text that
 * travels with a domain).  Note: the config blob in a stock Xen 4.17 `xl
 * save` file or migration stream is libxl's JSON (xl writes it with
 * XL_MANDATORY_FLAG_JSON), not xl.cfg text, and carries no baseline keys;
 * the reader recognises such a blob and says so (MIG_EUNSUPP) instead of
 * reporting "no baseline".
 *
 * It also returns `type` as cpuid_domain_config_read() does (pv/pvh/hvm,
 * same defaults): that reader is a thin wrapper over this one.
 *
 * Users: `xl-ext create` (read + cpuid_gpu_capability_check), migration
 * pre-flight (read the blob), and the recording of a resolved baseline
 * (cpuid_domain_config_set_string, e.g. cpuid_baseline_features = "...").
 */

#define CPUID_DOMAIN_CONFIG_MAX       (1024 * 1024) /* bytes of config text read */
#define CPUID_DOMAIN_CONFIG_VALUE_MAX 4096          /* a value set by _set_string */
#define CPUID_BASELINE_NAME_MAX       64            /* cpuid_baseline, incl. NUL */

/* The xenmig keys of one config.  Strings are NULL when the key is absent. */
struct cpuid_domain_config_keys {
    char *name;                 /* "name" */
    char *type;                 /* never NULL: "pv", "pvh" or "hvm", from `type`, else
                                 * the legacy `builder = "hvm"`, else "pv" (as xl does) */
    char *cpuid_baseline;       /* checked by cpuid_baseline_parse() (a level name's
                                 * syntax, "cluster" or 19 hex words), not resolved */
    char *gpu_baseline;         /* validated against the GPU level table */
    struct cpuid_gpu_requirement gpu_requirement; /* parsed gpu_baseline; "none" when absent */
};

/* Options of the readers: versioned, initialise with the macro. */
struct cpuid_domain_config_read_options {
    unsigned int version;
    /* The GPU levels to validate gpu_baseline against; NULL: the default
     * table (cpuid_gpu_level_table_load(NULL)) is loaded when the key is present. */
    const cpuid_gpu_level_table *gpu_levels;
};
#define CPUID_DOMAIN_CONFIG_READ_OPTIONS_VERSION 1
#define CPUID_DOMAIN_CONFIG_READ_OPTIONS_INIT { CPUID_DOMAIN_CONFIG_READ_OPTIONS_VERSION, NULL }

/*
 * Read the xenmig keys of the xl.cfg file at `path` (at most
 * CPUID_DOMAIN_CONFIG_MAX bytes).  options may be NULL (defaults).
 *
 * On success *keys_out is a new struct owned by the caller, freed with
 * cpuid_domain_config_keys_free(); on failure *keys_out is NULL.  Errors
 * (message via mig_error_last(), always naming the file):
 *   MIG_EIO      the file cannot be read
 *   MIG_ELIMIT   the file is larger than CPUID_DOMAIN_CONFIG_MAX
 *   MIG_EFORMAT  libxlutil cannot parse it: its own report, with file and
 *                line ("web1.cfg:7: config parsing error near `x': ...")
 *   MIG_EINVAL   a key has a bad value: a list where a string belongs, a
 *                type other than pv/pvh/hvm, a cpuid_baseline that
 *                cpuid_baseline_parse() refuses, an unknown GPU level (the
 *                message quotes it and lists the valid levels)
 *   MIG_EUNSUPP  the text is libxl JSON, not xl.cfg (see above)
 */
int cpuid_domain_config_read_file(const char *path,
                                  const struct cpuid_domain_config_read_options *options,
                                  struct cpuid_domain_config_keys **keys_out);

/*
 * As cpuid_domain_config_read_file(), from `length` bytes of config text
 * at `data` (need not be NUL-terminated; trailing NUL bytes, as xl writes
 * them, are ignored).  `origin` names the blob in messages
 * ("web1.save:config").
 */
int cpuid_domain_config_read_blob(const void *data, size_t length, const char *origin,
                                  const struct cpuid_domain_config_read_options *options,
                                  struct cpuid_domain_config_keys **keys_out);

/* Free keys from the readers; NULL is fine. */
void cpuid_domain_config_keys_free(struct cpuid_domain_config_keys *keys);

/* The three forms of a cpuid_baseline value. */
enum cpuid_baseline_kind {
    CPUID_BASELINE_LEVEL,       /* a level name (its syntax: the level may not exist) */
    CPUID_BASELINE_CLUSTER,     /* "cluster": the baseline of a cluster file */
    CPUID_BASELINE_HEX,         /* Xen's 19 colon-separated hex words */
};

/*
 * The one parser of a cpuid_baseline value, wherever it comes from (an
 * xl.cfg key, `check --baseline`, a domain record): every reader goes
 * through it (the config readers above, cpuid_baseline_resolve()).
 * "cluster" is CPUID_BASELINE_CLUSTER; a level name's syntax (letters,
 * digits, '.', '-', '_', after "libvirt:" for libvirt's models, at most
 * CPUID_BASELINE_NAME_MAX - 1 characters) is CPUID_BASELINE_LEVEL, not
 * looked up; other text with a ':' must be exactly CPUID_FEATURESET_WORDS
 * hex words (CPUID_BASELINE_HEX; the featureset, closed under Xen's
 * dependencies, into *hex_out when not NULL).  *kind_out is the caller's.  Returns 0, or MIG_EINVAL/MIG_ELIMIT
 * with a message naming `origin` (NULL: "(baseline)") and quoting the
 * value.
 */
int cpuid_baseline_parse(const char *text, const char *origin, enum cpuid_baseline_kind *kind_out,
                         struct cpuid_featureset *hex_out);

/*
 * Set `key = "value"` in the xl.cfg text of `length` bytes at `text`, for
 * recording a resolved baseline in the config that travels with a domain.
 * The last existing assignment of key is replaced in place (its line must
 * hold that one assignment, optionally followed by ';' and a comment);
 * otherwise the assignment is appended.  Everything else, comments
 * included, is kept byte for byte.  The result is re-parsed with libxlutil
 * and must read back as `value`.
 *
 * key: [a-z_][a-z0-9_]*, at most 63 characters.  value: printable ASCII
 * without '"' or '\', at most CPUID_DOMAIN_CONFIG_VALUE_MAX - 1 characters.
 *
 * On success *text_out is a new NUL-terminated string owned by the caller
 * (free()); on failure it is NULL.  Errors: MIG_EINVAL (bad key or value,
 * quoted), MIG_EFORMAT (the input does not parse, libxlutil's report),
 * MIG_EUNSUPP (the key's line holds more than one statement or a
 * non-string value: the message quotes the line and says to fix it by
 * hand), MIG_ELIMIT, MIG_ENOMEM.
 */
int cpuid_domain_config_set_string(const char *text, size_t length, const char *key,
                                   const char *value, char **text_out);

#endif /* XENMIG_CPUID_POLICY_H */
