/*
 * mapped_read.c: a mapped save file opened and checked whole
 * (mig_savefile.h): the superblock, the sections against the file's size,
 * the checksums, the index; and its pages walked by threads, for their
 * hashes (mig_mapped_file_verify_pages) or for a replay (replay.c).
 *
 * It trusts nothing in the file: every offset and count is checked before
 * it is used, memory is asked for only once the sizes were checked
 * against the file and the machine, and every error names the file and
 * the offset.  It must never write to the file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mig_migrate.h"
#include "mig_xen.h"
#include "mig_xfer.h"
#include "savefile/savefile_private.h"
#include "util/host.h"
#include "util/io.h"

/* Read len bytes at offset into buf: 0, MIG_ETRUNC or MIG_EIO naming what. */
static int read_at(struct mig_mapped_file *f, void *buf, uint64_t len, uint64_t offset,
                   const char *what)
{
    ssize_t got = mig_pread_full(f->fd, buf, (size_t)len, (off_t)offset);

    if (got < 0)
        return mig_error_set_errno(MIG_EIO, errno, "cannot read save file '%s' at offset %"
                                   PRIu64 " (%s)", f->name, offset, what);
    if ((uint64_t)got < len)
        return mig_error_set(MIG_ETRUNC, "save file '%s' ends at offset %" PRIu64 " in %s, "
                             "which runs to offset %" PRIu64 ": the file was cut short "
                             "(a copy that did not finish?); use a whole copy", f->name,
                             offset + (uint64_t)got, what, offset + len);
    return 0;
}

/* The superblock: there, whole, and decodable. */
static int read_superblock(struct mig_mapped_file *f)
{
    uint8_t buf[MAPPED_SUPERBLOCK_SIZE];
    ssize_t got = mig_pread_full(f->fd, buf, sizeof(buf), 0);

    if (got < 0)
        return mig_error_set_errno(MIG_EIO, errno, "cannot read save file '%s'", f->name);
    if (got >= 8 && memcmp(buf, MIG_MAPPED_MAGIC, 8))
        return mig_error_set(MIG_EFORMAT, "save file '%s' at offset 0: no magic \"%s\": it "
                             "is not a xenmig mapped save file", f->name, MIG_MAPPED_MAGIC);
    if ((size_t)got < sizeof(buf))
        return mig_error_set(MIG_ETRUNC, "save file '%s' ends at offset %zd in the "
                             "superblock, which runs to offset %u: the file was cut "
                             "short (a copy that did not finish?); use a whole copy",
                             f->name, got, MAPPED_SUPERBLOCK_SIZE);
    return mapped_superblock_decode(buf, f->name, &f->sb);
}

/* Where section i must be in version 1, after the ones before it. */
static uint64_t expected_offset(const struct mapped_superblock *sb, unsigned int i)
{
    const struct mig_mapped_section *s = sb->section;

    switch (i) {
    case MAPPED_PROLOGUE: return MAPPED_SUPERBLOCK_SIZE;
    case MAPPED_PAGES:    return mapped_pages_offset(s[MAPPED_PROLOGUE].length);
    case MAPPED_TAIL:     return s[MAPPED_PAGES].offset + s[MAPPED_PAGES].length;
    default:              return mapped_index_offset(s[MAPPED_TAIL].offset +
                                                     s[MAPPED_TAIL].length);
    }
}

/* The counts, then each section where version 1 puts it and as long as it must be. */
static int check_layout(struct mig_mapped_file *f)
{
    const struct mapped_superblock *sb = &f->sb;
    const struct mig_mapped_section *s = sb->section;

    if (!sb->nr_pfns || sb->nr_pfns > MAPPED_MAX_PFNS || sb->nr_entries > sb->nr_pfns ||
        sb->nr_slots > sb->nr_entries)
        return mig_error_set(MIG_EFORMAT, "save file '%s' at offset 40: %" PRIu64 " pfns, "
                             "%" PRIu64 " index entries, %" PRIu64 " slots: version 1 "
                             "needs 1 to 2^36 pfns, at most one entry per pfn and one "
                             "slot per entry", f->name, sb->nr_pfns, sb->nr_entries,
                             sb->nr_slots);
    for (unsigned int i = 0; i < MAPPED_SECTIONS; i++) {
        uint64_t want = expected_offset(sb, i);

        if (s[i].offset != want)
            return mig_error_set(MIG_EFORMAT, "save file '%s' at offset %u: the %s section "
                                 "is at offset %" PRIu64 ", version 1 puts it at %" PRIu64,
                                 f->name, 72 + 24 * i, mapped_section_name[i],
                                 s[i].offset, want);
    }
    if (s[MAPPED_PROLOGUE].length > MAPPED_MAX_BLOB || s[MAPPED_TAIL].length > MAPPED_MAX_BLOB)
        return mig_error_set(MIG_ELIMIT, "save file '%s' at offset 72: a prologue of %"
                             PRIu64 " and a tail of %" PRIu64 " bytes: at most %" PRIu64
                             " each", f->name, s[MAPPED_PROLOGUE].length,
                             s[MAPPED_TAIL].length, MAPPED_MAX_BLOB);
    if (s[MAPPED_PAGES].length != sb->nr_slots * MIG_PAGE_SIZE || s[MAPPED_PAGES].checksum ||
        s[MAPPED_INDEX].length != sb->nr_entries * MAPPED_ENTRY_SIZE)
        return mig_error_set(MIG_EFORMAT, "save file '%s' at offset 96: pages of %" PRIu64
                             " bytes (checksum 0x%" PRIx64 ") and an index of %" PRIu64
                             " bytes do not hold %" PRIu64 " slots and %" PRIu64
                             " entries", f->name, s[MAPPED_PAGES].length,
                             s[MAPPED_PAGES].checksum, s[MAPPED_INDEX].length,
                             sb->nr_slots, sb->nr_entries);
    return 0;
}

/* Every section within the file, and nothing after the index. */
static int check_size(struct mig_mapped_file *f)
{
    const struct mig_mapped_section *s = f->sb.section;
    uint64_t end = s[MAPPED_INDEX].offset + s[MAPPED_INDEX].length;

    /* In file order: the first section past the end is where the file ends. */
    for (unsigned int i = 0; i < MAPPED_SECTIONS; i++) {
        uint64_t section_end = s[i].offset + s[i].length;

        if (section_end > f->size)
            return mig_error_set(MIG_ETRUNC, "save file '%s' ends at offset %" PRIu64 ", "
                                 "the %s section runs from offset %" PRIu64 " to %" PRIu64
                                 " (%" PRIu64 " bytes missing): the file was cut short (a "
                                 "copy that did not finish?); use a whole copy", f->name,
                                 f->size, mapped_section_name[i], s[i].offset, section_end,
                                 section_end - f->size);
    }
    if (f->size > end)
        return mig_error_set(MIG_EFORMAT, "save file '%s' has %" PRIu64 " bytes after the "
                             "end of its index at offset %" PRIu64 ": version 1 writes "
                             "none; the file is damaged", f->name, f->size - end, end);
    return 0;
}

/* Read section i into *buf_out (malloc'ed, the file's) and check its checksum. */
static int read_section(struct mig_mapped_file *f, unsigned int i, uint8_t **buf_out)
{
    const struct mig_mapped_section *s = &f->sb.section[i];
    char what[64];
    uint64_t have;
    int rc;

    *buf_out = malloc(s->length ? (size_t)s->length : 1);
    if (!*buf_out)
        return mig_error_set(MIG_ENOMEM, "out of memory for the %s of save file '%s' (%"
                             PRIu64 " bytes)", mapped_section_name[i], f->name, s->length);
    snprintf(what, sizeof(what), "the %s section", mapped_section_name[i]);
    rc = read_at(f, *buf_out, s->length, s->offset, what);
    if (rc)
        return rc;
    have = mapped_checksum(*buf_out, s->length);
    if (have != s->checksum)
        return mig_error_set(MIG_ECORRUPT, "save file '%s' at offset %" PRIu64 ": the %s "
                             "section (%" PRIu64 " bytes) fails its checksum (xxh3 %016"
                             PRIx64 ", recorded %016" PRIx64 "): the file is damaged",
                             f->name, s->offset, mapped_section_name[i], s->length, have,
                             s->checksum);
    return 0;
}

/* One entry against the one before it and the slots seen so far. */
static int check_entry(struct mig_mapped_file *f, uint64_t i, struct mig_mapped_entry *e,
                       uint64_t prev_pfn, uint64_t *zero_count)
{
    uint64_t at = f->sb.section[MAPPED_INDEX].offset + i * MAPPED_ENTRY_SIZE;
    const char *bad = NULL;

    if (mapped_entry_decode(f->index + i * MAPPED_ENTRY_SIZE, e))
        bad = "reserved bits are set";
    else if (e->pfn >= f->sb.nr_pfns)
        bad = "its pfn is beyond the guest";
    else if (i && e->pfn <= prev_pfn)
        bad = "its pfn does not follow the one before (the index is in pfn order)";
    else if (e->zero && e->hash != mapped_zero_page_hash())
        bad = "a zero page with the hash of another page";
    else if (e->slot != MIG_MAPPED_NO_SLOT && e->slot >= f->sb.nr_slots)
        bad = "its slot is beyond the pages section";
    else if (!e->zero && e->slot == MIG_MAPPED_NO_SLOT)
        bad = "a page with data but no slot";
    else if (e->slot != MIG_MAPPED_NO_SLOT && f->slot_entry[e->slot] != UINT64_MAX)
        bad = "its slot belongs to another entry";
    if (bad)
        return mig_error_set(MIG_EFORMAT, "save file '%s' at offset %" PRIu64 ": index "
                             "entry %" PRIu64 " (pfn 0x%" PRIx64 ", slot %" PRId64 "): %s: "
                             "the file is damaged", f->name, at, i, e->pfn,
                             (int64_t)e->slot, bad);
    if (e->slot != MIG_MAPPED_NO_SLOT)
        f->slot_entry[e->slot] = i;
    if (e->zero)
        f->zero_entry[(*zero_count)++] = i;
    return 0;
}

/* The index: entries, slots used once each, and the digest it gives. */
static int check_index(struct mig_mapped_file *f)
{
    uint64_t n = f->sb.nr_entries, prev = 0, sum = 0, zero = 0, digest;
    struct mig_mapped_entry e;
    int rc;

    f->slot_entry = malloc((f->sb.nr_slots ? f->sb.nr_slots : 1) * sizeof(uint64_t));
    f->zero_entry = malloc((n ? n : 1) * sizeof(uint64_t));
    if (!f->slot_entry || !f->zero_entry)
        return mig_error_set(MIG_ENOMEM, "out of memory for the index of save file '%s'",
                             f->name);
    memset(f->slot_entry, 0xff, f->sb.nr_slots * sizeof(uint64_t));
    for (uint64_t i = 0; i < n; i++) {
        rc = check_entry(f, i, &e, prev, &zero);
        if (rc)
            return rc;
        prev = e.pfn;
        sum += mig_memory_digest_term(e.pfn, mig_page_key(e.hash, e.type));
    }
    for (uint64_t s = 0; s < f->sb.nr_slots; s++)
        if (f->slot_entry[s] == UINT64_MAX)
            return mig_error_set(MIG_EFORMAT, "save file '%s': slot %" PRIu64 " (offset %"
                                 PRIu64 ") belongs to no index entry: the file is "
                                 "damaged", f->name, s,
                                 f->sb.section[MAPPED_PAGES].offset + s * MIG_PAGE_SIZE);
    f->nr_zero = zero;
    digest = mig_memory_digest_finish(sum, f->sb.nr_pfns);
    if (digest != f->sb.digest)
        return mig_error_set(MIG_ECORRUPT, "save file '%s' at offset 64: the index gives "
                             "the memory digest %016" PRIx64 ", the superblock records %016"
                             PRIx64 ": the file is damaged", f->name, digest, f->sb.digest);
    return 0;
}

/* A "xen" file's prologue must be a Xen prologue (mig_xen.h). */
static int check_prologue(struct mig_mapped_file *f)
{
    const struct mig_mapped_section *s = &f->sb.section[MAPPED_PROLOGUE];
    const void *head;
    size_t head_len;
    char *meta = NULL;
    int rc;

    if (strcmp(f->sb.family, "xen"))
        return 0;
    rc = mig_xen_prologue_parse(f->prologue, (size_t)s->length, &meta, &head, &head_len);
    free(meta);
    if (rc)
        return mig_error_set(rc, "save file '%s' at offset %" PRIu64 " (the prologue): %s",
                             f->name, s->offset, mig_error_last());
    return 0;
}

/* Everything but the pages' data; the sizes against the machine first. */
static int validate(struct mig_mapped_file *f)
{
    struct stat st;
    uint64_t need;
    int rc;

    if (fstat(f->fd, &st))
        return mig_error_set_errno(MIG_EIO, errno, "cannot stat save file '%s'", f->name);
    if (!S_ISREG(st.st_mode))
        return mig_error_set(MIG_EFORMAT, "save file '%s' is not a regular file: a mapped "
                             "save file is read at offsets", f->name);
    f->size = (uint64_t)st.st_size;
    rc = read_superblock(f);
    if (!rc)
        rc = check_layout(f);
    if (!rc)
        rc = check_size(f);
    if (rc)
        return rc;
    need = f->sb.nr_entries * (MAPPED_ENTRY_SIZE + 8) + f->sb.nr_slots * 8;
    if (need > mig_host_memory_bytes())
        return mig_error_set(MIG_ENOMEM, "save file '%s': its index of %" PRIu64 " entries "
                             "needs %" PRIu64 " MiB, this host has %" PRIu64 " MiB",
                             f->name, f->sb.nr_entries, need >> 20,
                             mig_host_memory_bytes() >> 20);
    rc = read_section(f, MAPPED_PROLOGUE, &f->prologue);
    if (!rc)
        rc = read_section(f, MAPPED_TAIL, &f->tail);
    if (!rc)
        rc = read_section(f, MAPPED_INDEX, &f->index);
    if (!rc)
        rc = check_index(f);
    if (!rc)
        rc = check_prologue(f);
    return rc;
}

static int open_common(int fd, bool own_fd, const char *name, struct mig_mapped_file **file_out)
{
    struct mig_mapped_file *f = calloc(1, sizeof(*f));
    int rc;

    *file_out = NULL;
    if (!f || !(f->name = strdup(name))) {
        free(f);
        if (own_fd)
            close(fd);
        return mig_error_set(MIG_ENOMEM, "out of memory to open save file '%s'", name);
    }
    f->fd = fd;
    f->own_fd = own_fd;
    rc = validate(f);
    if (rc) {
        mig_mapped_file_close(f);
        return rc;
    }
    *file_out = f;
    return 0;
}

int mig_mapped_file_open(const char *path, struct mig_mapped_file **file_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    *file_out = NULL;
    if (fd < 0)
        return mig_error_set_errno(MIG_EIO, errno, "cannot open save file '%s'", path);
    return open_common(fd, true, path, file_out);
}

int mig_mapped_file_open_fd(int fd, const char *name, struct mig_mapped_file **file_out)
{
    return open_common(fd, false, name, file_out);
}

void mig_mapped_file_close(struct mig_mapped_file *f)
{
    if (!f)
        return;
    if (f->own_fd)
        close(f->fd);
    free(f->name);
    free(f->prologue);
    free(f->tail);
    free(f->index);
    free(f->slot_entry);
    free(f->zero_entry);
    free(f);
}

void mig_mapped_file_info(const struct mig_mapped_file *f, struct mig_mapped_info *info)
{
    memset(info, 0, sizeof(*info));
    info->version = f->sb.version;
    snprintf(info->family, sizeof(info->family), "%s", f->sb.family);
    info->nr_pfns = f->sb.nr_pfns;
    info->nr_entries = f->sb.nr_entries;
    info->nr_zero = f->nr_zero;
    info->nr_slots = f->sb.nr_slots;
    info->memory_digest = f->sb.digest;
    info->file_size = f->size;
    info->prologue = f->sb.section[MAPPED_PROLOGUE];
    info->pages = f->sb.section[MAPPED_PAGES];
    info->tail = f->sb.section[MAPPED_TAIL];
    info->index = f->sb.section[MAPPED_INDEX];
}

const void *mig_mapped_file_prologue(const struct mig_mapped_file *f, size_t *len_out)
{
    *len_out = (size_t)f->sb.section[MAPPED_PROLOGUE].length;
    return f->prologue;
}

const void *mig_mapped_file_tail(const struct mig_mapped_file *f, size_t *len_out)
{
    *len_out = (size_t)f->sb.section[MAPPED_TAIL].length;
    return f->tail;
}

int mig_mapped_file_entry(const struct mig_mapped_file *f, uint64_t i,
                          struct mig_mapped_entry *entry)
{
    if (i >= f->sb.nr_entries)
        return mig_error_set(MIG_EINVAL, "index entry %" PRIu64 " of save file '%s', which "
                             "has %" PRIu64, i, f->name, f->sb.nr_entries);
    (void)mapped_entry_decode(f->index + i * MAPPED_ENTRY_SIZE, entry);   /* checked */
    return 0;
}

/* ---- the pages, walked by threads ---- */

/* The entry that owns slot (validated at open). */
static void slot_owner(const struct mig_mapped_file *f, uint64_t slot,
                       struct mig_mapped_entry *e)
{
    (void)mapped_entry_decode(f->index + f->slot_entry[slot] * MAPPED_ENTRY_SIZE, e);
}

/* Slots [first, end) as runs of those with data, to mw->run unread. */
static int mapped_runs(struct walk *w, struct mapped_walk *mw, unsigned int t, uint64_t first,
                       uint64_t end)
{
    struct mig_mapped_file *f = mw->file;
    uint64_t pages = f->sb.section[MAPPED_PAGES].offset, start = first;
    uint64_t *pfns = malloc(MAPPED_RUN_MAX * sizeof(*pfns));
    unsigned int *types = malloc(MAPPED_RUN_MAX * sizeof(*types)), n = 0;
    struct mig_mapped_entry e;
    int rc = pfns && types ? 0 : mig_error_set(MIG_ENOMEM, "out of memory to read save "
                                               "file '%s'", f->name);

    for (uint64_t s = first; s < end && !rc; s++) {
        if ((s - first) % MAPPED_RUN_MAX == 0 && atomic_load(&w->stop))
            break;
        slot_owner(f, s, &e);
        if (!e.zero) {          /* a zero one was left behind by a later zero page */
            start = n ? start : s;
            pfns[n] = e.pfn;
            types[n++] = e.type;
        }
        if (n && (e.zero || n == MAPPED_RUN_MAX || s + 1 == end)) {
            rc = mw->run(mw->arg, t, f->fd, pages + start * MIG_PAGE_SIZE, pfns, types, n);
            atomic_fetch_add(&w->done, n);
            n = 0;
        }
    }
    free(pfns);
    free(types);
    return rc;
}

/* Slots [first, end), a chunk per pread, each page with data to mw->page. */
static int mapped_chunks(struct walk *w, struct mapped_walk *mw, unsigned int t,
                         uint64_t first, uint64_t end)
{
    struct mig_mapped_file *f = mw->file;
    uint64_t pages = f->sb.section[MAPPED_PAGES].offset;
    uint8_t *buf = malloc((size_t)WALK_CHUNK_PAGES * MIG_PAGE_SIZE);
    struct mig_mapped_entry e;
    int rc = 0;

    if (!buf)
        return mig_error_set(MIG_ENOMEM, "out of memory to read save file '%s'", f->name);
    for (uint64_t s = first; s < end && !rc && !atomic_load(&w->stop); ) {
        uint64_t n = end - s < WALK_CHUNK_PAGES ? end - s : WALK_CHUNK_PAGES, done = 0;

        rc = read_at(f, buf, n * MIG_PAGE_SIZE, pages + s * MIG_PAGE_SIZE,
                     "the pages section");
        for (uint64_t k = 0; k < n && !rc; k++) {
            slot_owner(f, s + k, &e);
            if (e.zero)
                continue;           /* left behind by a later zero page */
            rc = mw->page(mw->arg, t, &e, buf + k * MIG_PAGE_SIZE);
            done++;
        }
        atomic_fetch_add(&w->done, done);
        s += n;
    }
    free(buf);
    return rc;
}

/* Thread t's share of the slots, then of the zero entries. */
static int mapped_work(struct walk *w, unsigned int t)
{
    struct mapped_walk *mw = w->arg;
    struct mig_mapped_file *f = mw->file;
    struct mig_mapped_entry e;
    uint64_t first, end;
    int rc;

    walk_share(f->sb.nr_slots, t, w->threads, &first, &end);
    rc = mw->run ? mapped_runs(w, mw, t, first, end) : mapped_chunks(w, mw, t, first, end);
    walk_share(mw->zero_too ? f->nr_zero : 0, t, w->threads, &first, &end);
    for (uint64_t z = first; z < end && !rc; z++) {
        if ((z - first) % 1024 == 0 && atomic_load(&w->stop))
            break;
        (void)mapped_entry_decode(f->index + f->zero_entry[z] * MAPPED_ENTRY_SIZE, &e);
        rc = mw->page(mw->arg, t, &e, NULL);
        atomic_fetch_add(&w->done, 1);
    }
    return rc;
}

int mapped_walk_run(struct walk *w, struct mapped_walk *mw)
{
    w->work = mapped_work;
    w->arg = mw;
    return walk_run(w);
}

int mapped_verify_page(void *arg, unsigned int thread, const struct mig_mapped_entry *e,
                       const uint8_t *data)
{
    const struct mig_mapped_file *f = arg;
    uint64_t have = mig_page_hash(data);

    if (have == e->hash)
        return 0;
    return mig_error_set(MIG_ECORRUPT, "save file '%s' at offset %" PRIu64 ": the page of "
                         "pfn 0x%" PRIx64 " (slot %" PRIu64 ") fails its checksum (xxh64 %016"
                         PRIx64 ", the index records %016" PRIx64 "): the file is damaged",
                         f->name, f->sb.section[MAPPED_PAGES].offset +
                         e->slot * MIG_PAGE_SIZE, e->pfn, e->slot, have, e->hash);
}

int mig_mapped_file_verify_pages(struct mig_mapped_file *f, unsigned int threads,
                                 const atomic_bool *cancel)
{
    struct walk w = { .threads = threads, .cancel = cancel };
    struct mapped_walk mw = { .file = f, .page = mapped_verify_page, .arg = f };

    return mapped_walk_run(&w, &mw);
}
