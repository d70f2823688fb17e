/* Ring buffer of recent samples indexed by "steps before the last one". */
#include "forecast/history.h"

#include <math.h>
#include <stdlib.h>

#include "chase/error.h"

int chase_hist_init(chase_hist_t *h, size_t cap, int64_t step_s)
{
    h->v = malloc(cap * sizeof *h->v);
    if (!h->v)
        return CHASE_ENOMEM;
    for (size_t i = 0; i < cap; i++)
        h->v[i] = NAN;
    h->cap = cap;
    h->head = cap - 1;
    h->count = 0;
    h->step_s = step_s;
    h->last_t = INT64_MIN;
    return CHASE_OK;
}

void chase_hist_free(chase_hist_t *h)
{
    free(h->v);
    h->v = NULL;
}

long chase_hist_push(chase_hist_t *h, int64_t t, double v)
{
    long steps = 1;
    if (h->last_t != INT64_MIN) {
        int64_t d = (t - h->last_t) / h->step_s;
        steps = d > (int64_t)h->cap + 1 ? (long)h->cap + 1 : (long)d;
        if (steps < 1)
            steps = 1;
    }
    /* Each skipped step is a gap; a jump longer than the ring clears it. */
    for (long i = 1; i < steps; i++) {
        h->head = (h->head + 1) % h->cap;
        h->v[h->head] = NAN;
        if (h->count < h->cap)
            h->count++;
    }
    h->head = (h->head + 1) % h->cap;
    h->v[h->head] = v;
    if (h->count < h->cap)
        h->count++;
    h->last_t = t;
    return steps;
}

double chase_hist_back(const chase_hist_t *h, long k)
{
    if (k < 0 || (size_t)k >= h->count)
        return NAN;
    return h->v[(h->head + h->cap - (size_t)k) % h->cap];
}

long chase_hist_last_real(const chase_hist_t *h, long k)
{
    for (; k >= 0 && (size_t)k < h->count; k++)
        if (!isnan(h->v[(h->head + h->cap - (size_t)k) % h->cap]))
            return k;
    return -1;
}
