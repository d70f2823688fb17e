/* The list of forecasting models `--forecaster NAME` can select. */
#include "forecast/models.h"

static const chase_forecaster_ops_t *const models[] = {
    &chase_model_persistence,
    0,
};

const chase_forecaster_ops_t *const *chase_forecaster_models(void) { return models; }
