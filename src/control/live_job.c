/* The live job: the training command as a child process, driven on the wall clock.
 *
 * One poll waits on the progress socket and a signalfd that carries SIGCHLD and the termination signals, so a
 * period boundary, a progress report, the child's exit and Ctrl-C are all plain events of one loop. */
#include "chase/live.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct chase_live_job {
    chase_job_t job;
    chase_progress_t *progress;
    int sigfd;
    sigset_t blocked, old_mask;
    pid_t pid;        /* 0: no child */
    int child_done;
    int child_status; /* exit code or 128 + signal */
    int interrupted;  /* termination signal received, 0: none */
};

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double job_now(void *self)
{
    (void)self;
    return wall_now();
}

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "a signal";
    }
}

static void reap(chase_live_job_t *lj)
{
    if (lj->pid <= 0 || lj->child_done)
        return;
    int st;
    pid_t r;
    do
        r = waitpid(lj->pid, &st, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == lj->pid) {
        lj->child_done = 1;
        lj->child_status = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
    } else if (r < 0 && errno == ECHILD) {
        /* Someone else reaped it (should not happen): treat as gone. */
        lj->child_done = 1;
        lj->child_status = 1;
    }
}

/* Reads the waiting signals; returns the first termination signal among them (0: none). A signal the terminal sent
 * to the whole process group (si_code SI_KERNEL) already reached the child, so only the others are forwarded. */
static int read_signals(chase_live_job_t *lj)
{
    int term = 0;
    struct signalfd_siginfo si;
    while (read(lj->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        int sig = (int)si.ssi_signo;
        if (sig == SIGCHLD)
            continue; /* reap() looks at the child after every wake-up */
        if (lj->pid > 0 && !lj->child_done && si.ssi_code != SI_KERNEL)
            kill(lj->pid, sig);
        if (!lj->interrupted)
            lj->interrupted = sig;
        if (!term)
            term = sig;
    }
    return term;
}

static void drain_progress(chase_live_job_t *lj)
{
    /* A socket error here cannot be the child's fault and must not stop the control: the stats stay as they are. */
    (void)chase_progress_drain(lj->progress, wall_now(), NULL);
}

static int job_run_until(void *self, double t_end, int *finished, chase_err_t *err)
{
    chase_live_job_t *lj = self;
    *finished = 0;
    if (lj->interrupted)
        return chase_err_set(err, CHASE_ESTATE, "interrupted by %s", signal_name(lj->interrupted));
    for (;;) {
        drain_progress(lj);
        reap(lj);
        if (lj->pid <= 0 || lj->child_done) {
            drain_progress(lj); /* the child's last report was queued before it exited */
            *finished = 1;
            return CHASE_OK;
        }
        double now = wall_now();
        if (!(now < t_end))
            return CHASE_OK;
        /* Wake at least once a second: SIGCHLD can be lost to a coalesced signal, waitpid cannot. */
        double wait = t_end - now;
        if (wait > 1.0)
            wait = 1.0;
        struct pollfd fds[2] = {{lj->sigfd, POLLIN, 0}, {chase_progress_fd(lj->progress), POLLIN, 0}};
        int r = poll(fds, 2, (int)ceil(wait * 1000));
        if (r < 0 && errno != EINTR)
            return chase_err_set(err, CHASE_EIO, "live job: poll: %s", strerror(errno));
        if (r > 0 && (fds[0].revents & POLLIN)) {
            int sig = read_signals(lj);
            if (sig)
                return chase_err_set(err, CHASE_ESTATE, "interrupted by %s", signal_name(sig));
        }
    }
}

static double job_work_done(void *self)
{
    chase_live_job_t *lj = self;
    chase_progress_stats_t st;
    chase_progress_stats(lj->progress, &st);
    return st.steps;
}

static const chase_job_ops_t live_job_ops = {job_now, job_run_until, job_work_done};

int chase_live_job_create(const char *progress_dir, chase_live_job_t **out, chase_err_t *err)
{
    *out = NULL;
    chase_live_job_t *lj = calloc(1, sizeof *lj);
    if (!lj)
        return chase_err_set(err, CHASE_ENOMEM, "live job: out of memory");
    lj->sigfd = -1;
    lj->job.ops = &live_job_ops;
    lj->job.self = lj;
    sigemptyset(&lj->blocked);
    sigaddset(&lj->blocked, SIGINT);
    sigaddset(&lj->blocked, SIGTERM);
    sigaddset(&lj->blocked, SIGHUP);
    sigaddset(&lj->blocked, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &lj->blocked, &lj->old_mask) != 0) {
        int e = errno;
        free(lj);
        return chase_err_set(err, CHASE_EIO, "live job: sigprocmask: %s", strerror(e));
    }
    lj->sigfd = signalfd(-1, &lj->blocked, SFD_NONBLOCK | SFD_CLOEXEC);
    if (lj->sigfd < 0) {
        int e = errno;
        chase_live_job_free(lj);
        return chase_err_set(err, CHASE_EIO, "live job: signalfd: %s", strerror(e));
    }
    int rc = chase_progress_open(progress_dir, &lj->progress, err);
    if (rc != CHASE_OK) {
        chase_live_job_free(lj);
        return rc;
    }
    *out = lj;
    return CHASE_OK;
}

int chase_live_job_spawn(chase_live_job_t *lj, char *const argv[], chase_err_t *err)
{
    if (!argv || !argv[0] || !argv[0][0])
        return chase_err_set(err, CHASE_EINVAL, "live job: no command to run");
    if (lj->pid > 0)
        return chase_err_set(err, CHASE_ESTATE, "live job: a child is already running");
    size_t n_env = 0;
    while (environ && environ[n_env])
        n_env++;
    char **envp = calloc(n_env + 2, sizeof *envp);
    size_t alen = strlen(CHASE_PROGRESS_ENV) + 1 + strlen(chase_progress_address(lj->progress)) + 1;
    char *var = malloc(alen);
    if (!envp || !var) {
        free(envp);
        free(var);
        return chase_err_set(err, CHASE_ENOMEM, "live job: out of memory");
    }
    snprintf(var, alen, "%s=%s", CHASE_PROGRESS_ENV, chase_progress_address(lj->progress));
    size_t k = 0, keylen = strlen(CHASE_PROGRESS_ENV);
    for (size_t i = 0; i < n_env; i++)
        if (!(strncmp(environ[i], CHASE_PROGRESS_ENV, keylen) == 0 && environ[i][keylen] == '='))
            envp[k++] = environ[i];
    envp[k++] = var;
    envp[k] = NULL;

    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &lj->old_mask);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    int e = posix_spawnp(&pid, argv[0], NULL, &attr, argv, envp);
    posix_spawnattr_destroy(&attr);
    free(envp);
    free(var);
    if (e != 0)
        return chase_err_set(err, CHASE_ENOTFOUND, "cannot run '%s': %s", argv[0], strerror(e));
    lj->pid = pid;
    return CHASE_OK;
}

chase_job_t *chase_live_job_job(chase_live_job_t *lj)
{
    return &lj->job;
}

void chase_live_job_progress(const chase_live_job_t *lj, chase_progress_stats_t *out)
{
    chase_progress_stats(lj->progress, out);
}

int chase_live_job_interrupted(const chase_live_job_t *lj)
{
    return lj->interrupted;
}

int chase_live_job_wait(chase_live_job_t *lj, int *status, chase_err_t *err)
{
    *status = 0;
    if (lj->pid <= 0)
        return CHASE_OK;
    for (;;) {
        reap(lj);
        if (lj->child_done) {
            drain_progress(lj);
            *status = lj->child_status;
            return CHASE_OK;
        }
        struct pollfd fd = {lj->sigfd, POLLIN, 0};
        int r = poll(&fd, 1, 1000);
        if (r < 0 && errno != EINTR)
            return chase_err_set(err, CHASE_EIO, "live job: poll: %s", strerror(errno));
        if (r > 0)
            (void)read_signals(lj);
        drain_progress(lj);
    }
}

void chase_live_job_free(chase_live_job_t *lj)
{
    if (!lj)
        return;
    chase_progress_close(lj->progress);
    if (lj->sigfd >= 0) {
        /* Consume what is pending, or unblocking would deliver it now and kill chase before it reports. */
        struct signalfd_siginfo si;
        while (read(lj->sigfd, &si, sizeof si) == (ssize_t)sizeof si)
            ;
        close(lj->sigfd);
    }
    sigprocmask(SIG_SETMASK, &lj->old_mask, NULL);
    free(lj);
}
