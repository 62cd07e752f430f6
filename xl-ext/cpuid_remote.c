/*
 * cpuid_remote.c: host descriptions collected from other hosts through
 * ssh or the -s command, several at once (cpuid_remote.h).
 *
 * One poll loop watches every running host's stdout, stderr and exit (a
 * pidfd where the kernel has them); a host past its deadline has its whole
 * process group killed, so nothing it started is left behind.  This file
 * must never wait for a host beyond its time limit, never trust the size
 * of what a host sends, and never print.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpuid_remote.h"
#include "mig_clock.h"
#include "mig_error.h"
#include "migrate_common.h"

/* Without a pidfd, how often an exit is looked for once the output ended. */
#define EXIT_POLL_MS 20

/* One host being collected. */
struct job {
    struct cpuid_remote_host *result;
    pid_t pid;                  /* -1: not running */
    int in_fd, out_fd, err_fd, pid_fd;
    int64_t deadline_ms;
    char *out;                  /* stdout so far */
    size_t out_len, out_size;
    char err[1024];             /* the last bytes of stderr */
    size_t err_len;
    bool too_big;
    bool exited;                /* reaped (its output may still be held by what it started) */
    int status;                 /* its wait status once exited */
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Start `sh -c command` for job j in its own process group: 0, or -1 with the reason set. */
static int job_start(struct job *j, const char *command, unsigned int timeout_s)
{
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };

    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
        goto fail;
    j->pid = fork();
    if (j->pid < 0)
        goto fail;
    if (j->pid == 0) {
        setpgid(0, 0);
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        _exit(127);
    }
    setpgid(j->pid, j->pid);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    j->in_fd = in[1];
    j->out_fd = out[0];
    j->err_fd = err[0];
#ifdef SYS_pidfd_open
    j->pid_fd = (int)syscall(SYS_pidfd_open, j->pid, 0);
#endif
    j->deadline_ms = mig_clock_ms() + (int64_t)timeout_s * 1000;
    return 0;
fail:
    snprintf(j->result->reason, sizeof(j->result->reason), "cannot start '%s': %s", command,
             strerror(errno));
    for (int i = 0; i < 2; i++) {
        close_fd(&in[i]);
        close_fd(&out[i]);
        close_fd(&err[i]);
    }
    j->pid = -1;
    return -1;
}

/* Read what fd has for job j (stdout or stderr); EOF closes it. */
static void job_read(struct job *j, int *fd)
{
    char buf[16384];
    ssize_t n = read(*fd, buf, sizeof(buf));

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        close_fd(fd);
        return;
    }
    if (fd == &j->err_fd) {
        size_t keep = (size_t)n < sizeof(j->err) ? (size_t)n : sizeof(j->err);

        if (j->err_len + keep > sizeof(j->err)) {
            size_t drop = j->err_len + keep - sizeof(j->err);

            memmove(j->err, j->err + drop, j->err_len - drop);
            j->err_len -= drop;
        }
        memcpy(j->err + j->err_len, buf + n - keep, keep);
        j->err_len += keep;
        return;
    }
    if (j->too_big || j->out_len + (size_t)n > CPUID_REMOTE_OUTPUT_MAX) {
        j->too_big = true;
        return;
    }
    if (j->out_len + (size_t)n + 1 > j->out_size) {
        size_t size = (j->out_len + (size_t)n + 1) * 2;
        char *grown = realloc(j->out, size);

        if (!grown) {
            j->too_big = true;
            return;
        }
        j->out = grown;
        j->out_size = size;
    }
    memcpy(j->out + j->out_len, buf, (size_t)n);
    j->out_len += (size_t)n;
}

/* The last non-empty line of job j's stderr, into buf (empty when it said nothing). */
static void last_error_line(const struct job *j, char *buf, size_t size)
{
    size_t end = j->err_len, start;

    while (end && (j->err[end - 1] == '\n' || j->err[end - 1] == '\r' || j->err[end - 1] == ' '))
        end--;
    start = end;
    while (start && j->err[start - 1] != '\n')
        start--;
    snprintf(buf, size, "%.*s", (int)(end - start), j->err + start);
}

/* Job j's process ended with status (or was killed at its deadline): its host or reason. */
static void job_finish(struct job *j, int status, bool timed_out, unsigned int timeout_s)
{
    struct cpuid_remote_host *r = j->result;
    char said[400], origin[300];

    last_error_line(j, said, sizeof(said));
    if (timed_out)
        snprintf(r->reason, sizeof(r->reason), "no answer within %u s (killed)%s%s", timeout_s,
                 said[0] ? ": " : "", said);
    else if (WIFSIGNALED(status))
        snprintf(r->reason, sizeof(r->reason), "killed by signal %d%s%s", WTERMSIG(status),
                 said[0] ? ": " : "", said);
    else if (WEXITSTATUS(status))
        snprintf(r->reason, sizeof(r->reason), "exit status %d%s%s", WEXITSTATUS(status),
                 said[0] ? ": " : "", said);
    else if (j->too_big)
        snprintf(r->reason, sizeof(r->reason), "sent more than %u bytes: not a host description",
                 CPUID_REMOTE_OUTPUT_MAX);
    else {
        snprintf(origin, sizeof(origin), "%.200s (remote host-dump)", r->target);
        if (cpuid_host_parse(j->out ? j->out : "", j->out_len, origin, &r->host))
            snprintf(r->reason, sizeof(r->reason), "not a host description: %s",
                     mig_error_last());
    }
    free(j->out);
    j->out = NULL;
    close_fd(&j->in_fd);
    close_fd(&j->out_fd);
    close_fd(&j->err_fd);
    close_fd(&j->pid_fd);
    j->pid = -1;
}

/*
 * After poll: read job j's output (out, err) and notice its exit (pid: its
 * pidfd); end it once it exited and its output ended, or its deadline
 * passed.  Returns true when the job is over.
 */
static bool job_step(struct job *j, const struct pollfd *out, const struct pollfd *err,
                     const struct pollfd *pid, unsigned int timeout_s)
{
    bool output_ended;

    if (out->revents)
        job_read(j, &j->out_fd);
    if (err->revents)
        job_read(j, &j->err_fd);
    output_ended = j->out_fd < 0 && j->err_fd < 0;
    if (!j->exited && (pid->revents || output_ended) &&
        waitpid(j->pid, &j->status, WNOHANG) == j->pid) {
        j->exited = true;
        close_fd(&j->pid_fd);
    }
    if (output_ended) {
        close_fd(&j->in_fd);    /* the output ended: the host may go */
        if (j->exited) {
            job_finish(j, j->status, false, timeout_s);
            return true;
        }
    }
    if (mig_clock_ms() >= j->deadline_ms) {
        kill(-j->pid, SIGKILL);         /* its process group: what it started too */
        while (!j->exited && waitpid(j->pid, &j->status, 0) < 0 && errno == EINTR)
            ;
        job_finish(j, j->status, true, timeout_s);
        return true;
    }
    return false;
}

/* The poll set of the running jobs (three entries each) and its timeout in ms. */
static int poll_set(struct job *jobs, unsigned int n, struct pollfd *fds)
{
    int64_t now = mig_clock_ms(), wait = -1;

    for (unsigned int i = 0; i < n; i++) {
        struct job *j = &jobs[i];
        int64_t left = j->deadline_ms - now;

        fds[3 * i] = (struct pollfd){ .fd = j->pid >= 0 ? j->out_fd : -1, .events = POLLIN };
        fds[3 * i + 1] = (struct pollfd){ .fd = j->pid >= 0 ? j->err_fd : -1, .events = POLLIN };
        fds[3 * i + 2] = (struct pollfd){ .fd = j->pid >= 0 ? j->pid_fd : -1, .events = POLLIN };
        if (j->pid < 0)
            continue;
        if (j->out_fd < 0 && j->err_fd < 0 && j->pid_fd < 0 && !j->exited && left > EXIT_POLL_MS)
            left = EXIT_POLL_MS;
        if (wait < 0 || left < wait)
            wait = left < 0 ? 0 : left;
    }
    return (int)(wait > 60000 ? 60000 : wait);
}

unsigned int cpuid_remote_collect(const char *const *targets, unsigned int n,
                                  const char *ssh_command, unsigned int timeout_s,
                                  struct cpuid_remote_host *results)
{
    struct job *jobs = calloc(n ? n : 1, sizeof(*jobs));
    struct pollfd *fds = calloc(n ? 3 * (size_t)n : 1, sizeof(*fds));
    unsigned int next = 0, running = 0, collected = 0;

    for (unsigned int i = 0; i < n; i++) {
        memset(&results[i], 0, sizeof(results[i]));
        results[i].target = targets[i];
    }
    if (!jobs || !fds) {
        for (unsigned int i = 0; i < n; i++)
            snprintf(results[i].reason, sizeof(results[i].reason), "out of memory");
        n = 0;
    }
    for (unsigned int i = 0; i < n; i++)
        jobs[i] = (struct job){ .result = &results[i], .pid = -1, .in_fd = -1, .out_fd = -1,
                                .err_fd = -1, .pid_fd = -1 };
    while (next < n || running) {
        for (; running < CPUID_REMOTE_PARALLEL && next < n; next++) {
            char *command = migrate_peer_command(ssh_command, targets[next],
                                                 CPUID_REMOTE_COMMAND);

            if (!command)
                snprintf(results[next].reason, sizeof(results[next].reason), "out of memory");
            else if (!job_start(&jobs[next], command, timeout_s))
                running++;
            free(command);
        }
        if (!running)
            continue;
        /* a failed poll only makes this a pass without events: the deadlines still hold */
        (void)poll(fds, 3 * (nfds_t)n, poll_set(jobs, n, fds));
        for (unsigned int i = 0; i < n; i++)
            if (jobs[i].pid >= 0 && job_step(&jobs[i], &fds[3 * i], &fds[3 * i + 1],
                                             &fds[3 * i + 2], timeout_s))
                running--;
    }
    for (unsigned int i = 0; i < n; i++)
        collected += results[i].host != NULL;
    free(jobs);
    free(fds);
    return collected;
}

void cpuid_remote_hosts_free(struct cpuid_remote_host *results, unsigned int n)
{
    for (unsigned int i = 0; results && i < n; i++) {
        cpuid_host_free(results[i].host);
        results[i].host = NULL;
    }
}
