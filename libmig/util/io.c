/*
 * io.c: write every byte, and read every byte there is, through EINTR
 * and short transfers (see io.h).
 * Must never retry an error other than EINTR, nor say more about a
 * failure than which write it was and the system's error.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mig_error.h"
#include "util/io.h"

/* One system call over the first vectors of iov; as write(2) returns. */
static ssize_t write_some(int fd, struct iovec *iov, int iovcnt, unsigned int flags)
{
    int n = iovcnt < IOV_MAX ? iovcnt : IOV_MAX;

    if (flags & MIG_IO_SOCKET) {
        struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };

        return sendmsg(fd, &msg, MSG_NOSIGNAL);
    }
    if (n == 1)
        return write(fd, iov->iov_base, iov->iov_len);
    return writev(fd, iov, n);
}

/* Write every byte of iov[0..iovcnt-1]; 0, or the errno of the failed call. */
static int write_iov(int fd, struct iovec *iov, int iovcnt, unsigned int flags)
{
    for (;;) {
        ssize_t n;

        while (iovcnt > 0 && !iov->iov_len) {
            iov++;
            iovcnt--;
        }
        if (iovcnt <= 0)
            return 0;
        n = write_some(fd, iov, iovcnt, flags);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
}

/* write_iov, and on failure MIG_EIO with the message "WHAT: <system error>". */
__attribute__((format(printf, 5, 0)))
static int write_all_v(int fd, struct iovec *iov, int iovcnt, unsigned int flags,
                       const char *what_fmt, va_list ap)
{
    int err = write_iov(fd, iov, iovcnt, flags);
    char what[512];

    if (!err)
        return 0;
    vsnprintf(what, sizeof(what), what_fmt, ap);
    return mig_error_set_errno(MIG_EIO, err, "%s", what);
}

int mig_write_all_iov(int fd, struct iovec *iov, int iovcnt, unsigned int flags,
                      const char *what_fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, what_fmt);
    rc = write_all_v(fd, iov, iovcnt, flags, what_fmt, ap);
    va_end(ap);
    return rc;
}

int mig_write_all(int fd, const void *buf, size_t len, unsigned int flags,
                  const char *what_fmt, ...)
{
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    va_list ap;
    int rc;

    va_start(ap, what_fmt);
    rc = write_all_v(fd, &iov, 1, flags, what_fmt, ap);
    va_end(ap);
    return rc;
}

int mig_pwrite_all(int fd, const void *buf, size_t len, off_t offset,
                   const char *what_fmt, ...)
{
    const uint8_t *p = buf;
    char what[512];
    va_list ap;

    while (len) {
        ssize_t n = pwrite(fd, p, len, offset);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = n < 0 ? errno : ENOSPC;     /* 0 bytes written: no room */

            va_start(ap, what_fmt);
            vsnprintf(what, sizeof(what), what_fmt, ap);
            va_end(ap);
            return mig_error_set_errno(MIG_EIO, err, "%s", what);
        }
        p += n;
        len -= (size_t)n;
        offset += n;
    }
    return 0;
}

ssize_t mig_pread_full(int fd, void *buf, size_t len, off_t offset)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + got, len - got, offset + (off_t)got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (!n)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}
