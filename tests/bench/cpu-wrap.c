/*
 * cpu-wrap.c: run a command on our stdin and stdout, as scripts/bench-peer
 * runs xenmig's receiver, and say what it cost:
 *
 *   cpu-wrap REPORT CMD [ARG...]
 *
 * While CMD runs its pid is in REPORT.pid; when it has ended, REPORT holds
 * {"source_at_start": S, "receiver": R, "wrapper": W}: the CPU seconds
 * our parent (the migration's source) had used when CMD started, CMD's
 * own (every thread, from wait4) and ours.  A program of its own, not the
 * script, so that starting the receiver adds no interpreter start-up to
 * the migration's time (Debian's python3 takes 0.1 s to load the script).
 * Exits with CMD's status, 128 + the signal that ended it, or 127 when it
 * could not be started.  This is a benchmark helper, not a test.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* utime + stime of pid so far, in seconds; -1 when /proc does not say. */
static double proc_cpu(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long long utime, stime;
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* after "pid (comm) ": state is field 3, utime 14, stime 15 */
    p = strrchr(buf, ')');
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                     &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double rusage_cpu(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6 +
           (double)ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
}

/* Write text to path whole: a temporary file renamed over it. */
static int write_whole(const char *path, const char *text)
{
    char tmp[4096];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (!f)
        return -1;
    if (fputs(text, f) == EOF) {
        fclose(f);
        return -1;
    }
    if (fclose(f) || rename(tmp, path))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    char path[4096], text[256];
    struct rusage ru, me;
    double source_at_start;
    int status;
    pid_t pid;

    if (argc < 3) {
        fprintf(stderr, "usage: cpu-wrap REPORT CMD [ARG...]\n");
        return 2;
    }
    source_at_start = proc_cpu(getppid());
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "cpu-wrap: cannot fork: %s\n", strerror(errno));
        return 127;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "cpu-wrap: cannot run '%s': %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    snprintf(path, sizeof(path), "%s.pid", argv[1]);
    snprintf(text, sizeof(text), "%d\n", (int)pid);
    if (write_whole(path, text))
        fprintf(stderr, "cpu-wrap: cannot write '%s': %s\n", path, strerror(errno));
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "cpu-wrap: wait4: %s\n", strerror(errno));
            return 127;
        }
    }
    getrusage(RUSAGE_SELF, &me);
    snprintf(text, sizeof(text), "{\"source_at_start\": %.6f, \"receiver\": %.6f, "
             "\"wrapper\": %.6f}\n", source_at_start, rusage_cpu(&ru), rusage_cpu(&me));
    if (write_whole(argv[1], text))
        fprintf(stderr, "cpu-wrap: cannot write '%s': %s\n", argv[1], strerror(errno));
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
