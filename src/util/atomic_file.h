/* Writing a file so that a reader sees the old contents or the new, never half of either. */
#ifndef CHASE_UTIL_ATOMIC_FILE_H
#define CHASE_UTIL_ATOMIC_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "chase/error.h"

/* Writes len bytes of data to path with permissions mode: a temporary file beside it, flushed to disk, then renamed
 * over it. On failure (a full disk, say) path keeps what it held and the temporary file is removed. */
int chase_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode, chase_err_t *err);

/* CHASE_OK when path can be written as chase_file_write_atomic would write it: its folder exists and is writable,
 * and path is not a folder. Checked before a long job, so that its report is not lost at the end. */
int chase_file_check_writable(const char *path, chase_err_t *err);

#endif
