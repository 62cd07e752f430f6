/*
 * migrate_common.h: what `xl-ext migrate` and `xl-ext migrate-receive`
 * share: option values parsed from the command line, the simulated guest
 * options, and progress / summary output (TTY line, JSON events, the
 * final greppable summary).
 */
#ifndef XENMIG_XL_EXT_MIGRATE_COMMON_H
#define XENMIG_XL_EXT_MIGRATE_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "mig_migrate.h"
#include "progress_line.h"

/*
 * Parse a size such as "512M", "1G", "4096" (bytes; K M G T are binary:
 * KiB MiB GiB TiB) into *bytes.  Returns 0, or prints "xl-ext COMMAND:
 * OPTION 'TEXT': give ..." and returns -1.
 */
int xl_ext_parse_size(const char *option, const char *text, uint64_t *bytes);

/* Parse an unsigned integer in [min, max]; same error convention. */
int xl_ext_parse_uint(const char *option, const char *text, unsigned long long min,
                      unsigned long long max, unsigned long long *value);

/* Parse a rate such as "100M" (per second; K M G are decimal: powers of 1000). */
int xl_ext_parse_rate(const char *option, const char *text, uint64_t *bytes_per_s);

/*
 * Run `xl ARGV...` in place of this process (argv[0] is xl's subcommand);
 * returns only if xl cannot be run, with XL_EXT_EXIT_NO_XEN and a message:
 * also, without running anything, on a host without Xen (no /proc/xen)
 * unless $XENMIG_XL names an xl.
 */
int xl_ext_exec_xl(int argc, char **argv);

struct switchover_probe;

/* How progress is shown. */
struct migrate_output {
    FILE *out;          /* progress and summary */
    bool json;          /* one JSON event per line */
    bool tty;           /* out is a terminal: the switchover's line */
    /* pages and bytes sent before the last round (the engine's counts are
     * of all rounds so far; a round's own are the difference) */
    uint64_t pages_before, bytes_before;
    struct progress_line live;  /* within rounds, on stderr when it is a
                                   terminal (progress_line.h); off zeroed */
    /* where the policy's fixed switchover cost (policy.overhead_ms) came
     * from, for the summary (switchover_costs_use): learned from this many
     * migrations; 0 with fixed_cost_seeded: a probe; else the default */
    unsigned int fixed_cost_learned;
    bool fixed_cost_seeded;
    /* the switchover probe this command ran for that fixed cost
     * (switchover_probe_use), borrowed; NULL when it ran none */
    const struct switchover_probe *probe;
};

/* Progress callback for mig_migrate_send (payload: struct migrate_output). */
int migrate_output_progress(const struct mig_progress *p, void *payload);

/*
 * The source's final summary (side "migrate" or "save"): one JSON event
 * with --json, and always one line "xl-ext migrate: result=ok total=...
 * downtime=..." that scripts grep (on stderr with --json: stdout then
 * carries JSON events only, as every text line of this file).
 * A source that reached the switchover (side "migrate", downtime > 0) adds
 * where the downtime went: the line "xl-ext migrate: downtime parts (ms):
 * ..." and the summary event's "downtime_parts_ms" object; and what the
 * policy predicted when it switched over against what the guest saw: the
 * line "xl-ext migrate: predicted downtime N ms (pages M + fixed K ms,
 * learned from C migrations), actual D ms, actual/predicted R" and the
 * event's "predicted_downtime_ms", "predicted_parts_ms", "fixed_cost_from",
 * "fixed_cost_learned_from" and "downtime_ratio".  When this command ran
 * the switchover probe (o->probe), also on a dry run or a failure: the
 * line "xl-ext migrate: switchover probe: median U us of N runs, reference
 * R us, scale S: fixed F ms (pause ... resume ...)" and the event's
 * "switchover_probe" object.
 */
void migrate_output_summary(struct migrate_output *o, const char *side, int rc,
                            const struct mig_migrate_result *r,
                            const struct mig_migrate_options *opts,
                            double stall_total_s, double stall_max_s,
                            const char *error);

/*
 * The destination's summary: what it received and whether the source
 * found its memory digest equal to what it sent (the "go" it waits for):
 * a "summary" event of side "migrate-receive" with --json, and the line
 * "xl-ext migrate-receive: result=ok total=... epochs=... pages=... memory_hash=...
 * digest=matched|unchecked ...".  None of the source's own figures
 * (downtime, stalls, its second hash): the source's summary has them.
 */
void migrate_output_received(struct migrate_output *o, int rc,
                             const struct mig_migrate_result *r, const char *error);

/*
 * The guest's write rate before and during the migration (writes/s), so
 * the cost of dirty tracking is visible: "xl-ext CMD: guest writes
 * before=... during=... ratio=..." (CMD: migrate or save) and a JSON "guest" event.
 */
void migrate_output_guest_rate(struct migrate_output *o, const char *cmd, double before,
                               double during);

/*
 * Start `sh -c rune` with pipes on its stdin and stdout, as xl does: *pid
 * is the child, *to_child / *from_child are owned by the caller.  Prints
 * the reason and returns -1 on failure.
 */
int migrate_spawn_receiver(const char *rune, pid_t *pid, int *to_child, int *from_child);
/*
 * Close both pipes to the receiver (either may be -1) and wait for it, at
 * most 10 s: its exit status (128 + signal if killed), or -1 when there is
 * no child or it did not exit in time (then the wait is given up with a
 * message on stderr, as xl's "no longer waiting"; it is never killed).
 */
int migrate_reap_receiver(int to_child, int from_child, pid_t child);
/*
 * The error of a failed mig_migrate_send as the user reads it: the
 * engine's message (mig_error_last()) plus the command-line advice that
 * rc and *r call for.  Written into buf (size bytes, always terminated).
 */
void migrate_error_text(int rc, const struct mig_migrate_result *r, char *buf, size_t size);
/* The XL_EXT_EXIT_* code of a MIG_E* result (XL_EXT_EXIT_UNKNOWN when result->state_unknown). */
int migrate_exit_code_of(int rc, const struct mig_migrate_result *result);
/* localhost, 127.0.0.1 or ::1 */
bool migrate_host_is_local(const char *host);
/*
 * The shell command that runs `remote` (a command line) on HOST as `xl
 * migrate` reaches its peer, for -s SSHCOMMAND: "exec SSH HOST REMOTE", SSH
 * being ssh_command (NULL: "ssh"); with -s "" (an empty ssh_command) HOST
 * itself, the whole command (e.g. "socat - TCP:peer:8002").  HOST is
 * handed to sh as it is, as xl does.  Used by migrate and by cpuid-policy's
 * --ssh.  malloc'ed (the caller frees); NULL when out of memory.
 */
char *migrate_peer_command(const char *ssh_command, const char *host, const char *remote);

#endif /* XENMIG_XL_EXT_MIGRATE_COMMON_H */
