/* The part of every live provider that is not about its API: spec keys, credentials from the environment, and the
 * cache-first signal ops. A provider is asked only when the cache is older than the freshness window, so repeated
 * queries and restarts do not spend the user's quota, and everything it answers is kept for the forecaster. */
#include "signal/provider_common.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "chase/timeutil.h"

/* Largest answer we keep from one fetch: 5-minute data over 24 h is 288 points, a 72 h forecast 864. */
#define FETCH_CAP 20000

int chase_keys_parse(const char *provider, const char *text, chase_keys_t *k, chase_err_t *err)
{
    memset(k, 0, sizeof *k);
    k->provider = provider;
    if (!text || !*text)
        return CHASE_OK;
    k->store = strdup(text);
    if (!k->store)
        return chase_err_set(err, CHASE_ENOMEM, "%s: out of memory", provider);
    char *save = NULL;
    for (char *item = strtok_r(k->store, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq || eq == item) {
            int rc = chase_err_set(err, CHASE_EINVAL, "%s: '%.60s' in the signal spec is not key=value", provider,
                                   eq ? "=..." : item);
            chase_keys_free(k);
            return rc;
        }
        *eq = '\0';
        for (size_t i = 0; i < k->n; i++) {
            if (!strcmp(k->key[i], item)) {
                int rc =
                    chase_err_set(err, CHASE_EINVAL, "%s: key '%.40s' given twice in the signal spec", provider, item);
                chase_keys_free(k);
                return rc;
            }
        }
        if (k->n == CHASE_KEYS_MAX) {
            chase_keys_free(k);
            return chase_err_set(err, CHASE_EINVAL, "%s: more than %d keys in the signal spec", provider,
                                 CHASE_KEYS_MAX);
        }
        k->key[k->n] = item;
        k->value[k->n] = eq + 1;
        k->n++;
    }
    return CHASE_OK;
}

void chase_keys_free(chase_keys_t *k)
{
    free(k->store);
    memset(k, 0, sizeof *k);
}

const char *chase_keys_get(chase_keys_t *k, const char *key)
{
    for (size_t i = 0; i < k->n; i++) {
        if (!strcmp(k->key[i], key)) {
            k->used[i] = 1;
            return k->value[i];
        }
    }
    return NULL;
}

int chase_keys_check(const chase_keys_t *k, const char *known, chase_err_t *err)
{
    for (size_t i = 0; i < k->n; i++)
        if (!k->used[i])
            return chase_err_set(err, CHASE_EINVAL, "%s: unknown key '%.40s' in the signal spec (known: %s)",
                                 k->provider, k->key[i], known);
    return CHASE_OK;
}

const char *chase_keys_secret(chase_keys_t *k, const char *key, const char *env, FILE *log)
{
    const char *in_spec = chase_keys_get(k, key);
    const char *in_env = getenv(env);
    if (in_env && *in_env)
        return in_env;
    if (in_spec && *in_spec) {
        if (log)
            fprintf(log,
                    "chase: warning: %s: %s= in the signal spec can be read in process listings and shell history; "
                    "set %s in the environment instead\n",
                    k->provider, key, env);
        return in_spec;
    }
    return NULL;
}

int chase_live_append(char *buf, size_t size, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + len, size - len, fmt, ap);
    va_end(ap);
    return (w < 0 || (size_t)w >= size - len) ? CHASE_ERANGE : CHASE_OK;
}

void chase_live_time(int64_t t, int seconds, char *buf, size_t size)
{
    char full[32];
    chase_time_format(t, full, sizeof full); /* YYYY-MM-DDTHH:MM:SSZ */
    if (seconds)
        snprintf(buf, size, "%s", full);
    else
        snprintf(buf, size, "%.16sZ", full);
}

static int duration_key(chase_keys_t *k, const char *key, double lo, double hi, double *out, chase_err_t *err)
{
    const char *v = chase_keys_get(k, key);
    if (!v)
        return CHASE_OK;
    double d;
    if (chase_duration_parse(v, &d, NULL) != CHASE_OK || d < lo || d > hi)
        return chase_err_set(err, CHASE_EINVAL, "%s: %s=%.40s is not a duration between %gs and %gs", k->provider, key,
                             v, lo, hi);
    *out = d;
    return CHASE_OK;
}

int chase_live_setup(chase_live_t *lv, chase_keys_t *k, const char *default_url, const chase_signal_open_opts_t *opts,
                     chase_err_t *err)
{
    lv->log = stderr;
    lv->fresh_s = 300;
    lv->fail_wait_s = 60;
    lv->last_fail[0] = lv->last_fail[1] = -1;
    chase_http_opts_default(&lv->http);
    const char *url = chase_keys_get(k, "url");
    if (!url)
        url = default_url;
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
        return chase_err_set(err, CHASE_EINVAL, "%s: url=%.80s must start with https:// (or http:// for tests)",
                             k->provider, url);
    if (strlen(url) >= sizeof lv->url - 64)
        return chase_err_set(err, CHASE_EINVAL, "%s: url= is too long", k->provider);
    snprintf(lv->url, sizeof lv->url, "%s", url);
    size_t len = strlen(lv->url);
    while (len > 0 && lv->url[len - 1] == '/')
        lv->url[--len] = '\0';
    double retries = lv->http.retries;
    int rc;
    if ((rc = duration_key(k, "fresh", 0, 86400, &lv->fresh_s, err)) ||
        (rc = duration_key(k, "timeout", 0.05, 600, &lv->http.timeout_s, err)) ||
        (rc = duration_key(k, "connect_timeout", 0.05, 600, &lv->http.connect_timeout_s, err)) ||
        (rc = duration_key(k, "backoff", 0, 600, &lv->http.backoff_s, err)) ||
        (rc = duration_key(k, "retry_wait", 0, 3600, &lv->fail_wait_s, err)))
        return rc;
    const char *r = chase_keys_get(k, "retries");
    if (r) {
        char *end;
        retries = strtod(r, &end);
        if (*end || end == r || !(retries >= 0 && retries <= 10) || retries != floor(retries))
            return chase_err_set(err, CHASE_EINVAL, "%s: retries=%.20s is not a whole number from 0 to 10", k->provider,
                                 r);
        lv->http.retries = (int)retries;
    }
    if (lv->http.connect_timeout_s > lv->http.timeout_s)
        lv->http.connect_timeout_s = lv->http.timeout_s;
    const char *cache = chase_keys_get(k, "cache");
    if (!cache && opts)
        cache = opts->cache_path;
    if (cache && strlen(cache) >= sizeof lv->cache_path)
        return chase_err_set(err, CHASE_EINVAL, "%s: cache= path is too long", k->provider);
    snprintf(lv->cache_path, sizeof lv->cache_path, "%s", cache ? cache : "");
    return CHASE_OK;
}

int chase_keys_code_ok(const char *s, size_t max)
{
    if (!*s || strlen(s) >= max)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_'))
            return 0;
    return 1;
}

int chase_keys_latlon(chase_keys_t *k, double *lat, double *lon, int *given, chase_err_t *err)
{
    const char *la = chase_keys_get(k, "lat"), *lo = chase_keys_get(k, "lon");
    *given = 0;
    if (!la && !lo)
        return CHASE_OK;
    if (!la || !lo)
        return chase_err_set(err, CHASE_EINVAL, "%s: give both lat= and lon=", k->provider);
    const char *text[2] = {la, lo};
    double *dst[2] = {lat, lon}, lim[2] = {90, 180};
    for (int i = 0; i < 2; i++) {
        char *end;
        double d = strtod(text[i], &end);
        if (end == text[i] || *end || !isfinite(d) || fabs(d) > lim[i])
            return chase_err_set(err, CHASE_EINVAL, "%s: %s=%.30s is not a number between -%g and %g", k->provider,
                                 i ? "lon" : "lat", text[i], lim[i], lim[i]);
        *dst[i] = d;
    }
    *given = 1;
    return CHASE_OK;
}

int chase_live_new(const chase_live_ops_t *ops, size_t impl_size, chase_live_t **out, chase_err_t *err)
{
    chase_live_t *lv = calloc(1, sizeof *lv);
    void *impl = calloc(1, impl_size);
    if (!lv || !impl) {
        free(lv);
        free(impl);
        return chase_err_set(err, CHASE_ENOMEM, "%s: out of memory", ops->name);
    }
    lv->ops = ops;
    lv->impl = impl;
    *out = lv;
    return CHASE_OK;
}

void chase_live_wipe(void *p, size_t size)
{
    if (!p)
        return;
    volatile unsigned char *b = p; /* volatile: the compiler may not skip stores to memory about to be freed */
    for (size_t i = 0; i < size; i++)
        b[i] = 0;
    free(p);
}

void chase_live_free(chase_live_t *lv)
{
    if (!lv)
        return;
    if (lv->ops && lv->ops->destroy)
        lv->ops->destroy(lv->impl);
    chase_cache_close(lv->cache);
    free(lv);
}

/* Asks the API unless the cache is fresh (or the last failure is too recent), and stores what it answers. */
static int refresh(chase_live_t *lv, int kind, double now, int64_t since, int64_t until, chase_err_t *err)
{
    double last;
    int have = chase_cache_last_fetch(lv->cache, lv->ops->name, lv->zone, kind, &last, NULL) == CHASE_OK;
    if (have && now >= last && now - last < lv->fresh_s)
        return CHASE_OK;
    if (lv->last_fail[kind] >= 0 && now >= lv->last_fail[kind] && now - lv->last_fail[kind] < lv->fail_wait_s) {
        if (err)
            *err = lv->fail_err[kind];
        return lv->fail_err[kind].code;
    }
    chase_sample_t *buf = malloc(FETCH_CAP * sizeof *buf);
    if (!buf)
        return chase_err_set(err, CHASE_ENOMEM, "%s: out of memory", lv->ops->name);
    size_t n = 0;
    chase_err_t e;
    chase_err_clear(&e);
    int rc = lv->ops->fetch(lv, kind, now, since, until, buf, FETCH_CAP, &n, &e);
    if (rc == CHASE_OK)
        rc = chase_cache_put(lv->cache, lv->ops->name, lv->zone, kind, buf, n, now, &e);
    free(buf);
    if (rc != CHASE_OK) {
        if (!e.msg[0])
            chase_err_set(&e, rc, "%s: fetch failed", lv->ops->name);
        e.code = rc;
        lv->last_fail[kind] = now;
        lv->fail_err[kind] = e;
        if (err)
            *err = e;
        return rc;
    }
    lv->last_fail[kind] = -1;
    return CHASE_OK;
}

static int live_history(void *self, double now, int64_t since, chase_sample_t *out, size_t cap, size_t *n,
                        chase_err_t *err)
{
    chase_live_t *lv = self;
    *n = 0;
    int64_t from = since;
    if (from < (int64_t)now - 86400)
        from = (int64_t)now - 86400; /* the APIs' recent history: older data comes from the cache only */
    /* Ask only for what the cache does not hold yet: from its newest observation on. */
    chase_sample_t newest;
    size_t k = 0;
    if (chase_cache_get(lv->cache, lv->ops->name, lv->zone, CHASE_CACHE_OBSERVED, from, (int64_t)floor(now) + 1,
                        &newest, 1, &k, NULL) == CHASE_OK &&
        k == 1 && newest.t > from)
        from = newest.t;
    int rc = refresh(lv, CHASE_CACHE_OBSERVED, now, from, (int64_t)floor(now) + 1, err);
    if (rc != CHASE_OK)
        return rc;
    rc = chase_cache_get(lv->cache, lv->ops->name, lv->zone, CHASE_CACHE_OBSERVED, since, (int64_t)floor(now) + 1, out,
                         cap, n, err);
    if (rc == CHASE_OK && *n == 0) {
        char when[32];
        rc = chase_err_set(err, CHASE_ENODATA, "%s %s: no observation since %s", lv->ops->name, lv->zone,
                           chase_time_format(since, when, sizeof when));
    }
    return rc;
}

static int live_forecast(void *self, double now, int64_t until, chase_sample_t *out, size_t cap, size_t *n,
                         chase_err_t *err)
{
    chase_live_t *lv = self;
    *n = 0;
    if (lv->no_forecast)
        return chase_err_set(err, CHASE_ENOTSUP, "%s: forecasts are not available with this account", lv->ops->name);
    int rc = refresh(lv, CHASE_CACHE_FORECAST, now, (int64_t)floor(now), until, err);
    if (rc == CHASE_EAUTH || rc == CHASE_ENOTSUP) {
        lv->no_forecast = 1;
        if (err && rc == CHASE_EAUTH)
            chase_live_append(err->msg, sizeof err->msg, " (forecasts refused: chase carries on with its own)");
        return rc;
    }
    if (rc != CHASE_OK)
        return rc;
    /* A forecast step that began before now still covers now: look back a day and keep those that reach now. */
    size_t m = 0, big = 4 * 24 * 12 + cap;
    chase_sample_t *tmp = malloc(big * sizeof *tmp);
    if (!tmp)
        return chase_err_set(err, CHASE_ENOMEM, "%s: out of memory", lv->ops->name);
    rc = chase_cache_get(lv->cache, lv->ops->name, lv->zone, CHASE_CACHE_FORECAST, (int64_t)floor(now) - 86400, until,
                         tmp, big, &m, err);
    for (size_t i = 0; rc == CHASE_OK && i < m && *n < cap; i++)
        if ((double)(tmp[i].t + tmp[i].step_s) > now)
            out[(*n)++] = tmp[i];
    free(tmp);
    if (rc == CHASE_OK && *n == 0)
        rc = chase_err_set(err, CHASE_ENODATA, "%s %s: no forecast from now on", lv->ops->name, lv->zone);
    return rc;
}

static int live_actual(void *self, double t0, double t1, double *mean_ci, chase_err_t *err)
{
    chase_live_t *lv = self;
    if (!(t1 > t0))
        return chase_err_set(err, CHASE_EINVAL, "%s: actual over an empty interval", lv->ops->name);
    size_t cap = 4096, n = 0;
    chase_sample_t *s = malloc(cap * sizeof *s);
    if (!s)
        return chase_err_set(err, CHASE_ENOMEM, "%s: out of memory", lv->ops->name);
    int64_t since = (int64_t)floor(t0) - 86400;
    /* Ask the API for news, but what the cache already knows is good enough when it cannot answer. */
    refresh(lv, CHASE_CACHE_OBSERVED, t1, (int64_t)floor(t0) - 3600, (int64_t)floor(t1) + 1, NULL);
    int rc = chase_cache_get(lv->cache, lv->ops->name, lv->zone, CHASE_CACHE_OBSERVED, since, (int64_t)ceil(t1), s, cap,
                             &n, err);
    double sum = 0, covered = 0;
    for (size_t i = 0; rc == CHASE_OK && i < n; i++) {
        double a = fmax(t0, (double)s[i].t), b = fmin(t1, (double)(s[i].t + s[i].step_s));
        if (b > a) {
            sum += s[i].ci * (b - a);
            covered += b - a;
        }
    }
    free(s);
    if (rc != CHASE_OK)
        return rc;
    if (covered <= 0) {
        char a[32], b[32];
        return chase_err_set(err, CHASE_ENODATA, "%s %s: no observation covers %s .. %s", lv->ops->name, lv->zone,
                             chase_time_format((int64_t)t0, a, sizeof a), chase_time_format((int64_t)t1, b, sizeof b));
    }
    *mean_ci = sum / covered;
    return CHASE_OK;
}

static void live_destroy(void *self)
{
    chase_live_free(self);
}

/* One ops table for all live providers: the provider's own part sits behind chase_live_t. */
static const chase_signal_ops_t live_ops = {
    .name = "live",
    .history = live_history,
    .forecast = live_forecast,
    .actual = live_actual,
    .destroy = live_destroy,
};

int chase_live_signal(chase_live_t *lv, int64_t step_s, chase_signal_t **out, chase_err_t *err)
{
    /* Opened last, once the spec and credentials are known to be good: a bad spec leaves no file behind. */
    int rc = chase_cache_open(lv->cache_path[0] ? lv->cache_path : NULL, &lv->cache, err);
    if (rc != CHASE_OK) {
        chase_live_free(lv);
        return rc;
    }
    chase_signal_t *s = calloc(1, sizeof *s);
    if (!s) {
        chase_live_free(lv);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    s->ops = &live_ops;
    s->self = lv;
    s->step_s = step_s;
    *out = s;
    return CHASE_OK;
}

int chase_provider_known(const char *name)
{
    return name && (!strcmp(name, "electricitymaps") || !strcmp(name, "watttime") || !strcmp(name, "ukci"));
}

int chase_provider_open(const char *name, const char *keys, const chase_signal_open_opts_t *opts, chase_signal_t **out,
                        chase_err_t *err)
{
    *out = NULL;
    if (!chase_provider_known(name))
        return chase_err_set(err, CHASE_EINVAL,
                             "unknown signal provider '%.40s' (live providers: electricitymaps, watttime, ukci)",
                             name ? name : "");
    chase_keys_t k;
    int rc = chase_keys_parse(name, keys, &k, err);
    if (rc != CHASE_OK)
        return rc;
    if (!strcmp(name, "electricitymaps"))
        rc = chase_provider_electricitymaps_open(&k, opts, out, err);
    else if (!strcmp(name, "watttime"))
        rc = chase_provider_watttime_open(&k, opts, out, err);
    else
        rc = chase_provider_ukci_open(&k, opts, out, err);
    chase_keys_free(&k);
    return rc;
}

int chase_provider_cached(chase_signal_t *s, double now, int64_t since, chase_sample_t *out, size_t cap, size_t *n,
                          chase_err_t *err)
{
    *n = 0;
    if (!s || s->ops != &live_ops)
        return chase_err_set(err, CHASE_ENOTSUP, "not a live provider");
    chase_live_t *lv = s->self;
    return chase_cache_get(lv->cache, lv->ops->name, lv->zone, CHASE_CACHE_OBSERVED, since, (int64_t)floor(now) + 1,
                           out, cap, n, err);
}

const char *chase_provider_name(const chase_signal_t *s)
{
    if (!s || !s->ops)
        return "?";
    if (s->ops == &live_ops)
        return ((const chase_live_t *)s->self)->ops->name;
    return s->ops->name ? s->ops->name : "?";
}
