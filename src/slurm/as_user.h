/* Files the job's user names (the report, the profile file, a trace file) are read and written with the user's
 * permissions, never with root's: a child process becomes the user (groups, gid, uid) and does the one operation.
 * Without this, --chase-report=/etc/passwd would be a root write. */
#ifndef CHASE_SLURM_AS_USER_H
#define CHASE_SLURM_AS_USER_H

#include <stddef.h>
#include <sys/types.h>

#include "chase/error.h"

#define CHASE_SLURM_MAX_GROUPS 256

typedef struct chase_slurm_user {
    uid_t uid;
    gid_t gid;
    gid_t groups[CHASE_SLURM_MAX_GROUPS];
    int n_groups;
} chase_slurm_user_t;

/* The user uid with primary group gid and the supplementary groups the user database gives (none when it knows
 * no such user). */
int chase_slurm_user_init(chase_slurm_user_t *u, uid_t uid, gid_t gid, chase_err_t *err);

/* Reads path, at most cap bytes, as the user: *data is malloc'ed and NUL-terminated. CHASE_ENOTFOUND when it does
 * not exist, CHASE_EPERM when the user may not read it, CHASE_ERANGE past cap, CHASE_EIO otherwise. */
int chase_slurm_user_read(const chase_slurm_user_t *u, const char *path, size_t cap, char **data, size_t *len,
                          chase_err_t *err);

/* Writes data to path as the user, atomically (a temporary file beside it, then a rename), mode 0644. */
int chase_slurm_user_write(const chase_slurm_user_t *u, const char *path, const char *data, size_t len,
                           chase_err_t *err);

/* CHASE_OK when the user may create or replace path; CHASE_EPERM or CHASE_ENOTFOUND (its folder) otherwise. */
int chase_slurm_user_can_write(const chase_slurm_user_t *u, const char *path, chase_err_t *err);

#endif
