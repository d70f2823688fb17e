/* The registered forecasting models (one file each under src/forecast/). */
#ifndef CHASE_FORECAST_MODELS_H
#define CHASE_FORECAST_MODELS_H

#include "chase/forecast.h"

extern const chase_forecaster_ops_t chase_model_persistence;

#endif
