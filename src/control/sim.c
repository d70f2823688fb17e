/* The simulated world: GPUs that follow a profile and a job of fixed work, on a virtual clock.
 * Data-parallel jobs wait for their slowest GPU, so the job's throughput is the lowest over its GPUs' limits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "chase/control.h"

struct chase_sim {
    const chase_profile_t *profile;
    int n_gpus;
    double *pl_w, *energy_j;
    double work_total, work_done, now;
    int finished;
    chase_gpu_t gpu;
    chase_job_t job;
};

static int sim_count(void *self, int *n, chase_err_t *err)
{
    (void)err;
    *n = ((chase_sim_t *)self)->n_gpus;
    return CHASE_OK;
}

static int sim_check_index(const chase_sim_t *s, int idx, chase_err_t *err)
{
    if (idx < 0 || idx >= s->n_gpus)
        return chase_err_set(err, CHASE_ENOTFOUND, "simulated GPU %d does not exist (have %d)", idx, s->n_gpus);
    return CHASE_OK;
}

static int sim_info(void *self, int idx, chase_gpu_info_t *out, chase_err_t *err)
{
    chase_sim_t *s = self;
    int rc = sim_check_index(s, idx, err);
    if (rc)
        return rc;
    double x, p;
    chase_profile_at(s->profile, s->pl_w[idx], &x, &p);
    *out = (chase_gpu_info_t){.index = idx,
                              .name = "simulated",
                              .uuid = "",
                              .pci_bus_id = "",
                              .pl_w = s->pl_w[idx],
                              .default_pl_w = chase_profile_max_setting(s->profile),
                              .min_pl_w = chase_profile_min_setting(s->profile),
                              .max_pl_w = chase_profile_max_setting(s->profile),
                              .power_w = s->finished ? 0 : p,
                              .energy_j = s->energy_j[idx]};
    snprintf(out->name, sizeof out->name, "simulated %s", s->profile->gpu[0] ? s->profile->gpu : "GPU");
    return CHASE_OK;
}

static int sim_set(void *self, int idx, double w, chase_err_t *err)
{
    chase_sim_t *s = self;
    int rc = sim_check_index(s, idx, err);
    if (rc)
        return rc;
    double lo = chase_profile_min_setting(s->profile), hi = chase_profile_max_setting(s->profile);
    if (!(w >= lo - 1e-9 && w <= hi + 1e-9))
        return chase_err_set(err, CHASE_ERANGE, "power limit %g W outside %g..%g W", w, lo, hi);
    s->pl_w[idx] = w;
    return CHASE_OK;
}

static int sim_energy(void *self, int idx, double *joules, chase_err_t *err)
{
    chase_sim_t *s = self;
    int rc = sim_check_index(s, idx, err);
    if (rc)
        return rc;
    *joules = s->energy_j[idx];
    return CHASE_OK;
}

static void sim_gpu_destroy(void *self) { (void)self; } /* owned by the sim */

static const chase_gpu_ops_t sim_gpu_ops = {"simulated", sim_count, sim_info, sim_set, sim_energy, sim_gpu_destroy};

static double sim_now(void *self) { return ((chase_sim_t *)self)->now; }

static double sim_work_done(void *self) { return ((chase_sim_t *)self)->work_done; }

static int sim_run_until(void *self, double t_end, int *finished, chase_err_t *err)
{
    chase_sim_t *s = self;
    (void)err;
    if (s->finished || t_end <= s->now) {
        *finished = s->finished;
        return CHASE_OK;
    }
    double x = INFINITY;
    for (int i = 0; i < s->n_gpus; i++) {
        double xi, pi;
        chase_profile_at(s->profile, s->pl_w[i], &xi, &pi);
        x = fmin(x, xi);
    }
    double dt = t_end - s->now, left = s->work_total - s->work_done;
    if (x * dt >= left) {
        dt = left / x;
        s->finished = 1;
    }
    for (int i = 0; i < s->n_gpus; i++) {
        double xi, pi;
        chase_profile_at(s->profile, s->pl_w[i], &xi, &pi);
        s->energy_j[i] += pi * dt;
    }
    s->work_done = s->finished ? s->work_total : s->work_done + x * dt;
    s->now = s->finished ? s->now + dt : t_end;
    *finished = s->finished;
    return CHASE_OK;
}

static const chase_job_ops_t sim_job_ops = {sim_now, sim_run_until, sim_work_done};

int chase_sim_create(const chase_profile_t *profile, int n_gpus, double work_total, double start, chase_sim_t **out,
                     chase_err_t *err)
{
    if (n_gpus < 1 || n_gpus > 1024)
        return chase_err_set(err, CHASE_EINVAL, "a simulation needs 1..1024 GPUs (got %d)", n_gpus);
    if (!(work_total > 0) || !isfinite(work_total))
        return chase_err_set(err, CHASE_EINVAL, "a simulated job needs a positive amount of work");
    if (!profile || profile->n == 0)
        return chase_err_set(err, CHASE_EINVAL, "a simulation needs a profile");
    chase_sim_t *s = calloc(1, sizeof *s);
    if (!s)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    s->pl_w = calloc((size_t)n_gpus, sizeof *s->pl_w);
    s->energy_j = calloc((size_t)n_gpus, sizeof *s->energy_j);
    if (!s->pl_w || !s->energy_j) {
        chase_sim_free(s);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    s->profile = profile;
    s->n_gpus = n_gpus;
    for (int i = 0; i < n_gpus; i++)
        s->pl_w[i] = chase_profile_max_setting(profile);
    s->work_total = work_total;
    s->now = start;
    s->gpu = (chase_gpu_t){&sim_gpu_ops, s};
    s->job = (chase_job_t){&sim_job_ops, s};
    *out = s;
    return CHASE_OK;
}

chase_gpu_t *chase_sim_gpu(chase_sim_t *sim) { return &sim->gpu; }

chase_job_t *chase_sim_job(chase_sim_t *sim) { return &sim->job; }

void chase_sim_free(chase_sim_t *sim)
{
    if (!sim)
        return;
    free(sim->pl_w);
    free(sim->energy_j);
    free(sim);
}
