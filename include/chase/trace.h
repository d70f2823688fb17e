/* Carbon-intensity time series: regular UTC steps in gCO2eq/kWh, and the CSV reader. */
#ifndef CHASE_TRACE_H
#define CHASE_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "chase/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A regular series: sample i covers [start + i*step_s, start + (i+1)*step_s) and holds its average CI.
 * After chase_trace_read_csv every value is finite (short gaps are filled, see docs/traces.md);
 * filled[i] is 1 where the value was filled rather than read. */
typedef struct chase_trace {
    char name[128];
    int64_t start;         /* UTC seconds of sample 0 */
    int64_t step_s;        /* 300 .. 3600 */
    size_t n;              /* number of samples */
    double *ci;            /* n values, g/kWh */
    unsigned char *filled; /* n flags, may be NULL when nothing was filled */
    size_t n_filled;       /* number of filled samples */
    size_t trimmed_head;   /* samples without a value dropped before the first value (chase_trace_read_csv) */
    size_t trimmed_tail;   /* samples without a value dropped after the last value */
    char column[128];      /* the CSV column that was read ("" for traces not read from a file) */
    char note[256];        /* what reading changed that the user should hear about once, e.g. a file whose step
                              changes part way, resampled to one step; "" when nothing. The library never prints it:
                              a command does. */
} chase_trace_t;

/* How gaps are handled and which column is read (all zero: the defaults). */
typedef struct chase_trace_read_opts {
    const char *column; /* NULL: "ci", else "actual", else the Electricity Maps CI column */
    int lca;            /* Electricity Maps export: 1 reads "(LCA)", 0 (default) reads "(direct)" */
    int64_t max_gap_s;  /* longest gap that is filled; 0 means the default (24 h); longer is an error */
} chase_trace_read_opts_t;

#define CHASE_TRACE_DEFAULT_MAX_GAP_S 86400 /* longest gap filled by default */
#define CHASE_TRACE_LINEAR_GAP_S 10800      /* gaps up to this long are interpolated linearly */
#define CHASE_TRACE_MIN_STEP_S 300          /* shortest step a CSV may have */
#define CHASE_TRACE_MAX_STEP_S 3600         /* longest step a CSV may have */

/* Allocates a trace of n samples (values set to 0) or returns NULL. */
chase_trace_t *chase_trace_new(const char *name, int64_t start, int64_t step_s, size_t n);

/* Frees t (NULL is fine). */
void chase_trace_free(chase_trace_t *t);

/* Reads a CSV file (time,ci / named column / Electricity Maps export); errors name file and line (CHASE_EFORMAT). */
int chase_trace_read_csv(const char *path, const chase_trace_read_opts_t *opts, chase_trace_t **out, chase_err_t *err);

/* Same as chase_trace_read_csv on text held in memory; name is used in messages and as the trace name. */
int chase_trace_parse_csv(const char *text, size_t len, const char *name, const chase_trace_read_opts_t *opts,
                          chase_trace_t **out, chase_err_t *err);

/* End of the trace: start + n*step_s. */
int64_t chase_trace_end(const chase_trace_t *t);

/* Index of the sample covering time s, or -1 when s is outside the trace. */
long chase_trace_index(const chase_trace_t *t, int64_t s);

/* CI at time s (step-hold), or NAN outside the trace. */
double chase_trace_at(const chase_trace_t *t, double s);

/* Integral of CI over [t0, t1) in (g/kWh)*s, exact for the step-hold series; NAN if any part is outside. */
double chase_trace_integral(const chase_trace_t *t, double t0, double t1);

/* Returns a new trace holding samples [from, from+n) of t (a copy), or NULL. */
chase_trace_t *chase_trace_slice(const chase_trace_t *t, size_t from, size_t n);

#ifdef __cplusplus
}
#endif
#endif
