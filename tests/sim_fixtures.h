/* Small generated profiles and traces shared by the policy and control tests. */
#ifndef CHASE_TEST_SIM_FIXTURES_H
#define CHASE_TEST_SIM_FIXTURES_H

#include <math.h>
#include <string.h>

#include "chase/profile.h"
#include "chase/trace.h"

/* A made-up GPU whose throughput saturates with power, like measured ones: limits 100..300 W in 50 W steps,
 * throughput in units per hour. */
static inline chase_profile_t *fixture_profile(void)
{
    static const double pl[] = {100, 150, 200, 250, 300};
    static const double x_per_h[] = {0.50, 0.78, 0.92, 0.98, 1.00};
    static const double pw[] = {95, 140, 175, 205, 230};
    chase_profile_t *p = chase_profile_new("fixture", 5);
    snprintf(p->unit, sizeof p->unit, "epoch");
    snprintf(p->gpu, sizeof p->gpu, "FAKE");
    for (size_t i = 0; i < 5; i++)
        p->pts[i] = (chase_profile_point_t){pl[i], x_per_h[i] / 3600, pw[i]};
    p->n = 5;
    chase_profile_validate(p, NULL);
    return p;
}

/* Deterministic pseudo-random numbers in [0, 1) (splitmix64). */
static inline double fixture_rand(unsigned long long *s)
{
    unsigned long long z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

/* An hourly trace of n hours from 2024-01-01: a daily swing around mean with amplitude amp, plus noise. */
static inline chase_trace_t *fixture_trace(size_t n, double mean, double amp, double noise, unsigned long long seed)
{
    chase_trace_t *t = chase_trace_new("fixture", 1704067200, 3600, n);
    for (size_t i = 0; i < n; i++)
        t->ci[i] = fmax(1, mean + amp * sin(2 * M_PI * (double)(i % 24) / 24) + noise * (fixture_rand(&seed) - 0.5));
    return t;
}

#endif
