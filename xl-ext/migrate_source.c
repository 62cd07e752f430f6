/*
 * migrate_source.c: the one call that runs a parsed `xl-ext migrate` or
 * `xl-ext save --sim` (migrate_source.h): it finds this binary, builds
 * the receiver's command line, says where the data streams connect, and
 * hands over to the simulated or the Xen source.  Knows nothing of the
 * command line's syntax.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate_preflight.h"
#include "migrate_source.h"
#include "subcommands.h"

void migrate_request_init(struct migrate_request *req)
{
    memset(req, 0, sizeof(*req));
    req->opts = (struct mig_migrate_options)MIG_MIGRATE_OPTIONS_INIT;
    req->opts.policy.max_downtime_ms = 300;
    req->sim = (struct mig_sim_options)MIG_SIM_OPTIONS_INIT;
    req->sim.memory_bytes = UINT64_C(1) << 30;
    req->out.out = stdout;
}

/* s quoted for sh inside single quotes (' becomes '\''); malloc'ed, or NULL. */
static char *shell_quote(const char *s)
{
    size_t n = 3;
    char *q, *p;

    for (const char *c = s; *c; c++)
        n += *c == '\'' ? 4 : 1;
    q = p = malloc(n);
    if (!q)
        return NULL;
    *p++ = '\'';
    for (const char *c = s; *c; c++) {
        if (*c == '\'') {
            memcpy(p, "'\\''", 4);
            p += 4;
        } else {
            *p++ = *c;
        }
    }
    *p++ = '\'';
    *p = '\0';
    return q;
}

/* The path of this binary, malloc'ed; NULL with the reason printed. */
static char *self_path(void)
{
    char path[PATH_MAX], *copy;
    ssize_t len = readlink("/proc/self/exe", path, sizeof(path) - 1);

    if (len <= 0) {
        fprintf(stderr, "%s migrate: cannot find my own binary: %s\n", xl_ext_prog,
                strerror(errno));
        return NULL;
    }
    path[len] = '\0';
    copy = strdup(path);
    if (!copy)
        fprintf(stderr, "%s migrate: out of memory\n", xl_ext_prog);
    return copy;
}

/*
 * The shell command that starts the receiver: HOST itself with -s "";
 * this binary (self) for a local HOST; else `SSH HOST xl-ext
 * migrate-receive`; with the backend, the address to accept the data
 * streams on and the receiver's options (--save FILE [--save-format
 * mapped] for save --sim).
 * malloc'ed; NULL when out of memory.
 */
static char *receiver_command(const struct migrate_request *req, const char *self)
{
    bool local = !req->ssh_command && migrate_host_is_local(req->host);
    bool xen = !req->use_sim;
    char *quoted_self = NULL, *quoted_save = NULL, *options = NULL, *command = NULL;
    char *quoted_listen = NULL, *remote = NULL;
    int rc;

    if ((local && !(quoted_self = shell_quote(self))) ||
        (req->save_path && !(quoted_save = shell_quote(req->save_path))) ||
        !(quoted_listen = shell_quote(req->data_host ? req->data_host : local ? "127.0.0.1" : "")))
        goto out;
    if (req->save_path)
        rc = asprintf(&options, " --save %s%s", quoted_save,
                      req->save_format && !strcmp(req->save_format, "mapped")
                      ? " --save-format mapped" : "");
    else
        rc = asprintf(&options, " --timeout %d%s%s%s", req->opts.timeout_ms,
                      xen && req->pause_after ? " -p" : "", xen && req->debug ? " -d" : "",
                      xen && req->no_monitor ? " -e" : "");
    if (rc < 0) {
        options = NULL;
        goto out;
    }
    /* Remote, the receiver listens where ssh came in unless --data-host says. */
    if (local)
        rc = asprintf(&command, "exec %s migrate-receive --%s --data-listen %s%s",
                      quoted_self, xen ? "xen" : "sim", quoted_listen, options);
    else
        rc = asprintf(&remote, "xl-ext migrate-receive --%s%s%s%s", xen ? "xen" : "sim",
                      req->data_host ? " --data-listen " : "",
                      req->data_host ? quoted_listen : "", options);
    if (rc < 0) {
        command = remote = NULL;
        goto out;
    }
    if (!local)
        command = migrate_peer_command(req->ssh_command, req->host, remote);
out:
    free(remote);
    free(quoted_self);
    free(quoted_save);
    free(quoted_listen);
    free(options);
    return command;
}

static int signal_pipe[2] = { -1, -1 };
static volatile sig_atomic_t caught_signal;

static void on_signal(int sig)
{
    int saved = errno;

    caught_signal = sig;
    (void)!write(signal_pipe[1], "x", 1);
    errno = saved;
}

/*
 * SIGINT, SIGTERM and SIGHUP cancel the migration instead of killing this
 * process: before "go" the guest then resumes at the source as after any
 * failure; after it the engine finishes the hand-over.  Returns the fd the
 * engine watches (opts.cancel_fd), or -1 (then the signals keep their
 * default action).
 */
static int catch_signals(void)
{
    struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
    static const int signals[] = { SIGINT, SIGTERM, SIGHUP };

    if (signal_pipe[0] < 0 && pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK))
        return -1;
    sigemptyset(&sa.sa_mask);
    for (unsigned int i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
        sigaction(signals[i], &sa, NULL);
    return signal_pipe[0];
}

int migrate_run(const struct migrate_request *req)
{
    struct migrate_request run = *req;
    bool receiver_local = migrate_host_is_local(req->host) ||
                          (req->ssh_command && !req->ssh_command[0]);
    char *self, *receiver = NULL;
    int rc;

    rc = migrate_preflight(req);     /* before a guest is built or a domain touched */
    if (rc)
        return rc;
    run.out.tty = !run.out.json && isatty(fileno(run.out.out));
    /* the live line within rounds: on a terminal, as pv; never with --json */
    if (!run.out.json && isatty(STDERR_FILENO)) {
        progress_line_init(&run.out.live, stderr);
        run.opts.progress_interval_ms = PROGRESS_LINE_INTERVAL_MS;
    }
    run.opts.data_host = req->data_host ? req->data_host :
                         receiver_local ? "127.0.0.1" : req->host;
    self = self_path();
    if (!self)
        return XL_EXT_EXIT_FAILURE;
    receiver = receiver_command(req, self);
    if (!receiver) {
        rc = XL_EXT_EXIT_FAILURE;
        goto out;
    }
    /* A receiver that hung up is an error, not the end of this process. */
    signal(SIGPIPE, SIG_IGN);
    run.opts.cancel_fd = catch_signals();
    rc = req->use_sim ? migrate_sim_source_run(&run, receiver)
                      : migrate_xen_source_run(&run, receiver);
    if (caught_signal)
        fprintf(stderr, "%s migrate: %s arrived during the migration (exit %d)\n",
                xl_ext_prog, strsignal(caught_signal), rc);
out:
    free(receiver);
    free(self);
    return rc;
}
