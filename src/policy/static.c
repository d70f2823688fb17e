/* "static": the single power limit with the least energy per unit of work whose slowdown stays within the budget.
 * It ignores the carbon signal: this is what Zeus's energy optimisation gives, the efficiency part of any saving. */
#include <math.h>
#include <stdlib.h>

#include "policy/policies.h"

typedef struct static_policy {
    double budget_pct;
    double value; /* chosen at the first decision, NAN before */
} static_t;

static void *static_create(const chase_policy_params_t *params, const char *arg, chase_err_t *err)
{
    if (arg) {
        chase_err_set(err, CHASE_EINVAL, "policy static takes no argument; set the budget with --budget");
        return NULL;
    }
    if (!(params->budget_pct >= 0) || !isfinite(params->budget_pct)) {
        chase_err_set(err, CHASE_EINVAL, "policy static needs a slowdown budget >= 0 %%");
        return NULL;
    }
    static_t *s = malloc(sizeof *s);
    if (s) {
        s->budget_pct = params->budget_pct;
        s->value = NAN;
    }
    return s;
}

/* Time and energy per unit at limit w (interpolated like chase_profile_at). */
static void unit_cost(const chase_profile_t *p, double w, double *t, double *e)
{
    double x, pw;
    chase_profile_at(p, w, &x, &pw);
    *t = 1 / x;
    *e = pw / x;
}

double policy_static_limit(const chase_profile_t *p, double budget_pct)
{
    double t_max = 1 / chase_profile_top_throughput(p), t_allowed = t_max * (1 + budget_pct / 100) * (1 + 1e-12);
    double best_w = chase_profile_max_setting(p), best_e = INFINITY;
    for (size_t i = 0; i < p->n; i++) {
        double t, e;
        unit_cost(p, p->pts[i].setting, &t, &e);
        if (t <= t_allowed && e < best_e) {
            best_e = e;
            best_w = p->pts[i].setting;
        }
        if (i + 1 == p->n)
            continue;
        /* Time per unit is linear in the limit between two measured limits: where it meets the budget. */
        double t2, e2, w1 = p->pts[i].setting, w2 = p->pts[i + 1].setting;
        unit_cost(p, w2, &t2, &e2);
        if ((t - t_allowed) * (t2 - t_allowed) < 0) {
            double w = w1 + (w2 - w1) * (t_allowed - t) / (t2 - t);
            double tw, ew;
            unit_cost(p, w, &tw, &ew);
            if (tw <= t_allowed * (1 + 1e-9) && ew < best_e) { /* on the budget, up to rounding */
                best_e = ew;
                best_w = w;
            }
        }
    }
    return best_w;
}

static int static_decide(void *state, const chase_policy_ctx_t *ctx, chase_decision_t *out, chase_err_t *err)
{
    static_t *s = state;
    (void)err;
    if (isnan(s->value))
        s->value = policy_static_limit(ctx->profile, s->budget_pct);
    policy_decision_single(out, s->value);
    return CHASE_OK;
}

const chase_policy_ops_t chase_policy_static = {
    .name = "static",
    .summary = "the one limit with least energy within the slowdown budget, carbon-unaware (what Zeus gives)",
    .create = static_create,
    .decide = static_decide,
    .destroy = free,
    .forecast_use = CHASE_FORECAST_NONE,
    .needs = CHASE_POLICY_NEEDS_PROFILE,
};
