/* What `chase run` says about where the run stands and what it saved: the tail of each period's line and of the
 * final summary line. Only finite numbers are printed (no "nan"). */
#ifndef CHASE_CLI_RUN_OUTPUT_H
#define CHASE_CLI_RUN_OUTPUT_H

#include <stdio.h>

#include "chase/savings.h"

/* "  | 120/400 steps (30 %), slowdown 1.2 % (budget 5 %), ends ~2026-11-29T00:27:10Z" (what is known of it). */
void run_output_status(FILE *out, const chase_run_status_t *st, double budget_pct);

/* "; estimated saving 0.431 gCO2eq (28.7 %: efficiency 27.9 pp + timing 0.8 pp) for 3.1 % more time than at the
 * top limit" ("in 2.0 % less time" when the profile says the top limit is slower), or nothing without an estimate. */
void run_output_savings(FILE *out, const chase_savings_t *sv);

#endif
