/* The policy handle: parses "name[:arg]" specs and dispatches to the registered policies. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policies.h"

struct chase_policy {
    const chase_policy_ops_t *ops;
    void *state;
    char name[64];
};

static const chase_policy_ops_t *const policies[] = {
    &chase_policy_max, &chase_policy_fixed, &chase_policy_static, &chase_policy_chase,
    &chase_policy_budget, &chase_policy_oracle, NULL,
};

const chase_policy_ops_t *const *chase_policy_list(void) { return policies; }

void chase_policy_params_init(chase_policy_params_t *params)
{
    params->eta = 0.5;
    params->max_power_w = NAN;
    params->max_ci = NAN;
    params->budget_pct = 2.5;
    params->fixed_value = NAN;
    params->truth = NULL;
}

int chase_policy_create(const char *spec, const chase_policy_params_t *params, chase_policy_t **out,
                        chase_err_t *err)
{
    const char *colon = strchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
    for (const chase_policy_ops_t *const *p = policies; *p; p++) {
        if (strlen((*p)->name) != len || strncmp((*p)->name, spec, len) != 0)
            continue;
        chase_policy_t *pol = calloc(1, sizeof *pol);
        if (!pol)
            return chase_err_set(err, CHASE_ENOMEM, "out of memory");
        chase_err_clear(err);
        pol->ops = *p;
        pol->state = (*p)->create(params, colon ? colon + 1 : NULL, err);
        if (!pol->state) {
            free(pol);
            return err && err->code ? err->code : CHASE_ENOMEM;
        }
        snprintf(pol->name, sizeof pol->name, "%s", spec);
        *out = pol;
        return CHASE_OK;
    }
    return chase_err_set(err, CHASE_ENOTFOUND,
                         "unknown policy '%s' (choose from max, fixed:W, static, chase, budget, oracle)", spec);
}

void chase_policy_free(chase_policy_t *p)
{
    if (!p)
        return;
    p->ops->destroy(p->state);
    free(p);
}

const char *chase_policy_name(const chase_policy_t *p) { return p->name; }

int chase_policy_uses_ahead(const chase_policy_t *p) { return p->ops->forecast_use == CHASE_FORECAST_AHEAD; }

chase_forecast_use_t chase_policy_forecast_use(const chase_policy_t *p) { return p->ops->forecast_use; }

unsigned chase_policy_needs(const chase_policy_t *p) { return p->ops->needs; }

void chase_policy_describe(const chase_policy_t *p, chase_policy_info_t *out)
{
    memset(out, 0, sizeof *out);
    if (p->ops->describe)
        p->ops->describe(p->state, out);
}

int chase_policy_check_range(const chase_policy_t *p, double lo, double hi, chase_err_t *err)
{
    return p->ops->check_range ? p->ops->check_range(p->state, lo, hi, err) : CHASE_OK;
}

int chase_policy_decide(chase_policy_t *p, const chase_policy_ctx_t *ctx, chase_decision_t *out, chase_err_t *err)
{
    int rc = p->ops->decide(p->state, ctx, out, err);
    if (rc != CHASE_OK)
        return rc;
    out->knob = ctx->profile->knob;
    if (out->n < 1 || out->n > 2)
        return chase_err_set(err, CHASE_ESTATE, "policy %s returned %d limits", p->name, out->n);
    double sum = 0;
    for (int i = 0; i < out->n; i++) {
        if (!(out->share[i] >= 0) || !isfinite(out->value[i]))
            return chase_err_set(err, CHASE_ESTATE, "policy %s returned an invalid setting", p->name);
        sum += out->share[i];
    }
    if (fabs(sum - 1) > 1e-9)
        return chase_err_set(err, CHASE_ESTATE, "policy %s returned shares adding up to %g", p->name, sum);
    return CHASE_OK;
}

void policy_decision_single(chase_decision_t *out, double value)
{
    out->n = 1;
    out->value[0] = value;
    out->share[0] = 1;
    out->value[1] = 0;
    out->share[1] = 0;
}


double policy_deadline(const chase_profile_t *profile, double start, double work, double budget_pct)
{
    return start + (1 + budget_pct / 100) * work / chase_profile_top_throughput(profile);
}
