/* A live job: the training command run as a child process, on the wall clock, with its progress channel; or, for a
 * front end whose job someone else starts (the Slurm plugin), a job with no child that ends when told to.
 *
 * It is the chase_job_t that `chase run` hands to the session. Every catchable signal whose default action ends a
 * process (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, ...) and SIGCHLD are blocked from
 * chase_live_job_create until chase_live_job_free and read from a signalfd, so they arrive as events in run_until
 * rather than killing chase while a GPU holds a changed power limit; SIGPIPE is ignored meanwhile (the child gets
 * the dispositions chase was started with). A thread reads the progress socket from create to free. */
#ifndef CHASE_LIVE_H
#define CHASE_LIVE_H

#include "chase/control.h"
#include "chase/error.h"
#include "chase/progress.h"
#include "chase/report.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chase_live_job chase_live_job_t;

/* Blocks the signals above, opens the progress channel (in progress_dir; NULL: default, see chase_progress_open)
 * and starts its reader. Call it before starting any other thread, so that no thread can take those signals. */
int chase_live_job_create(const char *progress_dir, chase_live_job_t **out, chase_err_t *err);

/* The termination signal received so far (0: none), reading any that is pending: a front end checks it before it
 * starts the command, so Ctrl-C during a slow start-up never leaves the command running uncontrolled. */
int chase_live_job_pending(chase_live_job_t *lj);

/* Starts argv (searched in PATH) with CHASE_PROGRESS set, the caller's signal mask, and the environment without
 * the variables named in hide_env (NULL-terminated, may be NULL: e.g. the carbon APIs' credentials).
 * CHASE_ENOTFOUND when the command cannot be run. */
int chase_live_job_spawn(chase_live_job_t *lj, char *const argv[], const char *const *hide_env, chase_err_t *err);

/* Makes lj a job with no child of its own, whose processes someone else started and waits for (slurmstepd, say):
 * from now on run_until ends it (*finished = 1) when fd becomes readable or hangs up, i.e. when the other end writes
 * or closes, instead of at a child's exit; termination signals still interrupt it. fd stays the caller's, and
 * nothing else may be written to it before the end. CHASE_ESTATE when lj already started a child. */
int chase_live_job_watch(chase_live_job_t *lj, int fd, chase_err_t *err);

/* The address of the progress channel ("unix:/path") to hand to processes the caller starts itself. */
const char *chase_live_job_address(const chase_live_job_t *lj);

/* The job for chase_control_run: now() is the UTC wall clock; run_until() waits for t_end, the child's exit
 * (*finished = 1) or a termination signal, which is forwarded to the child and ends run_until with CHASE_ESTATE
 * ("interrupted by SIGTERM"); work_done() is the steps reported (see chase_progress_stats_t.steps). */
chase_job_t *chase_live_job_job(chase_live_job_t *lj);

/* What the child reported so far. */
void chase_live_job_progress(chase_live_job_t *lj, chase_progress_stats_t *out);

/* Fills the progress counts of a run record (steps, samples, messages, malformed, ranks) from what the child
 * reported so far. */
void chase_live_job_record(chase_live_job_t *lj, chase_run_record_t *rec);

/* The termination signal chase received (0: none). */
int chase_live_job_interrupted(const chase_live_job_t *lj);

/* Waits for the child to exit, forwarding further termination signals to it; *status is its exit code, or
 * 128 + signal when a signal killed it. Without a child, *status is 0. */
int chase_live_job_wait(chase_live_job_t *lj, int *status, chase_err_t *err);

/* "SIGTERM" for SIGTERM, and so on for the signals above ("a signal" for others). */
const char *chase_signal_abbrev(int sig);

/* Frees lj: stops the reader, closes the channel and restores the signal mask and SIGPIPE. A child still running
 * is left to run. */
void chase_live_job_free(chase_live_job_t *lj);

#ifdef __cplusplus
}
#endif
#endif
