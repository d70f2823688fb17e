/* The live job: the training command as a child process, driven on the wall clock.
 *
 * Every signal that would end chase by default (but SIGKILL and SIGSTOP, which cannot be caught, and the faults of
 * chase's own code) is blocked and read from a signalfd, so a period boundary, the child's exit and an interruption
 * are plain events of one poll loop, and the GPUs are put back before chase goes. SIGPIPE is ignored: a closed pipe
 * on chase's stderr (`chase run ... | head`) must not kill it. A thread reads the progress socket all the time, so
 * no report is lost while the control thread computes or waits on anything else. */
#include "chase/live.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
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

/* The signals whose default action ends the process and that can be caught. */
static const int terminating[] = {SIGINT,  SIGTERM, SIGHUP,    SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM,
                                  SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ, SIGPWR,
#ifdef SIGSTKFLT
                                  SIGSTKFLT,
#endif
                                  SIGIO};

struct chase_live_job {
    chase_job_t job;
    chase_progress_t *progress;
    pthread_mutex_t lock; /* guards progress: the reader thread and the control thread share it */
    pthread_t reader;
    int reader_running;
    int stop_pipe[2]; /* written to stop the reader */
    int sigfd;
    sigset_t blocked, old_mask;
    struct sigaction old_pipe;
    pid_t pid; /* 0: no child */
    int watch_fd;   /* a job without a child: it ends when this becomes readable or hangs up (-1: not watched) */
    int watch_done;
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

const char *chase_signal_abbrev(int sig)
{
    switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    case SIGQUIT: return "SIGQUIT";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    case SIGALRM: return "SIGALRM";
    case SIGVTALRM: return "SIGVTALRM";
    case SIGPROF: return "SIGPROF";
    case SIGXCPU: return "SIGXCPU";
    case SIGXFSZ: return "SIGXFSZ";
    case SIGPWR: return "SIGPWR";
#ifdef SIGSTKFLT
    case SIGSTKFLT: return "SIGSTKFLT";
#endif
    case SIGIO: return "SIGIO";
    case SIGPIPE: return "SIGPIPE";
    case SIGKILL: return "SIGKILL";
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
    pthread_mutex_lock(&lj->lock);
    (void)chase_progress_drain(lj->progress, wall_now(), NULL);
    pthread_mutex_unlock(&lj->lock);
}

/* The reader thread: drains the progress socket as datagrams arrive, until told to stop. */
static void *reader_main(void *arg)
{
    chase_live_job_t *lj = arg;
    for (;;) {
        struct pollfd fds[2] = {{chase_progress_fd(lj->progress), POLLIN, 0}, {lj->stop_pipe[0], POLLIN, 0}};
        int r = poll(fds, 2, -1);
        if (r < 0 && errno != EINTR)
            return NULL;
        if (r > 0 && fds[1].revents)
            return NULL;
        if (r > 0 && fds[0].revents)
            drain_progress(lj);
    }
}

/* Whether the job is over: its child exited, or, for a watched job, the watched descriptor said so. */
static int job_over(chase_live_job_t *lj)
{
    if (lj->watch_fd >= 0)
        return lj->watch_done;
    reap(lj);
    return lj->pid <= 0 || lj->child_done;
}

static int job_run_until(void *self, double t_end, int *finished, chase_err_t *err)
{
    chase_live_job_t *lj = self;
    *finished = 0;
    if (lj->interrupted)
        return chase_err_set(err, CHASE_ESTATE, "interrupted by %s", chase_signal_abbrev(lj->interrupted));
    for (;;) {
        if (job_over(lj)) {
            drain_progress(lj); /* the job's last report was queued before it ended */
            *finished = 1;
            return CHASE_OK;
        }
        double now = wall_now();
        /* Wake at least once a second: SIGCHLD can be lost to a coalesced signal, waitpid cannot. A signal already
         * pending is read even when the period is over. */
        double wait = now < t_end ? fmin(t_end - now, 1.0) : 0;
        struct pollfd fds[2] = {{lj->sigfd, POLLIN, 0}, {lj->watch_fd, POLLIN, 0}}; /* a negative fd is skipped */
        int r = poll(fds, 2, (int)ceil(wait * 1000));
        if (r < 0 && errno != EINTR)
            return chase_err_set(err, CHASE_EIO, "live job: poll: %s", strerror(errno));
        if (r > 0 && (fds[0].revents & POLLIN)) {
            int sig = read_signals(lj);
            if (sig)
                return chase_err_set(err, CHASE_ESTATE, "interrupted by %s", chase_signal_abbrev(sig));
        }
        if (r > 0 && fds[1].revents)
            lj->watch_done = 1; /* data, end of file, or an error: the watcher's side is done with the job */
        if (!(wall_now() < t_end) && !job_over(lj))
            return CHASE_OK;
    }
}

static double job_work_done(void *self)
{
    chase_live_job_t *lj = self;
    chase_progress_stats_t st;
    chase_live_job_progress(lj, &st);
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
    lj->watch_fd = -1;
    lj->stop_pipe[0] = lj->stop_pipe[1] = -1;
    lj->job.ops = &live_job_ops;
    lj->job.self = lj;
    pthread_mutex_init(&lj->lock, NULL);
    sigemptyset(&lj->blocked);
    for (size_t i = 0; i < sizeof terminating / sizeof terminating[0]; i++)
        sigaddset(&lj->blocked, terminating[i]);
    sigaddset(&lj->blocked, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &lj->blocked, &lj->old_mask) != 0) {
        int e = errno;
        pthread_mutex_destroy(&lj->lock);
        free(lj);
        return chase_err_set(err, CHASE_EIO, "live job: sigprocmask: %s", strerror(e));
    }
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &lj->old_pipe);
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
    if (pipe(lj->stop_pipe) != 0 || fcntl(lj->stop_pipe[0], F_SETFD, FD_CLOEXEC) != 0 ||
        fcntl(lj->stop_pipe[1], F_SETFD, FD_CLOEXEC) != 0) {
        int e = errno;
        chase_live_job_free(lj);
        return chase_err_set(err, CHASE_EIO, "live job: pipe: %s", strerror(e));
    }
    /* The thread inherits the blocked signals: only the control thread's signalfd reads them. */
    if ((rc = pthread_create(&lj->reader, NULL, reader_main, lj)) != 0) {
        chase_live_job_free(lj);
        return chase_err_set(err, CHASE_EIO, "live job: cannot start the progress reader: %s", strerror(rc));
    }
    lj->reader_running = 1;
    *out = lj;
    return CHASE_OK;
}

int chase_live_job_pending(chase_live_job_t *lj)
{
    if (!lj->interrupted)
        (void)read_signals(lj);
    return lj->interrupted;
}

/* Whether environ entry e is NAME=... for one of names. */
static int hidden(const char *e, const char *const *names)
{
    for (size_t i = 0; names && names[i]; i++) {
        size_t n = strlen(names[i]);
        if (!strncmp(e, names[i], n) && e[n] == '=')
            return 1;
    }
    return 0;
}

int chase_live_job_spawn(chase_live_job_t *lj, char *const argv[], const char *const *hide_env, chase_err_t *err)
{
    if (!argv || !argv[0] || !argv[0][0])
        return chase_err_set(err, CHASE_EINVAL, "live job: no command to run");
    if (lj->pid > 0)
        return chase_err_set(err, CHASE_ESTATE, "live job: a child is already running");
    if (lj->watch_fd >= 0)
        return chase_err_set(err, CHASE_ESTATE, "live job: a watched job has no child of its own");
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
    const char *own[] = {CHASE_PROGRESS_ENV, NULL};
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++)
        if (!hidden(environ[i], own) && !hidden(environ[i], hide_env))
            envp[k++] = environ[i];
    envp[k++] = var;
    envp[k] = NULL;

    /* The child gets the signal mask and the SIGPIPE disposition chase itself was given. */
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &lj->old_mask);
    sigset_t def;
    sigemptyset(&def);
    if (lj->old_pipe.sa_handler != SIG_IGN)
        sigaddset(&def, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
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

int chase_live_job_watch(chase_live_job_t *lj, int fd, chase_err_t *err)
{
    if (fd < 0)
        return chase_err_set(err, CHASE_EINVAL, "live job: no descriptor to watch");
    if (lj->pid > 0)
        return chase_err_set(err, CHASE_ESTATE, "live job: it has a child of its own; a watched job has none");
    lj->watch_fd = fd;
    lj->watch_done = 0;
    return CHASE_OK;
}

const char *chase_live_job_address(const chase_live_job_t *lj)
{
    return chase_progress_address(lj->progress);
}

chase_job_t *chase_live_job_job(chase_live_job_t *lj)
{
    return &lj->job;
}

void chase_live_job_progress(chase_live_job_t *lj, chase_progress_stats_t *out)
{
    pthread_mutex_lock(&lj->lock);
    chase_progress_stats(lj->progress, out);
    pthread_mutex_unlock(&lj->lock);
}

void chase_live_job_record(chase_live_job_t *lj, chase_run_record_t *rec)
{
    chase_progress_stats_t ps;
    chase_live_job_progress(lj, &ps);
    rec->steps = ps.steps;
    rec->samples = ps.samples;
    rec->messages = (double)ps.messages;
    rec->malformed = (double)ps.malformed;
    rec->ranks = ps.ranks;
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
    }
}

void chase_live_job_free(chase_live_job_t *lj)
{
    if (!lj)
        return;
    if (lj->reader_running) {
        ssize_t w = write(lj->stop_pipe[1], "x", 1);
        (void)w;
        pthread_join(lj->reader, NULL);
    }
    for (int i = 0; i < 2; i++)
        if (lj->stop_pipe[i] >= 0)
            close(lj->stop_pipe[i]);
    chase_progress_close(lj->progress);
    if (lj->sigfd >= 0) {
        /* Consume what is pending, or unblocking would deliver it now and kill chase before it reports. */
        struct signalfd_siginfo si;
        while (read(lj->sigfd, &si, sizeof si) == (ssize_t)sizeof si)
            ;
        close(lj->sigfd);
    }
    sigaction(SIGPIPE, &lj->old_pipe, NULL);
    sigprocmask(SIG_SETMASK, &lj->old_mask, NULL);
    pthread_mutex_destroy(&lj->lock);
    free(lj);
}
