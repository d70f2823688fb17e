/* Opening input files that must be regular files: traces, profiles, Zeus CSVs. */
#ifndef CHASE_UTIL_FILE_H
#define CHASE_UTIL_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "chase/error.h"

/* Opens path for reading if it is a regular file, checked on the open descriptor before any read, so that a FIFO
 * (which would block), a directory or a device (/dev/zero never ends) is refused at once with CHASE_EINVAL; a
 * missing file is CHASE_ENOTFOUND, any other failure CHASE_EIO. Messages start with the escaped path. */
int chase_file_open_regular(const char *path, FILE **out, chase_err_t *err);

/* Reads all of the regular file at path (as chase_file_open_regular) into a new buffer with a NUL after the last
 * byte (*len excludes it); a file longer than max bytes is refused with CHASE_EFORMAT. Free *text with free(). */
int chase_file_read_regular(const char *path, size_t max, char **text, size_t *len, chase_err_t *err);

#endif
