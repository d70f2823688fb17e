/* The table of chase's Slurm settings and the checks every value passes where it enters (see settings.h). */
#include "slurm/settings.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/timeutil.h"

#define WEEK_S (7.0 * 86400)
#define MAX_TEXT 1024
#define MAX_PATH 4095

/* Keep in the order of chase_slurm_key_t. */
static const chase_slurm_def_t defs[CHASE_SLURM_N] = {
    {"chase", NULL, NULL, "drive this step's GPUs from the grid's carbon intensity (chase; site defaults)",
     CHASE_SLURM_FLAG, 0, 0},
    {"chase-policy", "policy", "NAME", "chase: max | fixed:W | static | chase | budget (default budget)",
     CHASE_SLURM_TEXT, 0, 0},
    {"chase-budget", "budget", "PCT", "chase: slowdown budget against the top limit, percent (default 2.5)",
     CHASE_SLURM_NUMBER, 0, 100},
    {"chase-signal", "signal", "SPEC", "chase: carbon intensity source (default: the site's)", CHASE_SLURM_TEXT, 0, 0},
    {"chase-period", "period", "DURATION", "chase: control period, e.g. 30m (default 30m)", CHASE_SLURM_DURATION, 1,
     WEEK_S},
    {"chase-forecaster", "forecaster", "NAME", "chase: CI forecaster (default chase, else persistence)",
     CHASE_SLURM_TEXT, 0, 0},
    {"chase-eta", NULL, "X", "chase: weight of carbon against time for policy chase, 0..1 (default 0.5)",
     CHASE_SLURM_NUMBER, 0, 1},
    {"chase-total-steps", NULL, "N", "chase: the job's size in steps, when known", CHASE_SLURM_NUMBER, 1, 1e15},
    {"chase-profile-file", NULL, "FILE", "chase: load the job's profile from FILE, else profile online and save it",
     CHASE_SLURM_PATH, 0, 0},
    {"chase-report", NULL, "FILE", "chase: the step's report (default chase-JOBID.STEPID.json in the working dir)",
     CHASE_SLURM_PATH, 0, 0},
    {"chase-warmup-steps", NULL, "N", "chase: steps before online profiling starts (default 10)", CHASE_SLURM_INT, 0,
     1e6},
    {"chase-profile-steps", NULL, "N", "chase: steps measured at each limit while profiling (default 20)",
     CHASE_SLURM_INT, 1, 1e6},
    {"chase-pl-step", NULL, "W", "chase: spacing of the profiled limits (default 25)", CHASE_SLURM_NUMBER, 1, 1000},
    {"chase-progress-timeout", NULL, "DURATION", "chase: wait for the first progress report (default 5m)",
     CHASE_SLURM_DURATION, 0, WEEK_S},
    {"chase-dry-run", NULL, NULL, "chase: observe only, never change a limit", CHASE_SLURM_FLAG, 0, 0},
    {NULL, "max_budget", "PCT", "the largest budget a user may ask for", CHASE_SLURM_NUMBER, 0, 100},
    {NULL, "min_period", "DURATION", "the shortest period a user may ask for", CHASE_SLURM_DURATION, 1, WEEK_S},
    {NULL, "agent", "PATH", "the node agent's socket", CHASE_SLURM_PATH, 0, 0},
    {NULL, "nvml_library", "PATH", "the NVML library", CHASE_SLURM_PATH, 0, 0},
    {NULL, "munge_socket", "PATH", "munged's socket", CHASE_SLURM_PATH, 0, 0},
    {NULL, "journal_dir", "PATH", "the journal of original limits", CHASE_SLURM_PATH, 0, 0},
    {NULL, "rundir", "PATH", "progress sockets and staged files", CHASE_SLURM_PATH, 0, 0},
    {NULL, "cache", "PATH", "the carbon signals' cache", CHASE_SLURM_PATH, 0, 0},
    {NULL, "helper", "PATH", "the helper program", CHASE_SLURM_PATH, 0, 0},
    {NULL, "ports", "LO-HI", "TCP ports the leader may listen on", CHASE_SLURM_PORTS_KIND, 1, 65535},
    {NULL, "start_timeout", "DURATION", "how long a step waits for chase to start", CHASE_SLURM_DURATION, 1, 3600},
    {NULL, "stop_timeout", "DURATION", "how long a step's end waits for chase", CHASE_SLURM_DURATION, 1, 3600},
};

const chase_slurm_def_t *chase_slurm_def(chase_slurm_key_t k)
{
    return k >= 0 && k < CHASE_SLURM_N ? &defs[k] : NULL;
}

/* How a message names the setting: the option the user typed, or the plugstack.conf argument. */
static void label(chase_slurm_key_t k, int who, char *buf, size_t n)
{
    if (who == CHASE_SLURM_BY_USER && defs[k].user_name)
        snprintf(buf, n, "--%s", defs[k].user_name);
    else
        snprintf(buf, n, "plugstack.conf argument %s=", defs[k].site_name ? defs[k].site_name : "?");
}

static int fail(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (why && n)
        vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Printable ASCII without blanks: what a spec, a name or a file name may hold here (they travel on command lines
 * and in log lines). */
static int plain_text(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= ' ' || *p >= 127)
            return 0;
    return 1;
}

static int parse_number(const char *v, double *out)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !isfinite(x))
        return -1;
    *out = x;
    return 0;
}

/* "LO-HI" */
static int parse_ports(const char *v, int *lo, int *hi)
{
    char *end;
    long a = strtol(v, &end, 10);
    if (end == v || *end != '-')
        return -1;
    const char *b_text = end + 1;
    long b = strtol(b_text, &end, 10);
    if (end == b_text || *end || a < 1 || b > 65535 || a > b)
        return -1;
    *lo = (int)a;
    *hi = (int)b;
    return 0;
}

int chase_slurm_check(chase_slurm_key_t k, int who, const char *value, char *why, size_t why_size)
{
    if (k < 0 || k >= CHASE_SLURM_N)
        return fail(why, why_size, "unknown setting");
    const chase_slurm_def_t *d = &defs[k];
    char name[96];
    label(k, who, name, sizeof name);
    if (d->kind == CHASE_SLURM_FLAG) {
        if (value && *value && strcmp(value, "1"))
            return fail(why, why_size, "%s takes no value (got '%.40s')", name, value);
        return 0;
    }
    if (!value || !*value)
        return fail(why, why_size, "%s needs a value (%s)", name, d->arginfo);
    size_t len = strlen(value);
    if (len > (d->kind == CHASE_SLURM_PATH ? MAX_PATH : MAX_TEXT) || !plain_text(value))
        return fail(why, why_size, "%s: '%.60s' is too long or holds blanks or control characters", name, value);
    double x;
    int lo, hi;
    switch (d->kind) {
    case CHASE_SLURM_NUMBER:
    case CHASE_SLURM_INT:
        if (parse_number(value, &x) || x < d->lo || x > d->hi || (d->kind == CHASE_SLURM_INT && x != floor(x)))
            return fail(why, why_size, "%s: '%.40s' is not a %s from %g to %g", name, value,
                        d->kind == CHASE_SLURM_INT ? "whole number" : "number", d->lo, d->hi);
        return 0;
    case CHASE_SLURM_DURATION:
        if (chase_duration_parse(value, &x, NULL) || x < d->lo || x > d->hi)
            return fail(why, why_size, "%s: '%.40s' is not a duration from %gs to %gs (e.g. 30s, 30m, 1h)", name, value,
                        d->lo, d->hi);
        return 0;
    case CHASE_SLURM_PATH:
        if (who == CHASE_SLURM_BY_SITE && value[0] != '/')
            return fail(why, why_size, "%s: '%.60s' must be an absolute path", name, value);
        if (k == CHASE_SLURM_REPORT && !strcmp(value, "-"))
            return fail(why, why_size, "%s: a step's report goes to a file, not to standard output", name);
        return 0;
    case CHASE_SLURM_PORTS_KIND:
        if (parse_ports(value, &lo, &hi))
            return fail(why, why_size, "%s: '%.40s' is not a port range LO-HI within 1-65535", name, value);
        return 0;
    case CHASE_SLURM_TEXT:
    case CHASE_SLURM_FLAG: return 0;
    }
    return 0;
}

int chase_slurm_set(chase_slurm_settings_t *s, chase_slurm_key_t k, int who, const char *value, char *why,
                    size_t why_size)
{
    if (chase_slurm_check(k, who, value, why, why_size))
        return -1;
    char *copy = strdup(defs[k].kind == CHASE_SLURM_FLAG ? "1" : value);
    if (!copy)
        return fail(why, why_size, "out of memory");
    free(s->v[k]);
    s->v[k] = copy;
    return 0;
}

int chase_slurm_user_key(const char *name)
{
    for (int k = 0; k < CHASE_SLURM_N_USER; k++)
        if (defs[k].user_name && !strcmp(defs[k].user_name, name))
            return k;
    return -1;
}

int chase_slurm_site_parse(int argc, char *const *argv, chase_slurm_settings_t *site, char *why, size_t why_size)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        int found = -1;
        for (int k = 0; k < CHASE_SLURM_N; k++)
            if (defs[k].site_name && strlen(defs[k].site_name) == nl && !strncmp(defs[k].site_name, a, nl))
                found = k;
        if (found < 0) {
            char known[512] = "";
            for (int k = 0; k < CHASE_SLURM_N; k++)
                if (defs[k].site_name)
                    snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", known[0] ? ", " : "",
                             defs[k].site_name);
            return fail(why, why_size, "plugstack.conf: unknown argument '%.*s' (known: %s)", (int)(nl > 60 ? 60 : nl),
                        a, known);
        }
        if (!eq)
            return fail(why, why_size, "plugstack.conf: argument '%s' needs a value: %s=%s", a, a, defs[found].arginfo);
        if (chase_slurm_set(site, (chase_slurm_key_t)found, CHASE_SLURM_BY_SITE, eq + 1, why, why_size))
            return -1;
    }
    return 0;
}

double chase_slurm_seconds(const chase_slurm_settings_t *s, chase_slurm_key_t k)
{
    double x;
    if (!s->v[k] || chase_duration_parse(s->v[k], &x, NULL))
        return NAN;
    return x;
}

double chase_slurm_number(const chase_slurm_settings_t *s, chase_slurm_key_t k)
{
    double x;
    if (!s->v[k] || parse_number(s->v[k], &x))
        return NAN;
    return x;
}

void chase_slurm_ports(const chase_slurm_settings_t *s, int *lo, int *hi)
{
    if (!s->v[CHASE_SLURM_PORTS] || parse_ports(s->v[CHASE_SLURM_PORTS], lo, hi))
        parse_ports(CHASE_SLURM_DEFAULT_PORTS, lo, hi);
}

int chase_slurm_merge(const chase_slurm_settings_t *site, const chase_slurm_settings_t *user,
                      chase_slurm_settings_t *out, char *why, size_t why_size)
{
    chase_slurm_settings_clear(out);
    for (int k = 0; k < CHASE_SLURM_N; k++) {
        const char *v = k < CHASE_SLURM_N_USER && user->v[k] ? user->v[k] : site->v[k];
        if (v && !(out->v[k] = strdup(v))) {
            chase_slurm_settings_clear(out);
            return fail(why, why_size, "out of memory");
        }
    }
    double max_budget = chase_slurm_number(site, CHASE_SLURM_MAX_BUDGET);
    double budget = chase_slurm_number(out, CHASE_SLURM_BUDGET);
    if (!isnan(max_budget) && (isnan(budget) ? 2.5 : budget) > max_budget)
        return fail(why, why_size,
                    "--chase-budget=%s is more than this site allows (at most %g %%, plugstack.conf max_budget)",
                    out->v[CHASE_SLURM_BUDGET] ? out->v[CHASE_SLURM_BUDGET] : "2.5 (the default)", max_budget);
    double min_period = chase_slurm_seconds(site, CHASE_SLURM_MIN_PERIOD);
    double period = chase_slurm_seconds(out, CHASE_SLURM_PERIOD);
    if (!isnan(min_period) && (isnan(period) ? 1800 : period) < min_period)
        return fail(why, why_size,
                    "--chase-period=%s is shorter than this site allows (at least %s, plugstack.conf min_period)",
                    out->v[CHASE_SLURM_PERIOD] ? out->v[CHASE_SLURM_PERIOD] : "30m (the default)",
                    site->v[CHASE_SLURM_MIN_PERIOD]);
    if (!out->v[CHASE_SLURM_SIGNAL])
        return fail(why, why_size,
                    "no carbon signal: give --chase-signal=SPEC (e.g. ukci, electricitymaps:zone=DE, static:400), "
                    "or ask the administrator to set signal= in plugstack.conf");
    return 0;
}

void chase_slurm_settings_clear(chase_slurm_settings_t *s)
{
    for (int k = 0; k < CHASE_SLURM_N; k++) {
        free(s->v[k]);
        s->v[k] = NULL;
    }
}
