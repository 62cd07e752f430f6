/*
 * domain_record.c: a domain's baselines in xenstore (domain_record.h).
 * This file must never trust a value read from xenstore beyond its length
 * limit, and never print.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuid_policy.h"
#include "domain_record.h"
#include "mig_error.h"

#define MAX_RECORD 4096

/* mkdir -p for the record directory (path ends with '/'). */
static int mkdir_p(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) && errno != EEXIST) {
            *p = '/';
            return -1;
        }
        *p = '/';
    }
    return 0;
}

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

/*
 * The domain's UUID (from /local/domain/DOMID/vm = "/vm/UUID") into uuid;
 * false when xenstore does not say, or says something that is not one.
 */
static bool domain_uuid(struct xs_handle *xs, long domid, char uuid[37])
{
    char path[64], *value, *u;
    unsigned int length = 0;
    bool ok = false;

    snprintf(path, sizeof(path), "/local/domain/%ld/vm", domid);
    value = xs_read(xs, XBT_NULL, path, &length);
    if (value && length < 128) {
        u = strrchr(value, '/');
        u = u ? u + 1 : value;
        if (strlen(u) == 36 && strspn(u, "0123456789abcdefABCDEF-") == 36) {
            memcpy(uuid, u, 37);
            ok = true;
        }
    }
    free(value);
    return ok;
}

/* STATE_DIR/domain-UUID/KEY, the record that outlives the domid. */
static void record_file(char *buf, size_t size, const char *uuid, const char *key)
{
    const char *dir = getenv("XENMIG_STATE_DIR");

    snprintf(buf, size, "%s/domain-%s/%s", dir && *dir ? dir : XENMIG_STATE_DIR, uuid, key);
}

int domain_record_write(struct xs_handle *xs, long domid, const char *key, const char *value)
{
    char path[4096], uuid[37], tmp[4200];
    FILE *f;

    snprintf(path, sizeof(path), "/local/domain/%ld/xenmig/%s", domid, key);
    if (!xs_write(xs, XBT_NULL, path, value, (unsigned int)strlen(value)))
        return mig_error_set_errno(MIG_EIO, errno, "cannot write xenstore %s", path);
    /* And on disk by UUID: xl save/restore keeps the UUID, not the domid. */
    if (!domain_uuid(xs, domid, uuid))
        return mig_error_set(MIG_EIO, "domain %ld has no UUID in xenstore", domid);
    record_file(path, sizeof(path), uuid, "");
    if (mkdir_p(path))
        return mig_error_set_errno(MIG_EIO, errno, "cannot create %s", path);
    record_file(path, sizeof(path), uuid, key);
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    f = fopen(tmp, "w");
    if (!f || fputs(value, f) < 0 || fclose(f) || rename(tmp, path)) {
        int err = errno;

        if (f)
            unlink(tmp);
        return mig_error_set_errno(MIG_EIO, err, "cannot write %s", path);
    }
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
    if (!value) {
        /* After xl save/restore (a new domid): the record kept by UUID. */
        char uuid[37], file[4096];
        size_t file_length;

        if (!domain_uuid(xs, domid, uuid))
            return NULL;
        record_file(file, sizeof(file), uuid, key);
        if (cpuid_read_text_file(file, "domain record", MAX_RECORD, 0, &value, &file_length))
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
