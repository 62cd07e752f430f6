/*
 * migrate_preflight.c: the checks of migrate_preflight.h, run by
 * migrate_run() before the source builds a guest or touches a domain, so
 * that a typo in a host name or a save path costs a second, not a 1 GiB
 * guest built and a round of memory copied.  Must never change anything
 * on either host: it only resolves, connects and closes, asks access(),
 * and creates and removes at once an empty file of its own beside a save
 * FILE (the one way to know a directory takes files: root passes access()
 * on /proc or a read-only bind mount).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "migrate_preflight.h"
#include "switchover_probe.h"
#include "subcommands.h"

#define REACH_TIMEOUT_MAX_MS 10000

/* Can a file be created in dir?  0, or -1 with errno set. */
static int try_create_in(const char *dir)
{
    char probe[4096];
    int fd, n = snprintf(probe, sizeof(probe), "%s/.xl-ext-save-probe-XXXXXX", dir);

    if (n < 0 || (size_t)n >= sizeof(probe)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = mkostemp(probe, O_CLOEXEC);
    if (fd < 0)
        return -1;
    close(fd);
    unlink(probe);
    return 0;
}

/* FILE's directory exists and takes new files (or FILE is written in place). */
static int check_save_path(const char *cmd, const char *path)
{
    struct stat st;
    char *copy = strdup(path), *dir;
    int rc = 0;

    if (!copy)
        return XL_EXT_EXIT_FAILURE;
    if (!stat(path, &st) && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s %s: '%s' is a directory; give the path of the save FILE\n",
                xl_ext_prog, cmd, path);
        rc = XL_EXT_EXIT_USAGE;
    } else if (!stat(path, &st) && !S_ISREG(st.st_mode)) {
        /* a device or a pipe (/dev/full, /dev/stdout) is written in place */
        if (access(path, W_OK)) {
            fprintf(stderr, "%s %s: cannot write '%s': %s; give another FILE\n",
                    xl_ext_prog, cmd, path, strerror(errno));
            rc = XL_EXT_EXIT_FAILURE;
        }
    } else {
        dir = dirname(copy);
        errno = 0;
        if (stat(dir, &st) || !S_ISDIR(st.st_mode) || try_create_in(dir)) {
            fprintf(stderr, "%s %s: cannot create the save file '%s' in '%s': %s; give a "
                    "FILE in a directory you can write\n", xl_ext_prog, cmd, path, dir,
                    errno ? strerror(errno) : "not a directory");
            rc = XL_EXT_EXIT_FAILURE;
        }
    }
    free(copy);
    return rc;
}

/* Is the first word of command (NULL: ssh) ssh itself? */
static bool runs_ssh(const char *command)
{
    const char *start, *end, *base;

    if (!command)
        return true;
    start = command + strspn(command, " \t");
    end = start + strcspn(start, " \t");
    for (base = start; start < end; start++)
        if (*start == '/')
            base = start + 1;
    return end - base == 3 && !strncmp(base, "ssh", 3);
}

/*
 * The name and port ssh connects to for host (`SSH -G HOST`: ssh's
 * config applied, nothing connected); else host without USER@, port 22.
 * Returns false when ssh goes through a proxy (ProxyJump, ProxyCommand):
 * then this machine may not reach the host directly, and only ssh can tell.
 */
static bool ssh_target(const char *ssh, const char *host, char *name, size_t name_size,
                       char *port, size_t port_size)
{
    bool direct = true;
    const char *at = strrchr(host, '@');
    char *command = NULL, line[256];
    FILE *p;

    snprintf(name, name_size, "%s", at ? at + 1 : host);
    snprintf(port, port_size, "22");
    if (asprintf(&command, "exec %s -G %s 2>/dev/null </dev/null", ssh ? ssh : "ssh", host) < 0)
        return true;
    p = popen(command, "r");
    while (p && fgets(line, sizeof(line), p)) {
        line[strcspn(line, "\n")] = '\0';
        if (!strncmp(line, "hostname ", 9))
            snprintf(name, name_size, "%s", line + 9);
        else if (!strncmp(line, "port ", 5))
            snprintf(port, port_size, "%lu", strtoul(line + 5, NULL, 10) & 0xffff);
        else if ((!strncmp(line, "proxyjump ", 10) || !strncmp(line, "proxycommand ", 13)) &&
                 strcmp(strchr(line, ' ') + 1, "none"))
            direct = false;
    }
    if (p)
        pclose(p);
    free(command);
    return direct;
}

/* A TCP connection to ai opens within timeout_ms: 0, or errno. */
static int try_connect(const struct addrinfo *ai, int timeout_ms)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    ai->ai_protocol);
    int err = 0;
    socklen_t len = sizeof(err);

    if (fd < 0)
        return errno;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen)) {
        struct pollfd pfd = { .fd = fd, .events = POLLOUT };

        if (errno != EINPROGRESS)
            err = errno;
        else if (poll(&pfd, 1, timeout_ms) != 1)
            err = ETIMEDOUT;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
            err = errno;
    }
    close(fd);
    return err;
}

/* The destination host answers on the port ssh would use. */
static int check_reach(const char *cmd, const struct migrate_request *req)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *list = NULL;
    char name[256], port[32], addr[NI_MAXHOST] = "?";
    int timeout_ms = req->opts.timeout_ms > 0 && req->opts.timeout_ms < REACH_TIMEOUT_MAX_MS
                     ? req->opts.timeout_ms : REACH_TIMEOUT_MAX_MS;
    int rc, err = ENOENT;

    if (!ssh_target(req->ssh_command, req->host, name, sizeof(name), port, sizeof(port)))
        return 0;       /* through a proxy: ssh itself will tell */
    rc = getaddrinfo(name, port, &hints, &list);
    if (rc) {
        fprintf(stderr, "%s %s: cannot resolve the destination '%s': %s; check the host "
                "name (nothing was started)\n", xl_ext_prog, cmd, name, gai_strerror(rc));
        return XL_EXT_EXIT_FAILURE;
    }
    for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        err = try_connect(ai, timeout_ms);
        getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr), NULL, 0, NI_NUMERICHOST);
        if (!err)
            break;
    }
    freeaddrinfo(list);
    if (err) {
        fprintf(stderr, "%s %s: cannot reach the destination '%s' (%s port %s): %s; check "
                "that it is up and runs sshd (nothing was started)\n", xl_ext_prog, cmd,
                name, addr, port, strerror(err));
        return XL_EXT_EXIT_FAILURE;
    }
    return 0;
}

/* --data-host resolves and, when local, is an address of this machine. */
static int check_data_host(const char *cmd, const char *data_host, bool receiver_local)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE },
                    *list = NULL;
    int rc = getaddrinfo(data_host, "0", &hints, &list), err = EADDRNOTAVAIL;

    if (rc) {
        fprintf(stderr, "%s %s: cannot resolve --data-host '%s': %s; give an address of "
                "the destination\n", xl_ext_prog, cmd, data_host, gai_strerror(rc));
        return XL_EXT_EXIT_USAGE;
    }
    for (struct addrinfo *ai = list; receiver_local && ai && err; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);

        err = fd < 0 ? errno : bind(fd, ai->ai_addr, ai->ai_addrlen) ? errno : 0;
        if (fd >= 0)
            close(fd);
    }
    freeaddrinfo(list);
    if (receiver_local && err) {
        fprintf(stderr, "%s %s: --data-host '%s' is not an address of the destination, "
                "this machine (%s); give one of its addresses, or leave --data-host out\n",
                xl_ext_prog, cmd, data_host, strerror(err));
        return XL_EXT_EXIT_USAGE;
    }
    return 0;
}

int migrate_preflight(const struct migrate_request *req)
{
    const char *cmd = req->save_path ? "save" : "migrate";
    bool command_host = req->ssh_command && !req->ssh_command[0];
    bool local = !command_host && (req->save_path || migrate_host_is_local(req->host));
    double reference_us;
    int rc = 0;

    /* the probe's calibration, read before anything runs (switchover_probe.h) */
    if (!req->save_path && switchover_probe_reference_us("xen-pv", &reference_us)) {
        fprintf(stderr, "%s %s: %s\n", xl_ext_prog, cmd, mig_error_last());
        return XL_EXT_EXIT_USAGE;
    }
    if (!req->use_sim && access("/proc/xen", F_OK)) {
        fprintf(stderr, "%s %s: no Xen here (no /proc/xen): is this a Xen dom0? %s a domain "
                "in a Xen dom0, or a simulated guest with --sim\n", xl_ext_prog, cmd, cmd);
        return XL_EXT_EXIT_NO_XEN;
    }
    if (req->save_path)
        rc = check_save_path(cmd, req->save_path);
    if (!rc && !local && !command_host && runs_ssh(req->ssh_command))
        rc = check_reach(cmd, req);
    if (!rc && req->data_host)
        rc = check_data_host(cmd, req->data_host, local);
    return rc;
}
