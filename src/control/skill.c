/* Online forecast skill by horizon (see skill.h). */
#include "control/skill.h"

#include <math.h>

/* Forgetting: errors older than about two weeks of hourly forecasts fade out. */
#define SKILL_DECAY (1.0 / 336)
#define SKILL_MIN_COUNT 24

void skill_init(skill_t *s)
{
    s->step_s = 0;
    for (size_t i = 0; i < SKILL_SLOTS; i++)
        s->slot_t[i] = INT64_MIN;
    for (size_t j = 0; j < CHASE_FORECAST_MAX_HORIZON; j++)
        s->mse[j] = s->count[j] = s->mean_f[j] = s->mean_a[j] = s->var_f[j] = s->cov_fa[j] = s->var_a[j] = 0;
}

static size_t slot_of(const skill_t *s, int64_t t)
{
    int64_t k = t / s->step_s;
    int64_t m = k % SKILL_SLOTS;
    return (size_t)(m < 0 ? m + SKILL_SLOTS : m);
}

void skill_forecasts(skill_t *s, const double *fc, size_t n, int64_t t0, int64_t step_s)
{
    if (step_s <= 0)
        return;
    if (s->step_s != step_s) {
        skill_init(s);
        s->step_s = step_s;
    }
    for (size_t j = 0; j < n && j < CHASE_FORECAST_MAX_HORIZON; j++) {
        int64_t t = t0 + (int64_t)j * step_s;
        size_t k = slot_of(s, t);
        if (s->slot_t[k] != t) {
            s->slot_t[k] = t;
            for (size_t h = 0; h < CHASE_FORECAST_MAX_HORIZON; h++)
                s->slot_fc[k][h] = NAN;
        }
        s->slot_fc[k][j] = fc[j];
    }
}

void skill_actual(skill_t *s, int64_t t, double ci)
{
    if (s->step_s <= 0 || !isfinite(ci))
        return;
    size_t k = slot_of(s, t);
    if (s->slot_t[k] != t)
        return;
    for (size_t h = 0; h < CHASE_FORECAST_MAX_HORIZON; h++) {
        double f = s->slot_fc[k][h];
        if (!isfinite(f))
            continue;
        double e2 = (f - ci) * (f - ci);
        s->count[h] += 1;
        /* A plain mean at first, then exponential forgetting. */
        double w = fmax(1 / s->count[h], SKILL_DECAY);
        s->mse[h] += w * (e2 - s->mse[h]);
        /* The same weights for the moments of the regression of the actual on the forecast. */
        double df = f - s->mean_f[h], da = ci - s->mean_a[h];
        s->mean_f[h] += w * df;
        s->mean_a[h] += w * da;
        s->var_f[h] = (1 - w) * (s->var_f[h] + w * df * df);
        s->cov_fa[h] = (1 - w) * (s->cov_fa[h] + w * df * da);
        s->var_a[h] = (1 - w) * (s->var_a[h] + w * da * da);
    }
    s->slot_t[k] = INT64_MIN;
}

double skill_rmse(const skill_t *s, size_t j)
{
    if (j >= CHASE_FORECAST_MAX_HORIZON || s->count[j] < SKILL_MIN_COUNT)
        return NAN;
    return sqrt(s->mse[j]);
}

int skill_expect(const skill_t *s, size_t j, double f, double *expect, double *rmse)
{
    *expect = *rmse = NAN;
    if (j >= CHASE_FORECAST_MAX_HORIZON || s->count[j] < SKILL_MIN_COUNT || !isfinite(f))
        return -1;
    /* A forecast that never varied says nothing beyond the mean actual. */
    double slope = s->var_f[j] > 0 ? s->cov_fa[j] / s->var_f[j] : 0;
    double resid = s->var_a[j] - slope * s->cov_fa[j];
    *expect = s->mean_a[j] + slope * (f - s->mean_f[j]);
    *rmse = sqrt(resid > 0 ? resid : 0);
    return 0;
}
