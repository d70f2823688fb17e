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

/* Creates the "provider" forecaster: the carbon source's own forecasts (Electricity Maps, WattTime, UK CI), read
 * from signal (kept by reference) for the samples after the last observed one, blended horizon by horizon with
 * chase's own model as chase_forecaster_create_blend does; where the source gives none, chase's own forecast
 * stands. step_s is the sample grid of the observations. */
struct chase_signal;
int chase_forecaster_create_provider(struct chase_signal *signal, int64_t step_s, chase_forecaster_t **out,
                                     chase_err_t *err);

/* Creates the "blend" forecaster: chase's own model combined, horizon by horizon, with the published forecast held
 * in published (kept by reference; NULL: none, then it is chase's own model), moving from chase's forecast towards
 * the published one as far as their record at that horizon says (learnt online). The published value for a time is
 * taken as known from 00:00 UTC of that time's own day (a day-ahead forecast, such as DACF's; real ones are issued
 * the day before, so this is on the safe side); filled samples of published count as missing. */
int chase_forecaster_create_blend(const chase_trace_t *published, int64_t step_s, chase_forecaster_t **out,
                                  chase_err_t *err);

/* Creates the "select" forecaster: for each horizon, online, whichever of chase's model (blended with published as
 * chase_forecaster_create_blend does; NULL: none), seasonal naive and persistence has lately cost the power-limit
 * decisions least: an error counts by the recent CI values that lie between forecast and actual (the decision
 * thresholds it could have crossed), each weighted by its distance to the actual. */
int chase_forecaster_create_select(const chase_trace_t *published, int64_t step_s, chase_forecaster_t **out,
                                   chase_err_t *err);

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

/* A forecast tape: one forecaster learns once and several readers replay what it said. Each reader is a
 * forecaster handle that must be given exactly the samples the tape was given (the same trace from the same start,
 * as the policies of one simulation are); it then predicts what the recorded forecaster predicted at the same point,
 * so it still sees only the past. The forecast of all CHASE_FORECAST_MAX_HORIZON samples is recorded after every
 * sample (its mean only: readers give no interval). A reader given a different sample fails with CHASE_EINVAL and
 * marks the tape diverged. Memory: about 0.4 kB per sample observed. */
typedef struct chase_forecast_tape chase_forecast_tape_t;

/* Creates a tape over source, a forecaster that has observed nothing yet; the tape owns it (also on failure). */
int chase_forecast_tape_create(chase_forecaster_t *source, chase_forecast_tape_t **out, chase_err_t *err);

/* A new reader of tape, freed with chase_forecaster_free before the tape is freed. */
int chase_forecast_tape_reader(chase_forecast_tape_t *tape, chase_forecaster_t **out, chase_err_t *err);

/* Whether a reader was given a sample the recording does not hold (its forecasts then failed). */
int chase_forecast_tape_diverged(const chase_forecast_tape_t *tape);

/* Frees the tape and its forecaster (NULL is fine). */
void chase_forecast_tape_free(chase_forecast_tape_t *tape);

/* Rolling-origin evaluation: every model sees the trace one sample at a time, and after each sample forecasts the
 * sample horizon_s ahead; the forecast is scored against the true value. Samples the trace reader filled (gaps) are
 * given to the models as NAN (filling used the sample after the gap, which would be look-ahead) and not scored.
 * When a model answers CHASE_ENODATA (too little history) the persistence forecast stands in and is counted in
 * n_fallback, so every model is scored on the same points. */
typedef struct chase_forecast_eval_opts {
    int64_t horizon_s;        /* lead time, a multiple of the trace step, 1..CHASE_FORECAST_MAX_HORIZON steps */
    int64_t from;             /* first target time scored; INT64_MIN: the middle of the trace */
    int64_t to;               /* targets scored are before this; INT64_MAX: to the end */
    const double *compare;    /* NULL, or a published forecast aligned with the trace samples (NAN: none) ... */
    const char *compare_name; /* ... scored as one more row on the same points, named this */
} chase_forecast_eval_opts_t;

/* One row of an evaluation. */
typedef struct chase_forecast_score {
    char model[64];
    double mape_pct;             /* mean of |forecast - actual| / actual over targets with actual > 0, in % */
    double mae_g_per_kwh;        /* mean |forecast - actual| over all scored targets */
    size_t n;                    /* targets scored */
    size_t n_fallback;           /* of which persistence stood in because the model had too little history */
    double ratio_to_persistence; /* mape_pct / persistence's mape_pct on the same points */
} chase_forecast_score_t;

/* Evaluates n_models models (names from chase_forecaster_models) on trace; out receives n_models rows, plus one
 * for opts->compare when given. CHASE_EINVAL for a bad horizon or window, CHASE_ENODATA when no target is scored. */
int chase_forecast_evaluate(const chase_trace_t *trace, const char *const *models, size_t n_models,
                            const chase_forecast_eval_opts_t *opts, chase_forecast_score_t *out, chase_err_t *err);

/* The registered models, NULL-terminated, for --list and --help. */
const chase_forecaster_ops_t *const *chase_forecaster_models(void);

#ifdef __cplusplus
}
#endif
#endif
