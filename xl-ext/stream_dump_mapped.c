/*
 * stream_dump_mapped.c: `xl-ext stream-dump` of a mapped save file
 * (libmig/savefile; docs/formats.md, "Mapped save file"): the file is
 * checked whole, pages included, then its superblock, its sections and its
 * pfn ranges are listed (--pages: every index entry), as text or one JSON
 * object per line.  A Xen domain's file also shows the metadata of its
 * prologue.  All decoding is libmig's: this file must never read the file
 * itself.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "mig_savefile.h"
#include "mig_stream.h"
#include "mig_xen.h"
#include "stream_dump_mapped.h"
#include "subcommands.h"

static void print_json(json_object *o)
{
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

static json_object *json_u64(uint64_t v)
{
    return json_object_new_int64((int64_t)v);
}

/* A hash or checksum: 16 hex digits (JSON numbers are doubles). */
static json_object *json_hex64(uint64_t v)
{
    char hex[17];

    snprintf(hex, sizeof(hex), "%016" PRIx64, v);
    return json_object_new_string(hex);
}

static void print_superblock(const struct mig_mapped_info *i, bool json)
{
    if (json) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "format", json_object_new_string("mapped"));
        json_object_object_add(o, "version", json_u64(i->version));
        json_object_object_add(o, "family", json_object_new_string(i->family));
        json_object_object_add(o, "nr_pfns", json_u64(i->nr_pfns));
        json_object_object_add(o, "pages", json_u64(i->nr_entries));
        json_object_object_add(o, "zero_pages", json_u64(i->nr_zero));
        json_object_object_add(o, "slots", json_u64(i->nr_slots));
        json_object_object_add(o, "file_size", json_u64(i->file_size));
        json_object_object_add(o, "memory_digest", json_hex64(i->memory_digest));
        print_json(o);
        return;
    }
    printf("mapped save file, version %u: family %s, %" PRIu64 " pfns, %" PRIu64 " pages "
           "(%" PRIu64 " zero, %" PRIu64 " slots of data), %" PRIu64 " bytes, memory digest "
           "%016" PRIx64 "\n", i->version, i->family, i->nr_pfns, i->nr_entries, i->nr_zero,
           i->nr_slots, i->file_size, i->memory_digest);
    printf("%-10s %12s %12s  %s\n", "section", "offset", "length", "checksum (xxh3)");
}

static void print_section(const char *name, const struct mig_mapped_section *s, bool json)
{
    if (json) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "section", json_object_new_string(name));
        json_object_object_add(o, "offset", json_u64(s->offset));
        json_object_object_add(o, "length", json_u64(s->length));
        json_object_object_add(o, "checksum", json_hex64(s->checksum));
        print_json(o);
        return;
    }
    if (!strcmp(name, "pages"))
        printf("%-10s %12" PRIu64 " %12" PRIu64 "  (each page's xxh64 is in the index)\n",
               name, s->offset, s->length);
    else
        printf("%-10s %12" PRIu64 " %12" PRIu64 "  %016" PRIx64 "\n", name, s->offset,
               s->length, s->checksum);
}

/* A Xen file's prologue: its metadata and the length of its stream head. */
static void print_prologue(struct mig_mapped_file *f, bool json)
{
    size_t len, head_len;
    const void *blob = mig_mapped_file_prologue(f, &len), *head;
    char *meta = NULL;

    if (!len || mig_xen_prologue_parse(blob, len, &meta, &head, &head_len))
        return;                     /* not a Xen prologue: the open checked "xen" ones */
    if (json) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "metadata", json_object_new_string(meta));
        json_object_object_add(o, "stream_head_length", json_u64(head_len));
        print_json(o);
    } else {
        printf("metadata: %s\nstream head: %zu bytes (xl header, libxl and libxc headers, "
               "static records)\n", meta, head_len);
    }
    free(meta);
}

/* One run of consecutive pfns. */
static void print_range(uint64_t first, uint64_t last, uint64_t zero, bool json)
{
    if (json) {
        json_object *o = json_object_new_object(), *pair = json_object_new_array();

        json_object_array_add(pair, json_u64(first));
        json_object_array_add(pair, json_u64(last));
        json_object_object_add(o, "range", pair);
        json_object_object_add(o, "pages", json_u64(last - first + 1));
        json_object_object_add(o, "zero_pages", json_u64(zero));
        print_json(o);
    } else {
        printf("pfns 0x%" PRIx64 "-0x%" PRIx64 ": %" PRIu64 " pages, %" PRIu64 " zero\n",
               first, last, last - first + 1, zero);
    }
}

static void print_entry(const struct mig_mapped_entry *e, bool json)
{
    if (json) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "pfn", json_u64(e->pfn));
        json_object_object_add(o, "type",
                               json_object_new_string(mig_stream_page_type_name(e->type)));
        json_object_object_add(o, "zero", json_object_new_boolean(e->zero));
        if (e->slot != MIG_MAPPED_NO_SLOT)
            json_object_object_add(o, "slot", json_u64(e->slot));
        json_object_object_add(o, "hash", json_hex64(e->hash));
        print_json(o);
    } else if (e->slot == MIG_MAPPED_NO_SLOT) {
        printf("  pfn 0x%" PRIx64 " %s zero, no slot, hash %016" PRIx64 "\n", e->pfn,
               mig_stream_page_type_name(e->type), e->hash);
    } else {
        printf("  pfn 0x%" PRIx64 " %s%s slot %" PRIu64 ", hash %016" PRIx64 "\n", e->pfn,
               mig_stream_page_type_name(e->type), e->zero ? " zero," : "", e->slot,
               e->hash);
    }
}

/* The index: a line per run of consecutive pfns, and with pages every entry. */
static void print_index(struct mig_mapped_file *f, uint64_t entries, bool json, bool pages)
{
    uint64_t first = 0, last = 0, zero = 0;
    struct mig_mapped_entry e;

    for (uint64_t i = 0; i < entries; i++) {
        (void)mig_mapped_file_entry(f, i, &e);          /* i < entries: no error */
        if (i && e.pfn != last + 1) {
            print_range(first, last, zero, json);
            zero = 0;
        }
        if (!i || e.pfn != last + 1)
            first = e.pfn;
        last = e.pfn;
        zero += e.zero;
        if (pages)
            print_entry(&e, json);
    }
    if (entries)
        print_range(first, last, zero, json);
}

static void print_totals(const struct mig_mapped_info *i, bool json)
{
    if (json) {
        json_object *o = json_object_new_object(), *totals = json_object_new_object();

        json_object_object_add(totals, "format", json_object_new_string("mapped"));
        json_object_object_add(totals, "pages", json_u64(i->nr_entries));
        json_object_object_add(totals, "zero_pages", json_u64(i->nr_zero));
        json_object_object_add(totals, "pfns", json_u64(i->nr_pfns));
        json_object_object_add(totals, "bytes", json_u64(i->file_size));
        json_object_object_add(o, "totals", totals);
        print_json(o);
        return;
    }
    printf("total: mapped, %" PRIu64 " pages (%" PRIu64 " zero) of %" PRIu64 " pfns, %"
           PRIu64 " bytes\n", i->nr_entries, i->nr_zero, i->nr_pfns, i->file_size);
}

/* The error, as the stream listing gives it (nothing was listed before it). */
static int dump_error(bool json)
{
    int rc = mig_error_last_code();

    fflush(stdout);
    if (json) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "error", json_object_new_string(mig_error_last()));
        json_object_object_add(o, "code", json_object_new_string(mig_error_name(rc)));
        print_json(o);
        fflush(stdout);
    }
    fprintf(stderr, "%s stream-dump: %s\n", xl_ext_prog, mig_error_last());
    return rc == MIG_EIO || rc == MIG_ENOMEM ? XL_EXT_EXIT_FAILURE : XL_EXT_EXIT_BAD_INPUT;
}

int stream_dump_mapped(const char *path, bool json, bool pages)
{
    struct mig_mapped_file *f = NULL;
    struct mig_mapped_info info;
    int rc = mig_mapped_file_open(path, &f);

    if (!rc)
        rc = mig_mapped_file_verify_pages(f, 2, NULL);
    if (rc) {
        mig_mapped_file_close(f);
        return dump_error(json);
    }
    mig_mapped_file_info(f, &info);
    print_superblock(&info, json);
    print_section("prologue", &info.prologue, json);
    print_section("pages", &info.pages, json);
    print_section("tail", &info.tail, json);
    print_section("index", &info.index, json);
    print_prologue(f, json);
    print_index(f, info.nr_entries, json, pages);
    print_totals(&info, json);
    mig_mapped_file_close(f);
    return XL_EXT_EXIT_OK;
}
