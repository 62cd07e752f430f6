/*
 * gpu_probe.h: the raw GPU facts of a host, how they are collected, and
 * their JSON form (the "gpu" object of `host-dump`).
 *
 * Two halves, kept apart so that everything but the collection itself can
 * be tested without a GPU:
 *   - cpuid_gpu_probe_collect() gathers raw facts from the drivers that are
 *     present, loading them at run time with dlopen (no build dependency):
 *     NVIDIA devices through NVML (libnvidia-ml.so.1), the OpenGL version
 *     through EGL (libEGL.so.1).  No GPU or no library is not an error: the
 *     facts then say "absent" with the reason.
 *   - the levels a host reaches are derived from the facts by pure code in
 *     gpu_level.h (cpuid_gpu_capability_from_facts), which also runs on facts read
 *     back from JSON (recorded probes, other hosts' host dumps).
 *
 * Facts are plain value structs (fixed-size, no pointers), so they can be
 * copied, compared and sent through a pipe.  Every string in them is
 * NUL-terminated and truncated to its buffer.
 *
 * Users: `xl-ext gpu-probe`, and (by the cpuid-policy work) `host-dump`
 * (cpuid_gpu_facts_to_json), `cluster add` / `check` / `report` (cpuid_gpu_facts_from_json
 * on a host dump, then gpu_level.h), `xl-ext create` (collect + check).
 */
#ifndef XENMIG_GPU_PROBE_H
#define XENMIG_GPU_PROBE_H

#include <stddef.h>

#include <json-c/json.h>

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
    char name[CPUID_GPU_PROBE_TEXT_MAX];      /* "NVIDIA H100 80GB HBM3" */
    int compute_major;                  /* CUDA compute capability, -1 unknown */
    int compute_minor;
};

struct cpuid_gpu_facts {
    /* NVIDIA, through NVML */
    enum cpuid_gpu_source_status nvml_status;
    char nvml_reason[CPUID_GPU_PROBE_REASON_MAX];   /* "" when OK */
    char driver_version[CPUID_GPU_PROBE_TEXT_MAX];  /* "535.129.03" */
    unsigned int device_count;                /* as NVML counted them */
    unsigned int devices_recorded;            /* <= CPUID_GPU_PROBE_MAX_DEVICES */
    struct cpuid_gpu_device_facts devices[CPUID_GPU_PROBE_MAX_DEVICES];

    /* OpenGL, through EGL (any vendor: NVIDIA, Mesa, ...) */
    enum cpuid_gpu_source_status gl_status;
    char gl_reason[CPUID_GPU_PROBE_REASON_MAX];     /* "" when OK */
    char gl_version[CPUID_GPU_PROBE_TEXT_MAX];      /* GL_VERSION, verbatim */
    char gl_renderer[CPUID_GPU_PROBE_TEXT_MAX];     /* GL_RENDERER, verbatim */
    char gl_vendor[CPUID_GPU_PROBE_TEXT_MAX];       /* GL_VENDOR, verbatim */
    char gl_extensions[CPUID_GPU_PROBE_EXTENSIONS_MAX]; /* space separated; cut at a whole name */
};

/* Fill *facts with "nothing known": both sources absent, no reason. */
void cpuid_gpu_facts_init(struct cpuid_gpu_facts *facts);

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
 * Collect the raw GPU facts of this host into *facts_out (caller-owned
 * storage; about 40 KiB, so prefer the heap in threads with small stacks).
 *
 * By default the drivers are loaded in a forked child process that sends
 * the facts back through a pipe and is killed after the timeout, so a
 * crashing or hanging driver (or a driver's leaks) cannot take the caller
 * with it; a child that dies or times out gives CPUID_GPU_SOURCE_ERROR with the
 * reason.  The probe never initialises a device beyond what NVML's and
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

/* "ok", "absent" or "error". */
const char *cpuid_gpu_source_status_name(enum cpuid_gpu_source_status status);

/*
 * The JSON form of the facts (schema in README.md, "GPU capability
 * levels"): {"nvml": {...}, "gl": {...}}.  *json_out is a new reference
 * owned by the caller (json_object_put).  Returns 0 or MIG_ENOMEM.
 */
int cpuid_gpu_facts_to_json(const struct cpuid_gpu_facts *facts, json_object **json_out);

/*
 * Read facts back from their JSON form (a recorded probe, or the "facts"
 * member of another host's dump).  Unknown members are ignored; a missing
 * "nvml" or "gl" member means that source is absent.  Strings longer than
 * their buffers, bad types, out-of-range compute capabilities or more than
 * CPUID_GPU_PROBE_MAX_DEVICES devices are errors.  `origin` names the input in
 * messages ("h100.json").  Returns 0, or MIG_EFORMAT with a message that
 * quotes the offending member; *facts_out is then unspecified.
 */
int cpuid_gpu_facts_from_json(const json_object *json, const char *origin,
                        struct cpuid_gpu_facts *facts_out);

/*
 * As cpuid_gpu_facts_from_json(), from JSON text of `length` bytes (need not be
 * NUL-terminated; at most 1 MiB).  The text is either a facts object or a
 * probe document with the facts under "facts" (what `xl-ext gpu-probe
 * --json` prints).  MIG_EFORMAT quotes the JSON parser's complaint.
 */
int cpuid_gpu_facts_from_json_text(const char *text, size_t length, const char *origin,
                             struct cpuid_gpu_facts *facts_out);

/*
 * As cpuid_gpu_facts_from_json_text(), from the file at `path` (a recorded probe
 * or a host's dump; at most 1 MiB).  Also MIG_EIO when it cannot be read.
 */
int cpuid_gpu_facts_read_file(const char *path, struct cpuid_gpu_facts *facts_out);

#endif /* XENMIG_GPU_PROBE_H */
