/* The providers' JSON answers turned into samples. Pure functions (text in, samples out) so that they can be
 * unit-tested and fuzzed without a network; every field is checked because the body comes from outside. */
#include "chase/provider.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/timeutil.h"
#include "util/grow.h"

/* Points collected before sorting; the answers we parse hold at most a few thousand. */
typedef struct points {
    chase_sample_t *v;
    size_t n, cap;
    int64_t min_step; /* smallest gap between distinct times seen, for answers that do not state their step */
    chase_parse_info_t *info;
} points_t;

#define MAX_POINTS 200000

__attribute__((format(printf, 2, 3))) static void skip(points_t *p, const char *fmt, ...)
{
    p->info->skipped++;
    if (p->info->skipped == 1) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->info->first_skip, sizeof p->info->first_skip, fmt, ap);
        va_end(ap);
    }
}

static int push(points_t *p, int64_t t, int64_t step, double ci, int flags)
{
    if (p->n == p->cap) {
        if (p->cap >= MAX_POINTS)
            return CHASE_ERANGE;
        chase_sample_t *v = chase_grow(p->v, &p->cap, p->n + 1, sizeof *v, 64);
        if (!v)
            return CHASE_ENOMEM;
        p->v = v;
    }
    p->v[p->n++] = (chase_sample_t){.t = t, .step_s = step, .ci = ci, .flags = flags};
    return CHASE_OK;
}

/* Checks one value in g/kWh; returns 0 and notes why when it cannot be used. */
static int usable(points_t *p, const cJSON *v, double scale, const char *when, double *out)
{
    if (!v || cJSON_IsNull(v)) {
        skip(p, "null value at %s", when);
        return 0;
    }
    if (!cJSON_IsNumber(v)) {
        skip(p, "non-numeric value at %s", when);
        return 0;
    }
    double ci = v->valuedouble * scale;
    if (!isfinite(ci) || ci < 0) {
        skip(p, "negative value %g at %s", ci, when);
        return 0;
    }
    if (ci > CHASE_CI_MAX) {
        skip(p, "implausible value %g g/kWh at %s (wrong units?)", ci, when);
        return 0;
    }
    *out = ci;
    return 1;
}

static int by_time(const void *a, const void *b)
{
    const chase_sample_t *x = a, *y = b;
    return (x->t > y->t) - (x->t < y->t);
}

/* Sorts, drops repeated times (the later in the answer wins), fills unknown steps, keeps the newest cap. */
static int finish(points_t *p, const char *api, int64_t step, chase_sample_t *out, size_t cap, size_t *n,
                  chase_err_t *err)
{
    *n = 0;
    if (p->n == 0) {
        if (p->info->skipped)
            return chase_err_set(err, CHASE_ENODATA, "%s: no usable value in the answer (%zu dropped; first: %s)", api,
                                 p->info->skipped, p->info->first_skip);
        return chase_err_set(err, CHASE_ENODATA, "%s: the answer holds no data points", api);
    }
    /* A stable order keeps "later wins" for duplicates: tag each point with its position first. */
    for (size_t i = 0; i < p->n; i++)
        p->v[i].flags |= (int)(i << 8);
    qsort(p->v, p->n, sizeof *p->v, by_time);
    size_t m = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (m && p->v[m - 1].t == p->v[i].t) {
            if ((p->v[i].flags >> 8) > (p->v[m - 1].flags >> 8))
                p->v[m - 1] = p->v[i];
            continue;
        }
        p->v[m++] = p->v[i];
    }
    for (size_t i = 1; i < m; i++) {
        int64_t d = p->v[i].t - p->v[i - 1].t;
        if (d > 0 && (p->min_step == 0 || d < p->min_step))
            p->min_step = d;
    }
    if (step <= 0)
        step = p->min_step;
    if (step <= 0)
        step = 3600;
    for (size_t i = 0; i < m; i++) {
        p->v[i].flags &= 0xff;
        if (p->v[i].step_s <= 0)
            p->v[i].step_s = step;
    }
    p->info->step_s = step;
    size_t first = m > cap ? m - cap : 0;
    for (size_t i = first; i < m; i++)
        out[(*n)++] = p->v[i];
    return CHASE_OK;
}

static const char *str_field(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void copy_zone(chase_parse_info_t *info, const char *z)
{
    if (z && !info->zone[0])
        snprintf(info->zone, sizeof info->zone, "%s", z);
}

static cJSON *parse_root(const char *body, size_t len, const char *api, chase_err_t *err)
{
    if (!body || len == 0) {
        chase_err_set(err, CHASE_EFORMAT, "%s: empty answer", api);
        return NULL;
    }
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = (at && at >= body && at <= body + len) ? (size_t)(at - body) : len;
        chase_err_set(err, CHASE_EFORMAT, "%s: malformed or truncated JSON near byte %zu of %zu", api, off, len);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        chase_err_set(err, CHASE_EFORMAT, "%s: expected a JSON object", api);
        return NULL;
    }
    return root;
}

/* Some APIs answer 200 with an error object; say what they said (bounded, printable). */
static int api_error(const cJSON *root, const char *api, chase_err_t *err)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const char *msg = NULL;
    if (cJSON_IsString(e))
        msg = e->valuestring;
    else if (cJSON_IsObject(e))
        msg = str_field(e, "message");
    if (!e && !msg)
        return CHASE_OK;
    char clean[160];
    size_t j = 0;
    for (const char *s = msg ? msg : "(no message)"; *s && j + 1 < sizeof clean; s++)
        clean[j++] = (*s >= 32 && *s < 127) ? *s : ' ';
    clean[j] = '\0';
    return chase_err_set(err, CHASE_EFORMAT, "%s: the API answered with an error: %s", api, clean);
}

static int64_t granularity_s(const char *g)
{
    if (!g)
        return 0;
    if (!strcmp(g, "5_minutes"))
        return 300;
    if (!strcmp(g, "15_minutes"))
        return 900;
    if (!strcmp(g, "hourly"))
        return 3600;
    if (!strcmp(g, "daily"))
        return 86400;
    return 0;
}

/* One {time, value} entry of a list: checked, converted by scale, added (or counted as skipped). */
static int entry(points_t *p, const cJSON *it, const char *time_key, const char *value_key, double scale, int64_t step,
                 int flags)
{
    if (!cJSON_IsObject(it)) {
        skip(p, "an entry that is not an object");
        return CHASE_OK;
    }
    const char *when = str_field(it, time_key);
    int64_t t;
    if (!when || chase_time_parse(when, &t, NULL) != CHASE_OK) {
        skip(p, "bad %s '%.40s'", time_key, when ? when : "(missing)");
        return CHASE_OK;
    }
    double ci;
    if (!usable(p, cJSON_GetObjectItemCaseSensitive(it, value_key), scale, when, &ci))
        return CHASE_OK;
    return push(p, t, step, ci, flags);
}

/* What differs between the APIs: the shape of the answer. Fills p and the step it states (0: infer). */
typedef int (*shape_fn)(const cJSON *root, points_t *p, int flags, int64_t *step, const char *api, chase_err_t *err);

/* Everything the parsers share: reset the outputs, parse, report an error object, read the shape, sort. */
static int parse_with(const char *api, shape_fn shape, const char *body, size_t len, int flags, chase_sample_t *out,
                      size_t cap, size_t *n, chase_parse_info_t *info, chase_err_t *err)
{
    chase_parse_info_t dummy;
    if (!info)
        info = &dummy;
    memset(info, 0, sizeof *info);
    *n = 0;
    cJSON *root = parse_root(body, len, api, err);
    if (!root)
        return CHASE_EFORMAT;
    points_t p = {.info = info};
    int64_t step = 0;
    int rc = api_error(root, api, err);
    if (rc == CHASE_OK)
        rc = shape(root, &p, flags, &step, api, err);
    if (rc == CHASE_ERANGE || rc == CHASE_ENOMEM)
        chase_err_set(err, rc, "%s: too many data points", api);
    if (rc == CHASE_OK)
        rc = finish(&p, api, step, out, cap, n, err);
    free(p.v);
    cJSON_Delete(root);
    return rc;
}

static int em_shape(const cJSON *root, points_t *p, int flags, int64_t *step, const char *api, chase_err_t *err)
{
    copy_zone(p->info, str_field(root, "zone"));
    const char *unit = str_field(root, "unit");
    if (!unit)
        unit = str_field(root, "units");
    if (unit && !(strstr(unit, "gCO2") && strstr(unit, "/kWh")))
        return chase_err_set(err, CHASE_EFORMAT, "%s: unit '%.40s' is not gCO2eq/kWh", api, unit);
    const cJSON *list = NULL;
    static const char *const lists[] = {"history", "forecast", "data"};
    for (size_t i = 0; i < 3 && !list; i++)
        list = cJSON_GetObjectItemCaseSensitive(root, lists[i]);
    if (list && !cJSON_IsArray(list))
        return chase_err_set(err, CHASE_EFORMAT, "%s: '%s' is not an array", api, list->string);
    if (!list && !cJSON_GetObjectItemCaseSensitive(root, "carbonIntensity"))
        return chase_err_set(err, CHASE_EFORMAT,
                             "%s: the answer has neither carbonIntensity nor a history/forecast list", api);
    *step = granularity_s(str_field(root, "temporalGranularity"));
    if (!list) /* /latest: the answer is the one point */
        return entry(p, root, "datetime", "carbonIntensity", 1.0, 0, flags);
    int rc = CHASE_OK;
    for (const cJSON *it = list->child; it && rc == CHASE_OK; it = it->next) {
        if (!*step && cJSON_IsObject(it))
            *step = granularity_s(str_field(it, "temporalGranularity"));
        rc = entry(p, it, "datetime", "carbonIntensity", 1.0, 0, flags);
    }
    return rc;
}

int chase_parse_electricitymaps(const char *body, size_t len, int flags, chase_sample_t *out, size_t cap, size_t *n,
                                chase_parse_info_t *info, chase_err_t *err)
{
    return parse_with("electricitymaps", em_shape, body, len, flags, out, cap, n, info, err);
}

/* Scale from a WattTime unit to g/kWh, or 0 when the unit is not an emission rate. */
static double watttime_scale(const char *units)
{
    static const char *const lbs[] = {"lbs_co2_per_mwh", "lbs_co2e_per_mwh"};
    static const char *const g[] = {"kg_co2_per_mwh", "kg_co2e_per_mwh", "g_co2_per_kwh", "g_co2e_per_kwh"};
    for (size_t i = 0; i < sizeof lbs / sizeof lbs[0]; i++)
        if (!strcmp(units, lbs[i]))
            return CHASE_LBS_PER_MWH_TO_G_PER_KWH;
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
        if (!strcmp(units, g[i]))
            return 1.0;
    return 0;
}

static int wt_shape(const cJSON *root, points_t *p, int flags, int64_t *step, const char *api, chase_err_t *err)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "meta");
    const char *units = cJSON_IsObject(meta) ? str_field(meta, "units") : NULL;
    double scale = units ? watttime_scale(units) : 0;
    if (!cJSON_IsArray(data))
        return chase_err_set(err, CHASE_EFORMAT, "%s: the answer has no \"data\" array", api);
    if (!units)
        return chase_err_set(err, CHASE_EFORMAT, "%s: the answer has no meta.units; cannot tell what the values mean",
                             api);
    if (scale == 0)
        return chase_err_set(err, CHASE_EFORMAT,
                             "%s: units '%.40s' are not an emission rate (expected lbs_co2_per_mwh)%s", api, units,
                             !strcmp(units, "percentile") ? "; signal-index gives a 0-100 percentile, not g/kWh" : "");
    copy_zone(p->info, str_field(meta, "region"));
    const cJSON *per = cJSON_GetObjectItemCaseSensitive(meta, "data_point_period_seconds");
    if (cJSON_IsNumber(per) && per->valuedouble >= 60 && per->valuedouble <= 86400)
        *step = (int64_t)per->valuedouble;
    int rc = CHASE_OK;
    for (const cJSON *it = data->child; it && rc == CHASE_OK; it = it->next)
        rc = entry(p, it, "point_time", "value", scale, *step, flags);
    return rc;
}

int chase_parse_watttime(const char *body, size_t len, int flags, chase_sample_t *out, size_t cap, size_t *n,
                         chase_parse_info_t *info, chase_err_t *err)
{
    return parse_with("watttime", wt_shape, body, len, flags, out, cap, n, info, err);
}

static int copy_string_field(const char *body, size_t len, const char *api, const char *field, char *buf, size_t size,
                             chase_err_t *err)
{
    cJSON *root = parse_root(body, len, api, err);
    if (!root)
        return CHASE_EFORMAT;
    const char *v = str_field(root, field);
    int rc = CHASE_OK;
    if (!v || !*v)
        rc = chase_err_set(err, CHASE_EFORMAT, "%s: the answer has no \"%s\" string", api, field);
    else if (strlen(v) >= size)
        rc = chase_err_set(err, CHASE_ERANGE, "%s: \"%s\" is longer than %zu bytes", api, field, size - 1);
    else
        memcpy(buf, v, strlen(v) + 1);
    cJSON_Delete(root);
    return rc;
}

int chase_parse_watttime_token(const char *body, size_t len, char *buf, size_t size, chase_err_t *err)
{
    return copy_string_field(body, len, "watttime /login", "token", buf, size, err);
}

int chase_parse_watttime_region(const char *body, size_t len, char *buf, size_t size, chase_err_t *err)
{
    int rc = copy_string_field(body, len, "watttime /v3/region-from-loc", "region", buf, size, err);
    if (rc == CHASE_OK)
        for (const char *s = buf; *s; s++)
            if (!(*s == '_' || *s == '-' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
                  (*s >= '0' && *s <= '9')))
                return chase_err_set(err, CHASE_EFORMAT, "watttime /v3/region-from-loc: region has odd characters");
    return rc;
}

/* One UK period {from, to, intensity: {forecast, actual}}. */
static int ukci_period(points_t *p, const cJSON *it, int flags)
{
    const char *from = str_field(it, "from"), *to = str_field(it, "to");
    int64_t t0, t1;
    if (!from || chase_time_parse(from, &t0, NULL) != CHASE_OK) {
        skip(p, "bad from '%.40s'", from ? from : "(missing)");
        return CHASE_OK;
    }
    if (!to || chase_time_parse(to, &t1, NULL) != CHASE_OK || t1 <= t0 || t1 - t0 > 86400) {
        skip(p, "bad period ending '%.40s'", to ? to : "(missing)");
        return CHASE_OK;
    }
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(it, "intensity");
    if (!cJSON_IsObject(in)) {
        skip(p, "missing intensity at %.40s", from);
        return CHASE_OK;
    }
    const cJSON *actual = cJSON_GetObjectItemCaseSensitive(in, "actual");
    double ci;
    if (actual && !cJSON_IsNull(actual)) {
        if (!usable(p, actual, 1.0, from, &ci))
            return CHASE_OK;
        return push(p, t0, t1 - t0, ci, flags);
    }
    /* No actual yet (the half hour is open, or a regional answer): the forecast stands in, flagged. */
    if (!usable(p, cJSON_GetObjectItemCaseSensitive(in, "forecast"), 1.0, from, &ci))
        return CHASE_OK;
    return push(p, t0, t1 - t0, ci, flags | CHASE_SAMPLE_FORECAST);
}

static int ukci_walk(points_t *p, const cJSON *node, int flags, int depth)
{
    if (depth > 6)
        return CHASE_OK;
    int rc = CHASE_OK;
    if (cJSON_IsArray(node)) {
        for (const cJSON *it = node->child; it && rc == CHASE_OK; it = it->next)
            rc = ukci_walk(p, it, flags, depth + 1);
        return rc;
    }
    if (!cJSON_IsObject(node))
        return CHASE_OK;
    if (cJSON_GetObjectItemCaseSensitive(node, "intensity") && cJSON_GetObjectItemCaseSensitive(node, "from"))
        return ukci_period(p, node, flags);
    copy_zone(p->info, str_field(node, "shortname"));
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(node, "data");
    if (data)
        rc = ukci_walk(p, data, flags, depth + 1);
    const cJSON *regions = cJSON_GetObjectItemCaseSensitive(node, "regions");
    if (rc == CHASE_OK && regions)
        rc = ukci_walk(p, regions, flags, depth + 1);
    return rc;
}

static int ukci_shape(const cJSON *root, points_t *p, int flags, int64_t *step, const char *api, chase_err_t *err)
{
    (void)step; /* each period states its own: to - from */
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!cJSON_IsArray(data) && !cJSON_IsObject(data))
        return chase_err_set(err, CHASE_EFORMAT, "%s: the answer has no \"data\"", api);
    return ukci_walk(p, data, flags, 0);
}

int chase_parse_ukci(const char *body, size_t len, int flags, chase_sample_t *out, size_t cap, size_t *n,
                     chase_parse_info_t *info, chase_err_t *err)
{
    return parse_with("ukci", ukci_shape, body, len, flags, out, cap, n, info, err);
}
