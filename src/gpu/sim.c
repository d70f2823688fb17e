/* The simulated GPU backend: GPUs whose throughput and power follow a profile at their setting, with energy
 * counters that grow as the caller lets time pass (chase_gpu_sim_advance). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "chase/gpu.h"

typedef struct sim_gpus {
    const chase_profile_t *profile;
    int n;
    double *value, *energy_j;
    int idle;
} sim_gpus_t;

static int sim_count(void *self, int *n, chase_err_t *err)
{
    (void)err;
    *n = ((sim_gpus_t *)self)->n;
    return CHASE_OK;
}

static int check_index(const sim_gpus_t *s, int idx, chase_err_t *err)
{
    if (idx < 0 || idx >= s->n)
        return chase_err_set(err, CHASE_ENOTFOUND, "simulated GPU %d does not exist (have %d)", idx, s->n);
    return CHASE_OK;
}

static int sim_info(void *self, int idx, chase_gpu_info_t *out, chase_err_t *err)
{
    sim_gpus_t *s = self;
    int rc = check_index(s, idx, err);
    if (rc)
        return rc;
    double x, p;
    chase_profile_at(s->profile, s->value[idx], &x, &p);
    *out = (chase_gpu_info_t){.index = idx,
                              .minor = -1,
                              .pl_w = s->value[idx],
                              .default_pl_w = chase_profile_max_setting(s->profile),
                              .min_pl_w = chase_profile_min_setting(s->profile),
                              .max_pl_w = chase_profile_max_setting(s->profile),
                              .power_w = s->idle ? 0 : p,
                              .energy_j = s->energy_j[idx]};
    snprintf(out->name, sizeof out->name, "simulated %s", s->profile->gpu[0] ? s->profile->gpu : "GPU");
    return CHASE_OK;
}

static int sim_get(void *self, int idx, chase_knob_t knob, chase_setting_range_t *out, chase_err_t *err)
{
    sim_gpus_t *s = self;
    int rc = check_index(s, idx, err);
    if (rc)
        return rc;
    if (knob != s->profile->knob)
        return chase_err_set(err, CHASE_ENOTSUP, "simulated GPU %d has no %s", idx, chase_knob_name(knob));
    double top = chase_profile_max_setting(s->profile);
    *out = (chase_setting_range_t){s->value[idx], top, chase_profile_min_setting(s->profile), top};
    return CHASE_OK;
}

static int sim_set(void *self, int idx, const chase_setting_t *set, chase_err_t *err)
{
    sim_gpus_t *s = self;
    int rc = check_index(s, idx, err);
    if (rc)
        return rc;
    if (set->knob != s->profile->knob)
        return chase_err_set(err, CHASE_ENOTSUP, "simulated GPU %d has no %s", idx, chase_knob_name(set->knob));
    double lo = chase_profile_min_setting(s->profile), hi = chase_profile_max_setting(s->profile);
    if (!(set->value >= lo - 1e-9 && set->value <= hi + 1e-9))
        return chase_err_set(err, CHASE_ERANGE, "%s %g %s outside %g..%g %s", chase_knob_name(set->knob), set->value,
                             chase_knob_unit(set->knob), lo, hi, chase_knob_unit(set->knob));
    s->value[idx] = set->value;
    return CHASE_OK;
}

static int sim_energy(void *self, int idx, double *joules, chase_err_t *err)
{
    sim_gpus_t *s = self;
    int rc = check_index(s, idx, err);
    if (rc)
        return rc;
    *joules = s->energy_j[idx];
    return CHASE_OK;
}

static void sim_destroy(void *self)
{
    sim_gpus_t *s = self;
    if (!s)
        return;
    free(s->value);
    free(s->energy_j);
    free(s);
}

static const chase_gpu_ops_t sim_ops = {
    .name = "sim",
    .count = sim_count,
    .info = sim_info,
    .get_setting = sim_get,
    .set_setting = sim_set,
    .energy = sim_energy,
    .destroy = sim_destroy,
};

int chase_gpu_sim_open(const chase_profile_t *profile, int n_gpus, chase_gpu_t **out, chase_err_t *err)
{
    *out = NULL;
    if (n_gpus < 1 || n_gpus > 1024)
        return chase_err_set(err, CHASE_EINVAL, "a simulation needs 1..1024 GPUs (got %d)", n_gpus);
    if (!profile || profile->n == 0)
        return chase_err_set(err, CHASE_EINVAL, "simulated GPUs need a profile");
    sim_gpus_t *s = calloc(1, sizeof *s);
    chase_gpu_t *g = calloc(1, sizeof *g);
    if (s) {
        s->value = calloc((size_t)n_gpus, sizeof *s->value);
        s->energy_j = calloc((size_t)n_gpus, sizeof *s->energy_j);
    }
    if (!g || !s || !s->value || !s->energy_j) {
        sim_destroy(s);
        free(g);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    s->profile = profile;
    s->n = n_gpus;
    for (int i = 0; i < n_gpus; i++)
        s->value[i] = chase_profile_max_setting(profile);
    g->ops = &sim_ops;
    g->self = s;
    *out = g;
    return CHASE_OK;
}

static sim_gpus_t *sim_of(const chase_gpu_t *g) { return g && g->ops == &sim_ops ? g->self : NULL; }

double chase_gpu_sim_throughput(const chase_gpu_t *g)
{
    const sim_gpus_t *s = sim_of(g);
    if (!s)
        return NAN;
    double x = INFINITY;
    for (int i = 0; i < s->n; i++) {
        double xi, pi;
        chase_profile_at(s->profile, s->value[i], &xi, &pi);
        x = fmin(x, xi);
    }
    return x;
}

void chase_gpu_sim_advance(chase_gpu_t *g, double dt)
{
    sim_gpus_t *s = sim_of(g);
    if (!s || s->idle)
        return;
    for (int i = 0; i < s->n; i++) {
        double xi, pi;
        chase_profile_at(s->profile, s->value[i], &xi, &pi);
        s->energy_j[i] += pi * dt;
    }
}

void chase_gpu_sim_idle(chase_gpu_t *g)
{
    sim_gpus_t *s = sim_of(g);
    if (s)
        s->idle = 1;
}
