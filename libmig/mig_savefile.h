/*
 * mig_savefile.h: save files the engine writes and reads back
 * (libmig/savefile).
 *
 * The mapped format: a save file in which every pfn that holds data has a
 * fixed place (a slot of 4096 bytes, given on the pfn's first write), so
 * that a page sent again in a later pre-copy round overwrites its slot and
 * the file does not grow with rounds, and N threads write and read it in
 * parallel.  The source's prologue (for Xen: the pre-flight metadata and
 * the head of the xl stream) and its device state (for Xen: the stream's
 * tail) sit in sections of their own; an index gives every pfn's slot,
 * type and hash; a superblock at offset 0 gives the sections, their
 * checksums, and a "complete" marker written last.  docs/formats.md,
 * "Mapped save file", is the specification; integers are little-endian.
 *
 * Writing: the mapped destination is a destination of the engine
 * (sys/mig_backend.h) like the sim and Xen destinations: handed to
 * mig_migrate_receive, it takes a live save.  Reading:
 * mig_mapped_file_open validates a file whole; mig_mapped_replay feeds it
 * to any destination (the sim destination, the Xen destination that starts
 * stock `xl migrate-receive`, or that destination writing an xl stream to
 * a file).  mig_sim_save_replay does the same for the simulated guest's
 * sequential save file (XENMIG-SIM-SAVE1, written by mig_sim_backend.h's
 * destination).
 *
 * Nothing here trusts a file: every length, offset and count is checked
 * against the file's size and the format's limits before it is used, and
 * every error names the file and the offset.
 */
#ifndef XENMIG_MIG_SAVEFILE_H
#define XENMIG_MIG_SAVEFILE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mig_backend.h"
#include "mig_error.h"

/* The superblock's magic and version (docs/formats.md, "Mapped save file"). */
#define MIG_MAPPED_MAGIC      "XMIGMAP1"
#define MIG_MAPPED_VERSION    1
/* The complete marker, the last 8 bytes of the superblock, written last. */
#define MIG_MAPPED_COMPLETE   "XMIGDONE"
/* The sim's sequential save file (formats.md, "Simulated guest save file"). */
#define MIG_SIM_SAVE_MAGIC    "XENMIG-SIM-SAVE1"

/* What a file is, by its first bytes (mig_savefile_sniff). */
enum mig_savefile_format {
    MIG_SAVEFILE_UNKNOWN = 0,
    MIG_SAVEFILE_MAPPED = 1,        /* XMIGMAP1 */
    MIG_SAVEFILE_SIM = 2,           /* XENMIG-SIM-SAVE1 */
    MIG_SAVEFILE_XL = 3,            /* an xl save file or stream (mig_stream.h) */
};

/*
 * The format of the file at path, from its first 32 bytes: 0 with
 * *format_out set (MIG_SAVEFILE_UNKNOWN when it is none of them, or
 * shorter than every magic), or MIG_EIO when it cannot be opened or read
 * (the message names path).
 */
int mig_savefile_sniff(const char *path, enum mig_savefile_format *format_out);

/* ---- writing: the mapped destination ---- */

struct mig_mapped_dest;

/* Versioned: initialise with MIG_MAPPED_DEST_OPTIONS_INIT. */
struct mig_mapped_dest_options {
    unsigned int version;           /* MIG_MAPPED_DEST_OPTIONS_VERSION */
    const char *path;               /* the file: written beside it as a temporary
                                       file, put in place by resume only */
    const char *family;             /* the guest's backend family, "sim",
                                       "xen" (or a test double's: 1 to 8
                                       lower-case letters or digits): the ops
                                       are named "<family>-destination", and a
                                       "xen" file must begin with a Xen
                                       prologue, any other has none */
    /*
     * "xen" only, optional: called with the prologue's metadata JSON
     * (mig_xen.h) when it arrives: 0 accepts; MIG_ECOMPAT (message listing
     * what this host lacks) refuses.  NULL: accept.
     */
    int (*preflight)(void *arg, const char *meta_json);
    void *preflight_arg;
};
#define MIG_MAPPED_DEST_OPTIONS_VERSION 1
#define MIG_MAPPED_DEST_OPTIONS_INIT { MIG_MAPPED_DEST_OPTIONS_VERSION, NULL, NULL, \
                                       NULL, NULL }

/*
 * Create the temporary file beside opts->path (mode 0600: it holds guest
 * memory; util/file.h's rules: a symlink there is replaced, never
 * followed) and a destination that writes it.  *dest_out is owned by the
 * caller (mig_mapped_dest_close); NULL on failure, with the error naming
 * the path.  The destination's table is mig_mapped_dest_ops(*dest_out):
 *
 *   accept_prologue  keeps the blob (family "xen": parsed as a Xen
 *                    prologue, then the preflight) and writes it after
 *                    the superblock;
 *   prepare          makes the per-pfn index for nr_pfns pfns;
 *   write_page       writes a page with data to its pfn's slot (a slot
 *                    is given on the pfn's first page with data, so a
 *                    page sent again overwrites in place); an all-zero
 *                    page is recorded in the index without data; keeps
 *                    the type and the page's hash;
 *   read_page        reads a page back from the file, for the engine's
 *                    digest of what is stored;
 *   epoch_applied    starts the writeback of what the epoch wrote;
 *   restore_state    writes the device state (the tail), the index and
 *                    the superblock, and flushes the file;
 *   resume           writes the complete marker and puts the file in
 *                    place (flushed, renamed, directory flushed);
 *                    MIG_EABSENT when that fails: the guest runs nowhere
 *                    here, so the source keeps it.
 */
int mig_mapped_dest_open(const struct mig_mapped_dest_options *opts,
                         struct mig_mapped_dest **dest_out);
/* The destination's table (owned by dest: valid until its close). */
const struct mig_destination_ops *mig_mapped_dest_ops(const struct mig_mapped_dest *dest);
/*
 * The memory digest of what the file holds (mig_memory_digest of its
 * index), known once restore_state succeeded; 0 before.
 */
uint64_t mig_mapped_dest_digest(const struct mig_mapped_dest *dest);
/* The accepted prologue's metadata JSON ("xen"; borrowed), or NULL. */
const char *mig_mapped_dest_metadata(const struct mig_mapped_dest *dest);
/* Close; a file that was never put in place (no resume) is removed, and
 * whatever was at the path before stays as it was.  NULL: nothing. */
void mig_mapped_dest_close(struct mig_mapped_dest *dest);

/* ---- reading a mapped file ---- */

struct mig_mapped_file;

/* A section of the file: where, how long, its XXH3-64 (0 for the pages). */
struct mig_mapped_section {
    uint64_t offset, length, checksum;
};

/* What the superblock and the index say (mig_mapped_file_info). */
struct mig_mapped_info {
    unsigned int version;
    char family[9];                 /* "sim", "xen": NUL-terminated */
    uint64_t nr_pfns;               /* the guest's pfn space */
    uint64_t nr_entries;            /* pfns with a page (index entries) */
    uint64_t nr_zero;               /* of which all zero (no data) */
    uint64_t nr_slots;              /* pages with data in the pages section */
    uint64_t memory_digest;         /* mig_memory_digest over the index */
    uint64_t file_size;
    struct mig_mapped_section prologue, pages, tail, index;
};

/* One index entry, decoded. */
#define MIG_MAPPED_NO_SLOT UINT64_MAX
struct mig_mapped_entry {
    uint64_t pfn;
    unsigned int type;              /* 0 .. MIG_PAGE_TYPE_MAX */
    bool zero;                      /* all zero: no data is read */
    uint64_t slot;                  /* its slot, or MIG_MAPPED_NO_SLOT */
    uint64_t hash;                  /* mig_page_hash of its 4096 bytes */
};

/*
 * Open path and validate everything but the pages' data: the superblock
 * (magic, version, checksum, complete marker), the sections' bounds
 * against the file's size (a file cut short is refused with the offset
 * where it ends and what was expected there: MIG_ETRUNC), the prologue's,
 * tail's and index's checksums, the index (pfns ascending and in range,
 * each slot used once, the digest it gives equal to the superblock's),
 * and for a "xen" file the prologue's own layout.  Errors: MIG_EFORMAT,
 * MIG_ECORRUPT (a checksum), MIG_ETRUNC, MIG_ELIMIT, MIG_EIO, MIG_ENOMEM,
 * each naming the file and the offset.  *file_out is owned by the caller
 * (mig_mapped_file_close); NULL on failure.
 */
int mig_mapped_file_open(const char *path, struct mig_mapped_file **file_out);
/* The same over an open fd (borrowed: never closed here; read with
 * pread only); name is what errors call the file. */
int mig_mapped_file_open_fd(int fd, const char *name, struct mig_mapped_file **file_out);
void mig_mapped_file_close(struct mig_mapped_file *file);

void mig_mapped_file_info(const struct mig_mapped_file *file, struct mig_mapped_info *info);
/* The prologue and the tail, as the file holds them (borrowed: valid until
 * close; the prologue may be empty). */
const void *mig_mapped_file_prologue(const struct mig_mapped_file *file, size_t *len_out);
const void *mig_mapped_file_tail(const struct mig_mapped_file *file, size_t *len_out);
/* Entry i (0 .. nr_entries - 1) into *entry; MIG_EINVAL beyond. */
int mig_mapped_file_entry(const struct mig_mapped_file *file, uint64_t i,
                          struct mig_mapped_entry *entry);

/*
 * Read every slot with threads threads (1 .. 64; each a contiguous range
 * of slots) and check each page against its hash in the index:
 * MIG_ECORRUPT naming the pfn, its slot's offset and both hashes, or
 * MIG_ETRUNC/MIG_EIO.  cancel (may be NULL): once it reads true, stop with
 * MIG_ECANCELLED.
 */
int mig_mapped_file_verify_pages(struct mig_mapped_file *file, unsigned int threads,
                                 const atomic_bool *cancel);

/* ---- replay: a save file fed to a destination ---- */

enum mig_replay_phase {
    MIG_REPLAY_VERIFY = 0,          /* the file is being checked; nothing started */
    MIG_REPLAY_PAGES = 1,           /* pages go to the destination */
};

struct mig_replay_progress {
    enum mig_replay_phase phase;
    uint64_t pages_done, pages_total;
    double elapsed;                 /* seconds since the replay began */
};

/*
 * Called on the caller's thread at each phase's start and end and about
 * five times a second between.  Return 0 to go on; non-zero cancels
 * (MIG_ECANCELLED): in MIG_REPLAY_VERIFY nothing was started; later the
 * destination was not resumed (its close undoes what it did).
 */
typedef int (*mig_replay_progress_fn)(const struct mig_replay_progress *progress,
                                      void *payload);

/* Versioned: initialise with MIG_REPLAY_OPTIONS_INIT. */
struct mig_replay_options {
    unsigned int version;           /* MIG_REPLAY_OPTIONS_VERSION */
    mig_replay_progress_fn progress;   /* may be NULL */
    void *progress_payload;
};
#define MIG_REPLAY_OPTIONS_VERSION 1
#define MIG_REPLAY_OPTIONS_INIT { MIG_REPLAY_OPTIONS_VERSION, NULL, NULL }

/* What a replay did (filled also on failure, as far as it went). */
struct mig_replay_result {
    uint64_t nr_pfns;
    uint64_t pages;                 /* written to the destination */
    uint64_t zero_pages;            /* of which without data */
    uint64_t memory_digest;         /* mapped: what the file records; sim: 0 */
    double verify_seconds;          /* checking the file */
    double replay_seconds;          /* from accept_prologue to the end of resume */
    double open_seconds;            /* of it: accept_prologue, prepare, open_streams */
    double pages_seconds;           /*        the pages written */
    double state_seconds;           /*        restore_state (the tail, and the
                                               destination's restore of it) */
    double resume_seconds;          /*        resume */
    unsigned int threads;
    bool warm_up_called;            /* warm_up was (it creates nothing: a failure
                                       in it is the destination's, not the
                                       file's) */
    bool started;                   /* the destination was called: a failure
                                       before it is the file's or the
                                       caller's, after it may be the
                                       destination's */
};

/*
 * Replay the mapped file at path into the destination (ops, be): check the
 * file's layout (mig_mapped_file_open) and the family (the file's against
 * ops->name, as the engine's hello does: MIG_ECOMPAT); call warm_up with
 * the prologue (when both exist: it creates nothing), then check every
 * page, so that a file cut short or corrupted is refused before any other
 * destination call; then call accept_prologue (when the file has a
 * prologue; a destination without it refuses one: MIG_ECOMPAT), prepare,
 * open_streams with threads contexts, write_page from threads threads
 * (1 .. 64), each a contiguous range of slots read with pread (the zero
 * entries shared out too), close_streams, restore_state with the tail, and
 * resume.  On failure after accept_prologue nothing is resumed: the caller
 * closes the destination, which undoes the rest.  *result (caller-owned)
 * is filled; opts may be NULL (defaults).
 */
int mig_mapped_replay(const char *path, const struct mig_destination_ops *ops, void *be,
                      unsigned int threads, const struct mig_replay_options *opts,
                      struct mig_replay_result *result);

/*
 * The same for a file the caller opened with mig_mapped_file_open (its
 * layout checked; borrowed, the caller closes it), so that a caller that
 * looked into the file first does not read and check its index twice.
 */
int mig_mapped_replay_file(struct mig_mapped_file *file, const struct mig_destination_ops *ops,
                           void *be, unsigned int threads,
                           const struct mig_replay_options *opts,
                           struct mig_replay_result *result);

/*
 * The same for the sim's sequential save file (MIG_SIM_SAVE_MAGIC): its
 * size is checked against its header before any destination call (a file
 * cut short: MIG_ETRUNC with the offset); every pfn is written, all-zero
 * pages without data; threads read contiguous pfn ranges.  The format has
 * no checksums: its state is checked by the sim destination.
 */
int mig_sim_save_replay(const char *path, const struct mig_destination_ops *ops, void *be,
                        unsigned int threads, const struct mig_replay_options *opts,
                        struct mig_replay_result *result);

#endif /* XENMIG_MIG_SAVEFILE_H */
