/* Live carbon-intensity providers (Electricity Maps, WattTime, UK Carbon Intensity), the SQLite cache they share,
 * the pure parsers of their JSON answers, and the fallback chain that keeps a signal alive when they fail. */
#ifndef CHASE_PROVIDER_H
#define CHASE_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "chase/error.h"
#include "chase/signal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* WattTime reports MOER in lbs CO2 per MWh; 1 lb/MWh = 0.453592 g/kWh. */
#define CHASE_LBS_PER_MWH_TO_G_PER_KWH 0.453592

/* Highest carbon intensity a parser accepts (g/kWh); the dirtiest grids stay under 1,200. */
#define CHASE_CI_MAX 5000.0

/* ---- Parsers: pure functions from an answer's body text to samples (for tests and fuzzing, no I/O). ---- */

/* What a parser noticed besides the samples. */
typedef struct chase_parse_info {
    size_t skipped;       /* points dropped: null, negative, too large, or with a bad time */
    char first_skip[160]; /* why the first one was dropped */
    char zone[64];        /* the zone or region the answer names ("" when none) */
    int64_t step_s;       /* the step the answer states or implies (0: unknown) */
} chase_parse_info_t;

/* Each parser reads body (len bytes, need not end in NUL) and writes its samples oldest first, without duplicate
 * times, at most cap (the newest kept), each with `flags` or'ed in. CHASE_EFORMAT names what is malformed;
 * CHASE_ENODATA when the answer is well formed but holds no usable point (then info says why). */

/* Electricity Maps v3 carbon-intensity: /latest (one object), /history ("history": [...]), /forecast
 * ("forecast": [...]); fields datetime and carbonIntensity (g/kWh). */
int chase_parse_electricitymaps(const char *body, size_t len, int flags, chase_sample_t *out, size_t cap, size_t *n,
                                chase_parse_info_t *info, chase_err_t *err);

/* WattTime v3 /v3/historical, /v3/forecast and /v3/signal-index: "data": [{point_time, value}], "meta": {units,
 * data_point_period_seconds, region}. Values in lbs_co2_per_mwh are converted to g/kWh; g/kWh-like units
 * (kg_co2_per_mwh, g_co2_per_kwh) are kept; any other unit (e.g. "percentile" from signal-index) is CHASE_EFORMAT. */
int chase_parse_watttime(const char *body, size_t len, int flags, chase_sample_t *out, size_t cap, size_t *n,
                         chase_parse_info_t *info, chase_err_t *err);

/* WattTime /login answer {"token": "..."}: copies the token (never printed) into buf. */
int chase_parse_watttime_token(const char *body, size_t len, char *buf, size_t size, chase_err_t *err);

/* WattTime /v3/region-from-loc answer {"region": "CAISO_NORTH", ...}: copies the region into buf. */
int chase_parse_watttime_region(const char *body, size_t len, char *buf, size_t size, chase_err_t *err);

/* UK Carbon Intensity API (national /intensity..., regional /regional/regionid/ID, /regional/postcode/PC and their
 * fw48h forms): periods {from, to, intensity: {forecast, actual, index}} at any depth under "data". When actual is
 * null (or absent, as in regional answers), the forecast is used and the sample flagged CHASE_SAMPLE_FORECAST. */
int chase_parse_ukci(const char *body, size_t len, int flags, chase_sample_t *out, size_t cap, size_t *n,
                     chase_parse_info_t *info, chase_err_t *err);

/* ---- Cache: every observation and forecast fetched, in SQLite, shared by processes. ---- */

typedef struct chase_cache chase_cache_t;

enum { CHASE_CACHE_OBSERVED = 0, CHASE_CACHE_FORECAST = 1 };

/* Writes the default cache path ($XDG_CACHE_HOME/chase/cache.sqlite, else $HOME/.cache/chase/cache.sqlite). */
int chase_cache_default_path(char *buf, size_t size, chase_err_t *err);

/* Opens (creating it and its folder) the cache at path, or at the default path when path is NULL. WAL mode and a
 * busy timeout make it safe for several processes at once. CHASE_EFORMAT when the file is not an SQLite database,
 * CHASE_EPERM when it can only be read (read-only, another user's), CHASE_EIO for other failures. */
int chase_cache_open(const char *path, chase_cache_t **out, chase_err_t *err);

/* Like chase_cache_open, but a broken cache never stops the caller: a file that is not a database is moved aside
 * (to PATH.corrupt-YYYYMMDDTHHMMSSZ, with its -wal and -shm) and a new one started; any other failure (a read-only
 * or root-owned file or folder, no HOME) gives an in-memory cache for this process. note (of note_size) says what
 * was done, in one line, or is "" when the file opened. Fails only when out of memory. */
int chase_cache_open_or_memory(const char *path, chase_cache_t **out, char *note, size_t note_size, chase_err_t *err);

/* Makes waits for another process's lock on c end early once stop(arg) answers non-zero (NULL: never). */
void chase_cache_set_interrupt(chase_cache_t *c, int (*stop)(void *arg), void *arg);

/* Closes c (NULL is fine). */
void chase_cache_close(chase_cache_t *c);

/* Stores n samples of one (provider, zone, kind) in one transaction and records fetched_at as that key's last
 * fetch. A newer value replaces an older one for the same time, except that a forecast-based stand-in
 * (CHASE_SAMPLE_FORECAST) never replaces a real observation. */
int chase_cache_put(chase_cache_t *c, const char *provider, const char *zone, int kind, const chase_sample_t *s,
                    size_t n, double fetched_at, chase_err_t *err);

/* Reads the samples with t in [t0, t1), oldest first, at most cap (the newest kept). */
int chase_cache_get(chase_cache_t *c, const char *provider, const char *zone, int kind, int64_t t0, int64_t t1,
                    chase_sample_t *out, size_t cap, size_t *n, chase_err_t *err);

/* When (provider, zone, kind) was last fetched; CHASE_ENODATA if never. */
int chase_cache_last_fetch(chase_cache_t *c, const char *provider, const char *zone, int kind, double *fetched_at,
                           chase_err_t *err);

/* ---- Providers ---- */

/* 1 when name is a live provider in the table of sources (chase_signal_source): "electricitymaps", "watttime",
 * "ukci". */
int chase_provider_known(const char *name);

/* Opens live provider name with its keys ("zone=DE,emission=direct", may be "" or NULL), alone (not in a chain).
 * Keys common to all: url= (base URL), cache= (SQLite file; else opts->cache_path, else the default), fresh= (serve
 * from the cache while the last fetch is younger: default 5m), timeout= (per request, default 20s), retries=
 * (default 3). Unknown keys and missing credentials are CHASE_EINVAL / CHASE_EAUTH naming the key or the variable
 * to set. Its fetches run in a worker thread like chase_signal_open's, but each query waits for the fetch it starts
 * (opts->wait_s is not read) and nothing is fetched before the first query: for tests and one-shot tools. */
int chase_provider_open(const char *name, const char *keys, const chase_signal_open_opts_t *opts, chase_signal_t **out,
                        chase_err_t *err);

/* The observations live provider signal s holds in memory (what its cache held at opening, the last 15 days, and
 * what it fetched since) with t in [since, now], without fetching or waiting; CHASE_ENOTSUP when s is not a live
 * provider. */
int chase_provider_cached(chase_signal_t *s, double now, int64_t since, chase_sample_t *out, size_t cap, size_t *n,
                          chase_err_t *err);

/* The provider's name for a live signal ("ukci"), else the signal's ops name; "?" for NULL. */
const char *chase_provider_name(const chase_signal_t *s);

/* ---- Fallback chain ---- */

/* A signal over members (taken over, freed with it) tried in order. When all fail, the newest good value carries
 * on flagged CHASE_SAMPLE_STALE; once no member has answered for max_stale_s, history reports CHASE_ENODATA so the
 * control loop falls back to its safe policy; before any member has answered it says there is no data yet. Each
 * change (another source, stale, no data, back) is said once through warn (NULL: silent). */
int chase_signal_fallback(chase_signal_t **members, size_t n, double max_stale_s, chase_warn_fn warn, void *warn_arg,
                          chase_signal_t **out, chase_err_t *err);

/* Name of the source that gave chain s its last history ("electricitymaps"), the last good one while stale, or
 * NULL when none has answered yet or s is not a chain. */
const char *chase_signal_fallback_source(const chase_signal_t *s);

/* Opens one member of a chain: name is the provider, keys its comma-separated keys ("" when none). */
typedef int (*chase_signal_open_one_fn)(const char *name, const char *keys, const chase_signal_open_opts_t *opts,
                                        chase_signal_t **out, chase_err_t *err);

/* Splits spec into providers and opens each with open_one. An item starts a new provider when it is a bare name
 * ("ukci") or begins "name:" with no '=' before the ':' ("electricitymaps:zone=DE", "trace:FILE"); other items
 * ("key=value") belong to the provider before them. The key max_stale=DURATION (default 2h) may follow any
 * provider and sets the chain's. A single live provider is still wrapped in a chain so stale handling applies;
 * a single trace or static signal is returned as opened. The chain's warnings go to opts->on_warning. */
int chase_signal_open_chain(const char *spec, const chase_signal_open_opts_t *opts, chase_signal_open_one_fn open_one,
                            chase_signal_t **out, chase_err_t *err);

#ifdef __cplusplus
}
#endif
#endif
