/* GPUs behind one interface: backends (NVML loaded at run time, a simulated GPU driven by a profile, later the node
 * agent) opened by one factory, and the group of a job's GPUs that remembers their original settings and puts them
 * back (chase/gpu_group.h). */
#ifndef CHASE_GPU_H
#define CHASE_GPU_H

#include <stddef.h>

#include "chase/error.h"
#include "chase/profile.h"
#include "chase/setting.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a backend reports of one GPU for people (chase devices, reports); values it cannot read are NAN (numbers)
 * or "" (text). The group reads and sets settings through get_setting / set_setting, never through these. */
typedef struct chase_gpu_info {
    int index;
    char name[96];
    char uuid[96];
    char pci_bus_id[32];
    int minor;           /* the device file's minor number (/dev/nvidiaN is N), -1 when the backend cannot say */
    double pl_w;         /* current power limit */
    double default_pl_w;
    double min_pl_w;
    double max_pl_w;
    double power_w;      /* current draw */
    double energy_j;     /* cumulative energy counter */
} chase_gpu_info_t;

/* What a backend implements. energy returns a cumulative counter in joules that never goes backwards (backends
 * hide counter resets). get_setting and set_setting return CHASE_ENOTSUP for a knob the backend cannot turn;
 * set_setting returns CHASE_EPERM when the caller may not change it.
 *
 * claim is optional (NULL for NVML and the simulated GPUs): a backend whose GPUs are shared with other users (the
 * node agent) takes the job's GPUs with it before anything is changed, so that a conflict is reported before the
 * job starts: CHASE_ESTATE when another session holds one (err names its holder), CHASE_EPERM when the caller may
 * not set them at all. A backend with claim puts the GPUs back itself when the claim ends (its process exits, or
 * the backend is freed), so the group keeps no journal for it. */
typedef struct chase_gpu_ops {
    const char *name;
    int (*count)(void *self, int *n, chase_err_t *err);
    int (*info)(void *self, int idx, chase_gpu_info_t *out, chase_err_t *err);
    int (*get_setting)(void *self, int idx, chase_knob_t knob, chase_setting_range_t *out, chase_err_t *err);
    int (*set_setting)(void *self, int idx, const chase_setting_t *s, chase_err_t *err);
    int (*energy)(void *self, int idx, double *joules, chase_err_t *err);
    int (*claim)(void *self, const int *idx, int n, chase_err_t *err);
    void (*destroy)(void *self);
} chase_gpu_ops_t;

/* A backend: its ops and its state. */
typedef struct chase_gpu {
    const chase_gpu_ops_t *ops;
    void *self;
} chase_gpu_t;

/* Which backend chase_gpu_open opens, and what it needs. */
typedef struct chase_gpu_open_opts {
    const char *backend;            /* "nvml" (default when NULL), "sim", "agent" (the node agent chased), or
                                       "auto": the agent when agent_socket or $CHASE_AGENT names it, or when not
                                       root and the default socket exists; NVML otherwise ("none" names no agent) */
    const chase_profile_t *profile; /* sim: what the simulated GPUs follow (kept by reference) */
    int n_gpus;                     /* sim: how many (default 1) */
    const char *agent_socket;       /* agent: the agent's socket (NULL: $CHASE_AGENT, else /run/chase/chased.sock) */
} chase_gpu_open_opts_t;

/* Opens a backend by kind. NVML: CHASE_ENOTFOUND when the library is missing, CHASE_EGPU when the driver is not
 * loaded, CHASE_EPERM when the devices may not be opened; agent: CHASE_ENOTFOUND when no agent answers at the
 * socket; err says which, and what to do. */
int chase_gpu_open(const chase_gpu_open_opts_t *opts, chase_gpu_t **out, chase_err_t *err);

/* Names of the backends chase_gpu_open knows, NULL-terminated. */
const char *const *chase_gpu_backends(void);

/* The backend's name ("nvml", "sim", "agent"); "?" for NULL. */
const char *chase_gpu_backend(const chase_gpu_t *g);

/* Frees g and its backend (NULL is fine). */
void chase_gpu_free(chase_gpu_t *g);

/* Wrappers over the ops. */
int chase_gpu_count(chase_gpu_t *g, int *n, chase_err_t *err);
int chase_gpu_info(chase_gpu_t *g, int idx, chase_gpu_info_t *out, chase_err_t *err);
int chase_gpu_get_setting(chase_gpu_t *g, int idx, chase_knob_t knob, chase_setting_range_t *out, chase_err_t *err);
int chase_gpu_set_setting(chase_gpu_t *g, int idx, const chase_setting_t *s, chase_err_t *err);
int chase_gpu_energy(chase_gpu_t *g, int idx, double *joules, chase_err_t *err);

/* Claims GPUs idx[0..n) (see chase_gpu_ops_t.claim); CHASE_OK at once for a backend without claims. */
int chase_gpu_claim(chase_gpu_t *g, const int *idx, int n, chase_err_t *err);

/* The backend indices of the GPUs the job may use, from its environment: CUDA_VISIBLE_DEVICES (indices, or GPU
 * UUIDs or their unique prefixes) and, when that is unset, NVIDIA_VISIBLE_DEVICES (a container's GPUs). *n = -1
 * when neither restricts the job (all GPUs); else idx[0..*n) and *source names the variable. CUDA indices are
 * NVML's only under CUDA_DEVICE_ORDER=PCI_BUS_ID or when all GPUs are of one model: otherwise, and for MIG
 * instances, the mapping is ambiguous and the answer is CHASE_EINVAL asking for --gpus. */
int chase_gpu_visible(chase_gpu_t *gpu, int *idx, int cap, int *n, const char **source, chase_err_t *err);

/* ---- The simulated backend: GPUs that follow a profile on the caller's clock (simulations and tests). ---- */

/* Opens n_gpus simulated GPUs at the profile's top setting (profile kept by reference). */
int chase_gpu_sim_open(const chase_profile_t *profile, int n_gpus, chase_gpu_t **out, chase_err_t *err);

/* The throughput of the job on simulated GPUs g: that of the slowest one at its setting (a data-parallel job waits
 * for it). NAN when g is not simulated. */
double chase_gpu_sim_throughput(const chase_gpu_t *g);

/* Lets dt seconds of work pass on simulated GPUs g: each GPU's energy counter grows by its power times dt. */
void chase_gpu_sim_advance(chase_gpu_t *g, double dt);

/* Marks the simulated job done: the GPUs draw nothing from now on (their power reads 0). */
void chase_gpu_sim_idle(chase_gpu_t *g);

#ifdef __cplusplus
}
#endif
#endif
