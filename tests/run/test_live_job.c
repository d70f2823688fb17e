/* The live job: the child runs with CHASE_PROGRESS set, its reports arrive, its exit ends run_until with *finished,
 * its status comes back (exit code or 128 + signal), and a SIGTERM to chase ends run_until with CHASE_ESTATE after
 * being forwarded to the child. The child is this program itself, started with a role argument. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chase/live.h"
#include "check.h"

static const char *self_path;

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Child roles: "report N CODE" reports N steps (16 samples each) then exits with CODE; "sleep" sleeps 30 s. */
static int child_main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[2], "report")) {
        chase_progress_client_t *c;
        if (chase_progress_client_open(NULL, 0, 0.01, &c, NULL) != CHASE_OK)
            return 90; /* CHASE_PROGRESS missing or unusable */
        int n = atoi(argv[3]);
        for (int i = 0; i < n; i++) {
            chase_progress_client_step(c, 16);
            sleep_s(0.002);
        }
        chase_progress_client_close(c);
        return atoi(argv[4]);
    }
    if (argc >= 3 && !strcmp(argv[2], "sleep")) {
        sleep_s(30);
        return 0;
    }
    return 91;
}

static double wall(chase_job_t *job)
{
    return job->ops->now(job->self);
}

static void test_reports_and_exit_code(void)
{
    chase_live_job_t *lj;
    chase_err_t err;
    CHECK(chase_live_job_create(NULL, &lj, &err) == CHASE_OK);
    char *argv[] = {(char *)self_path, "--child", "report", "50", "3", NULL};
    CHECK(chase_live_job_spawn(lj, argv, NULL, &err) == CHASE_OK);
    chase_job_t *job = chase_live_job_job(lj);
    double t0 = wall(job);
    CHECK(fabs(t0 - (double)time(NULL)) < 2); /* UTC wall clock */
    int finished = 0, rounds = 0;
    while (!finished && rounds++ < 200)
        CHECK(job->ops->run_until(job->self, wall(job) + 0.05, &finished, &err) == CHASE_OK);
    CHECK(finished);
    CHECK_NEAR(job->ops->work_done(job->self), 50, 0); /* the final flush arrived before the exit was seen */
    chase_progress_stats_t st;
    chase_live_job_progress(lj, &st);
    CHECK_NEAR(st.samples, 50 * 16, 0);
    CHECK(st.ranks == 1 && st.malformed == 0);
    int status = -1;
    CHECK(chase_live_job_wait(lj, &status, &err) == CHASE_OK);
    CHECK(status == 3);
    CHECK(chase_live_job_interrupted(lj) == 0);
    chase_live_job_free(lj);
}

/* run_until returns at t_end while the child runs on. */
static void test_run_until_deadline(void)
{
    chase_live_job_t *lj;
    chase_err_t err;
    CHECK(chase_live_job_create(NULL, &lj, &err) == CHASE_OK);
    char *argv[] = {(char *)self_path, "--child", "sleep", NULL};
    CHECK(chase_live_job_spawn(lj, argv, NULL, &err) == CHASE_OK);
    chase_job_t *job = chase_live_job_job(lj);
    double t0 = wall(job);
    int finished = 1;
    CHECK(job->ops->run_until(job->self, t0 + 0.3, &finished, &err) == CHASE_OK);
    double t1 = wall(job);
    CHECK(!finished);
    CHECK(t1 >= t0 + 0.3 && t1 < t0 + 15); /* the child sleeps 30 s: returning at t_end, not at its exit */
    CHECK_NEAR(job->ops->work_done(job->self), 0, 0);

    /* SIGTERM to chase (here: this process): forwarded to the child, run_until stops with a message. */
    kill(getpid(), SIGTERM);
    int rc = job->ops->run_until(job->self, wall(job) + 60, &finished, &err);
    CHECK(rc == CHASE_ESTATE);
    CHECK(strstr(err.msg, "SIGTERM") != NULL);
    CHECK(chase_live_job_interrupted(lj) == SIGTERM);
    CHECK(wall(job) < t1 + 25); /* at the signal, not at the deadline a minute away (nor the child's 30 s) */
    /* Called again, it refuses at once: the loop must wind down. */
    CHECK(job->ops->run_until(job->self, wall(job) + 5, &finished, &err) == CHASE_ESTATE);
    int status = -1;
    CHECK(chase_live_job_wait(lj, &status, &err) == CHASE_OK);
    CHECK(status == 128 + SIGTERM);
    chase_live_job_free(lj);
}

/* SIGHUP (the terminal closing) is handled like SIGTERM; the exit status of a child that handles it comes back. */
static void test_sighup(void)
{
    chase_live_job_t *lj;
    chase_err_t err;
    CHECK(chase_live_job_create(NULL, &lj, &err) == CHASE_OK);
    /* The child says when its trap is set, so the signal cannot come first, however slow the machine. */
    char ready[] = "/tmp/chase-test-hup-XXXXXX";
    int fd = mkstemp(ready);
    CHECK(fd >= 0);
    close(fd);
    unlink(ready);
    char script[200];
    snprintf(script, sizeof script, "trap 'exit 42' HUP; touch %s; sleep 5 & wait", ready);
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    CHECK(chase_live_job_spawn(lj, argv, NULL, &err) == CHASE_OK);
    chase_job_t *job = chase_live_job_job(lj);
    int finished = 0;
    for (int i = 0; i < 200 && access(ready, F_OK) != 0; i++)
        CHECK(job->ops->run_until(job->self, wall(job) + 0.05, &finished, &err) == CHASE_OK && !finished);
    CHECK(access(ready, F_OK) == 0);
    unlink(ready);
    kill(getpid(), SIGHUP);
    CHECK(job->ops->run_until(job->self, wall(job) + 5, &finished, &err) == CHASE_ESTATE);
    CHECK(strstr(err.msg, "SIGHUP") != NULL);
    int status = -1;
    CHECK(chase_live_job_wait(lj, &status, &err) == CHASE_OK);
    CHECK(status == 42);
    chase_live_job_free(lj);
}

static void test_command_not_found(void)
{
    chase_live_job_t *lj;
    chase_err_t err;
    CHECK(chase_live_job_create(NULL, &lj, &err) == CHASE_OK);
    char *argv[] = {"/nonexistent/chase-no-such-command", NULL};
    CHECK(chase_live_job_spawn(lj, argv, NULL, &err) == CHASE_ENOTFOUND);
    CHECK(strstr(err.msg, "chase-no-such-command") != NULL);
    char *empty[] = {NULL};
    CHECK(chase_live_job_spawn(lj, empty, NULL, &err) == CHASE_EINVAL);
    /* Without a child, run_until reports the job finished and wait returns 0. */
    chase_job_t *job = chase_live_job_job(lj);
    int finished = 0, status = -1;
    CHECK(job->ops->run_until(job->self, wall(job) + 1, &finished, &err) == CHASE_OK && finished);
    CHECK(chase_live_job_wait(lj, &status, &err) == CHASE_OK && status == 0);
    chase_live_job_free(lj);
}

/* The signal mask is restored after free: a SIGTERM then would kill the process, so check the mask instead. */
static void test_mask_restored(void)
{
    sigset_t before, after;
    sigprocmask(SIG_SETMASK, NULL, &before);
    chase_live_job_t *lj;
    CHECK(chase_live_job_create(NULL, &lj, NULL) == CHASE_OK);
    sigset_t during;
    sigprocmask(SIG_SETMASK, NULL, &during);
    CHECK(sigismember(&during, SIGTERM) && sigismember(&during, SIGINT) && sigismember(&during, SIGHUP));
    chase_live_job_free(lj);
    sigprocmask(SIG_SETMASK, NULL, &after);
    CHECK(sigismember(&after, SIGTERM) == sigismember(&before, SIGTERM));
    CHECK(sigismember(&after, SIGCHLD) == sigismember(&before, SIGCHLD));
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--child"))
        return child_main(argc, argv);
    self_path = argv[0];
    RUN(test_reports_and_exit_code);
    RUN(test_run_until_deadline);
    RUN(test_sighup);
    RUN(test_command_not_found);
    RUN(test_mask_restored);
    CHECK_DONE();
}
