/* A live job with no child of its own (the Slurm plugin's: slurmstepd starts and reaps the tasks): it runs until the
 * period ends, ends when the watched descriptor is written to or closed, and is interrupted by a termination signal;
 * a job with a watch refuses to start a child, and its progress channel is the one its address names. */
#include <math.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "chase/live.h"
#include "check.h"

static double now_of(chase_job_t *job)
{
    return job->ops->now(job->self);
}

/* A live job watching the read end of a new pipe p. */
static chase_live_job_t *watched(int p[2])
{
    chase_live_job_t *lj = NULL;
    chase_err_t err;
    CHECK(pipe(p) == 0);
    CHECK(chase_live_job_create(NULL, &lj, &err) == CHASE_OK);
    CHECK(chase_live_job_watch(lj, p[0], &err) == CHASE_OK);
    return lj;
}

static void test_runs_until_the_period_ends(void)
{
    chase_err_t err;
    int p[2];
    chase_live_job_t *lj = watched(p);
    chase_job_t *job = chase_live_job_job(lj);
    double t0 = now_of(job);
    int finished = 1;
    CHECK(job->ops->run_until(job->self, t0 + 0.3, &finished, &err) == CHASE_OK);
    CHECK(!finished); /* no child is not the end of a watched job */
    CHECK(now_of(job) - t0 >= 0.29);
    chase_live_job_free(lj);
    close(p[0]);
    close(p[1]);
}

/* Written to, or closed: either way the watcher is done with the job, and run_until says so at once. */
static void test_ends_when_watched_fd_speaks(int close_it)
{
    chase_err_t err;
    int p[2];
    chase_live_job_t *lj = watched(p);
    if (close_it)
        close(p[1]);
    else
        CHECK(write(p[1], "exit 0\n", 7) == 7);
    chase_job_t *job = chase_live_job_job(lj);
    double t0 = now_of(job);
    int finished = 0;
    CHECK(job->ops->run_until(job->self, t0 + 5, &finished, &err) == CHASE_OK);
    CHECK(finished);
    CHECK(now_of(job) - t0 < 1);
    /* Ended stays ended. */
    finished = 0;
    CHECK(job->ops->run_until(job->self, now_of(job) + 5, &finished, &err) == CHASE_OK);
    CHECK(finished);
    int status = -1;
    CHECK(chase_live_job_wait(lj, &status, &err) == CHASE_OK && status == 0);
    chase_live_job_free(lj);
    close(p[0]);
    if (!close_it)
        close(p[1]);
}

static void test_ends_on_write(void)
{
    test_ends_when_watched_fd_speaks(0);
}
static void test_ends_on_close(void)
{
    test_ends_when_watched_fd_speaks(1);
}

static void test_signal_interrupts(void)
{
    chase_err_t err;
    int p[2];
    chase_live_job_t *lj = watched(p);
    kill(getpid(), SIGTERM); /* blocked since create: it waits in the signalfd */
    chase_job_t *job = chase_live_job_job(lj);
    int finished = 0;
    CHECK(job->ops->run_until(job->self, now_of(job) + 5, &finished, &err) == CHASE_ESTATE);
    CHECK(strstr(err.msg, "SIGTERM") != NULL);
    CHECK(chase_live_job_interrupted(lj) == SIGTERM);
    chase_live_job_free(lj);
    close(p[0]);
    close(p[1]);
}

static void test_no_child_and_address(void)
{
    chase_live_job_t *lj;
    chase_err_t err;
    CHECK(chase_live_job_create(NULL, &lj, &err) == CHASE_OK);
    CHECK(chase_live_job_watch(lj, -1, &err) == CHASE_EINVAL);
    CHECK(chase_live_job_watch(lj, 0, &err) == CHASE_OK);
    char *argv[] = {"/bin/true", NULL};
    CHECK(chase_live_job_spawn(lj, argv, NULL, &err) == CHASE_ESTATE);
    const char *a = chase_live_job_address(lj);
    CHECK(a && !strncmp(a, "unix:/", 6));
    /* Reports sent to that address count as the job's work. */
    chase_progress_client_t *c = NULL;
    CHECK(chase_progress_client_open(a, 0, 0, &c, &err) == CHASE_OK);
    for (int i = 0; i < 7; i++)
        chase_progress_client_step(c, 1);
    chase_progress_client_close(c);
    chase_job_t *job = chase_live_job_job(lj);
    for (int i = 0; i < 50 && job->ops->work_done(job->self) < 7; i++)
        usleep(10000);
    CHECK_NEAR(job->ops->work_done(job->self), 7, 0);
    chase_live_job_free(lj);
}

int main(void)
{
    RUN(test_runs_until_the_period_ends);
    RUN(test_ends_on_write);
    RUN(test_ends_on_close);
    RUN(test_signal_interrupts);
    RUN(test_no_child_and_address);
    CHECK_DONE();
}
