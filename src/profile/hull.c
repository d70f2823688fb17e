/* The lower convex hull of (time, energy) per unit of work: the limits worth running, alone or mixed in a period.
 *
 * Interpolated limits lie on straight segments between neighbouring measured points in the (T, E) plane, so they are
 * never below the hull of the measured points: the hull of the measurements is the hull of the whole profile. */
#include <math.h>
#include <stdlib.h>

#include "chase/profile.h"

typedef struct te {
    double t, e;
    const chase_profile_point_t *src;
} te_t;

static int cmp_time(const void *a, const void *b)
{
    const te_t *x = a, *y = b;
    if (x->t != y->t)
        return (x->t > y->t) - (x->t < y->t);
    return (x->e > y->e) - (x->e < y->e);
}

/* > 0 when o -> a -> b turns counter-clockwise, i.e. a lies strictly below the chord o-b. */
static double turn(const te_t *o, const te_t *a, const te_t *b)
{
    return (a->t - o->t) * (b->e - o->e) - (a->e - o->e) * (b->t - o->t);
}

int chase_hull_build(const chase_profile_t *p, chase_hull_t *out, chase_err_t *err)
{
    if (!out)
        return chase_err_set(err, CHASE_EINVAL, "hull output is NULL");
    out->n = 0;
    out->v = NULL;
    if (!p || p->n == 0 || !p->pts)
        return chase_err_set(err, CHASE_EINVAL, "cannot build a hull from an empty profile");
    te_t *pt = malloc(p->n * sizeof *pt);
    if (!pt)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory building the hull of '%s'", p->name);
    for (size_t i = 0; i < p->n; i++) {
        const chase_profile_point_t *q = &p->pts[i];
        if (!(isfinite(q->throughput) && q->throughput > 0 && isfinite(q->power_w) && q->power_w > 0)) {
            free(pt);
            return chase_err_set(err, CHASE_EINVAL, "profile '%s': point at %g W has no positive throughput/power",
                                 p->name, q->setting);
        }
        pt[i].t = 1.0 / q->throughput;
        pt[i].e = q->power_w / q->throughput;
        pt[i].src = q;
    }
    qsort(pt, p->n, sizeof *pt, cmp_time);

    /* Pareto filter: walking from fastest to slowest, a point is only worth having if it saves energy over every
     * faster one. Ties in time were sorted by energy, so the cheaper of two equally fast points wins. */
    size_t m = 0;
    for (size_t i = 0; i < p->n; i++)
        if (m == 0 || pt[i].e < pt[m - 1].e)
            pt[m++] = pt[i];

    /* Monotone-chain lower hull over the Pareto points (times increasing, energies decreasing); collinear middle
     * points are dropped because mixing the ends reaches them anyway. */
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        while (k >= 2 && turn(&pt[k - 2], &pt[k - 1], &pt[i]) <= 0)
            k--;
        pt[k++] = pt[i];
    }

    out->v = malloc(k * sizeof *out->v);
    if (!out->v) {
        free(pt);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory building the hull of '%s'", p->name);
    }
    for (size_t i = 0; i < k; i++) {
        chase_hull_vertex_t *v = &out->v[i];
        v->setting = pt[i].src->setting;
        v->t_s = pt[i].t;
        v->e_j = pt[i].e;
        v->x = pt[i].src->throughput;
        v->p_w = pt[i].src->power_w;
    }
    out->n = k;
    free(pt);
    return CHASE_OK;
}

void chase_hull_free(chase_hull_t *h)
{
    if (!h)
        return;
    free(h->v);
    h->v = NULL;
    h->n = 0;
}
