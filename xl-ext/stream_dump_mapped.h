/*
 * stream_dump_mapped.h: `xl-ext stream-dump` of a mapped save file
 * (stream_dump_mapped.c), which cmd_stream_dump.c hands such files to.
 */
#ifndef XENMIG_XL_EXT_STREAM_DUMP_MAPPED_H
#define XENMIG_XL_EXT_STREAM_DUMP_MAPPED_H

#include <stdbool.h>

/*
 * List the mapped save file at path (checked whole first, its pages
 * included): text, or with json one object per line, the last
 * {"totals": ...}; with pages every index entry.  Returns the exit code:
 * 0; 3 for a file cut short, damaged or not of this format (the error on
 * stderr, and with json as a last {"error", "code"} object); 1 when it
 * cannot be read.
 */
int stream_dump_mapped(const char *path, bool json, bool pages);

#endif
