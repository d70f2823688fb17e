/* The per-period Lagrangian choice shared by the budget and oracle policies.
 *
 * Over a fixed horizon, minimising carbon sum_k CI_k * P(p_k) * d_k subject to the work sum_k X(p_k) * d_k = W is a
 * linear programme once limits may be mixed inside a period (the hull). Its dual prices work at mu (grams per unit of
 * work): in each period the best setting minimises CI_k * P(p) - mu * X(p), which depends only on the ratio
 * r = mu / CI_k. On the hull, vertex i (fastest = 0) is optimal when slope(i, i+1) <= r <= slope(i-1, i), where
 * slope(a, b) = (P_a - P_b) / (X_a - X_b) is the power paid per unit of extra throughput. */
#ifndef CHASE_POLICY_LAGRANGE_H
#define CHASE_POLICY_LAGRANGE_H

#include "chase/profile.h"

/* Slopes of the hull's segments, slope[i] between vertices i and i+1 (n-1 values, decreasing with i). */
typedef struct lagrange {
    const chase_hull_t *hull;
    double *slope;
} lagrange_t;

int lagrange_init(lagrange_t *lg, const chase_hull_t *hull);
void lagrange_free(lagrange_t *lg);

/* Index of the optimal vertex for ratio r = mu / CI (the fastest one at ties). */
size_t lagrange_vertex(const lagrange_t *lg, double r);

/* Throughput of the optimal vertex for ratio r. */
double lagrange_x(const lagrange_t *lg, double r);

/* A setting that runs the hull at average throughput x (clamped to the hull): one vertex or two adjacent ones
 * mixed by time share. */
void lagrange_setting_for_x(const chase_hull_t *hull, double x, double value[2], double share[2], int *n);

#endif
