/* Slurm's list syntax for host names and device files: "c[1-3,7],gpu2", "/dev/nvidia[0-3]", "n[01-12]-ib". */
#ifndef CHASE_SLURM_HOSTLIST_H
#define CHASE_SLURM_HOSTLIST_H

#include <stddef.h>

#include "chase/error.h"

/* Expands text into names in order: items split at commas outside brackets, each "PREFIX[RANGES]SUFFIX" with at most
 * one bracket group of numbers and ranges (zero padding kept). At most max names. *out is malloc'ed (free with
 * chase_slurm_hostlist_free). CHASE_EINVAL naming the item for anything else (two bracket groups, a reversed range,
 * an empty item), CHASE_ERANGE past max. */
int chase_slurm_hostlist_expand(const char *text, size_t max, char ***out, size_t *n, chase_err_t *err);

/* Frees what chase_slurm_hostlist_expand made (NULL is fine). */
void chase_slurm_hostlist_free(char **names, size_t n);

/* Whether name is one of text's names (a malformed text contains nothing). */
int chase_slurm_hostlist_has(const char *text, const char *name);

#endif
