/* What the helper's two roles share: the step, the control socket to the plugin in slurmstepd, the node's GPU
 * backend and the step's GPUs on it, and one way to say things.
 *
 * The control socket carries lines. Helper to plugin: "ready CHASE_PROGRESS-ADDRESS" (the step may start), "skip
 * WHY" (nothing to do on this node), "error WHY" (refuse the step), "warning TEXT", "note TEXT" and "summary TEXT"
 * (relayed to Slurm's log, and warnings and the summary to the user, when the step ends). Plugin to helper, once
 * at the step's end: "exit STATUS", then it shuts its side: the helper's job is over. */
#ifndef CHASE_SLURM_HELPER_H
#define CHASE_SLURM_HELPER_H

#include <pthread.h>

#include "chase/gpu.h"
#include "slurm/step.h"

#define CHASE_SLURM_CTL_FD 3 /* where the plugin puts the control socket */

typedef enum { CHASE_SLURM_NOTE, CHASE_SLURM_WARNING } chase_slurm_level_t;

typedef struct chase_slurm_helper {
    chase_slurm_step_t st;
    int ctl;                             /* the control socket; -1 when the helper runs by hand */
    chase_gpu_t *gpu;                    /* the node's GPU backend */
    int gpus[CHASE_SLURM_MAX_STEP_GPUS]; /* backend indices of the step's GPUs on this node */
    int n_gpus;
    char rundir[4096];
    int agent;            /* the node agent sets the GPUs: the helper runs as the job's user */
    uid_t peer_uid;       /* who the other nodes' helpers run as */
    pthread_mutex_t lock; /* say() is called from the leader's network thread too */
    char **warnings;      /* every warning said, for the report */
    size_t n_warnings;
} chase_slurm_helper_t;

/* Says text on stderr (the step's error stream: the user sees it at once) and to the plugin (a line, dropped rather
 * than blocking when the socket is full; it goes to slurmd's log at the step's end); warnings are also kept for
 * the report. Thread-safe. */
void chase_slurm_say(chase_slurm_helper_t *h, chase_slurm_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sends one control line ("ready ...", "error ...", "skip ...", "summary ..."). */
void chase_slurm_ctl_line(chase_slurm_helper_t *h, const char *kind, const char *text);

/* The exit status of the step's tasks on this node as the plugin sent it ("exit N"), waiting up to timeout_s for
 * it; -1 when it does not come. */
int chase_slurm_exit_status(chase_slurm_helper_t *h, double timeout_s);

/* Maps the step's GPUs (minor numbers) to the backend's indices, in h->gpus. CHASE_ENOTFOUND names a minor no GPU
 * of the backend has. */
int chase_slurm_map_gpus(chase_slurm_helper_t *h, const int *minors, int n, chase_err_t *err);

/* Lets the job's user reach the progress socket at address ("unix:/dir/progress.sock"): the directory and the
 * socket go to the user. */
int chase_slurm_give_progress(chase_slurm_helper_t *h, const char *address, chase_err_t *err);

/* The UTC wall clock, s. */
double chase_slurm_now(void);

/* Roles: each returns the helper's exit status (0, or 3 when some GPU may not have been put back). */
int chase_slurm_leader_run(chase_slurm_helper_t *h);
int chase_slurm_follower_run(chase_slurm_helper_t *h);

#endif
