/* Helpers shared by the subcommands. */
#include "cli/cli_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "chase/timeutil.h"

/* The option argv[i] names: its text up to '=' (for "--name=value"). */
static size_t option_name_len(const char *arg)
{
    const char *eq = strchr(arg, '=');
    return eq ? (size_t)(eq - arg) : strlen(arg);
}

int cli_getopt(const char *prog, int argc, char **argv, const char *shortopts, const struct option *longopts)
{
    /* '+': stop at the first non-option (chase run's command); ':': report a missing value apart. */
    char spec[64];
    snprintf(spec, sizeof spec, "+:%s", shortopts ? shortopts : "");
    opterr = 0;
    int index = -1, before = optind ? optind : 1;
    int c = getopt_long(argc, argv, spec, longopts, &index);
    const char *arg = before < argc ? argv[before] : "";
    if (c == '?') {
        size_t len = option_name_len(arg);
        for (const struct option *o = longopts; o && o->name && arg[len] == '='; o++)
            if (!strncmp(arg, "--", 2) && strlen(o->name) == len - 2 && !strncmp(o->name, arg + 2, len - 2)) {
                fprintf(stderr, "%s: --%s takes no value (see %s --help)\n", prog, o->name, prog);
                return CLI_BAD;
            }
        if (optopt && strncmp(arg, "--", 2) != 0)
            fprintf(stderr, "%s: unknown option '-%c' (see %s --help)\n", prog, optopt, prog);
        else
            fprintf(stderr, "%s: unknown option '%.*s' (see %s --help)\n", prog, (int)option_name_len(arg), arg,
                    prog);
        return CLI_BAD;
    }
    if (c == ':') {
        fprintf(stderr, "%s: %.*s needs a value (see %s --help)\n", prog, (int)option_name_len(arg), arg, prog);
        return CLI_BAD;
    }
    if (c >= 0 && optarg && !strcmp(optarg, "--") && !strchr(arg, '=')) {
        /* "--report -- cmd": the end of the options, not a value */
        fprintf(stderr, "%s: %.*s needs a value (see %s --help)\n", prog, (int)option_name_len(arg), arg, prog);
        return CLI_BAD;
    }
    if (c >= 0 && index >= 0 && !strncmp(arg, "--", 2)) {
        size_t len = option_name_len(arg) - 2;
        if (len != strlen(longopts[index].name)) {
            fprintf(stderr, "%s: unknown option '%.*s' (write it in full: --%s)\n", prog, (int)(len + 2), arg,
                    longopts[index].name);
            return CLI_BAD;
        }
    }
    return c;
}

int cli_parse_double(const char *prog, const char *name, const char *text, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v)) {
        fprintf(stderr, "%s: %s expects a number (got '%s')\n", prog, name, text);
        return -1;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "%s: %s must be between %g and %g (got %g)\n", prog, name, lo, hi, v);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_int(const char *prog, const char *name, const char *text, int lo, int hi, int *out)
{
    double v;
    if (cli_parse_double(prog, name, text, lo, hi, &v) != 0)
        return -1;
    if (v != floor(v)) {
        fprintf(stderr, "%s: %s expects a whole number (got '%s')\n", prog, name, text);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_parse_duration(const char *prog, const char *name, const char *text, double lo_s, double hi_s, double *out)
{
    chase_err_t err;
    double v;
    if (chase_duration_parse(text, &v, &err) != CHASE_OK) {
        fprintf(stderr, "%s: %s: %s\n", prog, name, err.msg);
        return -1;
    }
    if (!(v >= lo_s && v <= hi_s)) {
        fprintf(stderr, "%s: %s must be a duration from %gs to %gs (got '%s')\n", prog, name, lo_s, hi_s, text);
        return -1;
    }
    *out = v;
    return 0;
}

FILE *cli_open_out(const char *prog, const char *path)
{
    if (!strcmp(path, "-"))
        return stdout;
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "%s: cannot write %s: %s\n", prog, path, strerror(errno));
    return f;
}

int cli_close_out(const char *prog, const char *path, FILE *f)
{
    if (f == stdout)
        return fflush(f) == 0 ? 0 : -1;
    if (ferror(f) | fclose(f)) {
        fprintf(stderr, "%s: writing %s failed\n", prog, path);
        return -1;
    }
    return 0;
}

int cli_bad(const char *prog, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

int cli_fail(const char *prog, int code, const chase_err_t *err)
{
    fprintf(stderr, "%s: %s\n", prog, err && err->msg[0] ? err->msg : chase_strerror(code));
    return chase_exit_status(code);
}

void cli_json_number(cJSON *obj, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(obj, key, v);
    else
        cJSON_AddNullToObject(obj, key);
}

int cli_write_json(const char *prog, const char *path, cJSON *root)
{
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        fprintf(stderr, "%s: out of memory writing JSON\n", prog);
        return -1;
    }
    FILE *f = cli_open_out(prog, path);
    int rc = -1;
    if (f) {
        fprintf(f, "%s\n", text);
        rc = cli_close_out(prog, path, f);
    }
    free(text);
    return rc;
}
