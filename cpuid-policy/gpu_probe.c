/*
 * gpu_probe.c: collect the raw GPU facts of this host, each source (NVML:
 * gpu_probe_nvml.c, EGL/OpenGL: gpu_probe_gl.c) in a child process with a
 * time limit by default, so that a crashing or hanging driver cannot take
 * the caller down.
 *
 * This file only runs the sources and carries their facts back; deriving
 * levels from them is gpu_level.c's job.  It must never trust the child's
 * bytes beyond the struct's size (strings are terminated again) and never
 * wait for a child longer than the time limit.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"
#include "mig_error.h"

#define PROBE_DEFAULT_TIMEOUT_MS 20000

/* ----------------------------------------------------- child isolation */

enum probe_source { PROBE_NVML, PROBE_GL };

static void collect_source(enum probe_source source,
                           const struct cpuid_gpu_probe_options *options,
                           struct cpuid_gpu_facts *facts)
{
    if (source == PROBE_NVML)
        cpuid_gpu_probe_nvml(options, facts);
    else
        cpuid_gpu_probe_gl(options, facts);
}

static long elapsed_ms(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000L + (now.tv_nsec - start->tv_nsec) / 1000000L;
}

static void source_failed(enum probe_source source, struct cpuid_gpu_facts *facts, const char *why)
{
    if (source == PROBE_NVML) {
        facts->nvml_status = CPUID_GPU_SOURCE_ERROR;
        snprintf(facts->nvml_reason, sizeof(facts->nvml_reason), "NVML probe %s", why);
    } else {
        facts->gl_status = CPUID_GPU_SOURCE_ERROR;
        snprintf(facts->gl_reason, sizeof(facts->gl_reason), "EGL probe %s", why);
    }
}

/*
 * In the child: probe one source and write a whole struct cpuid_gpu_facts
 * to the pipe, then _exit (no atexit handlers: a driver's global state is
 * not torn down in a process that keeps running).  Never returns.
 */
static void __attribute__((noreturn))
child_probe(enum probe_source source, const struct cpuid_gpu_probe_options *options,
            const struct cpuid_gpu_facts *facts, struct cpuid_gpu_facts *result,
            const int fds[2])
{
    const unsigned char *p = (const unsigned char *)result;
    size_t left = sizeof(*result);
    int devnull = open("/dev/null", O_WRONLY);

    /* drivers chatter on stderr ("libEGL warning: ..."): not our output */
    if (devnull >= 0 && !getenv("XENMIG_GPU_PROBE_DEBUG"))
        dup2(devnull, STDERR_FILENO);
    close(fds[0]);
    *result = *facts;
    collect_source(source, options, result);
    while (left) {
        ssize_t n = write(fds[1], p, left);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        p += n;
        left -= (size_t)n;
    }
    /* freed so that memory checkers see no leak in the child either */
    free(result);
    _exit(left ? 1 : 0);
}

/* Read the child's struct from fd until it is whole or timeout_ms after *start; the bytes read. */
static size_t read_result(int fd, struct cpuid_gpu_facts *result, unsigned int timeout_ms,
                          const struct timespec *start)
{
    size_t got = 0;

    while (got < sizeof(*result)) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        long left_ms = (long)timeout_ms - elapsed_ms(start);
        ssize_t n;

        if (left_ms <= 0)
            break;
        n = poll(&pfd, 1, (int)left_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        n = read(fd, (unsigned char *)result + got, sizeof(*result) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

/* Kill the child first if it ran out of time, then reap it: its wait status. */
static int reap_child(pid_t pid, bool out_of_time)
{
    int status = 0;

    if (out_of_time)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            status = 0;     /* SIGCHLD ignored by the caller: no status to read */
            break;
        }
    }
    return status;
}

/* The child's facts of `source` (its whole struct arrived) into facts. */
static void take_source(enum probe_source source, const struct cpuid_gpu_facts *result,
                        struct cpuid_gpu_facts *facts)
{
    if (source == PROBE_NVML) {
        facts->nvml_status = result->nvml_status;
        memcpy(facts->nvml_reason, result->nvml_reason, sizeof(facts->nvml_reason));
        memcpy(facts->driver_version, result->driver_version, sizeof(facts->driver_version));
        facts->device_count = result->device_count;
        facts->devices_recorded = result->devices_recorded;
        memcpy(facts->devices, result->devices, sizeof(facts->devices));
    } else {
        facts->gl_status = result->gl_status;
        memcpy(facts->gl_reason, result->gl_reason, sizeof(facts->gl_reason));
        memcpy(facts->gl_version, result->gl_version, sizeof(facts->gl_version));
        memcpy(facts->gl_renderer, result->gl_renderer, sizeof(facts->gl_renderer));
        memcpy(facts->gl_vendor, result->gl_vendor, sizeof(facts->gl_vendor));
        memcpy(facts->gl_extensions, result->gl_extensions, sizeof(facts->gl_extensions));
    }
}

/* Why the child of `source` reported nothing (wait status, time spent) into facts. */
static void child_failed(enum probe_source source, int status, bool out_of_time,
                         unsigned int timeout_ms, struct cpuid_gpu_facts *facts)
{
    char why[128];

    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && out_of_time)
        snprintf(why, sizeof(why), "timed out after %u ms (driver hung?)", timeout_ms);
    else if (WIFSIGNALED(status))
        snprintf(why, sizeof(why), "process died of signal %d (driver crashed?)", WTERMSIG(status));
    else
        snprintf(why, sizeof(why), "process exited with status %d before reporting",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    source_failed(source, facts, why);
}

/* A child's facts are data from another process: keep strings terminated. */
static void terminate_strings(struct cpuid_gpu_facts *facts)
{
    facts->nvml_reason[sizeof(facts->nvml_reason) - 1] = '\0';
    facts->driver_version[sizeof(facts->driver_version) - 1] = '\0';
    if (facts->devices_recorded > CPUID_GPU_PROBE_MAX_DEVICES)
        facts->devices_recorded = CPUID_GPU_PROBE_MAX_DEVICES;
    for (unsigned int i = 0; i < CPUID_GPU_PROBE_MAX_DEVICES; i++)
        facts->devices[i].name[sizeof(facts->devices[i].name) - 1] = '\0';
    facts->gl_reason[sizeof(facts->gl_reason) - 1] = '\0';
    facts->gl_version[sizeof(facts->gl_version) - 1] = '\0';
    facts->gl_renderer[sizeof(facts->gl_renderer) - 1] = '\0';
    facts->gl_vendor[sizeof(facts->gl_vendor) - 1] = '\0';
    facts->gl_extensions[sizeof(facts->gl_extensions) - 1] = '\0';
}

/* Probe one source in a child process (child_probe) with a time limit. */
static int collect_in_child(enum probe_source source,
                            const struct cpuid_gpu_probe_options *options,
                            unsigned int timeout_ms, struct cpuid_gpu_facts *facts)
{
    struct cpuid_gpu_facts *result = NULL;
    struct timespec start;
    size_t got;
    int fds[2] = { -1, -1 }, status, rc;
    pid_t pid;

    result = malloc(sizeof(*result));
    if (!result) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory for the GPU probe");
        goto out;
    }
    if (pipe2(fds, O_CLOEXEC)) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot create a pipe for the GPU probe");
        goto out;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        rc = mig_error_set_errno(MIG_EIO, errno, "cannot fork the GPU probe");
        goto out;
    }
    if (pid == 0)
        child_probe(source, options, facts, result, fds);

    close(fds[1]);
    fds[1] = -1;
    clock_gettime(CLOCK_MONOTONIC, &start);
    got = read_result(fds[0], result, timeout_ms, &start);
    status = reap_child(pid, got < sizeof(*result) && elapsed_ms(&start) >= (long)timeout_ms);
    if (got == sizeof(*result))
        take_source(source, result, facts);
    else
        child_failed(source, status, elapsed_ms(&start) >= (long)timeout_ms, timeout_ms, facts);
    terminate_strings(facts);
    rc = 0;

out:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    free(result);
    return rc;
}

int cpuid_gpu_probe_collect(const struct cpuid_gpu_probe_options *options,
                            struct cpuid_gpu_facts *facts_out)
{
    static const struct cpuid_gpu_probe_options defaults = CPUID_GPU_PROBE_OPTIONS_INIT;
    unsigned int timeout_ms;
    int rc;

    cpuid_gpu_facts_init(facts_out);
    if (!options)
        options = &defaults;
    if (options->version != CPUID_GPU_PROBE_OPTIONS_VERSION)
        return mig_error_set(MIG_EINVAL, "struct cpuid_gpu_probe_options version %u, expected %u: "
                             "initialise it with CPUID_GPU_PROBE_OPTIONS_INIT",
                             options->version, CPUID_GPU_PROBE_OPTIONS_VERSION);
    timeout_ms = options->timeout_ms ? options->timeout_ms : PROBE_DEFAULT_TIMEOUT_MS;

    if (options->skip_nvml) {
        snprintf(facts_out->nvml_reason, sizeof(facts_out->nvml_reason), "not probed (skipped)");
    } else if (options->in_process) {
        cpuid_gpu_probe_nvml(options, facts_out);
    } else {
        rc = collect_in_child(PROBE_NVML, options, timeout_ms, facts_out);
        if (rc)
            return rc;
    }
    if (options->skip_gl) {
        snprintf(facts_out->gl_reason, sizeof(facts_out->gl_reason), "not probed (skipped)");
    } else if (options->in_process) {
        cpuid_gpu_probe_gl(options, facts_out);
    } else {
        rc = collect_in_child(PROBE_GL, options, timeout_ms, facts_out);
        if (rc)
            return rc;
    }
    return 0;
}
