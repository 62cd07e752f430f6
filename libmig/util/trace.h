/*
 * trace.h: with XENMIG_TRACE set in the environment, lines "xenmig-trace
 * SIDE SECONDS.MS WHAT" on stderr (CLOCK_REALTIME, so both ends of a local
 * migration line up): where the time of a switchover goes, for the lab's
 * traces.  Without it nothing is printed and nothing is formatted.  Any
 * room may trace; thread-safe.  Private to libmig.
 */
#ifndef XENMIG_UTIL_TRACE_H
#define XENMIG_UTIL_TRACE_H

/* One line, WHAT formatted as printf does. */
void mig_trace(const char *side, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* XENMIG_UTIL_TRACE_H */
