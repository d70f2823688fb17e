/* The blend of chase's model with a published forecast: it must never read a published value before 00:00 UTC of
 * that value's own day; it must learn to follow a published forecast that is better than chase's model, and to
 * ignore one that is worse; where no published value is known it is chase's own model, bit for bit. */
#include <math.h>

#include "check.h"
#include "chase/forecast.h"
#include "sim_fixtures.h"

#define DAY 86400
#define T0 1704067200LL /* 2024-01-01T00:00:00Z */
#define DAYS 100

/* A grid with a daily swing and slow weather (a random walk pulled back to 0) that chase cannot see coming. */
static chase_trace_t *truth_trace(unsigned long long seed)
{
    chase_trace_t *t = chase_trace_new("truth", T0, 3600, DAYS * 24);
    double w = 0;
    for (size_t i = 0; i < t->n; i++) {
        w = 0.97 * w + 25 * (fixture_rand(&seed) - 0.5);
        t->ci[i] = fmax(5, 300 + 80 * sin(2 * M_PI * (double)(i % 24) / 24) + 2 * w);
    }
    return t;
}

/* Mean absolute error of f's h-step forecasts over the last 20 days, fed the whole truth. */
static double mae_at(chase_forecaster_t *f, const chase_trace_t *y, int h)
{
    double sum = 0, mean[CHASE_FORECAST_MAX_HORIZON];
    int n = 0;
    for (size_t i = 0; i + (size_t)h < y->n; i++) {
        CHECK(chase_forecaster_observe(f, y->start + (int64_t)i * y->step_s, y->ci[i]) == CHASE_OK);
        if (i < y->n - 20 * 24 || chase_forecaster_predict(f, h, mean, NULL, NULL, NULL) != CHASE_OK)
            continue;
        sum += fabs(mean[h - 1] - y->ci[i + (size_t)h]);
        n++;
    }
    return n ? sum / n : NAN;
}

/* A published value is used from 00:00 UTC of its own day, not before: at 22:00 the forecasts for tomorrow are
 * chase's own, bit for bit, however wild the published values for tomorrow are; the one for 23:00 today moves. */
static void test_issue_time(void)
{
    chase_trace_t *y = truth_trace(1), *pub = chase_trace_new("published", T0, 3600, y->n);
    for (size_t i = 0; i < y->n; i++)
        pub->ci[i] = (i / 24) % 2 ? 1e5 : y->ci[i]; /* odd days: absurd */
    chase_forecaster_t *b, *c;
    CHECK(chase_forecaster_create_blend(pub, 3600, &b, NULL) == CHASE_OK);
    CHECK(chase_forecaster_create("chase", 3600, NULL, &c, NULL) == CHASE_OK);
    double mb[6], mc[6];
    for (size_t i = 0; i < 30 * 24; i++) {
        int64_t t = T0 + (int64_t)i * 3600;
        CHECK(chase_forecaster_observe(b, t, y->ci[i]) == CHASE_OK);
        CHECK(chase_forecaster_observe(c, t, y->ci[i]) == CHASE_OK);
        if (i % 24 != 21) /* the sample 21:00-22:00 has just ended: now is 22:00 */
            continue;
        CHECK(chase_forecaster_predict(b, 6, mb, NULL, NULL, NULL) == CHASE_OK);
        CHECK(chase_forecaster_predict(c, 6, mc, NULL, NULL, NULL) == CHASE_OK);
        for (int j = 2; j < 6; j++) /* targets from 00:00 tomorrow */
            CHECK(mb[j] == mc[j]);
        if ((i / 24) % 2) /* today absurd: the blend moves towards it for 22:00 and 23:00 today */
            CHECK(mb[1] > mc[1] + 10);
    }
    chase_forecaster_free(b);
    chase_forecaster_free(c);
    chase_trace_free(pub);
    chase_trace_free(y);
}

/* A published forecast that knows the weather (the truth plus small noise) is followed far ahead, where chase's
 * model can only guess; one that is noise around the mean is left alone. */
static void test_learns_whom_to_follow(void)
{
    chase_trace_t *y = truth_trace(7), *good = chase_trace_new("good", T0, 3600, y->n),
                  *bad = chase_trace_new("bad", T0, 3600, y->n);
    unsigned long long s = 99;
    for (size_t i = 0; i < y->n; i++) {
        good->ci[i] = y->ci[i] + 4 * (fixture_rand(&s) - 0.5);
        bad->ci[i] = 300 + 300 * (fixture_rand(&s) - 0.5);
    }
    int horizons[] = {1, 6, 12};
    for (int k = 0; k < 3; k++) {
        int h = horizons[k];
        chase_forecaster_t *c, *bg, *bb;
        CHECK(chase_forecaster_create("chase", 3600, NULL, &c, NULL) == CHASE_OK);
        CHECK(chase_forecaster_create_blend(good, 3600, &bg, NULL) == CHASE_OK);
        CHECK(chase_forecaster_create_blend(bad, 3600, &bb, NULL) == CHASE_OK);
        double e_c = mae_at(c, y, h), e_good = mae_at(bg, y, h), e_bad = mae_at(bb, y, h);
        fprintf(stderr, "  %2d h: MAE chase %.2f, blend with a good forecast %.2f, with a bad one %.2f\n", h, e_c,
                e_good, e_bad);
        CHECK(e_good < 0.6 * e_c);
        CHECK(e_bad < 1.05 * e_c);
        chase_forecaster_free(c);
        chase_forecaster_free(bg);
        chase_forecaster_free(bb);
    }
    chase_trace_free(good);
    chase_trace_free(bad);
    chase_trace_free(y);
}

/* Without a published forecast the blend is chase's model. */
static void test_without_published(void)
{
    chase_trace_t *y = truth_trace(3);
    chase_forecaster_t *b, *c, *named;
    CHECK(chase_forecaster_create_blend(NULL, 3600, &b, NULL) == CHASE_OK);
    CHECK(chase_forecaster_create("blend", 3600, NULL, &named, NULL) == CHASE_OK);
    CHECK(chase_forecaster_create("chase", 3600, NULL, &c, NULL) == CHASE_OK);
    CHECK_STR(chase_forecaster_name(b), "blend");
    int same = 1;
    for (size_t i = 0; i < 10 * 24; i++) {
        int64_t t = T0 + (int64_t)i * 3600;
        double v = i % 17 == 3 ? NAN : y->ci[i];
        chase_forecaster_observe(b, t, v);
        chase_forecaster_observe(named, t, v);
        chase_forecaster_observe(c, t, v);
        double mb[24], mn[24], mc[24];
        CHECK(chase_forecaster_predict(b, 24, mb, NULL, NULL, NULL) == CHASE_OK);
        CHECK(chase_forecaster_predict(named, 24, mn, NULL, NULL, NULL) == CHASE_OK);
        CHECK(chase_forecaster_predict(c, 24, mc, NULL, NULL, NULL) == CHASE_OK);
        for (int j = 0; j < 24; j++)
            same &= mb[j] == mc[j] && mn[j] == mc[j];
    }
    CHECK(same);
    chase_forecaster_free(b);
    chase_forecaster_free(named);
    chase_forecaster_free(c);
    chase_trace_free(y);
}

int main(void)
{
    RUN(test_issue_time);
    RUN(test_learns_whom_to_follow);
    RUN(test_without_published);
    CHECK_DONE();
}
