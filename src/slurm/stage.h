/* The user's files the leader needs, read with the user's permissions into a private folder of the helper's
 * (root's, mode 0700), so that the library, running as root, only ever opens files the user could open: the trace
 * files of a trace: signal and the profile file. A profile measured online goes back to the user's path, written as
 * the user. */
#ifndef CHASE_SLURM_STAGE_H
#define CHASE_SLURM_STAGE_H

#include "slurm/helper.h"

typedef struct chase_slurm_stage {
    char dir[4096];          /* the private folder ("" until made) */
    char *signal;            /* the signal spec with staged trace files */
    char profile[4200];      /* the staged profile ("" when the step names none) */
    char user_profile[4096]; /* where the user wants it */
    int profile_existed;     /* it was there: the step loads it */
} chase_slurm_stage_t;

/* Makes the folder under h->rundir and stages what the step's settings name. Errors name the user's file. */
int chase_slurm_stage_in(chase_slurm_helper_t *h, chase_slurm_stage_t *s, chase_err_t *err);

/* Copies the staged profile to the user's path, as the user, when it was measured here (it did not exist). */
int chase_slurm_stage_out_profile(chase_slurm_helper_t *h, chase_slurm_stage_t *s, chase_err_t *err);

/* Removes the folder and what is in it. */
void chase_slurm_stage_free(chase_slurm_stage_t *s);

#endif
