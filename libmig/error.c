/*
 * error.c: thread-local last error of libmig (see mig_error.h).
 * Must never allocate memory.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mig_error.h"

static _Thread_local char last_message[1024];
static _Thread_local int last_code;

/*
 * Copy in to out (size bytes, always terminated) with every control
 * character written as \xNN: a message may quote what a peer or a file
 * sent, and nothing of that may reach a terminal or a log raw.
 */
static void escape_controls(const char *in, char *out, size_t size)
{
    size_t o = 0;

    for (; *in && o + 1 < size; in++) {
        unsigned char c = (unsigned char)*in;

        if (c >= 0x20 && c != 0x7f) {
            out[o++] = (char)c;
        } else if (o + 5 < size) {
            snprintf(out + o, 5, "\\x%02x", c);
            o += 4;
        } else {
            break;
        }
    }
    out[o] = '\0';
}

__attribute__((format(printf, 3, 0)))
/*
 * Formatted into a scratch buffer first: a caller may wrap the previous
 * message (mig_error_set(rc, "context: %s", mig_error_last())), which
 * vsnprintf must not read while it writes the same buffer.
 */
static int error_vset(int code, int errnoval, const char *fmt, va_list ap)
{
    char message[sizeof(last_message)];
    int n = vsnprintf(message, sizeof(message), fmt, ap);

    if (errnoval && n >= 0 && (size_t)n < sizeof(message)) {
        char buf[128];
        const char *s = strerror_r(errnoval, buf, sizeof(buf));

        snprintf(message + n, sizeof(message) - n, ": %s", s);
    }
    escape_controls(message, last_message, sizeof(last_message));
    last_code = code;
    return code;
}

int mig_error_set(int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_vset(code, 0, fmt, ap);
    va_end(ap);
    return code;
}

int mig_error_set_errno(int code, int errnoval, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_vset(code, errnoval, fmt, ap);
    va_end(ap);
    return code;
}

const char *mig_error_last(void)
{
    return last_message;
}

int mig_error_last_code(void)
{
    return last_code;
}

void mig_error_clear(void)
{
    last_message[0] = '\0';
    last_code = MIG_OK;
}

const char *mig_error_name(int code)
{
    switch (code) {
    case MIG_OK:         return "OK";
    case MIG_EINVAL:     return "EINVAL";
    case MIG_ENOMEM:     return "ENOMEM";
    case MIG_EIO:        return "EIO";
    case MIG_EFORMAT:    return "EFORMAT";
    case MIG_ETRUNC:     return "ETRUNC";
    case MIG_ELIMIT:     return "ELIMIT";
    case MIG_EUNSUPP:    return "EUNSUPP";
    case MIG_ECANCELLED: return "ECANCELLED";
    case MIG_ECOMPAT:    return "ECOMPAT";
    case MIG_ECORRUPT:   return "ECORRUPT";
    case MIG_EABSENT:    return "EABSENT";
    case MIG_ESTOCK:     return "ESTOCK";
    case MIG_EPLATFORM:  return "EPLATFORM";
    case MIG_EMISSING:   return "EMISSING";
    }
    return "EUNKNOWN";
}
