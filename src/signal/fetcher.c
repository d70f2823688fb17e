/* The worker thread of a live provider and what it shares with the caller's thread (see fetcher.h for the rules). */
#include "signal/fetcher.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "signal/clock.h"

#define WARN_MAX 8
#define WARN_LEN 400

typedef struct kind_state {
    int pending;           /* a job waits to run */
    chase_fetch_job_t job; /* that job */
    uint64_t asked;        /* the waiting job's ticket: every ask that found none waiting took a new one */
    uint64_t done;         /* ticket of the last job that ended */
    int finished;          /* a job has ended */
    int rc;
    chase_err_t err;
    chase_sample_t *rows; /* what queries read, oldest first */
    size_t n;
    chase_fetch_job_t last; /* the last job run, and when (monotonic) to run it again on its own; 0: never */
    double retry_at;
} kind_state_t;

struct chase_fetcher {
    chase_fetch_run_fn run;
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t work; /* a job was asked for, or stop */
    pthread_cond_t done; /* a job ended, or stop */
    pthread_t thread;
    int started, stop;
    atomic_int abort;
    kind_state_t k[CHASE_FETCH_KINDS];
    char warn[WARN_MAX][WARN_LEN];
    size_t n_warn, dropped;
};

int chase_fetcher_new(chase_fetch_run_fn run, void *arg, chase_fetcher_t **out, chase_err_t *err)
{
    *out = NULL;
    chase_fetcher_t *f = calloc(1, sizeof *f);
    if (!f)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    pthread_condattr_t ca;
    int ok = pthread_condattr_init(&ca) == 0;
    /* Waits are timed on the monotonic clock: a wall-clock step must not stretch or cut them. */
    ok = ok && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0;
    ok = ok && pthread_mutex_init(&f->mu, NULL) == 0;
    ok = ok && pthread_cond_init(&f->work, &ca) == 0;
    ok = ok && pthread_cond_init(&f->done, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!ok) {
        free(f);
        return chase_err_set(err, CHASE_ENOMEM, "cannot set up the fetcher's lock");
    }
    f->run = run;
    f->arg = arg;
    atomic_init(&f->abort, 0);
    *out = f;
    return CHASE_OK;
}

/* Called with the lock held: turns a retry that is due into a waiting job; returns the earliest retry still ahead
 * (0: none). A retry is the last job again, its clock moved on by the time since it was asked. */
static double due_retries(chase_fetcher_t *f)
{
    double now = chase_mono_s(), next = 0;
    for (int i = 0; i < CHASE_FETCH_KINDS; i++) {
        kind_state_t *ks = &f->k[i];
        if (ks->retry_at <= 0 || ks->pending)
            continue;
        if (now >= ks->retry_at) {
            ks->retry_at = 0;
            ks->pending = 1;
            ks->asked++;
            ks->job = ks->last;
            ks->job.now += now - ks->last.asked_mono;
            ks->job.asked_mono = now;
        } else if (next == 0 || ks->retry_at < next) {
            next = ks->retry_at;
        }
    }
    return next;
}

static void *worker(void *arg)
{
    chase_fetcher_t *f = arg;
    pthread_mutex_lock(&f->mu);
    while (!f->stop) {
        double next = due_retries(f);
        int kind = -1;
        for (int i = 0; i < CHASE_FETCH_KINDS && kind < 0; i++)
            if (f->k[i].pending)
                kind = i;
        if (kind < 0 && next > 0) {
            struct timespec ts = {(time_t)floor(next), (long)((next - floor(next)) * 1e9)};
            pthread_cond_timedwait(&f->work, &f->mu, &ts);
            continue;
        }
        if (kind < 0) {
            pthread_cond_wait(&f->work, &f->mu);
            continue;
        }
        kind_state_t *ks = &f->k[kind];
        chase_fetch_job_t job = ks->job;
        uint64_t ticket = ks->asked;
        ks->pending = 0;
        ks->retry_at = 0;
        pthread_mutex_unlock(&f->mu);
        chase_fetch_out_t out;
        memset(&out, 0, sizeof out);
        f->run(f->arg, kind, &job, &out);
        pthread_mutex_lock(&f->mu);
        if (out.rows) {
            free(ks->rows);
            ks->rows = out.rows;
            ks->n = out.n;
        }
        ks->rc = out.rc;
        ks->err = out.err;
        ks->finished = 1;
        ks->done = ticket;
        ks->last = job;
        ks->retry_at = out.retry_in_s > 0 ? chase_mono_s() + out.retry_in_s : 0;
        pthread_cond_broadcast(&f->done);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* Called with the lock held. The worker starts with every signal blocked: a caller that blocked its termination
 * signals to read them from a signalfd must not have them delivered to this thread instead. */
static int start(chase_fetcher_t *f, chase_err_t *err)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&f->thread, NULL, worker, f);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0)
        return chase_err_set(err, e == EAGAIN ? CHASE_ENOMEM : CHASE_EIO, "cannot start the fetcher thread: %s",
                             strerror(e));
    f->started = 1;
    return CHASE_OK;
}

void chase_fetcher_free(chase_fetcher_t *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    atomic_store(&f->abort, 1);
    pthread_cond_broadcast(&f->work);
    pthread_cond_broadcast(&f->done);
    pthread_mutex_unlock(&f->mu);
    if (f->started)
        pthread_join(f->thread, NULL);
    for (int i = 0; i < CHASE_FETCH_KINDS; i++)
        free(f->k[i].rows);
    pthread_cond_destroy(&f->work);
    pthread_cond_destroy(&f->done);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

const atomic_int *chase_fetcher_abort_flag(const chase_fetcher_t *f)
{
    return &f->abort;
}

int chase_fetcher_aborted(void *f)
{
    return atomic_load(&((chase_fetcher_t *)f)->abort) != 0;
}

void chase_fetcher_seed(chase_fetcher_t *f, int kind, chase_sample_t *rows, size_t n)
{
    pthread_mutex_lock(&f->mu);
    free(f->k[kind].rows);
    f->k[kind].rows = rows;
    f->k[kind].n = n;
    pthread_mutex_unlock(&f->mu);
}

int chase_fetcher_ask(chase_fetcher_t *f, int kind, double now, int64_t since, int64_t until, double wait_s,
                      chase_err_t *err)
{
    kind_state_t *ks = &f->k[kind];
    double asked = chase_mono_s();
    int rc = CHASE_OK;
    pthread_mutex_lock(&f->mu);
    if (!ks->pending) {
        ks->pending = 1;
        ks->asked++;
        ks->job = (chase_fetch_job_t){now, asked, since, until};
    } else {
        if (now >= ks->job.now) {
            ks->job.now = now;
            ks->job.asked_mono = asked;
        }
        if (since < ks->job.since)
            ks->job.since = since;
        if (until > ks->job.until)
            ks->job.until = until;
    }
    uint64_t ticket = ks->asked;
    if (!f->started && !f->stop)
        rc = start(f, err);
    if (rc == CHASE_OK)
        pthread_cond_signal(&f->work);
    if (rc == CHASE_OK && wait_s != 0) {
        struct timespec until_ts;
        double end = asked + wait_s;
        until_ts.tv_sec = (time_t)floor(end);
        until_ts.tv_nsec = (long)((end - floor(end)) * 1e9);
        while (ks->done < ticket && !f->stop) {
            if (wait_s < 0)
                pthread_cond_wait(&f->done, &f->mu);
            else if (pthread_cond_timedwait(&f->done, &f->mu, &until_ts) == ETIMEDOUT)
                break;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

void chase_fetcher_read(chase_fetcher_t *f, int kind, int64_t t0, int64_t t1, double min_end, chase_sample_t *out,
                        size_t cap, size_t *n, chase_fetch_state_t *st)
{
    const kind_state_t *ks = &f->k[kind];
    *n = 0;
    pthread_mutex_lock(&f->mu);
    /* Walk back from the newest so that cap keeps the newest, then copy forward to give them oldest first. */
    size_t first = ks->n, count = 0;
    for (size_t i = ks->n; i-- > 0 && count < cap;) {
        const chase_sample_t *r = &ks->rows[i];
        if (r->t >= t0 && r->t < t1 && (double)(r->t + r->step_s) > min_end) {
            first = i;
            count++;
        }
    }
    for (size_t i = first; i < ks->n && *n < count; i++) {
        const chase_sample_t *r = &ks->rows[i];
        if (r->t >= t0 && r->t < t1 && (double)(r->t + r->step_s) > min_end)
            out[(*n)++] = *r;
    }
    if (st) {
        st->finished = ks->finished;
        st->rc = ks->finished ? ks->rc : CHASE_OK;
        st->err = ks->err;
    }
    pthread_mutex_unlock(&f->mu);
}

void chase_fetcher_warn(chase_fetcher_t *f, const char *msg)
{
    pthread_mutex_lock(&f->mu);
    if (f->n_warn < WARN_MAX)
        snprintf(f->warn[f->n_warn++], WARN_LEN, "%s", msg);
    else
        f->dropped++;
    pthread_mutex_unlock(&f->mu);
}

void chase_fetcher_drain(chase_fetcher_t *f, chase_warn_fn warn, void *warn_arg)
{
    char msgs[WARN_MAX][WARN_LEN];
    pthread_mutex_lock(&f->mu);
    size_t n = f->n_warn, dropped = f->dropped;
    memcpy(msgs, f->warn, n * WARN_LEN);
    f->n_warn = f->dropped = 0;
    pthread_mutex_unlock(&f->mu);
    /* Outside the lock: the callback may take its time, or call back into the signal. */
    for (size_t i = 0; warn && i < n; i++)
        warn(warn_arg, msgs[i]);
    if (warn && dropped) {
        char more[96];
        snprintf(more, sizeof more, "(%zu more warnings from the carbon signal not shown)", dropped);
        warn(warn_arg, more);
    }
}
