/* The forecaster handle: enforces time order (no look-ahead) and dispatches to the model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chase/forecast.h"
#include "forecast/models.h"

struct chase_forecaster {
    const chase_forecaster_ops_t *ops;
    void *state;
    int64_t step_s;
    int64_t last_t;
};

int chase_forecaster_create(const char *name, int64_t step_s, const char *options, chase_forecaster_t **out,
                            chase_err_t *err)
{
    const chase_forecaster_ops_t *const *m = chase_forecaster_models();
    if (step_s <= 0)
        return chase_err_set(err, CHASE_EINVAL, "forecaster step must be positive");
    for (; *m; m++) {
        if (strcmp((*m)->name, name) != 0)
            continue;
        chase_forecaster_t *f = calloc(1, sizeof *f);
        if (!f)
            return chase_err_set(err, CHASE_ENOMEM, "out of memory");
        f->ops = *m;
        f->step_s = step_s;
        f->last_t = INT64_MIN;
        f->state = f->ops->create(step_s, options, err);
        if (!f->state) {
            free(f);
            return err && err->code ? err->code : CHASE_ENOMEM;
        }
        *out = f;
        return CHASE_OK;
    }
    if (!strcmp(name, "provider"))
        return chase_err_set(err, CHASE_EINVAL,
                             "the provider forecaster uses a live source's own forecasts: use it with chase run "
                             "and a provider that publishes forecasts");
    if (!strcmp(name, "perfect"))
        return chase_err_set(err, CHASE_EINVAL, "the perfect forecaster needs the true trace (simulation only)");
    return chase_err_set(err, CHASE_ENOTFOUND, "unknown forecaster '%s'", name);
}

/* "perfect": reads the truth after the last observed time; it exists to measure what forecast error costs. */
typedef struct perfect {
    const chase_trace_t *truth;
    int64_t last_t;
} perfect_t;

static int perfect_observe(void *state, int64_t t, double ci)
{
    (void)ci;
    ((perfect_t *)state)->last_t = t;
    return CHASE_OK;
}

static int perfect_predict(void *state, int64_t last_t, int h, double *mean, double *lo, double *hi)
{
    perfect_t *p = state;
    for (int i = 0; i < h; i++) {
        double t = (double)last_t + (double)p->truth->step_s * (i + 1);
        double v = chase_trace_at(p->truth, t);
        mean[i] = isnan(v) ? (i ? mean[i - 1] : chase_trace_at(p->truth, (double)last_t)) : v;
        if (lo)
            lo[i] = mean[i];
        if (hi)
            hi[i] = mean[i];
    }
    return CHASE_OK;
}

static void perfect_destroy(void *state) { free(state); }

static const chase_forecaster_ops_t perfect_ops = {
    "perfect", "the true future values (simulation only, to separate forecast error from policy quality)",
    NULL, perfect_observe, perfect_predict, perfect_destroy};

int forecaster_wrap(const chase_forecaster_ops_t *ops, void *state, int64_t step_s, chase_forecaster_t **out,
                    chase_err_t *err)
{
    chase_forecaster_t *f = calloc(1, sizeof *f);
    if (!f) {
        ops->destroy(state);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    f->ops = ops;
    f->state = state;
    f->step_s = step_s;
    f->last_t = INT64_MIN;
    *out = f;
    return CHASE_OK;
}

int chase_forecaster_create_perfect(const chase_trace_t *truth, chase_forecaster_t **out, chase_err_t *err)
{
    perfect_t *p = calloc(1, sizeof *p);
    if (!p)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    p->truth = truth;
    return forecaster_wrap(&perfect_ops, p, truth->step_s, out, err);
}

void chase_forecaster_free(chase_forecaster_t *f)
{
    if (!f)
        return;
    f->ops->destroy(f->state);
    free(f);
}

const char *chase_forecaster_name(const chase_forecaster_t *f) { return f->ops->name; }

int64_t chase_forecaster_last(const chase_forecaster_t *f) { return f->last_t; }

int64_t forecaster_step(const chase_forecaster_t *f) { return f->step_s; }

int chase_forecaster_observe(chase_forecaster_t *f, int64_t t, double ci)
{
    if (f->last_t != INT64_MIN && t <= f->last_t)
        return CHASE_EINVAL;
    if (f->last_t != INT64_MIN && (t - f->last_t) % f->step_s != 0)
        return CHASE_EINVAL; /* off the step grid: "k steps back" would no longer mean k*step seconds */
    if (!isnan(ci) && (!isfinite(ci) || ci < 0))
        return CHASE_ERANGE;
    int rc = f->ops->observe(f->state, t, ci);
    if (rc == CHASE_OK)
        f->last_t = t;
    return rc;
}

int chase_forecaster_predict(chase_forecaster_t *f, int h, double *mean, double *lo, double *hi, chase_err_t *err)
{
    if (h < 1 || h > CHASE_FORECAST_MAX_HORIZON)
        return chase_err_set(err, CHASE_EINVAL, "horizon %d outside 1..%d", h, CHASE_FORECAST_MAX_HORIZON);
    if (f->last_t == INT64_MIN)
        return chase_err_set(err, CHASE_ENODATA, "forecaster '%s' has seen no data yet", f->ops->name);
    int rc = f->ops->predict(f->state, f->last_t, h, mean, lo, hi);
    if (rc != CHASE_OK)
        return chase_err_set(err, rc, "forecaster '%s' cannot predict yet: %s", f->ops->name, chase_strerror(rc));
    return CHASE_OK;
}
