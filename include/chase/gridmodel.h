/* Built-in grid models: synthetic carbon-intensity traces for regions of different character, generated from
 * derived statistics (mean by month and hour of day plus a fitted residual model), deterministic for a seed. */
#ifndef CHASE_GRIDMODEL_H
#define CHASE_GRIDMODEL_H

#include <stdint.h>

#include "chase/error.h"
#include "chase/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Names of the built-in grid models, NULL-terminated (e.g. "us-caiso-solar"). */
const char *const *chase_gridmodel_names(void);

/* One line describing a model (its character and the data it was derived from), or NULL for an unknown name. */
const char *chase_gridmodel_summary(const char *name);

/* Generates an hourly trace of n_hours samples from start (UTC seconds, rounded down to the hour). */
int chase_gridmodel_generate(const char *name, int64_t start, size_t n_hours, uint64_t seed, chase_trace_t **out,
                             chase_err_t *err);

#ifdef __cplusplus
}
#endif
#endif
