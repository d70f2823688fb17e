/* "oracle": the offline optimum with perfect knowledge of the trace under the same slowdown budget.
 *
 * With the deadline D fixed by the budget, choosing a point on the hull per period is a linear programme
 * (lagrange.h): one price of work mu for the whole job. The price is found by bisection so that the work done by D
 * equals the job; the periods whose choice flips at that price are mixed so the job lands exactly on D.
 * No online policy choosing from the same hull can use less carbon by D (up to CI varying inside a period). */
#include <math.h>
#include <stdlib.h>

#include "policy/lagrange.h"
#include "policy/policies.h"

typedef struct oracle {
    double budget_pct;
    const chase_trace_t *truth;
    int planned;
    lagrange_t lg;
    double start, period_s;
    size_t n;
    chase_decision_t *plan;
} oracle_t;

static void *oracle_create(const chase_policy_params_t *params, const char *arg, chase_err_t *err)
{
    if (arg) {
        chase_err_set(err, CHASE_EINVAL, "policy oracle takes no argument; set the budget with --budget");
        return NULL;
    }
    if (!params->truth) {
        chase_err_set(err, CHASE_EINVAL, "policy oracle needs the whole trace: it exists only in simulations");
        return NULL;
    }
    if (!(params->budget_pct >= 0) || !isfinite(params->budget_pct)) {
        chase_err_set(err, CHASE_EINVAL, "policy oracle needs a slowdown budget >= 0 %%");
        return NULL;
    }
    oracle_t *o = calloc(1, sizeof *o);
    if (o) {
        o->budget_pct = params->budget_pct;
        o->truth = params->truth;
    }
    return o;
}

/* Work done by the deadline when every period takes its best vertex at price mu. */
static double work_at(const oracle_t *o, const double *ci, const double *len, double mu)
{
    double w = 0;
    for (size_t k = 0; k < o->n; k++)
        w += len[k] * lagrange_x(&o->lg, ci[k] > 0 ? mu / ci[k] : INFINITY);
    return w;
}

static int oracle_plan(oracle_t *o, const chase_policy_ctx_t *ctx, chase_err_t *err)
{
    const chase_hull_t *h = ctx->hull;
    double W = ctx->work_total;
    if (!isfinite(W) || W <= 0)
        return chase_err_set(err, CHASE_EINVAL, "policy oracle needs a job of known size");
    if (lagrange_init(&o->lg, h))
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    o->start = ctx->job_start;
    o->period_s = ctx->period_s;
    double D = policy_deadline(ctx->profile, o->start, W, o->budget_pct);
    o->n = (size_t)ceil((D - o->start) / o->period_s - 1e-9);
    if (o->n == 0)
        o->n = 1;
    double *ci = malloc(o->n * sizeof *ci), *len = malloc(o->n * sizeof *len);
    o->plan = malloc(o->n * sizeof *o->plan);
    if (!ci || !len || !o->plan) {
        free(ci);
        free(len);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    int rc = CHASE_OK;
    for (size_t k = 0; k < o->n; k++) {
        double a = o->start + (double)k * o->period_s, b = fmin(a + o->period_s, D);
        len[k] = b - a;
        ci[k] = chase_trace_integral(o->truth, a, b) / len[k];
        if (isnan(ci[k])) {
            rc = chase_err_set(err, CHASE_ENODATA, "the trace ends before the job's deadline under a %g %% budget",
                               o->budget_pct);
            goto out;
        }
    }
    size_t slow = h->n - 1;
    if (work_at(o, ci, len, 0) >= W) { /* even the most efficient point finishes in time */
        for (size_t k = 0; k < o->n; k++)
            policy_decision_single(&o->plan[k], h->v[slow].setting);
        goto out;
    }
    double lo = 0, hi = 1;
    while (work_at(o, ci, len, hi) < W && hi < 1e300)
        hi *= 4;
    for (int it = 0; it < 200 && hi - lo > 1e-12 * hi; it++) {
        double mid = lo > 0 ? sqrt(lo * hi) : hi / 2;
        if (work_at(o, ci, len, mid) >= W)
            hi = mid;
        else
            lo = mid;
    }
    double w_lo = work_at(o, ci, len, lo), w_hi = work_at(o, ci, len, hi);
    double theta = w_hi > w_lo ? (W - w_lo) / (w_hi - w_lo) : 1;
    theta = fmin(1, fmax(0, theta));
    for (size_t k = 0; k < o->n; k++) {
        double r_lo = ci[k] > 0 ? lo / ci[k] : INFINITY, r_hi = ci[k] > 0 ? hi / ci[k] : INFINITY;
        size_t a = lagrange_vertex(&o->lg, r_hi), b = lagrange_vertex(&o->lg, r_lo);
        chase_decision_t *s = &o->plan[k];
        if (a == b || theta >= 1) {
            policy_decision_single(s, h->v[a].setting);
        } else if (theta <= 0) {
            policy_decision_single(s, h->v[b].setting);
        } else {
            s->n = 2;
            s->value[0] = h->v[a].setting;
            s->share[0] = theta;
            s->value[1] = h->v[b].setting;
            s->share[1] = 1 - theta;
        }
    }
out:
    free(ci);
    free(len);
    return rc;
}

static int oracle_decide(void *state, const chase_policy_ctx_t *ctx, chase_decision_t *out, chase_err_t *err)
{
    oracle_t *o = state;
    if (!o->planned) {
        int rc = oracle_plan(o, ctx, err);
        if (rc != CHASE_OK)
            return rc;
        o->planned = 1;
    }
    double k = floor((ctx->t - o->start) / o->period_s + 0.5);
    if (k >= 0 && k < (double)o->n)
        *out = o->plan[(size_t)k];
    else /* past the plan (rounding at the very end): finish at full speed */
        policy_decision_single(out, ctx->hull->v[0].setting);
    return CHASE_OK;
}

static void oracle_destroy(void *state)
{
    oracle_t *o = state;
    lagrange_free(&o->lg);
    free(o->plan);
    free(o);
}

const chase_policy_ops_t chase_policy_oracle = {
    .name = "oracle",
    .summary = "the offline optimum knowing the whole trace, under the same budget (the bound; simulation only)",
    .create = oracle_create,
    .decide = oracle_decide,
    .destroy = oracle_destroy,
    .forecast_use = CHASE_FORECAST_NONE,
    .needs = CHASE_POLICY_NEEDS_PROFILE | CHASE_POLICY_NEEDS_TRUTH,
};
