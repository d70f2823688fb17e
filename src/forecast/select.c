/* "select": per grid and per horizon, online, the forecaster whose forecasts have cost the decisions least lately,
 * among chase's model (blended with a published forecast where one is given), seasonal naive and persistence.
 *
 * Why not by MAPE: what a forecast error costs a power-limit decision is not its size relative to the actual. A
 * period's decision compares the CI with a threshold (the price of work over a hull segment's slope); an error costs
 * nothing when forecast and actual lie on the same side of it, and |actual - threshold| when they do not. The
 * thresholds fall where the CI usually is, so the loss of a forecast f of an actual y is that regret averaged over
 * thresholds drawn like the recent CI:
 *     L(f, y) = mean over the recent CI's quantiles q of [q lies between f and y] * |y - q|,
 * which weighs an error by how many decisions it could flip. Near zero with spikes, MAPE punishes the errors at
 * the bottom (tiny actuals) and a squared error the spikes; this loss does neither: few thresholds lie in a spike's
 * range. The quantiles (NQ of the last 14 days) are refreshed once a day.
 *
 * Each horizon keeps an exponentially weighted mean loss per candidate (14-day half-life) over the forecasts each
 * made that many steps before each sample, and forecasts with the candidate of least loss; chase's model stays
 * unless another's loss is below SWITCH times its own (a switch on noise costs more than it saves). Cost: chase's
 * update plus NC * HMAX * NQ operations per sample. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/blend.h"
#include "forecast/history.h"
#include "forecast/models.h"

#define HMAX CHASE_FORECAST_MAX_HORIZON
#define NC 3  /* candidates: chase (blended), seasonal, persistence */
#define NQ 32 /* thresholds */
#define RECENT_S (14 * 86400)
#define LOSS_HALF_LIFE_S (14.0 * 86400)
#define SWITCH 0.9
#define MIN_WEIGHT 24.0 /* a candidate is judged on at least about a day of its forecasts at that horizon */

typedef struct origin {
    int64_t t; /* INT64_MIN: empty */
    double f[NC][HMAX];
    int ok[NC];
} origin_t;

typedef struct select_state {
    chase_forecaster_t *cand[NC];
    int64_t step_s;
    double lam_per_s;
    origin_t *orig;              /* ring of HMAX + 1 origins */
    double loss[HMAX][NC], w[HMAX][NC];
    int64_t loss_t[HMAX];        /* time of each horizon's last update (decay by time) */
    chase_hist_t recent;         /* the last RECENT_S of samples, for the thresholds */
    double q[NQ];
    int nq;
    int64_t q_day;               /* the day the thresholds were computed */
} select_t;

static origin_t *slot(select_t *s, int64_t t)
{
    int64_t k = t / s->step_s, m = k % (HMAX + 1);
    return &s->orig[m < 0 ? m + HMAX + 1 : m];
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The thresholds: NQ evenly spaced quantiles (mid-points of NQ equal shares) of the recent real samples. */
static void thresholds_refresh(select_t *s)
{
    size_t n = 0;
    double *v = malloc(s->recent.cap * sizeof *v);
    if (!v)
        return;
    for (size_t k = 0; k < s->recent.count; k++) {
        double x = chase_hist_back(&s->recent, (long)k);
        if (!isnan(x))
            v[n++] = x;
    }
    s->nq = 0;
    if (n >= NQ) {
        qsort(v, n, sizeof *v, cmp_dbl);
        for (int i = 0; i < NQ; i++)
            s->q[i] = v[(size_t)(((double)i + 0.5) / NQ * (double)n)];
        s->nq = NQ;
    }
    free(v);
}

/* The decision loss of forecast f for actual y (see the top of the file). */
static double decision_loss(const select_t *s, double f, double y)
{
    double lo = fmin(f, y), hi = fmax(f, y), l = 0;
    for (int i = 0; i < s->nq; i++)
        if (s->q[i] > lo && s->q[i] <= hi)
            l += fabs(y - s->q[i]);
    return l / NQ;
}

static int select_observe(void *state, int64_t t, double ci)
{
    select_t *s = state;
    for (int c = 0; c < NC; c++) {
        int rc = chase_forecaster_observe(s->cand[c], t, ci);
        if (rc != CHASE_OK)
            return rc;
    }
    chase_hist_push(&s->recent, t, ci);
    int64_t day = t / 86400;
    if (day != s->q_day || s->nq == 0) {
        thresholds_refresh(s);
        s->q_day = day;
    }
    if (!isnan(ci) && s->nq) { /* score the forecasts made k steps before this sample */
        for (int k = 1; k <= HMAX; k++) {
            int64_t o = t - (int64_t)k * s->step_s;
            const origin_t *g = slot(s, o);
            if (g->t != o)
                continue;
            if (s->loss_t[k - 1] != INT64_MIN) {
                double d = exp(s->lam_per_s * (double)(t - s->loss_t[k - 1]));
                for (int c = 0; c < NC; c++) {
                    s->loss[k - 1][c] *= d;
                    s->w[k - 1][c] *= d;
                }
            }
            s->loss_t[k - 1] = t;
            for (int c = 0; c < NC; c++) {
                if (!g->ok[c])
                    continue;
                s->loss[k - 1][c] += decision_loss(s, g->f[c][k - 1], ci);
                s->w[k - 1][c] += 1;
            }
        }
    }
    origin_t *g = slot(s, t);
    g->t = t;
    for (int c = 0; c < NC; c++)
        g->ok[c] = chase_forecaster_predict(s->cand[c], HMAX, g->f[c], NULL, NULL, NULL) == CHASE_OK;
    return CHASE_OK;
}

/* The candidate for horizon j: chase's model unless another, judged on enough forecasts, lost clearly less. */
static int choose(const select_t *s, const origin_t *g, int j)
{
    int best = 0;
    if (s->w[j][0] < MIN_WEIGHT)
        return 0;
    double best_l = s->loss[j][0] / s->w[j][0];
    for (int c = 1; c < NC; c++) {
        if (!g->ok[c] || s->w[j][c] < MIN_WEIGHT)
            continue;
        double l = s->loss[j][c] / s->w[j][c];
        if (l < SWITCH * best_l) {
            best = c;
            best_l = l;
        }
    }
    return best;
}

static int select_predict(void *state, int64_t last_t, int h, double *mean, double *lo, double *hi)
{
    select_t *s = state;
    const origin_t *g = slot(s, last_t);
    if (g->t != last_t || !g->ok[0])
        return CHASE_ENODATA;
    for (int j = 0; j < h; j++) {
        mean[j] = g->f[choose(s, g, j)][j];
        if (lo)
            lo[j] = NAN;
        if (hi)
            hi[j] = NAN;
    }
    return CHASE_OK;
}

static void select_destroy(void *state)
{
    select_t *s = state;
    for (int c = 0; c < NC; c++)
        chase_forecaster_free(s->cand[c]);
    chase_hist_free(&s->recent);
    free(s->orig);
    free(s);
}

/* The state over chase's model blended with published (NULL: none). */
static select_t *select_new(const chase_trace_t *published, int64_t step_s, chase_err_t *err)
{
    select_t *s = calloc(1, sizeof *s);
    if (!s) {
        chase_err_set(err, CHASE_ENOMEM, "out of memory");
        return NULL;
    }
    s->step_s = step_s;
    s->lam_per_s = log(0.5) / LOSS_HALF_LIFE_S;
    s->q_day = INT64_MIN;
    for (int k = 0; k < HMAX; k++)
        s->loss_t[k] = INT64_MIN;
    int rc = chase_forecaster_create_blend(published, step_s, &s->cand[0], err);
    if (rc == CHASE_OK)
        rc = chase_forecaster_create("seasonal", step_s, NULL, &s->cand[1], err);
    if (rc == CHASE_OK)
        rc = chase_forecaster_create("persistence", step_s, NULL, &s->cand[2], err);
    s->orig = malloc((HMAX + 1) * sizeof *s->orig);
    if (rc == CHASE_OK && (!s->orig || chase_hist_init(&s->recent, (size_t)(RECENT_S / step_s) + 1, step_s)))
        rc = chase_err_set(err, CHASE_ENOMEM, "out of memory");
    if (rc != CHASE_OK) {
        select_destroy(s);
        return NULL;
    }
    for (int i = 0; i <= HMAX; i++)
        s->orig[i].t = INT64_MIN;
    return s;
}

static void *select_create(int64_t step_s, const char *options, chase_err_t *err)
{
    if (options && *options) {
        chase_err_set(err, CHASE_EINVAL, "select takes no options (got '%s')", options);
        return NULL;
    }
    return select_new(NULL, step_s, err);
}

const chase_forecaster_ops_t chase_model_select = {
    "select",
    "per horizon, the forecaster whose recent forecasts cost the power-limit decisions least (chase, blended with a "
    "published forecast where one is given; seasonal; persistence)",
    select_create, select_observe, select_predict, select_destroy};

int chase_forecaster_create_select(const chase_trace_t *published, int64_t step_s, chase_forecaster_t **out,
                                   chase_err_t *err)
{
    if (step_s <= 0)
        return chase_err_set(err, CHASE_EINVAL, "forecaster step must be positive");
    select_t *s = select_new(published, step_s, err);
    if (!s)
        return err && err->code ? err->code : CHASE_ENOMEM;
    return forecaster_wrap(&chase_model_select, s, step_s, out, err);
}
