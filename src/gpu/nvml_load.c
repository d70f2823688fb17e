/* Loading NVML with dlopen and resolving its entry points, newest version first, as nvtop does. */
#include "gpu/nvml_api.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#define NVML_DEFAULT_LIBRARY "libnvidia-ml.so.1"

/* dlsym returns void *; converting that to a function pointer is what POSIX guarantees to work, but ISO C has no
 * conversion for it, so go through memcpy to stay warning-free under -Wpedantic compilers. */
static int resolve(void *lib, const char *const *names, void *fn_slot, size_t fn_size)
{
    for (int i = 0; names[i]; i++) {
        void *sym = dlsym(lib, names[i]);
        if (sym) {
            memcpy(fn_slot, &sym, fn_size);
            return i;
        }
    }
    return -1;
}

#define RESOLVE(api, member, ...)                                                                                      \
    resolve((api)->lib, (const char *const[]){__VA_ARGS__, NULL}, &(api)->member, sizeof((api)->member))

int nvml_api_load(nvml_api_t *api, chase_err_t *err)
{
    memset(api, 0, sizeof *api);
    const char *path = getenv("CHASE_NVML_LIBRARY");
    int from_env = path && *path;
    if (!from_env)
        path = NVML_DEFAULT_LIBRARY;
    dlerror();
    api->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!api->lib) {
        const char *why = dlerror();
        if (from_env)
            return chase_err_set(err, CHASE_ENOTFOUND,
                                 "cannot load the NVML library '%s' named by CHASE_NVML_LIBRARY: %s; fix the path "
                                 "or unset CHASE_NVML_LIBRARY to use the driver's %s",
                                 path, why ? why : "unknown reason", NVML_DEFAULT_LIBRARY);
        return chase_err_set(err, CHASE_ENOTFOUND,
                             "cannot load the NVML library %s: %s; install the NVIDIA driver (it ships NVML), or set "
                             "CHASE_NVML_LIBRARY to the path of libnvidia-ml.so.1",
                             path, why ? why : "unknown reason");
    }

    /* Required: without these chase cannot even list the GPUs. */
    const char *missing = NULL;
    if (RESOLVE(api, init, "nvmlInit_v2", "nvmlInit") < 0)
        missing = "nvmlInit_v2";
    else if (RESOLVE(api, shutdown, "nvmlShutdown") < 0)
        missing = "nvmlShutdown";
    else if (RESOLVE(api, device_count, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount") < 0)
        missing = "nvmlDeviceGetCount_v2";
    else if (RESOLVE(api, device_handle, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex") < 0)
        missing = "nvmlDeviceGetHandleByIndex_v2";
    if (missing) {
        chase_err_set(err, CHASE_ENOTFOUND,
                      "'%s' is not a usable NVML library: it has no %s (nor an older version of it); point "
                      "CHASE_NVML_LIBRARY at the driver's libnvidia-ml.so.1",
                      path, missing);
        nvml_api_unload(api);
        return CHASE_ENOTFOUND;
    }

    /* Optional: a missing one reads as NVML_ERROR_NOT_SUPPORTED for that feature. */
    RESOLVE(api, error_string, "nvmlErrorString");
    RESOLVE(api, device_name, "nvmlDeviceGetName");
    RESOLVE(api, device_uuid, "nvmlDeviceGetUUID");
    int v = RESOLVE(api, device_pci_info, "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2", "nvmlDeviceGetPciInfo");
    api->pci_info_version = v < 0 ? 0 : 3 - v;
    RESOLVE(api, power_limit, "nvmlDeviceGetPowerManagementLimit");
    RESOLVE(api, set_power_limit, "nvmlDeviceSetPowerManagementLimit");
    RESOLVE(api, power_limit_constraints, "nvmlDeviceGetPowerManagementLimitConstraints");
    RESOLVE(api, power_limit_default, "nvmlDeviceGetPowerManagementDefaultLimit");
    RESOLVE(api, power_usage, "nvmlDeviceGetPowerUsage");
    RESOLVE(api, total_energy, "nvmlDeviceGetTotalEnergyConsumption");
    RESOLVE(api, minor_number, "nvmlDeviceGetMinorNumber");
    return CHASE_OK;
}

void nvml_api_unload(nvml_api_t *api)
{
    if (api->lib)
        dlclose(api->lib);
    memset(api, 0, sizeof *api);
}

const char *nvml_api_strerror(const nvml_api_t *api, nvml_return_t rc)
{
    const char *s = api->error_string ? api->error_string(rc) : NULL;
    if (s && *s)
        return s;
    switch (rc) {
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    default: return "Unknown Error";
    }
}
