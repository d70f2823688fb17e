/* "fixed:W": one given limit all the time. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "policy/policies.h"

typedef struct fixed {
    double w;
} fixed_t;

static void *fixed_create(const chase_policy_params_t *params, const char *arg, chase_err_t *err)
{
    double w = params ? params->fixed_value : NAN;
    if (arg) {
        char *end;
        errno = 0;
        w = strtod(arg, &end);
        if (end == arg || *end || errno || !isfinite(w) || w <= 0) {
            chase_err_set(err, CHASE_EINVAL, "policy fixed:W needs a power limit in watts (got 'fixed:%s')", arg);
            return NULL;
        }
    }
    if (!(w > 0)) {
        chase_err_set(err, CHASE_EINVAL, "policy fixed needs a limit, e.g. fixed:250");
        return NULL;
    }
    fixed_t *f = malloc(sizeof *f);
    if (f)
        f->w = w;
    return f;
}

static int fixed_decide(void *state, const chase_policy_ctx_t *ctx, chase_decision_t *out, chase_err_t *err)
{
    double w = ((fixed_t *)state)->w, lo = chase_profile_min_setting(ctx->profile), hi = chase_profile_max_setting(ctx->profile);
    if (w < lo || w > hi)
        return chase_err_set(err, CHASE_ERANGE, "fixed limit %g W is outside the profile's %g..%g W", w, lo, hi);
    policy_decision_single(out, w);
    return CHASE_OK;
}

static int fixed_check_range(void *state, double lo, double hi, chase_err_t *err)
{
    double w = ((fixed_t *)state)->w;
    if (w < lo || w > hi)
        return chase_err_set(err, CHASE_ERANGE, "fixed:%g is outside the %g..%g W the GPUs accept", w, lo, hi);
    return CHASE_OK;
}

const chase_policy_ops_t chase_policy_fixed = {
    .name = "fixed",
    .summary = "one given power limit all the time (fixed:W)",
    .create = fixed_create,
    .decide = fixed_decide,
    .destroy = free,
    .forecast_use = CHASE_FORECAST_NONE,
    .needs = 0,
    .check_range = fixed_check_range,
};
