/* A fake libnvidia-ml: the NVML entry points chase uses, over simulated A40-like GPUs, so that chase's real NVML
 * backend runs in CI without a GPU. The GPUs live in a state file shared by every process (fake_state.h).
 *
 * Each GPU draws min(limit, FAKE_NVML_DRAW_W) * FAKE_NVML_LOAD watts all the time (or, with
 * FAKE_NVML_POWER_CURVE=LIMIT_W:POWER_W,..., the curve's power at its limit, e.g. from a measured profile), and its
 * energy counter grows with that power from the moment the state was created. Failures are injected through the
 * environment (read at nvmlInit): FAKE_NVML_STATE=FILE              share the GPUs through FILE (unset: this process
 * only) FAKE_NVML_GPUS=N                  GPUs in a new state (default 2) FAKE_NVML_NO_PERMISSION=1
 * nvmlDeviceSetPowerManagementLimit returns NO_PERMISSION FAKE_NVML_DRIVER_NOT_LOADED=1     nvmlInit returns
 * DRIVER_NOT_LOADED FAKE_NVML_LOSE_GPU=IDX[,AFTER]    GPU IDX is lost once this process has made AFTER calls on it
 * (default 0) FAKE_NVML_NO_ENERGY=1             nvmlDeviceGetTotalEnergyConsumption returns NOT_SUPPORTED
 *   FAKE_NVML_RESET_ENERGY_AT=N       each GPU's energy counter restarts from 0 at this process's Nth read of it
 *   FAKE_NVML_FAIL_SET=IDX,AFTER,CODE nvmlDeviceSetPowerManagementLimit on GPU IDX answers CODE (NO_PERMISSION,
 *                                     GPU_IS_LOST, UNKNOWN, ... or a number) once this process made AFTER sets on it
 *   FAKE_NVML_INIT_DELAY_MS=N         nvmlInit takes N ms (a slow driver)
 *   FAKE_NVML_MINORS=M0,M1,...        GPU i's device minor number is Mi (default i), as /dev/nvidiaMi; lets a test
 *                                     tell NVML indices from device files, which differ on real machines
 * Built twice: as libnvidia-ml-fake.so (a current driver) and, with FAKE_NVML_V1, as libnvidia-ml-fake-v1.so (an
 * old driver: unversioned entry points only, the v1 PCI struct, no energy counter). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_state.h"

/* Declared independently of chase's src/gpu/nvml_api.h, from NVIDIA's documented ABI, so a layout mistake would
 * have to be made twice to go unnoticed. */
typedef int nvmlReturn_t;
typedef struct fake_device *nvmlDevice_t;

enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NO_PERMISSION = 4,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_UNKNOWN = 999
};

typedef struct {
    char busIdLegacy[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;

typedef struct {
    char busId[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    unsigned int reserved0, reserved1, reserved2, reserved3;
} nvmlPciInfo_v1_t;

struct fake_device {
    int index;
};

/* Per-process state, as the real library has it; the GPUs themselves are in the shared state. */
static struct {
    int refcount;
    fake_state_handle_t h;
    struct fake_device dev[FAKE_NVML_MAX_GPUS];
    unsigned long calls[FAKE_NVML_MAX_GPUS];
    unsigned long energy_reads[FAKE_NVML_MAX_GPUS];
    int no_permission, no_energy, lose_idx;
    unsigned long lose_after, reset_energy_at;
    int fail_set_idx, fail_set_code;  /* FAKE_NVML_FAIL_SET */
    unsigned long fail_set_after;
    unsigned long sets[FAKE_NVML_MAX_GPUS]; /* successful sets by this process, per GPU */
    unsigned int minor[FAKE_NVML_MAX_GPUS]; /* FAKE_NVML_MINORS */
} fake = {.lose_idx = -1, .fail_set_idx = -1};

/* An NVML status from its name (NO_PERMISSION, GPU_IS_LOST, UNKNOWN, ...) or number; -1 when unknown. */
static int status_code(const char *s)
{
    static const struct {
        const char *name;
        int code;
    } names[] = {{"NO_PERMISSION", NVML_ERROR_NO_PERMISSION}, {"GPU_IS_LOST", NVML_ERROR_GPU_IS_LOST},
                 {"UNKNOWN", NVML_ERROR_UNKNOWN},             {"NOT_SUPPORTED", NVML_ERROR_NOT_SUPPORTED},
                 {"INVALID_ARGUMENT", NVML_ERROR_INVALID_ARGUMENT}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name))
            return names[i].code;
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v > 0 ? (int)v : -1;
}

static int env_flag(const char *name)
{
    const char *s = getenv(name);
    return s && *s && strcmp(s, "0") != 0;
}

static nvmlReturn_t fake_init(void)
{
    const char *delay = getenv("FAKE_NVML_INIT_DELAY_MS");
    if (delay && *delay) {
        long ms = strtol(delay, NULL, 10);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL); /* a slow driver: chase must still honour Ctrl-C meanwhile */
    }
    if (env_flag("FAKE_NVML_DRIVER_NOT_LOADED"))
        return NVML_ERROR_DRIVER_NOT_LOADED;
    if (fake.refcount++ > 0)
        return NVML_SUCCESS;
    if (fake_state_open(getenv("FAKE_NVML_STATE"), &fake.h) != 0) {
        fake.refcount = 0;
        return NVML_ERROR_UNKNOWN;
    }
    memset(fake.calls, 0, sizeof fake.calls);
    memset(fake.energy_reads, 0, sizeof fake.energy_reads);
    for (int i = 0; i < FAKE_NVML_MAX_GPUS; i++)
        fake.dev[i].index = i;
    fake.no_permission = env_flag("FAKE_NVML_NO_PERMISSION");
    fake.no_energy = env_flag("FAKE_NVML_NO_ENERGY");
    fake.lose_idx = -1;
    fake.lose_after = 0;
    const char *lose = getenv("FAKE_NVML_LOSE_GPU");
    if (lose && *lose) {
        char *end;
        fake.lose_idx = (int)strtol(lose, &end, 10);
        if (*end == ',')
            fake.lose_after = strtoul(end + 1, &end, 10);
        if (*end)
            fprintf(stderr, "fake NVML: FAKE_NVML_LOSE_GPU=%s should be IDX[,AFTER_CALLS]\n", lose);
    }
    memset(fake.sets, 0, sizeof fake.sets);
    fake.fail_set_idx = -1;
    const char *fail = getenv("FAKE_NVML_FAIL_SET");
    if (fail && *fail) {
        char buf[64], *save = NULL;
        snprintf(buf, sizeof buf, "%s", fail);
        char *a = strtok_r(buf, ",", &save), *b = strtok_r(NULL, ",", &save), *c = strtok_r(NULL, ",", &save);
        if (a && b && c && status_code(c) > 0) {
            fake.fail_set_idx = (int)strtol(a, NULL, 10);
            fake.fail_set_after = strtoul(b, NULL, 10);
            fake.fail_set_code = status_code(c);
        } else {
            fprintf(stderr, "fake NVML: FAKE_NVML_FAIL_SET=%s should be IDX,AFTER_SETS,CODE\n", fail);
        }
    }
    /* By default device files are numbered backwards (GPU 0 of 2 is /dev/nvidia1), as the driver's probe order can
     * make them: a caller that takes the index for the minor number is caught. */
    unsigned n_gpus = fake.h.state->n_gpus;
    for (unsigned i = 0; i < FAKE_NVML_MAX_GPUS; i++)
        fake.minor[i] = i < n_gpus ? n_gpus - 1 - i : i;
    const char *minors = getenv("FAKE_NVML_MINORS");
    if (minors && *minors) {
        const char *p = minors;
        for (int i = 0; i < FAKE_NVML_MAX_GPUS && *p; i++) {
            char *end;
            unsigned long m = strtoul(p, &end, 10);
            if (end == p || (*end && *end != ',') || m > 255) {
                fprintf(stderr, "fake NVML: FAKE_NVML_MINORS=%s should be numbers 0..255, comma-separated\n", minors);
                break;
            }
            fake.minor[i] = (unsigned)m;
            p = *end ? end + 1 : end;
        }
    }
    const char *reset = getenv("FAKE_NVML_RESET_ENERGY_AT");
    fake.reset_energy_at = reset ? strtoul(reset, NULL, 10) : 0;
    return NVML_SUCCESS;
}

/* Validates a device call and counts it; on NVML_SUCCESS the state is locked and *i is the GPU's index. */
static nvmlReturn_t enter_index(int idx, int *i)
{
    if (fake.refcount <= 0)
        return NVML_ERROR_UNINITIALIZED;
    fake_state_lock(&fake.h);
    fake_state_t *s = fake.h.state;
    if (idx < 0 || (unsigned)idx >= s->n_gpus) {
        fake_state_unlock(&fake.h);
        return NVML_ERROR_INVALID_ARGUMENT;
    }
    fake.calls[idx]++;
    if (idx == fake.lose_idx && fake.calls[idx] > fake.lose_after)
        s->gpu[idx].flags |= FAKE_GPU_LOST;
    if (s->gpu[idx].flags & FAKE_GPU_LOST) {
        fake_state_unlock(&fake.h);
        return NVML_ERROR_GPU_IS_LOST;
    }
    *i = idx;
    return NVML_SUCCESS;
}

static nvmlReturn_t enter(nvmlDevice_t device, int *i)
{
    if (!device || device < fake.dev || device >= fake.dev + FAKE_NVML_MAX_GPUS)
        return NVML_ERROR_INVALID_ARGUMENT;
    return enter_index(device->index, i);
}

static nvmlReturn_t leave(nvmlReturn_t rc)
{
    fake_state_unlock(&fake.h);
    return rc;
}

static nvmlReturn_t copy_text(char *dst, unsigned int length, const char *src)
{
    if (!dst)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(src) + 1 > length)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(dst, src, strlen(src) + 1);
    return NVML_SUCCESS;
}

static nvmlReturn_t fake_count(unsigned int *count)
{
    if (fake.refcount <= 0)
        return NVML_ERROR_UNINITIALIZED;
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    fake_state_lock(&fake.h);
    *count = fake.h.state->n_gpus;
    fake_state_unlock(&fake.h);
    return NVML_SUCCESS;
}

static nvmlReturn_t fake_handle(unsigned int index, nvmlDevice_t *device)
{
    int i;
    if (!device)
        return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t rc = enter_index(index > FAKE_NVML_MAX_GPUS ? -1 : (int)index, &i);
    if (rc != NVML_SUCCESS)
        return rc;
    *device = &fake.dev[i];
    return leave(NVML_SUCCESS);
}

nvmlReturn_t nvmlInit(void)
{
    return fake_init();
}

nvmlReturn_t nvmlShutdown(void)
{
    if (fake.refcount <= 0)
        return NVML_ERROR_UNINITIALIZED;
    if (--fake.refcount == 0)
        fake_state_close(&fake.h);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount(unsigned int *count)
{
    return fake_count(count);
}

nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device)
{
    return fake_handle(index, device);
}

#ifndef FAKE_NVML_V1
nvmlReturn_t nvmlInit_v2(void)
{
    return fake_init();
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count)
{
    return fake_count(count);
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    return fake_handle(index, device);
}
#endif

const char *nvmlErrorString(nvmlReturn_t rc)
{
    switch (rc) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    default: return "Unknown Error";
    }
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    int i;
    nvmlReturn_t rc = enter(device, &i);
    if (rc != NVML_SUCCESS)
        return rc;
#ifdef FAKE_NVML_V1
    return leave(copy_text(name, length, "Tesla P100-PCIE-16GB"));
#else
    return leave(copy_text(name, length, "NVIDIA A40"));
#endif
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    int i;
    nvmlReturn_t rc = enter(device, &i);
    if (rc != NVML_SUCCESS)
        return rc;
    char text[80];
    snprintf(text, sizeof text, "GPU-fa4e0000-0000-4000-8000-%012d", i);
    return leave(copy_text(uuid, length, text));
}

/* Bus numbers 0x41, 0x42, ... as on a typical 2-socket server. */
static void pci_fields(int i, unsigned int *domain, unsigned int *bus)
{
    *domain = 0;
    *bus = 0x41u + (unsigned)i;
}

nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t device, nvmlPciInfo_v1_t *pci)
{
    int i;
    nvmlReturn_t rc = enter(device, &i);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!pci)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    memset(pci, 0, sizeof *pci);
    pci_fields(i, &pci->domain, &pci->bus);
    pci->pciDeviceId = 0x223510de;
    snprintf(pci->busId, sizeof pci->busId, "%04x:%02x:00.0", pci->domain, pci->bus);
    return leave(NVML_SUCCESS);
}

#ifndef FAKE_NVML_V1
static nvmlReturn_t pci_info_new(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    int i;
    nvmlReturn_t rc = enter(device, &i);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!pci)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    memset(pci, 0, sizeof *pci);
    pci_fields(i, &pci->domain, &pci->bus);
    pci->pciDeviceId = 0x223510de;
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04x:%02x:00.0", pci->domain, pci->bus);
    snprintf(pci->busId, sizeof pci->busId, "%08X:%02X:00.0", pci->domain, pci->bus);
    return leave(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    return pci_info_new(device, pci);
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    return pci_info_new(device, pci);
}
#endif

nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, unsigned int *limit)
{
    int i;
    nvmlReturn_t rc = enter(device, &i);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!limit)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    *limit = fake.h.state->gpu[i].limit_mw;
    return leave(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetPowerManagementDefaultLimit(nvmlDevice_t device, unsigned int *limit)
{
    int i;
    nvmlReturn_t rc = enter(device, &i);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!limit)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    *limit = fake.h.state->gpu[i].default_mw;
    return leave(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetPowerManagementLimitConstraints(nvmlDevice_t device, unsigned int *min_mw,
                                                          unsigned int *max_mw)
{
    int i;
    nvmlReturn_t rc = enter(device, &i);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!min_mw || !max_mw)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    *min_mw = fake.h.state->gpu[i].min_mw;
    *max_mw = fake.h.state->gpu[i].max_mw;
    return leave(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceSetPowerManagementLimit(nvmlDevice_t device, unsigned int limit)
{
    int i;
    nvmlReturn_t rc = enter(device, &i);
    if (rc != NVML_SUCCESS)
        return rc;
    if (fake.no_permission)
        return leave(NVML_ERROR_NO_PERMISSION);
    if (i == fake.fail_set_idx && fake.sets[i] >= fake.fail_set_after)
        return leave(fake.fail_set_code);
    fake_gpu_state_t *g = &fake.h.state->gpu[i];
    if (limit < g->min_mw || limit > g->max_mw)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    fake_state_set_limit(fake.h.state, i, limit, fake_state_now_ns());
    g->set_calls++;
    fake.sets[i]++;
    return leave(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned int *minor)
{
    int i;
    nvmlReturn_t rc = enter(device, &i);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!minor)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    *minor = fake.minor[i];
    return leave(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power)
{
    int i;
    nvmlReturn_t rc = enter(device, &i);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!power)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    *power = (unsigned int)(fake_state_power_mw(fake.h.state, i) + 0.5);
    return leave(NVML_SUCCESS);
}

#ifndef FAKE_NVML_V1
nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy)
{
    int i;
    nvmlReturn_t rc = enter(device, &i);
    if (rc != NVML_SUCCESS)
        return rc;
    if (!energy)
        return leave(NVML_ERROR_INVALID_ARGUMENT);
    if (fake.no_energy)
        return leave(NVML_ERROR_NOT_SUPPORTED);
    fake_gpu_state_t *g = &fake.h.state->gpu[i];
    double total = fake_state_energy_mj(fake.h.state, i, fake_state_now_ns());
    if (++fake.energy_reads[i] == fake.reset_energy_at)
        g->energy_base_mj = total; /* as after a driver reload: counting starts again from 0 */
    double v = total - g->energy_base_mj;
    *energy = (unsigned long long)(v > 0 ? v : 0);
    return leave(NVML_SUCCESS);
}
#endif
