/* Helpers shared by the subcommands: one option reader, number parsing with clear errors, output files.
 *
 * Every message is "chase CMD: ..." on stderr (prog is "chase CMD"), and bad input is exit status 2. */
#ifndef CHASE_CLI_UTIL_H
#define CHASE_CLI_UTIL_H

#include <getopt.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "chase/error.h"

/* What cli_getopt returns for bad input (after printing why). */
#define CLI_BAD (-2)

/* getopt_long for a subcommand: returns the next option's value, -1 at the end of the options, or CLI_BAD after
 * printing "prog: unknown option" / "needs a value" / "takes no value". Long options must be written in full
 * (getopt_long's abbreviations would let a typo pass for another option). Start each parse with optind = 0. */
int cli_getopt(const char *prog, int argc, char **argv, const char *shortopts, const struct option *longopts);

/* Parses a finite number in [lo, hi] for option `name`; prints an error and returns -1 otherwise. */
int cli_parse_double(const char *prog, const char *name, const char *text, double lo, double hi, double *out);

/* The same for a whole number. */
int cli_parse_int(const char *prog, const char *name, const char *text, int lo, int hi, int *out);

/* A duration ("30m", "1h", "90s", "2d") in [lo_s, hi_s] seconds; prints an error and returns -1 otherwise. */
int cli_parse_duration(const char *prog, const char *name, const char *text, double lo_s, double hi_s, double *out);

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

/* Prints "prog: message" to stderr and returns 2, the exit status of bad input. */
int cli_bad(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
