/* What `chase forecast` and `chase forecast eval` share: their options and how they read times and horizons. */
#ifndef CHASE_CLI_FORECAST_ARGS_H
#define CHASE_CLI_FORECAST_ARGS_H

#include <stdint.h>

#include "chase/trace.h"

#define PROG "chase forecast"

typedef struct forecast_args {
    const char *trace, *column, *at, *model, *models, *from, *to, *compare, *json, *horizon;
    int lca, eval;
} forecast_args_t;

/* An ISO-8601 time for option name; prints an error and returns -1 when it is not one. */
int cli_forecast_time(const char *name, const char *text, int64_t *out);

/* A lead time that is 1 to CHASE_FORECAST_MAX_HORIZON steps of tr; prints an error and returns -1 otherwise. */
int cli_forecast_horizon(const char *text, const chase_trace_t *tr, int64_t *out_s);

/* `chase forecast eval` on tr; returns the exit status. */
int cli_forecast_eval(const forecast_args_t *a, const chase_trace_t *tr);

#endif
