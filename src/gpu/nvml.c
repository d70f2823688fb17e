/* The NVML GPU backend: chase's view (watts, joules, a counter that never goes backwards) of NVML's (milliwatts,
 * millijoules, a counter that may reset or be missing). */
#include "chase/nvml.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu/nvml_api.h"

/* How a GPU's energy is read: NVML's counter (Volta and newer) or, when the driver says NOT_SUPPORTED, power
 * samples integrated over the calls to energy() and info() (trapezoids), which is only as good as the sampling is
 * dense. A limit change closes the interval at the old power, and the first reading after it stands for the next. */
typedef enum { ENERGY_UNKNOWN, ENERGY_COUNTER, ENERGY_INTEGRATED } energy_mode_t;

typedef struct nvml_gpu {
    nvml_device_t dev;
    int lost;         /* NVML said GPU_IS_LOST: every later call fails fast, naming the GPU */
    int lost_at_open; /* ... already when chase opened NVML */
    int minor;        /* N of its device file /dev/nvidiaN; -1 when NVML does not say */
    char label[160];  /* "GPU 1 (NVIDIA A40, 00000000:41:00.0)" for messages */
    energy_mode_t mode;
    double reported_j;       /* last value energy() returned: the floor for the next one */
    double counter_last_j;   /* last raw counter reading, to spot a reset */
    double counter_offset_j; /* sum of the counter values lost to resets */
    int counter_seen;
    double sample_t; /* integrated mode: time (s, monotonic) and power (W) of the last sample */
    double sample_w;
} nvml_gpu_t;

typedef struct chase_nvml {
    nvml_api_t api;
    int initialised;
    int n;
    nvml_gpu_t *gpu;
} chase_nvml_t;

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Turns an NVML failure of `what` on GPU idx (-1: none) into a chase code with a message that says what to do. */
static int nvml_fail(chase_nvml_t *nv, int idx, const char *what, nvml_return_t rc, chase_err_t *err)
{
    const char *text = nvml_api_strerror(&nv->api, rc);
    char label[176];
    if (idx >= 0)
        snprintf(label, sizeof label, "%s", nv->gpu[idx].label);
    else
        snprintf(label, sizeof label, "NVML");
    switch (rc) {
    case NVML_ERROR_GPU_IS_LOST:
        if (idx >= 0)
            nv->gpu[idx].lost = 1;
        return chase_err_set(err, CHASE_EGPU,
                             "%s is lost (%s: %s): it fell off the bus or the driver gave up on it; see dmesg and "
                             "nvidia-smi, the GPU needs a reset",
                             label, what, text);
    case NVML_ERROR_NO_PERMISSION:
        return chase_err_set(err, CHASE_EPERM,
                             "%s: %s: %s; setting power limits needs root (or CAP_SYS_ADMIN); run chase as root, "
                             "or use --dry-run to observe only",
                             label, what, text);
    case NVML_ERROR_NOT_SUPPORTED:
    case NVML_ERROR_FUNCTION_NOT_FOUND:
        return chase_err_set(err, CHASE_ENOTSUP, "%s: %s: %s (this GPU or driver does not offer it)", label, what,
                             text);
    case NVML_ERROR_DRIVER_NOT_LOADED:
        return chase_err_set(err, CHASE_EGPU,
                             "%s: %s: %s; the NVIDIA kernel driver is not loaded: check that nvidia-smi works "
                             "(modprobe nvidia, or install the driver)",
                             label, what, text);
    case NVML_ERROR_INVALID_ARGUMENT: return chase_err_set(err, CHASE_EINVAL, "%s: %s: %s", label, what, text);
    default: return chase_err_set(err, CHASE_EGPU, "%s: %s failed: %s (NVML code %d)", label, what, text, rc);
    }
}

/* Checks idx and that the GPU is still there; fills err and returns its code otherwise. */
static int gpu_usable(chase_nvml_t *nv, int idx, chase_err_t *err)
{
    if (idx < 0 || idx >= nv->n)
        return chase_err_set(err, CHASE_ENOTFOUND, "no GPU %d: NVML reports %d GPU%s (indices 0..%d)", idx, nv->n,
                             nv->n == 1 ? "" : "s", nv->n - 1);
    if (nv->gpu[idx].lost)
        return chase_err_set(err, CHASE_EGPU,
                             "%s is lost: it stopped answering %s; see dmesg and nvidia-smi, the GPU "
                             "needs a reset",
                             nv->gpu[idx].label,
                             nv->gpu[idx].lost_at_open ? "before chase started" : "earlier in this run");
    return CHASE_OK;
}

static int nvml_count(void *self, int *n, chase_err_t *err)
{
    (void)err;
    chase_nvml_t *nv = self;
    *n = nv->n;
    return CHASE_OK;
}

/* Reads a milliwatt value through fn into *w; NAN (and CHASE_OK) when this GPU or driver does not offer it. */
static int read_mw(chase_nvml_t *nv, int idx, const char *what, nvml_return_t (*fn)(nvml_device_t, unsigned int *),
                   double *w, chase_err_t *err)
{
    *w = NAN;
    if (!fn)
        return CHASE_OK;
    unsigned int mw = 0;
    nvml_return_t rc = fn(nv->gpu[idx].dev, &mw);
    if (rc == NVML_SUCCESS) {
        *w = mw / 1000.0;
        return CHASE_OK;
    }
    if (rc == NVML_ERROR_NOT_SUPPORTED || rc == NVML_ERROR_NO_PERMISSION)
        return CHASE_OK;
    return nvml_fail(nv, idx, what, rc, err);
}

/* Energy from NVML's counter, with resets folded into an offset so the result never goes backwards. */
static int energy_counter(chase_nvml_t *nv, int idx, double *joules, nvml_return_t *rc_out)
{
    nvml_gpu_t *g = &nv->gpu[idx];
    unsigned long long mj = 0;
    nvml_return_t rc = nv->api.total_energy(g->dev, &mj);
    *rc_out = rc;
    if (rc != NVML_SUCCESS)
        return -1;
    double raw = (double)mj / 1000.0;
    if (g->counter_seen && raw < g->counter_last_j)
        g->counter_offset_j += g->counter_last_j; /* the counter restarted from 0 (driver reload, GPU reset) */
    g->counter_last_j = raw;
    g->counter_seen = 1;
    *joules = g->counter_offset_j + raw;
    return 0;
}

/* Energy integrated from power samples, continuing from the last value reported so a switch never goes back. */
static int energy_integrated(chase_nvml_t *nv, int idx, double *joules, chase_err_t *err)
{
    nvml_gpu_t *g = &nv->gpu[idx];
    double w;
    int rc = read_mw(nv, idx, "nvmlDeviceGetPowerUsage", nv->api.power_usage, &w, err);
    if (rc != CHASE_OK)
        return rc;
    if (isnan(w))
        return chase_err_set(err, CHASE_ENOTSUP,
                             "%s offers neither an energy counter nor power readings: chase cannot measure its energy",
                             g->label);
    double t = monotonic_s();
    if (g->mode != ENERGY_INTEGRATED) {
        g->mode = ENERGY_INTEGRATED;
        g->sample_t = t;
        g->sample_w = w;
    }
    /* After a limit change the power at the last sample is unknown (NAN): the new reading stands for the interval. */
    double w_before = isnan(g->sample_w) ? w : g->sample_w;
    g->reported_j += 0.5 * (w + w_before) * (t - g->sample_t);
    g->sample_t = t;
    g->sample_w = w;
    *joules = g->reported_j;
    return CHASE_OK;
}

static int nvml_energy(void *self, int idx, double *joules, chase_err_t *err)
{
    chase_nvml_t *nv = self;
    int rc = gpu_usable(nv, idx, err);
    if (rc != CHASE_OK)
        return rc;
    nvml_gpu_t *g = &nv->gpu[idx];
    if (g->mode != ENERGY_INTEGRATED && nv->api.total_energy) {
        nvml_return_t nrc;
        double j;
        if (energy_counter(nv, idx, &j, &nrc) == 0) {
            g->mode = ENERGY_COUNTER;
            if (j < g->reported_j)
                j = g->reported_j;
            g->reported_j = j;
            *joules = j;
            return CHASE_OK;
        }
        if (nrc != NVML_ERROR_NOT_SUPPORTED)
            return nvml_fail(nv, idx, "nvmlDeviceGetTotalEnergyConsumption", nrc, err);
    }
    return energy_integrated(nv, idx, joules, err);
}

static int nvml_get_setting(void *self, int idx, chase_knob_t knob, chase_setting_range_t *out, chase_err_t *err)
{
    chase_nvml_t *nv = self;
    *out = (chase_setting_range_t){NAN, NAN, NAN, NAN};
    int rc = gpu_usable(nv, idx, err);
    if (rc != CHASE_OK)
        return rc;
    if (knob != CHASE_KNOB_POWER_LIMIT)
        return chase_err_set(err, CHASE_ENOTSUP, "%s: chase's NVML backend does not turn the %s",
                             nv->gpu[idx].label, chase_knob_name(knob));
    nvml_device_t dev = nv->gpu[idx].dev;
    if ((rc = read_mw(nv, idx, "nvmlDeviceGetPowerManagementLimit", nv->api.power_limit, &out->current, err)) ||
        (rc = read_mw(nv, idx, "nvmlDeviceGetPowerManagementDefaultLimit", nv->api.power_limit_default,
                      &out->default_value, err)))
        return rc;
    if (nv->api.power_limit_constraints) {
        unsigned int lo = 0, hi = 0;
        nvml_return_t nrc = nv->api.power_limit_constraints(dev, &lo, &hi);
        if (nrc == NVML_SUCCESS) {
            out->min = lo / 1000.0;
            out->max = hi / 1000.0;
        } else if (nrc != NVML_ERROR_NOT_SUPPORTED && nrc != NVML_ERROR_NO_PERMISSION) {
            return nvml_fail(nv, idx, "nvmlDeviceGetPowerManagementLimitConstraints", nrc, err);
        }
    }
    return CHASE_OK;
}

static int nvml_info(void *self, int idx, chase_gpu_info_t *out, chase_err_t *err)
{
    chase_nvml_t *nv = self;
    memset(out, 0, sizeof *out);
    out->index = idx;
    out->minor = -1;
    out->pl_w = out->default_pl_w = out->min_pl_w = out->max_pl_w = out->power_w = out->energy_j = NAN;
    int rc = gpu_usable(nv, idx, err);
    if (rc != CHASE_OK)
        return rc;
    nvml_gpu_t *g = &nv->gpu[idx];
    nvml_return_t nrc;
    if (nv->api.device_name && (nrc = nv->api.device_name(g->dev, out->name, sizeof out->name)) != NVML_SUCCESS) {
        out->name[0] = '\0';
        if (nrc == NVML_ERROR_GPU_IS_LOST)
            return nvml_fail(nv, idx, "nvmlDeviceGetName", nrc, err);
    }
    if (nv->api.device_uuid && (nrc = nv->api.device_uuid(g->dev, out->uuid, sizeof out->uuid)) != NVML_SUCCESS) {
        out->uuid[0] = '\0';
        if (nrc == NVML_ERROR_GPU_IS_LOST)
            return nvml_fail(nv, idx, "nvmlDeviceGetUUID", nrc, err);
    }
    if (nv->api.device_pci_info) {
        nvml_pci_info_t pci;
        memset(&pci, 0, sizeof pci);
        nrc = nv->api.device_pci_info(g->dev, &pci);
        if (nrc == NVML_SUCCESS) {
            const char *id = nv->api.pci_info_version >= 2 ? pci.bus_id : pci.bus_id_legacy;
            size_t cap = nv->api.pci_info_version >= 2 ? sizeof pci.bus_id : sizeof pci.bus_id_legacy;
            snprintf(out->pci_bus_id, sizeof out->pci_bus_id, "%.*s", (int)strnlen(id, cap), id);
        } else if (nrc == NVML_ERROR_GPU_IS_LOST) {
            return nvml_fail(nv, idx, "nvmlDeviceGetPciInfo", nrc, err);
        }
    }
    out->name[sizeof out->name - 1] = out->uuid[sizeof out->uuid - 1] = '\0';
    /* The minor number ties the GPU to its device file (/dev/nvidiaN), which is how a scheduler names it; it was
     * read once, when NVML was opened. */
    out->minor = g->minor;

    chase_setting_range_t pl;
    if ((rc = nvml_get_setting(nv, idx, CHASE_KNOB_POWER_LIMIT, &pl, err)) ||
        (rc = read_mw(nv, idx, "nvmlDeviceGetPowerUsage", nv->api.power_usage, &out->power_w, err)))
        return rc;
    out->pl_w = pl.current;
    out->default_pl_w = pl.default_value;
    out->min_pl_w = pl.min;
    out->max_pl_w = pl.max;
    double j;
    chase_err_t energy_err;
    rc = nvml_energy(nv, idx, &j, &energy_err);
    if (rc == CHASE_OK)
        out->energy_j = j;
    else if (rc != CHASE_ENOTSUP) {
        if (err)
            *err = energy_err;
        return rc;
    }
    return CHASE_OK;
}

static int nvml_set_setting(void *self, int idx, const chase_setting_t *set, chase_err_t *err)
{
    chase_nvml_t *nv = self;
    int rc = gpu_usable(nv, idx, err);
    if (rc != CHASE_OK)
        return rc;
    nvml_gpu_t *g = &nv->gpu[idx];
    if (set->knob != CHASE_KNOB_POWER_LIMIT)
        return chase_err_set(err, CHASE_ENOTSUP, "%s: chase's NVML backend does not turn the %s", g->label,
                             chase_knob_name(set->knob));
    double w = set->value;
    if (!isfinite(w) || w <= 0 || w > 1e6)
        return chase_err_set(err, CHASE_EINVAL, "%s: power limit %g W is not a usable value", g->label, w);
    if (!nv->api.set_power_limit)
        return chase_err_set(err, CHASE_ENOTSUP,
                             "%s: this NVML has no nvmlDeviceSetPowerManagementLimit; chase can only observe",
                             g->label);
    if (g->mode == ENERGY_INTEGRATED) {
        /* Close the integration interval at the old power, so the change does not smear over the whole interval. */
        double j;
        if ((rc = energy_integrated(nv, idx, &j, err)) != CHASE_OK && rc != CHASE_ENOTSUP)
            return rc;
    }
    unsigned int mw = (unsigned int)lround(w * 1000.0);
    if (nv->api.power_limit_constraints) {
        unsigned int lo = 0, hi = 0;
        nvml_return_t nrc = nv->api.power_limit_constraints(g->dev, &lo, &hi);
        if (nrc == NVML_ERROR_GPU_IS_LOST)
            return nvml_fail(nv, idx, "nvmlDeviceGetPowerManagementLimitConstraints", nrc, err);
        if (nrc == NVML_SUCCESS && hi > 0 && (mw < lo || mw > hi))
            return chase_err_set(err, CHASE_ERANGE, "%s: power limit %g W is outside what the GPU allows (%g..%g W)",
                                 g->label, w, lo / 1000.0, hi / 1000.0);
    }
    nvml_return_t nrc = nv->api.set_power_limit(g->dev, mw);
    if (nrc != NVML_SUCCESS)
        return nvml_fail(nv, idx, "nvmlDeviceSetPowerManagementLimit", nrc, err);
    if (g->mode == ENERGY_INTEGRATED)
        g->sample_w = NAN;
    return CHASE_OK;
}

static void nvml_destroy(void *self)
{
    chase_nvml_t *nv = self;
    if (!nv)
        return;
    if (nv->initialised && nv->api.shutdown)
        nv->api.shutdown();
    nvml_api_unload(&nv->api);
    free(nv->gpu);
    free(nv);
}

static const chase_gpu_ops_t nvml_ops = {
    .name = "nvml",
    .count = nvml_count,
    .info = nvml_info,
    .get_setting = nvml_get_setting,
    .set_setting = nvml_set_setting,
    .energy = nvml_energy,
    .destroy = nvml_destroy,
};

/* Gets GPU i's handle and a label for messages; a GPU that is lost already is kept (and marked) so that the
 * indices stay those of nvidia-smi. */
static int open_gpu(chase_nvml_t *nv, int i, chase_err_t *err)
{
    nvml_gpu_t *g = &nv->gpu[i];
    snprintf(g->label, sizeof g->label, "GPU %d", i);
    g->minor = -1;
    nvml_return_t rc = nv->api.device_handle((unsigned int)i, &g->dev);
    if (rc == NVML_ERROR_GPU_IS_LOST) {
        g->lost = g->lost_at_open = 1;
        return CHASE_OK;
    }
    if (rc != NVML_SUCCESS)
        return nvml_fail(nv, -1, "nvmlDeviceGetHandleByIndex", rc, err);
    char name[NVML_NAME_BUFFER_SIZE] = "";
    nvml_pci_info_t pci;
    memset(&pci, 0, sizeof pci);
    if (nv->api.device_name && nv->api.device_name(g->dev, name, sizeof name) != NVML_SUCCESS)
        name[0] = '\0';
    name[sizeof name - 1] = '\0';
    const char *bus = "";
    if (nv->api.device_pci_info && nv->api.device_pci_info(g->dev, &pci) == NVML_SUCCESS) {
        pci.bus_id_legacy[sizeof pci.bus_id_legacy - 1] = '\0';
        pci.bus_id[sizeof pci.bus_id - 1] = '\0';
        bus = nv->api.pci_info_version >= 2 ? pci.bus_id : pci.bus_id_legacy;
    }
    unsigned int minor = 0;
    if (nv->api.minor_number && nv->api.minor_number(g->dev, &minor) == NVML_SUCCESS && minor < 1u << 20)
        g->minor = (int)minor;
    if (name[0] || bus[0])
        snprintf(g->label, sizeof g->label, "GPU %d (%s%s%s)", i, name, name[0] && bus[0] ? ", " : "", bus);
    return CHASE_OK;
}

int chase_gpu_nvml_open(chase_gpu_t **out, chase_err_t *err)
{
    *out = NULL;
    chase_nvml_t *nv = calloc(1, sizeof *nv);
    chase_gpu_t *g = calloc(1, sizeof *g);
    if (!nv || !g) {
        free(nv);
        free(g);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory opening NVML");
    }
    int rc = nvml_api_load(&nv->api, err);
    if (rc != CHASE_OK)
        goto fail;
    nvml_return_t nrc = nv->api.init();
    if (nrc != NVML_SUCCESS) {
        if (nrc == NVML_ERROR_NO_PERMISSION)
            rc = chase_err_set(err, CHASE_EPERM,
                               "nvmlInit: %s: this user may not open the NVIDIA devices (/dev/nvidia*); check the "
                               "device permissions or the container's GPU access",
                               nvml_api_strerror(&nv->api, nrc));
        else
            rc = nvml_fail(nv, -1, "nvmlInit", nrc, err);
        goto fail;
    }
    nv->initialised = 1;
    unsigned int count = 0;
    nrc = nv->api.device_count(&count);
    if (nrc != NVML_SUCCESS) {
        rc = nvml_fail(nv, -1, "nvmlDeviceGetCount", nrc, err);
        goto fail;
    }
    if (count > 4096) {
        rc = chase_err_set(err, CHASE_EGPU, "NVML reports %u GPUs, which cannot be right", count);
        goto fail;
    }
    nv->n = (int)count;
    nv->gpu = calloc(count ? count : 1, sizeof *nv->gpu);
    if (!nv->gpu) {
        rc = chase_err_set(err, CHASE_ENOMEM, "out of memory for %u GPUs", count);
        goto fail;
    }
    for (int i = 0; i < nv->n; i++)
        if ((rc = open_gpu(nv, i, err)) != CHASE_OK)
            goto fail;
    g->ops = &nvml_ops;
    g->self = nv;
    *out = g;
    return CHASE_OK;
fail:
    nvml_destroy(nv);
    free(g);
    return rc;
}

int chase_gpu_nvml_minor(const chase_gpu_t *g, int idx)
{
    if (!g || g->ops != &nvml_ops)
        return -1;
    const chase_nvml_t *nv = g->self;
    return idx >= 0 && idx < nv->n ? nv->gpu[idx].minor : -1;
}
