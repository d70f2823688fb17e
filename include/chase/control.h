/* The control loop: one loop for simulations and live runs.
 *
 * Each period: read the signal known now -> forecast the period -> policy decides -> GPU backend sets the limits ->
 * the job runs until the period ends -> energy and work are read -> the ledger gets a row priced at the actual CI. */
#ifndef CHASE_CONTROL_H
#define CHASE_CONTROL_H

#include "chase/error.h"
#include "chase/forecast.h"
#include "chase/gpu.h"
#include "chase/ledger.h"
#include "chase/policy.h"
#include "chase/profile.h"
#include "chase/signal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The job and its clock: simulated (virtual time) or a real child process (wall clock). */
typedef struct chase_job_ops {
    double (*now)(void *self);
    /* Lets the job run until time t_end or until it ends; sets *finished when it has ended. */
    int (*run_until)(void *self, double t_end, int *finished, chase_err_t *err);
    /* Units of work done since the job started. */
    double (*work_done)(void *self);
} chase_job_ops_t;

typedef struct chase_job {
    const chase_job_ops_t *ops;
    void *self;
} chase_job_t;

typedef struct chase_control_config {
    double period_s;          /* default 1800 */
    double work_total;        /* units in the job, NAN when unknown (live runs without a step count) */
    double budget_pct;        /* slowdown budget for the deadline; NAN for none */
    double history_s;         /* how much past CI the forecaster and policy get before the start (default 14 d) */
    int dry_run;              /* decide and record, never set a limit */
    const int *gpus;          /* GPU indices to drive; NULL: all */
    int n_gpus;
    /* Called after each period, e.g. for progress output (may be NULL). */
    void (*on_period)(void *arg, const chase_period_t *row);
    void *on_period_arg;
    /* Called once per kind of trouble the loop works around (no permission, stale signal); may be NULL. */
    void (*on_warning)(void *arg, const char *msg);
    void *on_warning_arg;
} chase_control_config_t;

/* Sets defaults: 30-min periods, no budget, 14 days of history. */
void chase_control_config_init(chase_control_config_t *cfg);

/* Runs the loop until the job ends; the GPUs' original limits are restored before it returns, on every path.
 * Rows are appended to ledger. */
int chase_control_run(const chase_control_config_t *cfg, const chase_profile_t *profile, chase_signal_t *signal,
                      chase_forecaster_t *forecaster, chase_policy_t *policy, chase_gpu_t *gpu, chase_job_t *job,
                      chase_ledger_t *ledger, chase_err_t *err);

/* A simulated world: n_gpus GPUs following profile, running a job of work_total units from time start.
 * It provides both the GPU backend and the job (with a virtual clock); free the job with chase_sim_free. */
typedef struct chase_sim chase_sim_t;
int chase_sim_create(const chase_profile_t *profile, int n_gpus, double work_total, double start, chase_sim_t **out,
                     chase_err_t *err);
chase_gpu_t *chase_sim_gpu(chase_sim_t *sim);
chase_job_t *chase_sim_job(chase_sim_t *sim);
void chase_sim_free(chase_sim_t *sim);

#ifdef __cplusplus
}
#endif
#endif
