/*
 * mapped_format.h: the mapped save file's layout (mig_savefile.h;
 * docs/formats.md, "Mapped save file", is the specification), shared by
 * its writer (mapped_dest.c) and its reader (mapped_read.c).  Private to
 * libmig/savefile.
 *
 * The superblock (MAPPED_SUPERBLOCK_SIZE bytes at offset 0):
 *
 *   | off  | size | field                                              |
 *   |------|------|----------------------------------------------------|
 *   |    0 |    8 | magic "XMIGMAP1"                                   |
 *   |    8 |    4 | version (1)                                        |
 *   |   12 |    4 | superblock size (4096)                             |
 *   |   16 |    8 | flags (0)                                          |
 *   |   24 |    8 | family, ASCII, NUL-padded ("sim", "xen")           |
 *   |   32 |    4 | page size (4096)                                   |
 *   |   36 |    4 | index entry size (24)                              |
 *   |   40 |    8 | nr_pfns                                            |
 *   |   48 |    8 | nr_entries                                         |
 *   |   56 |    8 | nr_slots                                           |
 *   |   64 |    8 | memory digest                                      |
 *   |   72 |   96 | sections prologue, pages, tail, index: each u64    |
 *   |      |      | offset, u64 length, u64 checksum                   |
 *   |  168 | 3912 | zero                                               |
 *   | 4080 |    8 | XXH3-64 of bytes 0 .. 4079                         |
 *   | 4088 |    8 | complete marker "XMIGDONE", written last           |
 *
 * An index entry (MAPPED_ENTRY_SIZE bytes): u64 word (bits 0-51 pfn,
 * 52-55 type, 56-62 zero, 63 ZERO), u64 slot (MIG_MAPPED_NO_SLOT: none),
 * u64 hash.
 */
#ifndef XENMIG_SAVEFILE_MAPPED_FORMAT_H
#define XENMIG_SAVEFILE_MAPPED_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#include "mig_page.h"
#include "mig_savefile.h"

#define MAPPED_SUPERBLOCK_SIZE   4096u
#define MAPPED_CHECKSUM_OFFSET   4080u
#define MAPPED_COMPLETE_OFFSET   4088u
#define MAPPED_ENTRY_SIZE        24u
#define MAPPED_FAMILY_SIZE       8u

#define MAPPED_ENTRY_PFN_MASK    UINT64_C(0x000fffffffffffff)
#define MAPPED_ENTRY_TYPE_SHIFT  52
#define MAPPED_ENTRY_RESERVED    UINT64_C(0x7f00000000000000)
#define MAPPED_ENTRY_ZERO        (UINT64_C(1) << 63)

/* Limits a reader holds a file to (the engine's own: its control blocks
 * and its largest guest). */
#define MAPPED_MAX_PFNS          (UINT64_C(1) << 36)
#define MAPPED_MAX_BLOB          (UINT64_C(64) << 20)

enum mapped_section_index {
    MAPPED_PROLOGUE = 0,
    MAPPED_PAGES = 1,
    MAPPED_TAIL = 2,
    MAPPED_INDEX = 3,
    MAPPED_SECTIONS = 4,
};

/* The superblock, decoded. */
struct mapped_superblock {
    uint32_t version;
    uint64_t flags;
    char family[MAPPED_FAMILY_SIZE + 1];
    uint32_t page_size, entry_size;
    uint64_t nr_pfns, nr_entries, nr_slots, digest;
    struct mig_mapped_section section[MAPPED_SECTIONS];
    bool complete;                  /* the complete marker is there */
};

/* Names of the sections, for errors and listings. */
extern const char *const mapped_section_name[MAPPED_SECTIONS];

/* Encode sb into buf (MAPPED_SUPERBLOCK_SIZE bytes) with its checksum,
 * and with the complete marker only when sb->complete. */
void mapped_superblock_encode(const struct mapped_superblock *sb, uint8_t *buf);

/*
 * Decode buf (MAPPED_SUPERBLOCK_SIZE bytes of the file called name):
 * magic, version, size, checksum, reserved bytes and the fixed fields are
 * checked; errors (MIG_EFORMAT, MIG_ECORRUPT) quote the field and its
 * offset.  The sections and counts are the caller's to check against the
 * file.
 */
int mapped_superblock_decode(const uint8_t *buf, const char *name,
                             struct mapped_superblock *sb);

/* Where the pages section starts after a prologue of len bytes. */
static inline uint64_t mapped_pages_offset(uint64_t prologue_len)
{
    return (MAPPED_SUPERBLOCK_SIZE + prologue_len + MIG_PAGE_SIZE - 1) &
           ~(uint64_t)(MIG_PAGE_SIZE - 1);
}

/* Where the index starts after a tail that ends at end. */
static inline uint64_t mapped_index_offset(uint64_t tail_end)
{
    return (tail_end + 7) & ~UINT64_C(7);
}

/* An index entry from and into its 24 bytes. */
void mapped_entry_encode(const struct mig_mapped_entry *e, uint8_t *buf);
/* 0, or MIG_EFORMAT when reserved bits are set (the caller names where). */
int mapped_entry_decode(const uint8_t *buf, struct mig_mapped_entry *e);

/* mig_page_hash of 4096 zero bytes. */
uint64_t mapped_zero_page_hash(void);

/* The XXH3-64 a section's checksum is. */
uint64_t mapped_checksum(const void *data, uint64_t len);

#endif /* XENMIG_SAVEFILE_MAPPED_FORMAT_H */
