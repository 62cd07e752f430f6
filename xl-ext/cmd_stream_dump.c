/*
 * cmd_stream_dump.c: `xl-ext stream-dump [--json] [--pages] [--rewrite OUT]
 * FILE|-`: a readable listing of an xl save file, a libxl v2 stream or a
 * libxc v3 stream (one line per header or record, totals at the end), or
 * one JSON object per line with --json.  --rewrite writes every item again
 * through libmig's writer, so `cmp FILE OUT` shows the codec round-trips.
 *
 * A mapped save file (libmig/savefile) is listed by stream_dump_mapped.c.
 *
 * Malformed input: everything decoded so far is printed, then the error on
 * stderr, exit 3.  This file must never interpret a stream itself: all
 * decoding is libmig's (mig_stream.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "mig_savefile.h"
#include "mig_stream.h"
#include "stream_dump_mapped.h"
#include "subcommands.h"

struct dump_totals {
    uint64_t items, records, bytes;
    uint64_t page_data_records, pfns, data_pages;
    uint64_t page_types[16];
};

struct dump {
    bool json, pages;
    struct dump_totals totals;
};

static const char *layer_name(enum mig_stream_layer layer)
{
    return layer == MIG_STREAM_LAYER_LIBXL ? "libxl" : "libxc";
}

static const char *item_name(const struct mig_stream_record *rec)
{
    switch (rec->kind) {
    case MIG_STREAM_ITEM_XL_HEADER:     return "xl header";
    case MIG_STREAM_ITEM_LIBXL_HEADER:  return "libxl header";
    case MIG_STREAM_ITEM_IMAGE_HEADER:  return "libxc image header";
    case MIG_STREAM_ITEM_DOMAIN_HEADER: return "libxc domain header";
    case MIG_STREAM_ITEM_RECORD:        break;
    }
    return "record";
}

static const char *domain_type_name(uint32_t type)
{
    return type == MIG_STREAM_DOMAIN_X86_HVM ? "x86 HVM" :
           type == MIG_STREAM_DOMAIN_X86_PV ? "x86 PV" : "unknown";
}

static const char *emulator_name(uint32_t id)
{
    return id == MIG_STREAM_EMULATOR_QEMU_UPSTREAM ? "qemu-upstream" :
           id == MIG_STREAM_EMULATOR_QEMU_TRAD ? "qemu-traditional" : "unknown";
}

/* Consecutive pfn runs of a PAGE_DATA body: calls back once per run. */
static void for_each_range(const struct mig_stream_body *body,
                           void (*fn)(uint64_t first, uint64_t last, void *arg), void *arg)
{
    uint64_t first = 0, last = 0;

    for (uint32_t i = 0; i < body->u.page_data.count; i++) {
        uint64_t pfn = mig_stream_word_pfn(mig_stream_page_data_word(body, i));

        if (i && pfn == last + 1) {
            last = pfn;
            continue;
        }
        if (i)
            fn(first, last, arg);
        first = last = pfn;
    }
    if (body->u.page_data.count)
        fn(first, last, arg);
}

struct text_ranges {
    char *buf;
    size_t size, used;
    unsigned int shown, total;
};

static void text_range(uint64_t first, uint64_t last, void *arg)
{
    struct text_ranges *t = arg;
    int n;

    t->total++;
    if (t->shown >= 4)
        return;
    if (first == last)
        n = snprintf(t->buf + t->used, t->size - t->used, "%s0x%" PRIx64,
                     t->shown ? "," : "", first);
    else
        n = snprintf(t->buf + t->used, t->size - t->used, "%s0x%" PRIx64 "-0x%" PRIx64,
                     t->shown ? "," : "", first, last);
    if (n > 0 && (size_t)n < t->size - t->used)
        t->used += (size_t)n;
    t->shown++;
}

static void json_range(uint64_t first, uint64_t last, void *arg)
{
    json_object *pair = json_object_new_array();

    json_object_array_add(pair, json_object_new_int64((int64_t)first));
    json_object_array_add(pair, json_object_new_int64((int64_t)last));
    json_object_array_add(arg, pair);
}

static void page_type_counts(const struct mig_stream_body *body, uint64_t counts[16])
{
    memset(counts, 0, 16 * sizeof(counts[0]));
    for (uint32_t i = 0; i < body->u.page_data.count; i++)
        counts[mig_stream_word_type(mig_stream_page_data_word(body, i))]++;
}

/* Count a PAGE_DATA record into the totals; counts[] gets its own. */
static void count_page_types(struct dump *d, const struct mig_stream_body *body,
                             uint64_t counts[16])
{
    page_type_counts(body, counts);
    for (unsigned int t = 0; t < 16; t++)
        d->totals.page_types[t] += counts[t];
    d->totals.page_data_records++;
    d->totals.pfns += body->u.page_data.count;
    d->totals.data_pages += body->u.page_data.data_pages;
}

/* Summary of a PAGE_DATA record: its pfn ranges and page types (counted into d). */
static void summarise_page_data(struct dump *d, const struct mig_stream_body *body,
                                char *out, size_t size)
{
    char ranges[160];
    struct text_ranges t = { ranges, sizeof(ranges), 0, 0, 0 };
    uint64_t counts[16];
    size_t used;

    ranges[0] = '\0';
    for_each_range(body, text_range, &t);
    count_page_types(d, body, counts);
    snprintf(out, size, "%" PRIu32 " pfns %s%s, %" PRIu32 " data pages;",
             body->u.page_data.count, ranges, t.total > t.shown ? ",..." : "",
             body->u.page_data.data_pages);
    used = strlen(out);
    for (unsigned int type = 0; type < 16; type++)
        if (counts[type] && used < size) {
            int n = snprintf(out + used, size - used, " %s %" PRIu64,
                             mig_stream_page_type_name(type), counts[type]);

            if (n > 0)
                used += (size_t)n < size - used ? (size_t)n : size - used - 1;
        }
    if (t.total > 1 && used < size)
        snprintf(out + used, size - used, " (%u ranges)", t.total);
}

/* One-line human summary of an item. */
static void summarise(struct dump *d, const struct mig_stream_record *rec,
                      const struct mig_stream_body *body, char *out, size_t size)
{
    const char *name;

    out[0] = '\0';
    switch (rec->kind) {
    case MIG_STREAM_ITEM_XL_HEADER:
        snprintf(out, size, "mandatory flags 0x%" PRIx32 "%s%s, optional flags 0x%" PRIx32
                 ", config %" PRIu32 " bytes", rec->xl.mandatory_flags,
                 rec->xl.mandatory_flags & MIG_STREAM_XL_FLAG_STREAMV2 ? " STREAMv2" : "",
                 rec->xl.mandatory_flags & MIG_STREAM_XL_FLAG_JSON ? " JSON" : "",
                 rec->xl.optional_flags, rec->xl.config_length);
        return;
    case MIG_STREAM_ITEM_LIBXL_HEADER:
        snprintf(out, size, "version %" PRIu32 ", options 0x%" PRIx32 "%s", rec->libxl.version,
                 rec->libxl.options,
                 rec->libxl.options & MIG_STREAM_LIBXL_OPT_LEGACY ? " (legacy converted)" : "");
        return;
    case MIG_STREAM_ITEM_IMAGE_HEADER:
        snprintf(out, size, "version %" PRIu32 ", little-endian", rec->image.version);
        return;
    case MIG_STREAM_ITEM_DOMAIN_HEADER:
        snprintf(out, size, "%s, page shift %u, Xen %" PRIu32 ".%" PRIu32,
                 domain_type_name(rec->domain.type), rec->domain.page_shift,
                 rec->domain.xen_major, rec->domain.xen_minor);
        return;
    case MIG_STREAM_ITEM_RECORD:
        break;
    }
    name = mig_stream_type_name(rec->layer, rec->type);
    if (rec->layer == MIG_STREAM_LAYER_LIBXC) {
        switch (rec->type) {
        case MIG_LIBXC_PAGE_DATA:
            summarise_page_data(d, body, out, size);
            return;
        case MIG_LIBXC_X86_PV_INFO:
            snprintf(out, size, "%u-bit guest, %u page-table levels",
                     body->u.x86_pv_info.guest_width * 8, body->u.x86_pv_info.pt_levels);
            return;
        case MIG_LIBXC_X86_PV_P2M_FRAMES:
            snprintf(out, size, "pfns 0x%" PRIx32 "-0x%" PRIx32 ", %" PRIu32 " frames",
                     body->u.p2m_frames.start_pfn, body->u.p2m_frames.end_pfn,
                     body->u.p2m_frames.count);
            return;
        case MIG_LIBXC_X86_PV_VCPU_BASIC:
        case MIG_LIBXC_X86_PV_VCPU_EXTENDED:
        case MIG_LIBXC_X86_PV_VCPU_XSAVE:
        case MIG_LIBXC_X86_PV_VCPU_MSRS:
            snprintf(out, size, "vcpu %" PRIu32 ", %" PRIu32 " bytes of context",
                     body->u.vcpu.vcpu_id, body->u.vcpu.context_length);
            return;
        case MIG_LIBXC_X86_TSC_INFO:
            snprintf(out, size, "mode %" PRIu32 ", %" PRIu32 " kHz, %" PRIu64 " ns, "
                     "incarnation %" PRIu32, body->u.tsc_info.mode, body->u.tsc_info.khz,
                     body->u.tsc_info.nsec, body->u.tsc_info.incarnation);
            return;
        case MIG_LIBXC_HVM_PARAMS:
            snprintf(out, size, "%" PRIu32 " params", body->u.hvm_params.count);
            return;
        case MIG_LIBXC_X86_CPUID_POLICY:
            snprintf(out, size, "%" PRIu32 " leaves", body->u.cpuid_policy.count);
            return;
        case MIG_LIBXC_X86_MSR_POLICY:
            snprintf(out, size, "%" PRIu32 " MSRs", body->u.msr_policy.count);
            return;
        case MIG_LIBXC_CHECKPOINT_DIRTY_PFN_LIST:
            snprintf(out, size, "%" PRIu32 " pfns", body->u.pfn_list.count);
            return;
        }
        if (!strcmp(name, "UNKNOWN"))
            snprintf(out, size, "optional record type 0x%08" PRIx32 ", skipped", rec->type);
        return;
    }
    if (rec->type == MIG_LIBXL_EMULATOR_XENSTORE_DATA ||
        rec->type == MIG_LIBXL_EMULATOR_CONTEXT)
        snprintf(out, size, "%s, index %" PRIu32 ", %" PRIu32 " bytes",
                 emulator_name(body->u.emulator.emulator_id), body->u.emulator.index,
                 body->u.emulator.data_length);
}

static void print_pages_text(const struct mig_stream_body *body)
{
    for (uint32_t i = 0; i < body->u.page_data.count; i++) {
        uint64_t word = mig_stream_page_data_word(body, i);

        printf("        pfn 0x%" PRIx64 " %s\n", mig_stream_word_pfn(word),
               mig_stream_page_type_name(mig_stream_word_type(word)));
    }
}

static json_object *item_json(const struct dump *d, const struct mig_stream_record *rec,
                              const struct mig_stream_body *body, const char *summary)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "index", json_object_new_int64((int64_t)rec->index));
    json_object_object_add(o, "offset", json_object_new_int64((int64_t)rec->offset));
    json_object_object_add(o, "size", json_object_new_int64((int64_t)rec->size));
    if (rec->kind != MIG_STREAM_ITEM_RECORD) {
        json_object_object_add(o, "item", json_object_new_string(item_name(rec)));
    } else {
        json_object_object_add(o, "item", json_object_new_string("record"));
        json_object_object_add(o, "layer", json_object_new_string(layer_name(rec->layer)));
        json_object_object_add(o, "type",
                               json_object_new_string(mig_stream_type_name(rec->layer,
                                                                           rec->type)));
        json_object_object_add(o, "type_number", json_object_new_int64(rec->type));
        json_object_object_add(o, "length", json_object_new_int64(rec->length));
    }
    switch (rec->kind) {
    case MIG_STREAM_ITEM_XL_HEADER:
        json_object_object_add(o, "mandatory_flags",
                               json_object_new_int64(rec->xl.mandatory_flags));
        json_object_object_add(o, "optional_flags",
                               json_object_new_int64(rec->xl.optional_flags));
        json_object_object_add(o, "config_length", json_object_new_int64(rec->xl.config_length));
        break;
    case MIG_STREAM_ITEM_LIBXL_HEADER:
        json_object_object_add(o, "version", json_object_new_int64(rec->libxl.version));
        json_object_object_add(o, "options", json_object_new_int64(rec->libxl.options));
        break;
    case MIG_STREAM_ITEM_IMAGE_HEADER:
        json_object_object_add(o, "version", json_object_new_int64(rec->image.version));
        json_object_object_add(o, "options", json_object_new_int64(rec->image.options));
        break;
    case MIG_STREAM_ITEM_DOMAIN_HEADER:
        json_object_object_add(o, "domain_type",
                               json_object_new_string(domain_type_name(rec->domain.type)));
        json_object_object_add(o, "page_shift", json_object_new_int64(rec->domain.page_shift));
        json_object_object_add(o, "xen_major", json_object_new_int64(rec->domain.xen_major));
        json_object_object_add(o, "xen_minor", json_object_new_int64(rec->domain.xen_minor));
        break;
    case MIG_STREAM_ITEM_RECORD:
        if (rec->layer == MIG_STREAM_LAYER_LIBXC && rec->type == MIG_LIBXC_PAGE_DATA) {
            json_object *ranges = json_object_new_array();
            json_object *types = json_object_new_object();
            uint64_t counts[16];

            for_each_range(body, json_range, ranges);
            page_type_counts(body, counts);
            for (unsigned int t = 0; t < 16; t++)
                if (counts[t])
                    json_object_object_add(types, mig_stream_page_type_name(t),
                                           json_object_new_int64((int64_t)counts[t]));
            json_object_object_add(o, "pfns", json_object_new_int64(body->u.page_data.count));
            json_object_object_add(o, "data_pages",
                                   json_object_new_int64(body->u.page_data.data_pages));
            json_object_object_add(o, "pfn_ranges", ranges);
            json_object_object_add(o, "page_types", types);
            if (d->pages) {
                json_object *pages = json_object_new_array();

                for (uint32_t i = 0; i < body->u.page_data.count; i++) {
                    uint64_t word = mig_stream_page_data_word(body, i);
                    json_object *p = json_object_new_object();

                    json_object_object_add(p, "pfn",
                                           json_object_new_int64((int64_t)mig_stream_word_pfn(word)));
                    json_object_object_add(p, "type", json_object_new_string(
                        mig_stream_page_type_name(mig_stream_word_type(word))));
                    json_object_array_add(pages, p);
                }
                json_object_object_add(o, "pages", pages);
            }
        }
        break;
    }
    if (summary[0])
        json_object_object_add(o, "summary", json_object_new_string(summary));
    return o;
}

static void print_json(json_object *o)
{
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

static void print_totals(struct dump *d, enum mig_stream_format format)
{
    struct dump_totals *t = &d->totals;

    if (d->json) {
        json_object *o = json_object_new_object();
        json_object *totals = json_object_new_object();
        json_object *types = json_object_new_object();

        json_object_object_add(totals, "format",
                               json_object_new_string(mig_stream_format_name(format)));
        json_object_object_add(totals, "items", json_object_new_int64((int64_t)t->items));
        json_object_object_add(totals, "records", json_object_new_int64((int64_t)t->records));
        json_object_object_add(totals, "bytes", json_object_new_int64((int64_t)t->bytes));
        json_object_object_add(totals, "page_data_records",
                               json_object_new_int64((int64_t)t->page_data_records));
        json_object_object_add(totals, "pfns", json_object_new_int64((int64_t)t->pfns));
        json_object_object_add(totals, "data_pages",
                               json_object_new_int64((int64_t)t->data_pages));
        for (unsigned int i = 0; i < 16; i++)
            if (t->page_types[i])
                json_object_object_add(types, mig_stream_page_type_name(i),
                                       json_object_new_int64((int64_t)t->page_types[i]));
        json_object_object_add(totals, "page_types", types);
        json_object_object_add(o, "totals", totals);
        print_json(o);
        return;
    }
    printf("total: %s, %" PRIu64 " items (%" PRIu64 " records), %" PRIu64 " bytes; "
           "%" PRIu64 " PAGE_DATA records, %" PRIu64 " pfns, %" PRIu64 " data pages",
           mig_stream_format_name(format), t->items, t->records, t->bytes,
           t->page_data_records, t->pfns, t->data_pages);
    for (unsigned int i = 0; i < 16; i++)
        if (t->page_types[i])
            printf("; %s %" PRIu64, mig_stream_page_type_name(i), t->page_types[i]);
    printf("\n");
}

static int exit_code_for(int rc)
{
    switch (rc) {
    case MIG_EFORMAT:
    case MIG_ETRUNC:
    case MIG_ELIMIT:
    case MIG_EUNSUPP:
        return XL_EXT_EXIT_BAD_INPUT;
    }
    return XL_EXT_EXIT_FAILURE;
}

/* What `xl-ext stream-dump` is asked to do. */
struct dump_request {
    bool json, pages;
    const char *input;                  /* FILE, or "-": stdin */
    const char *rewrite;                /* --rewrite OUT, or NULL */
};

#define DUMP_PARSED (-1)

/* DUMP_PARSED, or the exit code to end with (a usage error, printed). */
static int parse_request(int argc, char **argv, struct dump_request *req)
{
    static const struct option long_options[] = {
        { "json", no_argument, NULL, 'j' },
        { "pages", no_argument, NULL, 'p' },
        { "rewrite", required_argument, NULL, 'w' },
        { NULL, 0, NULL, 0 },
    };
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        switch (opt) {
        case 'j': req->json = true; break;
        case 'p': req->pages = true; break;
        case 'w': req->rewrite = optarg; break;
        default: {
            char what[160];

            fprintf(stderr, "%s stream-dump: %s; run '%s help stream-dump' for the options\n",
                    xl_ext_prog, xl_ext_option_error(argv, "", long_options, what,
                                                sizeof(what)),
                    xl_ext_prog);
            return XL_EXT_EXIT_USAGE;
        }
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "%s stream-dump: %d argument%s given: give one FILE (or - for "
                "stdin)\n", xl_ext_prog, argc - optind, argc - optind == 1 ? "" : "s");
        return XL_EXT_EXIT_USAGE;
    }
    req->input = argv[optind];
    return DUMP_PARSED;
}

/* Print one item: a JSON object, or a line (and its pages with --pages). */
static void print_item(struct dump *d, const struct mig_stream_record *rec,
                       const struct mig_stream_body *body)
{
    char summary[512], label[64];

    summarise(d, rec, body, summary, sizeof(summary));
    if (d->json) {
        print_json(item_json(d, rec, body, summary));
        return;
    }
    if (rec->kind == MIG_STREAM_ITEM_RECORD)
        snprintf(label, sizeof(label), "%s %s", layer_name(rec->layer),
                 mig_stream_type_name(rec->layer, rec->type));
    else
        snprintf(label, sizeof(label), "%s", item_name(rec));
    printf("0x%08" PRIx64 " %5" PRIu64 " %-28s %10" PRIu64 "  %s\n", rec->offset,
           rec->index, label,
           rec->kind == MIG_STREAM_ITEM_RECORD ? (uint64_t)rec->length : rec->size, summary);
    if (d->pages && rec->kind == MIG_STREAM_ITEM_RECORD &&
        rec->layer == MIG_STREAM_LAYER_LIBXC && rec->type == MIG_LIBXC_PAGE_DATA)
        print_pages_text(body);
}

/*
 * Read, print and (with a writer) write again every item: the reader's
 * end-of-stream value (> 0), or the MIG_E* code of the first error.
 */
static int dump_items(struct dump *d, struct mig_stream_reader *reader,
                      struct mig_stream_writer *writer)
{
    struct mig_stream_record rec;
    struct mig_stream_body body;
    int rc;

    while ((rc = mig_stream_read_record(reader, &rec)) == 0) {
        memset(&body, 0, sizeof(body));
        if (rec.kind == MIG_STREAM_ITEM_RECORD) {
            rc = mig_stream_decode_body(&rec, &body);
            if (rc)
                break;
            d->totals.records++;
        }
        d->totals.items++;
        d->totals.bytes += rec.size;
        print_item(d, &rec, &body);
        if (writer) {
            rc = mig_stream_write_item(writer, &rec);
            if (rc)
                break;
        }
    }
    return rc;
}

/* The error after what was decoded: on stderr, and as a JSON object with --json. */
static void print_error(const struct dump *d, const char *input, int ret)
{
    fflush(stdout);
    if (d->json) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "error", json_object_new_string(mig_error_last()));
        json_object_object_add(o, "code",
                               json_object_new_string(mig_error_name(mig_error_last_code())));
        print_json(o);
        fflush(stdout);
    }
    const char *after = "";

    /* one line, as every error: what is wrong, the input, what to make of it */
    if (ret == XL_EXT_EXIT_BAD_INPUT)
        after = d->totals.items ? "; it is not a valid Xen save image: the listing above "
                                  "shows what was decoded before the error"
                                : "; give an xl save file, a libxl/libxc migration stream "
                                  "or a mapped save file";
    fprintf(stderr, "%s stream-dump: '%s': %s%s\n", xl_ext_prog, input, mig_error_last(),
            after);
}

static int dump_run(const struct dump_request *req)
{
    struct mig_stream_reader_options options = MIG_STREAM_READER_OPTIONS_INIT;
    struct mig_stream_reader *reader = NULL;
    struct mig_stream_writer *writer = NULL;
    struct dump d = { .json = req->json, .pages = req->pages };
    int fd, out_fd = -1, rc, ret;

    fd = strcmp(req->input, "-") ? open(req->input, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
    if (fd < 0) {
        fprintf(stderr, "%s stream-dump: cannot read stream '%s': %s; give the path of an "
                "existing, readable stream or save file (- for standard input)\n",
                xl_ext_prog, req->input, strerror(errno));
        return XL_EXT_EXIT_BAD_INPUT;
    }
    if (req->rewrite) {
        out_fd = open(req->rewrite, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out_fd < 0) {
            fprintf(stderr, "%s stream-dump: cannot create '%s': %s\n", xl_ext_prog,
                    req->rewrite, strerror(errno));
            ret = XL_EXT_EXIT_FAILURE;
            goto out;
        }
        rc = mig_stream_writer_open_fd(&writer, out_fd, NULL);
        if (rc) {
            ret = XL_EXT_EXIT_FAILURE;
            goto error;
        }
    }
    rc = mig_stream_reader_open_fd(&reader, fd, &options);
    if (rc) {
        ret = XL_EXT_EXIT_FAILURE;
        goto error;
    }
    if (!d.json)
        printf("%-10s %-5s %-28s %10s  %s\n", "offset", "index", "item", "length", "summary");
    rc = dump_items(&d, reader, writer);
    if (rc < 0) {
        ret = exit_code_for(rc);
        goto error;
    }
    print_totals(&d, mig_stream_reader_format(reader));
    ret = XL_EXT_EXIT_OK;
    goto out;

 error:
    print_error(&d, req->input, ret);
 out:
    mig_stream_reader_close(reader);
    mig_stream_writer_close(writer);
    if (out_fd >= 0 && close(out_fd) && ret == XL_EXT_EXIT_OK) {
        fprintf(stderr, "%s stream-dump: closing '%s': %s\n", xl_ext_prog, req->rewrite,
                strerror(errno));
        ret = XL_EXT_EXIT_FAILURE;
    }
    if (fd > STDIN_FILENO)
        close(fd);
    return ret;
}

/* FILE's save file format, or MIG_SAVEFILE_XL (a Xen stream, or stdin, or unknown). */
static enum mig_savefile_format sniff(const struct dump_request *req)
{
    enum mig_savefile_format format;

    if (!strcmp(req->input, "-") || mig_savefile_sniff(req->input, &format))
        return MIG_SAVEFILE_XL;
    return format;
}

int cmd_stream_dump(int argc, char **argv)
{
    struct dump_request req = { .json = false };
    enum mig_savefile_format format;
    int rc = parse_request(argc, argv, &req);

    if (rc != DUMP_PARSED)
        return rc;
    format = sniff(&req);
    if (format == MIG_SAVEFILE_SIM) {
        /* no Xen stream: say what it is rather than quote its first bytes */
        if (req.json) {         /* as any bad input with --json: an error object */
            json_object *o = json_object_new_object();

            json_object_object_add(o, "error", json_object_new_string(
                "a simulated guest's sequential save file, no Xen stream"));
            json_object_object_add(o, "code", json_object_new_string("EFORMAT"));
            print_json(o);
            fflush(stdout);
        }
        fprintf(stderr, "%s stream-dump: '%s' is a simulated guest's sequential save file "
                "(xl-ext save --sim), which has no records to list; '%s restore --sim %s' "
                "reads it\n", xl_ext_prog, req.input, xl_ext_prog, req.input);
        return XL_EXT_EXIT_BAD_INPUT;
    }
    if (format != MIG_SAVEFILE_MAPPED)
        return dump_run(&req);
    if (req.rewrite) {
        fprintf(stderr, "%s stream-dump: --rewrite: '%s' is a mapped save file, not a Xen "
                "stream; '%s convert --format xl %s OUT' writes it as one\n", xl_ext_prog,
                req.input, xl_ext_prog, req.input);
        return XL_EXT_EXIT_USAGE;
    }
    return stream_dump_mapped(req.input, req.json, req.pages);
}
