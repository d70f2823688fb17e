/* Replaying a trace as a signal, and its spec "trace:FILE,...". At time now the signal knows exactly the samples
 * that ended by now, so code that reads it cannot look ahead. A replay mapping is applied once, at creation, by
 * relabelling the trace onto the caller's clock (a shallow view sharing the values), so every query below is plain
 * trace arithmetic; the mapping is kept to tell a sample's own time back. */
#include <math.h>
#include <stdlib.h>

#include "chase/signal.h"
#include "chase/timeutil.h"
#include "signal/registry.h"

typedef struct trace_signal {
    chase_trace_t view;   /* the trace on the caller's clock; ci and filled point into the source trace */
    chase_trace_t *owned; /* freed with the signal, or NULL */
    chase_replay_t map;   /* how the view's times map back to the trace's own */
} trace_signal_t;

static int trace_history(void *self, double now, int64_t since, chase_sample_t *out, size_t cap, size_t *n,
                         chase_err_t *err)
{
    (void)err;
    const chase_trace_t *t = &((trace_signal_t *)self)->view;
    /* Samples [0, known) have ended by now: start + (i + 1) * step <= now. */
    double k = floor((now - (double)t->start) / (double)t->step_s);
    size_t known = k <= 0 ? 0 : k >= (double)t->n ? t->n : (size_t)k;
    while (known && (double)(t->start + (int64_t)known * t->step_s) > now)
        known--; /* guard against rounding in the division */
    size_t first = 0;
    if (since > t->start) {
        int64_t f = (since - t->start + t->step_s - 1) / t->step_s; /* first sample starting at or after since */
        first = (size_t)f < known ? (size_t)f : known;
    }
    if (known - first > cap)
        first = known - cap;
    for (size_t i = first; i < known; i++) {
        chase_sample_t *s = &out[i - first];
        s->t = t->start + (int64_t)i * t->step_s;
        s->step_s = t->step_s;
        s->ci = t->ci[i];
        s->flags = t->filled && t->filled[i] ? CHASE_SAMPLE_FILLED : 0;
    }
    *n = known - first;
    return CHASE_OK;
}

static int trace_actual(void *self, double t0, double t1, double *mean_ci, chase_err_t *err)
{
    const chase_trace_t *t = &((trace_signal_t *)self)->view;
    double sum = chase_trace_integral(t, t0, t1);
    if (isnan(sum)) {
        char a[32], b[32], c[32], d[32];
        return chase_err_set(
            err, CHASE_ENODATA, "trace '%s' has no CI for [%s, %s): it covers %s to %s", t->name,
            chase_time_format((int64_t)floor(t0), a, sizeof a), chase_time_format((int64_t)ceil(t1), b, sizeof b),
            chase_time_format(t->start, c, sizeof c), chase_time_format(chase_trace_end(t), d, sizeof d));
    }
    *mean_ci = sum / (t1 - t0);
    return CHASE_OK;
}

static void trace_destroy(void *self)
{
    trace_signal_t *s = self;
    chase_trace_free(s->owned);
    free(s);
}

static const chase_signal_ops_t trace_ops = {"trace", trace_history, NULL, trace_actual, trace_destroy};

int chase_signal_trace_replay(chase_trace_t *trace, const chase_replay_t *map, int own, chase_signal_t **out,
                              chase_err_t *err)
{
    chase_trace_t *owned = own ? trace : NULL;
    int rc = CHASE_OK;
    trace_signal_t *self = NULL;
    chase_signal_t *sig = NULL;
    if (!trace || !out || trace->step_s <= 0 || trace->n == 0) {
        rc = chase_err_set(err, CHASE_EINVAL, "trace signal: missing or empty trace");
        goto fail;
    }
    self = calloc(1, sizeof *self);
    sig = calloc(1, sizeof *sig);
    if (!self || !sig) {
        rc = chase_err_set(err, CHASE_ENOMEM, "out of memory");
        goto fail;
    }
    self->view = *trace;
    self->map = (chase_replay_t){trace->start, trace->start, 1};
    if (map) {
        char a[32], b[32], c[32];
        if (!(map->speed > 0) || !isfinite(map->speed)) {
            rc = chase_err_set(err, CHASE_EINVAL, "trace replay: speed must be a positive number");
            goto fail;
        }
        double step = (double)trace->step_s / map->speed;
        if (step < 1 || fabs(step - round(step)) > 1e-9) {
            rc = chase_err_set(err, CHASE_EINVAL,
                               "trace replay: speed %g turns the trace's %lld s step into %g s; choose a speed that "
                               "gives whole seconds (e.g. 1, 2, 60)",
                               map->speed, (long long)trace->step_s, step);
            goto fail;
        }
        if (map->start < trace->start || map->start >= chase_trace_end(trace)) {
            rc = chase_err_set(err, CHASE_EINVAL, "trace replay: start %s is outside the trace (%s to %s)",
                               chase_time_format(map->start, a, sizeof a), chase_time_format(trace->start, b, sizeof b),
                               chase_time_format(chase_trace_end(trace), c, sizeof c));
            goto fail;
        }
        /* Sample j holds start; it begins at origin on the caller's clock, and sample 0 j steps earlier. */
        int64_t j = (map->start - trace->start) / trace->step_s;
        self->view.step_s = (int64_t)llround(step);
        self->view.start = map->origin - j * self->view.step_s;
        /* The view's sample 0 is the trace's: that pair pins the inverse mapping exactly. */
        self->map = (chase_replay_t){trace->start, self->view.start, map->speed};
    }
    self->owned = owned;
    sig->ops = &trace_ops;
    sig->self = self;
    sig->step_s = self->view.step_s;
    *out = sig;
    return CHASE_OK;
fail:
    free(self);
    free(sig);
    chase_trace_free(owned);
    return rc;
}

int chase_signal_trace(const chase_trace_t *trace, chase_signal_t **out, chase_err_t *err)
{
    /* Not owned, so the const is kept: the signal never writes to the trace. */
    return chase_signal_trace_replay((chase_trace_t *)trace, NULL, 0, out, err);
}

int chase_signal_trace_map(const chase_signal_t *s, chase_replay_t *map, chase_err_t *err)
{
    if (!s || s->ops != &trace_ops)
        return chase_err_set(err, CHASE_ENOTSUP, "not a trace signal");
    const trace_signal_t *ts = s->self;
    *map = ts->map;
    return CHASE_OK;
}

#define WEEK_S (7 * 86400)

/* trace:FILE[,start=TIME][,speed=N][,column=NAME][,lca=1][,max_gap=DURATION] */
int chase_source_trace_open(chase_keys_t *k, const chase_source_ctx_t *ctx, chase_signal_t **out, chase_err_t *err)
{
    const char *path = k->lead, *start_text = chase_keys_get(k, "start"), *speed_text = chase_keys_get(k, "speed");
    if (!path || !*path)
        return chase_err_set(err, CHASE_EINVAL, "trace: missing file name (write trace:FILE.csv)");
    chase_trace_read_opts_t ro = {0};
    int64_t start = 0;
    double speed = 1, max_gap = 0;
    int rc;
    if (start_text && chase_time_parse(start_text, &start, NULL))
        return chase_err_set(err, CHASE_EINVAL, "trace: start='%.60s' is not a UTC time (e.g. 2022-03-01T00:00:00Z)",
                             start_text);
    if ((rc = chase_keys_number(k, "speed", 0, 1e9, &speed, err)) || (rc = chase_keys_bool(k, "lca", &ro.lca, err)) ||
        (rc = chase_keys_duration(k, "max_gap", 1, 366.0 * 86400, &max_gap, err)))
        return rc;
    if (!(speed > 0))
        return chase_err_set(err, CHASE_EINVAL, "trace: speed=%.40s must be greater than 0", speed_text);
    ro.column = chase_keys_get(k, "column");
    ro.max_gap_s = (int64_t)max_gap;
    chase_trace_t *t;
    if ((rc = chase_trace_read_csv(path, &ro, &t, err)))
        return rc;
    if (t->note[0] && ctx->opts && ctx->opts->on_warning) /* e.g. a step that changes part way: said once */
        ctx->opts->on_warning(ctx->opts->on_warning_arg, t->note);
    /* Checked here rather than left to the replay, so the messages quote the spec's own keys. */
    double step = (double)t->step_s / speed;
    if (step < 1 || fabs(step - round(step)) > 1e-9) {
        chase_err_set(err, CHASE_EINVAL,
                      "trace: speed=%.40s turns the trace's %lld s step into %g s; choose a speed that gives whole "
                      "seconds (e.g. 1, 2, 60)",
                      speed_text, (long long)t->step_s, step);
        chase_trace_free(t);
        return CHASE_EINVAL;
    }
    if (start_text && (start < t->start || start >= chase_trace_end(t))) {
        char a[32], b[32];
        chase_err_set(err, CHASE_EINVAL, "trace: start=%.60s is outside %s, which covers %s to %s", start_text, path,
                      chase_time_format(t->start, a, sizeof a), chase_time_format(chase_trace_end(t), b, sizeof b));
        chase_trace_free(t);
        return CHASE_EINVAL;
    }
    /* By default the replay begins a week into the trace, so forecasters have a week of history behind it. */
    chase_replay_t map = {t->start, (int64_t)floor(ctx->opts->now), speed};
    if (start_text)
        map.start = start;
    else if (chase_trace_end(t) - t->start >= WEEK_S + 86400)
        map.start = t->start + WEEK_S;
    return chase_signal_trace_replay(t, &map, 1, out, err);
}
