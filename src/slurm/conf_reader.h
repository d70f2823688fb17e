/* Slurm's configuration file syntax, as slurm.conf and gres.conf use it: "Key=Value" tokens separated by blanks,
 * '#' comments, a trailing '\' continues the line, double quotes around a value, keys in any case, and
 * "Include FILE" lines. */
#ifndef CHASE_SLURM_CONF_READER_H
#define CHASE_SLURM_CONF_READER_H

#include <stddef.h>

#include "chase/error.h"

#define CHASE_SLURM_CONF_MAX_TOKENS 64

/* One logical line. */
typedef struct chase_slurm_conf_line {
    const char *file;
    int line; /* where it starts */
    size_t n;
    const char *key[CHASE_SLURM_CONF_MAX_TOKENS];
    const char *value[CHASE_SLURM_CONF_MAX_TOKENS]; /* NULL for a token without '=' */
} chase_slurm_conf_line_t;

/* The value of key (any case) on line l, or NULL. */
const char *chase_slurm_conf_get(const chase_slurm_conf_line_t *l, const char *key);

/* Calls fn for each logical line of path and of the files it includes (relative names from path's folder, at most
 * 4 deep); fn returns CHASE_OK to go on. CHASE_ENOTFOUND when path cannot be read, CHASE_EFORMAT (file:line) for a
 * line chase cannot read (too long, too many tokens, an unterminated quote). */
int chase_slurm_conf_read(const char *path, int (*fn)(void *arg, const chase_slurm_conf_line_t *l, chase_err_t *err),
                          void *arg, chase_err_t *err);

#endif
