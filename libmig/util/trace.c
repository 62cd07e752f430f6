/* trace.c: XENMIG_TRACE's lines (trace.h). */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "trace.h"

/* Whether XENMIG_TRACE was set (read once). */
static bool trace_enabled(void)
{
    static atomic_int enabled = -1;
    int on = atomic_load(&enabled);

    if (on < 0) {
        on = getenv("XENMIG_TRACE") != NULL;
        atomic_store(&enabled, on);
    }
    return on;
}

void mig_trace(const char *side, const char *fmt, ...)
{
    struct timespec ts;
    char what[256];
    va_list ap;

    if (!trace_enabled())
        return;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(stderr, "xenmig-trace %s %lld.%03ld %s\n", side,
            (long long)ts.tv_sec % 100000, ts.tv_nsec / 1000000, what);
}
