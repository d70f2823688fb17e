/* Private to the trace reader: CSV rows whose step changes part way, resampled to one step (docs/traces.md). */
#ifndef CHASE_SIGNAL_TRACE_STEPS_H
#define CHASE_SIGNAL_TRACE_STEPS_H

#include <stddef.h>
#include <stdint.h>

#include "chase/error.h"

/* The rows of a CSV as read: strictly increasing times, values (NAN for an empty one) and their lines. */
typedef struct chase_trace_rows {
    int64_t *t;
    double *v;
    long *line;
    size_t n, cap;
} chase_trace_rows_t;

/* "60 min", "22 h", "90 s": durations in messages. */
const char *chase_trace_dur_text(int64_t s, char *buf, size_t size);

#define CHASE_TRACE_STEP_RUN 4 /* equal spacings in a row that make a step (a part of the file); fewer are gaps */

/* When the rows hold parts of different steps (runs of CHASE_TRACE_STEP_RUN or more equal spacings of 5 to 60 min),
 * replaces them with rows at the finest step that fits every part, each row's value held over its own step (up to
 * the next row), sets *step to it and writes a one-line note; otherwise leaves everything as it is and note "".
 * Errors (CHASE_EFORMAT, naming name:line): a row off the grid of its part, parts with no common step of 5 min or
 * more, or more than max_samples rows after resampling. */
int chase_trace_rows_unify_step(chase_trace_rows_t *r, const char *name, size_t max_samples, int64_t *step, char *note,
                                size_t note_size, chase_err_t *err);

#endif
