/* The recent CI distribution (see ci_window.h). Adding a sample keeps the sorted copy sorted (one memmove); the
 * moments and the rank index are recomputed once after the window changes, not per decision or query. Rank
 * queries use an index of equal-width buckets over the value range, rebuilt after the window changes (once per
 * sample, while the queries come by the thousand per decision), so a query is one multiplication and a scan of
 * about one bucket, instead of a binary search whose branches the processor cannot predict. */
#include "policy/ci_window.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ci_window_init(ci_window_t *w, double span_s)
{
    memset(w, 0, sizeof *w);
    w->span_s = span_s;
    w->last_t = INT64_MIN;
}

void ci_window_free(ci_window_t *w)
{
    free(w->ring);
    free(w->sorted);
    free(w->bucket);
    w->ring = w->sorted = NULL;
    w->bucket = NULL;
}

/* Index of the first sorted value > v, searching [lo, n). */
static size_t upper_bound(const double *a, size_t lo, size_t n, double v)
{
    size_t hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a[mid] <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void add(ci_window_t *w, double v)
{
    if (w->n == w->cap) { /* drop the oldest */
        double old = w->ring[w->head];
        size_t i = upper_bound(w->sorted, 0, w->n, old) - 1;
        memmove(w->sorted + i, w->sorted + i + 1, (w->n - i - 1) * sizeof *w->sorted);
        w->n--;
        w->ring[w->head] = v;
        w->head = (w->head + 1) % w->cap;
    } else {
        w->ring[(w->head + w->n) % w->cap] = v;
    }
    size_t i = upper_bound(w->sorted, 0, w->n, v);
    memmove(w->sorted + i + 1, w->sorted + i, (w->n - i) * sizeof *w->sorted);
    w->sorted[i] = v;
    w->n++;
    w->stale = 1;
}

int ci_window_update(ci_window_t *w, const chase_policy_ctx_t *ctx)
{
    if (!ctx->ci_past || ctx->n_past == 0 || ctx->ci_past_step_s <= 0)
        return CHASE_OK;
    if (!w->ring) {
        w->cap = (size_t)(w->span_s / (double)ctx->ci_past_step_s);
        if (w->cap < 1)
            w->cap = 1;
        w->nb = 2 * w->cap; /* about half a value per bucket */
        w->ring = malloc(w->cap * sizeof *w->ring);
        w->sorted = malloc(w->cap * sizeof *w->sorted);
        w->bucket = malloc(w->nb * sizeof *w->bucket);
        if (!w->ring || !w->sorted || !w->bucket)
            return CHASE_ENOMEM;
    }
    for (size_t i = 0; i < ctx->n_past; i++) {
        int64_t t = ctx->ci_past_t0 + (int64_t)i * ctx->ci_past_step_s;
        if (t <= w->last_t || isnan(ctx->ci_past[i]))
            continue;
        add(w, ctx->ci_past[i]);
        w->last_t = t;
    }
    return CHASE_OK;
}

/* Recomputes what is derived from the values: the moments and the rank index. */
static void refresh(ci_window_t *w)
{
    w->stale = 0;
    double m = 0, s = 0;
    for (size_t i = 0; i < w->n; i++)
        m += w->sorted[i];
    m = w->n ? m / (double)w->n : 0;
    for (size_t i = 0; i < w->n; i++)
        s += (w->sorted[i] - m) * (w->sorted[i] - m);
    w->mean = m;
    w->var = w->n > 1 ? s / (double)(w->n - 1) : 0;
    if (w->n == 0 || !(w->sorted[w->n - 1] > w->sorted[0]))
        return; /* rank answers an empty or constant window without the index */
    w->lo = w->sorted[0];
    w->scale = (double)w->nb / (w->sorted[w->n - 1] - w->lo);
    size_t r = 0;
    for (size_t i = 0; i < w->nb; i++) {
        double edge = w->lo + (double)i / w->scale;
        while (r < w->n && w->sorted[r] < edge)
            r++;
        w->bucket[i] = (uint32_t)r;
    }
}

size_t ci_window_rank(ci_window_t *w, double v, size_t from)
{
    if (w->n == 0 || v < w->sorted[0])
        return 0;
    if (v >= w->sorted[w->n - 1])
        return w->n;
    if (w->stale)
        refresh(w);
    /* sorted[0] <= v < max, so the range is positive and the bucket is below nb. Every value below the bucket's
     * lower edge (<= v) is <= v: the scan starts there. */
    size_t i = (size_t)((v - w->lo) * w->scale);
    size_t r = w->bucket[i < w->nb ? i : w->nb - 1];
    while (r > from && w->sorted[r - 1] > v) /* an edge rounded above v */
        r--;
    if (r < from)
        r = from;
    while (w->sorted[r] <= v)
        r++;
    return r;
}

void ci_window_moments(ci_window_t *w, double *mean, double *var)
{
    if (w->stale)
        refresh(w);
    *mean = w->mean;
    *var = w->var;
}
