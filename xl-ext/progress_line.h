/*
 * progress_line.h: the live line of a migration or save on a terminal:
 * within each pre-copy round, how far it got, redrawn in place, as pv
 * does:
 *
 *   round 0: 43% of 1024 MiB, 182.4 MB/s, ETA 3 s
 *
 * (percent of the round's pages read and queued on the data streams, at
 * the rate they were, zero and unchanged pages included, so the ETA
 * follows), then, once every page was, or none was for a second (the
 * streams are full: the link or the destination is the bottleneck),
 * "round 0: 99% of 1024 MiB queued, waiting 1.8 s for the link and the
 * destination";
 * finished with a newline when the round ends: "round 0: 100% of 1024 MiB
 * in 3.0 s, 355.4 MB/s".  Sizes are binary (MiB), rates decimal (MB/s),
 * as in the round lines.  Drawn on
 * stderr only when stderr is a terminal and not with --json (migrate_run
 * decides); the engine's in-round reports (mig_migrate.h, options version
 * 8, progress_interval_ms) drive it.
 */
#ifndef XENMIG_XL_EXT_PROGRESS_LINE_H
#define XENMIG_XL_EXT_PROGRESS_LINE_H

#include <stdbool.h>
#include <stdio.h>

#include "mig_migrate.h"

/* How often the engine reports within a round when the line is on. */
#define PROGRESS_LINE_INTERVAL_MS 200

struct progress_line {
    FILE *term;             /* the terminal drawn on; NULL: no line (zeroed) */
    bool open;              /* drawn, not yet finished with a newline */
    unsigned int round;     /* the round drawn */
    unsigned long long last_done;   /* its round_done when it last moved */
    double last_move;       /* its round_elapsed then */
};

/* On (term: the terminal, stderr) or off (NULL). */
void progress_line_init(struct progress_line *l, FILE *term);

/*
 * A progress report: one within a round (p->in_round) redraws the line;
 * a round's end (MIG_PHASE_PRECOPY) finishes a line drawn for that round
 * with its totals and a newline (a round too short to be drawn prints
 * nothing).  Other reports, and any with the line off, do nothing.
 */
void progress_line_report(struct progress_line *l, const struct mig_progress *p);

/* End an unfinished line with a newline (before an error or the summary). */
void progress_line_close(struct progress_line *l);

#endif
