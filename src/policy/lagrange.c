/* The per-period Lagrangian choice on the hull (see lagrange.h). */
#include "policy/lagrange.h"

#include <stdlib.h>

int lagrange_init(lagrange_t *lg, const chase_hull_t *hull)
{
    lg->hull = hull;
    lg->slope = NULL;
    if (hull->n < 2)
        return 0;
    lg->slope = malloc((hull->n - 1) * sizeof *lg->slope);
    if (!lg->slope)
        return -1;
    for (size_t i = 0; i + 1 < hull->n; i++) {
        const chase_hull_vertex_t *a = &hull->v[i], *b = &hull->v[i + 1];
        lg->slope[i] = (a->p_w - b->p_w) / (a->x - b->x);
    }
    return 0;
}

void lagrange_free(lagrange_t *lg)
{
    free(lg->slope);
    lg->slope = NULL;
}

size_t lagrange_vertex(const lagrange_t *lg, double r)
{
    size_t i = lg->hull->n - 1;
    /* Go faster while the extra throughput is worth its power at price r. */
    while (i > 0 && lg->slope[i - 1] <= r)
        i--;
    return i;
}

double lagrange_x(const lagrange_t *lg, double r) { return lg->hull->v[lagrange_vertex(lg, r)].x; }

void lagrange_setting_for_x(const chase_hull_t *hull, double x, double value[2], double share[2], int *n)
{
    const chase_hull_vertex_t *v = hull->v;
    size_t last = hull->n - 1;
    if (x >= v[0].x || hull->n == 1) {
        value[0] = v[0].setting;
        share[0] = 1;
        *n = 1;
        return;
    }
    if (x <= v[last].x) {
        value[0] = v[last].setting;
        share[0] = 1;
        *n = 1;
        return;
    }
    size_t i = 0;
    while (i < last && v[i + 1].x >= x)
        i++;
    /* v[i].x >= x > v[i+1].x: time share s on the faster vertex gives s*x_i + (1-s)*x_{i+1} = x. */
    double s = (x - v[i + 1].x) / (v[i].x - v[i + 1].x);
    if (s >= 1 - 1e-12) {
        value[0] = v[i].setting;
        share[0] = 1;
        *n = 1;
        return;
    }
    value[0] = v[i].setting;
    share[0] = s;
    value[1] = v[i + 1].setting;
    share[1] = 1 - s;
    *n = 2;
}
