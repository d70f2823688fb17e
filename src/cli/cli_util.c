/* Helpers shared by the subcommands. */
#include "cli/cli_util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int cli_parse_double(const char *name, const char *text, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v)) {
        fprintf(stderr, "chase: %s expects a number (got '%s')\n", name, text);
        return -1;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "chase: %s must be between %g and %g (got %g)\n", name, lo, hi, v);
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
