/* The control loop: accounting adds up, limits are restored on every path, no permission means observe-only. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "chase/control.h"
#include "chase/simulate.h"
#include "control/skill.h"
#include "sim_fixtures.h"

static chase_profile_t *prof;

/* A GPU backend wrapping the simulated one, to inject failures. */
typedef struct faulty {
    chase_gpu_t *inner;
    int deny_set;      /* set_setting answers CHASE_EPERM */
    int deny_after;    /* ... once this many sets went through (0: from the first) */
    int fail_energy_after; /* energy fails after this many calls (0: never) */
    int energy_calls;
    int sets;
} faulty_t;

static int f_count(void *s, int *n, chase_err_t *e)
{
    faulty_t *f = s;
    return f->inner->ops->count(f->inner->self, n, e);
}
static int f_info(void *s, int i, chase_gpu_info_t *o, chase_err_t *e)
{
    faulty_t *f = s;
    return f->inner->ops->info(f->inner->self, i, o, e);
}
static int f_get(void *s, int i, chase_knob_t k, chase_setting_range_t *o, chase_err_t *e)
{
    faulty_t *f = s;
    return chase_gpu_get_setting(f->inner, i, k, o, e);
}
static int f_set(void *s, int i, const chase_setting_t *v, chase_err_t *e)
{
    faulty_t *f = s;
    if (f->deny_set && f->sets >= f->deny_after)
        return chase_err_set(e, CHASE_EPERM, "denied");
    f->sets++;
    return chase_gpu_set_setting(f->inner, i, v, e);
}
static int f_energy(void *s, int i, double *j, chase_err_t *e)
{
    faulty_t *f = s;
    if (f->fail_energy_after && ++f->energy_calls > f->fail_energy_after)
        return chase_err_set(e, CHASE_EGPU, "GPU %d is lost", i);
    return f->inner->ops->energy(f->inner->self, i, j, e);
}
static void f_destroy(void *s) { (void)s; }
static const chase_gpu_ops_t faulty_ops = {"faulty", f_count, f_info, f_get, f_set, f_energy, f_destroy};

/* Simulated GPUs at a given power limit, and a job of work units on them. */
typedef struct world {
    chase_gpu_t *gpu;
    chase_sim_job_t *job;
} world_t;

static void world_open(world_t *w, int n_gpus, double work, double start, double pl)
{
    CHECK(chase_gpu_sim_open(prof, n_gpus, &w->gpu, NULL) == CHASE_OK);
    for (int i = 0; i < n_gpus; i++)
        CHECK(chase_gpu_set_setting(w->gpu, i, &(chase_setting_t){CHASE_KNOB_POWER_LIMIT, pl}, NULL) == CHASE_OK);
    CHECK(chase_sim_job_create(w->gpu, work, start, &w->job, NULL) == CHASE_OK);
}

static void world_close(world_t *w)
{
    chase_sim_job_free(w->job);
    chase_gpu_free(w->gpu);
}

static double pl_of(chase_gpu_t *g, int i)
{
    chase_gpu_info_t info;
    CHECK(chase_gpu_info(g, i, &info, NULL) == CHASE_OK);
    return info.pl_w;
}

static chase_gpu_group_t *group_of(chase_gpu_t *g, chase_gpu_group_opts_t *o)
{
    chase_gpu_group_t *grp = NULL;
    CHECK(chase_gpu_group_open(g, o, &grp, NULL) == CHASE_OK);
    return grp;
}

typedef struct warnings {
    int n;
    char last[256];
} warnings_t;

static void on_warning(void *arg, const char *msg)
{
    warnings_t *w = arg;
    w->n++;
    snprintf(w->last, sizeof w->last, "%s", msg);
}

/* Runs `budget` on two simulated GPUs whose limits start at 280 W, through the faulty wrapper. */
static int run(faulty_t *f, chase_trace_t *tr, chase_ledger_t *l, warnings_t *w, double *pl_after, chase_err_t *err)
{
    world_t wd;
    world_open(&wd, 2, 20, (double)tr->start + 2 * 86400, 280);
    chase_gpu_t *g = wd.gpu;
    f->inner = g;
    chase_gpu_t wrapped = {&faulty_ops, f};
    chase_gpu_group_opts_t go = {.on_warning = on_warning, .warning_arg = w};
    chase_gpu_group_t *grp = group_of(&wrapped, &go);
    chase_signal_t *sig;
    chase_forecaster_t *fc;
    chase_policy_t *pol;
    chase_policy_params_t pp;
    chase_policy_params_init(&pp);
    pp.budget_pct = 10;
    CHECK(chase_signal_trace(tr, &sig, NULL) == CHASE_OK);
    CHECK(chase_forecaster_create("persistence", 3600, NULL, &fc, NULL) == CHASE_OK);
    CHECK(chase_policy_create("budget", &pp, &pol, NULL) == CHASE_OK);
    chase_control_config_t cfg;
    chase_control_config_init(&cfg);
    cfg.work_total = 20;
    cfg.budget_pct = 10;
    cfg.on_warning = on_warning;
    cfg.on_warning_arg = w;
    int rc = chase_control_run(&cfg, prof, sig, fc, pol, grp, chase_sim_job_job(wd.job), l, err);
    pl_after[0] = pl_of(g, 0);
    pl_after[1] = pl_of(g, 1);
    double e0, e1;
    chase_gpu_energy(g, 0, &e0, NULL);
    chase_gpu_energy(g, 1, &e1, NULL);
    if (rc == CHASE_OK) {
        chase_totals_t t;
        chase_ledger_totals(l, &t);
        CHECK_NEAR(t.energy_j, e0 + e1, 1e-6 * t.energy_j); /* the ledger accounts for every joule */
        CHECK_NEAR(t.work, 20, 1e-9);
    }
    chase_policy_free(pol);
    chase_forecaster_free(fc);
    chase_signal_free(sig);
    chase_gpu_group_free(grp);
    world_close(&wd);
    return rc;
}

static void test_accounting_and_restore(void)
{
    chase_trace_t *tr = fixture_trace(24 * 6, 300, 200, 50, 3);
    faulty_t f = {0};
    chase_ledger_t l;
    chase_ledger_init(&l);
    warnings_t w = {0};
    double after[2];
    chase_err_t err;
    CHECK(run(&f, tr, &l, &w, after, &err) == CHASE_OK);
    CHECK(w.n == 0);
    CHECK(f.sets > 0);
    CHECK(after[0] == 280 && after[1] == 280); /* put back as found */
    int low = 0;
    for (size_t i = 0; i < l.n; i++) {
        const chase_period_t *r = &l.rows[i];
        CHECK(r->end > r->start);
        if (i + 1 < l.n)
            CHECK_NEAR(r->end - r->start, 1800, 1e-6);
        /* Each 30-min period lies in one hourly sample: carbon = energy x CI exactly. */
        CHECK_NEAR(r->carbon_g, r->energy_j * chase_trace_at(tr, r->start) / 3.6e6, 1e-9 * r->carbon_g + 1e-12);
        CHECK_NEAR(r->ci, chase_trace_at(tr, r->start), 1e-9);
        low += r->setting < 300;
        CHECK(!r->stale);
    }
    CHECK(low > 0);
    chase_ledger_free(&l);
    chase_trace_free(tr);
}

static void test_no_permission_is_observe_only(void)
{
    chase_trace_t *tr = fixture_trace(24 * 6, 300, 200, 50, 4);
    faulty_t f = {.deny_set = 1};
    chase_ledger_t l;
    chase_ledger_init(&l);
    warnings_t w = {0};
    double after[2];
    CHECK(run(&f, tr, &l, &w, after, NULL) == CHASE_OK);
    CHECK(w.n == 1); /* said once, not every period */
    CHECK(strstr(w.last, "observe-only") != NULL);
    CHECK(f.sets == 0);
    CHECK(after[0] == 280 && after[1] == 280);
    /* The rows say what the GPUs held (280 W, read back), and apart from it what the policy decided. */
    int differ = 0;
    for (size_t i = 0; i < l.n; i++) {
        CHECK(l.rows[i].setting == 280);
        differ += l.rows[i].decided != 280;
    }
    CHECK(differ > 0);
    chase_ledger_free(&l);
    chase_trace_free(tr);
}

static void test_permission_lost_mid_run(void)
{
    chase_trace_t *tr = fixture_trace(24 * 6, 300, 200, 50, 4);
    faulty_t f = {.deny_set = 1, .deny_after = 3}; /* GPU 0 and 1 take a value, then GPU 0 one more, then no more */
    chase_ledger_t l;
    chase_ledger_init(&l);
    warnings_t w = {0};
    double after[2];
    chase_err_t err;
    CHECK(run(&f, tr, &l, &w, after, &err) == CHASE_EPERM);
    CHECK(strstr(err.msg, "not put back") != NULL); /* the restore was refused too: said, naming the GPUs */
    CHECK(strstr(err.msg, "GPU 0") != NULL && strstr(err.msg, "GPU 1") != NULL);
    CHECK(after[0] != 280 && after[1] != 280); /* what the (simulated) GPUs hold, as the error says */
    chase_ledger_free(&l);
    chase_trace_free(tr);
}

static void test_gpu_lost_still_restores(void)
{
    chase_trace_t *tr = fixture_trace(24 * 6, 300, 200, 50, 5);
    faulty_t f = {.fail_energy_after = 10};
    chase_ledger_t l;
    chase_ledger_init(&l);
    warnings_t w = {0};
    double after[2];
    chase_err_t err;
    chase_err_clear(&err);
    CHECK(run(&f, tr, &l, &w, after, &err) == CHASE_EGPU);
    CHECK(strstr(err.msg, "lost") != NULL);
    CHECK(after[0] == 280 && after[1] == 280);
    chase_ledger_free(&l);
    chase_trace_free(tr);
}

static void test_trace_too_short(void)
{
    chase_trace_t *tr = fixture_trace(24 * 2, 300, 200, 50, 6);
    chase_sim_spec_t s;
    chase_sim_spec_init(&s);
    s.trace = tr;
    s.profile = prof;
    s.start = (double)tr->start + 86400;
    s.work = 40; /* 40 h of work in a trace with 24 h left */
    s.forecaster = "persistence";
    chase_err_t err;
    chase_totals_t t;
    CHECK(chase_simulate_policy(&s, "max", NULL, &t, &err) == CHASE_ENODATA);
    CHECK(strstr(err.msg, "ends") != NULL);
    CHECK(chase_simulate_policy(&s, "oracle", NULL, &t, &err) == CHASE_ENODATA);
    chase_trace_free(tr);
}

static void test_periods_and_mixing(void)
{
    /* 45-min periods straddle hourly samples: carbon must integrate the step-hold CI exactly. */
    chase_trace_t *tr = fixture_trace(24 * 12, 300, 200, 50, 7);
    chase_sim_spec_t s;
    chase_sim_spec_init(&s);
    s.trace = tr;
    s.profile = prof;
    s.start = (double)tr->start + 7 * 86400 + 600;
    s.work = 30;
    s.period_s = 2700;
    s.forecaster = "persistence";
    chase_ledger_t l;
    chase_ledger_init(&l);
    chase_totals_t t;
    CHECK(chase_simulate_policy(&s, "max", &l, &t, NULL) == CHASE_OK);
    CHECK_NEAR(t.carbon_g, 230 * chase_trace_integral(tr, s.start, s.start + 30 * 3600) / 3.6e6, 1e-6);
    chase_ledger_free(&l);
    chase_ledger_init(&l);
    CHECK(chase_simulate_policy(&s, "oracle", &l, &t, NULL) == CHASE_OK);
    CHECK_NEAR(t.time_s, 30 * 3600 * 1.025, 1); /* lands on its deadline */
    CHECK_NEAR(t.work, 30, 1e-9);
    chase_ledger_free(&l);
    chase_trace_free(tr);
}

/* A job that is interrupted (like chase receiving SIGTERM) halfway through its 10th period. */
typedef struct interrupted {
    chase_job_t *inner;
    int calls;
} interrupted_t;
static double i_now(void *s) { return ((interrupted_t *)s)->inner->ops->now(((interrupted_t *)s)->inner->self); }
static double i_work(void *s)
{
    return ((interrupted_t *)s)->inner->ops->work_done(((interrupted_t *)s)->inner->self);
}
static int i_run(void *s, double t_end, int *finished, chase_err_t *err)
{
    interrupted_t *j = s;
    if (++j->calls == 10) {
        double now = i_now(s);
        j->inner->ops->run_until(j->inner->self, now + (t_end - now) / 2, finished, err);
        return chase_err_set(err, CHASE_ESTATE, "interrupted by SIGTERM");
    }
    return j->inner->ops->run_until(j->inner->self, t_end, finished, err);
}
static const chase_job_ops_t interrupted_ops = {i_now, i_run, i_work};

static void test_interrupted_period_is_recorded(void)
{
    chase_trace_t *tr = fixture_trace(24 * 6, 300, 200, 50, 8);
    world_t wd;
    world_open(&wd, 1, 20, (double)tr->start + 2 * 86400, 260);
    chase_gpu_t *g = wd.gpu;
    chase_gpu_group_t *grp = group_of(g, NULL);
    interrupted_t ij = {chase_sim_job_job(wd.job), 0};
    chase_job_t job = {&interrupted_ops, &ij};
    chase_signal_t *sig;
    chase_policy_t *pol;
    chase_policy_params_t pp;
    chase_policy_params_init(&pp);
    CHECK(chase_signal_trace(tr, &sig, NULL) == CHASE_OK);
    CHECK(chase_policy_create("fixed:150", &pp, &pol, NULL) == CHASE_OK);
    chase_control_config_t cfg;
    chase_control_config_init(&cfg);
    chase_ledger_t l;
    chase_ledger_init(&l);
    chase_err_t err;
    CHECK(chase_control_run(&cfg, prof, sig, NULL, pol, grp, &job, &l, &err) == CHASE_ESTATE);
    CHECK(strstr(err.msg, "SIGTERM") != NULL);
    CHECK(l.n == 10); /* nine whole periods and the half that ran */
    if (l.n == 10) {
        CHECK_NEAR(l.rows[9].end - l.rows[9].start, 900, 1e-6);
        CHECK(l.rows[9].energy_j > 0);
    }
    double e;
    chase_gpu_energy(g, 0, &e, NULL);
    chase_totals_t t;
    chase_ledger_totals(&l, &t);
    CHECK_NEAR(t.energy_j, e, 1e-6 * e); /* nothing the GPU drew is missing */
    CHECK(pl_of(g, 0) == 260);
    chase_ledger_free(&l);
    chase_policy_free(pol);
    chase_signal_free(sig);
    chase_gpu_group_free(grp);
    world_close(&wd);
    chase_trace_free(tr);
}

/* A signal that has no data from its 5th to its 12th history call (a chain past its max_stale), then recovers. */
typedef struct outage {
    chase_signal_t *inner;
    int calls;
} outage_t;
static int o_history(void *self, double now, int64_t since, chase_sample_t *out, size_t cap, size_t *n,
                     chase_err_t *err)
{
    outage_t *o = self;
    o->calls++;
    if (o->calls >= 5 && o->calls < 12)
        return chase_err_set(err, CHASE_ENODATA, "all sources failed for over 2h");
    return chase_signal_history(o->inner, now, since, out, cap, n, err);
}
static int o_actual(void *self, double a, double b, double *ci, chase_err_t *err)
{
    return chase_signal_actual(((outage_t *)self)->inner, a, b, ci, err);
}
static void o_destroy(void *self) { (void)self; }
static const chase_signal_ops_t outage_ops = {"outage", o_history, NULL, o_actual, o_destroy};

static void test_signal_outage_runs_safe_policy(void)
{
    chase_trace_t *tr = fixture_trace(24 * 6, 300, 200, 50, 9);
    world_t wd;
    world_open(&wd, 1, 12, (double)tr->start + 2 * 86400, 300);
    chase_gpu_group_t *grp = group_of(wd.gpu, NULL);
    chase_signal_t *inner;
    CHECK(chase_signal_trace(tr, &inner, NULL) == CHASE_OK);
    outage_t o = {inner, 0};
    chase_signal_t sig = {&outage_ops, &o, 3600};
    chase_policy_t *pol;
    chase_policy_params_t pp;
    chase_policy_params_init(&pp);
    CHECK(chase_policy_create("fixed:150", &pp, &pol, NULL) == CHASE_OK);
    chase_control_config_t cfg;
    chase_control_config_init(&cfg);
    warnings_t w = {0};
    cfg.on_warning = on_warning;
    cfg.on_warning_arg = &w;
    chase_ledger_t l;
    chase_ledger_init(&l);
    CHECK(chase_control_run(&cfg, prof, &sig, NULL, pol, grp, chase_sim_job_job(wd.job), &l, NULL) == CHASE_OK);
    CHECK(l.n > 14);
    for (size_t i = 0; i < l.n; i++) {
        int down = i >= 4 && i < 11; /* history calls 5..11 are periods 4..10 */
        CHECK(l.rows[i].stale == down);
        CHECK_NEAR(l.rows[i].setting, down ? 300 : 150, 1e-9);
    }
    CHECK(w.n == 2); /* the outage and the recovery, once each */
    chase_ledger_free(&l);
    chase_policy_free(pol);
    chase_signal_free(inner);
    chase_gpu_group_free(grp);
    world_close(&wd);
    chase_trace_free(tr);
}


/* Time the job spent before the control loop (online profiling) counts against its budget: with a job start an hour
 * before the loop, budget must finish an hour sooner than the same job whose loop starts it. */
static double budget_loop_time(double before_s)
{
    chase_trace_t *tr = fixture_trace(24 * 6, 300, 200, 50, 11);
    double start = (double)tr->start + 2 * 86400;
    world_t wd;
    world_open(&wd, 1, 20, start, 300);
    chase_gpu_group_t *grp = group_of(wd.gpu, NULL);
    chase_signal_t *sig;
    chase_forecaster_t *fc;
    chase_policy_t *pol;
    chase_policy_params_t pp;
    chase_policy_params_init(&pp);
    pp.budget_pct = 10;
    CHECK(chase_signal_trace(tr, &sig, NULL) == CHASE_OK);
    CHECK(chase_forecaster_create("persistence", 3600, NULL, &fc, NULL) == CHASE_OK);
    CHECK(chase_policy_create("budget", &pp, &pol, NULL) == CHASE_OK);
    chase_control_config_t cfg;
    chase_control_config_init(&cfg);
    cfg.work_total = 20;
    cfg.budget_pct = 10;
    cfg.job_start = before_s > 0 ? start - before_s : NAN;
    chase_ledger_t l;
    chase_ledger_init(&l);
    CHECK(chase_control_run(&cfg, prof, sig, fc, pol, grp, chase_sim_job_job(wd.job), &l, NULL) == CHASE_OK);
    chase_totals_t t;
    chase_ledger_totals(&l, &t);
    chase_ledger_free(&l);
    chase_policy_free(pol);
    chase_forecaster_free(fc);
    chase_signal_free(sig);
    chase_gpu_group_free(grp);
    world_close(&wd);
    chase_trace_free(tr);
    return t.time_s;
}

static void test_budget_counts_from_the_job_start(void)
{
    double t_max = 20 * 3600.0; /* 20 epochs of an hour at the top limit */
    double plain = budget_loop_time(0), late = budget_loop_time(3600);
    CHECK(plain <= 1.1 * t_max + 1 && plain > 1.05 * t_max); /* spends the budget */
    CHECK(late <= 1.1 * t_max - 3600 + 1);                    /* the hour before the loop is part of it */
    CHECK(late < plain - 3000);
}

/* The skill record recalibrates forecasts: a forecaster that is biased and over-reacts is mapped onto the line its
 * record shows, one that never varies says only the mean actual, and nothing is said before a record exists. */
static void test_skill_recalibrates(void)
{
    skill_t *s = malloc(sizeof *s);
    CHECK(s != NULL);
    skill_init(s);
    double e, r;
    CHECK(skill_expect(s, 0, 100, &e, &r) == -1 && isnan(e) && isnan(r));
    const int64_t step = 3600;
    for (int64_t k = 0; k < 200; k++) {
        double actual = 200 + 50 * sin((double)k * 0.7);
        double fc[2] = {40 + 2 * actual, 300}; /* horizon 0: biased, twice the swing; horizon 1: a constant */
        skill_forecasts(s, fc, 2, k * step, step);
        skill_actual(s, k * step, actual);
    }
    /* Horizon 0: a forecast of 40 + 2 * 230 means an actual of 230, without error. */
    CHECK(skill_expect(s, 0, 40 + 2 * 230.0, &e, &r) == 0);
    CHECK_NEAR(e, 230, 1e-6);
    CHECK(r < 1e-6);
    CHECK(skill_rmse(s, 0) > 20); /* while its raw error is large */
    /* Horizon 1, a constant forecast, is scored against the actuals one step later. */
    double mean = 0;
    for (int64_t k = 0; k < 200; k++)
        mean += 200 + 50 * sin((double)k * 0.7);
    mean /= 200;
    CHECK(skill_expect(s, 1, 300, &e, &r) == 0);
    CHECK(fabs(e - mean) < 10); /* the constant says only about the recent mean actual */
    CHECK(r > 30 && r < 40);    /* and its error is the actual's spread (50 / sqrt 2) */
    free(s);
}

int main(void)
{
    prof = fixture_profile();
    RUN(test_skill_recalibrates);
    RUN(test_accounting_and_restore);
    RUN(test_no_permission_is_observe_only);
    RUN(test_permission_lost_mid_run);
    RUN(test_budget_counts_from_the_job_start);
    RUN(test_gpu_lost_still_restores);
    RUN(test_trace_too_short);
    RUN(test_periods_and_mixing);
    RUN(test_interrupted_period_is_recorded);
    RUN(test_signal_outage_runs_safe_policy);
    chase_profile_free(prof);
    CHECK_DONE();
}
