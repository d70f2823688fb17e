/* The leader's GPU backend: its node's real backend, with every setting of the step's first GPU and every reading of
 * its energy told to the followers. The GPU group sets all its GPUs to one value per decision and reads their
 * energy at every period boundary, so the first GPU's sets are the step's decisions (profiling steps included) and
 * its energy readings are the moments every node reads its own. */
#ifndef CHASE_SLURM_TEE_GPU_H
#define CHASE_SLURM_TEE_GPU_H

#include "chase/gpu.h"

typedef struct chase_slurm_tee_hooks {
    void (*on_set)(void *arg, double value); /* GPU ref was set to value */
    void (*on_energy)(void *arg);            /* GPU ref's energy was read */
    void *arg;
} chase_slurm_tee_hooks_t;

/* Wraps inner (borrowed: it must outlive the tee) so that hooks hear about GPU ref. */
int chase_slurm_tee_open(chase_gpu_t *inner, int ref, const chase_slurm_tee_hooks_t *hooks, chase_gpu_t **out,
                         chase_err_t *err);

#endif
