/* What the live providers share: their common spec keys, the cache, and the signal ops that answer from memory
 * while a worker thread fetches. Private to src/signal; each provider_NAME.c supplies only how to fetch its API,
 * and names no other provider. */
#ifndef CHASE_SIGNAL_PROVIDER_COMMON_H
#define CHASE_SIGNAL_PROVIDER_COMMON_H

#include "chase/provider.h"
#include "signal/fetcher.h"
#include "signal/http.h"
#include "signal/keys.h"
#include "signal/registry.h"

/* The keys every live provider reads (chase_live_setup), as the registry lists them. */
#define CHASE_LIVE_KEYS "url, cache, fresh, timeout, connect_timeout, retries, backoff, retry_wait"

typedef struct chase_live chase_live_t;

/* How one provider fetches; kind is CHASE_CACHE_OBSERVED (t in [since, now]) or CHASE_CACHE_FORECAST
 * (t in [now, until)). Writes samples oldest first. Runs on the fetcher's thread. */
typedef struct chase_live_ops {
    const char *name;
    int (*fetch)(chase_live_t *lv, int kind, double now, int64_t since, int64_t until, chase_sample_t *out, size_t cap,
                 size_t *n, chase_err_t *err);
    void (*destroy)(void *impl);
} chase_live_ops_t;

/* One live provider. Three kinds of fields, by who may touch them once the signal is open. */
struct chase_live {
    /* Set while opening, then only read. */
    const chase_live_ops_t *ops;
    char zone[256];     /* cache key for this provider's place and variant, e.g. "DE/lifecycle" */
    char url[512];      /* base URL, no trailing slash */
    double fresh_s;     /* serve from the cache while the last fetch is younger than this */
    double fail_wait_s; /* after a failed fetch, do not ask again for this long (quota, rate limits) */
    double wait_s;      /* how long a query waits for the fetch it starts (< 0: until it ends) */
    chase_warn_fn warn; /* the caller's warning sink (called on the caller's thread only) */
    void *warn_arg;
    char cache_path[1024]; /* "" for the default */
    chase_fetcher_t *fetcher;
    /* The fetcher's thread only (before it starts: the opener). */
    void *impl;
    chase_cache_t *cache;
    chase_http_opts_t http;
    double last_fail[2]; /* caller's clock at the end of the last failed fetch per kind, or -1 */
    chase_err_t fail_err[2];
    int fetched_history; /* a full history fetch was made in this process */
    /* The caller's thread only. */
    int no_forecast; /* the API refused forecasts for this account: do not ask again */
};

/* Reads the common keys (CHASE_LIVE_KEYS) into lv, with default_url when url= is absent, and takes the warning sink
 * and the wait from ctx. */
int chase_live_setup(chase_live_t *lv, chase_keys_t *k, const char *default_url, const chase_source_ctx_t *ctx,
                     chase_err_t *err);

/* Opens lv's cache (a broken one degrades, with a warning), loads what it holds into memory, and wraps lv (taken
 * over) in a signal with native step step_s whose fetches run in a worker thread. On failure lv is freed. */
int chase_live_signal(chase_live_t *lv, int64_t step_s, const chase_source_ctx_t *ctx, chase_signal_t **out,
                      chase_err_t *err);

/* Allocates a provider with a zeroed impl of impl_size bytes behind ops. */
int chase_live_new(const chase_live_ops_t *ops, size_t impl_size, chase_live_t **out, chase_err_t *err);

/* Zeroes then frees size bytes at p: for impls that held credentials. */
void chase_live_wipe(void *p, size_t size);

/* Frees lv and its impl (for open failures before chase_live_signal). */
void chase_live_free(chase_live_t *lv);

/* A warning from a fetch (fetcher's thread): queued and handed to the caller's sink at its next query. */
void chase_live_warn(chase_live_t *lv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends printf-style text to buf (of size); CHASE_ERANGE when it does not fit. */
int chase_live_append(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Formats t as the API wants in a URL: "2024-01-01T00:00Z" (minute precision) or with seconds. */
void chase_live_time(int64_t t, int seconds, char *buf, size_t size);

#endif
