/* A forecast tape: one forecaster run once, its forecasts recorded, and replayed to several readers (see forecast.h).
 *
 * Why: a simulation runs several policies on the same trace from the same start, one after the other, and each
 * gives its forecaster exactly the same samples. The default model's online learning is most of a simulation's
 * time, so learning once and replaying what it said is the same answer at a fraction of the cost.
 *
 * Every sample a reader observes is checked against the recording: a reader that is given a different sample than
 * the recording holds gets CHASE_EINVAL from then on and marks the tape diverged, so sharing can never silently
 * change a result. The forecast after each successful observation (all CHASE_FORECAST_MAX_HORIZON samples) is made
 * when that observation is recorded, so a reader can ask for it whenever it likes: a later reader may ask at an
 * origin where the first one did not. Readers get the mean only (no interval): the control loop asks for no more. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chase/forecast.h"
#include "forecast/models.h"
#include "util/grow.h"

#define H CHASE_FORECAST_MAX_HORIZON

typedef struct entry {
    int64_t t;
    double ci;
    int observe_rc; /* what the source said to this sample */
    int predict_rc; /* what it said when asked for the forecast after it (observe_rc == CHASE_OK only) */
} entry_t;

struct chase_forecast_tape {
    chase_forecaster_t *source;
    chase_forecaster_ops_t ops; /* the readers' ops, named after the source */
    entry_t *e;
    double *mean; /* H forecasts per entry */
    size_t n, cap, mean_cap;
    int diverged;
};

typedef struct reader {
    chase_forecast_tape_t *tape;
    size_t pos;     /* entries this reader has observed */
    size_t last_ok; /* 1 + the last entry it observed successfully, 0 before any */
    int broken;
} reader_t;

/* Same sample: the same value, or both missing. */
static int same_ci(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

/* The source observes a new sample; its answer and the forecast after it are recorded. */
static int record(chase_forecast_tape_t *tp, int64_t t, double ci)
{
    entry_t *e = chase_grow(tp->e, &tp->cap, tp->n + 1, sizeof *e, 1024);
    if (!e)
        return CHASE_ENOMEM;
    tp->e = e;
    double *m = chase_grow(tp->mean, &tp->mean_cap, (tp->n + 1) * H, sizeof *m, 1024 * H);
    if (!m)
        return CHASE_ENOMEM;
    tp->mean = m;
    entry_t *x = &tp->e[tp->n];
    x->t = t;
    x->ci = ci;
    x->observe_rc = chase_forecaster_observe(tp->source, t, ci);
    x->predict_rc = CHASE_ENODATA;
    if (x->observe_rc == CHASE_OK)
        x->predict_rc = chase_forecaster_predict(tp->source, H, tp->mean + tp->n * H, NULL, NULL, NULL);
    tp->n++;
    return CHASE_OK;
}

static int reader_observe(void *state, int64_t t, double ci)
{
    reader_t *r = state;
    chase_forecast_tape_t *tp = r->tape;
    if (r->broken)
        return CHASE_EINVAL;
    if (r->pos == tp->n) {
        int rc = record(tp, t, ci);
        if (rc != CHASE_OK)
            return rc;
    } else if (tp->e[r->pos].t != t || !same_ci(tp->e[r->pos].ci, ci)) {
        r->broken = 1;
        tp->diverged = 1;
        return CHASE_EINVAL;
    }
    const entry_t *x = &tp->e[r->pos++];
    if (x->observe_rc == CHASE_OK)
        r->last_ok = r->pos;
    return x->observe_rc;
}

static int reader_predict(void *state, int64_t last_t, int h, double *mean, double *lo, double *hi)
{
    (void)last_t;
    reader_t *r = state;
    if (r->broken)
        return CHASE_EINVAL;
    if (r->last_ok == 0)
        return CHASE_ENODATA;
    size_t k = r->last_ok - 1;
    if (r->tape->e[k].predict_rc != CHASE_OK)
        return r->tape->e[k].predict_rc;
    memcpy(mean, r->tape->mean + k * H, (size_t)h * sizeof *mean);
    for (int i = 0; i < h; i++) {
        if (lo)
            lo[i] = NAN;
        if (hi)
            hi[i] = NAN;
    }
    return CHASE_OK;
}

static void reader_destroy(void *state)
{
    free(state);
}

int chase_forecast_tape_create(chase_forecaster_t *source, chase_forecast_tape_t **out, chase_err_t *err)
{
    if (!source)
        return chase_err_set(err, CHASE_EINVAL, "a forecast tape needs a forecaster");
    if (chase_forecaster_last(source) != INT64_MIN) {
        chase_forecaster_free(source);
        return chase_err_set(err, CHASE_EINVAL, "a forecast tape needs a forecaster that has seen nothing yet");
    }
    chase_forecast_tape_t *tp = calloc(1, sizeof *tp);
    if (!tp) {
        chase_forecaster_free(source);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    tp->source = source;
    tp->ops = (chase_forecaster_ops_t){.name = chase_forecaster_name(source),
                                       .summary = "a recorded forecaster, replayed",
                                       .observe = reader_observe,
                                       .predict = reader_predict,
                                       .destroy = reader_destroy};
    *out = tp;
    return CHASE_OK;
}

int chase_forecast_tape_reader(chase_forecast_tape_t *tape, chase_forecaster_t **out, chase_err_t *err)
{
    reader_t *r = calloc(1, sizeof *r);
    if (!r)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    r->tape = tape;
    return forecaster_wrap(&tape->ops, r, forecaster_step(tape->source), out, err);
}

int chase_forecast_tape_diverged(const chase_forecast_tape_t *tape)
{
    return tape->diverged;
}

void chase_forecast_tape_free(chase_forecast_tape_t *tape)
{
    if (!tape)
        return;
    chase_forecaster_free(tape->source);
    free(tape->e);
    free(tape->mean);
    free(tape);
}
