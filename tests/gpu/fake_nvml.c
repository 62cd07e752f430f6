/*
 * fake_nvml.c: a stand-in for libnvidia-ml.so.1 so that the NVML half of
 * the GPU probe (dlopen, symbol lookup, the calls and their failure paths)
 * runs on machines without an NVIDIA GPU.  Test-only; never installed.
 *
 * Behaviour comes from the environment, so one build serves every case:
 *   FAKE_NVML_DEVICES  "NAME:MAJOR.MINOR;NAME:MAJOR.MINOR" (default: none)
 *   FAKE_NVML_DRIVER   driver version string (default "000.00")
 *   FAKE_NVML_FAIL     "init": nvmlInit_v2 fails; "crash": it dereferences
 *                      NULL; "hang": it sleeps for an hour
 * The prototypes follow NVML's documented API.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAKE_MAX 8

struct fake_device { char name[96]; int major, minor; };

static struct fake_device devices[FAKE_MAX];
static unsigned int device_count;

int nvmlInit_v2(void);
int nvmlShutdown(void);
const char *nvmlErrorString(int result);
int nvmlDeviceGetCount_v2(unsigned int *count);
int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void **device);
int nvmlDeviceGetName(void *device, char *name, unsigned int length);
int nvmlSystemGetDriverVersion(char *version, unsigned int length);
int nvmlDeviceGetCudaComputeCapability(void *device, int *major, int *minor);

int nvmlInit_v2(void)
{
    const char *fail = getenv("FAKE_NVML_FAIL");
    const char *spec = getenv("FAKE_NVML_DEVICES");

    if (fail && !strcmp(fail, "init"))
        return 9; /* NVML_ERROR_DRIVER_NOT_LOADED */
    if (fail && !strcmp(fail, "crash")) {
        volatile int *null = NULL;

        return *null;
    }
    if (fail && !strcmp(fail, "hang"))
        sleep(3600);
    device_count = 0;
    while (spec && *spec && device_count < FAKE_MAX) {
        struct fake_device *d = &devices[device_count];
        const char *colon = strchr(spec, ':'), *end = strchr(spec, ';');
        size_t n;

        if (!end)
            end = spec + strlen(spec);
        if (!colon || colon > end)
            break;
        n = (size_t)(colon - spec) < sizeof(d->name) - 1 ? (size_t)(colon - spec) : sizeof(d->name) - 1;
        memcpy(d->name, spec, n);
        d->name[n] = '\0';
        if (sscanf(colon + 1, "%d.%d", &d->major, &d->minor) != 2)
            break;
        device_count++;
        spec = *end ? end + 1 : end;
    }
    return 0;
}

int nvmlShutdown(void)
{
    return 0;
}

const char *nvmlErrorString(int result)
{
    return result == 9 ? "Driver Not Loaded" : "Unknown Error";
}

int nvmlDeviceGetCount_v2(unsigned int *count)
{
    *count = device_count;
    return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void **device)
{
    if (index >= device_count)
        return 2; /* NVML_ERROR_INVALID_ARGUMENT */
    *device = &devices[index];
    return 0;
}

int nvmlDeviceGetName(void *device, char *name, unsigned int length)
{
    snprintf(name, length, "%s", ((struct fake_device *)device)->name);
    return 0;
}

int nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    const char *v = getenv("FAKE_NVML_DRIVER");

    snprintf(version, length, "%s", v ? v : "000.00");
    return 0;
}

int nvmlDeviceGetCudaComputeCapability(void *device, int *major, int *minor)
{
    *major = ((struct fake_device *)device)->major;
    *minor = ((struct fake_device *)device)->minor;
    return 0;
}
