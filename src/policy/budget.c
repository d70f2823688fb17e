/* "budget": chase's own policy. The user states a slowdown budget; the policy minimises carbon within it.
 *
 * It solves, at every period, the same programme as the oracle (lagrange.h) over the time left, with what it can
 * know: the forecast for this period; the forecaster's further samples, each as the distribution of the CI given
 * that forecast, from the record of forecasts at its horizon (kept by the loop); and, for the rest of the time,
 * the distribution of the CI observed over the past two weeks (a sorted window). The price of work mu that
 * finishes the remaining work by the deadline under that model picks this period's vertex; re-solving every period
 * corrects for the model's errors. A guard keeps the job feasible: if after this period the rest could not finish
 * by the deadline at full speed, the period runs faster. Without a known job size it paces the job at the budget's
 * throughput over a rolling day instead. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chase/forecast.h"
#include "policy/lagrange.h"
#include "policy/policies.h"

#define WINDOW_S (14 * 86400.0)
#define PACE_HORIZON_S 86400.0
/* How much of a recalibrated forecast's error variance the plan spreads the sample over (see ahead_load). */
#define SPREAD_SHARE 0.25

/* The CI expected at a forecast sample: centre + spread * (window value - window mean), over seconds secs. */
typedef struct ahead {
    double centre, spread, secs;
} ahead_t;

typedef struct budget {
    double budget_pct;
    int ready;
    lagrange_t lg;
    /* Past CI: values in arrival order (a ring) and the same values sorted. */
    double *ring, *sorted;
    size_t cap, n, head;
    int64_t last_t;
    double mean; /* of the window */
    /* This decision's forecasts beyond the current period, as distributions (see ahead_load). */
    ahead_t ahead[CHASE_FORECAST_MAX_HORIZON];
    size_t n_ahead;
    double mu_prev; /* the last price solved for, where the next search starts */
} budget_t;

static void *budget_create(const chase_policy_params_t *params, const char *arg, chase_err_t *err)
{
    if (arg) {
        chase_err_set(err, CHASE_EINVAL, "policy budget takes no argument; set the budget with --budget");
        return NULL;
    }
    if (!(params->budget_pct >= 0) || !isfinite(params->budget_pct)) {
        chase_err_set(err, CHASE_EINVAL, "policy budget needs a slowdown budget >= 0 %%");
        return NULL;
    }
    budget_t *b = calloc(1, sizeof *b);
    if (b) {
        b->budget_pct = params->budget_pct;
        b->last_t = INT64_MIN;
    }
    return b;
}

/* Index of the first sorted value > v. */
static size_t upper_bound(const double *a, size_t n, double v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a[mid] <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void window_add(budget_t *b, double v)
{
    if (b->n == b->cap) { /* drop the oldest */
        double old = b->ring[b->head];
        size_t i = upper_bound(b->sorted, b->n, old) - 1;
        memmove(b->sorted + i, b->sorted + i + 1, (b->n - i - 1) * sizeof *b->sorted);
        b->n--;
        b->ring[b->head] = v;
        b->head = (b->head + 1) % b->cap;
    } else {
        b->ring[(b->head + b->n) % b->cap] = v;
    }
    size_t i = upper_bound(b->sorted, b->n, v);
    memmove(b->sorted + i + 1, b->sorted + i, (b->n - i) * sizeof *b->sorted);
    b->sorted[i] = v;
    b->n++;
}

/* Takes in the samples of ctx->ci_past newer than those already seen. */
static int window_update(budget_t *b, const chase_policy_ctx_t *ctx)
{
    if (!ctx->ci_past || ctx->n_past == 0 || ctx->ci_past_step_s <= 0)
        return CHASE_OK;
    if (!b->ring) {
        b->cap = (size_t)(WINDOW_S / (double)ctx->ci_past_step_s);
        if (b->cap < 1)
            b->cap = 1;
        b->ring = malloc(b->cap * sizeof *b->ring);
        b->sorted = malloc(b->cap * sizeof *b->sorted);
        if (!b->ring || !b->sorted)
            return CHASE_ENOMEM;
    }
    for (size_t i = 0; i < ctx->n_past; i++) {
        int64_t t = ctx->ci_past_t0 + (int64_t)i * ctx->ci_past_step_s;
        if (t <= b->last_t || isnan(ctx->ci_past[i]))
            continue;
        window_add(b, ctx->ci_past[i]);
        b->last_t = t;
    }
    return CHASE_OK;
}

/* Mean throughput over the window's CI distribution at price mu. */
static double window_mean_x(const budget_t *b, double mu)
{
    const chase_hull_t *h = b->lg.hull;
    double x = h->v[h->n - 1].x;
    for (size_t j = 0; j + 1 < h->n; j++) {
        double s = b->lg.slope[j];
        /* Periods with CI <= mu / slope go at least as fast as vertex j. */
        double frac = s > 0 ? (double)upper_bound(b->sorted, b->n, mu / s) / (double)b->n : 1;
        x += (h->v[j].x - h->v[j + 1].x) * frac;
    }
    return x;
}

/* Work done over the forecast samples at price mu: each sample's CI is its centre plus the window's deviations
 * from its mean scaled by the sample's spread. */
static double ahead_work(const budget_t *b, double mu)
{
    const chase_hull_t *h = b->lg.hull;
    double w = 0;
    for (size_t k = 0; k < b->n_ahead; k++) {
        const ahead_t *a = &b->ahead[k];
        double x = h->v[h->n - 1].x;
        for (size_t j = 0; j + 1 < h->n; j++) {
            double s = b->lg.slope[j], frac = 1;
            if (s > 0) {
                double thr = mu / s; /* periods with CI <= thr go at least as fast as vertex j */
                if (a->spread > 0)
                    frac = (double)upper_bound(b->sorted, b->n, b->mean + (thr - a->centre) / a->spread) / (double)b->n;
                else
                    frac = a->centre <= thr;
            }
            x += (h->v[j].x - h->v[j + 1].x) * frac;
        }
        w += a->secs * x;
    }
    return w;
}

/* Mean and variance of the CI in the window. */
static void window_moments(const budget_t *b, double *mean, double *var)
{
    double m = 0, v = 0;
    for (size_t i = 0; i < b->n; i++)
        m += b->sorted[i];
    m = b->n ? m / (double)b->n : 0;
    for (size_t i = 0; i < b->n; i++)
        v += (b->sorted[i] - m) * (b->sorted[i] - m);
    *mean = m;
    *var = b->n > 1 ? v / (double)(b->n - 1) : 0;
}

/* Takes the forecasts that fall in [from, to) as distributions of the CI given the forecast: a centre, and the
 * window's deviations from its mean scaled by a spread. The loop's recalibration of a forecast on its record (the
 * least-squares line of actuals on forecasts at that horizon) is the centre: a biased or over-reacting forecast is
 * corrected, one with no skill left says the recent mean actual. The spread is SPREAD_SHARE times the line's error
 * variance as a share of the window's variance: the plan reads a sample's spread as variation it can exploit, and
 * much of a forecast's error cannot be, since the period will run on a forecast too. Without a recalibration (a
 * caller that only scores errors), a horizon whose forecasts have explained a share trust = 1 - RMSE^2 / var of the
 * CI's spread is centred at mean + sqrt(trust) * (forecast - mean), spread 1 - trust.
 * On seven of the hardest traces (A40 and V100, chase forecaster, monthly 90-epoch jobs, budgets 1-10 %) this cut
 * the worst gap to the oracle from 0.50 to 0.37 pp and the worst shortfall against static from 0.11 to 0 pp,
 * against trust-weighted point forecasts. SPREAD_SHARE was chosen on aggregate: 0 / 0.25 / 0.5 / 1 / 2 gave worst
 * gaps 0.38 / 0.37 / 0.37 / 0.42 / 0.43 pp (mean 0.142 / 0.141 / 0.143 / 0.157 / 0.170).
 * Returns the seconds covered (the rest of the time is left to the window's distribution). */
static double ahead_load(budget_t *b, const chase_policy_ctx_t *ctx, double from, double to)
{
    double var;
    window_moments(b, &b->mean, &var);
    double cum = 0;
    b->n_ahead = 0;
    for (size_t j = 0; j < ctx->n_ahead && j < CHASE_FORECAST_MAX_HORIZON; j++) {
        double a = (double)ctx->ci_ahead_t0 + (double)j * (double)ctx->ci_ahead_step_s;
        double ov = fmin(a + (double)ctx->ci_ahead_step_s, to) - fmax(a, from);
        double c = ctx->ci_ahead[j];
        if (!(ov > 0) || !isfinite(c))
            continue;
        ahead_t *s = &b->ahead[b->n_ahead++];
        s->secs = ov;
        cum += ov;
        double expect = ctx->ci_ahead_expect ? ctx->ci_ahead_expect[j] : NAN;
        double e_rmse = ctx->ci_ahead_expect_rmse ? ctx->ci_ahead_expect_rmse[j] : NAN;
        if (isfinite(expect) && isfinite(e_rmse) && var > 0) {
            s->centre = expect;
            s->spread = fmin(1, SPREAD_SHARE * e_rmse * e_rmse / var);
            continue;
        }
        double rmse = ctx->ci_ahead_rmse ? ctx->ci_ahead_rmse[j] : NAN;
        double trust = isfinite(rmse) && var > 0 ? fmax(0, 1 - rmse * rmse / var) : 0;
        s->centre = b->mean + sqrt(trust) * (c - b->mean);
        s->spread = 1 - trust;
    }
    return cum;
}

/* Work by the horizon at price mu: this period at its forecast, then the forecast samples, then the rest of the
 * time at the window's distribution. */
static double plan_work(const budget_t *b, double mu, double ci_now, double now_s, double rest_s)
{
    double x_now = ci_now > 0 ? lagrange_x(&b->lg, mu / ci_now) : b->lg.hull->v[0].x;
    return now_s * x_now + ahead_work(b, mu) + rest_s * window_mean_x(b, mu);
}

/* The price of work that finishes work_left by the horizon under the model. The search starts from the last
 * period's price (prices move slowly) and stops at a relative precision of 1e-4, finer than any CI threshold
 * it sets. */
static double solve_mu(budget_t *b, double ci, double now_s, double rest_s, double work_left)
{
    if (plan_work(b, 0, ci, now_s, rest_s) >= work_left)
        return 0;
    double lo = 0, hi = b->mu_prev > 0 ? b->mu_prev : 1;
    while (plan_work(b, hi, ci, now_s, rest_s) < work_left && hi < 1e300) {
        lo = hi;
        hi *= 2;
    }
    if (lo == 0) { /* hi is enough: bracket from below */
        lo = hi / 2;
        while (lo > 1e-300 && plan_work(b, lo, ci, now_s, rest_s) >= work_left) {
            hi = lo;
            lo /= 2;
        }
    }
    for (int it = 0; it < 60 && hi - lo > 1e-4 * hi; it++) {
        double mid = sqrt(lo * hi);
        if (plan_work(b, mid, ci, now_s, rest_s) >= work_left)
            hi = mid;
        else
            lo = mid;
    }
    b->mu_prev = hi;
    return hi;
}

static int budget_decide(void *state, const chase_policy_ctx_t *ctx, chase_setting_t *out, chase_err_t *err)
{
    budget_t *b = state;
    const chase_hull_t *h = ctx->hull;
    if (!b->ready) {
        if (lagrange_init(&b->lg, h))
            return chase_err_set(err, CHASE_ENOMEM, "out of memory");
        b->ready = 1;
    }
    if (window_update(b, ctx) != CHASE_OK)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");

    double x_max = chase_profile_top_throughput(ctx->profile), work_left, time_left;
    int hard = isfinite(ctx->work_total);
    if (hard) {
        double deadline = policy_deadline(ctx->profile, ctx->job_start, ctx->work_total, b->budget_pct);
        work_left = ctx->work_total - ctx->work_done;
        time_left = deadline - ctx->t;
    } else {
        double pace = x_max / (1 + b->budget_pct / 100);
        work_left = pace * (ctx->t - ctx->job_start + PACE_HORIZON_S) - ctx->work_done;
        time_left = PACE_HORIZON_S;
    }
    if (time_left <= 0 || work_left >= time_left * h->v[0].x) {
        policy_setting_single(out, h->v[0].pl_w);
        return CHASE_OK;
    }
    double now_s = fmin(ctx->period_s, time_left), rest_s = time_left - now_s;
    double guard_rest_s = rest_s;
    rest_s -= ahead_load(b, ctx, ctx->t + now_s, ctx->t + time_left);
    double ci = ctx->ci_forecast;
    double x_now;
    if (b->n == 0 || isnan(ci)) {
        /* Nothing known about the grid yet: pace evenly, the carbon-blind optimum. */
        x_now = work_left / time_left;
    } else {
        double mu = solve_mu(b, ci, now_s, rest_s, work_left);
        x_now = ci > 0 ? lagrange_x(&b->lg, mu / ci) : h->v[0].x;
    }
    /* Guard: what this period leaves undone must still fit by the deadline at full speed. */
    if (hard) {
        double x_need = (work_left - guard_rest_s * h->v[0].x) / now_s;
        if (x_need > x_now)
            x_now = x_need;
    }
    lagrange_setting_for_x(h, x_now, out->pl_w, out->share, &out->n);
    return CHASE_OK;
}

static void budget_destroy(void *state)
{
    budget_t *b = state;
    lagrange_free(&b->lg);
    free(b->ring);
    free(b->sorted);
    free(b);
}

const chase_policy_ops_t chase_policy_budget = {
    "budget", "chase's own: least carbon within a slowdown budget (--budget PCT), re-planned every period",
    budget_create, budget_decide, budget_destroy, 1};
