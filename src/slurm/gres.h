/* The GPUs Slurm gave a step on this node, as device files and then NVML minor numbers: never from variables the
 * user can set.
 *
 * slurmstepd sets SLURM_STEP_GPUS in the step's environment from the step's allocation (the gres/gpu plugin
 * overwrites whatever srun sent, or removes it when the step has no GPU) when slurm.conf's GresTypes names gpu. Its
 * numbers are indices into this node's gpu devices as gres.conf lists them (the lines without NodeName first, then
 * those with, each File= expanded in order, as Slurm numbers them). Each device file is a character device of major
 * 195 (NVIDIA's) whose minor is the GPU's (/dev/nvidiaN: minor N), which NVML reports as the GPU's minor number. */
#ifndef CHASE_SLURM_GRES_H
#define CHASE_SLURM_GRES_H

#include <stddef.h>

#include "chase/error.h"

#define CHASE_SLURM_NVIDIA_MAJOR 195

/* Whether slurm.conf (and what it includes) sets GresTypes with gpu among them. */
int chase_slurm_gres_types_gpu(const char *slurm_conf, int *yes, chase_err_t *err);

/* The device files of node's gpu resources in Slurm's index order, from gres_conf. CHASE_ENOTSUP for what chase
 * cannot map (AutoDetect other than off, MultipleFiles, a gpu line without File=), CHASE_ENOTFOUND when the file or
 * any gpu line for node is missing, CHASE_EFORMAT for a line it cannot read. *files: free with
 * chase_slurm_hostlist_free. */
int chase_slurm_gres_files(const char *gres_conf, const char *node, char ***files, size_t *n, chase_err_t *err);

/* The minor numbers of the devices indices ("0,2", SLURM_STEP_GPUS) name among files: each must be a character
 * device of major 195. CHASE_EINVAL for a malformed list or an index past the files, CHASE_ENOTSUP for a file that
 * is not an NVIDIA device. */
int chase_slurm_gres_minors(char *const *files, size_t n_files, const char *indices, int *minors, size_t cap, size_t *n,
                            chase_err_t *err);

#endif
