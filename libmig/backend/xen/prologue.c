#include "config.h"
/*
 * prologue.c: the Xen backend's prologue (mig_xen.h): what the source
 * sends before any page: the pre-flight metadata (JSON) and the head of the
 * xl migration stream.  Build and split only.
 *
 * It must never trust a length from the wire: every length is checked
 * against its limit and against the bytes actually present before any
 * byte is read or copied.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mig_xen.h"
#include "util/le.h"

#define PROLOGUE_FIXED 16u     /* magic, J, H */

int mig_xen_prologue_build(const char *meta_json, const void *head, size_t head_len,
                           void **blob_out, size_t *len_out)
{
    size_t meta_len = meta_json ? strlen(meta_json) : 0;
    uint8_t *blob;

    *blob_out = NULL;
    *len_out = 0;
    if (meta_len < 1 || meta_len > MIG_XEN_PROLOGUE_META_MAX)
        return mig_error_set(MIG_EINVAL, "prologue metadata of %zu bytes: it must be 1 "
                             "to %u bytes of JSON", meta_len, MIG_XEN_PROLOGUE_META_MAX);
    if (!head || head_len < 1 || head_len > MIG_XEN_PROLOGUE_HEAD_MAX)
        return mig_error_set(MIG_EINVAL, "prologue stream head of %zu bytes: it must be "
                             "1 to %u bytes", head ? head_len : 0,
                             MIG_XEN_PROLOGUE_HEAD_MAX);
    blob = malloc(PROLOGUE_FIXED + meta_len + head_len);
    if (!blob)
        return mig_error_set(MIG_ENOMEM, "out of memory for a prologue of %zu bytes",
                             PROLOGUE_FIXED + meta_len + head_len);
    memcpy(blob, MIG_XEN_PROLOGUE_MAGIC, 8);
    mig_le32_store(blob + 8, (uint32_t)meta_len);
    mig_le32_store(blob + 12, (uint32_t)head_len);
    memcpy(blob + PROLOGUE_FIXED, meta_json, meta_len);
    memcpy(blob + PROLOGUE_FIXED + meta_len, head, head_len);
    *blob_out = blob;
    *len_out = PROLOGUE_FIXED + meta_len + head_len;
    return 0;
}

int mig_xen_prologue_parse(const void *blob, size_t len, char **meta_out,
                           const void **head_out, size_t *head_len_out)
{
    const uint8_t *p = blob;
    uint32_t meta_len, head_len;
    char *meta;

    *meta_out = NULL;
    *head_out = NULL;
    *head_len_out = 0;
    if (!blob || len < PROLOGUE_FIXED)
        return mig_error_set(MIG_ETRUNC, "Xen prologue of %zu bytes is shorter than its "
                             "%u-byte header: the source is not a xenmig Xen source",
                             blob ? len : 0, PROLOGUE_FIXED);
    if (memcmp(p, MIG_XEN_PROLOGUE_MAGIC, 8)) {
        char shown[8 * 4 + 1];
        size_t o = 0;

        for (unsigned int i = 0; i < 8; i++)
            if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
                shown[o++] = (char)p[i];
            else
                o += (size_t)snprintf(shown + o, sizeof(shown) - o, "\\x%02x", p[i]);
        shown[o] = '\0';
        return mig_error_set(MIG_EFORMAT, "Xen prologue starts with \"%s\", not \"%s\": "
                             "the source speaks another prologue version; use the same "
                             "xenmig version on both hosts", shown,
                             MIG_XEN_PROLOGUE_MAGIC);
    }
    meta_len = mig_le32_load(p + 8);
    head_len = mig_le32_load(p + 12);
    if (meta_len < 1 || meta_len > MIG_XEN_PROLOGUE_META_MAX)
        return mig_error_set(MIG_ELIMIT, "Xen prologue: metadata length %" PRIu32 " (at "
                             "offset 8) is not 1 to %u", meta_len,
                             MIG_XEN_PROLOGUE_META_MAX);
    if (head_len < 1 || head_len > MIG_XEN_PROLOGUE_HEAD_MAX)
        return mig_error_set(MIG_ELIMIT, "Xen prologue: stream head length %" PRIu32
                             " (at offset 12) is not 1 to %u", head_len,
                             MIG_XEN_PROLOGUE_HEAD_MAX);
    if ((uint64_t)PROLOGUE_FIXED + meta_len + head_len != len)
        return mig_error_set(len < (uint64_t)PROLOGUE_FIXED + meta_len + head_len ?
                             MIG_ETRUNC : MIG_EFORMAT,
                             "Xen prologue of %zu bytes, its header announces %" PRIu64
                             " (16 + metadata %" PRIu32 " + stream head %" PRIu32 ")",
                             len, (uint64_t)PROLOGUE_FIXED + meta_len + head_len,
                             meta_len, head_len);
    if (memchr(p + PROLOGUE_FIXED, '\0', meta_len))
        return mig_error_set(MIG_EFORMAT, "Xen prologue: the metadata holds a NUL byte at "
                             "offset %td; it must be JSON text",
                             (const uint8_t *)memchr(p + PROLOGUE_FIXED, '\0', meta_len) -
                             p);
    meta = malloc((size_t)meta_len + 1);
    if (!meta)
        return mig_error_set(MIG_ENOMEM, "out of memory for %" PRIu32 " bytes of prologue "
                             "metadata", meta_len);
    memcpy(meta, p + PROLOGUE_FIXED, meta_len);
    meta[meta_len] = '\0';
    *meta_out = meta;
    *head_out = p + PROLOGUE_FIXED + meta_len;
    *head_len_out = head_len;
    return 0;
}
