/* The forecast tape (one forecaster shared by the policies of a simulation): every reader must predict exactly what
 * a forecaster of its own would have, at every point, even when another reader has already gone further (so it
 * still sees only the past); a reader given other samples must fail loudly; and a simulation of several policies
 * sharing one forecaster must give the same results as separate simulations. */
#include <math.h>

#include "check.h"
#include "chase/forecast.h"
#include "chase/simulate.h"
#include "sim_fixtures.h"

#define N 24 * 40

/* The sample fed at step i: a daily swing with noise, some missing. */
static double sample(const chase_trace_t *tr, size_t i)
{
    return i % 53 == 7 ? NAN : tr->ci[i];
}

/* Feeds samples [from, to) to f and, after each, compares its forecast with a private forecaster's. */
static int replay_matches(chase_forecaster_t *reader, chase_forecaster_t *own, const chase_trace_t *tr, size_t from,
                          size_t to)
{
    int bad = 0;
    for (size_t i = from; i < to; i++) {
        int64_t t = tr->start + (int64_t)i * tr->step_s;
        int rc_r = chase_forecaster_observe(reader, t, sample(tr, i));
        int rc_o = chase_forecaster_observe(own, t, sample(tr, i));
        bad += rc_r != rc_o;
        double a[CHASE_FORECAST_MAX_HORIZON], b[CHASE_FORECAST_MAX_HORIZON];
        int h = 1 + (int)(i % CHASE_FORECAST_MAX_HORIZON);
        rc_r = chase_forecaster_predict(reader, h, a, NULL, NULL, NULL);
        rc_o = chase_forecaster_predict(own, h, b, NULL, NULL, NULL);
        bad += rc_r != rc_o;
        for (int j = 0; rc_r == CHASE_OK && rc_o == CHASE_OK && j < h; j++)
            bad += a[j] != b[j]; /* the same computation: bit for bit */
    }
    return bad;
}

static void test_readers_replay_exactly(void)
{
    chase_trace_t *tr = fixture_trace(N, 300, 120, 60, 5);
    const char *models[] = {"chase", "seasonal", "persistence"};
    for (int m = 0; m < 3; m++) {
        chase_forecaster_t *src, *r1, *r2, *own1, *own2;
        chase_forecast_tape_t *tape;
        CHECK(chase_forecaster_create(models[m], 3600, NULL, &src, NULL) == CHASE_OK);
        CHECK(chase_forecast_tape_create(src, &tape, NULL) == CHASE_OK);
        CHECK(chase_forecast_tape_reader(tape, &r1, NULL) == CHASE_OK);
        CHECK(chase_forecast_tape_reader(tape, &r2, NULL) == CHASE_OK);
        CHECK_STR(chase_forecaster_name(r1), models[m]);
        CHECK(chase_forecaster_create(models[m], 3600, NULL, &own1, NULL) == CHASE_OK);
        CHECK(chase_forecaster_create(models[m], 3600, NULL, &own2, NULL) == CHASE_OK);
        /* The first reader records two thirds; the second replays them, then goes further alone; the first then
         * replays the rest the second recorded. */
        CHECK(replay_matches(r1, own1, tr, 0, 2 * N / 3) == 0);
        CHECK(replay_matches(r2, own2, tr, 0, N) == 0);
        CHECK(replay_matches(r1, own1, tr, 2 * N / 3, N) == 0);
        CHECK(!chase_forecast_tape_diverged(tape));
        chase_forecaster_free(r1);
        chase_forecaster_free(r2);
        chase_forecaster_free(own1);
        chase_forecaster_free(own2);
        chase_forecast_tape_free(tape);
    }
    chase_trace_free(tr);
}

/* A reader that is given a sample the recording does not hold must fail, and say so, not replay a forecast made
 * on other data. */
static void test_divergence_is_loud(void)
{
    chase_forecaster_t *src, *r1, *r2;
    chase_forecast_tape_t *tape;
    CHECK(chase_forecaster_create("persistence", 3600, NULL, &src, NULL) == CHASE_OK);
    CHECK(chase_forecast_tape_create(src, &tape, NULL) == CHASE_OK);
    CHECK(chase_forecast_tape_reader(tape, &r1, NULL) == CHASE_OK);
    CHECK(chase_forecast_tape_reader(tape, &r2, NULL) == CHASE_OK);
    CHECK(chase_forecaster_observe(r1, 0, 100) == CHASE_OK);
    CHECK(chase_forecaster_observe(r1, 3600, 200) == CHASE_OK);
    CHECK(chase_forecaster_observe(r2, 0, 100) == CHASE_OK);
    CHECK(chase_forecaster_observe(r2, 3600, 250) == CHASE_EINVAL); /* not what was recorded */
    CHECK(chase_forecast_tape_diverged(tape));
    double m[1];
    CHECK(chase_forecaster_predict(r2, 1, m, NULL, NULL, NULL) != CHASE_OK);
    CHECK(chase_forecaster_predict(r1, 1, m, NULL, NULL, NULL) == CHASE_OK && m[0] == 200);
    chase_forecaster_free(r1);
    chase_forecaster_free(r2);
    chase_forecast_tape_free(tape);
    /* A forecaster that has already learnt something cannot start a tape. */
    CHECK(chase_forecaster_create("persistence", 3600, NULL, &src, NULL) == CHASE_OK);
    CHECK(chase_forecaster_observe(src, 0, 1) == CHASE_OK);
    CHECK(chase_forecast_tape_create(src, &tape, NULL) == CHASE_EINVAL);
}

/* Several policies in one simulation, sharing the forecaster, end exactly as separate simulations do. */
static void test_shared_simulation_is_separate_simulations(void)
{
    chase_profile_t *prof = fixture_profile();
    chase_trace_t *tr = fixture_trace(24 * 30, 350, 150, 80, 9);
    static const char *const pols[] = {"max", "chase", "budget", "static", "oracle"};
    const char *fcs[] = {"chase", "persistence"};
    for (int f = 0; f < 2; f++) {
        chase_sim_spec_t s;
        chase_sim_spec_init(&s);
        s.trace = tr;
        s.profile = prof;
        s.start = (double)tr->start + 14 * 86400;
        s.work = 100;
        s.period_s = 3600;
        s.forecaster = fcs[f];
        s.params.budget_pct = 5;
        chase_totals_t shared[5], alone;
        chase_ledger_t ledgers[5];
        for (int p = 0; p < 5; p++)
            chase_ledger_init(&ledgers[p]);
        CHECK(chase_simulate_policies(&s, pols, 5, ledgers, shared, NULL) == CHASE_OK);
        for (int p = 0; p < 5; p++) {
            CHECK(chase_simulate_policy(&s, pols[p], NULL, &alone, NULL) == CHASE_OK);
            CHECK(shared[p].carbon_g == alone.carbon_g);
            CHECK(shared[p].time_s == alone.time_s);
            CHECK(ledgers[p].n > 90);
            chase_ledger_free(&ledgers[p]);
        }
        CHECK(shared[2].carbon_g < shared[0].carbon_g); /* the comparison means something: budget saves carbon */
    }
    chase_trace_free(tr);
    chase_profile_free(prof);
}

/* One tape for jobs of different budgets and sizes from the same start (what the benchmarks do): each ends as it
 * would with a forecaster of its own; and a tape made for another history (other first samples) is refused
 * loudly. */
static void test_tape_across_jobs(void)
{
    chase_profile_t *prof = fixture_profile();
    chase_trace_t *tr = fixture_trace(24 * 40, 350, 150, 80, 11);
    chase_sim_spec_t base;
    chase_sim_spec_init(&base);
    base.trace = tr;
    base.profile = prof;
    base.start = (double)tr->start + 20 * 86400;
    base.period_s = 3600;
    chase_forecast_tape_t *tape;
    CHECK(chase_sim_tape_create(&base, &tape, NULL) == CHASE_OK);
    const double budgets[] = {10, 1, 5}, works[] = {60, 100, 80};
    for (int i = 0; i < 3; i++) {
        chase_sim_spec_t s = base;
        s.work = works[i];
        s.params.budget_pct = budgets[i];
        chase_totals_t alone, shared;
        CHECK(chase_simulate_policy(&s, "budget", NULL, &alone, NULL) == CHASE_OK);
        s.tape = tape;
        CHECK(chase_simulate_policy(&s, "budget", NULL, &shared, NULL) == CHASE_OK);
        CHECK(shared.carbon_g == alone.carbon_g && shared.time_s == alone.time_s);
    }
    chase_sim_spec_t other = base;
    other.history_s = 5 * 86400;
    other.work = 50;
    other.tape = tape;
    chase_totals_t t;
    chase_err_t err;
    CHECK(chase_simulate_policy(&other, "budget", NULL, &t, &err) == CHASE_EINVAL);
    CHECK(strstr(err.msg, "tape") != NULL);
    chase_forecast_tape_free(tape);
    chase_trace_free(tr);
    chase_profile_free(prof);
}

int main(void)
{
    RUN(test_readers_replay_exactly);
    RUN(test_divergence_is_loud);
    RUN(test_shared_simulation_is_separate_simulations);
    RUN(test_tape_across_jobs);
    CHECK_DONE();
}
