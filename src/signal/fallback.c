/* The fallback chain: several signals tried in order, so that a training job never stops because an API is down.
 * When every source fails the newest good value carries on, flagged stale; after max_stale without data the chain
 * reports CHASE_ENODATA and the control loop falls back to its safe policy. Each change is said once on stderr. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/provider.h"
#include "chase/timeutil.h"

#define DEFAULT_MAX_STALE_S (2 * 3600.0)
#define MAX_MEMBERS 8

enum { FB_OK, FB_STALE, FB_NODATA };

typedef struct fb {
    chase_signal_t *m[MAX_MEMBERS];
    size_t n;
    double max_stale_s;
    int have_good;
    chase_sample_t good; /* the newest sample a source gave */
    double good_at;      /* caller's clock when it was given (or when it ended, if read back from a cache) */
    int state;
    size_t source; /* member that answered last */
    FILE *log;
} fb_t;

/* Adds "name: message" of a failed member to the combined error. */
static void note_failure(char *buf, size_t size, const char *name, const chase_err_t *e, int rc)
{
    size_t len = strlen(buf);
    if (len + 8 >= size)
        return;
    int w = snprintf(buf + len, size - len, "%s%.190s", len ? "; " : "", e->msg[0] ? e->msg : chase_strerror(rc));
    (void)w; /* a long list is cut, which is fine for a message */
    (void)name;
}

/* After a restart nothing is in memory: the newest observation any member's cache holds can still carry on. */
static void prime_from_cache(fb_t *f, double now)
{
    chase_sample_t s[4];
    size_t newest = f->n;
    for (size_t i = 0; i < f->n; i++) {
        size_t k = 0;
        if (chase_provider_cached(f->m[i], now, (int64_t)floor(now - f->max_stale_s) - 86400, s, 4, &k, NULL) ==
                CHASE_OK &&
            k > 0) {
            double at = (double)(s[k - 1].t + s[k - 1].step_s);
            if (at > now)
                at = now;
            if (!f->have_good || at > f->good_at) {
                f->have_good = 1;
                f->good = s[k - 1];
                f->good_at = at;
                newest = i;
            }
        }
    }
    if (newest < f->n)
        f->source = newest;
}

static int fb_history(void *self, double now, int64_t since, chase_sample_t *out, size_t cap, size_t *n,
                      chase_err_t *err)
{
    fb_t *f = self;
    char why[400] = "";
    *n = 0;
    for (size_t i = 0; i < f->n; i++) {
        chase_err_t e;
        chase_err_clear(&e);
        size_t k = 0;
        int rc = chase_signal_history(f->m[i], now, since, out, cap, &k, &e);
        if (rc == CHASE_OK && k > 0) {
            f->have_good = 1;
            f->good = out[k - 1];
            f->good_at = now;
            if (f->log && (f->state != FB_OK || f->source != i) && (f->n > 1 || f->state != FB_OK))
                fprintf(f->log, "chase: carbon signal: using %s%s\n", chase_provider_name(f->m[i]),
                        i > 0 ? " (sources before it failed)" : "");
            f->state = FB_OK;
            f->source = i;
            *n = k;
            return CHASE_OK;
        }
        if (rc == CHASE_OK)
            chase_err_set(&e, CHASE_ENODATA, "%s: no data", chase_provider_name(f->m[i]));
        note_failure(why, sizeof why, chase_provider_name(f->m[i]), &e, rc);
    }
    if (!f->have_good)
        prime_from_cache(f, now);
    if (f->have_good && now - f->good_at <= f->max_stale_s) {
        if (f->log && f->state != FB_STALE) {
            char when[32];
            fprintf(f->log,
                    "chase: carbon signal: every source failed (%s); carrying on with the last value, %.1f g/kWh from "
                    "%s, flagged stale, for up to %.0f min\n",
                    why, f->good.ci, chase_time_format(f->good.t, when, sizeof when),
                    (f->max_stale_s - (now - f->good_at)) / 60);
        }
        f->state = FB_STALE;
        int64_t step = f->good.step_s > 0 ? f->good.step_s : 3600;
        int64_t cur = (int64_t)floor(now / (double)step) * step;
        if (cap > 1 && f->good.t >= since && f->good.t < cur)
            out[(*n)++] = f->good;
        if (cap > 0) {
            chase_sample_t s = f->good;
            if (cur > s.t)
                s.t = cur;
            s.step_s = step;
            s.flags |= CHASE_SAMPLE_STALE;
            out[(*n)++] = s;
        }
        return CHASE_OK;
    }
    if (f->log && f->state != FB_NODATA)
        fprintf(f->log,
                "chase: carbon signal: no data for more than %.0f min (max_stale); the controller falls back to its "
                "safe policy until a source answers (%s)\n",
                f->max_stale_s / 60, why);
    f->state = FB_NODATA;
    return chase_err_set(err, CHASE_ENODATA, "no carbon data for more than %.0f min (max_stale): %s",
                         f->max_stale_s / 60, why);
}

static int fb_forecast(void *self, double now, int64_t until, chase_sample_t *out, size_t cap, size_t *n,
                       chase_err_t *err)
{
    fb_t *f = self;
    char why[400] = "";
    int last = CHASE_ENOTSUP;
    *n = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (!f->m[i]->ops->forecast)
            continue;
        chase_err_t e;
        chase_err_clear(&e);
        size_t k = 0;
        int rc = f->m[i]->ops->forecast(f->m[i]->self, now, until, out, cap, &k, &e);
        if (rc == CHASE_OK && k > 0) {
            *n = k;
            return CHASE_OK;
        }
        last = rc == CHASE_OK ? CHASE_ENODATA : rc;
        note_failure(why, sizeof why, chase_provider_name(f->m[i]), &e, last);
    }
    return chase_err_set(err, last, "no source forecast: %s", why[0] ? why : "none of the sources forecasts");
}

static int fb_actual(void *self, double t0, double t1, double *mean_ci, chase_err_t *err)
{
    fb_t *f = self;
    char why[400] = "";
    for (size_t i = 0; i < f->n; i++) {
        chase_err_t e;
        chase_err_clear(&e);
        int rc = chase_signal_actual(f->m[i], t0, t1, mean_ci, &e);
        if (rc == CHASE_OK)
            return CHASE_OK;
        note_failure(why, sizeof why, chase_provider_name(f->m[i]), &e, rc);
    }
    return chase_err_set(err, CHASE_ENODATA, "no source knows the carbon intensity of that period: %s", why);
}

static void fb_destroy(void *self)
{
    fb_t *f = self;
    for (size_t i = 0; i < f->n; i++)
        chase_signal_free(f->m[i]);
    free(f);
}

static const chase_signal_ops_t fb_ops = {
    .name = "fallback",
    .history = fb_history,
    .forecast = fb_forecast,
    .actual = fb_actual,
    .destroy = fb_destroy,
};

const char *chase_signal_fallback_source(const chase_signal_t *s)
{
    if (!s || s->ops != &fb_ops)
        return NULL;
    const fb_t *f = s->self;
    return f->have_good && f->source < f->n ? chase_provider_name(f->m[f->source]) : NULL;
}

int chase_signal_fallback(chase_signal_t **members, size_t n, double max_stale_s, chase_signal_t **out,
                          chase_err_t *err)
{
    *out = NULL;
    int rc = CHASE_OK;
    fb_t *f = NULL;
    chase_signal_t *s = NULL;
    if (n == 0 || n > MAX_MEMBERS)
        rc = chase_err_set(err, CHASE_EINVAL, "a fallback chain has 1 to %d sources, not %zu", MAX_MEMBERS, n);
    else if (!(max_stale_s >= 0) || !isfinite(max_stale_s))
        rc = chase_err_set(err, CHASE_EINVAL, "max_stale must be a duration >= 0");
    else if (!(f = calloc(1, sizeof *f)) || !(s = calloc(1, sizeof *s)))
        rc = chase_err_set(err, CHASE_ENOMEM, "out of memory");
    if (rc != CHASE_OK) {
        for (size_t i = 0; i < n; i++)
            chase_signal_free(members[i]);
        free(f);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        f->m[i] = members[i];
        if (i == 0 || (members[i]->step_s > 0 && members[i]->step_s < s->step_s))
            s->step_s = members[i]->step_s;
    }
    f->n = n;
    f->max_stale_s = max_stale_s;
    f->log = stderr;
    s->ops = &fb_ops;
    s->self = f;
    *out = s;
    return CHASE_OK;
}

/* An item starts a new source when it is a bare name or "name:..." with no '=' before the ':'. */
static int starts_source(const char *item)
{
    const char *colon = strchr(item, ':'), *eq = strchr(item, '=');
    if (colon)
        return !eq || colon < eq;
    return !eq;
}

int chase_signal_open_chain(const char *spec, const chase_signal_open_opts_t *opts, chase_signal_open_one_fn open_one,
                            chase_signal_t **out, chase_err_t *err)
{
    *out = NULL;
    if (!spec || !*spec)
        return chase_err_set(err, CHASE_EINVAL,
                             "empty signal spec (e.g. ukci, electricitymaps:zone=DE, "
                             "trace:FILE.csv, static:300)");
    char *copy = strdup(spec);
    if (!copy)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    char *names[MAX_MEMBERS], *keys[MAX_MEMBERS];
    size_t nk[MAX_MEMBERS] = {0};
    size_t ns = 0;
    double max_stale = DEFAULT_MAX_STALE_S;
    int rc = CHASE_OK, any_live = 0;
    /* keys[i] is rebuilt in its own buffer: the items of source i joined by commas. */
    for (size_t i = 0; i < MAX_MEMBERS; i++)
        keys[i] = NULL;
    size_t item_no = 0;
    char *p = copy;
    while (rc == CHASE_OK && p) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        char *item = p;
        p = comma ? comma + 1 : NULL;
        item_no++;
        if (!*item) {
            rc = chase_err_set(err, CHASE_EINVAL, "signal spec: item %zu is empty (stray comma?)", item_no);
            break;
        }
        char *first_key = NULL;
        if (starts_source(item)) {
            if (ns == MAX_MEMBERS) {
                rc = chase_err_set(err, CHASE_EINVAL, "signal spec: more than %d sources", MAX_MEMBERS);
                break;
            }
            char *colon = strchr(item, ':');
            if (colon) {
                *colon = '\0';
                first_key = colon + 1;
            }
            names[ns] = item;
            keys[ns] = calloc(1, strlen(spec) + 1);
            if (!keys[ns]) {
                rc = chase_err_set(err, CHASE_ENOMEM, "out of memory");
                break;
            }
            ns++;
            if (!first_key || !*first_key)
                continue;
            item = first_key;
        } else if (ns == 0) {
            rc = chase_err_set(err, CHASE_EINVAL,
                               "signal spec: '%.40s' comes before any source name (e.g. "
                               "electricitymaps:zone=DE)",
                               strchr(item, '=') ? "key=..." : item);
            break;
        }
        if (!strncmp(item, "max_stale=", 10)) {
            if (chase_duration_parse(item + 10, &max_stale, NULL) != CHASE_OK)
                rc = chase_err_set(err, CHASE_EINVAL, "signal spec: max_stale=%.30s is not a duration (e.g. 2h)",
                                   item + 10);
            continue;
        }
        char *dst = keys[ns - 1];
        if (nk[ns - 1]++)
            strcat(dst, ",");
        strcat(dst, item);
    }
    chase_signal_t *members[MAX_MEMBERS];
    size_t opened = 0;
    for (size_t i = 0; rc == CHASE_OK && i < ns; i++) {
        any_live |= chase_provider_known(names[i]);
        rc = open_one(names[i], keys[i], opts, &members[i], err);
        if (rc == CHASE_OK)
            opened++;
    }
    for (size_t i = 0; i < ns; i++)
        free(keys[i]);
    free(copy);
    if (rc != CHASE_OK) {
        for (size_t i = 0; i < opened; i++)
            chase_signal_free(members[i]);
        return rc;
    }
    if (ns == 1 && !any_live) {
        *out = members[0];
        return CHASE_OK;
    }
    return chase_signal_fallback(members, ns, max_stale, out, err);
}
