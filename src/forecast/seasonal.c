/* Seasonal naive forecasts: "seasonal" repeats the value of the same time one day earlier, "seasonal-week" one week
 * earlier. One idea with two periods, so both live here.
 * A horizon longer than the period reaches back whole periods until the source sample is in the past.
 * Too little history (under one period) gives CHASE_ENODATA; a single missing source sample (a gap) is replaced by
 * the last real value, so one hole in the trace does not stop the model. */
#include <math.h>
#include <stdlib.h>

#include "forecast/history.h"
#include "forecast/models.h"

typedef struct seasonal {
    chase_hist_t hist;
    long period; /* in steps */
} seasonal_t;

static void *seasonal_create_period(int64_t step_s, const char *options, int64_t period_s, const char *name,
                                    chase_err_t *err)
{
    if (options && *options) {
        chase_err_set(err, CHASE_EINVAL, "%s takes no options (got '%s')", name, options);
        return NULL;
    }
    if (period_s % step_s != 0) {
        chase_err_set(err, CHASE_EINVAL, "%s needs a step that divides %lld s (got %lld s)", name,
                      (long long)period_s, (long long)step_s);
        return NULL;
    }
    seasonal_t *s = malloc(sizeof *s);
    if (!s) {
        chase_err_set(err, CHASE_ENOMEM, "out of memory");
        return NULL;
    }
    s->period = (long)(period_s / step_s);
    /* Horizons up to the maximum may reach two periods back when the period is shorter than the horizon. */
    size_t cap = (size_t)(s->period * (1 + (CHASE_FORECAST_MAX_HORIZON + s->period - 1) / s->period) + 1);
    if (chase_hist_init(&s->hist, cap, step_s) != CHASE_OK) {
        free(s);
        chase_err_set(err, CHASE_ENOMEM, "out of memory");
        return NULL;
    }
    return s;
}

static void *seasonal_day_create(int64_t step_s, const char *options, chase_err_t *err)
{
    return seasonal_create_period(step_s, options, 86400, "seasonal", err);
}

static void *seasonal_week_create(int64_t step_s, const char *options, chase_err_t *err)
{
    return seasonal_create_period(step_s, options, 7 * 86400, "seasonal-week", err);
}

static int seasonal_observe(void *state, int64_t t, double ci)
{
    chase_hist_push(&((seasonal_t *)state)->hist, t, ci);
    return CHASE_OK;
}

static int seasonal_predict(void *state, int64_t last_t, int h, double *mean, double *lo, double *hi)
{
    (void)last_t;
    seasonal_t *s = state;
    if (s->hist.count < (size_t)s->period)
        return CHASE_ENODATA;
    long real = chase_hist_last_real(&s->hist, 0);
    if (real < 0)
        return CHASE_ENODATA;
    double fallback = chase_hist_back(&s->hist, real);
    for (int k = 1; k <= h; k++) {
        long periods = (k + s->period - 1) / s->period;
        double v = chase_hist_back(&s->hist, periods * s->period - k);
        mean[k - 1] = isnan(v) ? fallback : v;
        if (lo)
            lo[k - 1] = NAN;
        if (hi)
            hi[k - 1] = NAN;
    }
    return CHASE_OK;
}

static void seasonal_destroy(void *state)
{
    seasonal_t *s = state;
    chase_hist_free(&s->hist);
    free(s);
}

const chase_forecaster_ops_t chase_model_seasonal = {
    "seasonal", "same time of day one day earlier", seasonal_day_create, seasonal_observe, seasonal_predict,
    seasonal_destroy};

const chase_forecaster_ops_t chase_model_seasonal_week = {
    "seasonal-week", "same time one week earlier", seasonal_week_create, seasonal_observe, seasonal_predict,
    seasonal_destroy};
