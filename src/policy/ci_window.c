/* The recent CI distribution (see ci_window.h), updated in place as a value comes in and the oldest leaves.
 *
 * - The sorted copy: the leaving value's slot and the new value's slot are found by binary search, and only the
 *   values between the two move (the value two weeks ago and now are usually close, so few move).
 * - The rank index: equal-width buckets over a range that holds every value, each holding how many values lie in
 *   the buckets below it. A rank query is one multiplication and a scan of about one bucket, instead of a binary
 *   search whose branches the processor cannot predict (the queries come by the thousand per decision). A value in
 *   bucket j counts in every bucket above j, so a value coming in and one leaving change only the counts of the
 *   buckets between their two. The range is rebuilt (every value placed again) only when a value falls outside it,
 *   or when the values have come to span less than a quarter of it (buckets then hold too many values each).
 * - The mean and variance: running sums of the values and of their squares in double-double arithmetic, so values
 *   leave without leaving rounding behind; the moments are then within an ulp of a fresh two-pass computation.
 * Before (one full rebuild of the moments and the index per sample), a year of 5-minute samples through the six
 * policies cost 33 times an hourly year; per period the cost now hardly depends on the window's length (the
 * benchmark bench/bench_resolution measures it). */
#include "policy/ci_window.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Buckets per value held: about half a value per bucket. */
#define BUCKETS_PER_VALUE 2
/* A rebuilt range reaches this share of the values' span beyond each end, so that a new extreme rarely forces a
 * rebuild. */
#define RANGE_MARGIN 0.5

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

/* s += a exactly (the error of the rounded sum is carried in lo; TwoSum, then renormalised). */
static void dd_add(ci_window_dd_t *s, double a)
{
    double t = s->hi + a, b = t - s->hi;
    double e = (s->hi - (t - b)) + (a - b);
    double lo = s->lo + e, hi = t + lo;
    s->lo = lo - (hi - t);
    s->hi = hi;
}

/* s += a * b, the product's rounding error included. */
static void dd_add_product(ci_window_dd_t *s, double a, double b)
{
    double p = a * b;
    dd_add(s, p);
    dd_add(s, fma(a, b, -p));
}

/* The sum and the sum of squares after a value came in (sign 1) or left (sign -1). */
static void moments_add(ci_window_t *w, double v, double sign)
{
    dd_add(&w->sum, sign * v);
    dd_add_product(&w->sum2, sign * v, v);
}

/* mean = sum / n, and var = (sum2 - 2 mean sum + n mean^2) / (n - 1): a form whose first-order error in the
 * mean vanishes, so the mean's own rounding does not reach the variance. Carried in double-double until the last
 * rounding. */
static void moments_refresh(ci_window_t *w)
{
    size_t n = w->n;
    if (n == 0) {
        w->mean = w->var = 0;
        return;
    }
    if (!(w->sorted[n - 1] > w->sorted[0])) { /* all equal: exact */
        w->mean = w->sorted[0];
        w->var = 0;
        return;
    }
    double dn = (double)n;
    double q = w->sum.hi / dn;
    ci_window_dd_t r = w->sum; /* r = sum - q * n, exact */
    dd_add_product(&r, -q, dn);
    double m = q + (r.hi + r.lo) / dn;
    w->mean = m;
    ci_window_dd_t c = w->sum2;
    dd_add_product(&c, -2 * m, w->sum.hi);
    dd_add_product(&c, -2 * m, w->sum.lo);
    double nm = dn * m, nm_err = fma(dn, m, -nm); /* n * m = nm + nm_err exactly */
    dd_add_product(&c, nm, m);
    dd_add_product(&c, nm_err, m);
    double var = (c.hi + c.lo) / (dn - 1);
    w->var = var > 0 ? var : 0;
}

/* Index of the first sorted value > v, searching [lo, hi). */
static size_t upper_bound(const double *a, size_t lo, size_t hi, double v)
{
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a[mid] <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The bucket of v; monotone in v, so a value in a lower bucket is a lower value. */
static size_t bucket_of(const ci_window_t *w, double v)
{
    double i = (v - w->lo) * w->scale;
    return i <= 0 ? 0 : i >= (double)(w->nb - 1) ? w->nb - 1 : (size_t)i;
}

/* Places every value again over a range around their current span. */
static void index_rebuild(ci_window_t *w)
{
    double min = w->sorted[0], max = w->sorted[w->n - 1], span = max - min;
    double margin = span > 0 ? RANGE_MARGIN * span : fmax(fabs(min), 1.0) * 1e-6;
    w->lo = min - margin;
    w->scale = (double)w->nb / (span + 2 * margin);
    size_t r = 0;
    for (size_t i = 0; i < w->nb; i++) {
        while (r < w->n && bucket_of(w, w->sorted[r]) < i)
            r++;
        w->bucket[i] = (uint32_t)r;
    }
}

/* Whether v lies inside the index's range (its bucket is exact, not clamped). */
static int index_holds(const ci_window_t *w, double v)
{
    double i = (v - w->lo) * w->scale;
    return i >= 0 && i < (double)w->nb;
}

/* The counts after old left (NAN: none) and v came in: only the buckets between their two change. */
static void index_move(ci_window_t *w, double old, double v)
{
    size_t in = bucket_of(w, v) + 1;
    size_t out = isnan(old) ? w->nb : bucket_of(w, old) + 1;
    for (size_t i = in; i < out; i++)
        w->bucket[i]++;
    for (size_t i = out; i < in; i++)
        w->bucket[i]--;
}

static void add(ci_window_t *w, double v)
{
    double old = NAN;
    size_t n = w->n;
    if (n == w->cap) { /* the oldest leaves: the values between its slot and v's move by one */
        old = w->ring[w->head];
        w->ring[w->head] = v;
        w->head = (w->head + 1) % w->cap;
        size_t o = upper_bound(w->sorted, 0, n, old) - 1; /* a slot holding old */
        size_t i = upper_bound(w->sorted, 0, n, v);       /* where v goes, old still in */
        if (i <= o) {
            memmove(w->sorted + i + 1, w->sorted + i, (o - i) * sizeof *w->sorted);
            w->sorted[i] = v;
        } else {
            memmove(w->sorted + o, w->sorted + o + 1, (i - 1 - o) * sizeof *w->sorted);
            w->sorted[i - 1] = v;
        }
        moments_add(w, old, -1);
    } else {
        w->ring[(w->head + n) % w->cap] = v;
        size_t i = upper_bound(w->sorted, 0, n, v);
        memmove(w->sorted + i + 1, w->sorted + i, (n - i) * sizeof *w->sorted);
        w->sorted[i] = v;
        w->n++;
    }
    moments_add(w, v, 1);
    double span = w->sorted[w->n - 1] - w->sorted[0];
    if (w->n == 1 || !index_holds(w, v) || (span > 0 && span * w->scale < 0.25 * (double)w->nb))
        index_rebuild(w);
    else
        index_move(w, old, v);
}

int ci_window_update(ci_window_t *w, const chase_policy_ctx_t *ctx)
{
    if (!ctx->ci_past || ctx->n_past == 0 || ctx->ci_past_step_s <= 0)
        return CHASE_OK;
    if (!w->ring) {
        w->cap = (size_t)(w->span_s / (double)ctx->ci_past_step_s);
        if (w->cap < 1)
            w->cap = 1;
        w->nb = BUCKETS_PER_VALUE * w->cap;
        w->ring = malloc(w->cap * sizeof *w->ring);
        w->sorted = malloc(w->cap * sizeof *w->sorted);
        w->bucket = malloc(w->nb * sizeof *w->bucket);
        if (!w->ring || !w->sorted || !w->bucket)
            return CHASE_ENOMEM;
    }
    /* The first sample after the newest one taken: the loop passes the whole recent past every period. */
    size_t first = 0;
    if (w->last_t >= ctx->ci_past_t0)
        first = (size_t)((w->last_t - ctx->ci_past_t0) / ctx->ci_past_step_s) + 1;
    int added = 0;
    for (size_t i = first; i < ctx->n_past; i++) {
        if (isnan(ctx->ci_past[i]))
            continue;
        add(w, ctx->ci_past[i]);
        w->last_t = ctx->ci_past_t0 + (int64_t)i * ctx->ci_past_step_s;
        added = 1;
    }
    if (added)
        moments_refresh(w);
    return CHASE_OK;
}

size_t ci_window_rank(const ci_window_t *w, double v, size_t from)
{
    if (w->n == 0 || v < w->sorted[0])
        return 0;
    if (v >= w->sorted[w->n - 1])
        return w->n;
    /* sorted[0] <= v < max, so v lies in the index's range. The values in lower buckets are below v (bucket_of is
     * monotone), so the scan starts there and only moves up. */
    size_t r = w->bucket[bucket_of(w, v)];
    if (r < from)
        r = from;
    while (w->sorted[r] <= v)
        r++;
    return r;
}

void ci_window_moments(const ci_window_t *w, double *mean, double *var)
{
    *mean = w->mean;
    *var = w->var;
}
