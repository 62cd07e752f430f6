/*
 * stream_internal.h: helpers shared by the stream room's sources (byte
 * order, error labels).  Private to libmig/stream: never include it from
 * outside the room.
 */
#ifndef XENMIG_STREAM_INTERNAL_H
#define XENMIG_STREAM_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "mig_stream.h"
#include "util/le.h"

/*
 * Big-endian loads/stores (the libxl and image headers); safe on unaligned
 * pointers.  The little-endian ones are libmig's util/le.h.
 */
static inline uint32_t be32_load(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint64_t be64_load(const uint8_t *p)
{
    return ((uint64_t)be32_load(p) << 32) | be32_load(p + 4);
}

static inline void be32_store(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static inline void be64_store(uint8_t *p, uint64_t v)
{
    be32_store(p, (uint32_t)(v >> 32));
    be32_store(p + 4, (uint32_t)v);
}

static inline uint32_t padding_for(uint32_t length)
{
    return (MIG_STREAM_RECORD_ALIGN - (length % MIG_STREAM_RECORD_ALIGN)) %
           MIG_STREAM_RECORD_ALIGN;
}

/* Wire sizes of the fixed headers. */
#define XL_HEADER_SIZE       (MIG_STREAM_XL_MAGIC_SIZE + 16u)
#define LIBXL_HEADER_SIZE    16u
#define IMAGE_HEADER_SIZE    24u
#define DOMAIN_HEADER_SIZE   16u
#define RECORD_HEADER_SIZE   8u

/*
 * "record 12 (PAGE_DATA) at offset 0x1f40" or "item 0 (xl header) at
 * offset 0x0" into buf.
 */
void stream_item_label(const struct mig_stream_record *record, char *buf, size_t size);

/* mig_error_set(code, "<label>: <fmt...>"); returns code. */
int stream_item_error(int code, const struct mig_stream_record *record,
                      const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* XENMIG_STREAM_INTERNAL_H */
