/*
 * mig_xen.h: the Xen backend (libmig/backend/xen).
 *
 * Source: a running PVH, HVM (qemu-xen in dom0) or 64-bit PV domain,
 * driven through libxenctrl (log-dirty, pause, HVM context; PV: m2p, page
 * types, vCPU state, its page tables normalised as Xen's stream wants),
 * libxenforeignmemory (one handle per data stream, pages mapped in
 * batches), libxenlight (suspend/resume, the domain's configuration) and,
 * for HVM, the device model over QMP.
 *
 * Destination: no domain is built here.  The pages and records are merged
 * into one standard xl migration stream (xl header and config, libxl v2,
 * libxc v3) that is fed to Xen's stock `xl migrate-receive`, with xl's own
 * migration handshake spoken to it.  The restore path stays Xen's own.
 *
 * Prologue (source -> destination before any page; see sys/mig_backend.h),
 * magic MIG_XEN_PROLOGUE_MAGIC, integers little-endian (docs/formats.md,
 * "Xen prologue and state", is the specification):
 *
 *   | off    | size | field                                         |
 *   |--------|------|-----------------------------------------------|
 *   |      0 |    8 | magic "XMIGXEN1"                              |
 *   |      8 |    4 | J: length of the metadata JSON (1..1 MiB)     |
 *   |     12 |    4 | H: length of the stream head (1..16 MiB)      |
 *   |     16 |    J | metadata, one JSON object (no NUL), below     |
 *   | 16 + J |    H | stream head: the xl migration stream from its |
 *   |        |      | first byte up to and including the libxc      |
 *   |        |      | STATIC_DATA_END record (PV: and the           |
 *   |        |      | X86_PV_P2M_FRAMES record after it)            |
 *
 * Metadata members: "domain" (name, string), "uuid" (string), "type"
 * ("pvh", "pv" or "hvm"), "features" (the CPUID featureset the domain
 * needs, as cpuid_featureset_format_hex writes it: the one recorded at
 * create when there is one, else the running one), optional "cpuid_baseline" and
 * "gpu_baseline" (the names recorded by `xl-ext create`), "xen_version"
 * ("4.17").  Unknown members are ignored.
 *
 * State (the "state" block of the control protocol): the stream's tail,
 * written after the last PAGE_DATA record: libxc X86_TSC_INFO,
 * HVM_CONTEXT, HVM_PARAMS, END, then libxl END (HVM with a device model:
 * the libxl EMULATOR_XENSTORE_DATA and EMULATOR_CONTEXT records before
 * it); for a PV domain
 * X86_TSC_INFO, SHARED_INFO, per online vCPU X86_PV_VCPU_BASIC,
 * _EXTENDED, _XSAVE, _MSRS, END, then libxl END.
 */
#ifndef XENMIG_MIG_XEN_H
#define XENMIG_MIG_XEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mig_backend.h"
#include "mig_error.h"

struct xentoollog_logger;

#define MIG_XEN_PROLOGUE_MAGIC     "XMIGXEN1"
#define MIG_XEN_PROLOGUE_META_MAX  (1u << 20)
#define MIG_XEN_PROLOGUE_HEAD_MAX  (16u << 20)

/*
 * Build a prologue from the metadata JSON text and the stream head.
 * *blob_out is malloc'ed, owned by the caller.
 */
int mig_xen_prologue_build(const char *meta_json, const void *head, size_t head_len,
                           void **blob_out, size_t *len_out);

/*
 * Split a prologue.  On success *meta_out (NUL-terminated copy of the
 * JSON) is malloc'ed and owned by the caller; *head_out points into blob
 * (borrowed).  Every length is checked; errors quote the offending value.
 */
int mig_xen_prologue_parse(const void *blob, size_t len, char **meta_out,
                           const void **head_out, size_t *head_len_out);

/* ---- source ---- */

struct mig_xen_source;

/* Versioned: initialise with MIG_XEN_SOURCE_OPTIONS_INIT. */
struct mig_xen_source_options {
    unsigned int version;          /* MIG_XEN_SOURCE_OPTIONS_VERSION */
    const char *config_file;       /* xl migrate -C: config file to send as it
                                      is (xl's format), or NULL: the domain's own */
    /*
     * Members added to the prologue's metadata: JSON object members
     * without the braces ("\"features\":\"...\",\"cpuid_baseline\":...";
     * xl-ext fills them from cpuid-policy), or NULL.
     */
    const char *metadata_extra;
    bool preserve_domid;           /* xl migrate -D */
    /*
     * A live checkpoint (xl save -c, -p): once the destination has the
     * domain (a save file in place), release() resumes it here instead of
     * destroying it, and with checkpoint_paused leaves it paused.
     */
    bool checkpoint;
    bool checkpoint_paused;
};
/* 2: "streams" went (the engine opens a mapping handle per stream).
 * 3: checkpoint, checkpoint_paused. */
#define MIG_XEN_SOURCE_OPTIONS_VERSION 3
#define MIG_XEN_SOURCE_OPTIONS_INIT { MIG_XEN_SOURCE_OPTIONS_VERSION, NULL, NULL, false, \
                                      false, false }

/*
 * Open the domain named (or numbered) domain for migration.  Refuses with
 * MIG_ESTOCK a domain that stock `xl migrate` takes but the engine does
 * not (a device model in a stub domain or qemu-traditional, 32-bit PV),
 * and with MIG_EPLATFORM when this host has no Xen or the caller may not
 * drive it.  *src_out is owned by the caller (mig_xen_source_close).
 */
int mig_xen_source_open(struct xentoollog_logger *log, const char *domain,
                        const struct mig_xen_source_options *opts,
                        struct mig_xen_source **src_out);
extern const struct mig_source_ops mig_xen_source_ops;
/* The domain id. */
uint32_t mig_xen_source_domid(const struct mig_xen_source *src);
/* Close; never destroys or pauses the domain itself, and puts back the
 * scheduler cap it had if the engine left it throttled. */
void mig_xen_source_close(struct mig_xen_source *src);

/* ---- destination ---- */

struct mig_xen_dest;

/* Versioned: initialise with MIG_XEN_DEST_OPTIONS_INIT. */
struct mig_xen_dest_options {
    unsigned int version;          /* MIG_XEN_DEST_OPTIONS_VERSION */
    const char *xl;                /* the xl to run (default "xl") */
    bool pause_after;              /* xl migrate -p: leave it paused */
    bool debug;                    /* xl migrate --debug */
    /*
     * Pre-flight, called with the prologue's metadata JSON before the stock
     * receiver is started: 0 accepts; MIG_ECOMPAT (message listing what
     * this host lacks) refuses.  NULL: accept.  (xl-ext supplies the
     * CPUID/GPU check, so libmig does not depend on cpuid-policy.)
     */
    int (*preflight)(void *arg, const char *meta_json);
    void *preflight_arg;
    const char *capture_path;      /* also write the merged stream here, or NULL */
    bool no_monitor;               /* xl migrate -e: xl exits once the domain
                                      runs (no background monitor) */
    /*
     * A save, not a migration: no xl runs here; the merged stream (an xl
     * save file, which stock `xl restore` reads) is written to save_path,
     * whole: a temporary file, flushed, renamed into place on the go
     * (resume); a migration that fails leaves whatever was there.  xl,
     * pause_after, debug, no_monitor and capture_path do not apply.
     */
    const char *save_path;
};
/* 2: save_path. */
#define MIG_XEN_DEST_OPTIONS_VERSION 2
#define MIG_XEN_DEST_OPTIONS_INIT { MIG_XEN_DEST_OPTIONS_VERSION, "xl", false, \
                                    false, NULL, NULL, NULL, false, NULL }

int mig_xen_dest_open(struct xentoollog_logger *log,
                      const struct mig_xen_dest_options *opts,
                      struct mig_xen_dest **dest_out);
extern const struct mig_destination_ops mig_xen_dest_ops;
/* The metadata JSON of the accepted prologue (borrowed), or NULL. */
const char *mig_xen_dest_metadata(const struct mig_xen_dest *dest);
/*
 * Close.  If the stock receiver was started but never told to unpause, its
 * input is closed so that it destroys the incoming copy, and it is waited
 * for (killed after a time limit).
 */
void mig_xen_dest_close(struct mig_xen_dest *dest);

#endif /* XENMIG_MIG_XEN_H */
