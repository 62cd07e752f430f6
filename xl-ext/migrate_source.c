/*
 * migrate_source.c: the one call that runs a parsed `xl-ext migrate` or
 * `xl-ext save --sim` (migrate_source.h): it finds this binary, builds
 * the receiver's command line, says where the data streams connect, and
 * hands over to the simulated or the Xen source.  Knows nothing of the
 * command line's syntax.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
 * streams on and the receiver's options (--save FILE for save --sim).
 * malloc'ed; NULL when out of memory.
 */
static char *receiver_command(const struct migrate_request *req, const char *self)
{
    bool local = !req->ssh_command && migrate_host_is_local(req->host);
    bool xen = !req->use_sim;
    char *quoted_self = NULL, *quoted_save = NULL, *options = NULL, *command = NULL;
    int rc;

    if (req->ssh_command && !req->ssh_command[0])
        return strdup(req->host);
    if ((local && !(quoted_self = shell_quote(self))) ||
        (req->save_path && !(quoted_save = shell_quote(req->save_path))))
        goto out;
    if (req->save_path)
        rc = asprintf(&options, " --save %s", quoted_save);
    else
        rc = asprintf(&options, " --timeout %d%s%s%s", req->opts.timeout_ms,
                      xen && req->pause_after ? " -p" : "", xen && req->debug ? " -d" : "",
                      xen && req->no_monitor ? " -e" : "");
    if (rc < 0) {
        options = NULL;
        goto out;
    }
    if (local)
        rc = asprintf(&command, "exec %s migrate-receive --%s --data-listen 127.0.0.1%s",
                      quoted_self, xen ? "xen" : "sim", options);
    else
        rc = asprintf(&command, "exec %s %s xl-ext migrate-receive --%s --data-listen '::'%s",
                      req->ssh_command ? req->ssh_command : "ssh", req->host,
                      xen ? "xen" : "sim", options);
    if (rc < 0)
        command = NULL;
out:
    free(quoted_self);
    free(quoted_save);
    free(options);
    return command;
}

int migrate_run(const struct migrate_request *req)
{
    struct migrate_request run = *req;
    bool receiver_local = migrate_host_is_local(req->host) ||
                          (req->ssh_command && !req->ssh_command[0]);
    char *self, *receiver = NULL;
    int rc;

    run.out.tty = !run.out.json && isatty(fileno(run.out.out));
    run.opts.data_host = !req->use_sim && req->data_host ? req->data_host :
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
    rc = req->use_sim ? migrate_sim_source_run(&run, receiver)
                      : migrate_xen_source_run(&run, receiver);
out:
    free(receiver);
    free(self);
    return rc;
}
