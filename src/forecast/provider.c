/* "provider": the carbon source's own forecasts, for sources that publish them (Electricity Maps, WattTime, UK CI).
 * The forecaster reads them from the signal at prediction time; what the source does not cover falls back to the
 * last observed value, so a source whose forecast endpoint fails behaves like persistence. */
#include <math.h>
#include <stdlib.h>

#include "chase/signal.h"
#include "forecast/models.h"

#define PROVIDER_CAP 512

typedef struct provider {
    chase_signal_t *signal;
    int64_t step_s;
    double last;
    chase_sample_t buf[PROVIDER_CAP];
} provider_t;

static int provider_observe(void *state, int64_t t, double ci)
{
    (void)t;
    if (!isnan(ci))
        ((provider_t *)state)->last = ci;
    return CHASE_OK;
}

static int provider_predict(void *state, int64_t last_t, int h, double *mean, double *lo, double *hi)
{
    provider_t *p = state;
    if (isnan(p->last))
        return CHASE_ENODATA;
    int64_t first = last_t + p->step_s, until = first + (int64_t)h * p->step_s;
    size_t n = 0;
    /* Known at the end of the last observed sample: that is when this forecast is made. */
    if (chase_signal_forecast(p->signal, (double)first, until, p->buf, PROVIDER_CAP, &n, NULL) != CHASE_OK)
        n = 0;
    for (int j = 0; j < h; j++) {
        double a = (double)(first + (int64_t)j * p->step_s), b = a + (double)p->step_s, sum = 0, w = 0;
        for (size_t i = 0; i < n; i++) {
            double s0 = (double)p->buf[i].t, s1 = s0 + (double)p->buf[i].step_s;
            double ov = fmin(b, s1) - fmax(a, s0);
            if (ov > 0 && isfinite(p->buf[i].ci)) {
                sum += p->buf[i].ci * ov;
                w += ov;
            }
        }
        mean[j] = w > 0 ? sum / w : p->last;
        if (lo)
            lo[j] = NAN;
        if (hi)
            hi[j] = NAN;
    }
    return CHASE_OK;
}

static void provider_destroy(void *state) { free(state); }

static const chase_forecaster_ops_t provider_ops = {
    "provider", "the carbon source's own forecast (Electricity Maps, WattTime, UK CI); persistence where it has none",
    NULL, provider_observe, provider_predict, provider_destroy};

int chase_forecaster_create_provider(chase_signal_t *signal, int64_t step_s, chase_forecaster_t **out,
                                     chase_err_t *err)
{
    if (!signal || step_s <= 0)
        return chase_err_set(err, CHASE_EINVAL, "the provider forecaster needs a signal and a step");
    provider_t *p = calloc(1, sizeof *p);
    if (!p)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    p->signal = signal;
    p->step_s = step_s;
    p->last = NAN;
    return forecaster_wrap(&provider_ops, p, step_s, out, err);
}
