/*
 * progress_line.c: the live progress line on a terminal (progress_line.h).
 * Called from the engine's reporting thread within a round, one call at a
 * time: it formats one short line and writes it.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>

#include "mig_page.h"
#include "progress_line.h"

#define MIB (1024.0 * 1024.0)
/* no page read for this long: the line says what the round waits for */
#define PROGRESS_LINE_STALL_S 1.0

void progress_line_init(struct progress_line *l, FILE *term)
{
    l->term = term;
    l->open = false;
    l->round = 0;
    l->last_done = 0;
    l->last_move = 0;
}

/* "ETA 0.8 s", "ETA 12 s", "ETA 2 min 05 s", or "ETA --" with no rate yet. */
static void eta_text(double seconds, char *buf, size_t size)
{
    if (seconds < 0 || seconds > 99 * 3600)
        snprintf(buf, size, "ETA --");
    else if (seconds < 10)
        snprintf(buf, size, "ETA %.1f s", seconds);
    else if (seconds < 60)
        snprintf(buf, size, "ETA %.0f s", seconds);
    else
        snprintf(buf, size, "ETA %.0f min %02.0f s", (double)(int)(seconds / 60),
                 (double)((int)seconds % 60));
}

/* The line within a round: percent, size, rate, ETA. */
static void draw(struct progress_line *l, const struct mig_progress *p)
{
    double total = (double)p->round_pages, done = (double)p->round_done;
    double rate = p->round_elapsed > 0 ? done / p->round_elapsed : 0;   /* pages/s */
    char eta[32];

    if (!l->open || l->round != p->round || p->round_done != l->last_done) {
        l->last_done = p->round_done;
        l->last_move = p->round_elapsed;
    }
    eta_text(rate > 0 ? (total - done) / rate : -1, eta, sizeof(eta));
    /* \r, the line, and clear what a longer line left (ESC [ K) */
    if (p->round_sent || p->round_elapsed - l->last_move >= PROGRESS_LINE_STALL_S)
        fprintf(l->term, "\rround %u: %3.0f%% of %.0f MiB queued, waiting %.1f s for the "
                "link and the destination\033[K", p->round, total > 0 ? 100 * done / total : 0,
                total * MIG_PAGE_SIZE / MIB, p->round_elapsed - l->last_move);
    else
        fprintf(l->term, "\rround %u: %3.0f%% of %.0f MiB, %.1f MB/s, %s\033[K", p->round,
                total > 0 ? 100 * done / total : 0, total * MIG_PAGE_SIZE / MIB,
                rate * MIG_PAGE_SIZE / 1e6, eta);
    fflush(l->term);
    l->open = true;
    l->round = p->round;
}

/* A drawn round's end: its totals, and a newline. */
static void finish(struct progress_line *l, const struct mig_progress *p)
{
    double rate = p->round_elapsed > 0 ? p->round_done / p->round_elapsed : 0;

    fprintf(l->term, "\rround %u: 100%% of %.0f MiB in %.1f s, %.1f MB/s\033[K\n", p->round,
            (double)p->round_pages * MIG_PAGE_SIZE / MIB, p->round_elapsed,
            rate * MIG_PAGE_SIZE / 1e6);
    fflush(l->term);
    l->open = false;
}

void progress_line_report(struct progress_line *l, const struct mig_progress *p)
{
    if (!l->term)
        return;
    if (p->in_round)
        draw(l, p);
    else if (p->phase == MIG_PHASE_PRECOPY && l->open && l->round == p->round)
        finish(l, p);
}

void progress_line_close(struct progress_line *l)
{
    if (l->term && l->open)
        fputc('\n', l->term);
    l->open = false;
}
