/* A ring of the most recent samples on the forecaster's step grid, shared by the models that need lags.
 * Skipped times become NAN, so "k steps before the last sample" always means k*step seconds earlier. */
#ifndef CHASE_FORECAST_HISTORY_H
#define CHASE_FORECAST_HISTORY_H

#include <stddef.h>
#include <stdint.h>

typedef struct chase_hist {
    double *v;      /* cap values, v[head] is the last one */
    size_t cap;
    size_t head;
    size_t count;   /* samples pushed and still held (at most cap) */
    int64_t step_s;
    int64_t last_t; /* INT64_MIN before the first push */
} chase_hist_t;

/* Allocates room for cap samples; CHASE_OK or CHASE_ENOMEM. */
int chase_hist_init(chase_hist_t *h, size_t cap, int64_t step_s);

/* Frees the ring (the struct itself is the caller's). */
void chase_hist_free(chase_hist_t *h);

/* Appends the sample at t (after last_t, on the grid); steps skipped in between are held as NAN.
 * Returns the number of steps t is after the previous sample (1 when none was skipped). */
long chase_hist_push(chase_hist_t *h, int64_t t, double v);

/* Value k >= 0 steps before the last sample (k = 0 is the last), NAN when unknown or older than the ring. */
double chase_hist_back(const chase_hist_t *h, long k);

/* Steps back to the most recent non-NAN value at or before k steps back, or -1 when there is none in the ring. */
long chase_hist_last_real(const chase_hist_t *h, long k);

#endif
