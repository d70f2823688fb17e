/* A published forecast held in a trace column (DACF's dacf_forecast), with honest issue times for the blend: the
 * value for a time is known from 00:00 UTC of that time's own day, never earlier. DACF is a day-ahead forecast,
 * really published the day before, so this is on the safe side (issue 13). Filled samples (the trace reader fills
 * short gaps from the sample after them, which would be look-ahead) count as missing. */
#include <math.h>
#include <stdlib.h>

#include "forecast/blend.h"

static int64_t day_start(int64_t t)
{
    int64_t r = t % 86400;
    return t - (r < 0 ? r + 86400 : r);
}

static void published_get(void *arg, int64_t now, int64_t first, int64_t step_s, int h, double *out)
{
    const chase_trace_t *tr = arg;
    for (int j = 0; j < h; j++) {
        int64_t t = first + (int64_t)j * step_s;
        out[j] = NAN;
        if (day_start(t) > now || t < tr->start)
            continue;
        int64_t i = (t - tr->start) / tr->step_s;
        if (i < (int64_t)tr->n && !(tr->filled && tr->filled[i]))
            out[j] = tr->ci[i];
    }
}

int chase_forecaster_create_blend(const chase_trace_t *published, int64_t step_s, chase_forecaster_t **out,
                                  chase_err_t *err)
{
    if (!published)
        return forecaster_create_blend(NULL, 0, step_s, out, err);
    if (published->step_s <= 0)
        return chase_err_set(err, CHASE_EINVAL, "published forecast '%s' has no step", published->name);
    blend_source_t src = {.get = published_get, .destroy = NULL, .arg = (void *)published};
    return forecaster_create_blend(&src, 0, step_s, out, err);
}
