/*
 * cluster_file.c: a cluster file on disk, changed by read-modify-write
 * without losing a concurrent change (cpuid_policy.h, "Cluster files").
 *
 * Reading notes the content hash of what was read (cluster.c).  Writing
 * takes an exclusive flock on PATH.lock, a sidecar beside the file
 * (created when missing and never removed: removing a lock file races with
 * its next user), re-reads PATH and writes only if its content hash is
 * still the one read (compare-and-swap); the file is replaced whole (a
 * temporary file beside it, fsync'ed, renamed over it, the directory
 * fsync'ed: cpuid_write_text_file).  The lock is held only for that
 * compare and write, never while a command collects hosts.  This file must
 * never write a cluster file without holding the lock and comparing, and
 * never print.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"
#include "mig_clock.h"
#include "mig_error.h"

/* How often a writer tries a lock that another holds. */
#define LOCK_POLL_NS 10000000L

int cpuid_cluster_read_file(const char *path, struct cpuid_cluster **out)
{
    char *text;
    size_t len;
    int rc = cpuid_read_text_file(path, "cluster file", CPUID_MAX_FILE_SIZE,
                                  CPUID_READ_REFUSE_NUL, &text, &len);

    if (rc)
        return rc;
    rc = cpuid_cluster_parse(text, len, path, out);
    free(text);
    return rc;
}

/*
 * Open and lock PATH.lock exclusively within wait_ms: 0 with *fd_out (the
 * caller closes it, which unlocks), or MIG_EIO naming the lock file.
 */
static int lock_sidecar(const char *path, unsigned int wait_ms, int *fd_out)
{
    char lock_path[PATH_MAX];
    int64_t deadline = mig_clock_ms() + wait_ms;
    int fd;

    if ((size_t)snprintf(lock_path, sizeof(lock_path), "%s.lock", path) >= sizeof(lock_path))
        return mig_error_set(MIG_ELIMIT, "cluster file path '%.64s...' is too long", path);
    fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return mig_error_set_errno(MIG_EIO, errno, "cannot open the cluster file's lock '%s'",
                                   lock_path);
    while (flock(fd, LOCK_EX | LOCK_NB)) {
        struct timespec pause = { 0, LOCK_POLL_NS };

        if (errno != EWOULDBLOCK && errno != EINTR) {
            int err = errno;

            close(fd);
            return mig_error_set_errno(MIG_EIO, err, "cannot lock '%s'", lock_path);
        }
        if (mig_clock_ms() >= deadline) {
            close(fd);
            return mig_error_set(MIG_EIO, "'%s' has been held by another writer for %u ms (a "
                                 "cluster command still running, or stopped): run the command "
                                 "again when it is done", lock_path, wait_ms);
        }
        nanosleep(&pause, NULL);
    }
    *fd_out = fd;
    return 0;
}

/* The content hash of the file at path now into out: "" when there is none. */
static int current_hash(const char *path, char out[CPUID_CLUSTER_HASH_TEXT])
{
    struct cpuid_cluster *now = NULL;
    int rc;

    if (access(path, F_OK) && errno == ENOENT) {
        out[0] = '\0';
        return 0;
    }
    rc = cpuid_cluster_read_file(path, &now);
    if (rc)
        return cpuid_error_prefix("cannot compare '%s' with what was read before writing it",
                                  path);
    snprintf(out, CPUID_CLUSTER_HASH_TEXT, "%s", cpuid_cluster_read_hash(now));
    cpuid_cluster_free(now);
    return 0;
}

int cpuid_cluster_write_file_within(struct cpuid_cluster *c, const char *path,
                                    unsigned int lock_wait_ms)
{
    char now[CPUID_CLUSTER_HASH_TEXT], written[CPUID_CLUSTER_HASH_TEXT];
    unsigned long long version = cpuid_cluster_version(c);
    char *text = NULL;
    int fd = -1, rc;

    rc = lock_sidecar(path, lock_wait_ms, &fd);
    if (rc)
        return rc;
    rc = current_hash(path, now);
    if (rc)
        goto out;
    if (strcmp(now, cpuid_cluster_read_hash(c))) {
        rc = mig_error_set(MIG_ECORRUPT, "%s changed underneath (hash %s, expected %s); run "
                           "the command again", path, now[0] ? now : "none: it was removed",
                           cpuid_cluster_read_hash(c)[0] ? cpuid_cluster_read_hash(c) :
                           "none: it did not exist");
        goto out;
    }
    cpuid_cluster_set_version(c, version + 1);
    rc = cpuid_cluster_content_hash(c, written);
    if (!rc)
        rc = cpuid_cluster_to_json(c, &text);
    if (!rc)
        rc = cpuid_write_text_file(path, text);
    if (rc) {
        cpuid_cluster_set_version(c, version);
        goto out;
    }
    rc = cpuid_cluster_note_written(c, written);
 out:
    free(text);
    close(fd);
    return rc;
}

int cpuid_cluster_write_file(struct cpuid_cluster *c, const char *path)
{
    return cpuid_cluster_write_file_within(c, path, CPUID_CLUSTER_LOCK_WAIT_MS);
}
