/*
 * domain_record.c: a domain's baselines in xenstore (domain_record.h).
 * This file must never trust a value read from xenstore beyond its length
 * limit, and never print.
 */
#include "config.h"

#include <dirent.h>
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

const char *domain_record_state_dir(void)
{
    const char *dir = getenv("XENMIG_STATE_DIR");

    return dir && *dir ? dir : XENMIG_STATE_DIR;
}

/* STATE_DIR/domain-UUID/KEY, the record that outlives the domid. */
static void record_file(char *buf, size_t size, const char *uuid, const char *key)
{
    snprintf(buf, size, "%s/domain-%s/%s", domain_record_state_dir(), uuid, key);
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

void domain_record_entries_free(struct domain_record_entry *entries, unsigned int count)
{
    for (unsigned int i = 0; entries && i < count; i++) {
        free(entries[i].cpuid_baseline);
        free(entries[i].cpuid_featureset);
    }
    free(entries);
}

/* A growing array of entries. */
struct entry_list {
    struct domain_record_entry *entries;
    unsigned int count, size;
};

/* Append e (its strings move into the list); an entry with neither key is dropped. */
static int append_entry(struct entry_list *list, struct domain_record_entry *e)
{
    if (!e->cpuid_baseline && !e->cpuid_featureset)
        return 0;
    if (list->count == list->size) {
        unsigned int size = list->size ? list->size * 2 : 16;
        struct domain_record_entry *grown = realloc(list->entries, size * sizeof(*grown));

        if (!grown) {
            free(e->cpuid_baseline);
            free(e->cpuid_featureset);
            return mig_error_set(MIG_ENOMEM, "out of memory listing domain records");
        }
        list->entries = grown;
        list->size = size;
    }
    list->entries[list->count++] = *e;
    return 0;
}

/* The running domains of xenstore with a record. */
static int list_running(struct xs_handle *xs, struct entry_list *list)
{
    unsigned int count = 0;
    char **ids = xs_directory(xs, XBT_NULL, "/local/domain", &count);
    int rc = 0;

    for (unsigned int i = 0; ids && i < count && !rc; i++) {
        struct domain_record_entry e = { .uuid = "" };
        char path[64], *name, *end;
        unsigned int length;
        long domid = strtol(ids[i], &end, 10);

        if (*end || domid < 0)
            continue;
        snprintf(path, sizeof(path), "/local/domain/%ld/name", domid);
        name = xs_read(xs, XBT_NULL, path, &length);
        snprintf(e.name, sizeof(e.name), "%s", name ? name : ids[i]);
        free(name);
        if (!domain_uuid(xs, domid, e.uuid))
            e.uuid[0] = '\0';
        e.cpuid_baseline = domain_record_read(xs, domid, "cpuid_baseline");
        e.cpuid_featureset = domain_record_read(xs, domid, "cpuid_featureset");
        rc = append_entry(list, &e);
    }
    free(ids);
    return rc;
}

/* Whether a running domain of the list has this UUID. */
static bool uuid_listed(const struct entry_list *list, const char *uuid)
{
    for (unsigned int i = 0; i < list->count; i++)
        if (!strcmp(list->entries[i].uuid, uuid))
            return true;
    return false;
}

/* DIR/domain-UUID/KEY, NULL when absent or unreadable (as domain_record_read). */
static char *read_record_file(const char *dir, const char *uuid, const char *key)
{
    char file[4096], *value = NULL;
    size_t length;

    snprintf(file, sizeof(file), "%s/domain-%s/%s", dir, uuid, key);
    if (cpuid_read_text_file(file, "domain record", MAX_RECORD, CPUID_READ_REFUSE_NUL, &value,
                             &length))
        return NULL;
    while (length && (value[length - 1] == '\n' || value[length - 1] == ' '))
        value[--length] = '\0';            /* a record written by hand */
    return value;
}

/* The file records of dir whose UUID is not running. */
static int list_files(const char *dir, bool given, struct entry_list *list)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int rc = 0;

    if (!d)
        return given || errno != ENOENT ?
               mig_error_set_errno(MIG_EIO, errno, "cannot read the domain records in '%s'", dir)
               : 0;
    while (!rc && (de = readdir(d))) {
        const char *uuid = de->d_name + 7;
        struct domain_record_entry e;

        if (strncmp(de->d_name, "domain-", 7) || strlen(uuid) != 36 ||
            strspn(uuid, "0123456789abcdefABCDEF-") != 36 || uuid_listed(list, uuid))
            continue;
        memset(&e, 0, sizeof(e));
        snprintf(e.name, sizeof(e.name), "domain-%s", uuid);
        memcpy(e.uuid, uuid, 37);
        e.cpuid_baseline = read_record_file(dir, uuid, "cpuid_baseline");
        e.cpuid_featureset = read_record_file(dir, uuid, "cpuid_featureset");
        rc = append_entry(list, &e);
    }
    closedir(d);
    return rc;
}

int domain_record_list(struct xs_handle *xs, const char *dir,
                       struct domain_record_entry **entries_out, unsigned int *count_out)
{
    struct entry_list list = { NULL, 0, 0 };
    int rc = xs ? list_running(xs, &list) : 0;

    if (!rc)
        rc = list_files(dir ? dir : domain_record_state_dir(), dir != NULL, &list);
    if (rc) {
        domain_record_entries_free(list.entries, list.count);
        return rc;
    }
    *entries_out = list.entries;
    *count_out = list.count;
    return 0;
}
