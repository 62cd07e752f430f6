/*
 * io.h: writing every byte of a buffer to a file descriptor, the one copy
 * libmig uses (the control channel, the data streams, the Xen
 * destination's pipe to xl, the sim save file), and writing and reading
 * at an offset (the mapped save file, whose threads share one file).
 * Private to libmig: never include it from a public header.
 *
 * These functions must never decide what an error means for the caller:
 * they say which write failed and why, the caller says what it broke.
 */
#ifndef XENMIG_UTIL_IO_H
#define XENMIG_UTIL_IO_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/*
 * fd is a socket: send with MSG_NOSIGNAL, so that a peer that went away is
 * an EPIPE error and never a SIGPIPE.  Without it, write(2)/writev(2).
 */
#define MIG_IO_SOCKET 1u

/*
 * Write all len bytes of buf to fd, retrying short writes and EINTR.
 * flags: 0 or MIG_IO_SOCKET.  Returns 0, or MIG_EIO with the message
 * "WHAT: <the system's error>", WHAT being what_fmt formatted with the
 * arguments that follow (formatted only on failure).
 */
int mig_write_all(int fd, const void *buf, size_t len, unsigned int flags,
                  const char *what_fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * As mig_write_all, for iov[0..iovcnt-1] in order (at most IOV_MAX
 * vectors per system call).  The entries of iov are modified as bytes go
 * out: do not reuse the array.
 */
int mig_write_all_iov(int fd, struct iovec *iov, int iovcnt, unsigned int flags,
                      const char *what_fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Write all len bytes of buf to fd at offset (pwrite(2): the file offset
 * is not used, so threads may write one file at once), retrying short
 * writes and EINTR.  Returns 0, or MIG_EIO with "WHAT: <the system's
 * error>", as mig_write_all.
 */
int mig_pwrite_all(int fd, const void *buf, size_t len, off_t offset,
                   const char *what_fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Read up to len bytes of fd at offset (pread(2)), retrying short reads
 * and EINTR until len bytes came or the file ended.  Returns the bytes
 * read (less than len only at the end of the file), or -1 with errno set.
 * Sets no message: the caller names the file and what it expected.
 */
ssize_t mig_pread_full(int fd, void *buf, size_t len, off_t offset);

#endif /* XENMIG_UTIL_IO_H */
