/* "chase": the paper's Eq. 6 (Yang et al., 2023). At the start of each period, with the forecast CI,
 *   p* = argmin_p [eta * P(p) * CI + (1 - eta) * MaxPower * MaxCI] / X(p).
 * The cost is linear in energy and time per unit of work, so its minimum over all limits lies on a measured limit;
 * the measured limits are searched. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "policy/policies.h"

typedef struct chase_paper {
    double eta, max_power_w, max_ci;
    int max_ci_given; /* MaxCI came from the user, not from the 24 h before the job */
    int decided;
} chase_paper_t;

static void *chase_create(const chase_policy_params_t *params, const char *arg, chase_err_t *err)
{
    if (arg) {
        chase_err_set(err, CHASE_EINVAL, "policy chase takes no argument; use --eta, --max-power, --max-ci");
        return NULL;
    }
    if (!(params->eta >= 0 && params->eta <= 1)) {
        chase_err_set(err, CHASE_EINVAL, "--eta must be between 0 and 1 (got %g)", params->eta);
        return NULL;
    }
    if (!isnan(params->max_power_w) && !(params->max_power_w > 0 && isfinite(params->max_power_w))) {
        chase_err_set(err, CHASE_EINVAL, "--max-power must be positive (got %g)", params->max_power_w);
        return NULL;
    }
    if (!isnan(params->max_ci) && !(params->max_ci > 0 && isfinite(params->max_ci))) {
        chase_err_set(err, CHASE_EINVAL, "--max-ci must be positive (got %g)", params->max_ci);
        return NULL;
    }
    chase_paper_t *c = malloc(sizeof *c);
    if (c) {
        c->eta = params->eta;
        c->max_power_w = params->max_power_w;
        c->max_ci = params->max_ci;
        c->max_ci_given = !isnan(params->max_ci);
        c->decided = 0;
    }
    return c;
}

/* Highest CI of the 24 h before the job started, from the history the loop passes in. */
static double max_ci_before(const chase_policy_ctx_t *ctx)
{
    double m = NAN;
    for (size_t i = 0; i < ctx->n_past; i++) {
        double t = (double)ctx->ci_past_t0 + (double)i * (double)ctx->ci_past_step_s;
        if (t < ctx->job_start - 86400 || t >= ctx->job_start || isnan(ctx->ci_past[i]))
            continue;
        if (isnan(m) || ctx->ci_past[i] > m)
            m = ctx->ci_past[i];
    }
    return m;
}

static int chase_decide(void *state, const chase_policy_ctx_t *ctx, chase_decision_t *out, chase_err_t *err)
{
    chase_paper_t *c = state;
    const chase_profile_t *p = ctx->profile;
    (void)err;
    if (isnan(c->max_power_w))
        c->max_power_w = chase_profile_max_setting(p);
    if (isnan(c->max_ci))
        c->max_ci = max_ci_before(ctx);
    c->decided = 1;
    double ci = ctx->ci_forecast;
    if (isnan(ci) || isnan(c->max_ci)) { /* nothing known yet: run at full speed */
        policy_decision_single(out, chase_profile_max_setting(p));
        return CHASE_OK;
    }
    double best = INFINITY, best_w = chase_profile_max_setting(p);
    for (size_t i = p->n; i-- > 0;) {
        const chase_profile_point_t *pt = &p->pts[i];
        double cost = (c->eta * pt->power_w * ci + (1 - c->eta) * c->max_power_w * c->max_ci) / pt->throughput;
        if (cost < best) {
            best = cost;
            best_w = pt->setting;
        }
    }
    policy_decision_single(out, best_w);
    return CHASE_OK;
}

static void chase_describe(const void *state, chase_policy_info_t *out)
{
    const chase_paper_t *c = state;
    out->n = 3;
    out->v[0].key = "eta";
    out->v[0].value = c->eta;
    out->v[1].key = "max_power_w";
    out->v[1].value = c->max_power_w;
    out->v[2].key = "max_ci_g_per_kwh";
    out->v[2].value = c->max_ci;
    if (!c->decided)
        return;
    if (c->max_ci_given)
        snprintf(out->note, sizeof out->note, "MaxCI %g g/kWh, as given", c->max_ci);
    else if (isnan(c->max_ci)) {
        snprintf(out->note, sizeof out->note,
                 "no CI is known for the 24 h before the job, so MaxCI (their highest CI) is unknown and policy chase "
                 "runs at the top limit, like max: give MaxCI (--max-ci) or a signal with a day of history");
        out->warn = 1;
    } else
        snprintf(out->note, sizeof out->note, "MaxCI %.1f g/kWh: the highest CI of the 24 h before the job",
                 c->max_ci);
}

const chase_policy_ops_t chase_policy_chase = {
    .name = "chase",
    .summary = "the paper's Eq. 6: weighs carbon (eta) against time at MaxPower and MaxCI, per period",
    .create = chase_create,
    .decide = chase_decide,
    .destroy = free,
    .forecast_use = CHASE_FORECAST_PERIOD,
    .needs = CHASE_POLICY_NEEDS_PROFILE,
    .describe = chase_describe,
};
