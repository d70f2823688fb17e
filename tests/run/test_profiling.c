/* Online profiling against a small simulated world whose true throughput and power per limit are known: the
 * profiler must recover them, account its time in the ledger, and restore every GPU's limit on every path. */
#include <math.h>
#include <string.h>

#include "chase/profiling.h"
#include "check.h"

#define NG 2

typedef struct world {
    double now, work, work_total;
    double pl[NG], energy[NG];
    double silent_until; /* no work done (no reports) before this time */
    int deny_set;        /* set_power_limit answers CHASE_EPERM */
    int sets;
} world_t;

static double true_x(double pl)
{
    return 10.0 * pow(pl / 300.0, 0.3);
}
static double true_p(double pl)
{
    return 0.9 * pl;
}

static int w_count(void *self, int *n, chase_err_t *err)
{
    (void)self;
    (void)err;
    *n = NG;
    return CHASE_OK;
}

static int w_info(void *self, int idx, chase_gpu_info_t *out, chase_err_t *err)
{
    world_t *w = self;
    if (idx < 0 || idx >= NG)
        return chase_err_set(err, CHASE_ENOTFOUND, "no GPU %d", idx);
    memset(out, 0, sizeof *out);
    out->index = idx;
    snprintf(out->name, sizeof out->name, "Fake GPU");
    out->pl_w = w->pl[idx];
    out->default_pl_w = 300;
    out->min_pl_w = 100;
    out->max_pl_w = 300;
    out->power_w = true_p(w->pl[idx]);
    out->energy_j = w->energy[idx];
    return CHASE_OK;
}

static int w_get(void *self, int idx, chase_knob_t knob, chase_setting_range_t *out, chase_err_t *err)
{
    world_t *w = self;
    (void)knob;
    if (idx < 0 || idx >= NG)
        return chase_err_set(err, CHASE_ENOTFOUND, "no GPU %d", idx);
    *out = (chase_setting_range_t){w->pl[idx], 300, 100, 300};
    return CHASE_OK;
}

static int w_set(void *self, int idx, const chase_setting_t *s, chase_err_t *err)
{
    world_t *w = self;
    double pl = s->value;
    if (w->deny_set)
        return chase_err_set(err, CHASE_EPERM, "not allowed");
    if (pl < 100 || pl > 300)
        return chase_err_set(err, CHASE_ERANGE, "limit %g out of range", pl);
    w->pl[idx] = pl;
    w->sets++;
    return CHASE_OK;
}

static int w_energy(void *self, int idx, double *j, chase_err_t *err)
{
    (void)err;
    *j = ((world_t *)self)->energy[idx];
    return CHASE_OK;
}

static const chase_gpu_ops_t world_gpu_ops = {"world", w_count, w_info, w_get, w_set, w_energy, NULL};

/* The group profiling works on: the world's GPUs (gpus NULL: all), no journal. */
static chase_gpu_group_t *group(chase_gpu_t *gpu, const int *gpus, int n)
{
    chase_gpu_group_opts_t o = {.gpus = gpus, .n_gpus = n};
    chase_gpu_group_t *g = NULL;
    CHECK(chase_gpu_group_open(gpu, &o, &g, NULL) == CHASE_OK);
    return g;
}

static double j_now(void *self)
{
    return ((world_t *)self)->now;
}
static double j_work(void *self)
{
    return floor(((world_t *)self)->work);
} /* whole steps, as reports are */

static int j_run_until(void *self, double t_end, int *finished, chase_err_t *err)
{
    (void)err;
    world_t *w = self;
    *finished = 0;
    /* Advance in small slices so the job can end inside the interval. */
    while (w->now < t_end) {
        double dt = fmin(0.001, t_end - w->now);
        double x = fmin(true_x(w->pl[0]), true_x(w->pl[1]));
        if (w->now >= w->silent_until)
            w->work += x * dt;
        for (int i = 0; i < NG; i++)
            w->energy[i] += true_p(w->pl[i]) * dt;
        w->now += dt;
        if (w->work >= w->work_total) {
            *finished = 1;
            return CHASE_OK;
        }
    }
    return CHASE_OK;
}

static const chase_job_ops_t world_job_ops = {j_now, j_run_until, j_work};

static void world_init(world_t *w)
{
    memset(w, 0, sizeof *w);
    w->now = 1.6e9;
    w->work_total = INFINITY;
    for (int i = 0; i < NG; i++)
        w->pl[i] = 250; /* not the top limit: restoring must go back here */
}

static void test_grid(void)
{
    double g[64];
    CHECK(chase_profiling_grid(100, 300, 25, g, 64) == 9);
    CHECK_NEAR(g[0], 300, 0);
    CHECK_NEAR(g[8], 100, 0);
    int n = chase_profiling_grid(100, 310, 25, g, 64);
    CHECK(n == 10);
    CHECK_NEAR(g[8], 110, 1e-9);
    CHECK_NEAR(g[9], 100, 0);
    CHECK(chase_profiling_grid(150, 150, 25, g, 64) == 1);
    CHECK(chase_profiling_grid(200, 100, 25, g, 64) == 0);
    CHECK(chase_profiling_grid(100, 300, 25, g, 3) == 3);
}

static void test_recovers_profile(void)
{
    world_t w;
    world_init(&w);
    chase_gpu_t gpu = {&world_gpu_ops, &w};
    chase_gpu_group_t *grp = group(&gpu, NULL, 0);
    chase_job_t job = {&world_job_ops, &w};
    chase_signal_t *sig;
    CHECK(chase_signal_static(420, 1800, &sig, NULL) == CHASE_OK);
    chase_ledger_t ledger;
    chase_ledger_init(&ledger);
    chase_profiling_opts_t o;
    chase_profiling_opts_init(&o);
    o.warmup_steps = 5;
    o.profile_steps = 30;
    o.signal = sig;
    o.ledger = &ledger;
    chase_profile_t *p = NULL;
    int finished = 1;
    chase_err_t err;
    double e_before = w.energy[0] + w.energy[1], t_before = w.now;
    int rc = chase_profiling_run(&o, grp, &job, &p, &finished, &err);
    CHECK(rc == CHASE_OK);
    if (rc)
        fprintf(stderr, "  %s\n", err.msg);
    CHECK(!finished);
    CHECK(p != NULL);
    if (!p)
        goto out;
    CHECK(p->n == 9);
    CHECK_STR(p->unit, "step");
    for (size_t i = 0; i < p->n; i++) {
        double pl = p->pts[i].setting;
        CHECK_NEAR(p->pts[i].throughput / true_x(pl), 1, 0.04);
        CHECK_NEAR(p->pts[i].power_w / true_p(pl), 1, 0.01); /* per GPU */
    }
    /* Restored, and the time spent is all in the ledger: one warm-up row and one row per limit. */
    CHECK_NEAR(w.pl[0], 250, 0);
    CHECK_NEAR(w.pl[1], 250, 0);
    CHECK(ledger.n == 10);
    double e = 0, t = 0;
    for (size_t i = 0; i < ledger.n; i++) {
        const chase_period_t *r = &ledger.rows[i];
        e += r->energy_j;
        t += r->end - r->start;
        CHECK_NEAR(r->ci, 420, 1e-9);
        CHECK_NEAR(r->carbon_g, r->energy_j * 420 / 3.6e6, 1e-9);
        if (i > 0)
            CHECK_NEAR(r->setting, p->pts[p->n - i].setting, 0); /* grid from the top down */
        CHECK(r->work >= (i == 0 ? 5 : 30));
    }
    CHECK_NEAR(e, w.energy[0] + w.energy[1] - e_before, 1e-6);
    CHECK_NEAR(t, w.now - t_before, 1e-6);
out:
    chase_profile_free(p);
    chase_ledger_free(&ledger);
    chase_signal_free(sig);
    chase_gpu_group_free(grp);
}

static void test_timeout_without_reports(void)
{
    world_t w;
    world_init(&w);
    w.silent_until = w.now + 1e9;
    chase_gpu_t gpu = {&world_gpu_ops, &w};
    chase_gpu_group_t *grp = group(&gpu, NULL, 0);
    chase_job_t job = {&world_job_ops, &w};
    chase_ledger_t ledger;
    chase_ledger_init(&ledger);
    chase_profiling_opts_t o;
    chase_profiling_opts_init(&o);
    o.first_report_timeout_s = 3;
    o.ledger = &ledger;
    chase_profile_t *p = NULL;
    int finished = 0;
    chase_err_t err;
    double t0 = w.now;
    CHECK(chase_profiling_run(&o, grp, &job, &p, &finished, &err) == CHASE_ETIMEOUT);
    CHECK(strstr(err.msg, "no progress report") != NULL);
    CHECK(p == NULL);
    CHECK(w.now - t0 >= 3 && w.now - t0 < 3.5);
    CHECK(w.sets == 0);   /* nothing was changed */
    CHECK(ledger.n == 1); /* the waiting time is accounted */
    chase_ledger_free(&ledger);

    /* A job that starts reporting within the timeout is profiled. */
    world_init(&w);
    w.silent_until = w.now + 2;
    o.ledger = NULL;
    CHECK(chase_profiling_run(&o, grp, &job, &p, &finished, &err) == CHASE_OK);
    CHECK(p && p->n == 9);
    chase_profile_free(p);
    chase_gpu_group_free(grp);
}

static void test_permission_denied(void)
{
    world_t w;
    world_init(&w);
    w.deny_set = 1;
    chase_gpu_t gpu = {&world_gpu_ops, &w};
    chase_gpu_group_t *grp = group(&gpu, NULL, 0);
    chase_job_t job = {&world_job_ops, &w};
    chase_profiling_opts_t o;
    chase_profiling_opts_init(&o);
    o.warmup_steps = 2;
    chase_profile_t *p = NULL;
    int finished = 0;
    chase_err_t err;
    CHECK(chase_profiling_run(&o, grp, &job, &p, &finished, &err) == CHASE_EPERM);
    CHECK(p == NULL);
    CHECK_NEAR(w.pl[0], 250, 0);
    chase_gpu_group_free(grp);
}

static void test_job_ends_while_profiling(void)
{
    world_t w;
    world_init(&w);
    w.work_total = 100; /* ends in the middle of the grid */
    chase_gpu_t gpu = {&world_gpu_ops, &w};
    chase_gpu_group_t *grp = group(&gpu, NULL, 0);
    chase_job_t job = {&world_job_ops, &w};
    chase_profiling_opts_t o;
    chase_profiling_opts_init(&o);
    o.profile_steps = 20;
    chase_profile_t *p = NULL;
    int finished = 0;
    chase_err_t err;
    CHECK(chase_profiling_run(&o, grp, &job, &p, &finished, &err) == CHASE_OK);
    CHECK(finished);
    CHECK(p == NULL);
    CHECK(w.sets > 0);
    CHECK_NEAR(w.pl[0], 250, 0);
    CHECK_NEAR(w.pl[1], 250, 0);
    chase_gpu_group_free(grp);
}

static void test_selected_gpus_and_range(void)
{
    world_t w;
    world_init(&w);
    w.pl[0] = 200;
    chase_gpu_t gpu = {&world_gpu_ops, &w};
    chase_gpu_group_t *grp = group(&gpu, NULL, 0);
    chase_job_t job = {&world_job_ops, &w};
    chase_profiling_opts_t o;
    chase_profiling_opts_init(&o);
    int only[] = {1};
    chase_gpu_group_free(grp);
    grp = group(&gpu, only, 1);
    o.min_setting = 200;
    o.setting_step = 50;
    chase_profile_t *p = NULL;
    int finished = 0;
    CHECK(chase_profiling_run(&o, grp, &job, &p, &finished, NULL) == CHASE_OK);
    CHECK(p && p->n == 3); /* 300, 250, 200 */
    CHECK(w.pl[0] == 200 && w.pl[1] == 250);
    chase_profile_free(p);
    o.profile_steps = 0;
    CHECK(chase_profiling_run(&o, grp, &job, &p, &finished, NULL) == CHASE_EINVAL);
    chase_gpu_group_free(grp);
}

int main(void)
{
    RUN(test_grid);
    RUN(test_recovers_profile);
    RUN(test_timeout_without_reports);
    RUN(test_permission_denied);
    RUN(test_job_ends_while_profiling);
    RUN(test_selected_gpus_and_range);
    CHECK_DONE();
}
