/* Online profiling: measure the running job's step rate and GPU power at each limit of a grid.
 *
 * The job is any chase_job_t (the live child or a simulation), so the same code is tested without a GPU. Windows
 * are counted in steps, not seconds, as in Zeus: a window is long enough to cover whole steps at every limit. */
#include "chase/profiling.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GRID 1024

void chase_profiling_opts_init(chase_profiling_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->warmup_steps = 10;
    o->profile_steps = 20;
    o->setting_step = 25;
    o->min_setting = NAN;
    o->max_setting = NAN;
    o->first_report_timeout_s = 300;
}

int chase_profiling_grid(double min_w, double max_w, double step_w, double *out, int cap)
{
    if (!(min_w > 0) || !(max_w >= min_w) || !(step_w > 0) || cap <= 0)
        return 0;
    int n = 0;
    for (double p = max_w; p > min_w + 1e-6 && n < cap; p -= step_w)
        out[n++] = p;
    /* The lowest limit is always measured: it is the most efficient point, the one the hull needs most. */
    if (n < cap)
        out[n++] = min_w;
    return n;
}

/* What a profiling run works on. */
typedef struct run {
    const chase_profiling_opts_t *o;
    chase_gpu_t *gpu;
    chase_job_t *job;
    int *idx;
    int n;
    double *orig; /* original limit per selected GPU */
    int *changed; /* 1 once a limit was set on that GPU */
    double row_t0, row_e0, row_w0, row_pl;
} run_t;

static double now_of(run_t *r)
{
    return r->job->ops->now(r->job->self);
}

static double work_of(run_t *r)
{
    return r->job->ops->work_done(r->job->self);
}

static int energy_of(run_t *r, double *sum, chase_err_t *err)
{
    *sum = 0;
    for (int i = 0; i < r->n; i++) {
        double j;
        int rc = r->gpu->ops->energy(r->gpu->self, r->idx[i], &j, err);
        if (rc != CHASE_OK)
            return rc;
        *sum += j;
    }
    return CHASE_OK;
}

/* The CI a row is priced at: the signal's actual mean, else its newest observation (stale), else 0 (stale). */
static void price(chase_signal_t *s, double t0, double t1, double *ci, int *stale)
{
    *stale = 1;
    *ci = 0;
    if (!s)
        return;
    double v;
    if (chase_signal_actual(s, t0, t1, &v, NULL) == CHASE_OK && isfinite(v)) {
        *ci = v;
        *stale = 0;
        return;
    }
    chase_sample_t smp;
    size_t n = 0;
    if (chase_signal_history(s, t1, 0, &smp, 1, &n, NULL) == CHASE_OK && n == 1 && isfinite(smp.ci))
        *ci = smp.ci;
}

static int row_begin(run_t *r, double pl, chase_err_t *err)
{
    r->row_t0 = now_of(r);
    r->row_w0 = work_of(r);
    r->row_pl = pl;
    return energy_of(r, &r->row_e0, err);
}

/* Appends the row begun last; the energy read failing leaves the row out (its energy is unknown). */
static void row_end(run_t *r)
{
    if (!r->o->ledger)
        return;
    double e1;
    if (energy_of(r, &e1, NULL) != CHASE_OK)
        return;
    chase_period_t row;
    memset(&row, 0, sizeof row);
    row.start = r->row_t0;
    row.end = now_of(r);
    if (!(row.end > row.start))
        return;
    price(r->o->signal, row.start, row.end, &row.ci, &row.stale);
    row.ci_forecast = NAN;
    row.setting = r->row_pl;
    row.energy_j = e1 - r->row_e0;
    row.carbon_g = row.energy_j * row.ci / 3.6e6;
    row.work = work_of(r) - r->row_w0;
    (void)chase_ledger_append(r->o->ledger, &row);
}

/* Lets the job run until it has done target units of work. The wait per call follows the observed rate so that it
 * neither overshoots the window by much nor spins. timeout_s bounds the wait for the first unit of work. */
static int run_to(run_t *r, double target, double timeout_s, int *finished, chase_err_t *err)
{
    double t_start = now_of(r), w_start = work_of(r);
    /* The rate is measured from the first progress seen here, not from t_start: the job may have been loading
     * (importing torch, reading data) before, and that time says nothing about its step rate. */
    double t_first = NAN, w_first = NAN;
    double w;
    while ((w = work_of(r)) < target) {
        double t = now_of(r);
        if (w <= 0 && t - t_start > timeout_s)
            return chase_err_set(err, CHASE_ETIMEOUT,
                                 "profiling: no progress report within %.0f s: the job does not report its steps "
                                 "(see docs/progress-protocol.md)",
                                 timeout_s);
        if (isnan(t_first) && w > w_start) {
            t_first = t;
            w_first = w;
        }
        double dt = 0.02;
        if (w > w_first && t > t_first) {
            double rate = (w - w_first) / (t - t_first);
            dt = (target - w) / rate;
            dt = dt < 0.005 ? 0.005 : dt > 1.0 ? 1.0 : dt;
        }
        if (w <= 0 && t + dt > t_start + timeout_s)
            dt = t_start + timeout_s - t + 1e-3;
        int rc = r->job->ops->run_until(r->job->self, t + dt, finished, err);
        if (rc != CHASE_OK || *finished)
            return rc;
    }
    return CHASE_OK;
}

static int set_all(run_t *r, double pl, chase_err_t *err)
{
    for (int i = 0; i < r->n; i++) {
        int rc = r->gpu->ops->set_power_limit(r->gpu->self, r->idx[i], pl, err);
        if (rc != CHASE_OK)
            return rc;
        r->changed[i] = 1;
    }
    return CHASE_OK;
}

static int restore_all(run_t *r, chase_err_t *err)
{
    int first = CHASE_OK;
    for (int i = 0; i < r->n; i++) {
        if (!r->changed[i])
            continue;
        chase_err_t e;
        int rc = r->gpu->ops->set_power_limit(r->gpu->self, r->idx[i], r->orig[i], &e);
        if (rc != CHASE_OK && first == CHASE_OK) {
            first = rc;
            chase_err_set(err, rc, "profiling: could not restore GPU %d to %.0f W: %s", r->idx[i], r->orig[i], e.msg);
        }
    }
    return first;
}

/* Selects the GPUs, reads their original limits and the range they all accept. */
static int setup(run_t *r, double *lo, double *hi, char *gpu_name, size_t name_size, chase_err_t *err)
{
    const chase_profiling_opts_t *o = r->o;
    int count = o->n_gpus;
    if (!o->gpus) {
        int rc = r->gpu->ops->count(r->gpu->self, &count, err);
        if (rc != CHASE_OK)
            return rc;
    }
    if (count <= 0)
        return chase_err_set(err, CHASE_ENOTFOUND, "profiling: no GPU to profile");
    r->idx = calloc((size_t)count, sizeof *r->idx);
    r->orig = calloc((size_t)count, sizeof *r->orig);
    r->changed = calloc((size_t)count, sizeof *r->changed);
    if (!r->idx || !r->orig || !r->changed)
        return chase_err_set(err, CHASE_ENOMEM, "profiling: out of memory");
    r->n = count;
    *lo = -INFINITY;
    *hi = INFINITY;
    for (int i = 0; i < count; i++) {
        r->idx[i] = o->gpus ? o->gpus[i] : i;
        chase_gpu_info_t info;
        int rc = r->gpu->ops->info(r->gpu->self, r->idx[i], &info, err);
        if (rc != CHASE_OK)
            return rc;
        if (!isfinite(info.pl_w) || !isfinite(info.min_pl_w) || !isfinite(info.max_pl_w))
            return chase_err_set(err, CHASE_ENOTSUP, "profiling: GPU %d does not report its power limit and range",
                                 r->idx[i]);
        r->orig[i] = info.pl_w;
        if (info.min_pl_w > *lo)
            *lo = info.min_pl_w;
        if (info.max_pl_w < *hi)
            *hi = info.max_pl_w;
        if (i == 0)
            snprintf(gpu_name, name_size, "%s", info.name);
    }
    if (isfinite(o->min_setting) && o->min_setting > *lo)
        *lo = o->min_setting;
    if (isfinite(o->max_setting) && o->max_setting < *hi)
        *hi = o->max_setting;
    if (!(*lo <= *hi))
        return chase_err_set(err, CHASE_ERANGE, "profiling: the GPUs share no power limit range (%.0f..%.0f W)", *lo,
                             *hi);
    return CHASE_OK;
}

int chase_profiling_run(const chase_profiling_opts_t *o, chase_gpu_t *gpu, chase_job_t *job, chase_profile_t **out,
                        int *finished, chase_err_t *err)
{
    *out = NULL;
    *finished = 0;
    if (o->warmup_steps < 0 || o->profile_steps < 1 || !(o->setting_step > 0))
        return chase_err_set(err, CHASE_EINVAL, "profiling: need warm-up steps >= 0, profile steps >= 1, step > 0 W");
    run_t r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.gpu = gpu;
    r.job = job;
    double lo = NAN, hi = NAN, grid[MAX_GRID];
    char gpu_name[96] = "";
    chase_profile_t *prof = NULL;
    int n_grid = 0, n_pts = 0;
    int rc = setup(&r, &lo, &hi, gpu_name, sizeof gpu_name, err);
    if (rc != CHASE_OK)
        goto done;
    n_grid = chase_profiling_grid(lo, hi, o->setting_step, grid, MAX_GRID);
    prof = chase_profile_new("online", (size_t)n_grid);
    if (!prof) {
        rc = chase_err_set(err, CHASE_ENOMEM, "profiling: out of memory");
        goto done;
    }
    snprintf(prof->gpu, sizeof prof->gpu, "%.63s", gpu_name);
    snprintf(prof->unit, sizeof prof->unit, "step");

    /* Warm-up at the original limits; it also waits for the first report, which says the job speaks the protocol. */
    if ((rc = row_begin(&r, r.orig[0], err)) != CHASE_OK)
        goto done;
    rc = run_to(&r, o->warmup_steps > 0 ? o->warmup_steps : 1, o->first_report_timeout_s, finished, err);
    row_end(&r);
    if (rc != CHASE_OK || *finished)
        goto done;

    /* A limit change takes effect within a step; the first steps after it are not measured. */
    int settle = o->profile_steps / 5 > 0 ? o->profile_steps / 5 : 1;
    for (int g = 0; g < n_grid; g++) {
        if ((rc = set_all(&r, grid[g], err)) != CHASE_OK)
            goto done;
        if ((rc = row_begin(&r, grid[g], err)) != CHASE_OK)
            goto done;
        rc = run_to(&r, work_of(&r) + settle, INFINITY, finished, err);
        double t0 = now_of(&r), w0 = work_of(&r), e0 = 0;
        if (rc == CHASE_OK && !*finished)
            rc = energy_of(&r, &e0, err);
        if (rc == CHASE_OK && !*finished)
            rc = run_to(&r, w0 + o->profile_steps, INFINITY, finished, err);
        double t1 = now_of(&r), w1 = work_of(&r), e1 = 0;
        if (rc == CHASE_OK && !*finished)
            rc = energy_of(&r, &e1, err);
        row_end(&r);
        if (rc != CHASE_OK || *finished)
            goto done;
        if (!(t1 > t0) || !(w1 > w0) || !(e1 > e0)) {
            rc = chase_err_set(err, CHASE_EGPU,
                               "profiling at %.0f W: no %s in %.3f s (energy %.3f J, steps %.0f): cannot measure",
                               grid[g], e1 > e0 ? "progress" : "energy reading", t1 - t0, e1 - e0, w1 - w0);
            goto done;
        }
        chase_profile_point_t *pt = &prof->pts[n_pts++];
        pt->setting = grid[g];
        pt->throughput = (w1 - w0) / (t1 - t0);
        pt->power_w = (e1 - e0) / (t1 - t0) / r.n; /* per GPU, as the built-in profiles */
    }
    prof->n = (size_t)n_pts;
    rc = chase_profile_validate(prof, err);

done:;
    chase_err_t rerr;
    int rrc = r.changed ? restore_all(&r, &rerr) : CHASE_OK;
    if (rrc != CHASE_OK && rc == CHASE_OK)
        rc = chase_err_set(err, rrc, "%s", rerr.msg);
    if (rc == CHASE_OK && !*finished && prof && prof->n > 0) {
        *out = prof;
        prof = NULL;
    }
    chase_profile_free(prof);
    free(r.idx);
    free(r.orig);
    free(r.changed);
    return rc;
}
