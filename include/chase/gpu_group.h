/* The GPUs of one job: which they are, the settings they had before chase changed anything, the range they all
 * accept, setting them all at once, putting them back, and their energy. The control loop, online profiling and
 * every front end (chase run, the node agent, the Slurm plugin) drive GPUs only through a group.
 *
 * Promises: every GPU the group changed is put back by chase_gpu_group_restore (retried; the GPUs it could not put
 * back are named); a set that fails part-way puts back the GPUs it had changed; with a journal directory, each GPU's
 * original setting is written down before the group first changes it, so that a run killed with SIGKILL can be
 * undone by the next one (see chase/journal.h). */
#ifndef CHASE_GPU_GROUP_H
#define CHASE_GPU_GROUP_H

#include "chase/error.h"
#include "chase/gpu.h"
#include "chase/setting.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chase_gpu_group chase_gpu_group_t;

typedef struct chase_gpu_group_opts {
    const int *gpus; /* backend indices of the job's GPUs; NULL: all the backend has */
    int n_gpus;
    chase_knob_t knob; /* what the group sets (default: power limit) */
    int observe_only;  /* never change anything (dry run) */
    const char *journal_dir; /* where originals are written before the first change (NULL: no journal) */
    /* Called once per kind of trouble the group works around (no permission: observe only; a dead run's setting
     * put back); may be NULL. */
    void (*on_warning)(void *arg, const char *msg);
    void *warning_arg;
} chase_gpu_group_opts_t;

/* Takes the GPUs of opts from backend gpu (kept by reference): claims them all at once from a backend that shares
 * them (the node agent; not when observe_only), then reads each one's description, its setting and range, and the
 * range all accept. A GPU left changed by a dead chase run (found in the journal) is first put back to the setting
 * it had before that run. CHASE_ENOTFOUND for an index the backend does not have, CHASE_ESTATE for a GPU a live
 * chase run or another agent session drives, CHASE_ENOTSUP for a GPU that does not report the knob, CHASE_ERANGE
 * when the GPUs share no range; a claim refused for lack of permission makes the group observe-only (one warning). */
int chase_gpu_group_open(chase_gpu_t *gpu, const chase_gpu_group_opts_t *opts, chase_gpu_group_t **out,
                         chase_err_t *err);

/* Puts back what the group changed (chase_gpu_group_restore) and frees it (NULL is fine). */
void chase_gpu_group_free(chase_gpu_group_t *g);

int chase_gpu_group_size(const chase_gpu_group_t *g);
chase_knob_t chase_gpu_group_knob(const chase_gpu_group_t *g);
chase_gpu_t *chase_gpu_group_backend(const chase_gpu_group_t *g);

/* GPU i of the group (0 <= i < size): its backend index, its description as read at open, its original setting. */
int chase_gpu_group_index(const chase_gpu_group_t *g, int i);
const chase_gpu_info_t *chase_gpu_group_info(const chase_gpu_group_t *g, int i);
double chase_gpu_group_original(const chase_gpu_group_t *g, int i);

/* The range GPU i accepts. */
void chase_gpu_group_member_range(const chase_gpu_group_t *g, int i, double *lo, double *hi);

/* The range every GPU of the group accepts. */
void chase_gpu_group_range(const chase_gpu_group_t *g, double *lo, double *hi);

/* 1 when the group changes nothing: asked to (observe_only), or it found it may not (no permission). */
int chase_gpu_group_observe_only(const chase_gpu_group_t *g);

/* Sets every GPU to value. A refusal for lack of permission before the group changed anything switches it to
 * observe-only (one warning) and returns CHASE_OK. Any other failure, or a refusal after a change, puts back the
 * GPUs it had changed and returns the error, naming the GPU. In observe-only mode it changes nothing. */
int chase_gpu_group_apply(chase_gpu_group_t *g, double value, chase_err_t *err);

/* The setting in force, read back from the GPUs (their mean); NAN when they cannot say. */
double chase_gpu_group_in_force(chase_gpu_group_t *g);

/* Puts every GPU the group changed back to its original setting, trying each up to three times, and removes their
 * journal entries. On failure err names every GPU not put back and chase_gpu_group_restored says which. */
int chase_gpu_group_restore(chase_gpu_group_t *g, chase_err_t *err);

/* 1 when GPU i holds its original setting as far as the group knows (never changed, or put back). */
int chase_gpu_group_restored(const chase_gpu_group_t *g, int i);

/* 1 when every GPU of the group holds its original setting. */
int chase_gpu_group_all_restored(const chase_gpu_group_t *g);

/* Energy all GPUs of the group used since it was opened (J). */
int chase_gpu_group_energy(chase_gpu_group_t *g, double *joules, chase_err_t *err);

#ifdef __cplusplus
}
#endif
#endif
