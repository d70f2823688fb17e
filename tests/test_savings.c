/* The savings estimate of a live run: on a ledger that follows its profile (a simulation) it gives what
 * `chase simulate` gives (the same max, the same static at the run's slowdown, the same split); it is anchored to
 * the run's own time and energy; it says why when it cannot estimate; and the run status finds the end. */
#include "chase/savings.h"
#include "chase/simulate.h"
#include "check.h"
#include "sim_fixtures.h"

static chase_trace_t *trace;
static chase_profile_t *prof;

static void spec_of(chase_sim_spec_t *s, double budget)
{
    chase_sim_spec_init(s);
    s->trace = trace;
    s->profile = prof;
    s->start = (double)trace->start + 7 * 86400;
    s->work = 40;
    s->forecaster = "persistence";
    s->params.budget_pct = budget;
}

/* Every policy's saving and split from chase_simulate_compare is what the estimate finds from its ledger alone, to
 * a millionth of a point, budget's periods that mix two settings included (a mix of neighbouring settings is what
 * the profile's interpolation at their mean setting prices). */
static void test_matches_simulate(void)
{
    const char *pols[] = {"fixed:200", "static", "chase", "budget"};
    chase_sim_spec_t s;
    spec_of(&s, 5);
    chase_policy_result_t res[5];
    size_t n = 0;
    chase_err_t err;
    int rc = chase_simulate_compare(&s, pols, 4, res, &n, &err);
    if (rc)
        fprintf(stderr, "simulate: %s\n", err.msg);
    CHECK(rc == CHASE_OK && n == 5);
    for (size_t i = 1; i < n; i++) {
        chase_savings_t sv;
        CHECK(chase_savings_estimate(prof, &res[i].ledger, 1, &sv, &err) == CHASE_OK);
        double tol = 1e-6;
        printf("%-10s simulate: slowdown %.4f saving %.4f = %.4f + %.4f; estimate: %.4f %.4f = %.4f + %.4f\n",
               res[i].policy, res[i].slowdown_pct, res[i].carbon_saving_pct, res[i].efficiency_pp, res[i].timing_pp,
               sv.slowdown_pct, sv.carbon_saving_pct, sv.efficiency_pp, sv.timing_pp);
        CHECK(sv.estimated && !sv.reason[0] && !sv.note[0]);
        CHECK_NEAR(sv.max.time_s, res[0].totals.time_s, res[0].totals.time_s * tol / 100);
        CHECK_NEAR(sv.max.energy_j, res[0].totals.energy_j, res[0].totals.energy_j * tol / 100);
        CHECK_NEAR(sv.max.carbon_g, res[0].totals.carbon_g, res[0].totals.carbon_g * tol / 100);
        CHECK_NEAR(sv.slowdown_pct, res[i].slowdown_pct, tol);
        CHECK_NEAR(sv.carbon_saving_pct, res[i].carbon_saving_pct, tol);
        CHECK_NEAR(sv.energy_saving_pct, res[i].energy_saving_pct, tol);
        CHECK_NEAR(sv.efficiency_pp, res[i].efficiency_pp, tol);
        CHECK_NEAR(sv.timing_pp, res[i].timing_pp, tol);
        CHECK_NEAR(sv.carbon_saved_g, res[0].totals.carbon_g - res[i].totals.carbon_g,
                   res[0].totals.carbon_g * tol / 100);
        /* The run is measured: its totals are the ledger's, untouched. */
        CHECK(sv.run.carbon_g == res[i].totals.carbon_g && sv.run.time_s == res[i].totals.time_s);
        CHECK(sv.profiling_pp == 0); /* a simulation does not profile */
        CHECK_NEAR(sv.time_fit, 1, 1e-4);
        CHECK_NEAR(sv.power_fit, 1, 1e-4);
    }
    /* The static run at a slowdown is the efficiency part: run it directly to be sure the estimate's fixed case is
     * static's, not some other fixed setting. */
    chase_savings_t sv;
    CHECK(chase_savings_estimate(prof, &res[4].ledger, 1, &sv, &err) == CHASE_OK);
    chase_sim_spec_t st;
    spec_of(&st, sv.slowdown_pct);
    chase_totals_t t;
    CHECK(chase_simulate_policy(&st, "static", NULL, &t, &err) == CHASE_OK);
    CHECK_NEAR(sv.fixed.carbon_g, t.carbon_g, t.carbon_g * 1e-4);
    CHECK_NEAR(sv.fixed.time_s, t.time_s, t.time_s * 1e-4);
    CHECK(sv.fixed.setting > 100 && sv.fixed.setting < 300);
    chase_policy_results_free(res, n);
}

/* A job that runs 10 % slower and draws 20 % less than its profile says, in every period, gets the same
 * percentages (the estimate scales the run's own measurements), and the fit says how far off the profile is. */
static void test_anchored_to_measurements(void)
{
    chase_sim_spec_t s;
    spec_of(&s, 2.5);
    chase_ledger_t l;
    chase_ledger_init(&l);
    chase_err_t err;
    CHECK(chase_simulate_policy(&s, "chase", &l, NULL, &err) == CHASE_OK);
    chase_savings_t a, b;
    CHECK(chase_savings_estimate(prof, &l, 1, &a, &err) == CHASE_OK);
    /* Stretch time around the start: each period 10 % longer, at 0.8 x 1.1 of its energy. */
    double t0 = l.rows[0].start;
    for (size_t i = 0; i < l.n; i++) {
        chase_period_t *r = &l.rows[i];
        r->start = t0 + (r->start - t0) * 1.1;
        r->end = t0 + (r->end - t0) * 1.1;
        r->energy_j *= 0.88;
        r->carbon_g *= 0.88;
    }
    CHECK(chase_savings_estimate(prof, &l, 1, &b, &err) == CHASE_OK);
    CHECK_NEAR(b.time_fit, 1.1, 1e-6);
    CHECK_NEAR(b.power_fit, 0.8, 1e-6);
    CHECK_NEAR(b.slowdown_pct, a.slowdown_pct, 1e-9);
    CHECK_NEAR(b.energy_saving_pct, a.energy_saving_pct, 1e-9);
    CHECK_NEAR(b.max.time_s, 1.1 * a.max.time_s, 1e-6 * a.max.time_s);
    /* Carbon: the counterfactuals now span stretched periods of the same CIs, so the ratios barely move. */
    CHECK_NEAR(b.carbon_saving_pct, a.carbon_saving_pct, 0.05);
    CHECK_NEAR(b.efficiency_pp, a.efficiency_pp, 0.05);
    chase_ledger_free(&l);
}

/* The first period ran at the top limit for 100 s without a step (the job loading): the same 100 s would pass
 * at the top limit too, so they add no slowdown. */
static void test_idle_start_is_not_slowdown(void)
{
    chase_ledger_t l;
    chase_ledger_init(&l);
    double x300 = prof->pts[4].throughput, x200 = prof->pts[2].throughput;
    chase_period_t load = {
        .start = 1e9, .end = 1e9 + 100, .ci = 300, .setting = 300, .energy_j = 230 * 100.0, .work = 0};
    load.carbon_g = load.energy_j * load.ci / 3.6e6;
    chase_period_t run = {.start = 1e9 + 100, .end = 1e9 + 100 + 1 / x200, .ci = 300, .setting = 200, .work = 1};
    run.energy_j = 175 * (run.end - run.start);
    run.carbon_g = run.energy_j * run.ci / 3.6e6;
    chase_ledger_append(&l, &load);
    chase_ledger_append(&l, &run);
    chase_savings_t sv;
    chase_err_t err;
    CHECK(chase_savings_estimate(prof, &l, 1, &sv, &err) == CHASE_OK);
    CHECK_NEAR(sv.max.time_s, 100 + 1 / x300, 1e-6);
    CHECK_NEAR(sv.slowdown_pct, 100 * ((100 + 1 / x200) / (100 + 1 / x300) - 1), 1e-9);
    /* Constant CI: no timing, the whole saving is efficiency... once static at that slowdown is as good. */
    CHECK_NEAR(sv.carbon_saving_pct, sv.energy_saving_pct, 1e-9);
    chase_ledger_free(&l);
}

/* What profiling cost: its periods at the top limit against the same steps at the fixed limit, at the same CI. */
static void test_profiling_cost(void)
{
    chase_ledger_t l;
    chase_ledger_init(&l);
    double x300 = prof->pts[4].throughput, x200 = prof->pts[2].throughput;
    chase_period_t a = {.start = 1e9,
                        .end = 1e9 + 600,
                        .ci = 400,
                        .setting = 300,
                        .energy_j = 230 * 600.0,
                        .phase = CHASE_PHASE_PROFILE};
    a.work = 600 * x300;
    a.carbon_g = a.energy_j * a.ci / 3.6e6;
    chase_period_t b = {.start = a.end, .end = a.end + 36000, .ci = 200, .setting = 200, .energy_j = 175 * 36000.0};
    b.work = 36000 * x200;
    b.carbon_g = b.energy_j * b.ci / 3.6e6;
    chase_ledger_append(&l, &a);
    chase_ledger_append(&l, &b);
    chase_savings_t sv;
    chase_err_t err;
    CHECK(chase_savings_estimate(prof, &l, 1, &sv, &err) == CHASE_OK);
    double xf, pf;
    CHECK(chase_profile_at(prof, sv.fixed.setting, &xf, &pf) == CHASE_OK);
    double e_fixed = a.work * pf / xf; /* the profiling period's steps at the fixed limit */
    CHECK_NEAR(sv.profiling_pp, -100 * (a.energy_j - e_fixed) * 400 / 3.6e6 / sv.max.carbon_g, 1e-9);
    CHECK(sv.profiling_pp < 0);
    chase_ledger_free(&l);
}

static void test_says_why_not(void)
{
    chase_ledger_t l;
    chase_ledger_init(&l);
    chase_savings_t sv;
    chase_err_t err;
    CHECK(chase_savings_estimate(prof, &l, 1, &sv, &err) == CHASE_ENODATA);
    CHECK(!sv.estimated && strstr(sv.reason, "no period") && isnan(sv.carbon_saving_pct));
    chase_period_t r = {.start = 1e9, .end = 1e9 + 60, .ci = 200, .setting = 350, .energy_j = 1e4, .work = 3};
    r.carbon_g = r.energy_j * r.ci / 3.6e6;
    chase_ledger_append(&l, &r);
    CHECK(chase_savings_estimate(prof, &l, 1, &sv, &err) == CHASE_ENODATA);
    CHECK(strstr(sv.reason, "350 W, outside the profile") != NULL);
    CHECK(sv.run.energy_j == 1e4 && sv.run.work == 3); /* the measured part stays */
    l.rows[0].setting = NAN; /* observed only, and the GPUs could not read back their limit */
    CHECK(chase_savings_estimate(prof, &l, 1, &sv, &err) == CHASE_ENODATA);
    CHECK(strstr(sv.reason, "period 1 has no known setting") && !strstr(sv.reason, "nan"));
    CHECK(chase_savings_estimate(NULL, &l, 1, &sv, &err) == CHASE_ENODATA && strstr(sv.reason, "no profile"));
    /* A period without a CI: time and energy are estimated, carbon is not. */
    l.rows[0].setting = 250;
    l.rows[0].ci = l.rows[0].carbon_g = NAN;
    CHECK(chase_savings_estimate(prof, &l, 1, &sv, &err) == CHASE_OK);
    CHECK(sv.estimated && isfinite(sv.slowdown_pct) && isfinite(sv.energy_saving_pct));
    CHECK(isnan(sv.carbon_saving_pct) && isnan(sv.timing_pp) && strstr(sv.note, "CI was unknown for 60 s"));
    /* A run record whose profile is a stand-in. */
    chase_run_record_t rec = {0};
    rec.profile = prof;
    rec.ledger = &l;
    rec.n_gpus = 1;
    rec.profile_source = "none (policy needs no profile)";
    CHECK(chase_savings_of_run(&rec, &sv, &err) == CHASE_ENODATA);
    CHECK(strstr(sv.reason, "no measured profile: none (policy needs no profile)") && sv.run.time_s == 60);
    rec.profile_source = "file";
    CHECK(chase_savings_of_run(&rec, &sv, &err) == CHASE_OK);
    chase_ledger_free(&l);
}

/* A noisy online profile can measure a lower limit as faster than the top one. A run at that limit then has a
 * negative slowdown, its `max` counterfactual outlasts the run, and the last period's CI prices the rest: the
 * estimate says so rather than inventing a CI. */
static void test_ci_held_past_end(void)
{
    chase_profile_t *noisy = fixture_profile();
    noisy->pts[2].throughput = 1.05 * noisy->pts[4].throughput; /* 200 W "faster" than 300 W */
    chase_ledger_t l;
    chase_ledger_init(&l);
    chase_period_t r = {.start = 1e9, .end = 1e9 + 3600, .ci = 100, .setting = 200, .energy_j = 175 * 3600.0};
    r.work = 3600 * noisy->pts[2].throughput;
    r.carbon_g = r.energy_j * r.ci / 3.6e6;
    chase_ledger_append(&l, &r);
    chase_savings_t sv;
    chase_err_t err;
    CHECK(chase_savings_estimate(noisy, &l, 1, &sv, &err) == CHASE_OK);
    CHECK_NEAR(sv.slowdown_pct, 100 * (1 / 1.05 - 1), 1e-9);
    CHECK_NEAR(sv.ci_held_s, 0.05 * 3600, 1e-6);
    CHECK(strstr(sv.note, "the profile measures 200 W 5 % faster than the top limit (noise in its measurement)") &&
          strstr(sv.note, "; a counterfactual ran 180 s past the run's end"));
    /* Held at the last CI: max's carbon is its energy at 100 g/kWh. */
    CHECK_NEAR(sv.max.carbon_g, sv.max.energy_j * 100 / 3.6e6, 1e-9);
    /* No budget to spend: static stays at a setting no slower than the top, so its efficiency part is its own. */
    CHECK(sv.fixed.time_s <= sv.max.time_s * (1 + 1e-12));
    chase_ledger_free(&l);
    chase_profile_free(noisy);
}

static void test_status(void)
{
    chase_ledger_t l;
    chase_ledger_init(&l);
    chase_period_t p = {.start = 1e9,
                        .end = 1e9 + 10,
                        .ci = 200,
                        .setting = 300,
                        .energy_j = 2300,
                        .work = 5,
                        .phase = CHASE_PHASE_PROFILE};
    p.carbon_g = p.energy_j * p.ci / 3.6e6;
    chase_ledger_append(&l, &p);
    p.phase = CHASE_PHASE_CONTROL;
    for (int i = 0; i < 3; i++) {
        p.start = p.end;
        p.end = p.start + 20;
        p.work = 10; /* half a step a second: the pace that counts */
        chase_ledger_append(&l, &p);
    }
    chase_run_record_t rec = {0};
    rec.profile = prof;
    rec.ledger = &l;
    rec.n_gpus = 1;
    rec.profile_source = "online";
    rec.total_steps = 100;
    chase_run_status_t st;
    chase_run_status(&rec, &st);
    CHECK(st.steps == 35 && st.now == 1e9 + 70);
    CHECK_NEAR(st.done_pct, 35, 1e-9);
    CHECK_NEAR(st.finish, 1e9 + 70 + 65 / 0.5, 1e-6);
    CHECK(st.savings.estimated && fabs(st.savings.slowdown_pct) < 1e-9); /* all at the top limit */
    rec.total_steps = NAN;
    chase_run_status(&rec, &st);
    CHECK(isnan(st.finish) && isnan(st.done_pct) && st.steps == 35);
    chase_ledger_free(&l);
}

int main(void)
{
    trace = fixture_trace(24 * 21, 300, 200, 60, 11);
    prof = fixture_profile();
    RUN(test_matches_simulate);
    RUN(test_anchored_to_measurements);
    RUN(test_idle_start_is_not_slowdown);
    RUN(test_profiling_cost);
    RUN(test_says_why_not);
    RUN(test_ci_held_past_end);
    RUN(test_status);
    chase_profile_free(prof);
    chase_trace_free(trace);
    CHECK_DONE();
}
