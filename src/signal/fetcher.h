/* A live provider's fetches run in a worker thread, so that a caller (the control loop) is never held by the
 * network: a query asks for a refresh and reads what the last one left in memory. Private to src/signal.
 *
 * Threads: the worker runs only the job function; everything the caller's thread and the worker share (the jobs
 * asked for, the rows and outcome each job left, the warnings) sits behind one mutex that is never held across I/O.
 * The worker is created with every signal blocked, so that a process that takes its signals from a signalfd gets
 * them. chase_fetcher_free raises an abort flag that the job checks (HTTP polls it every 50 ms), then joins. */
#ifndef CHASE_SIGNAL_FETCHER_H
#define CHASE_SIGNAL_FETCHER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "chase/signal.h"

typedef struct chase_fetcher chase_fetcher_t;

enum { CHASE_FETCH_KINDS = 2 }; /* one queue per kind: CHASE_CACHE_OBSERVED, CHASE_CACHE_FORECAST */

/* What a job is asked for. Jobs of one kind asked while one waits merge (the latest now, the earliest since, the
 * latest until), so a slow API never builds a queue. */
typedef struct chase_fetch_job {
    double now;        /* the caller's clock when asked */
    double asked_mono; /* CLOCK_MONOTONIC when asked: on the caller's clock, mono time m is now + (m - asked_mono) */
    int64_t since, until;
} chase_fetch_job_t;

/* What a job leaves: its outcome and, unless rows is NULL (keep the previous ones), the rows that queries of its
 * kind read from now on, oldest first (the fetcher takes them over). */
typedef struct chase_fetch_out {
    int rc;
    chase_err_t err;
    chase_sample_t *rows;
    size_t n;
    double retry_in_s; /* > 0: run the job again after this long unless asked sooner (a transient failure) */
} chase_fetch_out_t;

/* Runs one job of kind on the worker thread. */
typedef void (*chase_fetch_run_fn)(void *arg, int kind, const chase_fetch_job_t *job, chase_fetch_out_t *out);

/* What a query learns about a kind besides its rows. */
typedef struct chase_fetch_state {
    int finished; /* a job of this kind has ended */
    int rc;       /* the outcome of the last one (CHASE_OK when none) */
    chase_err_t err;
} chase_fetch_state_t;

/* A fetcher that runs run(arg, ...) for its jobs; the thread starts with the first job. */
int chase_fetcher_new(chase_fetch_run_fn run, void *arg, chase_fetcher_t **out, chase_err_t *err);

/* Stops the job under way (abort flag), joins the worker, frees f (NULL is fine). */
void chase_fetcher_free(chase_fetcher_t *f);

/* The flag a job polls: non-zero once chase_fetcher_free has begun. */
const atomic_int *chase_fetcher_abort_flag(const chase_fetcher_t *f);

/* 1 when the job under way should give up (for loops outside HTTP, such as a busy database). */
int chase_fetcher_aborted(void *f);

/* Sets the rows of kind before the first job (from the cache at opening); takes rows over. */
void chase_fetcher_seed(chase_fetcher_t *f, int kind, chase_sample_t *rows, size_t n);

/* Asks for a job of kind at the caller's now and waits up to wait_s (0: not at all, < 0: until it ends) for it.
 * CHASE_ENOMEM or CHASE_EIO only when the worker cannot start. */
int chase_fetcher_ask(chase_fetcher_t *f, int kind, double now, int64_t since, int64_t until, double wait_s,
                      chase_err_t *err);

/* Copies the rows of kind with t in [t0, t1) and t + step_s > min_end, at most cap (the newest kept), oldest first,
 * and the kind's state. Never waits for a job. */
void chase_fetcher_read(chase_fetcher_t *f, int kind, int64_t t0, int64_t t1, double min_end, chase_sample_t *out,
                        size_t cap, size_t *n, chase_fetch_state_t *st);

/* Queues a warning from a job (any thread); the queue keeps the first few and counts the rest. */
void chase_fetcher_warn(chase_fetcher_t *f, const char *msg);

/* Hands the queued warnings to warn (may be NULL: dropped) on the calling thread, outside the lock. */
void chase_fetcher_drain(chase_fetcher_t *f, chase_warn_fn warn, void *warn_arg);

#endif
