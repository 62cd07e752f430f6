/*
 * file.c: a file replaced only whole (util/file.h).
 *
 * This file must never open the target itself when it is a regular file or
 * missing, nor follow a symlink to create or truncate anything.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mig_error.h"
#include "util/file.h"

/*
 * Write in place: the target exists and is a device or a pipe (also behind
 * a symlink such as /dev/stdout): there is nothing to replace.  A regular
 * file, a missing one, and a symlink to a regular file are replaced.
 */
static bool in_place(const char *path)
{
    struct stat st;

    if (lstat(path, &st) || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
        return false;
    if (S_ISLNK(st.st_mode))
        return !stat(path, &st) && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
    return true;
}

/* "DIR/.NAME.XXXXXX" beside path, malloc'ed; NULL when out of memory. */
static char *tmp_template(const char *path)
{
    char *copy_dir = strdup(path), *copy_base = strdup(path), *tmp = NULL;

    if (copy_dir && copy_base &&
        asprintf(&tmp, "%s/.%s.XXXXXX", dirname(copy_dir), basename(copy_base)) < 0)
        tmp = NULL;
    free(copy_dir);
    free(copy_base);
    return tmp;
}

int mig_whole_file_open(struct mig_whole_file *f, const char *path, mode_t mode,
                        const char *what)
{
    int rc;

    f->fd = -1;
    f->tmp = NULL;
    f->path = strdup(path);
    if (!f->path)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    if (in_place(path)) {
        f->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (f->fd >= 0)
            return 0;
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot open %s '%s'", what, path);
        goto fail;
    }
    f->tmp = tmp_template(path);
    if (!f->tmp) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory");
        goto fail;
    }
    f->fd = mkostemp(f->tmp, O_CLOEXEC);        /* O_CREAT | O_EXCL, mode 0600 */
    if (f->fd < 0) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot create %s '%s' (a temporary "
                                 "file in its directory)", what, path);
        goto fail;
    }
    if (fchmod(f->fd, mode)) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot create %s '%s'", what, path);
        goto fail;
    }
    return 0;
fail:
    mig_whole_file_discard(f);
    return rc;
}

/* Flush the directory that holds path, so that the rename survives a crash. */
static int sync_dir(const char *path)
{
    char *copy = strdup(path);
    int fd, rc = 0;

    if (!copy)
        return mig_error_set(MIG_ENOMEM, "out of memory");
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || (fsync(fd) && errno != EINVAL))
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot flush the directory of '%s'",
                                 path);
    if (fd >= 0)
        close(fd);
    free(copy);
    return rc;
}

int mig_whole_file_commit(struct mig_whole_file *f, const char *what)
{
    int rc = 0;

    if (fsync(f->fd) && errno != EINVAL && errno != EROFS)
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot flush %s '%s'", what, f->path);
    if (close(f->fd) && !rc)
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot close %s '%s'", what, f->path);
    f->fd = -1;
    if (!rc && f->tmp && rename(f->tmp, f->path))
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot put %s in place as '%s'",
                                 what, f->path);
    if (!rc && f->tmp) {
        free(f->tmp);
        f->tmp = NULL;              /* it is the target now */
        rc = sync_dir(f->path);
    }
    mig_whole_file_discard(f);
    return rc;
}

void mig_whole_file_discard(struct mig_whole_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->tmp)
        unlink(f->tmp);
    free(f->tmp);
    f->tmp = NULL;
    free(f->path);
    f->path = NULL;
}
