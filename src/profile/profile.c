/* The profile table: allocation, validation and interpolation between measured power limits. */
#include "chase/profile.h"
#include "util/escape.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

chase_profile_t *chase_profile_new(const char *name, size_t n)
{
    chase_profile_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    /* Room for at least one point so that a later fill never needs a NULL check. */
    p->pts = calloc(n ? n : 1, sizeof *p->pts);
    if (!p->pts) {
        free(p);
        return NULL;
    }
    p->n = n;
    snprintf(p->name, sizeof p->name, "%s", name ? name : "");
    return p;
}

void chase_profile_free(chase_profile_t *p)
{
    if (!p)
        return;
    free(p->pts);
    free(p);
}

static int cmp_pl(const void *a, const void *b)
{
    double x = ((const chase_profile_point_t *)a)->setting, y = ((const chase_profile_point_t *)b)->setting;
    return (x > y) - (x < y);
}

static int positive(double v)
{
    return isfinite(v) && v > 0.0;
}

int chase_profile_validate(chase_profile_t *p, chase_err_t *err)
{
    if (!p)
        return chase_err_set(err, CHASE_EINVAL, "profile is NULL");
    char name[sizeof p->name * 4];
    chase_escape(p->name, name, sizeof name);
    if (p->n == 0 || !p->pts)
        return chase_err_set(err, CHASE_EFORMAT, "profile '%s' has no points", name);
    for (size_t i = 0; i < p->n; i++) {
        const chase_profile_point_t *q = &p->pts[i];
        if (!positive(q->setting))
            return chase_err_set(err, CHASE_EFORMAT, "profile '%s': point %zu: power limit must be > 0 W (got %g)",
                                 name, i, q->setting);
        if (!positive(q->throughput))
            return chase_err_set(err, CHASE_EFORMAT,
                                 "profile '%s': point %zu (%g W): throughput must be finite and > 0 (got %g)", name, i,
                                 q->setting, q->throughput);
        if (!positive(q->power_w))
            return chase_err_set(err, CHASE_EFORMAT,
                                 "profile '%s': point %zu (%g W): power must be finite and > 0 W (got %g)", name, i,
                                 q->setting, q->power_w);
    }
    qsort(p->pts, p->n, sizeof *p->pts, cmp_pl);
    for (size_t i = 1; i < p->n; i++)
        if (p->pts[i].setting == p->pts[i - 1].setting)
            return chase_err_set(err, CHASE_EFORMAT, "profile '%s': power limit %g W is measured twice", name,
                                 p->pts[i].setting);
    return CHASE_OK;
}

double chase_profile_min_setting(const chase_profile_t *p)
{
    return p && p->n ? p->pts[0].setting : NAN;
}

double chase_profile_max_setting(const chase_profile_t *p)
{
    return p && p->n ? p->pts[p->n - 1].setting : NAN;
}

int chase_profile_at(const chase_profile_t *p, double value, double *throughput, double *power_w)
{
    if (!p || p->n == 0 || !isfinite(value))
        return CHASE_EINVAL;
    if (value < p->pts[0].setting || value > p->pts[p->n - 1].setting)
        return CHASE_ERANGE;
    size_t lo = 0, hi = p->n - 1; /* the first point at or above value: pts[hi] */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->pts[mid].setting < value)
            lo = mid + 1;
        else
            hi = mid;
    }
    const chase_profile_point_t *b = &p->pts[hi];
    if (b->setting == value) {
        /* A measured limit: return the measurement itself, not a value that went through 1/(1/x). */
        if (throughput)
            *throughput = b->throughput;
        if (power_w)
            *power_w = b->power_w;
        return CHASE_OK;
    }
    /* Interpolate time and energy per unit, not throughput and power: running a fraction of a period at each
     * neighbouring limit mixes times and energies linearly, so this is what a limit between them can at worst give. */
    const chase_profile_point_t *a = &p->pts[hi - 1];
    double f = (value - a->setting) / (b->setting - a->setting);
    double ta = 1.0 / a->throughput, tb = 1.0 / b->throughput;
    double ea = a->power_w * ta, eb = b->power_w * tb;
    double t = ta + f * (tb - ta), e = ea + f * (eb - ea);
    if (throughput)
        *throughput = 1.0 / t;
    if (power_w)
        *power_w = e / t;
    return CHASE_OK;
}

double chase_profile_top_throughput(const chase_profile_t *p)
{
    return p->pts[p->n - 1].throughput;
}
