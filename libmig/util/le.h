/*
 * le.h: little-endian loads and stores of 16, 32 and 64-bit integers, the
 * one copy every room of libmig uses for its wire and file formats (data
 * streams, compacted dirty sets, Xen records and prologue, the sim save
 * file).  Safe on unaligned pointers and independent of the host's byte
 * order.  Private to libmig: never include it from a public header.
 *
 * This file must never grow anything but byte-order helpers.
 */
#ifndef XENMIG_UTIL_LE_H
#define XENMIG_UTIL_LE_H

#include <stdint.h>

static inline uint16_t mig_le16_load(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t mig_le32_load(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint64_t mig_le64_load(const uint8_t *p)
{
    return (uint64_t)mig_le32_load(p) | ((uint64_t)mig_le32_load(p + 4) << 32);
}

static inline void mig_le16_store(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void mig_le32_store(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void mig_le64_store(uint8_t *p, uint64_t v)
{
    mig_le32_store(p, (uint32_t)v);
    mig_le32_store(p + 4, (uint32_t)(v >> 32));
}

#endif /* XENMIG_UTIL_LE_H */
