/* The control loop: one loop for simulations and live runs.
 *
 * Each period: read the signal known now -> forecast the period -> policy decides -> the GPU group sets the job's
 * GPUs -> the job runs until the period ends -> energy and work are read -> the ledger gets a row priced at the
 * actual CI. */
#ifndef CHASE_CONTROL_H
#define CHASE_CONTROL_H

#include "chase/error.h"
#include "chase/forecast.h"
#include "chase/gpu.h"
#include "chase/gpu_group.h"
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
    int resume;               /* start where the ledger's last row ended (its mark: after online profiling) */
    double job_start;         /* when the job started (UTC s), for its deadline; NAN: when the loop starts */
    /* Called after each period, e.g. for progress output (may be NULL). */
    void (*on_period)(void *arg, const chase_period_t *row);
    void *on_period_arg;
    /* Called once per kind of trouble the loop works around (no permission, stale signal); may be NULL. */
    void (*on_warning)(void *arg, const char *msg);
    void *on_warning_arg;
} chase_control_config_t;

/* Sets defaults: 30-min periods, no budget, 14 days of history. */
void chase_control_config_init(chase_control_config_t *cfg);

/* Runs the loop until the job ends, setting the GPUs of gpus (observe-only groups are decided for, never set);
 * the group's GPUs are put back before it returns, on every path. Rows are appended to ledger. */
int chase_control_run(const chase_control_config_t *cfg, const chase_profile_t *profile, chase_signal_t *signal,
                      chase_forecaster_t *forecaster, chase_policy_t *policy, chase_gpu_group_t *gpus,
                      chase_job_t *job, chase_ledger_t *ledger, chase_err_t *err);

/* A simulated job of work_total units on simulated GPUs (chase_gpu_sim_open, kept by reference), on a virtual
 * clock that starts at start: it runs at the GPUs' throughput and charges their energy as it goes. */
typedef struct chase_sim_job chase_sim_job_t;
int chase_sim_job_create(chase_gpu_t *sim_gpu, double work_total, double start, chase_sim_job_t **out,
                         chase_err_t *err);
/* The job for the control loop (owned by sim). */
chase_job_t *chase_sim_job_job(chase_sim_job_t *sim);
void chase_sim_job_free(chase_sim_job_t *sim);

#ifdef __cplusplus
}
#endif
#endif
