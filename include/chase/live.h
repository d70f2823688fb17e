/* A live job: the training command run as a child process, on the wall clock, with its progress channel.
 *
 * It is the chase_job_t that `chase run` hands to the control loop. Termination signals (SIGINT, SIGTERM, SIGHUP)
 * and SIGCHLD are blocked from chase_live_job_create until chase_live_job_free and read from a signalfd, so they
 * arrive as events in run_until rather than killing chase while a GPU holds a changed power limit. */
#ifndef CHASE_LIVE_H
#define CHASE_LIVE_H

#include "chase/control.h"
#include "chase/error.h"
#include "chase/progress.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chase_live_job chase_live_job_t;

/* Blocks the signals above and opens the progress channel (in progress_dir; NULL: default, see chase_progress_open).
 * Call it before starting any thread, so that no thread can take those signals. */
int chase_live_job_create(const char *progress_dir, chase_live_job_t **out, chase_err_t *err);

/* Starts argv (searched in PATH) with CHASE_PROGRESS set and the caller's signal mask. CHASE_ENOTFOUND when the
 * command cannot be run. */
int chase_live_job_spawn(chase_live_job_t *lj, char *const argv[], chase_err_t *err);

/* The job for chase_control_run: now() is the UTC wall clock; run_until() waits for t_end, the child's exit
 * (*finished = 1) or a termination signal, which is forwarded to the child and ends run_until with CHASE_ESTATE
 * ("interrupted by SIGTERM"); work_done() is the steps reported (see chase_progress_stats_t.steps). */
chase_job_t *chase_live_job_job(chase_live_job_t *lj);

/* What the child reported so far. */
void chase_live_job_progress(const chase_live_job_t *lj, chase_progress_stats_t *out);

/* The termination signal chase received (0: none). */
int chase_live_job_interrupted(const chase_live_job_t *lj);

/* Waits for the child to exit, forwarding further termination signals to it; *status is its exit code, or
 * 128 + signal when a signal killed it. Without a child, *status is 0. */
int chase_live_job_wait(chase_live_job_t *lj, int *status, chase_err_t *err);

/* Frees lj: closes the channel and restores the signal mask. A child still running is left to run. */
void chase_live_job_free(chase_live_job_t *lj);

#ifdef __cplusplus
}
#endif
#endif
