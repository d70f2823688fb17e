/* The fallback chain: several signals tried in order, so that a training job never stops because an API is down.
 * When every source fails the newest good value carries on, flagged stale; after max_stale without data the chain
 * reports CHASE_ENODATA and the control loop falls back to its safe policy. Each change is said once, through the
 * caller's warning callback. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/provider.h"
#include "chase/timeutil.h"
#include "util/notify.h"

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
    chase_warn_fn warn;
    void *warn_arg;
} fb_t;

__attribute__((format(printf, 2, 3))) static void say(fb_t *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    chase_notify_v(f->warn, f->warn_arg, fmt, ap);
    va_end(ap);
}

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
            if ((f->state != FB_OK || f->source != i) && (f->n > 1 || f->state != FB_OK))
                say(f, "carbon signal: using %s%s", chase_provider_name(f->m[i]),
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
        if (f->state != FB_STALE) {
            char when[32];
            say(f,
                "carbon signal: every source failed (%s); carrying on with the last value, %.1f g/kWh from %s, "
                "flagged stale, for up to %.0f min",
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
    /* Before any source has answered (start-up, an empty cache) there is no "for more than max_stale" to speak of. */
    if (!f->have_good) {
        if (f->state != FB_NODATA)
            say(f, "carbon signal: no carbon data yet (%s); the controller runs its safe policy until a source answers",
                why);
        f->state = FB_NODATA;
        return chase_err_set(err, CHASE_ENODATA, "no carbon data yet: %s", why);
    }
    if (f->state != FB_NODATA)
        say(f,
            "carbon signal: no data for more than %.0f min (max_stale); the controller falls back to its safe policy "
            "until a source answers (%s)",
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

int chase_signal_fallback(chase_signal_t **members, size_t n, double max_stale_s, chase_warn_fn warn, void *warn_arg,
                          chase_signal_t **out, chase_err_t *err)
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
    f->warn = warn;
    f->warn_arg = warn_arg;
    s->ops = &fb_ops;
    s->self = f;
    *out = s;
    return CHASE_OK;
}
