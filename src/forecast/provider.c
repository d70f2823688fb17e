/* "provider": the carbon source's own forecasts (Electricity Maps, WattTime, UK CI) blended with chase's model, the
 * same blend as a published trace column gets in simulations and evaluations (blend.c): horizon by horizon, the
 * blend learns from the record how far to move from chase's forecast towards the source's. Where the source has no
 * forecast (a failing endpoint, a plan without forecasts, beyond its horizon) the forecast is chase's own. */
#include <math.h>
#include <stdlib.h>

#include "chase/signal.h"
#include "forecast/blend.h"

#define PROVIDER_CAP 512

typedef struct provider {
    chase_signal_t *signal;
    chase_sample_t buf[PROVIDER_CAP];
} provider_t;

/* The source's forecasts for the h samples from first, known at now (the end of the last observed sample): each
 * sample gets the time-weighted mean of the forecast values that overlap it. */
static void provider_get(void *arg, int64_t now, int64_t first, int64_t step_s, int h, double *out)
{
    provider_t *p = arg;
    int64_t until = first + (int64_t)h * step_s;
    size_t n = 0;
    if (chase_signal_forecast(p->signal, (double)now, until, p->buf, PROVIDER_CAP, &n, NULL) != CHASE_OK)
        n = 0;
    for (int j = 0; j < h; j++) {
        double a = (double)(first + (int64_t)j * step_s), b = a + (double)step_s, sum = 0, w = 0;
        for (size_t i = 0; i < n; i++) {
            double s0 = (double)p->buf[i].t, s1 = s0 + (double)p->buf[i].step_s;
            double ov = fmin(b, s1) - fmax(a, s0);
            if (ov > 0 && isfinite(p->buf[i].ci)) {
                sum += p->buf[i].ci * ov;
                w += ov;
            }
        }
        out[j] = w > 0 ? sum / w : NAN;
    }
}

int chase_forecaster_create_provider(chase_signal_t *signal, int64_t step_s, chase_forecaster_t **out,
                                     chase_err_t *err)
{
    if (!signal || step_s <= 0)
        return chase_err_set(err, CHASE_EINVAL, "the provider forecaster needs a signal and a step");
    provider_t *p = calloc(1, sizeof *p);
    if (!p)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    p->signal = signal;
    blend_source_t src = {.get = provider_get, .destroy = free, .arg = p};
    return forecaster_create_blend(&src, 1, step_s, out, err);
}
