/* Online profiling of a running job, the way Zeus does it: after a warm-up, run a few steps at each power limit of
 * a grid (from the top limit down) and measure the step rate and the energy, giving the job's own profile. */
#ifndef CHASE_PROFILING_H
#define CHASE_PROFILING_H

#include "chase/control.h"
#include "chase/error.h"
#include "chase/gpu.h"
#include "chase/gpu_group.h"
#include "chase/ledger.h"
#include "chase/profile.h"
#include "chase/signal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chase_profiling_opts {
    int warmup_steps;          /* steps at the original limits before any measurement (default 10) */
    int profile_steps;         /* steps measured at each limit (default 20); a few more settle after each change */
    double setting_step;       /* grid step in the knob's unit (default 25 W) */
    double min_setting, max_setting; /* grid range; NAN: the range every GPU of the group accepts */
    double first_report_timeout_s; /* CHASE_ETIMEOUT when the job reports no step by then (default 300 s) */
    chase_signal_t *signal;        /* prices the ledger rows at its actual CI (may be NULL: CI 0, stale) */
    chase_ledger_t *ledger;        /* gets one row for the warm-up and one per limit (may be NULL) */
} chase_profiling_opts_t;

/* Sets the defaults above. */
void chase_profiling_opts_init(chase_profiling_opts_t *o);

/* The grid of limits from max_w down to min_w in step_w steps (min_w itself is always the last one); returns how
 * many were written to out (at most cap). */
int chase_profiling_grid(double min_w, double max_w, double step_w, double *out, int cap);

/* Profiles the job on the GPUs of gpus (all get the same setting). On CHASE_OK, *out is the profile (unit "step",
 * power per GPU, the group's knob), or NULL with *finished = 1 when the job ended first. CHASE_ETIMEOUT: no
 * progress report in time (the job does not speak the protocol); CHASE_EPERM: the settings cannot be changed here.
 * Every GPU's original setting is restored before it returns, on every path, and the time spent is in the ledger
 * whatever the outcome. */
int chase_profiling_run(const chase_profiling_opts_t *o, chase_gpu_group_t *gpus, chase_job_t *job,
                        chase_profile_t **out, int *finished, chase_err_t *err);

#ifdef __cplusplus
}
#endif
#endif
