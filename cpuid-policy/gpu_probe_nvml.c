/*
 * gpu_probe_nvml.c: the NVIDIA facts of this host, from NVML
 * (libnvidia-ml.so.1) loaded with dlopen.
 *
 * Runs in the probe's child process unless the caller asked for
 * in_process (gpu_probe.c decides).  It must never need NVML at build or
 * link time and never trust what the driver returns beyond its buffers.
 * The few NVML declarations below are written from NVIDIA's documented API
 * (NVML API reference).
 */
#include "config.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cpuid_internal.h"
#include "cpuid_policy.h"

#define NVML_DEFAULT_LIBRARY "libnvidia-ml.so.1"

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

/* Look NVML's entry points up in `handle`; false when one is missing. */
static bool nvml_load_api(void *handle, struct nvml_api *api)
{
    api->init = (nvml_return (*)(void))dlsym(handle, "nvmlInit_v2");
    api->shutdown = (nvml_return (*)(void))dlsym(handle, "nvmlShutdown");
    api->error_string = (const char *(*)(nvml_return))dlsym(handle, "nvmlErrorString");
    api->device_count = (nvml_return (*)(unsigned int *))dlsym(handle, "nvmlDeviceGetCount_v2");
    api->device_by_index = (nvml_return (*)(unsigned int, nvml_device *))
        dlsym(handle, "nvmlDeviceGetHandleByIndex_v2");
    api->device_name = (nvml_return (*)(nvml_device, char *, unsigned int))
        dlsym(handle, "nvmlDeviceGetName");
    api->driver_version = (nvml_return (*)(char *, unsigned int))
        dlsym(handle, "nvmlSystemGetDriverVersion");
    api->compute_capability = (nvml_return (*)(nvml_device, int *, int *))
        dlsym(handle, "nvmlDeviceGetCudaComputeCapability");
    return api->init && api->shutdown && api->device_count && api->device_by_index &&
           api->device_name && api->driver_version && api->compute_capability;
}

static const char *nvml_why(const struct nvml_api *api, nvml_return nrc)
{
    return api->error_string ? api->error_string(nrc) : "NVML error";
}

/* The first CPUID_GPU_PROBE_MAX_DEVICES of the `count` devices that NVML opens. */
static void nvml_record_devices(const struct nvml_api *api, unsigned int count,
                                struct cpuid_gpu_facts *facts)
{
    for (unsigned int i = 0; i < count && facts->devices_recorded < CPUID_GPU_PROBE_MAX_DEVICES;
         i++) {
        struct cpuid_gpu_device_facts *d = &facts->devices[facts->devices_recorded];
        char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE] = "";
        nvml_device device = NULL;
        int major = -1, minor = -1;

        if (api->device_by_index(i, &device) != NVML_SUCCESS) {
            /* e.g. NVML_ERROR_NO_PERMISSION for a device in another container */
            continue;
        }
        if (api->device_name(device, name, sizeof(name)) != NVML_SUCCESS)
            snprintf(name, sizeof(name), "NVIDIA device %u", i);
        name[sizeof(name) - 1] = '\0';
        if (api->compute_capability(device, &major, &minor) != NVML_SUCCESS ||
            major < 0 || major > 999 || minor < 0 || minor > 999)
            major = minor = -1;
        cpuid_copy_text(d->name, sizeof(d->name), name);
        d->compute_major = major;
        d->compute_minor = minor;
        facts->devices_recorded++;
    }
}

/* With NVML initialised: the driver version and the devices. */
static void nvml_collect(const struct nvml_api *api, struct cpuid_gpu_facts *facts)
{
    char version[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE] = "";
    unsigned int count = 0;
    nvml_return nrc;

    nrc = api->driver_version(version, sizeof(version));
    version[sizeof(version) - 1] = '\0';
    cpuid_copy_text(facts->driver_version, sizeof(facts->driver_version),
                    nrc == NVML_SUCCESS ? version : "");
    nrc = api->device_count(&count);
    if (nrc != NVML_SUCCESS) {
        facts->nvml_status = CPUID_GPU_SOURCE_ERROR;
        snprintf(facts->nvml_reason, sizeof(facts->nvml_reason),
                 "nvmlDeviceGetCount_v2 failed (%d): %.150s", nrc, nvml_why(api, nrc));
        return;
    }
    if (count == 0) {
        facts->nvml_status = CPUID_GPU_SOURCE_ABSENT;
        snprintf(facts->nvml_reason, sizeof(facts->nvml_reason),
                 "NVML is loaded but reports no device");
        return;
    }
    facts->device_count = count > CPUID_GPU_DEVICE_COUNT_MAX ? CPUID_GPU_DEVICE_COUNT_MAX : count;
    nvml_record_devices(api, count, facts);
    facts->nvml_status = CPUID_GPU_SOURCE_OK;
    facts->nvml_reason[0] = '\0';
}

void cpuid_gpu_probe_nvml(const struct cpuid_gpu_probe_options *options,
                          struct cpuid_gpu_facts *facts)
{
    const char *library = options->nvml_library ? options->nvml_library : NVML_DEFAULT_LIBRARY;
    struct nvml_api api;
    nvml_return nrc;
    void *handle;

    handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        facts->nvml_status = CPUID_GPU_SOURCE_ABSENT;
        snprintf(facts->nvml_reason, sizeof(facts->nvml_reason),
                 "no NVIDIA driver: %.200s", dlerror());
        return;
    }
    if (!nvml_load_api(handle, &api)) {
        facts->nvml_status = CPUID_GPU_SOURCE_ERROR;
        snprintf(facts->nvml_reason, sizeof(facts->nvml_reason),
                 "%s lacks an NVML entry point (nvmlInit_v2, nvmlDeviceGetCount_v2, ...): "
                 "driver too old?", library);
        goto out;
    }
    nrc = api.init();
    if (nrc != NVML_SUCCESS) {
        facts->nvml_status = CPUID_GPU_SOURCE_ERROR;
        snprintf(facts->nvml_reason, sizeof(facts->nvml_reason),
                 "nvmlInit_v2 failed (%d): %.150s", nrc, nvml_why(&api, nrc));
        goto out;
    }
    nvml_collect(&api, facts);
    api.shutdown();

out:
    dlclose(handle);
}
