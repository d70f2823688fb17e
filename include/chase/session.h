/* A live run as one library call: everything `chase run` did between parsing its options and waiting for the
 * command, so that every front end (chase run, the node agent's clients, the Slurm plugin) runs the same way.
 *
 * chase_session_open checks every input and opens the carbon signal, the forecaster, the job's GPUs (a group over
 * a backend) and the policy, and loads a saved profile; nothing has changed on any GPU yet and nothing of the job
 * has started, so a front end can refuse bad input before the job starts. chase_session_run then drives the job:
 * online profiling when the policy needs a profile and none was saved (with the fallbacks when the job cannot be
 * profiled), then the control loop. Every GPU is put back before chase_session_run returns, on every path. */
#ifndef CHASE_SESSION_H
#define CHASE_SESSION_H

#include "chase/control.h"
#include "chase/error.h"
#include "chase/gpu.h"
#include "chase/gpu_group.h"
#include "chase/ledger.h"
#include "chase/profile.h"
#include "chase/report.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum chase_session_level {
    CHASE_SESSION_NOTE = 0, /* what the session is doing ("profiling the job: ...") */
    CHASE_SESSION_WARNING = 1
} chase_session_level_t;

typedef struct chase_session_opts {
    const char *signal_spec; /* carbon source (chase_signal_open); required */
    const char *cache_path;  /* SQLite cache for live sources; NULL: the default */
    const char *policy;      /* "budget" by default */
    double budget_pct;       /* 2.5 */
    double eta;              /* 0.5 */
    const char *forecaster;  /* NULL: chase when built, else persistence; "provider": the source's own forecasts */
    double period_s;         /* 1800 */
    double total_steps;      /* the job's size in steps, NAN when unknown */
    const char *profile_file;       /* loaded when it exists, else written after online profiling */
    int warmup_steps, profile_steps; /* online profiling: 10, 20 */
    double setting_step;             /* spacing of the profiled settings (25 W) */
    double progress_timeout_s;       /* wait for the first progress report before the fallback (300 s) */
    chase_gpu_t *gpu;  /* the GPU backend (borrowed); NULL: the session opens one with gpu_open */
    chase_gpu_open_opts_t gpu_open; /* which backend the session opens when gpu is NULL (zeroed: NVML) */
    const int *gpus;   /* backend indices of the job's GPUs; NULL: those CUDA_VISIBLE_DEVICES or
                          NVIDIA_VISIBLE_DEVICES name (chase_gpu_visible), else all */
    int n_gpus;
    int dry_run;       /* observe only: decide and record, never change a GPU */
    const char *journal_dir; /* where originals are journaled; NULL: chase_journal_default_dir; "": none */
    /* One call per ledger row, as it is made (profile rows as profiling ends); may be NULL. */
    void (*on_period)(void *arg, const chase_period_t *row);
    /* What the session says: notes and warnings, one line each, without a prefix; may be NULL. */
    void (*on_message)(void *arg, chase_session_level_t level, const char *text);
    void *arg;
} chase_session_opts_t;

typedef struct chase_session chase_session_t;

/* Sets the defaults above. */
void chase_session_opts_init(chase_session_opts_t *o);

/* Checks the options and opens what the run needs (see above). Bad input (a policy, spec, profile file or range
 * that cannot work) is CHASE_EINVAL / CHASE_ERANGE / CHASE_EFORMAT / CHASE_ENOTFOUND with err naming the option;
 * a machine without a usable GPU backend is CHASE_ENOTSUP or CHASE_EGPU. */
int chase_session_open(const chase_session_opts_t *o, chase_session_t **out, chase_err_t *err);

/* Drives job until it ends: profiling (when needed), then control. A job whose run_until answers CHASE_ESTATE (it
 * was interrupted: SIGTERM, say) ends like a finished one, with the period under way accounted. The GPUs are back
 * at their original settings when it returns, whatever it returns. */
int chase_session_run(chase_session_t *s, chase_job_t *job, chase_err_t *err);

/* What the run was, for the report: everything but what only the front end knows (command, exit status, progress
 * counts, interruption), which the caller fills in. Pointers stay valid until chase_session_free. */
void chase_session_record(chase_session_t *s, chase_run_record_t *out);

/* The rows so far (profiling and control). */
const chase_ledger_t *chase_session_ledger(const chase_session_t *s);

/* The policy that ran ("max" after a fallback), and how the profile came about. */
const char *chase_session_policy(const chase_session_t *s);
const char *chase_session_profile_source(const chase_session_t *s);

/* The job's GPUs. */
chase_gpu_group_t *chase_session_gpus(chase_session_t *s);

/* Frees s; the GPUs it changed are put back (NULL is fine). */
void chase_session_free(chase_session_t *s);

#ifdef __cplusplus
}
#endif
#endif
