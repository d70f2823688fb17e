/* What the helper (chase-slurm-step) knows of its step, read from the command line the plugin gave it and checked
 * again here: the plugin's checks were made in another process. */
#ifndef CHASE_SLURM_STEP_H
#define CHASE_SLURM_STEP_H

#include <stdint.h>

#include "chase/error.h"
#include "slurm/as_user.h"
#include "slurm/settings.h"

#define CHASE_SLURM_MAX_STEP_GPUS 64

typedef struct chase_slurm_step {
    int restore_only; /* --restore: put back what dead helpers left changed, and exit */
    uint32_t job, step;
    int node_id, n_nodes;  /* this node's place in the step; node 0 leads */
    char node[256];        /* this node's Slurm name */
    char nodelist[4096];   /* the step's nodes (Slurm host list) */
    char gres_index[1024]; /* SLURM_STEP_GPUS as slurmstepd set it ("" when the step has no GPU here) */
    char slurm_conf[4096]; /* slurm.conf; gres.conf is beside it */
    char cwd[4096];        /* the step's working folder */
    chase_slurm_user_t user;
    chase_slurm_settings_t s; /* the user's settings over the site's, checked */
    char **command;           /* the tasks' command (NULL-terminated, may be empty) */
} chase_slurm_step_t;

/* Parses argv (see the usage in step.c); CHASE_EINVAL naming the argument. */
int chase_slurm_step_parse(int argc, char **argv, chase_slurm_step_t *st, chase_err_t *err);

/* The command line for the helper: path, then "--name=value" for everything in st. *out is NULL-terminated,
 * malloc'ed (free with chase_slurm_step_argv_free). */
int chase_slurm_step_argv(const char *path, const chase_slurm_step_t *st, char ***out);
void chase_slurm_step_argv_free(char **argv);

/* The option name of setting k on the helper's command line: "--chase-budget", "--chase-max-budget". */
void chase_slurm_step_arg_name(chase_slurm_key_t k, char *buf, size_t size);

/* path resolved against the step's working folder (absolute paths unchanged). */
void chase_slurm_step_path(const chase_slurm_step_t *st, const char *path, char *out, size_t size);

void chase_slurm_step_free(chase_slurm_step_t *st);

#endif
