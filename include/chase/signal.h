/* Carbon-intensity signals behind one interface: trace replay, static value and live APIs, opened from a spec. */
#ifndef CHASE_SIGNAL_H
#define CHASE_SIGNAL_H

#include <stddef.h>
#include <stdint.h>

#include "chase/error.h"
#include "chase/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    CHASE_SAMPLE_STALE = 1,    /* repeated from an older value because the source failed */
    CHASE_SAMPLE_FORECAST = 2, /* a forecast, not an observation */
    CHASE_SAMPLE_FILLED = 4    /* filled into a gap of the source */
};

/* One value: the average CI over [t, t + step_s). */
typedef struct chase_sample {
    int64_t t;
    int64_t step_s;
    double ci;
    int flags;
} chase_sample_t;

/* What a signal implements. `now` is the caller's clock (UTC seconds): a signal returns only what is known then.
 * history: observations with t >= since known at now, oldest first, at most cap (the newest kept).
 * forecast: the source's own forecasts for t in [now, until) (NULL when the source has none).
 * actual: mean CI over [t0, t1) for accounting, once known. */
typedef struct chase_signal_ops {
    const char *name;
    int (*history)(void *self, double now, int64_t since, chase_sample_t *out, size_t cap, size_t *n, chase_err_t *err);
    int (*forecast)(void *self, double now, int64_t until, chase_sample_t *out, size_t cap, size_t *n,
                    chase_err_t *err);
    int (*actual)(void *self, double t0, double t1, double *mean_ci, chase_err_t *err);
    void (*destroy)(void *self);
} chase_signal_ops_t;

typedef struct chase_signal {
    const chase_signal_ops_t *ops;
    void *self;
    int64_t step_s; /* the source's native step */
} chase_signal_t;

/* A signal that replays trace (kept by reference): at time now it knows the samples that ended by now. */
int chase_signal_trace(const chase_trace_t *trace, chase_signal_t **out, chase_err_t *err);

/* How a replayed trace lines up with the caller's clock: trace time = start + (now - origin) * speed.
 * start is rounded down to the trace's step, and speed must turn the step into whole seconds (step_s / speed). */
typedef struct chase_replay {
    int64_t start;  /* trace time that is replayed when the caller's clock reads origin; inside the trace */
    int64_t origin; /* the caller's clock (UTC seconds) at which the replay starts */
    double speed;   /* trace seconds per caller second, > 0 (1: real time) */
} chase_replay_t;

/* Like chase_signal_trace, but replays trace through map (NULL: trace time = now). Sample times, steps and actual()
 * are on the caller's clock. With own = 1 the signal takes trace and frees it (also when this call fails). */
int chase_signal_trace_replay(chase_trace_t *trace, const chase_replay_t *map, int own, chase_signal_t **out,
                              chase_err_t *err);

/* The replay mapping of a trace signal (its own time of a sample at t is map.start + (t - map.origin) * map.speed);
 * CHASE_ENOTSUP when s is not a trace signal. */
int chase_signal_trace_map(const chase_signal_t *s, chase_replay_t *map, chase_err_t *err);

/* A signal that always reports value (g/kWh) with the given step. */
int chase_signal_static(double value, int64_t step_s, chase_signal_t **out, chase_err_t *err);

/* Receives one warning: a line of text without a trailing newline or a "chase:" prefix. A signal calls it only from
 * inside a chase_signal_* call made by its caller, on the caller's thread, never from its fetcher threads. */
typedef void (*chase_warn_fn)(void *arg, const char *msg);

/* Options for chase_signal_open; all zero is a valid choice (default cache, silent, queries never wait). */
typedef struct chase_signal_open_opts {
    const char *cache_path;   /* SQLite cache file for live providers; NULL: $XDG_CACHE_HOME/chase/cache.sqlite */
    double now;               /* the caller's clock at opening (UTC seconds); trace replay starts here */
    chase_warn_fn on_warning; /* warnings (a source falls back, goes stale, a broken cache); NULL: none */
    void *on_warning_arg;
    double wait_s; /* live providers: how long a query may wait for the fetch it starts. 0: never; it answers at
                    * once from memory and the fetch goes on in a worker thread (what a control loop wants).
                    * > 0: at most that long. < 0: until the fetch ends (bounded by the provider's timeout= and
                    * retries=; for one-shot tools). */
} chase_signal_open_opts_t;

/* Opens a signal from a spec: "trace:FILE[,start=TIME][,speed=N][,column=NAME][,lca=1][,max_gap=DURATION]",
 * "static:VALUE[,step=DURATION]", and the live providers "NAME:key=value,..."; a comma-separated list of specs of
 * different providers is a fallback chain. A trace replays from start (default: a week into the trace when it is at
 * least 8 days long, else its first sample) at the caller's opts->now. Errors name the part of the spec at fault
 * (CHASE_EINVAL; file errors keep their own codes) and never quote a credential; a name that is not in the table
 * of sources gives CHASE_EINVAL listing those built in.
 * Live providers fetch in a worker thread per provider, started with every signal blocked (so a caller that takes
 * its signals from a signalfd keeps them); its first fetch of the history starts at once. chase_signal_free stops
 * a fetch under way (within about 0.1 s, even when the API hangs) and joins the thread. */
int chase_signal_open(const char *spec, const chase_signal_open_opts_t *opts, chase_signal_t **out, chase_err_t *err);

/* Copies spec into buf (of size, always NUL-terminated) with the value of every credential key (token=, username=,
 * password=, and any key named like a secret) and any user:password@ in a URL replaced by "***": what a report or a
 * message may show of a spec. CHASE_ERANGE when it was cut to fit (what was copied is still redacted). */
int chase_signal_spec_redact(const char *spec, char *buf, size_t size);

/* What one built-in signal source is: the table that the spec reader, `chase signal --help` and
 * chase_provider_known read. */
typedef struct chase_signal_source {
    const char *name;               /* the spec's NAME, e.g. "ukci" */
    const char *usage;              /* the spec form, e.g. "ukci[:region=1..17|postcode=RG10]" */
    const char *summary;            /* one line: what it is, what it needs */
    const char *const *secret_envs; /* environment variables it reads credentials from, NULL-terminated */
    int live;                       /* 1 for a live API: fetched in the background, cached, wrapped in a chain */
} chase_signal_source_t;

/* The i-th built-in signal source (from 0); NULL past the last. */
const chase_signal_source_t *chase_signal_source(size_t i);

/* The i-th environment variable (from 0) that holds a source's credential (ELECTRICITYMAPS_TOKEN, ...); NULL past the
 * last. A command that chase starts should not inherit them. */
const char *chase_signal_secret_env(size_t i);

/* All of them in out, NULL-terminated (at most cap - 1 names): the list to keep from a child's environment. */
void chase_signal_secret_envs(const char **out, size_t cap);

/* Frees s (NULL is fine). */
void chase_signal_free(chase_signal_t *s);

/* Convenience wrappers over the ops. */
int chase_signal_history(chase_signal_t *s, double now, int64_t since, chase_sample_t *out, size_t cap, size_t *n,
                         chase_err_t *err);
int chase_signal_actual(chase_signal_t *s, double t0, double t1, double *mean_ci, chase_err_t *err);
/* The source's own forecasts for t in [now, until); CHASE_ENOTSUP when the source makes none. */
int chase_signal_forecast(chase_signal_t *s, double now, int64_t until, chase_sample_t *out, size_t cap, size_t *n,
                          chase_err_t *err);

#ifdef __cplusplus
}
#endif
#endif
