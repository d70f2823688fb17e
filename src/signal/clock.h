/* The two clocks src/signal reads: the monotonic one for timeouts, deadlines and waits (a wall-clock step must not
 * stretch or cut them), and the wall clock for "now" when the caller gave none. Private to src/signal. */
#ifndef CHASE_SIGNAL_CLOCK_H
#define CHASE_SIGNAL_CLOCK_H

#include <time.h>

/* CLOCK_MONOTONIC in seconds. */
static inline double chase_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The wall clock (UTC seconds since the epoch). */
static inline double chase_wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
