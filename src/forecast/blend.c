/* "blend": chase's own model combined, horizon by horizon, with a published forecast (DACF's day-ahead forecast in
 * the shared traces, the carbon source's own forecast in live runs: see forecast.h).
 *
 * Why per horizon: the two are good at different lead times. One hour ahead chase's model, which has just seen the
 * last value, beats a day-ahead forecast made the evening before (3.7 % MAPE against 8.0 % in CISO 2021H2); a day
 * ahead the published forecast, which knows the weather, beats anything learnt from the trace's own past. So for
 * each horizon k the blend learns, from the forecasts it made k steps before each sample, how far to move from
 * chase's forecast c towards the published one p:
 *     forecast = c + a_k * (p - c) + b_k,   a_k in [0, 1],
 * by exponentially weighted least squares on the pairs where both existed (30-day half-life, so a seasonal change in
 * either's skill is followed), with a ridge prior: a_k towards A_PRIOR (worth A_PSEUDO samples) and the bias b_k
 * towards 0 (worth B_PSEUDO samples). Where no published value is known for a target, the forecast is chase's own.
 *
 * What is known when: the forecast made after the sample at t is made at t + step; a published value counts only if
 * the source gives it by then (for a trace column: from 00:00 UTC of the target's own day, see published.c). The
 * forecasts made at each origin are kept (HMAX origins back) so that each horizon's model learns from exactly what
 * it would have said. Cost: chase's update, plus one forecast of HMAX samples per observed sample and HMAX 2x2
 * solves. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/blend.h"
#include "forecast/models.h"

#define HMAX CHASE_FORECAST_MAX_HORIZON
#define HALF_LIFE_S (30.0 * 86400)
#define A_PRIOR 0.5   /* with no record, halfway between the two */
#define A_PSEUDO 24.0 /* ... worth a day of hourly samples */
#define G_PSEUDO 24.0 /* the published forecast's current error, towards no weight */
#define B_PSEUDO 48.0 /* a bias needs firmer evidence than a weight */
#define HUBER 1.0

/* What was forecast at one origin: chase's own and the published values, by horizon, and the published forecast's
 * error on the origin's own sample (0 when unknown). */
typedef struct origin {
    int64_t t; /* INT64_MIN: empty */
    double c[HMAX], p[HMAX];
    double err0;
    int own_ok;
} origin_t;

/* Exponentially weighted sums of one horizon's pairs: x = (p - c, z - p0, 1), e = actual - c, where z is the last
 * value at the origin and p0 the published value for it (its current error, NAN-free: 0 when unknown). */
#define NX 3
typedef struct hsum {
    double sxx[NX * NX], sxe[NX];
    double r2, rn, sy, ny; /* squared residuals and actuals, unweighted, for the robust weights */
    int64_t t;             /* time of the last update (the decay is by time, since far horizons learn once a day) */
    double w[NX];          /* a, g, b */
} hsum_t;

/* The horizon's weights from its sums and the prior weights prior_w: (S + L) w = s + L prior_w with L = diag(pseudo-
 * samples times each feature's typical square, so the prior is unit-free), solved by Gaussian elimination; a is then
 * kept in [0, 1] (the combination stays convex) with the other two refitted. */
static void hsum_solve(hsum_t *s, const double *prior_w)
{
    static const double pseudo[NX] = {A_PSEUDO, G_PSEUDO, B_PSEUDO};
    double n = s->sxx[NX * NX - 1];
    for (int pass = 0; pass < 2; pass++) {
        double m[NX][NX + 1];
        for (int i = 0; i < NX; i++) {
            for (int j = 0; j < NX; j++)
                m[i][j] = s->sxx[i * NX + j];
            double typ = i < NX - 1 && n > 0 && s->sxx[i * NX + i] > 0 ? s->sxx[i * NX + i] / n : 1;
            m[i][i] += pseudo[i] * typ;
            m[i][NX] = s->sxe[i] + pseudo[i] * typ * prior_w[i];
        }
        int first = 0;
        if (pass == 1) { /* a fixed at its bound: move its column to the right-hand side */
            for (int i = 0; i < NX; i++)
                m[i][NX] -= m[i][0] * s->w[0];
            first = 1;
        }
        for (int c = first; c < NX; c++) {
            if (!(fabs(m[c][c]) > 0))
                return;
            for (int r = first; r < NX; r++) {
                if (r == c)
                    continue;
                double f = m[r][c] / m[c][c];
                for (int k = c; k <= NX; k++)
                    m[r][k] -= f * m[c][k];
            }
        }
        for (int c = first; c < NX; c++)
            s->w[c] = m[c][NX] / m[c][c];
        if (pass == 0) {
            if (s->w[0] >= 0 && s->w[0] <= 1)
                return;
            s->w[0] = s->w[0] < 0 ? 0 : 1;
        }
    }
}

/* Adds the pair (x, e) of an actual y. Its weight is robust, as chase's model's are: a pair whose residual under
 * the current weights lies beyond HUBER times the recent residual spread counts as if its residual were on that
 * edge, and a pair at half the usual level counts double (capped at 4): the forecasts are scored by absolute and
 * relative errors, which a squared loss chasing a few wind ramps or spikes serves badly (on DE 2021H2 at 1 h the
 * plain least-squares blend had the better RMSE but a worse MAE than chase's model alone). */
static void hsum_add(hsum_t *s, double lam_per_s, int64_t t, const double *x, double e, double y)
{
    if (s->t != INT64_MIN) {
        double d = exp(lam_per_s * (double)(t - s->t));
        for (int i = 0; i < NX * NX; i++)
            s->sxx[i] *= d;
        for (int i = 0; i < NX; i++)
            s->sxe[i] *= d;
        s->r2 *= d;
        s->rn *= d;
        s->sy *= d;
        s->ny *= d;
    }
    s->t = t;
    double r = e;
    for (int i = 0; i < NX; i++)
        r -= s->w[i] * x[i];
    double sd = s->rn > 0 ? sqrt(s->r2 / s->rn) : 0, w = 1;
    if (sd > 0 && fabs(r) > HUBER * sd)
        w = HUBER * sd / fabs(r);
    double lvl = s->ny > 0 ? s->sy / s->ny : 0;
    if (y > 0 && lvl > 0)
        w *= fmin(lvl / y, 4.0);
    s->r2 += r * r;
    s->rn += 1;
    s->sy += y;
    s->ny += 1;
    for (int i = 0; i < NX; i++) {
        for (int j = 0; j < NX; j++)
            s->sxx[i * NX + j] += w * x[i] * x[j];
        s->sxe[i] += w * x[i] * e;
    }
}

typedef struct blend {
    chase_forecaster_t *own; /* chase's model */
    blend_source_t src;
    int64_t step_s;
    double lam_per_s; /* log of the decay per second */
    origin_t *orig;   /* ring of HMAX + 1 origins, by t / step */
    hsum_t h[HMAX];
} blend_t;

static origin_t *slot(blend_t *b, int64_t t)
{
    int64_t k = t / b->step_s, m = k % (HMAX + 1);
    return &b->orig[m < 0 ? m + HMAX + 1 : m];
}

static int blend_observe(void *state, int64_t t, double ci)
{
    blend_t *b = state;
    int rc = chase_forecaster_observe(b->own, t, ci);
    if (rc != CHASE_OK)
        return rc;
    if (!isnan(ci)) { /* the sample at t is the target of the forecasts made k steps before it */
        for (int k = 1; k <= HMAX; k++) {
            int64_t o = t - (int64_t)k * b->step_s;
            const origin_t *g = slot(b, o);
            double c = g->c[k - 1], p = g->p[k - 1];
            if (g->t == o && g->own_ok && isfinite(c) && isfinite(p)) {
                double x[NX] = {p - c, g->err0, 1};
                hsum_add(&b->h[k - 1], b->lam_per_s, t, x, ci - c, ci);
            }
        }
    }
    /* Each horizon's prior is the next shorter one's weights: far horizons learn once a day (a published value for
     * 20 h ahead exists only for origins before 04:00), and their neighbours' record is the best guess until their
     * own is long enough. The first horizon's prior is halfway between the two forecasts. */
    static const double first_prior[NX] = {A_PRIOR, 0, 0};
    for (int k = 0; k < HMAX; k++)
        hsum_solve(&b->h[k], k ? b->h[k - 1].w : first_prior);
    /* The forecasts made now, after the sample at t, at t + step. */
    origin_t *g = slot(b, t);
    g->t = t;
    g->own_ok = chase_forecaster_predict(b->own, HMAX, g->c, NULL, NULL, NULL) == CHASE_OK;
    int64_t now = t + b->step_s;
    for (int j = 0; j < HMAX; j++)
        g->p[j] = NAN;
    g->err0 = 0;
    if (b->src.get) {
        b->src.get(b->src.arg, now, now, b->step_s, HMAX, g->p);
        double p0;
        b->src.get(b->src.arg, now, t, b->step_s, 1, &p0);
        if (!isnan(ci) && isfinite(p0))
            g->err0 = ci - p0;
    }
    return CHASE_OK;
}

static int blend_predict(void *state, int64_t last_t, int h, double *mean, double *lo, double *hi)
{
    blend_t *b = state;
    const origin_t *g = slot(b, last_t);
    if (g->t != last_t || !g->own_ok)
        return CHASE_ENODATA;
    for (int j = 0; j < h; j++) {
        double c = g->c[j], p = g->p[j], v = c;
        if (isfinite(p))
            v = c + b->h[j].w[0] * (p - c) + b->h[j].w[1] * g->err0 + b->h[j].w[2];
        mean[j] = v > 0 ? v : 0;
        if (lo)
            lo[j] = NAN;
        if (hi)
            hi[j] = NAN;
    }
    return CHASE_OK;
}

static void blend_destroy(void *state)
{
    blend_t *b = state;
    if (b->src.destroy)
        b->src.destroy(b->src.arg);
    chase_forecaster_free(b->own);
    free(b->orig);
    free(b);
}

static void *blend_create_state(int64_t step_s, const blend_source_t *src, chase_err_t *err)
{
    blend_t *b = calloc(1, sizeof *b);
    if (!b) {
        chase_err_set(err, CHASE_ENOMEM, "out of memory");
        goto fail;
    }
    if (chase_forecaster_create("chase", step_s, NULL, &b->own, err) != CHASE_OK)
        goto fail;
    b->orig = malloc((HMAX + 1) * sizeof *b->orig);
    if (!b->orig) {
        chase_err_set(err, CHASE_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i <= HMAX; i++)
        b->orig[i].t = INT64_MIN;
    for (int k = 0; k < HMAX; k++)
        b->h[k] = (hsum_t){.t = INT64_MIN, .w = {A_PRIOR, 0, 0}};
    b->step_s = step_s;
    b->lam_per_s = log(0.5) / HALF_LIFE_S;
    if (src)
        b->src = *src;
    return b;
fail:
    if (src && src->destroy)
        src->destroy(src->arg);
    if (b)
        chase_forecaster_free(b->own);
    free(b);
    return NULL;
}

static void *blend_create(int64_t step_s, const char *options, chase_err_t *err)
{
    if (options && *options) {
        chase_err_set(err, CHASE_EINVAL, "blend takes no options (got '%s')", options);
        return NULL;
    }
    return blend_create_state(step_s, NULL, err);
}

const chase_forecaster_ops_t chase_model_blend = {
    "blend",
    "chase's model blended, horizon by horizon, with a published forecast where one is known (a trace's forecast "
    "column, a live source's forecast); chase's own elsewhere",
    blend_create, blend_observe, blend_predict, blend_destroy};

/* The same blend over a live source's forecasts, under the name users choose it by (--forecaster provider). */
static const chase_forecaster_ops_t provider_ops = {
    "provider",
    "the carbon source's own forecast (Electricity Maps, WattTime, UK CI) blended with chase's model; chase's own "
    "where the source has none",
    NULL, blend_observe, blend_predict, blend_destroy};

int forecaster_create_blend(const blend_source_t *src, int provider, int64_t step_s, chase_forecaster_t **out,
                            chase_err_t *err)
{
    if (step_s <= 0) {
        if (src && src->destroy)
            src->destroy(src->arg);
        return chase_err_set(err, CHASE_EINVAL, "forecaster step must be positive");
    }
    blend_t *b = blend_create_state(step_s, src, err);
    if (!b)
        return err && err->code ? err->code : CHASE_ENOMEM;
    return forecaster_wrap(provider ? &provider_ops : &chase_model_blend, b, step_s, out, err);
}
