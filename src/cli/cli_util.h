/* Small helpers shared by the subcommands: number parsing with clear errors, output files. */
#ifndef CHASE_CLI_UTIL_H
#define CHASE_CLI_UTIL_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "chase/error.h"

/* Parses a finite number in [lo, hi] for option `name`; prints an error and returns -1 otherwise. */
int cli_parse_double(const char *name, const char *text, double lo, double hi, double *out);

/* Opens path for writing ("-" is stdout); prints an error and returns NULL on failure. */
FILE *cli_open_out(const char *prog, const char *path);

/* Closes a file from cli_open_out (not stdout); prints an error and returns -1 when the write failed. */
int cli_close_out(const char *prog, const char *path, FILE *f);

/* Adds key: v to a JSON object, or key: null when v is not finite (no forecast, a value a GPU cannot read). */
void cli_json_number(cJSON *obj, const char *key, double v);

/* Writes root as indented JSON to path ("-" is stdout) and frees it; prints an error and returns -1 on failure. */
int cli_write_json(const char *prog, const char *path, cJSON *root);

/* Prints "prog: message" for err (or the code's text) to stderr and returns the exit status for it. */
int cli_fail(const char *prog, int code, const chase_err_t *err);

#endif
