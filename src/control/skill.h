/* Forecast skill by horizon, measured online: how far the forecasts passed to a policy can be trusted.
 *
 * Every forecast the loop makes is remembered by target time and horizon; when the actual value of that time
 * arrives, the squared error is folded into a running mean per horizon, and so are the moments of the regression
 * of the actual on the forecast, which recalibrate a forecast to what its record says to expect. Until a horizon
 * has a track record its error is unknown (NAN), so an unproven forecaster never steers a plan. */
#ifndef CHASE_CONTROL_SKILL_H
#define CHASE_CONTROL_SKILL_H

#include <stddef.h>
#include <stdint.h>

#include "chase/forecast.h"

#define SKILL_SLOTS (2 * CHASE_FORECAST_MAX_HORIZON)

typedef struct skill {
    int64_t step_s;
    int64_t slot_t[SKILL_SLOTS];                            /* target time held by each slot, INT64_MIN if none */
    double slot_fc[SKILL_SLOTS][CHASE_FORECAST_MAX_HORIZON]; /* forecast of that time by horizon, NAN if none */
    double mse[CHASE_FORECAST_MAX_HORIZON];
    double count[CHASE_FORECAST_MAX_HORIZON];
    /* Weighted means of forecast and actual, and their (co)variances, by horizon. */
    double mean_f[CHASE_FORECAST_MAX_HORIZON], mean_a[CHASE_FORECAST_MAX_HORIZON];
    double var_f[CHASE_FORECAST_MAX_HORIZON], cov_fa[CHASE_FORECAST_MAX_HORIZON], var_a[CHASE_FORECAST_MAX_HORIZON];
} skill_t;

void skill_init(skill_t *s);

/* Remembers forecasts fc[j] of the samples at t0 + j*step_s (horizon j). */
void skill_forecasts(skill_t *s, const double *fc, size_t n, int64_t t0, int64_t step_s);

/* Scores the remembered forecasts of time t against its actual value. */
void skill_actual(skill_t *s, int64_t t, double ci);

/* Root mean squared error of horizon j so far, or NAN without a track record. */
double skill_rmse(const skill_t *s, size_t j);

/* What the record of horizon j says to expect when the forecast is f: the least-squares line of the actuals on
 * the forecasts, at f; *rmse gets that line's RMS error. Returns 0, or -1 (both NAN) without a track record. */
int skill_expect(const skill_t *s, size_t j, double f, double *expect, double *rmse);

#endif
