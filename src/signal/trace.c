/* The carbon-intensity series: allocation, lookup and the exact step-hold integral. */
#include "chase/trace.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

chase_trace_t *chase_trace_new(const char *name, int64_t start, int64_t step_s, size_t n)
{
    if (step_s <= 0)
        return NULL;
    chase_trace_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    /* calloc(0) may return NULL; one spare value keeps "NULL means out of memory" true for empty traces. */
    t->ci = calloc(n ? n : 1, sizeof *t->ci);
    if (!t->ci) {
        free(t);
        return NULL;
    }
    snprintf(t->name, sizeof t->name, "%s", name ? name : "");
    t->start = start;
    t->step_s = step_s;
    t->n = n;
    return t;
}

void chase_trace_free(chase_trace_t *t)
{
    if (!t)
        return;
    free(t->ci);
    free(t->filled);
    free(t);
}

int64_t chase_trace_end(const chase_trace_t *t)
{
    return t->start + (int64_t)t->n * t->step_s;
}

long chase_trace_index(const chase_trace_t *t, int64_t s)
{
    if (s < t->start || s >= chase_trace_end(t))
        return -1;
    return (long)((s - t->start) / t->step_s);
}

double chase_trace_at(const chase_trace_t *t, double s)
{
    double off = s - (double)t->start;
    if (!(off >= 0) || !(s < (double)chase_trace_end(t)))
        return NAN;
    size_t i = (size_t)floor(off / (double)t->step_s);
    if (i >= t->n) /* rounding at the very end */
        i = t->n - 1;
    return t->ci[i];
}

double chase_trace_integral(const chase_trace_t *t, double t0, double t1)
{
    /* Offsets from the trace start keep the arithmetic on small numbers, so sums of whole samples are exact. */
    double a = t0 - (double)t->start, b = t1 - (double)t->start;
    double len = (double)t->n * (double)t->step_s, step = (double)t->step_s;
    if (!(a >= 0) || !(b <= len) || !(a <= b))
        return NAN;
    if (a == b)
        return 0;
    size_t i0 = (size_t)floor(a / step);
    size_t i1 = (size_t)ceil(b / step); /* one past the last sample touched */
    if (i1 > t->n)
        i1 = t->n;
    double sum = 0;
    for (size_t i = i0; i < i1; i++) {
        double lo = (double)i * step, hi = lo + step;
        if (lo < a)
            lo = a;
        if (hi > b)
            hi = b;
        if (hi > lo)
            sum += t->ci[i] * (hi - lo);
    }
    return sum;
}

chase_trace_t *chase_trace_slice(const chase_trace_t *t, size_t from, size_t n)
{
    if (from > t->n || n > t->n - from)
        return NULL;
    chase_trace_t *s = chase_trace_new(t->name, t->start + (int64_t)from * t->step_s, t->step_s, n);
    if (!s)
        return NULL;
    snprintf(s->column, sizeof s->column, "%s", t->column);
    if (n)
        memcpy(s->ci, t->ci + from, n * sizeof *s->ci);
    if (t->filled && n) {
        for (size_t i = 0; i < n; i++)
            s->n_filled += t->filled[from + i] != 0;
        if (s->n_filled) {
            s->filled = malloc(n);
            if (!s->filled) {
                chase_trace_free(s);
                return NULL;
            }
            memcpy(s->filled, t->filled + from, n);
        }
    }
    return s;
}
