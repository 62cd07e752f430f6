/*
 * domain_record.c: a domain's baselines in xenstore (domain_record.h).
 * This file must never trust a value read from xenstore beyond its length
 * limit, and never print.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain_record.h"
#include "mig_error.h"

#define MAX_RECORD 4096

long domain_record_find_domid(struct xs_handle *xs, const char *name)
{
    unsigned int count = 0;
    char **ids = xs_directory(xs, XBT_NULL, "/local/domain", &count);
    long found = -1;

    for (unsigned int i = 0; ids && i < count && found < 0; i++) {
        char path[64], *value, *end;
        unsigned int length;

        snprintf(path, sizeof(path), "/local/domain/%.16s/name", ids[i]);
        value = xs_read(xs, XBT_NULL, path, &length);
        if (value && !strcmp(value, name)) {
            long id = strtol(ids[i], &end, 10);

            if (!*end && id >= 0)
                found = id;
        }
        free(value);
    }
    free(ids);
    if (found < 0)
        mig_error_set(MIG_EIO, "no domain named '%.64s' (xenstore /local/domain/*/name)", name);
    return found;
}

int domain_record_write(struct xs_handle *xs, long domid, const char *key, const char *value)
{
    char path[96];

    snprintf(path, sizeof(path), "/local/domain/%ld/xenmig/%s", domid, key);
    if (!xs_write(xs, XBT_NULL, path, value, (unsigned int)strlen(value)))
        return mig_error_set_errno(MIG_EIO, errno, "cannot write xenstore %s", path);
    return 0;
}

char *domain_record_read(struct xs_handle *xs, long domid, const char *key)
{
    char path[96], *value;
    unsigned int length = 0;

    snprintf(path, sizeof(path), "/local/domain/%ld/xenmig/%s", domid, key);
    value = xs_read(xs, XBT_NULL, path, &length);
    if (value && (length > MAX_RECORD || strlen(value) != length)) {
        free(value);
        return NULL;
    }
    return value;
}

const char *domain_record_type(struct xs_handle *xs, long domid)
{
    static const char *const types[] = { "pv", "pvh", "hvm" };
    char path[64], *value;
    unsigned int length = 0;
    const char *type = "hvm";

    snprintf(path, sizeof(path), "/libxl/%ld/type", domid);
    value = xs_read(xs, XBT_NULL, path, &length);
    for (unsigned int i = 0; value && i < 3; i++)
        if (!strcmp(value, types[i]))
            type = types[i];
    free(value);
    return type;
}
