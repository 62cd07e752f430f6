/*
 * file.h: a file that is replaced only whole.  It is written as a
 * temporary file of an unpredictable name beside its target (created
 * O_EXCL with the mode asked for, so it follows no symlink and nobody
 * else's file is ever opened), flushed, and renamed over the target only
 * when the caller commits; discarding it leaves the target as it was and
 * no partial file behind.  A target that exists and is a device or a pipe
 * (/dev/null, /dev/full, /dev/stdout) is written in place: there is
 * nothing to replace.  A symlink to a regular file is replaced, never
 * followed.  Used by the sim save file, the Xen destination's --capture,
 * and cpuid-policy's host and cluster files.
 *
 * These functions must never leave a partial file under the target's
 * name, nor unlink anything but their own temporary file.
 */
#ifndef XENMIG_UTIL_FILE_H
#define XENMIG_UTIL_FILE_H

#include <stdbool.h>
#include <sys/types.h>

struct mig_whole_file {
    int fd;             /* write here; -1 when closed */
    char *path;         /* the target (malloc'ed copy) */
    char *tmp;          /* the temporary file, or NULL when written in place */
};

/*
 * Start writing path (mode for a new file: 0600 for anything holding guest
 * memory or keys).  what names the file in errors ("the save file").  On
 * success f is the caller's: end it with mig_whole_file_commit or
 * mig_whole_file_discard.  On failure f holds nothing (fd -1) and the
 * error names path.
 */
int mig_whole_file_open(struct mig_whole_file *f, const char *path, mode_t mode,
                        const char *what);

/*
 * Flush and close the file, then rename it over the target and flush its
 * directory.  Returns 0, or MIG_EIO naming the step; either way f holds
 * nothing afterwards and, on failure, the target is as it was.
 */
int mig_whole_file_commit(struct mig_whole_file *f, const char *what);

/* Close and remove the temporary file; the target stays as it was.  f may
 * hold nothing already (a no-op). */
void mig_whole_file_discard(struct mig_whole_file *f);

#endif
