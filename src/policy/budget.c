/* "budget": chase's own policy. The user states a slowdown budget; the policy minimises carbon within it.
 *
 * It solves, at every period, the same programme as the oracle (lagrange.h) over the time left, with what it can
 * know: the forecast for this period; the forecaster's further samples, each as the distribution of the CI given
 * that forecast, from the record of forecasts at its horizon (kept by the loop); and, for the rest of the time,
 * the distribution of the CI observed over the past three weeks (a sorted window). The price of work mu that
 * finishes the remaining work by the deadline under that model picks this period's vertex; re-solving every period
 * corrects for the model's errors. A guard keeps the job feasible: if after this period the rest could not finish
 * by the deadline at full speed, the period runs faster. Without a known job size it paces the job at the budget's
 * throughput over a rolling day instead. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chase/forecast.h"
#include "policy/ci_window.h"
#include "policy/lagrange.h"
#include "policy/policies.h"

/* How much past CI stands for the time beyond the forecasts. Chosen leave-one-grid-out (bench/bench_logo.c): among
 * 7, 10, 14, 21 and 28 days, every one of the 14 grids left out got 21 from the other 13 (timing share 0.805 -> 0.809
 * A40, 0.726 -> 0.731 V100 against 14 days). The loop must pass at least this much past (ci_past) to fill it. */
#define WINDOW_S (21 * 86400.0)
#define PACE_HORIZON_S 86400.0
/* How much of a recalibrated forecast's error variance the plan spreads the sample over (see ahead_load). */
#define SPREAD_SHARE 0.25

/* The CI expected at a forecast sample: centre + spread * (window value - window mean), over seconds secs. */
typedef struct ahead {
    double centre, spread, secs;
    double inv_spread; /* 1 / spread, or 0 for a point forecast */
} ahead_t;

typedef struct budget {
    double budget_pct;
    double spread_share; /* SPREAD_SHARE unless the spec says otherwise ("budget:spread=0.5") */
    int now_expect;      /* this period at the recalibrated expectation of its CI, not the raw forecast */
    int ready;
    lagrange_t lg;
    ci_window_t win; /* the CI of the past WINDOW_S */
    /* This decision's forecasts beyond the current period, as distributions (see ahead_load). */
    ahead_t ahead[CHASE_FORECAST_MAX_HORIZON];
    size_t n_ahead;
    double mu_prev; /* the last price solved for, where the next search starts */
} budget_t;

/* Reads the policy's options, comma separated: "spread=S" (0 <= S <= 4: how much of a forecast's error variance the
 * plan spreads its samples over), "window=D" (1 to 60: days of past CI that stand for the time beyond the
 * forecasts) and "now=forecast|expect" (this period at its raw forecast, the default, or at the recalibrated
 * expectation of its CI, see period_expect). They exist so that benchmarks can choose them on some grids and judge them on others. */
static int parse_options(const char *arg, double *spread, double *window_s, int *now_expect, chase_err_t *err)
{
    const char *p = arg;
    while (*p) {
        char *end;
        if (!strncmp(p, "now=", 4)) {
            size_t len = strcspn(p + 4, ",");
            if (len == 6 && !strncmp(p + 4, "expect", 6))
                *now_expect = 1;
            else if (len == 8 && !strncmp(p + 4, "forecast", 8))
                *now_expect = 0;
            else
                return chase_err_set(err, CHASE_EINVAL, "policy budget: now must be forecast or expect (in '%s')",
                                     arg);
            p += 4 + len;
            p += *p == ',';
            continue;
        }
        double *dst = !strncmp(p, "spread=", 7) ? spread : !strncmp(p, "window=", 7) ? window_s : NULL;
        if (!dst)
            return chase_err_set(err, CHASE_EINVAL, "policy budget takes the options spread=S, window=DAYS and "
                                                    "now=forecast|expect (got '%s'); set the budget with --budget",
                                 arg);
        double v = strtod(p + 7, &end);
        int ok = end != p + 7 && (*end == ',' || !*end);
        if (dst == spread && !(ok && v >= 0 && v <= 4))
            return chase_err_set(err, CHASE_EINVAL, "policy budget: spread must be a number from 0 to 4 (in '%s')",
                                 arg);
        if (dst == window_s && !(ok && v >= 1 && v <= 60))
            return chase_err_set(err, CHASE_EINVAL, "policy budget: window must be 1 to 60 days (in '%s')", arg);
        *dst = dst == window_s ? v * 86400 : v;
        p = *end ? end + 1 : end;
    }
    return CHASE_OK;
}

static void *budget_create(const chase_policy_params_t *params, const char *arg, chase_err_t *err)
{
    double spread = SPREAD_SHARE, window_s = WINDOW_S;
    int now_expect = 0;
    if (arg && parse_options(arg, &spread, &window_s, &now_expect, err) != CHASE_OK)
        return NULL;
    if (!(params->budget_pct >= 0) || !isfinite(params->budget_pct)) {
        chase_err_set(err, CHASE_EINVAL, "policy budget needs a slowdown budget >= 0 %%");
        return NULL;
    }
    budget_t *b = calloc(1, sizeof *b);
    if (b) {
        b->budget_pct = params->budget_pct;
        b->spread_share = spread;
        b->now_expect = now_expect;
        ci_window_init(&b->win, window_s);
    }
    return b;
}

/* Mean throughput over the window's CI distribution at price mu. */
static double window_mean_x(budget_t *b, double mu)
{
    const chase_hull_t *h = b->lg.hull;
    double x = h->v[h->n - 1].x;
    for (size_t j = 0; j + 1 < h->n; j++) {
        double s = b->lg.slope[j];
        /* Periods with CI <= mu / slope go at least as fast as vertex j. */
        double frac = s > 0 ? (double)ci_window_rank(&b->win, mu / s, 0) / (double)b->win.n : 1;
        x += (h->v[j].x - h->v[j + 1].x) * frac;
    }
    return x;
}

/* Work done over the forecast samples at price mu: each sample's CI is its centre plus the window's deviations
 * from its mean scaled by the sample's spread. The thresholds mu / slope[j] increase with j (slopes decrease), so
 * each sample's search in the sorted window starts where the previous segment's ended. */
static double ahead_work(budget_t *b, double mu)
{
    const chase_hull_t *h = b->lg.hull;
    size_t nseg = h->n - 1;
    double w = 0, inv_n = 1.0 / (double)b->win.n;
    for (size_t k = 0; k < b->n_ahead; k++) {
        const ahead_t *a = &b->ahead[k];
        double x = h->v[h->n - 1].x;
        size_t rank = 0;
        for (size_t j = 0; j < nseg; j++) {
            double frac = 1, s = b->lg.slope[j];
            if (s > 0) {
                double thr = mu / s; /* periods with CI <= thr go at least as fast as vertex j */
                if (a->spread > 0) {
                    rank = ci_window_rank(&b->win, b->win.mean + (thr - a->centre) * a->inv_spread, rank);
                    frac = (double)rank * inv_n;
                } else
                    frac = a->centre <= thr;
            }
            x += (h->v[j].x - h->v[j + 1].x) * frac;
        }
        w += a->secs * x;
    }
    return w;
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
    double mean, var;
    ci_window_moments(&b->win, &mean, &var);
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
            s->spread = fmin(1, b->spread_share * e_rmse * e_rmse / var);
        } else {
            double rmse = ctx->ci_ahead_rmse ? ctx->ci_ahead_rmse[j] : NAN;
            double trust = isfinite(rmse) && var > 0 ? fmax(0, 1 - rmse * rmse / var) : 0;
            s->centre = mean + sqrt(trust) * (c - mean);
            s->spread = 1 - trust;
        }
        s->inv_spread = s->spread > 0 ? 1 / s->spread : 0;
    }
    return cum;
}

/* The expected CI of [from, to): the time-weighted mean of the recalibrated forecasts (E[actual | forecast], the
 * loop's least-squares line per horizon) of the samples in it, or NAN when none has a record. The cost of a setting
 * is linear in the CI, so in theory a decision under uncertainty belongs at the CI's conditional mean, not at a
 * forecast that misses what it cannot see. In practice (option now=expect) it gained 0.001 of timing share
 * leave-one-grid-out, and where the record is short or weak it pulls every period towards the mean and the limits
 * stop following the signal (the e2e budget run, 1-s periods on a square wave: 250 W throughout), so the raw
 * forecast stays the default. */
static double period_expect(const chase_policy_ctx_t *ctx, double from, double to)
{
    double sum = 0, w = 0;
    for (size_t j = 0; ctx->ci_ahead_expect && j < ctx->n_ahead && j < CHASE_FORECAST_MAX_HORIZON; j++) {
        double a = (double)ctx->ci_ahead_t0 + (double)j * (double)ctx->ci_ahead_step_s;
        double ov = fmin(a + (double)ctx->ci_ahead_step_s, to) - fmax(a, from);
        if (ov > 0 && isfinite(ctx->ci_ahead_expect[j])) {
            sum += ov * ctx->ci_ahead_expect[j];
            w += ov;
        }
    }
    return w > 0 ? fmax(0, sum / w) : NAN;
}

/* Work by the horizon at price mu: this period at its forecast, then the forecast samples, then the rest of the
 * time at the window's distribution. */
static double plan_work(budget_t *b, double mu, double ci_now, double now_s, double rest_s)
{
    double x_now = ci_now > 0 ? lagrange_x(&b->lg, mu / ci_now) : b->lg.hull->v[0].x;
    return now_s * x_now + ahead_work(b, mu) + rest_s * window_mean_x(b, mu);
}

/* The price of work that finishes work_left by the horizon under the model: the least mu with planned work >=
 * work_left, to a relative precision of 1e-4 (finer than any CI threshold it sets). The planned work is monotone
 * in mu. Prices move slowly, so the search brackets the root from the last period's price outwards, 5 % first,
 * then doubling the step; inside the bracket it interpolates in log mu (regula falsi, with the Illinois halving so
 * that a stuck end still moves, and a bisection whenever that fails to halve the bracket). About 8 evaluations a
 * decision where bisection took 16. *mu_lo receives the bracket's low end and *work_lo the work planned there (NAN
 * when the price is 0 or the bracket has no low end). */
static double solve_mu(budget_t *b, double ci, double now_s, double rest_s, double work_left, double *mu_lo,
                       double *work_lo)
{
    *mu_lo = 0;
    *work_lo = NAN;
    if (plan_work(b, 0, ci, now_s, rest_s) >= work_left)
        return 0;
    double start = b->mu_prev > 0 ? b->mu_prev : 1;
    double g_start = plan_work(b, start, ci, now_s, rest_s) - work_left;
    double lo = start, hi = start, g_lo = g_start, g_hi = g_start, f = 1.05;
    if (g_start >= 0) { /* the root is at or below start */
        do {
            hi = lo;
            g_hi = g_lo;
            lo = hi / f;
            f *= f;
            g_lo = plan_work(b, lo, ci, now_s, rest_s) - work_left;
        } while (g_lo >= 0 && lo > 1e-300);
        if (g_lo >= 0) {
            b->mu_prev = lo;
            return lo;
        }
    } else {
        do {
            lo = hi;
            g_lo = g_hi;
            hi = lo * f;
            f *= f;
            g_hi = plan_work(b, hi, ci, now_s, rest_s) - work_left;
        } while (g_hi < 0 && hi < 1e300);
    }
    /* g_lo < 0 <= g_hi */
    double llo = log(lo), lhi = log(hi), wlo = g_lo, whi = g_hi, g_at_lo = g_lo;
    int kept = 0, bisect = 0; /* kept: the end the last step kept (-1 lo, +1 hi) */
    for (int it = 0; it < 100 && lhi - llo > 1e-4; it++) {
        double width = lhi - llo, mid = 0.5 * (llo + lhi);
        double lm = bisect ? mid : llo + width * -wlo / (whi - wlo);
        if (!(lm > llo && lm < lhi))
            lm = mid;
        double gm = plan_work(b, exp(lm), ci, now_s, rest_s) - work_left;
        if (gm >= 0) {
            lhi = lm;
            whi = gm;
            if (kept == -1)
                wlo *= 0.5;
            kept = -1;
        } else {
            llo = lm;
            wlo = gm;
            g_at_lo = gm;
            if (kept == 1)
                whi *= 0.5;
            kept = 1;
        }
        bisect = lhi - llo > 0.5 * width;
    }
    hi = exp(lhi);
    b->mu_prev = hi;
    *mu_lo = exp(llo);
    *work_lo = g_at_lo + work_left;
    return hi;
}

static int budget_decide(void *state, const chase_policy_ctx_t *ctx, chase_decision_t *out, chase_err_t *err)
{
    budget_t *b = state;
    const chase_hull_t *h = ctx->hull;
    if (!b->ready) {
        if (lagrange_init(&b->lg, h))
            return chase_err_set(err, CHASE_ENOMEM, "out of memory");
        b->ready = 1;
    }
    if (ci_window_update(&b->win, ctx) != CHASE_OK)
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
        policy_decision_single(out, h->v[0].setting);
        return CHASE_OK;
    }
    double now_s = fmin(ctx->period_s, time_left), rest_s = time_left - now_s;
    double guard_rest_s = rest_s;
    rest_s -= ahead_load(b, ctx, ctx->t + now_s, ctx->t + time_left);
    double ci = ctx->ci_forecast;
    if (b->now_expect) {
        double e = period_expect(ctx, ctx->t, ctx->t + now_s);
        if (isfinite(e))
            ci = e;
    }
    double x_now;
    if (b->win.n == 0 || isnan(ci)) {
        /* Nothing known about the grid yet: pace evenly, the carbon-blind optimum. */
        x_now = work_left / time_left;
    } else {
        double mu_lo, work_lo;
        double mu = solve_mu(b, ci, now_s, rest_s, work_left, &mu_lo, &work_lo);
        x_now = ci > 0 ? lagrange_x(&b->lg, mu / ci) : h->v[0].x;
        /* If this period's vertex changes between the price just below and the price found, this period is the
         * plan's marginal one: in the programme's optimum it mixes the two vertices so that the plan does exactly
         * the work left, rather than rounding up to the faster one (the last period of a job, or any period on a
         * flat grid, would otherwise finish early and leave budget unspent). */
        double x_lo = ci > 0 && isfinite(work_lo) ? lagrange_x(&b->lg, mu_lo / ci) : x_now;
        if (x_lo < x_now) {
            double x = x_lo + (work_left - work_lo) / now_s;
            x_now = x < x_lo ? x_lo : x < x_now ? x : x_now;
        }
    }
    /* Guard: what this period leaves undone must still fit by the deadline at full speed. */
    if (hard) {
        double x_need = (work_left - guard_rest_s * h->v[0].x) / now_s;
        if (x_need > x_now)
            x_now = x_need;
    }
    lagrange_setting_for_x(h, x_now, out->value, out->share, &out->n);
    return CHASE_OK;
}

static void budget_destroy(void *state)
{
    budget_t *b = state;
    lagrange_free(&b->lg);
    ci_window_free(&b->win);
    free(b);
}

const chase_policy_ops_t chase_policy_budget = {
    .name = "budget",
    .summary = "chase's own: least carbon within a slowdown budget (--budget PCT), re-planned every period",
    .create = budget_create,
    .decide = budget_decide,
    .destroy = budget_destroy,
    .forecast_use = CHASE_FORECAST_AHEAD,
    .needs = CHASE_POLICY_NEEDS_PROFILE,
};
