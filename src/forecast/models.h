/* The registered forecasting models (one idea per file under src/forecast/). */
#ifndef CHASE_FORECAST_MODELS_H
#define CHASE_FORECAST_MODELS_H

#include "chase/forecast.h"

extern const chase_forecaster_ops_t chase_model_persistence;
extern const chase_forecaster_ops_t chase_model_seasonal;
extern const chase_forecaster_ops_t chase_model_seasonal_week;
extern const chase_forecaster_ops_t chase_model_svr_paper;
extern const chase_forecaster_ops_t chase_model_chase;
extern const chase_forecaster_ops_t chase_model_blend;
extern const chase_forecaster_ops_t chase_model_select;

/* Bytes of state the "chase" model holds for samples step_s apart (for the benchmark's size check). */
size_t chase_model_chase_state_bytes(int64_t step_s);

/* Wraps a model's state in a forecaster handle (for models built from more than a name: perfect, provider);
 * on failure the state is destroyed. */
int forecaster_wrap(const chase_forecaster_ops_t *ops, void *state, int64_t step_s, chase_forecaster_t **out,
                    chase_err_t *err);

/* The step of the samples f was created for. */
int64_t forecaster_step(const chase_forecaster_t *f);

#endif
