/* The "select" forecaster: per horizon it must move to the candidate whose forecasts cost the decisions least, and
 * stay with chase's model otherwise. */
#include <math.h>

#include "check.h"
#include "chase/forecast.h"
#include "sim_fixtures.h"

#define T0 1704067200LL /* 2024-01-01T00:00:00Z */

/* A day that repeats exactly, with steps chase's smooth model cannot draw in a few days (near zero at night, a
 * plateau by day, a spike at 18:00): seasonal naive is exact from the second day, chase's model still learning. */
static double repeating_day(size_t i)
{
    int h = (int)(i % 24);
    return h == 18 ? 600 : (h >= 8 && h < 17 ? 250 + 10 * (h % 3) : 3 + (h % 2));
}

static void test_moves_to_the_exact_candidate(void)
{
    chase_forecaster_t *sel, *ch;
    CHECK(chase_forecaster_create("select", 3600, NULL, &sel, NULL) == CHASE_OK);
    CHECK(chase_forecaster_create("chase", 3600, NULL, &ch, NULL) == CHASE_OK);
    double err_sel = 0, err_chase = 0, ms[24], mc[24];
    int exact = 0, n = 0;
    for (size_t i = 0; i < 20 * 24; i++) {
        int64_t t = T0 + (int64_t)i * 3600;
        CHECK(chase_forecaster_observe(sel, t, repeating_day(i)) == CHASE_OK);
        CHECK(chase_forecaster_observe(ch, t, repeating_day(i)) == CHASE_OK);
        if (i < 10 * 24) /* a day of scored forecasts per horizon, after the thresholds exist */
            continue;
        CHECK(chase_forecaster_predict(sel, 24, ms, NULL, NULL, NULL) == CHASE_OK);
        CHECK(chase_forecaster_predict(ch, 24, mc, NULL, NULL, NULL) == CHASE_OK);
        for (int j = 0; j < 24; j++) {
            double y = repeating_day(i + 1 + (size_t)j);
            err_sel += fabs(ms[j] - y);
            err_chase += fabs(mc[j] - y);
            exact += ms[j] == y;
            n++;
        }
    }
    fprintf(stderr, "  mean absolute error: select %.3f, chase %.3f; select exact in %d of %d\n", err_sel / n,
            err_chase / n, exact, n);
    CHECK(err_chase / n > 1);  /* the case means something: chase's model has not caught up */
    CHECK(exact == n);          /* every horizon moved to seasonal naive, which is exact here */
    chase_forecaster_free(sel);
    chase_forecaster_free(ch);
}

/* On a grid whose next hours follow no pattern (a random walk), nothing beats chase's model clearly enough: select
 * stays with it, bit for bit, at the first horizons. */
static void test_stays_with_chase(void)
{
    chase_forecaster_t *sel, *ch;
    CHECK(chase_forecaster_create("select", 3600, NULL, &sel, NULL) == CHASE_OK);
    CHECK(chase_forecaster_create("chase", 3600, NULL, &ch, NULL) == CHASE_OK);
    unsigned long long s = 5;
    double v = 300, ms[3], mc[3];
    int same = 0, n = 0;
    for (size_t i = 0; i < 40 * 24; i++) {
        v = fmax(10, v + 30 * (fixture_rand(&s) - 0.5));
        int64_t t = T0 + (int64_t)i * 3600;
        CHECK(chase_forecaster_observe(sel, t, v) == CHASE_OK);
        CHECK(chase_forecaster_observe(ch, t, v) == CHASE_OK);
        if (i < 20 * 24)
            continue;
        CHECK(chase_forecaster_predict(sel, 3, ms, NULL, NULL, NULL) == CHASE_OK);
        CHECK(chase_forecaster_predict(ch, 3, mc, NULL, NULL, NULL) == CHASE_OK);
        for (int j = 0; j < 3; j++, n++)
            same += ms[j] == mc[j];
    }
    CHECK(same == n);
    chase_forecaster_free(sel);
    chase_forecaster_free(ch);
}

int main(void)
{
    RUN(test_moves_to_the_exact_candidate);
    RUN(test_stays_with_chase);
    CHECK_DONE();
}
