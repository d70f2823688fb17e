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
    chase_gpu_group_t *gpus;
    chase_job_t *job;
    int n;
    double row_t0, row_e0, row_w0, row_setting;
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
    return chase_gpu_group_energy(r->gpus, sum, err);
}

/* The CI a row is priced at: the signal's actual mean, else its newest observation (stale), else 0 (stale). */
static void price(chase_signal_t *s, double t0, double t1, double *ci, int *stale)
{
    *stale = 1;
    *ci = NAN; /* unknown, not zero: the row's carbon stays unknown */
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

static int row_begin(run_t *r, double value, chase_err_t *err)
{
    r->row_setting = value;
    const chase_ledger_mark_t *m = r->o->ledger ? &r->o->ledger->mark : NULL;
    if (m && m->set) { /* from where the last row ended: nothing done in between is lost */
        r->row_t0 = m->t;
        r->row_w0 = m->work;
        r->row_e0 = m->energy_j;
        return CHASE_OK;
    }
    r->row_t0 = now_of(r);
    r->row_w0 = work_of(r);
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
    row.setting = r->row_setting;
    row.knob = chase_gpu_group_knob(r->gpus);
    row.phase = CHASE_PHASE_PROFILE;
    row.decided = row.setting;
    row.energy_j = e1 - r->row_e0;
    row.carbon_g = row.energy_j * row.ci / 3.6e6;
    double w1 = work_of(r);
    row.work = w1 - r->row_w0;
    if (chase_ledger_append(r->o->ledger, &row) == CHASE_OK)
        r->o->ledger->mark = (chase_ledger_mark_t){1, row.end, w1, e1};
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

/* The grid's range: what every GPU accepts, narrowed by the options. */
static int grid_range(run_t *r, double *lo, double *hi, chase_err_t *err)
{
    const chase_profiling_opts_t *o = r->o;
    chase_gpu_group_range(r->gpus, lo, hi);
    if (isfinite(o->min_setting) && o->min_setting > *lo)
        *lo = o->min_setting;
    if (isfinite(o->max_setting) && o->max_setting < *hi)
        *hi = o->max_setting;
    if (!(*lo <= *hi))
        return chase_err_set(err, CHASE_ERANGE, "profiling: the GPUs share no %s range (%g..%g %s)",
                             chase_knob_name(chase_gpu_group_knob(r->gpus)), *lo, *hi,
                             chase_knob_unit(chase_gpu_group_knob(r->gpus)));
    return CHASE_OK;
}

int chase_profiling_run(const chase_profiling_opts_t *o, chase_gpu_group_t *gpus, chase_job_t *job,
                        chase_profile_t **out, int *finished, chase_err_t *err)
{
    *out = NULL;
    *finished = 0;
    if (o->warmup_steps < 0 || o->profile_steps < 1 || !(o->setting_step > 0))
        return chase_err_set(err, CHASE_EINVAL, "profiling: need warm-up steps >= 0, profile steps >= 1, a grid step > 0");
    run_t r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.gpus = gpus;
    r.job = job;
    r.n = chase_gpu_group_size(gpus);
    double lo = NAN, hi = NAN, grid[MAX_GRID];
    chase_profile_t *prof = NULL;
    int n_grid = 0, n_pts = 0;
    int rc = CHASE_OK;
    if (chase_gpu_group_observe_only(gpus)) {
        rc = chase_err_set(err, CHASE_EPERM, "profiling: the GPUs are observed only: their settings cannot change");
        goto done;
    }
    if ((rc = grid_range(&r, &lo, &hi, err)) != CHASE_OK)
        goto done;
    n_grid = chase_profiling_grid(lo, hi, o->setting_step, grid, MAX_GRID);
    prof = chase_profile_new("online", (size_t)n_grid);
    if (!prof) {
        rc = chase_err_set(err, CHASE_ENOMEM, "profiling: out of memory");
        goto done;
    }
    snprintf(prof->gpu, sizeof prof->gpu, "%.63s", chase_gpu_group_info(gpus, 0)->name);
    prof->knob = chase_gpu_group_knob(gpus);
    snprintf(prof->unit, sizeof prof->unit, "step");

    /* Warm-up at the original limits; it also waits for the first report, which says the job speaks the protocol. */
    if ((rc = row_begin(&r, chase_gpu_group_original(gpus, 0), err)) != CHASE_OK)
        goto done;
    rc = run_to(&r, o->warmup_steps > 0 ? o->warmup_steps : 1, o->first_report_timeout_s, finished, err);
    row_end(&r);
    if (rc != CHASE_OK || *finished)
        goto done;

    /* A limit change takes effect within a step; the first steps after it are not measured. */
    int settle = o->profile_steps / 5 > 0 ? o->profile_steps / 5 : 1;
    for (int g = 0; g < n_grid; g++) {
        if ((rc = chase_gpu_group_apply(gpus, grid[g], err)) != CHASE_OK)
            goto done;
        if (chase_gpu_group_observe_only(gpus)) { /* the first set was refused: no permission */
            rc = chase_err_set(err, CHASE_EPERM, "profiling: no permission to set the GPUs' %ss",
                               chase_knob_name(chase_gpu_group_knob(gpus)));
            goto done;
        }
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
    int rrc = chase_gpu_group_restore(gpus, &rerr);
    if (rrc != CHASE_OK && rc == CHASE_OK)
        rc = chase_err_set(err, rrc, "profiling: %s", rerr.msg);
    if (rc == CHASE_OK && !*finished && prof && prof->n > 0) {
        *out = prof;
        prof = NULL;
    }
    chase_profile_free(prof);
    return rc;
}
