/* "budget": chase's own policy. The user states a slowdown budget; the policy minimises carbon within it.
 *
 * It solves, at every period, the same programme as the oracle (lagrange.h) over the time left, with what it can
 * know: the forecast for this period; the forecaster's further samples, each weighted by how much of the CI's
 * spread forecasts at that horizon have explained so far (measured by the loop); and, for the rest of the time,
 * the distribution of the CI observed over the past two weeks (a sorted window). The price of work mu that finishes
 * the remaining work by the deadline under that model picks this period's vertex; re-solving every period corrects
 * for the model's errors. A guard keeps the job feasible: if after this period the rest could not finish by the
 * deadline at full speed, the period runs faster. Without a known job size it paces the job at the budget's
 * throughput over a rolling day instead. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chase/forecast.h"
#include "policy/lagrange.h"
#include "policy/policies.h"

#define WINDOW_S (14 * 86400.0)
#define PACE_HORIZON_S 86400.0

typedef struct budget {
    double budget_pct;
    int ready;
    lagrange_t lg;
    /* Past CI: values in arrival order (a ring) and the same values sorted. */
    double *ring, *sorted;
    size_t cap, n, head;
    int64_t last_t;
    /* This decision's forecasts beyond the current period: CI sorted ascending with cumulative seconds. */
    double ahead_ci[CHASE_FORECAST_MAX_HORIZON], ahead_cum_s[CHASE_FORECAST_MAX_HORIZON];
    size_t n_ahead;
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

/* Work done over the forecast samples at price mu. */
static double ahead_work(const budget_t *b, double mu)
{
    if (!b->n_ahead)
        return 0;
    const chase_hull_t *h = b->lg.hull;
    double total = b->ahead_cum_s[b->n_ahead - 1], w = h->v[h->n - 1].x * total;
    for (size_t j = 0; j + 1 < h->n; j++) {
        double s = b->lg.slope[j], secs = total;
        if (s > 0) {
            size_t k = upper_bound(b->ahead_ci, b->n_ahead, mu / s);
            secs = k ? b->ahead_cum_s[k - 1] : 0;
        }
        w += (h->v[j].x - h->v[j + 1].x) * secs;
    }
    return w;
}

/* Variance of the CI in the window. */
static double window_variance(const budget_t *b)
{
    if (b->n < 2)
        return 0;
    double m = 0, v = 0;
    for (size_t i = 0; i < b->n; i++)
        m += b->sorted[i];
    m /= (double)b->n;
    for (size_t i = 0; i < b->n; i++)
        v += (b->sorted[i] - m) * (b->sorted[i] - m);
    return v / (double)(b->n - 1);
}

/* Takes the forecasts that fall in [from, to), sorted by CI with cumulative durations weighted by the trust in
 * their horizon; returns the trusted seconds (the rest of the time is left to the window's distribution). */
static double ahead_load(budget_t *b, const chase_policy_ctx_t *ctx, double from, double to)
{
    double secs[CHASE_FORECAST_MAX_HORIZON];
    double var = window_variance(b);
    b->n_ahead = 0;
    for (size_t j = 0; j < ctx->n_ahead && j < CHASE_FORECAST_MAX_HORIZON; j++) {
        double a = (double)ctx->ci_ahead_t0 + (double)j * (double)ctx->ci_ahead_step_s;
        double ov = fmin(a + (double)ctx->ci_ahead_step_s, to) - fmax(a, from);
        double c = ctx->ci_ahead[j];
        /* Trust a horizon by the share of the CI's spread its forecasts have explained so far. */
        double rmse = ctx->ci_ahead_rmse ? ctx->ci_ahead_rmse[j] : NAN;
        double trust = isfinite(rmse) && var > 0 ? fmax(0, 1 - rmse * rmse / var) : 0;
        ov *= trust;
        if (!(ov > 0) || !isfinite(c))
            continue;
        size_t i = b->n_ahead++;
        while (i > 0 && b->ahead_ci[i - 1] > c) { /* insertion sort: at most 48 values */
            b->ahead_ci[i] = b->ahead_ci[i - 1];
            secs[i] = secs[i - 1];
            i--;
        }
        b->ahead_ci[i] = c;
        secs[i] = ov;
    }
    double cum = 0;
    for (size_t i = 0; i < b->n_ahead; i++)
        b->ahead_cum_s[i] = cum += secs[i];
    return cum;
}

/* Work by the horizon at price mu: this period at its forecast, then the forecast samples, then the rest of the
 * time at the window's distribution. */
static double plan_work(const budget_t *b, double mu, double ci_now, double now_s, double rest_s)
{
    double x_now = ci_now > 0 ? lagrange_x(&b->lg, mu / ci_now) : b->lg.hull->v[0].x;
    return now_s * x_now + ahead_work(b, mu) + rest_s * window_mean_x(b, mu);
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

    double x_max = policy_max_throughput(ctx->profile), work_left, time_left;
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
        double lo = 0, hi = 1;
        if (plan_work(b, 0, ci, now_s, rest_s) >= work_left) {
            hi = 0;
        } else {
            while (plan_work(b, hi, ci, now_s, rest_s) < work_left && hi < 1e300)
                hi *= 4;
            for (int it = 0; it < 100 && hi - lo > 1e-9 * hi; it++) {
                double mid = lo > 0 ? sqrt(lo * hi) : hi / 2;
                if (plan_work(b, mid, ci, now_s, rest_s) >= work_left)
                    hi = mid;
                else
                    lo = mid;
            }
        }
        x_now = ci > 0 ? lagrange_x(&b->lg, hi / ci) : h->v[0].x;
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
