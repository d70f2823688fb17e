/* "chase": chase's default forecaster. One small linear model per horizon (direct, not recursive: the 24-step model
 * is trained on what happened 24 steps after each origin), fitted online by exponentially weighted ridge regression.
 *
 * Each model predicts the change from the last value, z(t+k) - z(t), from features known at the origin t:
 *   1; the last two one-step changes (momentum); the value at the target's time of day on the latest past day
 *   relative to now, and how much it changed over the same k steps that day; the 7-day profile (mean without the
 *   week's extremes) at the target's time of day relative to now and to the profile at the origin's time of day;
 *   the value one week before the target relative to now; the mean of the last 24 h and a slow moving average
 *   (7-day half-life) relative to now (mean reversion); the 4-week profile at the target's time of week relative
 *   to now and to the same profile at the origin (the weekly ramp); the first two harmonics of the target's time of
 *   day and of its time of week (the typical change into that hour: weekday mornings, Mondays), with a firmer prior.
 * Lags are counted in steps of the true step, so 30-min and 5-min series get the same features as hourly ones.
 *
 * Weights start at zero, which is persistence; the ridge penalty is worth PRIOR pseudo-samples per feature (scaled
 * by that feature's own spread, so it is unit-free), so the model leaves persistence only as fast as the data
 * justify. Old samples fade with a 60-day half-life so the weights follow seasons. A constant series has all
 * targets zero, hence zero weights, and is forecast exactly. Robustness: a sample far outside the recent error
 * spread gets a Huber weight and a weight of usual level / the higher of origin and actual (capped at 4: the score
 * is a relative error), and
 * features are clipped at CLIP times their typical size.
 * Gaps: a missing value makes the features that need it 0 ("no information") and trains nothing on a missing
 * origin or target. Forecasts from a missing origin start from the last real value. CHASE_ENODATA only when no
 * real value is in the ring (the last 4 weeks and 48 steps).
 * Cost: update O(48 * 20^3) flops, predict O(48 * 20), state 4 weeks of samples plus 48 * 460 doubles. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/history.h"
#include "forecast/models.h"

#define NF_LAGS 12 /* features per horizon built from the past values ... */
#define NF 20      /* ... followed by 8 of the target's time of day and of week */
#define WEEKS 4    /* the time-of-week profile averages this many weeks; the sample ring holds them */
#define HMAX CHASE_FORECAST_MAX_HORIZON
#define HALF_LIFE_S (60.0 * 86400)
#define EW_HALF_LIFE_S (7.0 * 86400)
#define RESID_HALF_LIFE_S (7.0 * 86400)
#define HUBER 1.0   /* errors beyond HUBER times the recent RMS error get weight HUBER * RMS / |error| */
#define PRIOR 100.0 /* ridge strength in pseudo-samples */
/* The ridge strength for the time-of-day and time-of-week terms: 8 intercepts of a typical change need firm
 * evidence, or a short or drifting history fits them to noise. */
#define CAL_PRIOR 1000.0
#define Z80 1.2815515655446004
#define TRIM_MIN 5 /* the 7-day profile drops its extremes when it has at least this many days */
#define CLIP 6.0   /* features are clipped to CLIP times their typical size */

typedef struct horizon_model {
    double a[NF * NF]; /* exponentially weighted sum of x x' */
    double b[NF];      /* ... of x * target */
    double w[NF];
    double neff;   /* ... of 1 */
    double r2, rn; /* weighted squared forecast errors and their weight, for the interval */
    double xs[NF]; /* weighted sum of |x| per feature (with xn: the typical size, for clipping) */
    double xn;
} horizon_model_t;

typedef struct chase_model {
    chase_hist_t val; /* the samples of the last WEEKS weeks */
    chase_hist_t m24; /* mean of the real samples of the 24 h ending at each sample (only HMAX + 2 kept) */
    chase_hist_t ew;  /* slow moving average at each sample (only HMAX + 2 kept) */
    long day;         /* steps per day */
    double sum24;
    long cnt24;
    double ewv;
    double lam, lam_ew, lam_r;
    horizon_model_t hm[HMAX];
} chase_model_t;

static size_t val_cap(int64_t step_s)
{
    return (size_t)(WEEKS * 7 * (86400 / step_s) + HMAX + 2);
}

static void *chase_create(int64_t step_s, const char *options, chase_err_t *err)
{
    if (options && *options) {
        chase_err_set(err, CHASE_EINVAL, "chase takes no options (got '%s')", options);
        return NULL;
    }
    if (86400 % step_s != 0) {
        chase_err_set(err, CHASE_EINVAL, "chase needs a step that divides one day (got %lld s)", (long long)step_s);
        return NULL;
    }
    chase_model_t *m = calloc(1, sizeof *m);
    if (!m) {
        chase_err_set(err, CHASE_ENOMEM, "out of memory");
        return NULL;
    }
    m->day = (long)(86400 / step_s);
    /* The averages are read at origins up to HMAX steps back only. */
    if (chase_hist_init(&m->val, val_cap(step_s), step_s) || chase_hist_init(&m->m24, HMAX + 2, step_s) ||
        chase_hist_init(&m->ew, HMAX + 2, step_s)) {
        chase_hist_free(&m->val);
        chase_hist_free(&m->m24);
        chase_hist_free(&m->ew);
        free(m);
        chase_err_set(err, CHASE_ENOMEM, "out of memory");
        return NULL;
    }
    m->ewv = NAN;
    m->lam = pow(0.5, (double)step_s / HALF_LIFE_S);
    m->lam_ew = pow(0.5, (double)step_s / EW_HALF_LIFE_S);
    m->lam_r = pow(0.5, (double)step_s / RESID_HALF_LIFE_S);
    return m;
}

static double nz(double v)
{
    return isnan(v) ? 0.0 : v;
}

/* Mean of the real values among back(first + i*stride), i = 0..n-1, without the largest and the smallest
 * when there are at least TRIM_MIN: one spike in the last week then does not leak into a week of forecasts at that
 * time of day. NAN when there is no real value. */
static double lag_mean(const chase_hist_t *h, long first, long stride, int n)
{
    double s = 0, lo = INFINITY, hi = -INFINITY;
    int c = 0;
    for (int i = 0; i < n; i++) {
        double v = chase_hist_back(h, first + i * stride);
        if (!isnan(v)) {
            s += v;
            c++;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    }
    if (c >= TRIM_MIN)
        return (s - lo - hi) / (c - 2);
    return c ? s / c : NAN;
}

/* Sine and cosine of the phase of time t in a cycle of period_s seconds. */
static void phase(int64_t t, int64_t period_s, double *s, double *c)
{
    int64_t r = t % period_s;
    double a = 2 * M_PI * (double)(r < 0 ? r + period_s : r) / (double)period_s;
    *s = sin(a);
    *c = cos(a);
}

/* The first two harmonics of the time of day and of the time of week of t: features NF_LAGS.. of every model. */
static void harmonics(int64_t t, double *x)
{
    double sd, cd, sw, cw;
    phase(t, 86400, &sd, &cd);
    phase(t, 7 * 86400, &sw, &cw);
    x[0] = sd;
    x[1] = cd;
    x[2] = 2 * sd * cd;
    x[3] = cd * cd - sd * sd;
    x[4] = sw;
    x[5] = cw;
    x[6] = 2 * sw * cw;
    x[7] = cw * cw - sw * sw;
}

/* Features of the k-step model at the origin o steps before the last sample, whose value is zo, given the
 * harmonics of the target's time (harmonics()). Only samples at or before the origin are read: every lag below is
 * o + (something >= 0). */
static void features(const chase_model_t *m, long o, int k, double zo, const double *harm, double *x)
{
    const chase_hist_t *h = &m->val;
    long d = m->day, wk = 7 * d;
    long k0 = (k + d - 1) / d, kw = (k + wk - 1) / wk;
    double same = chase_hist_back(h, o + k0 * d - k); /* target's time of day, latest past day */
    double prof_target = lag_mean(h, o + k0 * d - k, d, 7);
    double prof_origin = lag_mean(h, o + d, d, 7);
    x[0] = 1.0;
    x[1] = nz(zo - chase_hist_back(h, o + 1));
    x[2] = nz(chase_hist_back(h, o + 1) - chase_hist_back(h, o + 2));
    x[3] = nz(same - zo);
    x[4] = nz(same - chase_hist_back(h, o + k0 * d));
    x[5] = nz(prof_target - zo);
    x[6] = nz(prof_target - prof_origin);
    x[7] = nz(chase_hist_back(h, o + kw * wk - k) - zo);
    x[8] = nz(chase_hist_back(&m->m24, o) - zo);
    x[9] = nz(chase_hist_back(&m->ew, o) - zo);
    /* The time-of-week profile (the last WEEKS weeks at the target's time of week) relative to now and to the same
     * profile at the origin: what the days of the week usually do, less noisy than a single week's lag. */
    double week_target = lag_mean(h, o + kw * wk - k, wk, WEEKS);
    x[10] = nz(week_target - zo);
    x[11] = nz(week_target - lag_mean(h, o + kw * wk, wk, WEEKS));
    /* Time of day and of week of the target, as the first two harmonics of each: the typical change from the
     * origin to the target at that time (a weekday morning's rise, a Monday after a quiet Sunday), which the lags
     * above, all anchored on the origin's own level, can only infer from a single noisy week. Harmonics rather than
     * hour or weekday indicators: they need no time zone (a grid's day starts at its local midnight, not UTC's). */
    memcpy(x + NF_LAGS, harm, (NF - NF_LAGS) * sizeof *x);
}

/* Solves (A + ridge) w = b by Cholesky; leaves w unchanged if the system is not positive definite. */
static void ridge_solve(horizon_model_t *hm)
{
    double l[NF * NF], y[NF];
    memcpy(l, hm->a, sizeof l);
    for (int j = 0; j < NF; j++)
        l[j * NF + j] += (j >= NF_LAGS ? CAL_PRIOR : PRIOR) * hm->a[j * NF + j] / hm->neff + 1e-9;
    for (int j = 0; j < NF; j++) {
        double s = l[j * NF + j];
        for (int p = 0; p < j; p++)
            s -= l[j * NF + p] * l[j * NF + p];
        if (!(s > 0))
            return;
        double r = sqrt(s);
        l[j * NF + j] = r;
        for (int i = j + 1; i < NF; i++) {
            double t = l[i * NF + j];
            for (int p = 0; p < j; p++)
                t -= l[i * NF + p] * l[j * NF + p];
            l[i * NF + j] = t / r;
        }
    }
    for (int i = 0; i < NF; i++) {
        double s = hm->b[i];
        for (int p = 0; p < i; p++)
            s -= l[i * NF + p] * y[p];
        y[i] = s / l[i * NF + i];
    }
    for (int i = NF - 1; i >= 0; i--) {
        double s = y[i];
        for (int p = i + 1; p < NF; p++)
            s -= l[p * NF + i] * hm->w[p];
        hm->w[i] = s / l[i * NF + i];
    }
}

/* Clips each feature to CLIP times its typical size, so that a spike in the inputs (a bad reading, a one-hour
 * outage) moves a forecast by a bounded amount instead of by its weight times the spike. */
static void clip_features(const horizon_model_t *hm, double *x)
{
    if (hm->xn < 24)
        return;
    for (int i = 1; i < NF; i++) {
        double lim = CLIP * hm->xs[i] / hm->xn;
        if (x[i] > lim)
            x[i] = lim;
        else if (x[i] < -lim)
            x[i] = -lim;
    }
}

static double dot(const double *a, const double *b)
{
    double s = 0;
    for (int i = 0; i < NF; i++)
        s += a[i] * b[i];
    return s;
}

/* Appends one sample (possibly NAN) to the three rings, keeping the 24-h window sum. */
static void push_one(chase_model_t *m, int64_t t, double v)
{
    double leaving = chase_hist_back(&m->val, m->day - 1);
    if (!isnan(leaving)) {
        m->sum24 -= leaving;
        m->cnt24--;
    }
    if (!isnan(v)) {
        m->sum24 += v;
        m->cnt24++;
        m->ewv = isnan(m->ewv) ? v : m->lam_ew * m->ewv + (1 - m->lam_ew) * v;
    }
    chase_hist_push(&m->val, t, v);
    chase_hist_push(&m->m24, t, m->cnt24 > 0 ? m->sum24 / m->cnt24 : NAN);
    chase_hist_push(&m->ew, t, m->ewv);
}

static int chase_observe(void *state, int64_t t, double ci)
{
    chase_model_t *m = state;
    int64_t step = m->val.step_s;
    if (m->val.last_t != INT64_MIN) {
        int64_t gap = (t - m->val.last_t) / step;
        if (gap > (int64_t)m->val.cap) { /* longer than the memory: start the rings afresh, keep the weights */
            m->sum24 = 0;
            m->cnt24 = 0;
            m->ewv = NAN;
            m->val.count = m->m24.count = m->ew.count = 0;
            m->val.last_t = m->m24.last_t = m->ew.last_t = INT64_MIN;
        } else {
            for (int64_t s = 1; s < gap; s++)
                push_one(m, m->val.last_t + step, NAN);
        }
    }
    push_one(m, t, ci);
    if (isnan(ci))
        return CHASE_OK;
    /* The sample just observed is the target of every model whose origin lies k steps back. */
    double harm[NF - NF_LAGS];
    harmonics(t, harm);
    for (int k = 1; k <= HMAX; k++) {
        double zo = chase_hist_back(&m->val, k);
        if (isnan(zo))
            continue;
        horizon_model_t *hm = &m->hm[k - 1];
        double x[NF], target = ci - zo;
        features(m, k, k, zo, harm, x);
        for (int i = 0; i < NF; i++)
            hm->xs[i] = m->lam * hm->xs[i] + fabs(x[i]);
        hm->xn = m->lam * hm->xn + 1;
        clip_features(hm, x);
        double e = target - dot(x, hm->w);
        /* Huber weight: a sample far outside the recent error spread counts less, so one spike cannot swing the
         * weights (the scores are relative errors, which a squared loss chasing spikes serves badly). */
        double sd = hm->rn > 0 ? sqrt(hm->r2 / hm->rn) : 0, om = 1;
        if (sd > 0 && fabs(e) > HUBER * sd)
            om = HUBER * sd / fabs(e);
        /* Relative weight: the score is a relative error, so a sample at half the usual level counts double
         * (capped at 4 so that a reading near zero cannot dominate). The level is the higher of the origin's and
         * the target's: weighing by the target alone made every fall from a spike count 50 times its rise, so on a
         * grid near zero with gas peaks the model learnt a negative drift and forecast 0 for hours of a steady
         * 4 g/kWh, and the budget policy ran at full speed into the next peak. Symmetric, the 1-h MAE there fell
         * from 15.9 to 9.7 g/kWh; on the shared traces it trades a little MAPE for MAE (DE 24 h: MAPE 24.8 -> 25.1
         * %, MAE 64.3 -> 62.8), and every grid left out chose it from the other 13 in bench_logo. */
        double lvl = chase_hist_back(&m->ew, 0), hi = fmax(ci, zo);
        if (hi > 0 && lvl > 0)
            om *= fmin(lvl / hi, 4.0);
        hm->r2 = m->lam_r * hm->r2 + e * e;
        hm->rn = m->lam_r * hm->rn + 1;
        for (int i = 0; i < NF; i++) {
            for (int j = 0; j <= i; j++) {
                double v = m->lam * hm->a[i * NF + j] + om * x[i] * x[j];
                hm->a[i * NF + j] = v;
                hm->a[j * NF + i] = v;
            }
            hm->b[i] = m->lam * hm->b[i] + om * x[i] * target;
        }
        hm->neff = m->lam * hm->neff + om;
        /* Re-solved at every sample: solving each horizon only every 3 or 6 h cut the update's cost 2-3 fold but
         * lost 0.003-0.005 of the 24-h MAPE ratio to seasonal (geometric mean over the benchmark's traces). */
        ridge_solve(hm);
    }
    return CHASE_OK;
}

static int chase_predict(void *state, int64_t last_t, int h, double *mean, double *lo, double *hi)
{
    (void)last_t;
    chase_model_t *m = state;
    long real = chase_hist_last_real(&m->val, 0);
    if (real < 0)
        return CHASE_ENODATA;
    double z = chase_hist_back(&m->val, real);
    for (int k = 1; k <= h; k++) {
        const horizon_model_t *hm = &m->hm[k - 1];
        double x[NF], harm[NF - NF_LAGS];
        harmonics(m->val.last_t + (int64_t)k * m->val.step_s, harm);
        features(m, 0, k, z, harm, x);
        clip_features(hm, x);
        double v = z + dot(x, hm->w);
        mean[k - 1] = v > 0 ? v : 0;
        double half = hm->rn >= 24 ? Z80 * sqrt(hm->r2 / hm->rn) : NAN;
        if (lo)
            lo[k - 1] = isnan(half) ? NAN : fmax(0, mean[k - 1] - half);
        if (hi)
            hi[k - 1] = mean[k - 1] + half;
    }
    return CHASE_OK;
}

static void chase_destroy(void *state)
{
    chase_model_t *m = state;
    chase_hist_free(&m->val);
    chase_hist_free(&m->m24);
    chase_hist_free(&m->ew);
    free(m);
}

size_t chase_model_chase_state_bytes(int64_t step_s)
{
    return sizeof(chase_model_t) + (val_cap(step_s) + 2 * (HMAX + 2)) * sizeof(double);
}

const chase_forecaster_ops_t chase_model_chase = {"chase",
                                                  "direct per-horizon ridge regression on recent, daily and weekly "
                                                  "lags and the time of day and week, learnt online (default)",
                                                  chase_create,
                                                  chase_observe,
                                                  chase_predict,
                                                  chase_destroy};
