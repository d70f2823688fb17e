/* The slice of NVML's C ABI that chase uses, declared here so that no NVIDIA header or SDK is needed to build.
 * Values and layouts follow NVIDIA's nvml.h; the library itself is loaded at run time (nvml_load.c). */
#ifndef CHASE_GPU_NVML_API_H
#define CHASE_GPU_NVML_API_H

#include "chase/error.h"

/* nvmlReturn_t is a C enum: an int in the ABI. Only the codes chase reacts to are named. */
typedef int nvml_return_t;
enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NO_PERMISSION = 4,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_LIBRARY_NOT_FOUND = 12,
    NVML_ERROR_FUNCTION_NOT_FOUND = 13,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_UNKNOWN = 999
};

/* A device handle is opaque: chase only passes it back to NVML. */
typedef struct nvml_device *nvml_device_t;

/* Buffer sizes NVML documents for names and UUIDs (the _V2 sizes, large enough for every driver). */
#define NVML_NAME_BUFFER_SIZE 96
#define NVML_UUID_BUFFER_SIZE 96

/* nvmlPciInfo_t as filled by nvmlDeviceGetPciInfo_v2 and _v3. The v1 call (plain nvmlDeviceGetPciInfo) fills an
 * older, shorter struct whose first member is a 16-byte bus id followed by 5 + 4 unsigned ints (52 bytes): it fits
 * inside this one and its bus id lands in bus_id_legacy, so one buffer serves every version. */
typedef struct nvml_pci_info {
    char bus_id_legacy[16];
    unsigned int domain;
    unsigned int bus;
    unsigned int device;
    unsigned int pci_device_id;
    unsigned int pci_subsystem_id;
    char bus_id[32];
} nvml_pci_info_t;

/* The entry points, looked up newest version first. NULL members are optional ones the library lacks. */
typedef struct nvml_api {
    void *lib;
    nvml_return_t (*init)(void);
    nvml_return_t (*shutdown)(void);
    const char *(*error_string)(nvml_return_t);
    nvml_return_t (*device_count)(unsigned int *count);
    nvml_return_t (*device_handle)(unsigned int index, nvml_device_t *device);
    nvml_return_t (*device_name)(nvml_device_t device, char *name, unsigned int length);
    nvml_return_t (*device_uuid)(nvml_device_t device, char *uuid, unsigned int length);
    nvml_return_t (*device_pci_info)(nvml_device_t device, nvml_pci_info_t *pci);
    int pci_info_version; /* 1, 2 or 3: which bus id member device_pci_info fills */
    nvml_return_t (*power_limit)(nvml_device_t device, unsigned int *limit_mw);
    nvml_return_t (*set_power_limit)(nvml_device_t device, unsigned int limit_mw);
    nvml_return_t (*power_limit_constraints)(nvml_device_t device, unsigned int *min_mw, unsigned int *max_mw);
    nvml_return_t (*power_limit_default)(nvml_device_t device, unsigned int *default_mw);
    nvml_return_t (*power_usage)(nvml_device_t device, unsigned int *power_mw);
    nvml_return_t (*total_energy)(nvml_device_t device, unsigned long long *energy_mj);
    nvml_return_t (*minor_number)(nvml_device_t device, unsigned int *minor);
} nvml_api_t;

/* Loads the library named by CHASE_NVML_LIBRARY (default libnvidia-ml.so.1) and resolves its entry points.
 * CHASE_ENOTFOUND when the library or a required entry point is missing; err says what to do. Does not init. */
int nvml_api_load(nvml_api_t *api, chase_err_t *err);

/* Unloads what nvml_api_load loaded (safe on a zeroed api). */
void nvml_api_unload(nvml_api_t *api);

/* NVML's text for rc, or a generic text when the library gives none; never NULL. */
const char *nvml_api_strerror(const nvml_api_t *api, nvml_return_t rc);

#endif
