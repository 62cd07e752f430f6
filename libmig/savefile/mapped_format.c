/*
 * mapped_format.c: the mapped save file's superblock and index entries,
 * encoded and decoded (mapped_format.h).  Pure code over buffers: it must
 * never read or write a file, so that the writer and the reader share one
 * definition of the bytes.
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include <xxhash.h>

#include "mig_xfer.h"
#include "savefile/mapped_format.h"
#include "util/le.h"

const char *const mapped_section_name[MAPPED_SECTIONS] = {
    "prologue", "pages", "tail", "index",
};

#define SB_SECTIONS 72u     /* offset of the section table */

uint64_t mapped_checksum(const void *data, uint64_t len)
{
    return XXH3_64bits(data, (size_t)len);
}

uint64_t mapped_zero_page_hash(void)
{
    static const uint8_t zero[MIG_PAGE_SIZE];

    return mig_page_hash(zero);
}

void mapped_superblock_encode(const struct mapped_superblock *sb, uint8_t *buf)
{
    memset(buf, 0, MAPPED_SUPERBLOCK_SIZE);
    memcpy(buf, MIG_MAPPED_MAGIC, 8);
    mig_le32_store(buf + 8, MIG_MAPPED_VERSION);
    mig_le32_store(buf + 12, MAPPED_SUPERBLOCK_SIZE);
    mig_le64_store(buf + 16, sb->flags);
    memcpy(buf + 24, sb->family, strnlen(sb->family, MAPPED_FAMILY_SIZE));
    mig_le32_store(buf + 32, MIG_PAGE_SIZE);
    mig_le32_store(buf + 36, MAPPED_ENTRY_SIZE);
    mig_le64_store(buf + 40, sb->nr_pfns);
    mig_le64_store(buf + 48, sb->nr_entries);
    mig_le64_store(buf + 56, sb->nr_slots);
    mig_le64_store(buf + 64, sb->digest);
    for (unsigned int i = 0; i < MAPPED_SECTIONS; i++) {
        uint8_t *s = buf + SB_SECTIONS + 24 * i;

        mig_le64_store(s, sb->section[i].offset);
        mig_le64_store(s + 8, sb->section[i].length);
        mig_le64_store(s + 16, sb->section[i].checksum);
    }
    mig_le64_store(buf + MAPPED_CHECKSUM_OFFSET,
                   mapped_checksum(buf, MAPPED_CHECKSUM_OFFSET));
    if (sb->complete)
        memcpy(buf + MAPPED_COMPLETE_OFFSET, MIG_MAPPED_COMPLETE, 8);
}

/* The family: 1 to 8 lower-case letters or digits, NUL-padded. */
static int decode_family(const uint8_t *field, const char *name, char *family)
{
    size_t len = strnlen((const char *)field, MAPPED_FAMILY_SIZE);

    for (size_t i = 0; i < MAPPED_FAMILY_SIZE; i++) {
        bool ok = i < len ? (field[i] >= 'a' && field[i] <= 'z') ||
                            (field[i] >= '0' && field[i] <= '9')
                          : field[i] == 0;

        if (!len || !ok)
            return mig_error_set(MIG_EFORMAT, "save file '%s' at offset 24: the backend "
                                 "family is not 1 to 8 lower-case letters or digits "
                                 "padded with NULs: the superblock is damaged", name);
    }
    memcpy(family, field, len);
    family[len] = '\0';
    return 0;
}

/* The fixed fields: 0, or MIG_EFORMAT quoting the first that is wrong. */
static int check_fixed(const uint8_t *buf, const char *name, struct mapped_superblock *sb)
{
    uint32_t size = mig_le32_load(buf + 12);

    if (size != MAPPED_SUPERBLOCK_SIZE)
        return mig_error_set(MIG_EFORMAT, "save file '%s' at offset 12: superblock size "
                             "%" PRIu32 ", version 1 has %u", name, size,
                             MAPPED_SUPERBLOCK_SIZE);
    sb->flags = mig_le64_load(buf + 16);
    if (sb->flags)
        return mig_error_set(MIG_EFORMAT, "save file '%s' at offset 16: flags 0x%" PRIx64
                             ", version 1 defines none", name, sb->flags);
    sb->page_size = mig_le32_load(buf + 32);
    sb->entry_size = mig_le32_load(buf + 36);
    if (sb->page_size != MIG_PAGE_SIZE || sb->entry_size != MAPPED_ENTRY_SIZE)
        return mig_error_set(MIG_EFORMAT, "save file '%s' at offset 32: page size %" PRIu32
                             " and entry size %" PRIu32 ", version 1 has %d and %u",
                             name, sb->page_size, sb->entry_size, MIG_PAGE_SIZE,
                             MAPPED_ENTRY_SIZE);
    for (unsigned int off = SB_SECTIONS + 24 * MAPPED_SECTIONS; off < MAPPED_CHECKSUM_OFFSET;
         off++)
        if (buf[off])
            return mig_error_set(MIG_EFORMAT, "save file '%s' at offset %u: byte %#x in "
                                 "the superblock's reserved space, which must be zero",
                                 name, off, buf[off]);
    return decode_family(buf + 24, name, sb->family);
}

int mapped_superblock_decode(const uint8_t *buf, const char *name,
                             struct mapped_superblock *sb)
{
    uint64_t want = mig_le64_load(buf + MAPPED_CHECKSUM_OFFSET);
    uint64_t have = mapped_checksum(buf, MAPPED_CHECKSUM_OFFSET);
    int rc;

    memset(sb, 0, sizeof(*sb));
    if (memcmp(buf, MIG_MAPPED_MAGIC, 8))
        return mig_error_set(MIG_EFORMAT, "save file '%s' at offset 0: no magic \"%s\": "
                             "it is not a xenmig mapped save file", name, MIG_MAPPED_MAGIC);
    /* The version first: a later version may place everything else anew. */
    sb->version = mig_le32_load(buf + 8);
    if (sb->version != MIG_MAPPED_VERSION)
        return mig_error_set(MIG_EUNSUPP, "save file '%s' at offset 8: mapped format "
                             "version %" PRIu32 ", this xenmig reads version %d: "
                             "restore it with the xenmig that wrote it", name,
                             sb->version, MIG_MAPPED_VERSION);
    sb->complete = !memcmp(buf + MAPPED_COMPLETE_OFFSET, MIG_MAPPED_COMPLETE, 8);
    if (!sb->complete)
        return mig_error_set(MIG_EFORMAT, "save file '%s' at offset %u: no complete "
                             "marker: the save that wrote it did not finish; use an "
                             "earlier save", name, MAPPED_COMPLETE_OFFSET);
    if (want != have)
        return mig_error_set(MIG_ECORRUPT, "save file '%s' at offset %u: the superblock "
                             "fails its checksum (xxh3 %016" PRIx64 ", recorded %016" PRIx64
                             "): the file is damaged", name, MAPPED_CHECKSUM_OFFSET, have,
                             want);
    rc = check_fixed(buf, name, sb);
    if (rc)
        return rc;
    sb->nr_pfns = mig_le64_load(buf + 40);
    sb->nr_entries = mig_le64_load(buf + 48);
    sb->nr_slots = mig_le64_load(buf + 56);
    sb->digest = mig_le64_load(buf + 64);
    for (unsigned int i = 0; i < MAPPED_SECTIONS; i++) {
        const uint8_t *s = buf + SB_SECTIONS + 24 * i;

        sb->section[i].offset = mig_le64_load(s);
        sb->section[i].length = mig_le64_load(s + 8);
        sb->section[i].checksum = mig_le64_load(s + 16);
    }
    return 0;
}

void mapped_entry_encode(const struct mig_mapped_entry *e, uint8_t *buf)
{
    uint64_t word = (e->pfn & MAPPED_ENTRY_PFN_MASK) |
                    (uint64_t)(e->type & 0xf) << MAPPED_ENTRY_TYPE_SHIFT;

    if (e->zero)
        word |= MAPPED_ENTRY_ZERO;
    mig_le64_store(buf, word);
    mig_le64_store(buf + 8, e->slot);
    mig_le64_store(buf + 16, e->hash);
}

int mapped_entry_decode(const uint8_t *buf, struct mig_mapped_entry *e)
{
    uint64_t word = mig_le64_load(buf);

    e->pfn = word & MAPPED_ENTRY_PFN_MASK;
    e->type = (unsigned int)(word >> MAPPED_ENTRY_TYPE_SHIFT) & 0xf;
    e->zero = (word & MAPPED_ENTRY_ZERO) != 0;
    e->slot = mig_le64_load(buf + 8);
    e->hash = mig_le64_load(buf + 16);
    return word & MAPPED_ENTRY_RESERVED ? MIG_EFORMAT : 0;
}
