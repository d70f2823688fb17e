/* A backend that passes everything to another and tells the followers what the step's first GPU did (see
 * tee_gpu.h). */
#include "slurm/tee_gpu.h"

#include <stdlib.h>

typedef struct tee {
    chase_gpu_ops_t ops; /* tee_ops under the inner backend's name: reports say who really set the GPUs */
    chase_gpu_t *inner;
    int ref;
    chase_slurm_tee_hooks_t hooks;
} tee_t;

static int tee_count(void *self, int *n, chase_err_t *err)
{
    tee_t *t = self;
    return chase_gpu_count(t->inner, n, err);
}

static int tee_info(void *self, int idx, chase_gpu_info_t *out, chase_err_t *err)
{
    tee_t *t = self;
    return chase_gpu_info(t->inner, idx, out, err);
}

static int tee_get(void *self, int idx, chase_knob_t knob, chase_setting_range_t *out, chase_err_t *err)
{
    tee_t *t = self;
    return chase_gpu_get_setting(t->inner, idx, knob, out, err);
}

static int tee_set(void *self, int idx, const chase_setting_t *s, chase_err_t *err)
{
    tee_t *t = self;
    int rc = chase_gpu_set_setting(t->inner, idx, s, err);
    if (rc == CHASE_OK && idx == t->ref && t->hooks.on_set)
        t->hooks.on_set(t->hooks.arg, s->value);
    return rc;
}

static int tee_energy(void *self, int idx, double *joules, chase_err_t *err)
{
    tee_t *t = self;
    int rc = chase_gpu_energy(t->inner, idx, joules, err);
    if (idx == t->ref && t->hooks.on_energy)
        t->hooks.on_energy(t->hooks.arg);
    return rc;
}

static void tee_destroy(void *self)
{
    free(self);
}

/* A claim (the node agent's sessions) is the inner backend's business: passed through. */
static int tee_claim(void *self, const int *idx, int n, chase_err_t *err)
{
    return chase_gpu_claim(((tee_t *)self)->inner, idx, n, err);
}

static const chase_gpu_ops_t tee_ops = {
    .name = "tee",
    .count = tee_count,
    .info = tee_info,
    .get_setting = tee_get,
    .set_setting = tee_set,
    .energy = tee_energy,
    .claim = tee_claim,
    .destroy = tee_destroy,
};

int chase_slurm_tee_open(chase_gpu_t *inner, int ref, const chase_slurm_tee_hooks_t *hooks, chase_gpu_t **out,
                         chase_err_t *err)
{
    *out = NULL;
    tee_t *t = calloc(1, sizeof *t);
    chase_gpu_t *g = calloc(1, sizeof *g);
    if (!t || !g) {
        free(t);
        free(g);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    t->inner = inner;
    t->ref = ref;
    t->hooks = *hooks;
    t->ops = tee_ops;
    t->ops.name = chase_gpu_backend(inner);
    /* Claims only where the inner backend has them: a backend without them (NVML) is journaled by the group. */
    if (!inner->ops->claim)
        t->ops.claim = NULL;
    g->ops = &t->ops;
    g->self = t;
    *out = g;
    return CHASE_OK;
}
