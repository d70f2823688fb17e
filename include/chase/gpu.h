/* GPU backends behind one interface: NVML (loaded at run time) and a simulated GPU driven by a profile. */
#ifndef CHASE_GPU_H
#define CHASE_GPU_H

#include <stddef.h>

#include "chase/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a backend reports of one GPU; values it cannot read are NAN (numbers) or "" (text). */
typedef struct chase_gpu_info {
    int index;
    char name[96];
    char uuid[96];
    char pci_bus_id[32];
    double pl_w;         /* current power limit */
    double default_pl_w;
    double min_pl_w;
    double max_pl_w;
    double power_w;      /* current draw */
    double energy_j;     /* cumulative energy counter */
} chase_gpu_info_t;

/* What a backend implements. energy returns a cumulative counter in joules that never goes backwards
 * (backends hide counter resets). set_power_limit returns CHASE_EPERM when the caller may not set limits. */
typedef struct chase_gpu_ops {
    const char *name;
    int (*count)(void *self, int *n, chase_err_t *err);
    int (*info)(void *self, int idx, chase_gpu_info_t *out, chase_err_t *err);
    int (*set_power_limit)(void *self, int idx, double w, chase_err_t *err);
    int (*energy)(void *self, int idx, double *joules, chase_err_t *err);
    void (*destroy)(void *self);
} chase_gpu_ops_t;

typedef struct chase_gpu {
    const chase_gpu_ops_t *ops;
    void *self;
} chase_gpu_t;

/* Frees g and its backend (NULL is fine). */
void chase_gpu_free(chase_gpu_t *g);

#ifdef __cplusplus
}
#endif
#endif
