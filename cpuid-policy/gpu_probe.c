/*
 * gpu_probe.c: collect the raw GPU facts of this host (NVML, EGL/OpenGL,
 * both loaded with dlopen) and convert facts to and from JSON.
 *
 * This file only gathers and transports facts; deriving levels from them is
 * gpu_level.c's job.  It must never need a GPU library at build or link
 * time, never trust a driver (each source is probed in a child process with
 * a time limit by default), and never trust JSON it reads back.
 *
 * The few NVML and EGL declarations below are written from the vendors'
 * documented APIs (NVML API reference; EGL 1.5 and EGL_EXT_platform_device,
 * EGL_EXT_device_enumeration, EGL_KHR_surfaceless_context).
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"
#include "mig_error.h"

#define NVML_DEFAULT_LIBRARY "libnvidia-ml.so.1"
#define EGL_DEFAULT_LIBRARY  "libEGL.so.1"
#define PROBE_DEFAULT_TIMEOUT_MS 20000
#define FACTS_JSON_TEXT_MAX  (1024 * 1024)
#define DEVICE_COUNT_MAX     65535

/* ---- NVML, from its API reference ---- */
typedef int nvml_return;                       /* nvmlReturn_t */
typedef struct nvml_device_handle *nvml_device;  /* nvmlDevice_t */
#define NVML_SUCCESS                          0
#define NVML_DEVICE_NAME_V2_BUFFER_SIZE       96
#define NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE 80

struct nvml_api {
    nvml_return (*init)(void);
    nvml_return (*shutdown)(void);
    const char *(*error_string)(nvml_return);
    nvml_return (*device_count)(unsigned int *);
    nvml_return (*device_by_index)(unsigned int, nvml_device *);
    nvml_return (*device_name)(nvml_device, char *, unsigned int);
    nvml_return (*driver_version)(char *, unsigned int);
    nvml_return (*compute_capability)(nvml_device, int *, int *);
};

/* ---- EGL and two GL entry points, from the Khronos specifications ---- */
typedef void *egl_display;
typedef void *egl_config;
typedef void *egl_context;
typedef void *egl_surface;
typedef void *egl_device;
typedef int egl_int;
typedef unsigned int egl_boolean;
#define EGL_NO_HANDLE            ((void *)0)
#define EGL_DEFAULT_DISPLAY      ((void *)0)
#define EGL_NONE                 0x3038
#define EGL_EXTENSIONS           0x3055
#define EGL_SURFACE_TYPE         0x3033
#define EGL_RENDERABLE_TYPE      0x3040
#define EGL_PBUFFER_BIT          0x0001
#define EGL_OPENGL_BIT           0x0008
#define EGL_OPENGL_API           0x30A2
#define EGL_WIDTH                0x3057
#define EGL_HEIGHT               0x3056
#define EGL_PLATFORM_DEVICE_EXT  0x313F
#define GL_VENDOR                0x1F00
#define GL_RENDERER              0x1F01
#define GL_VERSION               0x1F02
#define GL_EXTENSIONS            0x1F03
#define EGL_DEVICES_MAX          8

struct egl_api {
    void *(*get_proc_address)(const char *);
    const char *(*query_string)(egl_display, egl_int);
    egl_display (*get_display)(void *);
    egl_boolean (*initialize)(egl_display, egl_int *, egl_int *);
    egl_boolean (*terminate)(egl_display);
    egl_boolean (*bind_api)(unsigned int);
    egl_boolean (*choose_config)(egl_display, const egl_int *, egl_config *, egl_int, egl_int *);
    egl_context (*create_context)(egl_display, egl_config, egl_context, const egl_int *);
    egl_boolean (*destroy_context)(egl_display, egl_context);
    egl_surface (*create_pbuffer)(egl_display, egl_config, const egl_int *);
    egl_boolean (*destroy_surface)(egl_display, egl_surface);
    egl_boolean (*make_current)(egl_display, egl_surface, egl_surface, egl_context);
    egl_int (*get_error)(void);
    egl_boolean (*query_devices)(egl_int, egl_device *, egl_int *);
    egl_display (*get_platform_display)(unsigned int, void *, const egl_int *);
    const unsigned char *(*gl_get_string)(unsigned int);
};

/* One EGL attempt's outcome, before the best one is chosen. */
struct gl_attempt {
    char version[CPUID_GPU_PROBE_TEXT_MAX];
    char renderer[CPUID_GPU_PROBE_TEXT_MAX];
    char vendor[CPUID_GPU_PROBE_TEXT_MAX];
    char extensions[CPUID_GPU_PROBE_EXTENSIONS_MAX];
};

void cpuid_gpu_facts_init(struct cpuid_gpu_facts *facts)
{
    memset(facts, 0, sizeof(*facts));
    facts->nvml_status = CPUID_GPU_SOURCE_ABSENT;
    facts->gl_status = CPUID_GPU_SOURCE_ABSENT;
}

const char *cpuid_gpu_source_status_name(enum cpuid_gpu_source_status status)
{
    switch (status) {
    case CPUID_GPU_SOURCE_OK:     return "ok";
    case CPUID_GPU_SOURCE_ABSENT: return "absent";
    case CPUID_GPU_SOURCE_ERROR:  return "error";
    }
    return "error";
}

static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

/* Copy a space-separated list, cutting at a whole name if it does not fit. */
static void copy_word_list(char *dst, size_t size, const char *src)
{
    size_t length = strlen(src);

    if (length < size) {
        memcpy(dst, src, length + 1);
        return;
    }
    length = size - 1;
    while (length && src[length] != ' ')
        length--;
    memcpy(dst, src, length);
    dst[length] = '\0';
}

/* ------------------------------------------------------------------ NVML */

static void collect_nvml(const struct cpuid_gpu_probe_options *options, struct cpuid_gpu_facts *facts)
{
    const char *library = options->nvml_library ? options->nvml_library : NVML_DEFAULT_LIBRARY;
    struct nvml_api api;
    void *handle;
    unsigned int count = 0;
    nvml_return nrc;
    int initialised = 0;

    handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        facts->nvml_status = CPUID_GPU_SOURCE_ABSENT;
        snprintf(facts->nvml_reason, sizeof(facts->nvml_reason),
                 "no NVIDIA driver: %.200s", dlerror());
        return;
    }
    api.init = (nvml_return (*)(void))dlsym(handle, "nvmlInit_v2");
    api.shutdown = (nvml_return (*)(void))dlsym(handle, "nvmlShutdown");
    api.error_string = (const char *(*)(nvml_return))dlsym(handle, "nvmlErrorString");
    api.device_count = (nvml_return (*)(unsigned int *))dlsym(handle, "nvmlDeviceGetCount_v2");
    api.device_by_index = (nvml_return (*)(unsigned int, nvml_device *))
        dlsym(handle, "nvmlDeviceGetHandleByIndex_v2");
    api.device_name = (nvml_return (*)(nvml_device, char *, unsigned int))
        dlsym(handle, "nvmlDeviceGetName");
    api.driver_version = (nvml_return (*)(char *, unsigned int))
        dlsym(handle, "nvmlSystemGetDriverVersion");
    api.compute_capability = (nvml_return (*)(nvml_device, int *, int *))
        dlsym(handle, "nvmlDeviceGetCudaComputeCapability");
    if (!api.init || !api.shutdown || !api.device_count || !api.device_by_index ||
        !api.device_name || !api.driver_version || !api.compute_capability) {
        facts->nvml_status = CPUID_GPU_SOURCE_ERROR;
        snprintf(facts->nvml_reason, sizeof(facts->nvml_reason),
                 "%s lacks an NVML entry point (nvmlInit_v2, nvmlDeviceGetCount_v2, ...): "
                 "driver too old?", library);
        goto out;
    }

#define NVML_WHY(r) (api.error_string ? api.error_string(r) : "NVML error")
    nrc = api.init();
    if (nrc != NVML_SUCCESS) {
        facts->nvml_status = CPUID_GPU_SOURCE_ERROR;
        snprintf(facts->nvml_reason, sizeof(facts->nvml_reason),
                 "nvmlInit_v2 failed (%d): %.150s", nrc, NVML_WHY(nrc));
        goto out;
    }
    initialised = 1;
    {
        char version[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE] = "";

        nrc = api.driver_version(version, sizeof(version));
        version[sizeof(version) - 1] = '\0';
        copy_text(facts->driver_version, sizeof(facts->driver_version),
                  nrc == NVML_SUCCESS ? version : "");
    }
    nrc = api.device_count(&count);
    if (nrc != NVML_SUCCESS) {
        facts->nvml_status = CPUID_GPU_SOURCE_ERROR;
        snprintf(facts->nvml_reason, sizeof(facts->nvml_reason),
                 "nvmlDeviceGetCount_v2 failed (%d): %.150s", nrc, NVML_WHY(nrc));
        goto out;
    }
    if (count == 0) {
        facts->nvml_status = CPUID_GPU_SOURCE_ABSENT;
        snprintf(facts->nvml_reason, sizeof(facts->nvml_reason),
                 "NVML is loaded but reports no device");
        goto out;
    }
    facts->device_count = count > DEVICE_COUNT_MAX ? DEVICE_COUNT_MAX : count;
    for (unsigned int i = 0; i < count && facts->devices_recorded < CPUID_GPU_PROBE_MAX_DEVICES; i++) {
        struct cpuid_gpu_device_facts *d = &facts->devices[facts->devices_recorded];
        char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE] = "";
        nvml_device device = NULL;
        int major = -1, minor = -1;

        nrc = api.device_by_index(i, &device);
        if (nrc != NVML_SUCCESS) {
            /* e.g. NVML_ERROR_NO_PERMISSION for a device in another container */
            continue;
        }
        if (api.device_name(device, name, sizeof(name)) != NVML_SUCCESS)
            snprintf(name, sizeof(name), "NVIDIA device %u", i);
        name[sizeof(name) - 1] = '\0';
        if (api.compute_capability(device, &major, &minor) != NVML_SUCCESS ||
            major < 0 || major > 999 || minor < 0 || minor > 999)
            major = minor = -1;
        copy_text(d->name, sizeof(d->name), name);
        d->compute_major = major;
        d->compute_minor = minor;
        facts->devices_recorded++;
    }
    facts->nvml_status = CPUID_GPU_SOURCE_OK;
    facts->nvml_reason[0] = '\0';
#undef NVML_WHY

out:
    if (initialised)
        api.shutdown();
    dlclose(handle);
}

/* ------------------------------------------------------------------ EGL */

static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);

    if (!list)
        return 0;
    for (const char *p = list; (p = strstr(p, word)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

/* Make a desktop OpenGL context on `display` and read its strings. */
static int gl_try_display(const struct egl_api *api, egl_display display,
                          struct gl_attempt *attempt, char *why, size_t why_size)
{
    static const egl_int pbuffer_config[] = {
        EGL_SURFACE_TYPE, EGL_PBUFFER_BIT, EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT, EGL_NONE
    };
    static const egl_int any_config[] = { EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT, EGL_NONE };
    static const egl_int pbuffer_size[] = { EGL_WIDTH, 1, EGL_HEIGHT, 1, EGL_NONE };
    egl_context context = EGL_NO_HANDLE;
    egl_surface surface = EGL_NO_HANDLE;
    egl_config config = NULL;
    egl_int major = 0, minor = 0, configs = 0;
    const unsigned char *s;
    int surfaceless, rc = -1;

    if (display == EGL_NO_HANDLE) {
        snprintf(why, why_size, "no EGL display");
        return -1;
    }
    if (!api->initialize(display, &major, &minor)) {
        snprintf(why, why_size, "eglInitialize failed (0x%x)", (unsigned int)api->get_error());
        return -1;
    }
    if (!api->bind_api(EGL_OPENGL_API)) {
        snprintf(why, why_size, "the EGL driver has no desktop OpenGL (eglBindAPI failed)");
        goto out;
    }
    surfaceless = has_word(api->query_string(display, EGL_EXTENSIONS), "EGL_KHR_surfaceless_context");
    if (!api->choose_config(display, pbuffer_config, &config, 1, &configs) || configs < 1) {
        configs = 0;
        if (!surfaceless ||
            !api->choose_config(display, any_config, &config, 1, &configs) || configs < 1) {
            snprintf(why, why_size, "no EGL config for an OpenGL context");
            goto out;
        }
    } else if (!surfaceless) {
        surface = api->create_pbuffer(display, config, pbuffer_size);
        if (surface == EGL_NO_HANDLE) {
            snprintf(why, why_size, "eglCreatePbufferSurface failed (0x%x)",
                     (unsigned int)api->get_error());
            goto out;
        }
    }
    context = api->create_context(display, config, EGL_NO_HANDLE, NULL);
    if (context == EGL_NO_HANDLE) {
        snprintf(why, why_size, "eglCreateContext failed (0x%x)", (unsigned int)api->get_error());
        goto out;
    }
    if (!api->make_current(display, surface, surface, context)) {
        snprintf(why, why_size, "eglMakeCurrent failed (0x%x)", (unsigned int)api->get_error());
        goto out;
    }
    s = api->gl_get_string(GL_VERSION);
    if (!s) {
        snprintf(why, why_size, "glGetString(GL_VERSION) returned NULL");
        goto out;
    }
    copy_text(attempt->version, sizeof(attempt->version), (const char *)s);
    copy_text(attempt->renderer, sizeof(attempt->renderer), (const char *)api->gl_get_string(GL_RENDERER));
    copy_text(attempt->vendor, sizeof(attempt->vendor), (const char *)api->gl_get_string(GL_VENDOR));
    s = api->gl_get_string(GL_EXTENSIONS);
    copy_word_list(attempt->extensions, sizeof(attempt->extensions), s ? (const char *)s : "");
    rc = 0;

out:
    if (context != EGL_NO_HANDLE) {
        api->make_current(display, EGL_NO_HANDLE, EGL_NO_HANDLE, EGL_NO_HANDLE);
        api->destroy_context(display, context);
    }
    if (surface != EGL_NO_HANDLE)
        api->destroy_surface(display, surface);
    api->terminate(display);
    return rc;
}

/* Is attempt a better OpenGL than best (higher version; an unparsable one never is)? */
static int gl_better(const struct gl_attempt *attempt, const struct gl_attempt *best)
{
    int a_major, a_minor, b_major, b_minor;

    if (cpuid_gpu_gl_version_parse(attempt->version, &a_major, &a_minor))
        return 0;
    if (!best->version[0] || cpuid_gpu_gl_version_parse(best->version, &b_major, &b_minor))
        return 1;
    return a_major > b_major || (a_major == b_major && a_minor > b_minor);
}

static void collect_gl(const struct cpuid_gpu_probe_options *options, struct cpuid_gpu_facts *facts)
{
    const char *library = options->egl_library ? options->egl_library : EGL_DEFAULT_LIBRARY;
    struct gl_attempt *best = NULL, *attempt = NULL;
    struct egl_api api;
    const char *client_extensions;
    char why[CPUID_GPU_PROBE_REASON_MAX] = "";
    void *handle;
    int tried = 0;

    handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        facts->gl_status = CPUID_GPU_SOURCE_ABSENT;
        snprintf(facts->gl_reason, sizeof(facts->gl_reason),
                 "no EGL library: %.200s", dlerror());
        return;
    }
    memset(&api, 0, sizeof(api));
    api.get_proc_address = (void *(*)(const char *))dlsym(handle, "eglGetProcAddress");
    api.query_string = (const char *(*)(egl_display, egl_int))dlsym(handle, "eglQueryString");
    api.get_display = (egl_display (*)(void *))dlsym(handle, "eglGetDisplay");
    api.initialize = (egl_boolean (*)(egl_display, egl_int *, egl_int *))dlsym(handle, "eglInitialize");
    api.terminate = (egl_boolean (*)(egl_display))dlsym(handle, "eglTerminate");
    api.bind_api = (egl_boolean (*)(unsigned int))dlsym(handle, "eglBindAPI");
    api.choose_config = (egl_boolean (*)(egl_display, const egl_int *, egl_config *, egl_int, egl_int *))
        dlsym(handle, "eglChooseConfig");
    api.create_context = (egl_context (*)(egl_display, egl_config, egl_context, const egl_int *))
        dlsym(handle, "eglCreateContext");
    api.destroy_context = (egl_boolean (*)(egl_display, egl_context))dlsym(handle, "eglDestroyContext");
    api.create_pbuffer = (egl_surface (*)(egl_display, egl_config, const egl_int *))
        dlsym(handle, "eglCreatePbufferSurface");
    api.destroy_surface = (egl_boolean (*)(egl_display, egl_surface))dlsym(handle, "eglDestroySurface");
    api.make_current = (egl_boolean (*)(egl_display, egl_surface, egl_surface, egl_context))
        dlsym(handle, "eglMakeCurrent");
    api.get_error = (egl_int (*)(void))dlsym(handle, "eglGetError");
    if (!api.get_proc_address || !api.query_string || !api.get_display || !api.initialize ||
        !api.terminate || !api.bind_api || !api.choose_config || !api.create_context ||
        !api.destroy_context || !api.create_pbuffer || !api.destroy_surface ||
        !api.make_current || !api.get_error) {
        facts->gl_status = CPUID_GPU_SOURCE_ERROR;
        snprintf(facts->gl_reason, sizeof(facts->gl_reason), "%s lacks an EGL 1.4 entry point", library);
        goto out;
    }
    api.gl_get_string = (const unsigned char *(*)(unsigned int))api.get_proc_address("glGetString");
    if (!api.gl_get_string) {
        facts->gl_status = CPUID_GPU_SOURCE_ERROR;
        snprintf(facts->gl_reason, sizeof(facts->gl_reason),
                 "eglGetProcAddress(\"glGetString\") returned NULL");
        goto out;
    }
    best = calloc(1, sizeof(*best));
    attempt = calloc(1, sizeof(*attempt));
    if (!best || !attempt) {
        facts->gl_status = CPUID_GPU_SOURCE_ERROR;
        snprintf(facts->gl_reason, sizeof(facts->gl_reason), "out of memory");
        goto out;
    }

    /* Every EGL device (no window system needed), keeping the highest GL. */
    client_extensions = api.query_string(EGL_NO_HANDLE, EGL_EXTENSIONS);
    if (has_word(client_extensions, "EGL_EXT_platform_device") &&
        has_word(client_extensions, "EGL_EXT_device_enumeration")) {
        egl_device devices[EGL_DEVICES_MAX];
        egl_int count = 0;

        api.query_devices = (egl_boolean (*)(egl_int, egl_device *, egl_int *))
            api.get_proc_address("eglQueryDevicesEXT");
        api.get_platform_display = (egl_display (*)(unsigned int, void *, const egl_int *))
            api.get_proc_address("eglGetPlatformDisplayEXT");
        if (api.query_devices && api.get_platform_display &&
            api.query_devices(EGL_DEVICES_MAX, devices, &count)) {
            for (egl_int i = 0; i < count && i < EGL_DEVICES_MAX; i++) {
                memset(attempt, 0, sizeof(*attempt));
                tried++;
                if (!gl_try_display(&api, api.get_platform_display(EGL_PLATFORM_DEVICE_EXT,
                                                                   devices[i], NULL),
                                    attempt, why, sizeof(why)) &&
                    gl_better(attempt, best))
                    *best = *attempt;
            }
        }
    }
    /* The default display (a window system or the driver's own choice). */
    if (!best->version[0]) {
        memset(attempt, 0, sizeof(*attempt));
        tried++;
        if (!gl_try_display(&api, api.get_display(EGL_DEFAULT_DISPLAY), attempt, why, sizeof(why)))
            *best = *attempt;
    }

    if (best->version[0]) {
        facts->gl_status = CPUID_GPU_SOURCE_OK;
        facts->gl_reason[0] = '\0';
        memcpy(facts->gl_version, best->version, sizeof(facts->gl_version));
        memcpy(facts->gl_renderer, best->renderer, sizeof(facts->gl_renderer));
        memcpy(facts->gl_vendor, best->vendor, sizeof(facts->gl_vendor));
        memcpy(facts->gl_extensions, best->extensions, sizeof(facts->gl_extensions));
    } else {
        facts->gl_status = CPUID_GPU_SOURCE_ABSENT;
        snprintf(facts->gl_reason, sizeof(facts->gl_reason),
                 "no desktop OpenGL context on %d EGL display(s); last: %.150s", tried, why);
    }

out:
    free(best);
    free(attempt);
    dlclose(handle);
}

/* ----------------------------------------------------- child isolation */

enum probe_source { PROBE_NVML, PROBE_GL };

static void collect_source(enum probe_source source, const struct cpuid_gpu_probe_options *options,
                           struct cpuid_gpu_facts *facts)
{
    if (source == PROBE_NVML)
        collect_nvml(options, facts);
    else
        collect_gl(options, facts);
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
 * Probe one source in a child: it writes a whole struct cpuid_gpu_facts to a
 * pipe and _exits (no atexit handlers: a driver's global state is not
 * torn down in a process that keeps running).
 */
static int collect_in_child(enum probe_source source, const struct cpuid_gpu_probe_options *options,
                            unsigned int timeout_ms, struct cpuid_gpu_facts *facts)
{
    struct cpuid_gpu_facts *result = NULL;
    struct timespec start;
    size_t got = 0;
    int fds[2] = { -1, -1 }, status = 0, rc;
    pid_t pid;
    char why[128];

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
    if (pid == 0) {
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

    close(fds[1]);
    fds[1] = -1;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (got < sizeof(*result)) {
        struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
        long left_ms = (long)timeout_ms - elapsed_ms(&start);
        ssize_t n;

        if (left_ms <= 0)
            break;
        n = poll(&pfd, 1, (int)left_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        n = read(fds[0], (unsigned char *)result + got, sizeof(*result) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < sizeof(*result) && elapsed_ms(&start) >= (long)timeout_ms)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            status = 0;     /* SIGCHLD ignored by the caller: no status to read */
            break;
        }
    }

    if (got == sizeof(*result)) {
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
    } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && got < sizeof(*result) &&
               elapsed_ms(&start) >= (long)timeout_ms) {
        snprintf(why, sizeof(why), "timed out after %u ms (driver hung?)", timeout_ms);
        source_failed(source, facts, why);
    } else if (WIFSIGNALED(status)) {
        snprintf(why, sizeof(why), "process died of signal %d (driver crashed?)", WTERMSIG(status));
        source_failed(source, facts, why);
    } else {
        snprintf(why, sizeof(why), "process exited with status %d before reporting",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        source_failed(source, facts, why);
    }
    /* A child's facts are data from another process: keep strings terminated. */
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
        collect_nvml(options, facts_out);
    } else {
        rc = collect_in_child(PROBE_NVML, options, timeout_ms, facts_out);
        if (rc)
            return rc;
    }
    if (options->skip_gl) {
        snprintf(facts_out->gl_reason, sizeof(facts_out->gl_reason), "not probed (skipped)");
    } else if (options->in_process) {
        collect_gl(options, facts_out);
    } else {
        rc = collect_in_child(PROBE_GL, options, timeout_ms, facts_out);
        if (rc)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------ JSON */

/* Add value (a new reference, may be NULL after a failed allocation) as key. */
static int add_member(json_object *obj, const char *key, json_object *value)
{
    if (!value)
        return -1;
    if (json_object_object_add(obj, key, value)) {
        json_object_put(value);
        return -1;
    }
    return 0;
}

static int add_string(json_object *obj, const char *key, const char *value)
{
    return add_member(obj, key, json_object_new_string(value));
}

static int add_int(json_object *obj, const char *key, int value)
{
    return add_member(obj, key, json_object_new_int(value));
}

int cpuid_gpu_facts_to_json(const struct cpuid_gpu_facts *facts, json_object **json_out)
{
    json_object *root = json_object_new_object();
    json_object *nvml = json_object_new_object();
    json_object *gl = json_object_new_object();
    json_object *devices = json_object_new_array();
    int rc;

    *json_out = NULL;
    if (!root || !nvml || !gl || !devices)
        goto nomem;
    if (add_string(nvml, "status", cpuid_gpu_source_status_name(facts->nvml_status)) ||
        add_string(nvml, "reason", facts->nvml_reason) ||
        add_string(nvml, "driver_version", facts->driver_version) ||
        add_int(nvml, "device_count", (int)facts->device_count))
        goto nomem;
    for (unsigned int i = 0; i < facts->devices_recorded && i < CPUID_GPU_PROBE_MAX_DEVICES; i++) {
        const struct cpuid_gpu_device_facts *d = &facts->devices[i];
        json_object *device = json_object_new_object();
        char cc[16];

        if (!device)
            goto nomem;
        if (json_object_array_add(devices, device)) {
            json_object_put(device);
            goto nomem;
        }
        if (add_string(device, "name", d->name))
            goto nomem;
        if (d->compute_major >= 0) {
            snprintf(cc, sizeof(cc), "%d.%d", d->compute_major, d->compute_minor);
            if (add_string(device, "compute_capability", cc))
                goto nomem;
        }
    }
    if (json_object_object_add(nvml, "devices", devices))
        goto nomem;
    devices = NULL;
    if (add_string(gl, "status", cpuid_gpu_source_status_name(facts->gl_status)) ||
        add_string(gl, "reason", facts->gl_reason) ||
        add_string(gl, "version", facts->gl_version) ||
        add_string(gl, "renderer", facts->gl_renderer) ||
        add_string(gl, "vendor", facts->gl_vendor) ||
        add_string(gl, "extensions", facts->gl_extensions))
        goto nomem;
    if (json_object_object_add(root, "nvml", nvml))
        goto nomem;
    nvml = NULL;
    if (json_object_object_add(root, "gl", gl))
        goto nomem;
    *json_out = root;
    return 0;

nomem:
    rc = mig_error_set(MIG_ENOMEM, "out of memory building the GPU facts JSON");
    json_object_put(devices);
    json_object_put(gl);
    json_object_put(nvml);
    json_object_put(root);
    return rc;
}

/* Copy member `key` of obj (a string, or absent → "") into dst. */
static int get_string(const json_object *obj, const char *key, const char *where,
                      const char *origin, char *dst, size_t size)
{
    json_object *value;
    const char *s;
    int length;

    dst[0] = '\0';
    if (!json_object_object_get_ex(obj, key, &value) || json_object_is_type(value, json_type_null))
        return 0;
    if (!json_object_is_type(value, json_type_string))
        return mig_error_set(MIG_EFORMAT, "%s: %s.%s must be a string, not %s", origin, where, key,
                             json_type_to_name(json_object_get_type(value)));
    s = json_object_get_string(value);
    length = json_object_get_string_len(value);
    if (length < 0 || (size_t)length >= size)
        return mig_error_set(MIG_EFORMAT, "%s: %s.%s is %d bytes, more than the %zu allowed",
                             origin, where, key, length, size - 1);
    if (memchr(s, '\0', (size_t)length))
        return mig_error_set(MIG_EFORMAT, "%s: %s.%s contains a NUL character", origin, where, key);
    memcpy(dst, s, (size_t)length);
    dst[length] = '\0';
    return 0;
}

static int get_status(const json_object *source, const char *where, const char *origin,
                      enum cpuid_gpu_source_status *status)
{
    char text[16], quoted[64];
    int rc;

    rc = get_string(source, "status", where, origin, text, sizeof(text));
    if (rc)
        return rc;
    if (!strcmp(text, "ok"))
        *status = CPUID_GPU_SOURCE_OK;
    else if (!strcmp(text, "absent"))
        *status = CPUID_GPU_SOURCE_ABSENT;
    else if (!strcmp(text, "error"))
        *status = CPUID_GPU_SOURCE_ERROR;
    else {
        cpuid_text_quote(text, strlen(text), quoted, sizeof(quoted));
        return mig_error_set(MIG_EFORMAT, "%s: %s.status is '%s': expected \"ok\", \"absent\" or \"error\"",
                             origin, where, quoted);
    }
    return 0;
}

/* "MAJOR.MINOR", 1-3 digits each, nothing else. */
static int parse_capability(const char *text, int *major, int *minor)
{
    int values[2] = { 0, 0 };
    const char *p = text;

    for (int part = 0; part < 2; part++) {
        int digits = 0;

        for (; *p >= '0' && *p <= '9' && digits <= 3; p++, digits++)
            values[part] = values[part] * 10 + (*p - '0');
        if (!digits || digits > 3 || *p != (part ? '\0' : '.'))
            return -1;
        p++;
    }
    *major = values[0];
    *minor = values[1];
    return 0;
}

static int nvml_from_json(const json_object *nvml, const char *origin, struct cpuid_gpu_facts *facts)
{
    json_object *value, *devices;
    size_t n;
    int rc;

    if (!json_object_is_type(nvml, json_type_object))
        return mig_error_set(MIG_EFORMAT, "%s: \"nvml\" must be an object", origin);
    if ((rc = get_status(nvml, "nvml", origin, &facts->nvml_status)) ||
        (rc = get_string(nvml, "reason", "nvml", origin, facts->nvml_reason, sizeof(facts->nvml_reason))) ||
        (rc = get_string(nvml, "driver_version", "nvml", origin, facts->driver_version,
                         sizeof(facts->driver_version))))
        return rc;
    if (!json_object_object_get_ex(nvml, "devices", &devices))
        devices = NULL;
    if (devices && !json_object_is_type(devices, json_type_array))
        return mig_error_set(MIG_EFORMAT, "%s: nvml.devices must be an array", origin);
    n = devices ? json_object_array_length(devices) : 0;
    if (n > CPUID_GPU_PROBE_MAX_DEVICES)
        return mig_error_set(MIG_EFORMAT, "%s: nvml.devices lists %zu devices, at most %d are recorded",
                             origin, n, CPUID_GPU_PROBE_MAX_DEVICES);
    facts->devices_recorded = (unsigned int)n;
    facts->device_count = (unsigned int)n;
    if (json_object_object_get_ex(nvml, "device_count", &value)) {
        int64_t count;

        if (!json_object_is_type(value, json_type_int))
            return mig_error_set(MIG_EFORMAT, "%s: nvml.device_count must be an integer", origin);
        count = json_object_get_int64(value);
        if (count < (int64_t)n || count > DEVICE_COUNT_MAX)
            return mig_error_set(MIG_EFORMAT, "%s: nvml.device_count %lld is below the %zu devices "
                                 "listed or above %d", origin, (long long)count, n, DEVICE_COUNT_MAX);
        facts->device_count = (unsigned int)count;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *device = json_object_array_get_idx(devices, i);
        struct cpuid_gpu_device_facts *d = &facts->devices[i];
        char where[32], cc[16], quoted[64];

        snprintf(where, sizeof(where), "nvml.devices[%zu]", i);
        if (!json_object_is_type(device, json_type_object))
            return mig_error_set(MIG_EFORMAT, "%s: %s must be an object", origin, where);
        if ((rc = get_string(device, "name", where, origin, d->name, sizeof(d->name))) ||
            (rc = get_string(device, "compute_capability", where, origin, cc, sizeof(cc))))
            return rc;
        d->compute_major = d->compute_minor = -1;
        if (cc[0] && parse_capability(cc, &d->compute_major, &d->compute_minor)) {
            cpuid_text_quote(cc, strlen(cc), quoted, sizeof(quoted));
            return mig_error_set(MIG_EFORMAT, "%s: %s.compute_capability '%s' is not MAJOR.MINOR "
                                 "(1-3 digits each, e.g. \"9.0\")", origin, where, quoted);
        }
    }
    return 0;
}

static int gl_from_json(const json_object *gl, const char *origin, struct cpuid_gpu_facts *facts)
{
    int rc;

    if (!json_object_is_type(gl, json_type_object))
        return mig_error_set(MIG_EFORMAT, "%s: \"gl\" must be an object", origin);
    if ((rc = get_status(gl, "gl", origin, &facts->gl_status)) ||
        (rc = get_string(gl, "reason", "gl", origin, facts->gl_reason, sizeof(facts->gl_reason))) ||
        (rc = get_string(gl, "version", "gl", origin, facts->gl_version, sizeof(facts->gl_version))) ||
        (rc = get_string(gl, "renderer", "gl", origin, facts->gl_renderer, sizeof(facts->gl_renderer))) ||
        (rc = get_string(gl, "vendor", "gl", origin, facts->gl_vendor, sizeof(facts->gl_vendor))) ||
        (rc = get_string(gl, "extensions", "gl", origin, facts->gl_extensions,
                         sizeof(facts->gl_extensions))))
        return rc;
    if (facts->gl_status == CPUID_GPU_SOURCE_OK && !facts->gl_version[0])
        return mig_error_set(MIG_EFORMAT, "%s: gl.status is \"ok\" but gl.version is missing", origin);
    return 0;
}

int cpuid_gpu_facts_from_json(const json_object *json, const char *origin,
                        struct cpuid_gpu_facts *facts_out)
{
    json_object *member;
    int rc;

    cpuid_gpu_facts_init(facts_out);
    if (!origin)
        origin = "(GPU facts)";
    if (!json_object_is_type(json, json_type_object))
        return mig_error_set(MIG_EFORMAT, "%s: GPU facts must be a JSON object", origin);
    if (json_object_object_get_ex(json, "nvml", &member)) {
        rc = nvml_from_json(member, origin, facts_out);
        if (rc)
            return rc;
    }
    if (json_object_object_get_ex(json, "gl", &member)) {
        rc = gl_from_json(member, origin, facts_out);
        if (rc)
            return rc;
    }
    return 0;
}

int cpuid_gpu_facts_from_json_text(const char *text, size_t length, const char *origin,
                             struct cpuid_gpu_facts *facts_out)
{
    struct json_tokener *tokener = NULL;
    json_object *root = NULL, *facts_json;
    size_t end;
    int rc;

    cpuid_gpu_facts_init(facts_out);
    if (!origin)
        origin = "(GPU facts)";
    if (length > FACTS_JSON_TEXT_MAX) {
        rc = mig_error_set(MIG_ELIMIT, "%s: %zu bytes of GPU facts, more than the %d allowed",
                           origin, length, FACTS_JSON_TEXT_MAX);
        goto out;
    }
    tokener = json_tokener_new_ex(32);
    if (!tokener) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory parsing %s", origin);
        goto out;
    }
    root = json_tokener_parse_ex(tokener, text, (int)length);
    if (!root) {
        enum json_tokener_error jerr = json_tokener_get_error(tokener);

        rc = mig_error_set(MIG_EFORMAT, "%s: not valid JSON at offset %zu: %s", origin,
                           json_tokener_get_parse_end(tokener),
                           jerr == json_tokener_continue ? "text ends early"
                                                         : json_tokener_error_desc(jerr));
        goto out;
    }
    end = json_tokener_get_parse_end(tokener);
    while (end < length && strchr(" \t\r\n", text[end]) && text[end])
        end++;
    if (end < length) {
        rc = mig_error_set(MIG_EFORMAT, "%s: unexpected data after the JSON value at offset %zu",
                           origin, end);
        goto out;
    }
    if (json_object_is_type(root, json_type_object) &&
        json_object_object_get_ex(root, "facts", &facts_json))
        rc = cpuid_gpu_facts_from_json(facts_json, origin, facts_out);
    else
        rc = cpuid_gpu_facts_from_json(root, origin, facts_out);

out:
    json_object_put(root);
    if (tokener)
        json_tokener_free(tokener);
    return rc;
}

int cpuid_gpu_facts_read_file(const char *path, struct cpuid_gpu_facts *facts_out)
{
    char *text;
    size_t length;
    int rc;

    cpuid_gpu_facts_init(facts_out);
    rc = cpuid_read_text_file(path, "GPU facts file", FACTS_JSON_TEXT_MAX, 0, &text, &length);
    if (rc)
        return rc;
    rc = cpuid_gpu_facts_from_json_text(text, length, path, facts_out);
    free(text);
    return rc;
}

/* The probe half of host-dump. */
int cpuid_gpu_host_json_add(json_object *host_json, const cpuid_gpu_level_table *table,
                      const struct cpuid_gpu_probe_options *options)
{
    struct cpuid_gpu_facts *facts = malloc(sizeof(*facts));
    struct cpuid_gpu_capability capability;
    json_object *gpu = NULL;
    int rc;

    if (!facts) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory probing the GPU");
        goto out;
    }
    rc = cpuid_gpu_probe_collect(options, facts);
    if (rc)
        goto out;
    rc = cpuid_gpu_capability_from_facts(table, facts, &capability);
    if (rc)
        goto out;
    rc = cpuid_gpu_host_to_json(facts, &capability, &gpu);
    if (rc)
        goto out;
    if (json_object_object_add(host_json, "gpu", gpu)) {
        rc = mig_error_set(MIG_ENOMEM, "out of memory adding the GPU object");
        goto out;
    }
    gpu = NULL;
    rc = 0;

out:
    json_object_put(gpu);
    free(facts);
    return rc;
}
