/* Simulation: one job under one policy on a carbon trace = the control loop + a simulated GPU + the trace signal
 * + a virtual clock. */
#ifndef CHASE_SIMULATE_H
#define CHASE_SIMULATE_H

#include <stdint.h>

#include "chase/control.h"
#include "chase/ledger.h"
#include "chase/policy.h"
#include "chase/profile.h"
#include "chase/report.h"
#include "chase/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chase_sim_spec {
    const chase_trace_t *trace;
    const chase_profile_t *profile;
    double start;         /* UTC seconds; the trace before it is the known past */
    double work;          /* units of the profile (e.g. epochs) */
    int n_gpus;           /* default 1 */
    double period_s;      /* default 1800 */
    const char *forecaster; /* model name, or "perfect"; NULL: "chase" when built, else "persistence" */
    chase_policy_params_t params; /* budget, eta, ... (params.truth is set to trace for the oracle) */
} chase_sim_spec_t;

/* Sets spec to defaults: 1 GPU, 30-min periods, default forecaster, chase_policy_params_init. */
void chase_sim_spec_init(chase_sim_spec_t *spec);

/* Runs the job under policy (a spec like "budget" or "fixed:250"); rows go to ledger when it is not NULL.
 * CHASE_ENODATA when the trace ends before the job does. */
int chase_simulate_policy(const chase_sim_spec_t *spec, const char *policy, chase_ledger_t *ledger,
                          chase_totals_t *out, chase_err_t *err);

/* The same, and what the policy said of itself after the run (its MaxCI, ...; info may be NULL). */
int chase_simulate_policy_info(const chase_sim_spec_t *spec, const char *policy, chase_ledger_t *ledger,
                               chase_totals_t *out, chase_policy_info_t *info, chase_err_t *err);

/* Runs the job under `max` and then under each of policies (a `max` among them is not run twice) into out, which
 * has room for n + 1 results: out[0] is `max`, the baseline of every saving. Each other result gets its savings
 * and their split: its efficiency part is what `static` saves with a budget equal to the result's slowdown.
 * *n_out is how many results were written; free them with chase_policy_results_free, also on failure. */
int chase_simulate_compare(const chase_sim_spec_t *spec, const char *const *policies, size_t n,
                           chase_policy_result_t *out, size_t *n_out, chase_err_t *err);

/* Frees the ledgers of n results. */
void chase_policy_results_free(chase_policy_result_t *r, size_t n);

/* The longest a job of work units can take on profile: at the slowest measured setting the whole way. */
double chase_sim_worst_time(const chase_profile_t *profile, double work);

/* Where a job starts by default on a trace: a week in, so the policies have a week of past, when the trace holds that
 * week and the job's worst time after it; else the trace's first sample. */
int64_t chase_sim_default_start(const chase_trace_t *trace, double worst_time_s);

/* The trace a built-in grid model makes for a job from start (rounded down to the hour): the history_s before it,
 * which the forecaster and the policies learn from, and the job's worst time after it. */
int chase_sim_grid_trace(const char *grid, int64_t start, double history_s, double worst_time_s, double period_s,
                         uint64_t seed, chase_trace_t **out, chase_err_t *err);

/* Time the job takes at the profile's top limit (the baseline). */
double chase_sim_baseline_time(const chase_sim_spec_t *spec);

#ifdef __cplusplus
}
#endif
#endif
