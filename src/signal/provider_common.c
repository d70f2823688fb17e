/* The part of every live provider that is not about its API: the common keys, the cache, and the signal ops.
 * A provider is asked only when the cache is older than the freshness window, so repeated queries and restarts do
 * not spend the user's quota, and everything it answers is kept for the forecaster.
 *
 * Queries never touch the network or the database: they ask the fetcher for a refresh and read the rows the last
 * refresh left in memory (the cache's last KEEP_S of observations and its current forecasts). The refresh runs on
 * the fetcher's thread: it fetches when the cache is stale, stores the answer, and reloads those rows. */
#include "signal/provider_common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chase/timeutil.h"
#include "signal/clock.h"

/* Largest answer we keep from one fetch: 5-minute data over 24 h is 288 points, a 72 h forecast 864. */
#define FETCH_CAP 20000
/* How much of the cache's past queries can read: the control loop looks back 14 days. */
#define KEEP_S (15 * 86400)
/* The most rows kept in memory per kind: 15 days of 5-minute data is 4,320. */
#define MEMORY_CAP 20000

int chase_live_append(char *buf, size_t size, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + len, size - len, fmt, ap);
    va_end(ap);
    return (w < 0 || (size_t)w >= size - len) ? CHASE_ERANGE : CHASE_OK;
}

void chase_live_warn(chase_live_t *lv, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (lv->fetcher)
        chase_fetcher_warn(lv->fetcher, msg);
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

int chase_live_setup(chase_live_t *lv, chase_keys_t *k, const char *default_url, const chase_source_ctx_t *ctx,
                     chase_err_t *err)
{
    const chase_signal_open_opts_t *opts = ctx->opts;
    lv->warn = opts->on_warning;
    lv->warn_arg = opts->on_warning_arg;
    lv->wait_s = ctx->wait_s;
    lv->fresh_s = 300;
    lv->fail_wait_s = 60;
    lv->last_fail[0] = lv->last_fail[1] = -1;
    chase_http_opts_default(&lv->http);
    const char *url = chase_keys_get(k, "url");
    if (!url)
        url = default_url;
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
        return chase_err_set(err, CHASE_EINVAL, "%s: url= must start with https:// (or http:// for tests)",
                             k->provider);
    if (strlen(url) >= sizeof lv->url - 64)
        return chase_err_set(err, CHASE_EINVAL, "%s: url= is too long", k->provider);
    snprintf(lv->url, sizeof lv->url, "%s", url);
    size_t len = strlen(lv->url);
    while (len > 0 && lv->url[len - 1] == '/')
        lv->url[--len] = '\0';
    double retries = lv->http.retries;
    int rc;
    if ((rc = chase_keys_duration(k, "fresh", 0, 86400, &lv->fresh_s, err)) ||
        (rc = chase_keys_duration(k, "timeout", 0.05, 600, &lv->http.timeout_s, err)) ||
        (rc = chase_keys_duration(k, "connect_timeout", 0.05, 600, &lv->http.connect_timeout_s, err)) ||
        (rc = chase_keys_duration(k, "backoff", 0, 600, &lv->http.backoff_s, err)) ||
        (rc = chase_keys_duration(k, "retry_wait", 0, 3600, &lv->fail_wait_s, err)) ||
        (rc = chase_keys_number(k, "retries", 0, 10, &retries, err)))
        return rc;
    if (retries != floor(retries))
        return chase_err_set(err, CHASE_EINVAL, "%s: retries= must be a whole number from 0 to 10", k->provider);
    lv->http.retries = (int)retries;
    if (lv->http.connect_timeout_s > lv->http.timeout_s)
        lv->http.connect_timeout_s = lv->http.timeout_s;
    const char *cache = chase_keys_get(k, "cache");
    if (!cache)
        cache = opts->cache_path;
    if (cache && strlen(cache) >= sizeof lv->cache_path)
        return chase_err_set(err, CHASE_EINVAL, "%s: cache= path is too long", k->provider);
    snprintf(lv->cache_path, sizeof lv->cache_path, "%s", cache ? cache : "");
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
    chase_fetcher_free(lv->fetcher); /* first: its thread may be using everything below */
    if (lv->ops && lv->ops->destroy)
        lv->ops->destroy(lv->impl);
    chase_cache_close(lv->cache);
    free(lv);
}

/* ---- The fetcher's side ---- */

/* Stores a fetch's answer. A cache that fails to write for any reason but a busy lock (it went read-only, or is
 * corrupt inside) is swapped for one in memory, with a warning, rather than losing every answer from now on. */
static int store(chase_live_t *lv, int kind, const chase_sample_t *s, size_t n, double at, chase_err_t *err)
{
    int rc = chase_cache_put(lv->cache, lv->ops->name, lv->zone, kind, s, n, at, err);
    chase_cache_t *mem;
    if (rc == CHASE_OK || rc == CHASE_ETIMEOUT || rc == CHASE_ENOMEM || chase_cache_open(":memory:", &mem, NULL))
        return rc;
    chase_live_warn(lv, "%s; using a cache in memory for the rest of this run", err->msg);
    chase_cache_close(lv->cache);
    lv->cache = mem;
    chase_cache_set_interrupt(mem, chase_fetcher_aborted, lv->fetcher);
    return chase_cache_put(mem, lv->ops->name, lv->zone, kind, s, n, at, err);
}

/* Asks the API unless the cache is fresh (or the last failure is too recent), and stores what it answers. Times
 * are on the caller's clock: a fetch that ends at monotonic time m ended at job->now + (m - job->asked_mono). The
 * failure time is the end of the failed fetch, so the retry wait counts from when the API last let us down. */
static int refresh(chase_live_t *lv, int kind, const chase_fetch_job_t *job, int64_t since, int64_t until,
                   chase_err_t *err)
{
    double now = job->now + (chase_mono_s() - job->asked_mono), last;
    /* Distances, not differences: a caller's clock that steps back must not make a fetch look stale forever. */
    int have = chase_cache_last_fetch(lv->cache, lv->ops->name, lv->zone, kind, &last, NULL) == CHASE_OK;
    if (have && fabs(now - last) < lv->fresh_s)
        return CHASE_OK;
    if (lv->last_fail[kind] >= 0 && fabs(now - lv->last_fail[kind]) < lv->fail_wait_s) {
        *err = lv->fail_err[kind];
        return lv->fail_err[kind].code;
    }
    chase_sample_t *buf = malloc(FETCH_CAP * sizeof *buf);
    if (!buf)
        return chase_err_set(err, CHASE_ENOMEM, "%s: out of memory", lv->ops->name);
    size_t n = 0;
    chase_err_t e;
    chase_err_clear(&e);
    /* The whole fetch (a login, retries, their waits) gets the time its attempts are allowed, no more. */
    lv->http.deadline_s = chase_mono_s() + lv->http.timeout_s * (lv->http.retries + 1);
    lv->http.abort = chase_fetcher_abort_flag(lv->fetcher);
    int rc = lv->ops->fetch(lv, kind, now, since, until, buf, FETCH_CAP, &n, &e);
    double end = job->now + (chase_mono_s() - job->asked_mono);
    if (rc == CHASE_OK)
        rc = store(lv, kind, buf, n, end, &e);
    free(buf);
    if (rc == CHASE_ESTATE) { /* stopped because the signal is closing: not the API's fault */
        *err = e;
        return rc;
    }
    if (rc != CHASE_OK) {
        if (!e.msg[0])
            chase_err_set(&e, rc, "%s: fetch failed", lv->ops->name);
        e.code = rc;
        lv->last_fail[kind] = end;
        lv->fail_err[kind] = e;
        *err = e;
        return rc;
    }
    lv->last_fail[kind] = -1;
    return CHASE_OK;
}

/* The rows queries of kind read: the cache's recent past (observations) or its current forecasts. */
static int load_rows(chase_live_t *lv, int kind, double now, chase_sample_t **rows, size_t *n)
{
    *rows = malloc(MEMORY_CAP * sizeof **rows);
    *n = 0;
    if (!*rows)
        return CHASE_ENOMEM;
    int64_t from = (int64_t)floor(now) - (kind == CHASE_CACHE_OBSERVED ? KEEP_S : 86400);
    int rc = chase_cache_get(lv->cache, lv->ops->name, lv->zone, kind, from, INT64_MAX, *rows, MEMORY_CAP, n, NULL);
    if (rc != CHASE_OK) {
        free(*rows);
        *rows = NULL;
    }
    return rc;
}

static void run_job(void *arg, int kind, const chase_fetch_job_t *job, chase_fetch_out_t *out)
{
    chase_live_t *lv = arg;
    double now = job->now;
    chase_err_clear(&out->err);
    if (kind == CHASE_CACHE_OBSERVED) {
        int64_t from = job->since;
        if (from < (int64_t)now - 86400)
            from = (int64_t)now - 86400; /* the APIs' recent history: older data comes from the cache only */
        /* Ask only for what the cache does not hold yet: from its newest observation on. */
        chase_sample_t newest;
        size_t k = 0;
        if (chase_cache_get(lv->cache, lv->ops->name, lv->zone, kind, from, (int64_t)floor(now) + 1, &newest, 1, &k,
                            NULL) == CHASE_OK &&
            k == 1 && newest.t > from)
            from = newest.t;
        out->rc = refresh(lv, kind, job, from, (int64_t)floor(now) + 1, &out->err);
    } else {
        out->rc = refresh(lv, kind, job, (int64_t)floor(now), job->until, &out->err);
        if (out->rc == CHASE_EAUTH)
            chase_live_append(out->err.msg, sizeof out->err.msg, " (forecasts refused: chase carries on with its own)");
    }
    if (out->rc == CHASE_ESTATE)
        return;
    load_rows(lv, kind, now, &out->rows, &out->n);
    /* A network failure passes: try again on our own once the retry wait is over, so that a recovered API is
     * in memory before the next query rather than one query later. */
    if (out->rc == CHASE_ENET || out->rc == CHASE_ETIMEOUT)
        out->retry_in_s = lv->fail_wait_s > 0 ? lv->fail_wait_s : 1;
}

/* ---- The caller's side: the signal ops ---- */

/* Asks for a refresh of kind and reads what memory holds; the outcome of the last refresh comes with it. */
static int ask_and_read(chase_live_t *lv, int kind, double now, int64_t since, int64_t until, int64_t t0, int64_t t1,
                        double min_end, chase_sample_t *out, size_t cap, size_t *n, chase_fetch_state_t *st,
                        chase_err_t *err)
{
    *n = 0;
    int rc = chase_fetcher_ask(lv->fetcher, kind, now, since, until, lv->wait_s, err);
    if (rc == CHASE_OK)
        chase_fetcher_read(lv->fetcher, kind, t0, t1, min_end, out, cap, n, st);
    chase_fetcher_drain(lv->fetcher, lv->warn, lv->warn_arg);
    return rc;
}

static int live_history(void *self, double now, int64_t since, chase_sample_t *out, size_t cap, size_t *n,
                        chase_err_t *err)
{
    chase_live_t *lv = self;
    chase_fetch_state_t st;
    int64_t end = (int64_t)floor(now) + 1;
    int rc = ask_and_read(lv, CHASE_CACHE_OBSERVED, now, since, end, since, end, -INFINITY, out, cap, n, &st, err);
    if (rc != CHASE_OK)
        return rc;
    if (st.rc != CHASE_OK) {
        *n = 0;
        if (err)
            *err = st.err;
        return st.rc;
    }
    if (*n == 0 && !st.finished)
        return chase_err_set(err, CHASE_ENODATA, "%s %s: no data yet: the first fetch is under way", lv->ops->name,
                             lv->zone);
    if (*n == 0) {
        char when[32];
        return chase_err_set(err, CHASE_ENODATA, "%s %s: no observation since %s", lv->ops->name, lv->zone,
                             chase_time_format(since, when, sizeof when));
    }
    return CHASE_OK;
}

static int live_forecast(void *self, double now, int64_t until, chase_sample_t *out, size_t cap, size_t *n,
                         chase_err_t *err)
{
    chase_live_t *lv = self;
    *n = 0;
    if (lv->no_forecast)
        return chase_err_set(err, CHASE_ENOTSUP, "%s: forecasts are not available with this account", lv->ops->name);
    chase_fetch_state_t st;
    /* A forecast step that began before now still covers now: look back a day and keep those that reach now. */
    int rc = ask_and_read(lv, CHASE_CACHE_FORECAST, now, (int64_t)floor(now), until, (int64_t)floor(now) - 86400, until,
                          now, out, cap, n, &st, err);
    if (rc != CHASE_OK)
        return rc;
    if (st.rc == CHASE_EAUTH || st.rc == CHASE_ENOTSUP)
        lv->no_forecast = 1;
    if (st.rc != CHASE_OK) {
        *n = 0;
        if (err)
            *err = st.err;
        return st.rc;
    }
    if (*n == 0)
        return chase_err_set(err, CHASE_ENODATA, "%s %s: %s", lv->ops->name, lv->zone,
                             st.finished ? "no forecast from now on" : "no forecast yet: the first fetch is under way");
    return CHASE_OK;
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
    /* Ask the API for news, but what memory already knows is good enough when it cannot answer. */
    chase_fetch_state_t st;
    int rc = ask_and_read(lv, CHASE_CACHE_OBSERVED, t1, (int64_t)floor(t0) - 3600, (int64_t)floor(t1) + 1,
                          (int64_t)floor(t0) - 86400, (int64_t)ceil(t1), t0, s, cap, &n, &st, err);
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

int chase_live_signal(chase_live_t *lv, int64_t step_s, const chase_source_ctx_t *ctx, chase_signal_t **out,
                      chase_err_t *err)
{
    /* Opened last, once the spec and credentials are known to be good: a bad spec leaves no file behind. */
    char note[1400] = "";
    int rc = chase_cache_open_or_memory(lv->cache_path[0] ? lv->cache_path : NULL, &lv->cache, note, sizeof note, err);
    if (rc == CHASE_OK)
        rc = chase_fetcher_new(run_job, lv, &lv->fetcher, err);
    chase_signal_t *s = rc == CHASE_OK ? calloc(1, sizeof *s) : NULL;
    if (rc == CHASE_OK && !s)
        rc = chase_err_set(err, CHASE_ENOMEM, "out of memory");
    if (rc != CHASE_OK) {
        chase_live_free(lv);
        return rc;
    }
    chase_cache_set_interrupt(lv->cache, chase_fetcher_aborted, lv->fetcher);
    if (note[0] && lv->warn)
        lv->warn(lv->warn_arg, note);
    /* What the cache holds answers from the first query on, before any fetch. */
    double now = ctx->opts->now > 0 ? ctx->opts->now : chase_wall_s();
    for (int kind = 0; kind < CHASE_FETCH_KINDS; kind++) {
        chase_sample_t *rows;
        size_t n;
        if (load_rows(lv, kind, now, &rows, &n) == CHASE_OK)
            chase_fetcher_seed(lv->fetcher, kind, rows, n);
    }
    s->ops = &live_ops;
    s->self = lv;
    s->step_s = step_s;
    if (ctx->prefetch && chase_fetcher_ask(lv->fetcher, CHASE_CACHE_OBSERVED, now, (int64_t)now - 86400,
                                           (int64_t)floor(now) + 1, 0, err) != CHASE_OK) {
        chase_signal_free(s);
        return err ? err->code : CHASE_EIO;
    }
    *out = s;
    return CHASE_OK;
}

int chase_provider_cached(chase_signal_t *s, double now, int64_t since, chase_sample_t *out, size_t cap, size_t *n,
                          chase_err_t *err)
{
    *n = 0;
    if (!s || s->ops != &live_ops)
        return chase_err_set(err, CHASE_ENOTSUP, "not a live provider");
    chase_live_t *lv = s->self;
    chase_fetcher_read(lv->fetcher, CHASE_CACHE_OBSERVED, since, (int64_t)floor(now) + 1, -INFINITY, out, cap, n, NULL);
    return CHASE_OK;
}

const char *chase_provider_name(const chase_signal_t *s)
{
    if (!s || !s->ops)
        return "?";
    if (s->ops == &live_ops)
        return ((const chase_live_t *)s->self)->ops->name;
    return s->ops->name ? s->ops->name : "?";
}
