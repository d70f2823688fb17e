/* Carbon-intensity forecasters behind one interface.
 *
 * A forecaster only ever learns the past through chase_forecaster_observe, one sample at a time in time order, and
 * predicts the samples that follow the last one it was given; it holds no reference to a trace, so it cannot look
 * ahead. The one exception is "perfect", built from the true trace on purpose, to measure what forecast error costs. */
#ifndef CHASE_FORECAST_H
#define CHASE_FORECAST_H

#include <stddef.h>
#include <stdint.h>

#include "chase/error.h"
#include "chase/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CHASE_FORECAST_MAX_HORIZON 48

/* What a model implements; state is private to it. predict writes h values for the samples at
 * last + step*(1..h); lo and hi (may be NULL) receive an 80 % prediction interval or NAN when the model has none. */
typedef struct chase_forecaster_ops {
    const char *name;
    const char *summary; /* one line for --help and --list */
    void *(*create)(int64_t step_s, const char *options, chase_err_t *err);
    int (*observe)(void *state, int64_t t, double ci);
    int (*predict)(void *state, int64_t last_t, int h, double *mean, double *lo, double *hi);
    void (*destroy)(void *state);
} chase_forecaster_ops_t;

typedef struct chase_forecaster chase_forecaster_t;

/* Creates the named model ("persistence", ...) for samples step_s apart; options may be NULL. */
int chase_forecaster_create(const char *name, int64_t step_s, const char *options, chase_forecaster_t **out,
                            chase_err_t *err);

/* Creates the "perfect" forecaster, which returns the true values of truth (kept by reference). */
int chase_forecaster_create_perfect(const chase_trace_t *truth, chase_forecaster_t **out, chase_err_t *err);

/* Frees f (NULL is fine). */
void chase_forecaster_free(chase_forecaster_t *f);

/* Name of the model. */
const char *chase_forecaster_name(const chase_forecaster_t *f);

/* Gives the sample covering [t, t+step); times must increase and sit on the step grid (gaps may be skipped or
 * given as NAN). CHASE_EINVAL for a time that is not after the last one. */
int chase_forecaster_observe(chase_forecaster_t *f, int64_t t, double ci);

/* Time of the last observed sample, or INT64_MIN before any. */
int64_t chase_forecaster_last(const chase_forecaster_t *f);

/* Predicts the h (1..CHASE_FORECAST_MAX_HORIZON) samples after the last observed one.
 * CHASE_ENODATA when the model has too little history (callers fall back to persistence). */
int chase_forecaster_predict(chase_forecaster_t *f, int h, double *mean, double *lo, double *hi, chase_err_t *err);

/* The registered models, NULL-terminated, for --list and --help. */
const chase_forecaster_ops_t *const *chase_forecaster_models(void);

#ifdef __cplusplus
}
#endif
#endif
