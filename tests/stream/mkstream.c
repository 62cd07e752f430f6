/*
 * mkstream.c: writes a synthetic but realistic Xen 4.17 save image with
 * libmig's stream writer, for tests, the fuzz corpus and the demo, until the
 * migration engine produces real ones.
 *
 * The record sequence follows what Xen 4.17's libxc save writes
 * (xg_sr_save.c and the x86 HVM/PV save ops): headers, static data
 * (X86_PV_INFO for PV, X86_CPUID_POLICY, X86_MSR_POLICY), STATIC_DATA_END,
 * X86_PV_P2M_FRAMES for PV, PAGE_DATA batches of at most 1024 pfns,
 * X86_TSC_INFO, then HVM_CONTEXT + HVM_PARAMS or SHARED_INFO + the
 * X86_PV_VCPU_* records, END; libxl wraps it (LIBXC_CONTEXT, emulator
 * records for HVM, END) and xl puts its header with a JSON config in front.
 * Page contents and device state are synthetic (seeded, reproducible).
 * This program must never read guest memory or talk to Xen.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mig_stream.h"

struct options {
    enum mig_stream_format format;
    int hvm;
    uint64_t pages;
    uint32_t vcpus;
    uint64_t seed;
    int xenstore_data;
    int pattern;          /* low-entropy page contents (compress well) */
    const char *output;
};

static uint64_t next_random(uint64_t *state)
{
    /* splitmix64 */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void fill(uint8_t *dst, size_t len, uint64_t *state)
{
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = next_random(state);

        memcpy(dst + i, &v, len - i < 8 ? len - i : 8);
    }
}

static int write_static_data(struct mig_stream_writer *w, const struct options *o)
{
    static const struct mig_stream_cpuid_leaf leaves[] = {
        { 0x0, 0xffffffffu, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69 },
        { 0x1, 0xffffffffu, 0x000906ea, 0x00100800, 0xfffa3203, 0x1f8bfbff },
        { 0x7, 0x0, 0x0, 0x009c27ab, 0x0, 0xbc000400 },
        { 0xd, 0x0, 0x7, 0x340, 0x340, 0x0 },
        { 0xd, 0x1, 0x1, 0x0, 0x0, 0x0 },
        { 0x80000000u, 0xffffffffu, 0x80000008u, 0, 0, 0 },
        { 0x80000001u, 0xffffffffu, 0, 0, 0x121, 0x2c100800 },
        { 0x80000008u, 0xffffffffu, 0x3027, 0, 0, 0 },
    };
    static const struct mig_stream_msr_entry msrs[] = {
        { 0x000000ce, 0, 0x0000000080000000ull },   /* MSR_INTEL_PLATFORM_INFO */
        { 0x0000010a, 0, 0x000000000000002bull },   /* MSR_ARCH_CAPABILITIES */
    };
    struct mig_stream_body b = { .layer = MIG_STREAM_LAYER_LIBXC };
    int rc;

    if (!o->hvm) {
        b.type = MIG_LIBXC_X86_PV_INFO;
        b.u.x86_pv_info.guest_width = 8;
        b.u.x86_pv_info.pt_levels = 4;
        rc = mig_stream_write_body(w, &b);
        if (rc)
            return rc;
    }
    memset(&b.u, 0, sizeof(b.u));
    b.type = MIG_LIBXC_X86_CPUID_POLICY;
    b.u.cpuid_policy.count = sizeof(leaves) / sizeof(leaves[0]);
    b.u.cpuid_policy.leaves = leaves;
    rc = mig_stream_write_body(w, &b);
    if (rc)
        return rc;
    memset(&b.u, 0, sizeof(b.u));
    b.type = MIG_LIBXC_X86_MSR_POLICY;
    b.u.msr_policy.count = sizeof(msrs) / sizeof(msrs[0]);
    b.u.msr_policy.entries = msrs;
    rc = mig_stream_write_body(w, &b);
    if (rc)
        return rc;
    return mig_stream_write_record(w, MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_STATIC_DATA_END,
                                   NULL, 0);
}

static int write_p2m_frames(struct mig_stream_writer *w, const struct options *o)
{
    uint32_t count = (uint32_t)((o->pages + 511) / 512);
    uint64_t *frames = calloc(count, sizeof(*frames));
    struct mig_stream_body b = { .layer = MIG_STREAM_LAYER_LIBXC,
                                 .type = MIG_LIBXC_X86_PV_P2M_FRAMES };
    int rc;

    if (!frames)
        return mig_error_set(MIG_ENOMEM, "out of memory for %" PRIu32 " p2m frames", count);
    for (uint32_t i = 0; i < count; i++)
        frames[i] = o->pages - count + i;   /* the p2m lives at the top of memory */
    b.u.p2m_frames.start_pfn = 0;
    b.u.p2m_frames.end_pfn = (uint32_t)(o->pages - 1);
    b.u.p2m_frames.count = count;
    b.u.p2m_frames.frames = frames;
    rc = mig_stream_write_body(w, &b);
    free(frames);
    return rc;
}

/* Type of a pfn in the synthetic guest. */
static uint64_t pfn_type(const struct options *o, uint64_t pfn)
{
    if (o->hvm) {
        if (pfn >= 0xa0 && pfn < 0xc0)
            return MIG_STREAM_PAGE_XTAB;          /* VGA hole: no page */
        return MIG_STREAM_PAGE_NOTAB;
    }
    if (pfn == 1)
        return MIG_STREAM_PAGE_PINNED | MIG_STREAM_PAGE_L4TAB;
    if (pfn == 2)
        return MIG_STREAM_PAGE_L3TAB;
    if (pfn >= 3 && pfn < 5)
        return MIG_STREAM_PAGE_L2TAB;
    if (pfn >= 5 && pfn < 13)
        return MIG_STREAM_PAGE_L1TAB;
    return MIG_STREAM_PAGE_NOTAB;
}

static int write_memory(struct mig_stream_writer *w, const struct options *o, uint64_t *state)
{
    uint64_t words[MIG_STREAM_PAGE_DATA_MAX_PFNS];
    struct iovec iov[MIG_STREAM_PAGE_DATA_MAX_PFNS];
    uint8_t *pages = malloc((size_t)MIG_STREAM_PAGE_DATA_MAX_PFNS * MIG_PAGE_SIZE);
    int rc = 0;

    if (!pages)
        return mig_error_set(MIG_ENOMEM, "out of memory for a page batch");
    for (uint64_t first = 0; first < o->pages && !rc; first += MIG_STREAM_PAGE_DATA_MAX_PFNS) {
        uint32_t count = 0, data = 0;

        for (uint64_t pfn = first; pfn < o->pages && count < MIG_STREAM_PAGE_DATA_MAX_PFNS;
             pfn++) {
            uint64_t type = pfn_type(o, pfn);
            uint8_t *page = pages + (size_t)data * MIG_PAGE_SIZE;

            words[count++] = pfn | (type << MIG_STREAM_PFN_TYPE_SHIFT);
            if (!mig_stream_page_type_has_data((unsigned int)type))
                continue;
            if (pfn % 7 == 3)
                memset(page, 0, MIG_PAGE_SIZE);      /* zero pages happen */
            else if (o->pattern)
                for (unsigned int i = 0; i < MIG_PAGE_SIZE; i += 8)
                    memcpy(page + i, &pfn, 8);
            else
                fill(page, MIG_PAGE_SIZE, state);
            iov[data].iov_base = page;
            iov[data].iov_len = MIG_PAGE_SIZE;
            data++;
        }
        rc = mig_stream_write_page_data(w, words, count, iov, data);
    }
    free(pages);
    return rc;
}

static int write_tsc_info(struct mig_stream_writer *w)
{
    struct mig_stream_body b = { .layer = MIG_STREAM_LAYER_LIBXC,
                                 .type = MIG_LIBXC_X86_TSC_INFO };

    b.u.tsc_info.mode = 0;
    b.u.tsc_info.khz = 2400000;
    b.u.tsc_info.nsec = 123456789012ull;
    b.u.tsc_info.incarnation = 0;
    return mig_stream_write_body(w, &b);
}

static int write_hvm_state(struct mig_stream_writer *w, const struct options *o,
                           uint64_t *state)
{
    static const struct mig_stream_hvm_param params[] = {
        { 1, 0xfeffc },      /* HVM_PARAM_STORE_PFN */
        { 5, 0xfeff0 },      /* HVM_PARAM_IOREQ_PFN */
        { 6, 0xfeff1 },      /* HVM_PARAM_BUFIOREQ_PFN */
        { 17, 0xfefff },     /* HVM_PARAM_CONSOLE_PFN */
        { 12, 0xfc000000 },  /* HVM_PARAM_IDENT_PT */
        { 19, 1 },           /* HVM_PARAM_ACPI_IOPORTS_LOCATION */
    };
    uint32_t context_length = 1024 + 512 * o->vcpus;
    uint8_t *context = malloc(context_length);
    struct mig_stream_body b = { .layer = MIG_STREAM_LAYER_LIBXC };
    int rc;

    if (!context)
        return mig_error_set(MIG_ENOMEM, "out of memory for the HVM context");
    fill(context, context_length, state);
    b.type = MIG_LIBXC_HVM_CONTEXT;
    b.u.blob.length = context_length;
    b.u.blob.data = context;
    rc = mig_stream_write_body(w, &b);
    free(context);
    if (rc)
        return rc;
    memset(&b.u, 0, sizeof(b.u));
    b.type = MIG_LIBXC_HVM_PARAMS;
    b.u.hvm_params.count = sizeof(params) / sizeof(params[0]);
    b.u.hvm_params.entries = params;
    return mig_stream_write_body(w, &b);
}

static int write_pv_state(struct mig_stream_writer *w, const struct options *o,
                          uint64_t *state)
{
    static const uint32_t types[] = { MIG_LIBXC_X86_PV_VCPU_BASIC,
                                      MIG_LIBXC_X86_PV_VCPU_EXTENDED,
                                      MIG_LIBXC_X86_PV_VCPU_XSAVE,
                                      MIG_LIBXC_X86_PV_VCPU_MSRS };
    static const uint32_t sizes[] = { 5168, 128, 832, 32 };
    uint8_t *buffer = malloc(MIG_PAGE_SIZE * 2);
    struct mig_stream_body b = { .layer = MIG_STREAM_LAYER_LIBXC };
    int rc;

    if (!buffer)
        return mig_error_set(MIG_ENOMEM, "out of memory for PV state");
    fill(buffer, MIG_PAGE_SIZE, state);
    b.type = MIG_LIBXC_SHARED_INFO;
    b.u.blob.length = MIG_PAGE_SIZE;
    b.u.blob.data = buffer;
    rc = mig_stream_write_body(w, &b);
    for (uint32_t vcpu = 0; vcpu < o->vcpus && !rc; vcpu++) {
        for (unsigned int i = 0; i < 4 && !rc; i++) {
            memset(&b.u, 0, sizeof(b.u));
            fill(buffer, sizes[i], state);
            b.type = types[i];
            b.u.vcpu.vcpu_id = vcpu;
            b.u.vcpu.context_length = sizes[i];
            b.u.vcpu.context = buffer;
            rc = mig_stream_write_body(w, &b);
        }
    }
    free(buffer);
    return rc;
}

static int write_libxc(struct mig_stream_writer *w, const struct options *o, uint64_t *state)
{
    struct mig_stream_image_header image = { MIG_STREAM_IHDR_VERSION, 0 };
    struct mig_stream_domain_header domain = {
        o->hvm ? MIG_STREAM_DOMAIN_X86_HVM : MIG_STREAM_DOMAIN_X86_PV,
        MIG_STREAM_PAGE_SHIFT, 4, 17,
    };
    int rc;

    rc = mig_stream_write_image_header(w, &image);
    if (!rc)
        rc = mig_stream_write_domain_header(w, &domain);
    if (!rc)
        rc = write_static_data(w, o);
    if (!rc && !o->hvm)
        rc = write_p2m_frames(w, o);
    if (!rc)
        rc = write_memory(w, o, state);
    if (!rc)
        rc = write_tsc_info(w);
    if (!rc)
        rc = o->hvm ? write_hvm_state(w, o, state) : write_pv_state(w, o, state);
    if (!rc)
        rc = mig_stream_write_record(w, MIG_STREAM_LAYER_LIBXC, MIG_LIBXC_END, NULL, 0);
    return rc;
}

static int write_libxl(struct mig_stream_writer *w, const struct options *o, uint64_t *state)
{
    static const char xenstore[] = "physmap/f0000000/start_addr\0f0000000\0"
                                   "physmap/f0000000/size\0" "1000000\0"
                                   "physmap/f0000000/name\0vga.vram";
    struct mig_stream_libxl_header header = { MIG_STREAM_LIBXL_VERSION, 0 };
    struct mig_stream_body b = { .layer = MIG_STREAM_LAYER_LIBXL };
    uint8_t device_model[2048];
    int rc;

    rc = mig_stream_write_libxl_header(w, &header);
    if (!rc)
        rc = mig_stream_write_record(w, MIG_STREAM_LAYER_LIBXL, MIG_LIBXL_LIBXC_CONTEXT,
                                     NULL, 0);
    if (!rc)
        rc = write_libxc(w, o, state);
    if (!rc && o->hvm && o->xenstore_data) {
        b.type = MIG_LIBXL_EMULATOR_XENSTORE_DATA;
        b.u.emulator.emulator_id = MIG_STREAM_EMULATOR_QEMU_UPSTREAM;
        b.u.emulator.index = 0;
        b.u.emulator.data_length = sizeof(xenstore);
        b.u.emulator.data = xenstore;
        rc = mig_stream_write_body(w, &b);
    }
    if (!rc && o->hvm) {
        memcpy(device_model, "QEVM\0\0\0\3", 8);      /* QEMU savevm magic, version 3 */
        fill(device_model + 8, sizeof(device_model) - 8, state);
        memset(&b.u, 0, sizeof(b.u));
        b.type = MIG_LIBXL_EMULATOR_CONTEXT;
        b.u.emulator.emulator_id = MIG_STREAM_EMULATOR_QEMU_UPSTREAM;
        b.u.emulator.index = 0;
        b.u.emulator.data_length = sizeof(device_model) - 3;   /* odd: exercises padding */
        b.u.emulator.data = device_model;
        rc = mig_stream_write_body(w, &b);
    }
    if (!rc)
        rc = mig_stream_write_record(w, MIG_STREAM_LAYER_LIBXL, MIG_LIBXL_END, NULL, 0);
    return rc;
}

static int write_xl(struct mig_stream_writer *w, const struct options *o, uint64_t *state)
{
    char config[1024];
    struct mig_stream_xl_header header = { 0 };
    int n, rc;

    n = snprintf(config, sizeof(config),
                 "{\n    \"c_info\": {\n        \"type\": \"%s\",\n"
                 "        \"name\": \"mkstream-%s\",\n"
                 "        \"uuid\": \"6a9a7a8c-1d2e-4f00-9b6c-%012" PRIx64 "\"\n    },\n"
                 "    \"b_info\": {\n        \"max_vcpus\": %" PRIu32 ",\n"
                 "        \"max_memkb\": %" PRIu64 ",\n        \"target_memkb\": %" PRIu64
                 "\n    }\n}\n",
                 o->hvm ? "hvm" : "pv", o->hvm ? "hvm" : "pv", (uint64_t)(o->seed & 0xffffffffffffull),
                 o->vcpus, o->pages * 4, o->pages * 4);
    header.mandatory_flags = MIG_STREAM_XL_FLAG_STREAMV2 | MIG_STREAM_XL_FLAG_JSON;
    header.config = (const uint8_t *)config;
    header.config_length = (uint32_t)n + 1;          /* xl stores the NUL too */
    rc = mig_stream_write_xl_header(w, &header);
    if (!rc)
        rc = write_libxl(w, o, state);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: mkstream [--format xl|libxl|libxc] [--guest hvm|pv] [--pages N]\n"
               "                [--vcpus N] [--seed N] [--pattern] [--no-xenstore-data]\n"
               "                OUTPUT|-\n"
               "Write a synthetic Xen 4.17 save image (default: xl save file of an\n"
               "HVM guest with 1024 pages, 2 vcpus, seed 1, random page contents).\n"
               "--pattern fills pages with their pfn instead (small when compressed);\n"
               "--no-xenstore-data leaves out EMULATOR_XENSTORE_DATA.\n");
}

static int parse_number(const char *text, const char *what, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(text, &end, 0);
    if (errno || end == text || *end || v > max || text[0] == '-') {
        fprintf(stderr, "mkstream: %s '%s' is not a number from 0 to %" PRIu64 "\n",
                what, text, max);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "format", required_argument, NULL, 'f' },
        { "guest", required_argument, NULL, 'g' },
        { "pages", required_argument, NULL, 'p' },
        { "vcpus", required_argument, NULL, 'v' },
        { "seed", required_argument, NULL, 's' },
        { "no-xenstore-data", no_argument, NULL, 'X' },
        { "pattern", no_argument, NULL, 'P' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct options o = { MIG_STREAM_FORMAT_XL_SAVE, 1, 1024, 2, 1, 1, 0, NULL };
    struct mig_stream_writer *w = NULL;
    uint64_t value, state;
    int opt, fd, rc;

    while ((opt = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        switch (opt) {
        case 'f':
            if (!strcmp(optarg, "xl"))
                o.format = MIG_STREAM_FORMAT_XL_SAVE;
            else if (!strcmp(optarg, "libxl"))
                o.format = MIG_STREAM_FORMAT_LIBXL;
            else if (!strcmp(optarg, "libxc"))
                o.format = MIG_STREAM_FORMAT_LIBXC;
            else {
                fprintf(stderr, "mkstream: unknown format '%s': use xl, libxl or libxc\n",
                        optarg);
                return 2;
            }
            break;
        case 'g':
            if (strcmp(optarg, "hvm") && strcmp(optarg, "pv")) {
                fprintf(stderr, "mkstream: unknown guest type '%s': use hvm or pv\n", optarg);
                return 2;
            }
            o.hvm = !strcmp(optarg, "hvm");
            break;
        case 'p':
            if (parse_number(optarg, "page count", 0xffffffffull, &value) || value < 1) {
                fprintf(stderr, "mkstream: --pages needs 1 or more\n");
                return 2;
            }
            o.pages = value;
            break;
        case 'v':
            if (parse_number(optarg, "vcpu count", 128, &value) || value < 1)
                return 2;
            o.vcpus = (uint32_t)value;
            break;
        case 's':
            if (parse_number(optarg, "seed", UINT64_MAX, &value))
                return 2;
            o.seed = value;
            break;
        case 'X':
            o.xenstore_data = 0;
            break;
        case 'P':
            o.pattern = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    o.output = argv[optind];
    if (!strcmp(o.output, "-"))
        fd = STDOUT_FILENO;
    else
        fd = open(o.output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "mkstream: cannot create '%s': %s\n", o.output, strerror(errno));
        return 1;
    }
    state = o.seed;
    rc = mig_stream_writer_open_fd(&w, fd, NULL);
    if (!rc) {
        if (o.format == MIG_STREAM_FORMAT_XL_SAVE)
            rc = write_xl(w, &o, &state);
        else if (o.format == MIG_STREAM_FORMAT_LIBXL)
            rc = write_libxl(w, &o, &state);
        else
            rc = write_libxc(w, &o, &state);
    }
    mig_stream_writer_close(w);
    if (fd != STDOUT_FILENO && close(fd) && !rc)
        rc = mig_error_set_errno(MIG_EIO, errno, "closing '%s'", o.output);
    if (rc) {
        fprintf(stderr, "mkstream: %s\n", mig_error_last());
        return 1;
    }
    return 0;
}
