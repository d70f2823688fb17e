/* The distribution of the carbon intensity over a recent window (a sliding multiset of past samples), with fast
 * rank queries: the budget policy asks "what share of the recent past was at or below v" thousands of times per
 * decision. Everything is kept up to date as each sample comes in and the oldest leaves, so a period costs about the
 * same whatever the window's length (5-minute steps hold 12 times the values of hourly ones). */
#ifndef CHASE_POLICY_CI_WINDOW_H
#define CHASE_POLICY_CI_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "chase/policy.h"

/* A double-double: hi + lo, for sums that values enter and leave without drift. */
typedef struct ci_window_dd {
    double hi, lo;
} ci_window_dd_t;

typedef struct ci_window {
    double span_s;         /* how much of the past it holds */
    double *ring, *sorted; /* the values in arrival order (a ring) and the same values sorted */
    size_t cap, n, head;
    int64_t last_t;        /* time of the newest sample taken in */
    /* Rank index over nb equal buckets of [lo, lo + nb / scale), a range that holds every value:
     * bucket[i] = how many values lie in buckets below i. */
    uint32_t *bucket;
    size_t nb;
    double lo, scale;
    ci_window_dd_t sum, sum2; /* of the values and of their squares */
    double mean, var;         /* of the values, as of the last update */
} ci_window_t;

/* An empty window holding span_s seconds of samples. */
void ci_window_init(ci_window_t *w, double span_s);
void ci_window_free(ci_window_t *w);

/* Takes in the samples of ctx->ci_past newer than those already taken (missing ones are skipped); CHASE_ENOMEM. */
int ci_window_update(ci_window_t *w, const chase_policy_ctx_t *ctx);

/* How many values are <= v. from is a rank already known to hold (every value before it is <= v); pass 0 if none. */
size_t ci_window_rank(const ci_window_t *w, double v, size_t from);

/* Mean and sample variance of the values (0 and 0 when empty, exactly 0 variance when all are equal), to within
 * a unit in the last place whatever values came and went; w->mean holds the mean. */
void ci_window_moments(const ci_window_t *w, double *mean, double *var);

#endif
