/* The "provider" forecaster: a source's own forecasts blended with chase's model (halfway between the two before
 * any record, as the blend starts), chase's own model where the source has none. */
#include <math.h>

#include "check.h"
#include "chase/forecast.h"
#include "chase/signal.h"

/* A source that publishes hourly forecasts 100 + hours after 2024-01-01, up to a horizon of 6 h from now. */
static int src_forecast(void *self, double now, int64_t until, chase_sample_t *out, size_t cap, size_t *n,
                        chase_err_t *err)
{
    int *calls = self;
    (*calls)++;
    (void)err;
    *n = 0;
    for (int64_t t = (int64_t)ceil(now / 3600) * 3600; t < until && t < (int64_t)now + 6 * 3600 && *n < cap;
         t += 3600)
        out[(*n)++] = (chase_sample_t){t, 3600, 100 + (double)(t - 1704067200) / 3600, CHASE_SAMPLE_FORECAST};
    return CHASE_OK;
}
static int src_history(void *self, double now, int64_t since, chase_sample_t *out, size_t cap, size_t *n,
                       chase_err_t *err)
{
    (void)self, (void)now, (void)since, (void)out, (void)cap, (void)err;
    *n = 0;
    return CHASE_OK;
}
static int src_actual(void *self, double a, double b, double *ci, chase_err_t *err)
{
    (void)self, (void)a, (void)b, (void)err;
    *ci = 0;
    return CHASE_ENODATA;
}
static void src_destroy(void *self) { (void)self; }
static const chase_signal_ops_t src_ops = {"fake", src_history, src_forecast, src_actual, src_destroy};

static void test_provider_forecasts(void)
{
    int calls = 0;
    chase_signal_t sig = {&src_ops, &calls, 3600};
    chase_forecaster_t *f;
    CHECK(chase_forecaster_create_provider(&sig, 3600, &f, NULL) == CHASE_OK);
    CHECK_STR(chase_forecaster_name(f), "provider");
    double m[12];
    CHECK(chase_forecaster_predict(f, 3, m, NULL, NULL, NULL) == CHASE_ENODATA); /* nothing seen yet */
    int64_t t0 = 1704067200 + 10 * 3600;
    CHECK(chase_forecaster_observe(f, t0, 333) == CHASE_OK);
    int after_observe = calls;
    CHECK(after_observe >= 1); /* the source is asked when the sample comes in, where the forecast is made */
    CHECK(chase_forecaster_predict(f, 12, m, NULL, NULL, NULL) == CHASE_OK);
    CHECK(calls == after_observe);
    /* Samples 11..16 are halfway between the source's and chase's model, which after one sample says the last
     * observation; the rest is chase's model alone. */
    for (int j = 0; j < 6; j++)
        CHECK_NEAR(m[j], 333 + 0.5 * (100 + 11 + j - 333), 1e-9);
    for (int j = 6; j < 12; j++)
        CHECK_NEAR(m[j], 333, 1e-9);
    chase_forecaster_free(f);
}

static void test_provider_by_name(void)
{
    chase_forecaster_t *f;
    chase_err_t err;
    CHECK(chase_forecaster_create("provider", 3600, NULL, &f, &err) == CHASE_EINVAL);
    CHECK(strstr(err.msg, "chase run") != NULL);
}

int main(void)
{
    RUN(test_provider_forecasts);
    RUN(test_provider_by_name);
    CHECK_DONE();
}
