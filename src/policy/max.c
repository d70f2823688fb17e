/* "max": the GPU's top limit all the time; the baseline every saving is measured against. */
#include <stdlib.h>

#include "policy/policies.h"

static void *max_create(const chase_policy_params_t *params, const char *arg, chase_err_t *err)
{
    (void)params;
    if (arg) {
        chase_err_set(err, CHASE_EINVAL, "policy max takes no argument (got 'max:%s')", arg);
        return NULL;
    }
    return malloc(1);
}

static int max_decide(void *state, const chase_policy_ctx_t *ctx, chase_decision_t *out, chase_err_t *err)
{
    (void)state;
    (void)err;
    policy_decision_single(out, chase_profile_max_setting(ctx->profile));
    return CHASE_OK;
}

const chase_policy_ops_t chase_policy_max = {
    .name = "max",
    .summary = "the GPU's top power limit all the time (the baseline)",
    .create = max_create,
    .decide = max_decide,
    .destroy = free,
    .forecast_use = CHASE_FORECAST_NONE,
    .needs = 0,
};
