/*
 * gpu_probe_gl.c: the OpenGL facts of this host: a desktop OpenGL context
 * made through EGL (libEGL.so.1, loaded with dlopen) on every EGL device,
 * surfaceless, keeping the highest GL_VERSION.
 *
 * Runs in the probe's child process unless the caller asked for
 * in_process (gpu_probe.c decides).  It must never need EGL or GL at build
 * or link time, and never trust a string the driver returns beyond its
 * buffer.  The few EGL and GL declarations below are written from the
 * Khronos specifications (EGL 1.5 and EGL_EXT_platform_device,
 * EGL_EXT_device_enumeration, EGL_KHR_surfaceless_context).
 */
#include "config.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"

#define EGL_DEFAULT_LIBRARY  "libEGL.so.1"

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
    surfaceless = cpuid_gpu_word_listed(api->query_string(display, EGL_EXTENSIONS),
                                        "EGL_KHR_surfaceless_context");
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
    cpuid_copy_text(attempt->version, sizeof(attempt->version), (const char *)s);
    cpuid_copy_text(attempt->renderer, sizeof(attempt->renderer),
                    (const char *)api->gl_get_string(GL_RENDERER));
    cpuid_copy_text(attempt->vendor, sizeof(attempt->vendor),
                    (const char *)api->gl_get_string(GL_VENDOR));
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

/* Look EGL's entry points up in `handle`; false when one of EGL 1.4's is missing. */
static bool egl_load_api(void *handle, struct egl_api *api)
{
    memset(api, 0, sizeof(*api));
    api->get_proc_address = (void *(*)(const char *))dlsym(handle, "eglGetProcAddress");
    api->query_string = (const char *(*)(egl_display, egl_int))dlsym(handle, "eglQueryString");
    api->get_display = (egl_display (*)(void *))dlsym(handle, "eglGetDisplay");
    api->initialize = (egl_boolean (*)(egl_display, egl_int *, egl_int *))
        dlsym(handle, "eglInitialize");
    api->terminate = (egl_boolean (*)(egl_display))dlsym(handle, "eglTerminate");
    api->bind_api = (egl_boolean (*)(unsigned int))dlsym(handle, "eglBindAPI");
    api->choose_config = (egl_boolean (*)(egl_display, const egl_int *, egl_config *, egl_int,
                                          egl_int *))dlsym(handle, "eglChooseConfig");
    api->create_context = (egl_context (*)(egl_display, egl_config, egl_context, const egl_int *))
        dlsym(handle, "eglCreateContext");
    api->destroy_context = (egl_boolean (*)(egl_display, egl_context))
        dlsym(handle, "eglDestroyContext");
    api->create_pbuffer = (egl_surface (*)(egl_display, egl_config, const egl_int *))
        dlsym(handle, "eglCreatePbufferSurface");
    api->destroy_surface = (egl_boolean (*)(egl_display, egl_surface))
        dlsym(handle, "eglDestroySurface");
    api->make_current = (egl_boolean (*)(egl_display, egl_surface, egl_surface, egl_context))
        dlsym(handle, "eglMakeCurrent");
    api->get_error = (egl_int (*)(void))dlsym(handle, "eglGetError");
    return api->get_proc_address && api->query_string && api->get_display && api->initialize &&
           api->terminate && api->bind_api && api->choose_config && api->create_context &&
           api->destroy_context && api->create_pbuffer && api->destroy_surface &&
           api->make_current && api->get_error;
}

/*
 * Every EGL device (no window system needed), keeping the highest GL in
 * *best; `attempt` is scratch space.  Returns how many displays it tried.
 */
static int gl_try_devices(struct egl_api *api, struct gl_attempt *best,
                          struct gl_attempt *attempt, char *why, size_t why_size)
{
    const char *client_extensions = api->query_string(EGL_NO_HANDLE, EGL_EXTENSIONS);
    egl_device devices[EGL_DEVICES_MAX];
    egl_int count = 0;
    int tried = 0;

    if (!cpuid_gpu_word_listed(client_extensions, "EGL_EXT_platform_device") ||
        !cpuid_gpu_word_listed(client_extensions, "EGL_EXT_device_enumeration"))
        return 0;
    api->query_devices = (egl_boolean (*)(egl_int, egl_device *, egl_int *))
        api->get_proc_address("eglQueryDevicesEXT");
    api->get_platform_display = (egl_display (*)(unsigned int, void *, const egl_int *))
        api->get_proc_address("eglGetPlatformDisplayEXT");
    if (!api->query_devices || !api->get_platform_display ||
        !api->query_devices(EGL_DEVICES_MAX, devices, &count))
        return 0;
    for (egl_int i = 0; i < count && i < EGL_DEVICES_MAX; i++) {
        memset(attempt, 0, sizeof(*attempt));
        tried++;
        if (!gl_try_display(api, api->get_platform_display(EGL_PLATFORM_DEVICE_EXT, devices[i],
                                                           NULL),
                            attempt, why, why_size) &&
            gl_better(attempt, best))
            *best = *attempt;
    }
    return tried;
}

/* The best OpenGL found (or why none) into the facts. */
static void gl_record(const struct gl_attempt *best, int tried, const char *why,
                      struct cpuid_gpu_facts *facts)
{
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
}

void cpuid_gpu_probe_gl(const struct cpuid_gpu_probe_options *options,
                        struct cpuid_gpu_facts *facts)
{
    const char *library = options->egl_library ? options->egl_library : EGL_DEFAULT_LIBRARY;
    struct gl_attempt *best = NULL, *attempt = NULL;
    struct egl_api api;
    char why[CPUID_GPU_PROBE_REASON_MAX] = "";
    void *handle;
    int tried;

    handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        facts->gl_status = CPUID_GPU_SOURCE_ABSENT;
        snprintf(facts->gl_reason, sizeof(facts->gl_reason),
                 "no EGL library: %.200s", dlerror());
        return;
    }
    if (!egl_load_api(handle, &api)) {
        facts->gl_status = CPUID_GPU_SOURCE_ERROR;
        snprintf(facts->gl_reason, sizeof(facts->gl_reason), "%s lacks an EGL 1.4 entry point",
                 library);
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
    tried = gl_try_devices(&api, best, attempt, why, sizeof(why));
    /* The default display (a window system or the driver's own choice). */
    if (!best->version[0]) {
        memset(attempt, 0, sizeof(*attempt));
        tried++;
        if (!gl_try_display(&api, api.get_display(EGL_DEFAULT_DISPLAY), attempt, why, sizeof(why)))
            *best = *attempt;
    }
    gl_record(best, tried, why, facts);

out:
    free(best);
    free(attempt);
    dlclose(handle);
}
