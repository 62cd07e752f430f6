/*
 * mig_error.h: error codes and the last-error message of libmig.
 *
 * Every libmig function that can fail returns 0 on success or a negative
 * MIG_E* code, and leaves a human-readable message (quoting the offending
 * input, saying what to do) in a thread-local buffer that mig_error_last()
 * returns.  This file must never allocate: it is used on out-of-memory paths.
 */
#ifndef XENMIG_MIG_ERROR_H
#define XENMIG_MIG_ERROR_H

#include <stddef.h>

enum mig_error_code {
    MIG_OK        =  0,
    MIG_EINVAL    = -1,  /* bad argument or bad user input */
    MIG_ENOMEM    = -2,  /* out of memory */
    MIG_EIO       = -3,  /* read/write/socket failure (errno in message) */
    MIG_EFORMAT   = -4,  /* malformed stream, frame or file */
    MIG_ETRUNC    = -5,  /* input ended early */
    MIG_ELIMIT    = -6,  /* a length or count beyond a documented limit */
    MIG_EUNSUPP   = -7,  /* valid but not supported (unknown mandatory record...) */
    MIG_ECANCELLED = -8, /* a progress callback asked to stop */
    MIG_ECOMPAT   = -9,  /* incompatible peer, host or baseline */
    MIG_ECORRUPT  = -10, /* hash or integrity check failed */
    MIG_EABSENT   = -11, /* backend: no memory at this pfn (a hole) */
    MIG_ESTOCK    = -12, /* valid, but the engine does not migrate it: the
                            platform's stock tool does (Xen: xl migrate) */
    MIG_EPLATFORM = -13, /* this host lacks what the backend drives (no Xen
                            here, or no privilege to drive it) */
    MIG_EMISSING  = -14, /* the input needs something the call was not given
                            (a host featureset, a cluster) */
};

/*
 * Record an error: code plus printf-style message for this thread.
 * Returns code, so callers can write `return mig_error_set(MIG_EINVAL, ...)`.
 */
int mig_error_set(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* As mig_error_set(), appending ": strerror(errnoval)". */
int mig_error_set_errno(int code, int errnoval, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The last message recorded on this thread ("" if none).  The string is
 * owned by libmig and valid until the next libmig call on this thread.
 */
const char *mig_error_last(void);

/* The code of the last error recorded on this thread (MIG_OK if none). */
int mig_error_last_code(void);

/* Forget the last error of this thread. */
void mig_error_clear(void);

/* A short constant name for a code ("EFORMAT"); never NULL. */
const char *mig_error_name(int code);

#endif /* XENMIG_MIG_ERROR_H */
