/*
 * xen_private.h: what the files of libmig/backend/xen share.
 */
#ifndef XENMIG_XEN_PRIVATE_H
#define XENMIG_XEN_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xenctrl.h>

struct mig_dirty_bitmap;
struct mig_stream_writer;
struct xentoollog_logger;
struct pv_frame_maps;

/* ---- Stream head and tail (source_stream.c, source_pv_stream.c) ---- */

/* What a PV domain's head adds (X86_PV_INFO, X86_PV_P2M_FRAMES). */
struct xen_pv_head {
    unsigned int guest_width;      /* bytes: 8 (4 would be a 32-bit guest) */
    uint64_t max_pfn;              /* the p2m's last pfn */
    const uint64_t *p2m_pfns;      /* the pfns of the frames holding the p2m */
    unsigned int p2m_frames;
};

/* Everything the head is made of, gathered (pure input of the writer). */
struct xen_stream_head {
    const void *config;            /* xl's config, config_length bytes */
    uint32_t config_length;
    bool json;                     /* config is xl's JSON (with its NUL) */
    uint32_t xen_major, xen_minor;
    const void *cpuid_leaves;      /* xen_cpuid_leaf_t[], cpuid_length bytes */
    uint32_t cpuid_length;
    const void *msrs;              /* xen_msr_entry_t[], msrs_length bytes */
    uint32_t msrs_length;
    const struct xen_pv_head *pv;  /* NULL: an HVM/PVH domain */
};

/*
 * Write the head to w: xl header with the config (xl's JSON with its NUL,
 * or with -C the file as it is, JSON flag clear: the receiving xl parses
 * it), libxl v2 header, LIBXC_CONTEXT, libxc image and domain headers
 * (x86_hvm, or x86_pv with pv), [PV: X86_PV_INFO], the CPUID and MSR policy
 * records, STATIC_DATA_END, [PV: X86_PV_P2M_FRAMES]: Xen 4.17's order.
 */
int xen_stream_write_head(struct mig_stream_writer *w, const struct xen_stream_head *head);

/*
 * The head of a running domain (its CPU policy and Xen's version read
 * here; pv NULL for PVH/HVM), malloc'ed into *out, owned by the caller.
 */
int xen_stream_head(xc_interface *xch, uint32_t domid, const void *config,
                    uint32_t config_len, bool json, const struct xen_pv_head *pv,
                    void **out, size_t *len_out);

/* An HVM domain's device model state, as its libxl records carry it. */
struct xen_emulator_state {
    const void *xenstore;          /* "key\0value\0"... (libxl's); may be empty */
    size_t xenstore_length;
    const void *context;           /* qemu's saved device state, not empty */
    size_t context_length;
};

/* Everything a PVH/HVM tail is made of, gathered (pure input of the writer). */
struct xen_hvm_tail {
    uint32_t tsc_mode, tsc_khz, tsc_incarnation;
    uint64_t tsc_nsec;
    const void *context;           /* HVM_CONTEXT body */
    uint32_t context_length;
    const uint64_t *params;        /* pairs (index, value), only non-zero values */
    uint32_t nr_params;
    const struct xen_emulator_state *emulator;  /* NULL: no device model (PVH) */
};

/*
 * Write an HVM tail to w: X86_TSC_INFO, HVM_CONTEXT, HVM_PARAMS (when
 * any), libxc END, [device model: EMULATOR_XENSTORE_DATA (when any),
 * EMULATOR_CONTEXT], libxl END: Xen 4.17's order.
 */
int xen_stream_write_hvm_tail(struct mig_stream_writer *w, const struct xen_hvm_tail *tail);

/*
 * Tail of a suspended PVH/HVM domain (see xen_stream_write_hvm_tail; emu
 * NULL without a device model); malloc'ed into *out, owned by the caller.
 */
int xen_stream_tail(xc_interface *xch, uint32_t domid, const struct xen_emulator_state *emu,
                    void **out, size_t *len_out);

/* Copy a memory writer's bytes into *out (malloc'ed, owned by the caller). */
int xen_stream_take_buffer(struct mig_stream_writer *w, void **out, size_t *len_out);

/* One online vCPU of a PV guest, as its tail records carry it. */
struct xen_pv_vcpu_state {
    uint32_t id;
    const void *basic;             /* normalised vcpu_guest_context (x86_64) */
    uint32_t basic_length;
    const void *extended;          /* 0 length: no record */
    uint32_t extended_length;
    const void *xsave;
    uint32_t xsave_length;
    const void *msrs;              /* xen_domctl_vcpu_msr_t[] */
    uint32_t msrs_length;
};

struct xen_pv_tail {
    uint32_t tsc_mode, tsc_khz, tsc_incarnation;
    uint64_t tsc_nsec;
    const void *shared_info;       /* 4096 bytes */
    const struct xen_pv_vcpu_state *vcpus;
    unsigned int nr_vcpus;
};

/*
 * Write a PV tail to w: X86_TSC_INFO, SHARED_INFO, then per vCPU
 * X86_PV_VCPU_BASIC, _EXTENDED, _XSAVE, _MSRS (those with content), libxc
 * END, libxl END: Xen 4.17's order.
 */
int xen_pv_stream_write_tail(struct mig_stream_writer *w, const struct xen_pv_tail *tail);

/* ---- An HVM domain's device model, qemu-xen (emulator.c) ---- */

struct xs_handle;

/*
 * Run one QMP command on the unix socket at path: wait for QEMU's
 * greeting, send qmp_capabilities, then command with arguments (the text
 * of a JSON object, or NULL); events are skipped.  0 when QEMU returned;
 * MIG_EIO quoting QEMU's error description, or naming the socket and what
 * was awaited (each message is waited for at most timeout_ms); MIG_EFORMAT
 * for a peer that does not speak QMP.
 */
int xen_qmp_execute(const char *path, const char *command, const char *arguments,
                    int timeout_ms);

/*
 * After libxl_domain_suspend_only (which has the stopped qemu save with
 * live=false): have qemu save its state to save_path again with live=true,
 * passing the file as an fd (add-fd, then remove-fd), so it also gives up
 * its disk images' locks for the destination (libxl's resume, "cont",
 * takes them back).  First asks qemu whether it holds any image
 * (query-block, query-named-block-nodes); when it holds none, saves
 * nothing and leaves save_path as libxl's suspend wrote it.  *saved
 * (written always) says whether qemu saved again.  Errors as
 * xen_qmp_execute; MIG_EIO naming save_path when it cannot be opened.
 */
int xen_emulator_save_live(const char *qmp_path, const char *save_path, int timeout_ms,
                           bool *saved);

/* libxl's paths (Xen 4.17) for domid's device model: QMP socket, saved state. */
void xen_emulator_qmp_path(uint32_t domid, char *buf, size_t size);
void xen_emulator_save_path(uint32_t domid, char *buf, size_t size);

/*
 * The device state libxl's suspend had qemu save in path, read whole into
 * *out (malloc'ed, owned by the caller; never empty).  The file is left
 * where it is.
 */
int xen_emulator_read_context(const char *path, void **out, size_t *len_out);

/*
 * qemu's physmap entries of domain domid in xenstore, as libxl's
 * EMULATOR_XENSTORE_DATA carries them ("physmap/ID/KEY\0value\0" for
 * start_addr, size and name of each entry).  *out malloc'ed, owned by the
 * caller; NULL and 0 bytes when qemu has none.
 */
int xen_emulator_read_xenstore(struct xs_handle *xs, uint32_t domid, void **out,
                               size_t *len_out);

/*
 * Write EMULATOR_XENSTORE_DATA (when emu has any) and EMULATOR_CONTEXT for
 * qemu-xen (emulator QEMU_UPSTREAM, index 0) to w.
 */
int xen_stream_write_emulator(struct mig_stream_writer *w,
                              const struct xen_emulator_state *emu);

/* ---- PV memory (source_pv.c) ---- */

struct xen_pv_memory;

/*
 * Map what migrating a running 64-bit PV domain needs (m2p, shared info,
 * the guest's p2m).  *out is a new handle owned by the caller
 * (xen_pv_memory_close); NULL on failure.  MIG_ESTOCK for a 32-bit guest,
 * MIG_EFORMAT for a guest whose p2m cannot be found or is malformed.
 */
int xen_pv_memory_open(struct xentoollog_logger *log, xc_interface *xch, uint32_t domid,
                       struct xen_pv_memory **out);
void xen_pv_memory_close(struct xen_pv_memory *pv);

uint64_t xen_pv_nr_pfns(const struct xen_pv_memory *pv);       /* max_pfn + 1 */
unsigned int xen_pv_guest_width(const struct xen_pv_memory *pv);
/* Views owned by pv, valid until xen_pv_memory_close. */
const struct pv_frame_maps *xen_pv_frame_maps(const struct xen_pv_memory *pv);
void xen_pv_p2m_frame_pfns(const struct xen_pv_memory *pv, const uint64_t **pfns_out,
                           unsigned int *count_out);
const void *xen_pv_shared_info(const struct xen_pv_memory *pv);

/* MIG_EUNSUPP (with a message) if the guest re-laid its p2m list since open. */
int xen_pv_check_p2m_unchanged(const struct xen_pv_memory *pv);

/* The p2m's mfn for pfn now, or PV_INVALID_FRAME (none, or not a RAM frame). */
uint64_t xen_pv_pfn_to_mfn(const struct xen_pv_memory *pv, uint64_t pfn);

/*
 * Page types (MIG_STREAM_PAGE_*, pinned bit included) of n frames given by mfn
 * (PV_INVALID_FRAME gives MIG_STREAM_PAGE_XTAB) into types[].  Thread-safe.
 */
int xen_pv_page_types(struct xen_pv_memory *pv, const xen_pfn_t *mfns, unsigned int n,
                      unsigned int *types);

/*
 * What a PV page of the given type sends: mapped (4096 bytes) copied into
 * buf, a page table normalised.  MIG_EABSENT for a type that is not sent
 * (XTAB, XALLOC, BROKEN), or for a page table that cannot be normalised
 * while the guest runs (!paused): the pfn is then deferred (see below).
 * Paused, that is an error (MIG_EFORMAT, naming pfn and entry).
 * Thread-safe.
 */
int xen_pv_prepare_page(struct xen_pv_memory *pv, uint64_t pfn, unsigned int type,
                        bool paused, const void *mapped, void *buf);

/* Note pfn to be sent again; thread-safe. */
void xen_pv_defer(struct xen_pv_memory *pv, uint64_t pfn);

/* OR the deferred pfns into dst (same size) and forget them; returns how many. */
uint64_t xen_pv_take_deferred(struct xen_pv_memory *pv, struct mig_dirty_bitmap *dst);

/*
 * The pfns of the xenstore and console rings of the suspended domain (from
 * its start info page; PV_INVALID_FRAME where the guest has none): dom0
 * writes them through its own mappings, which the dirty log does not see.
 */
int xen_pv_ring_pfns(struct xen_pv_memory *pv, uint64_t *store_pfn, uint64_t *console_pfn);

/*
 * The PV tail of the suspended domain (vCPU state normalised with pv's
 * maps), malloc'ed into *out, owned by the caller.
 */
int xen_pv_stream_tail(xc_interface *xch, uint32_t domid, struct xen_pv_memory *pv,
                       void **out, size_t *len_out);

/*
 * Why a domain cannot be suspended or harvested any more, from what
 * libxl_domain_info() said: found false (no such domain now), dying, or
 * shut down with shutdown_reason (a libxl_shutdown_reason).  Writes a
 * phrase such as "it crashed (shutdown reason 'crash')" into why (size
 * bytes, NUL-terminated, truncated if need be) and returns true; returns
 * false, why untouched, when the domain looks alive (running or paused).
 * Pure apart from libxl's name table (source.c).
 */
bool xen_domain_gone_reason(bool found, bool dying, bool shutdown, int shutdown_reason,
                            char *why, size_t size);

#endif /* XENMIG_XEN_PRIVATE_H */
