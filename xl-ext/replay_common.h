/*
 * replay_common.h: what `xl-ext restore` of a xenmig save file
 * (restore_sim.c: a simulated guest; restore_mapped.c: a mapped file of a
 * Xen domain) and `xl-ext convert` (cmd_convert.c) share around libmig's
 * replay (mig_savefile.h): the restore command line, a progress callback
 * that SIGINT, SIGTERM and SIGHUP cancel, the exit codes, and the lines
 * they print.
 */
#ifndef XENMIG_XL_EXT_REPLAY_COMMON_H
#define XENMIG_XL_EXT_REPLAY_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "mig_savefile.h"

/* `xl-ext restore`'s command line; the strings are borrowed (argv). */
struct restore_request {
    const char *file;               /* FILE, the last argument */
    const char *config;             /* CONFIG before it, or NULL */
    const char *host_json;          /* --host-json, else $XENMIG_HOST_JSON, or NULL */
    unsigned int threads;           /* --streams (default 2) */
    bool sim;                       /* --sim */
    bool pause_after, debug, no_monitor;    /* xl restore's -p -d -e */
    char console_or_vnc;            /* the first of xl restore's -c -V -A given, or 0 */
};

#define RESTORE_PARSED (-1)

/*
 * Parse `restore [-F -c -p -d -e -V -A] [--streams N] [--sim] [--host-json
 * FILE] [CONFIG] FILE` into *req: RESTORE_PARSED, or the exit code to end
 * with (0 after -h; XL_EXT_EXIT_USAGE after a usage error, printed).
 */
int restore_request_parse(int argc, char **argv, struct restore_request *req);

/*
 * Options whose progress callback cancels the replay once SIGINT, SIGTERM
 * or SIGHUP arrived (the handlers are installed here; SIGPIPE and SIGXFSZ
 * are ignored: a receiver that died, a file over its size limit, are
 * errors, not the end of this process).
 */
void replay_options_init(struct mig_replay_options *opts);

/*
 * The exit code of a replay that returned rc: 0; 6 cancelled; 4 another
 * family or the pre-flight refused; 3 the file (cut short, damaged, not
 * this format) before anything started; 5 no xl to run (started, Xen);
 * else 1.
 */
int replay_exit_code(int rc, const struct mig_replay_result *result);

/*
 * "xl-ext CMD: cannot CMD 'FILE': <the error>" on stderr (CMD: "restore",
 * "convert"), then "nothing was started", or once the destination was
 * called, undone: what became of its work.
 */
void replay_print_failure(const char *cmd, const char *file, const struct mig_replay_result *r,
                          const char *undone);

/*
 * The summary on stdout, one line for scripts: "xl-ext CMD: result=ok
 * file=FILE format=F family=F pages=N zero=N threads=N verify=S replay=S
 * replay_parts=OPEN/PAGES/STATE/RESUME memory_digest=HEX" (seconds; the
 * parts of replay are mig_replay_result's; digest: the file's or the
 * memory's; extra, when not NULL, appended after a space).
 */
void replay_print_summary(const char *cmd, const char *file, const char *format,
                          const char *family, const struct mig_replay_result *r,
                          uint64_t digest, const char *extra);

/*
 * The family of the mapped file at path (info filled, the whole file but
 * its pages checked): 0, or the exit code with the error printed (3 for a
 * file cut short or damaged: nothing was started).
 */
int replay_mapped_info(const char *cmd, const char *path, struct mig_mapped_info *info);

/*
 * The same, keeping the file open: on success *file_out is the caller's
 * (mig_mapped_file_close), on failure NULL.
 */
int replay_mapped_open(const char *cmd, const char *path, struct mig_mapped_file **file_out,
                       struct mig_mapped_info *info);

/*
 * `xl-ext restore` of xenmig's own save files (restore_savefile.c), argv
 * being restore's: with --sim a simulated guest's file (mapped or
 * sequential); without it a mapped file of a Xen domain.  An XL_EXT_EXIT_*
 * code (3: the file is cut short, damaged or of another kind, and nothing
 * was started).
 */
int restore_sim(int argc, char **argv);
int restore_mapped(int argc, char **argv);

#endif /* XENMIG_XL_EXT_REPLAY_COMMON_H */
