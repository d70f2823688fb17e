/* A constant signal, for tests and for users who want CI-unaware runs through the same loop, and its spec
 * "static:VALUE[,step=DURATION]". Samples sit on a grid aligned to the Unix epoch, so two static signals with the
 * same step agree on period boundaries. */
#include <math.h>
#include <stdlib.h>

#include "chase/signal.h"
#include "signal/registry.h"

typedef struct static_signal {
    double value;
    int64_t step_s;
} static_signal_t;

/* floor(a / b) for b > 0, also for negative a. */
static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static int static_history(void *self, double now, int64_t since, chase_sample_t *out, size_t cap, size_t *n,
                          chase_err_t *err)
{
    (void)err;
    static_signal_t *s = self;
    /* Samples i with (i + 1) * step <= now have ended; the first reported one starts at or after since. */
    int64_t end = (int64_t)floor(now / (double)s->step_s); /* one past the last ended sample */
    int64_t first = end - (cap > (size_t)INT32_MAX ? INT32_MAX : (int64_t)cap);
    if (since > first * s->step_s) { /* only now is since known to be a sane number (not INT64_MIN) */
        first = floor_div(since, s->step_s);
        if (first * s->step_s < since)
            first++;
        if (first > end)
            first = end;
    }
    for (int64_t i = first; i < end; i++)
        out[i - first] = (chase_sample_t){i * s->step_s, s->step_s, s->value, 0};
    *n = (size_t)(end - first);
    return CHASE_OK;
}

static int static_actual(void *self, double t0, double t1, double *mean_ci, chase_err_t *err)
{
    (void)t0;
    (void)t1;
    (void)err;
    *mean_ci = ((static_signal_t *)self)->value;
    return CHASE_OK;
}

static void static_destroy(void *self)
{
    free(self);
}

static const chase_signal_ops_t static_ops = {"static", static_history, NULL, static_actual, static_destroy};

int chase_signal_static(double value, int64_t step_s, chase_signal_t **out, chase_err_t *err)
{
    if (!out)
        return chase_err_set(err, CHASE_EINVAL, "static signal: missing output");
    if (!isfinite(value) || value < 0)
        return chase_err_set(err, CHASE_EINVAL, "static signal: CI %g must be a finite number >= 0 g/kWh", value);
    if (step_s <= 0)
        return chase_err_set(err, CHASE_EINVAL, "static signal: step must be positive");
    static_signal_t *self = malloc(sizeof *self);
    chase_signal_t *sig = calloc(1, sizeof *sig);
    if (!self || !sig) {
        free(self);
        free(sig);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    self->value = value;
    self->step_s = step_s;
    sig->ops = &static_ops;
    sig->self = self;
    sig->step_s = step_s;
    *out = sig;
    return CHASE_OK;
}

/* static:VALUE[,step=DURATION] */
int chase_source_static_open(chase_keys_t *k, const chase_source_ctx_t *ctx, chase_signal_t **out, chase_err_t *err)
{
    (void)ctx;
    const char *text = k->lead;
    if (!text || !*text)
        return chase_err_set(err, CHASE_EINVAL, "static: expected a CI value in g/kWh (e.g. static:400)");
    char *end;
    double v = strtod(text, &end), step = 1800;
    if (end == text || *end || !isfinite(v) || v < 0)
        return chase_err_set(err, CHASE_EINVAL, "static: '%.40s' is not a CI value >= 0 in g/kWh (e.g. static:400)",
                             text);
    int rc = chase_keys_duration(k, "step", 0, 1e9, &step, err);
    if (rc != CHASE_OK)
        return rc;
    if (step < 60 || step > 86400 || step != floor(step))
        return chase_err_set(err, CHASE_EINVAL, "static: step=%.40s must be whole seconds from 1m to 1d",
                             chase_keys_get(k, "step"));
    return chase_signal_static(v, (int64_t)step, out, err);
}
