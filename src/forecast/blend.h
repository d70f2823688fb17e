/* The blend of chase's model with a published forecast (blend.c), and where the published values come from. */
#ifndef CHASE_FORECAST_BLEND_H
#define CHASE_FORECAST_BLEND_H

#include <stdint.h>

#include "chase/forecast.h"

/* A source of published forecasts. get writes out[j] (j < h): the published value for the sample starting at
 * first + j * step_s as known at time now, NAN where none is; destroy (may be NULL) frees arg. */
typedef struct blend_source {
    void (*get)(void *arg, int64_t now, int64_t first, int64_t step_s, int h, double *out);
    void (*destroy)(void *arg);
    void *arg;
} blend_source_t;

/* Creates the blend over src (copied; NULL: no published forecast, chase's own model), named "provider" when
 * provider is set (a live source's forecasts), else "blend". src->arg is destroyed on failure too. */
int forecaster_create_blend(const blend_source_t *src, int provider, int64_t step_s, chase_forecaster_t **out,
                            chase_err_t *err);

#endif
