/* What the live providers share: spec keys, the cache-first signal ops, and the HTTP settings. Private to
 * src/signal; each provider_NAME.c supplies only how to fetch its API. */
#ifndef CHASE_SIGNAL_PROVIDER_COMMON_H
#define CHASE_SIGNAL_PROVIDER_COMMON_H

#include <stdio.h>

#include "chase/provider.h"
#include "signal/http.h"

#define CHASE_KEYS_MAX 24

/* The key=value items of one provider's spec, each marked when a reader used it. */
typedef struct chase_keys {
    const char *provider;
    size_t n;
    char *key[CHASE_KEYS_MAX];
    char *value[CHASE_KEYS_MAX];
    int used[CHASE_KEYS_MAX];
    char *store;
} chase_keys_t;

/* Splits "a=1,b=2" (NULL or "" gives none); CHASE_EINVAL for an item without '=' or a repeated key. */
int chase_keys_parse(const char *provider, const char *text, chase_keys_t *k, chase_err_t *err);
void chase_keys_free(chase_keys_t *k);

/* The value of key (marking it used), or NULL. */
const char *chase_keys_get(chase_keys_t *k, const char *key);

/* CHASE_EINVAL naming the first key no reader used, with the list of known keys. */
int chase_keys_check(const chase_keys_t *k, const char *known, chase_err_t *err);

/* The value of a secret: from the environment variable env, else from key (with a warning that the spec shows
 * in process listings). NULL when neither is set. */
const char *chase_keys_secret(chase_keys_t *k, const char *key, const char *env, FILE *log);

/* 1 when s is a code of letters, digits, '-' and '_' shorter than max ("DE", "US-CAL-CISO", "CAISO_NORTH"): safe
 * to put in a URL and a cache key. */
int chase_keys_code_ok(const char *s, size_t max);

/* Reads lat= and lon= as a pair: *given is 0 when neither is there; CHASE_EINVAL for one alone or a bad number. */
int chase_keys_latlon(chase_keys_t *k, double *lat, double *lon, int *given, chase_err_t *err);

typedef struct chase_live chase_live_t;

/* How one provider fetches; kind is CHASE_CACHE_OBSERVED (t in [since, now]) or CHASE_CACHE_FORECAST
 * (t in [now, until)). Writes samples oldest first. */
typedef struct chase_live_ops {
    const char *name;
    int (*fetch)(chase_live_t *lv, int kind, double now, int64_t since, int64_t until, chase_sample_t *out, size_t cap,
                 size_t *n, chase_err_t *err);
    void (*destroy)(void *impl);
} chase_live_ops_t;

struct chase_live {
    const chase_live_ops_t *ops;
    void *impl;
    chase_cache_t *cache;
    char zone[256]; /* cache key for this provider's place and variant, e.g. "DE/lifecycle" */
    char url[512];  /* base URL, no trailing slash */
    chase_http_opts_t http;
    double fresh_s;      /* serve from the cache while the last fetch is younger than this */
    double fail_wait_s;  /* after a failed fetch, do not ask again for this long (quota, rate limits) */
    double last_fail[2]; /* caller's clock at the last failed fetch per kind, or -1 */
    chase_err_t fail_err[2];
    int no_forecast;       /* the API refused forecasts for this account: do not ask again */
    int fetched_history;   /* a full history fetch was made in this process */
    FILE *log;             /* warnings; stderr */
    char cache_path[1024]; /* "" for the default */
};

/* Reads the common keys (url, cache, fresh, timeout, connect_timeout, retries, backoff, retry_wait) into lv, with
 * default_url when url= is absent. */
int chase_live_setup(chase_live_t *lv, chase_keys_t *k, const char *default_url, const chase_signal_open_opts_t *opts,
                     chase_err_t *err);

/* Opens lv's cache and wraps lv (taken over) in a signal with native step step_s. On failure lv is freed. */
int chase_live_signal(chase_live_t *lv, int64_t step_s, chase_signal_t **out, chase_err_t *err);

/* Allocates a provider with a zeroed impl of impl_size bytes behind ops. */
int chase_live_new(const chase_live_ops_t *ops, size_t impl_size, chase_live_t **out, chase_err_t *err);

/* Zeroes then frees size bytes at p: for impls that held credentials. */
void chase_live_wipe(void *p, size_t size);

/* Frees lv and its impl (for open failures before chase_live_signal). */
void chase_live_free(chase_live_t *lv);

/* Appends printf-style text to buf (of size); CHASE_ERANGE when it does not fit. */
int chase_live_append(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Formats t as the API wants in a URL: "2024-01-01T00:00Z" (minute precision) or with seconds. */
void chase_live_time(int64_t t, int seconds, char *buf, size_t size);

/* The provider openers, each given its parsed keys. */
int chase_provider_electricitymaps_open(chase_keys_t *k, const chase_signal_open_opts_t *opts, chase_signal_t **out,
                                        chase_err_t *err);
int chase_provider_watttime_open(chase_keys_t *k, const chase_signal_open_opts_t *opts, chase_signal_t **out,
                                 chase_err_t *err);
int chase_provider_ukci_open(chase_keys_t *k, const chase_signal_open_opts_t *opts, chase_signal_t **out,
                             chase_err_t *err);

#endif
