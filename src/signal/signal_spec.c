/* chase_signal_open: a spec "NAME:ARGS" picks a provider from a table, and the provider parses its own ARGS.
 * Live providers extend the table; every provider rejects keys it does not know, naming them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/provider.h"
#include "chase/signal.h"
#include "chase/timeutil.h"
#include "signal/spec.h"

int chase_spec_next(const char **p, const char *provider, char *key, size_t key_size, char *value, size_t value_size,
                    chase_err_t *err)
{
    const char *s = *p;
    while (*s == ',' || *s == ' ')
        s++;
    if (!*s) {
        *p = s;
        return 0;
    }
    const char *end = strchr(s, ',');
    if (!end)
        end = s + strlen(s);
    const char *eq = memchr(s, '=', (size_t)(end - s));
    int len = (int)(end - s);
    if (!eq)
        return chase_err_set(err, CHASE_EINVAL, "%s: '%.*s' is not key=value", provider, len, s);
    size_t kl = (size_t)(eq - s), vl = (size_t)(end - eq - 1);
    while (kl && s[kl - 1] == ' ')
        kl--;
    if (!kl)
        return chase_err_set(err, CHASE_EINVAL, "%s: '%.*s' has no key before '='", provider, len, s);
    if (kl >= key_size)
        return chase_err_set(err, CHASE_EINVAL, "%s: key '%.*s' is too long", provider, (int)kl, s);
    memcpy(key, s, kl);
    key[kl] = '\0';
    const char *v = eq + 1;
    while (vl && *v == ' ')
        v++, vl--;
    while (vl && v[vl - 1] == ' ')
        vl--;
    if (!vl)
        return chase_err_set(err, CHASE_EINVAL, "%s: key '%s' has an empty value", provider, key);
    if (vl >= value_size)
        return chase_err_set(err, CHASE_EINVAL, "%s: the value of '%s' is too long", provider, key);
    memcpy(value, v, vl);
    value[vl] = '\0';
    *p = end;
    return 1;
}

int chase_spec_unknown_key(const char *provider, const char *key, const char *known, chase_err_t *err)
{
    return chase_err_set(err, CHASE_EINVAL, "%s: unknown key '%s' (known keys: %s)", provider, key, known);
}

/* A number that must use its whole text. */
static int parse_number(const char *provider, const char *key, const char *text, double *out, chase_err_t *err)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !isfinite(v))
        return chase_err_set(err, CHASE_EINVAL, "%s: %s='%s' is not a number", provider, key, text);
    *out = v;
    return CHASE_OK;
}

static int parse_bool(const char *provider, const char *key, const char *text, int *out, chase_err_t *err)
{
    if (!strcmp(text, "1") || !strcmp(text, "true") || !strcmp(text, "yes"))
        *out = 1;
    else if (!strcmp(text, "0") || !strcmp(text, "false") || !strcmp(text, "no"))
        *out = 0;
    else
        return chase_err_set(err, CHASE_EINVAL, "%s: %s='%s' must be 1 or 0", provider, key, text);
    return CHASE_OK;
}

static int parse_duration_key(const char *provider, const char *key, const char *text, double *out, chase_err_t *err)
{
    if (chase_duration_parse(text, out, NULL))
        return chase_err_set(err, CHASE_EINVAL, "%s: %s='%s' is not a duration (e.g. 30m, 6h, 2d)", provider, key,
                             text);
    return CHASE_OK;
}

#define WEEK_S (7 * 86400)

/* trace:FILE[,start=TIME][,speed=N][,column=NAME][,lca=1][,max_gap=DURATION] */
static int open_trace(const char *args, const chase_signal_open_opts_t *opts, chase_signal_t **out, chase_err_t *err)
{
    static const char known[] = "start, speed, column, lca, max_gap";
    char path[4096], key[32], value[256], column[256] = "", start_text[64] = "", speed_text[64] = "1";
    const char *comma = strchr(args, ',');
    size_t pl = comma ? (size_t)(comma - args) : strlen(args);
    if (!pl)
        return chase_err_set(err, CHASE_EINVAL, "trace: missing file name (write trace:FILE.csv)");
    if (pl >= sizeof path)
        return chase_err_set(err, CHASE_EINVAL, "trace: file name too long");
    memcpy(path, args, pl);
    path[pl] = '\0';
    chase_trace_read_opts_t ro = {0};
    int64_t start = 0;
    int has_start = 0, rc;
    double speed = 1;
    const char *p = args + pl;
    while ((rc = chase_spec_next(&p, "trace", key, sizeof key, value, sizeof value, err)) == 1) {
        if (!strcmp(key, "start")) {
            if (chase_time_parse(value, &start, NULL))
                return chase_err_set(err, CHASE_EINVAL,
                                     "trace: start='%s' is not a UTC time (e.g. 2022-03-01T00:00:00Z)", value);
            has_start = 1;
            snprintf(start_text, sizeof start_text, "%.60s", value);
        } else if (!strcmp(key, "speed")) {
            if ((rc = parse_number("trace", key, value, &speed, err)))
                return rc;
            if (!(speed > 0))
                return chase_err_set(err, CHASE_EINVAL, "trace: speed=%s must be greater than 0", value);
            snprintf(speed_text, sizeof speed_text, "%.60s", value);
        } else if (!strcmp(key, "column")) {
            snprintf(column, sizeof column, "%s", value);
            ro.column = column;
        } else if (!strcmp(key, "lca")) {
            if ((rc = parse_bool("trace", key, value, &ro.lca, err)))
                return rc;
        } else if (!strcmp(key, "max_gap")) {
            double s;
            if ((rc = parse_duration_key("trace", key, value, &s, err)))
                return rc;
            if (s < 1 || s > 366.0 * 86400)
                return chase_err_set(err, CHASE_EINVAL, "trace: max_gap=%s must be between 1s and 366d", value);
            ro.max_gap_s = (int64_t)s;
        } else {
            return chase_spec_unknown_key("trace", key, known, err);
        }
    }
    if (rc < 0)
        return rc;
    chase_trace_t *t;
    if ((rc = chase_trace_read_csv(path, &ro, &t, err)))
        return rc;
    /* Checked here rather than left to the replay, so the messages quote the spec's own keys. */
    double step = (double)t->step_s / speed;
    if (step < 1 || fabs(step - round(step)) > 1e-9) {
        chase_err_set(err, CHASE_EINVAL,
                      "trace: speed=%s turns the trace's %lld s step into %g s; choose a speed that gives whole "
                      "seconds (e.g. 1, 2, 60)",
                      speed_text, (long long)t->step_s, step);
        chase_trace_free(t);
        return CHASE_EINVAL;
    }
    if (has_start && (start < t->start || start >= chase_trace_end(t))) {
        char a[32], b[32];
        chase_err_set(err, CHASE_EINVAL, "trace: start=%s is outside %s, which covers %s to %s", start_text, path,
                      chase_time_format(t->start, a, sizeof a), chase_time_format(chase_trace_end(t), b, sizeof b));
        chase_trace_free(t);
        return CHASE_EINVAL;
    }
    /* By default the replay begins a week into the trace, so forecasters have a week of history behind it. */
    chase_replay_t map = {t->start, opts ? (int64_t)floor(opts->now) : 0, speed};
    if (has_start)
        map.start = start;
    else if (chase_trace_end(t) - t->start >= WEEK_S + 86400)
        map.start = t->start + WEEK_S;
    return chase_signal_trace_replay(t, &map, 1, out, err);
}

/* static:VALUE[,step=DURATION] */
static int open_static(const char *args, const chase_signal_open_opts_t *opts, chase_signal_t **out, chase_err_t *err)
{
    (void)opts;
    char num[64], key[32], value[64];
    const char *comma = strchr(args, ',');
    size_t nl = comma ? (size_t)(comma - args) : strlen(args);
    if (!nl || nl >= sizeof num)
        return chase_err_set(err, CHASE_EINVAL, "static: expected a CI value in g/kWh (e.g. static:400)");
    memcpy(num, args, nl);
    num[nl] = '\0';
    double v = 0, step = 1800;
    int rc;
    if (parse_number("static", "value", num, &v, NULL) || v < 0)
        return chase_err_set(err, CHASE_EINVAL, "static: '%s' is not a CI value >= 0 in g/kWh (e.g. static:400)", num);
    const char *p = args + nl;
    while ((rc = chase_spec_next(&p, "static", key, sizeof key, value, sizeof value, err)) == 1) {
        if (strcmp(key, "step"))
            return chase_spec_unknown_key("static", key, "step", err);
        if ((rc = parse_duration_key("static", key, value, &step, err)))
            return rc;
        if (step < 60 || step > 86400 || step != floor(step))
            return chase_err_set(err, CHASE_EINVAL, "static: step=%s must be whole seconds from 1m to 1d", value);
    }
    if (rc < 0)
        return rc;
    return chase_signal_static(v, (int64_t)step, out, err);
}

/* The live providers parse their own keys (chase_provider_open); the table only routes to them. */
static int open_electricitymaps(const char *args, const chase_signal_open_opts_t *opts, chase_signal_t **out,
                                chase_err_t *err)
{
    return chase_provider_open("electricitymaps", args, opts, out, err);
}

static int open_watttime(const char *args, const chase_signal_open_opts_t *opts, chase_signal_t **out,
                         chase_err_t *err)
{
    return chase_provider_open("watttime", args, opts, out, err);
}

static int open_ukci(const char *args, const chase_signal_open_opts_t *opts, chase_signal_t **out, chase_err_t *err)
{
    return chase_provider_open("ukci", args, opts, out, err);
}

static const chase_provider_t providers[] = {
    {"trace", "trace:FILE[,start=TIME][,speed=N][,column=NAME][,lca=1][,max_gap=DURATION]", open_trace},
    {"static", "static:VALUE[,step=DURATION]", open_static},
    {"electricitymaps", "electricitymaps:zone=DE|lat=..,lon=..[,emission=direct|lifecycle] (ELECTRICITYMAPS_TOKEN)",
     open_electricitymaps},
    {"watttime", "watttime:region=CAISO_NORTH|lat=..,lon=.. (WATTTIME_USERNAME, WATTTIME_PASSWORD)", open_watttime},
    {"ukci", "ukci[:region=1..17|postcode=RG10]", open_ukci},
    {NULL, NULL, NULL},
};

const chase_provider_t *chase_signal_providers(void)
{
    return providers;
}

/* One source of a chain, by its table row. */
static int open_one(const char *name, const char *args, const chase_signal_open_opts_t *opts, chase_signal_t **out,
                    chase_err_t *err)
{
    for (const chase_provider_t *p = providers; p->name; p++)
        if (!strcmp(p->name, name))
            return p->open(args ? args : "", opts, out, err);
    if (!*name)
        return chase_err_set(err, CHASE_EINVAL, "signal spec names no provider; write NAME:ARGS, e.g. static:400");
    char avail[256] = "";
    for (const chase_provider_t *p = providers; p->name; p++)
        snprintf(avail + strlen(avail), sizeof avail - strlen(avail), "%s%s", p == providers ? "" : ", ", p->name);
    /* A bare file name is the likeliest slip: say how to write it. */
    const char *dot = strrchr(name, '.');
    int looks_like_file = strchr(name, '/') || (dot && (!strcmp(dot, ".csv") || !strcmp(dot, ".CSV")));
    return chase_err_set(err, CHASE_EINVAL, "provider '%.40s' is not available in this build (available: %s)%s%.40s",
                         name, avail, looks_like_file ? "; for a trace file write trace:" : "",
                         looks_like_file ? name : "");
}

int chase_signal_open(const char *spec, const chase_signal_open_opts_t *opts, chase_signal_t **out,
                      chase_err_t *err)
{
    if (!spec || !*spec || !out)
        return chase_err_set(err, CHASE_EINVAL, "missing signal spec (e.g. trace:FILE.csv, static:400, ukci)");
    /* A chain "electricitymaps:zone=DE,ukci" is split where a comma-separated item names a provider. */
    return chase_signal_open_chain(spec, opts, open_one, out, err);
}
