/* spank_chase.so: `srun --chase ...` (and sbatch, salloc) runs a job step under chase's carbon-aware power limits.
 *
 * In srun, sbatch and salloc the plugin only checks the user's --chase-* options against the site's settings
 * (plugstack.conf arguments), so a bad value stops the command before anything is submitted. In slurmstepd, on
 * every node of a step that asked for chase, it starts chase's helper (chase-slurm-step) before the step's tasks,
 * waits until the helper has the step's GPUs in hand (or refuses the step with the helper's reason), gives the
 * tasks CHASE_PROGRESS, and when the node's last task has ended tells the helper so and waits, bounded, for it to
 * put the GPUs back; if the helper died, it runs it once more to undo from the journal what the dead one left.
 *
 * Every callback returns quickly but two, for the same reason as Slurm's own GPU frequency reset: the step must not
 * start before chase holds its GPUs, and must not end (its GPUs go to the next job) before they are put back.
 * Without any --chase option the plugin does nothing at all. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <grp.h>
#include <slurm/slurm.h>
#include <slurm/spank.h>

#include "slurm/settings.h"
#include "slurm/step.h"

SPANK_PLUGIN(chase, 1);

#ifndef CHASE_SLURM_HELPER_PATH
#define CHASE_SLURM_HELPER_PATH "/usr/local/libexec/chase/chase-slurm-step"
#endif

extern char **environ;

/* slurmstepd runs one step per process and SPANK calls back without a handle of the plugin's own: the state of
 * this process's step lives here. */
static struct {
    chase_slurm_settings_t site, user;
    int enabled;
    char site_error[512];
    int site_parsed;
    /* the step, in slurmstepd */
    uint32_t job, step, tasks, exited;
    char node[256];
    pid_t helper;
    int ctl;
    int status;     /* the step's exit status on this node so far: the highest of its tasks' */
    char buf[4096]; /* what the helper said that is not read yet */
    size_t buf_n;
} g = {.ctl = -1};

static int on_option(int val, const char *optarg, int remote);

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int slurm_spank_init(spank_t sp, int ac, char **av)
{
    if (!g.site_parsed) {
        g.site_parsed = 1;
        if (chase_slurm_site_parse(ac, av, &g.site, g.site_error, sizeof g.site_error))
            slurm_error("chase: %s", g.site_error); /* said once per process; only --chase steps are refused */
    }
    spank_context_t ctx = spank_context();
    if (ctx != S_CTX_LOCAL && ctx != S_CTX_REMOTE && ctx != S_CTX_ALLOCATOR)
        return 0;
    for (int k = 0; k < CHASE_SLURM_N_USER; k++) {
        const chase_slurm_def_t *d = chase_slurm_def((chase_slurm_key_t)k);
        struct spank_option opt = {
            (char *)d->user_name, (char *)d->arginfo, (char *)d->usage, d->kind != CHASE_SLURM_FLAG, k, on_option};
        if (spank_option_register(sp, &opt) != ESPANK_SUCCESS)
            slurm_error("chase: cannot register --%s", d->user_name);
    }
    return 0;
}

static int on_option(int val, const char *optarg, int remote)
{
    (void)remote;
    char why[512];
    if (val < 0 || val >= CHASE_SLURM_N_USER)
        return -1;
    /* Any --chase-* option turns chase on: "#SBATCH --chase-budget=5" is enough. */
    g.enabled = 1;
    if (chase_slurm_set(&g.user, (chase_slurm_key_t)val, CHASE_SLURM_BY_USER, optarg, why, sizeof why)) {
        slurm_error("chase: %s", why);
        return -1;
    }
    return 0;
}

int slurm_spank_init_post_opt(spank_t sp, int ac, char **av)
{
    (void)sp;
    (void)ac;
    (void)av;
    if (!g.enabled)
        return 0;
    if (g.site_error[0]) {
        slurm_error("chase: this site's chase settings are wrong (%s): ask your administrator", g.site_error);
        return -1;
    }
    chase_slurm_settings_t eff = {{0}};
    char why[512];
    int rc = chase_slurm_merge(&g.site, &g.user, &eff, why, sizeof why);
    chase_slurm_settings_clear(&eff);
    if (rc) {
        slurm_error("chase: %s", why);
        return -1;
    }
    return 0;
}

/* ---- the helper ---- */

/* Relays one line of the helper's to Slurm: to slurmd's log (the helper already showed its notes and warnings on
 * the step's error stream), and the summary to the user as well. */
static void relay(const char *line)
{
    if (!strncmp(line, "warning ", 8))
        slurm_info("chase: job %u.%u on %s: warning: %s", g.job, g.step, g.node, line + 8);
    else if (!strncmp(line, "summary ", 8))
        slurm_spank_log("chase: job %u.%u: %s", g.job, g.step, line + 8);
    else if (!strncmp(line, "note ", 5) || !strncmp(line, "skip ", 5))
        slurm_info("chase: job %u.%u on %s: %s", g.job, g.step, g.node, strchr(line, ' ') + 1);
}

/* Reads the helper's next line into line (waiting until deadline, a monotonic time): 1, or 0 at its end or the
 * deadline. */
static int next_line(int fd, char *line, size_t size, double deadline)
{
    for (;;) {
        char *nl = memchr(g.buf, '\n', g.buf_n);
        if (nl) {
            size_t n = (size_t)(nl - g.buf);
            snprintf(line, size, "%.*s", (int)n, g.buf);
            memmove(g.buf, nl + 1, g.buf_n - n - 1);
            g.buf_n -= n + 1;
            return 1;
        }
        if (g.buf_n == sizeof g.buf)
            g.buf_n = 0; /* a line longer than any the helper writes */
        double left = deadline - mono();
        if (left <= 0)
            return 0;
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        ssize_t got = read(fd, g.buf + g.buf_n, sizeof g.buf - g.buf_n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return 0;
        g.buf_n += (size_t)got;
    }
}

/* Starts argv with the control socket on fd 3, as root (slurmstepd's real uid; user_init runs with the user's
 * effective ids), in a session of its own. */
static pid_t spawn(char **argv, int *ctl)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        /* Only system calls from here: slurmstepd has threads. */
        setsid();
        if (getuid() == 0 && (setresuid(0, 0, 0) || setresgid(0, 0, 0) || setgroups(0, NULL)))
            _exit(126);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        if (dup2(sv[1], 3) < 0)
            _exit(126);
        closefrom(4);
        execve(argv[0], argv, environ);
        _exit(127);
    }
    close(sv[1]);
    *ctl = sv[0];
    return pid;
}

/* Waits for pid until deadline (monotonic); 1 and *st when it ended. */
static int wait_until(pid_t pid, int *st, double deadline)
{
    for (;;) {
        pid_t r = waitpid(pid, st, WNOHANG);
        if (r == pid)
            return 1;
        if (r < 0 && errno != EINTR)
            return 1; /* not ours to wait for any more */
        if (mono() >= deadline)
            return 0;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Ends pid for good: SIGTERM, then SIGKILL. */
static void kill_helper(pid_t pid, int *st)
{
    kill(pid, SIGTERM);
    if (!wait_until(pid, st, mono() + 3)) {
        kill(pid, SIGKILL);
        wait_until(pid, st, mono() + 3);
    }
}

static double site_seconds(chase_slurm_key_t k, double dflt)
{
    double v = chase_slurm_seconds(&g.site, k);
    return v == v ? v : dflt;
}

/* Relays the helper's lines until its last ("done N") or deadline; N, or -1 when the helper ended without saying
 * (it died) or did not end in time. */
static int relay_until_done(int fd, double deadline)
{
    char line[1024];
    while (next_line(fd, line, sizeof line, deadline)) {
        int status;
        char end;
        if (sscanf(line, "done %d%c", &status, &end) == 1)
            return status;
        relay(line);
    }
    return -1;
}

/* After a helper that died or could not put every GPU back: one more, that undoes what the journal shows. */
static void restore_pass(void)
{
    chase_slurm_step_t st;
    memset(&st, 0, sizeof st);
    st.restore_only = 1;
    const chase_slurm_key_t keys[] = {CHASE_SLURM_JOURNAL_DIR, CHASE_SLURM_NVML_LIBRARY, CHASE_SLURM_AGENT};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        st.s.v[keys[i]] = g.site.v[keys[i]];
    char **argv = NULL;
    const char *path = g.site.v[CHASE_SLURM_HELPER] ? g.site.v[CHASE_SLURM_HELPER] : CHASE_SLURM_HELPER_PATH;
    int ctl = -1, st_rc = 0;
    if (chase_slurm_step_argv(path, &st, &argv)) {
        slurm_error("chase: job %u.%u on %s: out of memory: run chase restore", g.job, g.step, g.node);
        return;
    }
    pid_t pid = spawn(argv, &ctl);
    chase_slurm_step_argv_free(argv);
    if (pid < 0) {
        slurm_error("chase: job %u.%u on %s: cannot start %s to put the GPUs back: run chase restore", g.job, g.step,
                    g.node, path);
        return;
    }
    g.buf_n = 0;
    double deadline = mono() + 20;
    int done = relay_until_done(ctl, deadline);
    close(ctl);
    if (!wait_until(pid, &st_rc, deadline))
        kill_helper(pid, &st_rc);
    if (done != 0)
        slurm_error("chase: job %u.%u on %s: some GPU may not have its power limit back: run chase restore", g.job,
                    g.step, g.node);
}

/* The step ended on this node (status -1: unknown): tells the helper, relays what it says and waits for it; runs
 * the restore pass when it did not end well. */
static void stop_helper(int status)
{
    if (g.helper <= 0)
        return;
    char msg[32];
    int n = status >= 0 ? snprintf(msg, sizeof msg, "exit %d\n", status) : 0;
    if (n > 0)
        (void)!send(g.ctl, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(g.ctl, SHUT_WR);
    double deadline = mono() + site_seconds(CHASE_SLURM_STOP_TIMEOUT, CHASE_SLURM_DEFAULT_STOP_TIMEOUT_S);
    int done = relay_until_done(g.ctl, deadline), st = 0;
    if (done < 0 && mono() >= deadline)
        slurm_error("chase: job %u.%u on %s: chase did not end in time: stopping it", g.job, g.step, g.node);
    else if (done < 0)
        slurm_error("chase: job %u.%u on %s: chase died (killed?) before putting the GPUs back", g.job, g.step, g.node);
    if (!wait_until(g.helper, &st, done < 0 ? mono() : deadline))
        kill_helper(g.helper, &st);
    close(g.ctl);
    g.ctl = -1;
    g.helper = 0;
    if (done != 0 && done != 1) /* 1: it never changed anything (it refused the step) */
        restore_pass();
}

/* Reads an environment variable of the step's (as slurmstepd set it); "" when unset. */
static int step_env(spank_t sp, const char *name, char *buf, int size)
{
    spank_err_t e = spank_getenv(sp, name, buf, size);
    if (e == ESPANK_ENV_NOEXIST) {
        buf[0] = '\0';
        return 0;
    }
    return e == ESPANK_SUCCESS ? 0 : -1;
}

/* What the helper needs of this step, from slurmstepd: ids from Slurm, GPUs from the allocation (SLURM_STEP_GPUS
 * as the gres/gpu plugin set it in slurmstepd, over whatever srun sent), this node's name from slurmstepd's own
 * environment, never the job's. */
static int describe_step(spank_t sp, chase_slurm_step_t *st, char *why, size_t size)
{
    uint32_t node_id, nnodes;
    uid_t uid;
    gid_t gid;
    int argc = 0;
    char **argv = NULL;
    if (spank_get_item(sp, S_JOB_NODEID, &node_id) || spank_get_item(sp, S_JOB_NNODES, &nnodes) ||
        spank_get_item(sp, S_JOB_UID, &uid) || spank_get_item(sp, S_JOB_GID, &gid) ||
        spank_get_item(sp, S_JOB_LOCAL_TASK_COUNT, &g.tasks)) {
        snprintf(why, size, "Slurm did not say which step this is");
        return -1;
    }
    if (spank_get_item(sp, S_JOB_ARGV, &argc, &argv) == ESPANK_SUCCESS && argc > 0)
        st->command = argv;
    st->job = g.job;
    st->step = g.step;
    st->node_id = (int)node_id;
    st->n_nodes = (int)nnodes;
    st->user.uid = uid;
    st->user.gid = gid;
    const char *name = getenv("SLURMD_NODENAME"), *conf = getenv("SLURM_CONF");
    snprintf(st->node, sizeof st->node, "%s", name ? name : "");
    snprintf(st->slurm_conf, sizeof st->slurm_conf, "%s", conf && conf[0] ? conf : "/etc/slurm/slurm.conf");
    if (!st->node[0] || step_env(sp, "SLURM_STEP_NODELIST", st->nodelist, sizeof st->nodelist) || !st->nodelist[0] ||
        step_env(sp, "SLURM_STEP_GPUS", st->gres_index, sizeof st->gres_index)) {
        snprintf(why, size, "slurmstepd did not give the step's nodes or GPUs");
        return -1;
    }
    if (!getcwd(st->cwd, sizeof st->cwd)) {
        snprintf(why, size, "cannot tell the step's working folder: %s", strerror(errno));
        return -1;
    }
    snprintf(g.node, sizeof g.node, "%s", st->node);
    if (chase_slurm_merge(&g.site, &g.user, &st->s, why, size))
        return -1;
    return 0;
}

int slurm_spank_user_init(spank_t sp, int ac, char **av)
{
    (void)ac;
    (void)av;
    if (!g.enabled || !spank_remote(sp))
        return 0;
    if (spank_get_item(sp, S_JOB_ID, &g.job) || spank_get_item(sp, S_JOB_STEPID, &g.step))
        return 0;
    if (g.step == SLURM_BATCH_SCRIPT || g.step == SLURM_EXTERN_CONT || g.step == SLURM_INTERACTIVE_STEP) {
        slurm_info("chase: job %u: the batch script or interactive shell itself is not driven; chase drives the "
                   "srun steps inside it",
                   g.job);
        return 0;
    }
    chase_slurm_step_t st;
    memset(&st, 0, sizeof st);
    char why[512];
    if (g.site_error[0] || describe_step(sp, &st, why, sizeof why)) {
        slurm_error("chase: job %u.%u: %s", g.job, g.step, g.site_error[0] ? g.site_error : why);
        chase_slurm_settings_clear(&st.s);
        return -1;
    }
    char **argv = NULL;
    const char *path = g.site.v[CHASE_SLURM_HELPER] ? g.site.v[CHASE_SLURM_HELPER] : CHASE_SLURM_HELPER_PATH;
    int rc = chase_slurm_step_argv(path, &st, &argv);
    chase_slurm_settings_clear(&st.s);
    if (rc) {
        slurm_error("chase: job %u.%u: out of memory", g.job, g.step);
        return -1;
    }
    g.helper = spawn(argv, &g.ctl);
    chase_slurm_step_argv_free(argv);
    if (g.helper < 0) {
        g.helper = 0;
        slurm_error("chase: job %u.%u on %s: cannot start %s: %s", g.job, g.step, g.node, path, strerror(errno));
        return -1;
    }
    /* The step waits until chase holds its GPUs, or refuses them. */
    double deadline = mono() + site_seconds(CHASE_SLURM_START_TIMEOUT, CHASE_SLURM_DEFAULT_START_TIMEOUT_S);
    char line[1024];
    for (;;) {
        if (!next_line(g.ctl, line, sizeof line, deadline)) {
            int st_rc = 0, in_time = mono() < deadline;
            if (!wait_until(g.helper, &st_rc, mono() + (in_time ? 1 : 0)))
                kill_helper(g.helper, &st_rc);
            close(g.ctl);
            g.ctl = -1;
            g.helper = 0;
            slurm_error("chase: job %u.%u on %s: chase did not start (%s); the step is refused", g.job, g.step, g.node,
                        WIFEXITED(st_rc) && WEXITSTATUS(st_rc) == 127 ? "its helper is missing: check helper= in "
                                                                        "plugstack.conf"
                        : in_time                                     ? "its helper ended without a word"
                                  : "no answer in time: see start_timeout in plugstack.conf");
            return -1;
        }
        if (!strncmp(line, "ready ", 6)) {
            if (spank_setenv(sp, "CHASE_PROGRESS", line + 6, 1) != ESPANK_SUCCESS) {
                slurm_error("chase: job %u.%u: cannot set CHASE_PROGRESS", g.job, g.step);
                stop_helper(-1);
                return -1;
            }
            return 0;
        }
        if (!strncmp(line, "error ", 6)) {
            slurm_error("chase: job %u.%u on %s: %s; the step is refused", g.job, g.step, g.node, line + 6);
            stop_helper(-1);
            return -1;
        }
        relay(line);
        if (!strncmp(line, "skip ", 5)) {
            stop_helper(-1);
            return 0;
        }
    }
}

int slurm_spank_task_exit(spank_t sp, int ac, char **av)
{
    (void)ac;
    (void)av;
    if (g.helper <= 0 || !spank_remote(sp))
        return 0;
    int st;
    if (spank_get_item(sp, S_TASK_EXIT_STATUS, &st) == ESPANK_SUCCESS) {
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
        if (code > g.status)
            g.status = code;
    }
    if (++g.exited >= g.tasks)
        stop_helper(g.status);
    return 0;
}

int slurm_spank_exit(spank_t sp, int ac, char **av)
{
    (void)ac;
    (void)av;
    if (spank_remote(sp) && g.helper > 0)
        stop_helper(-1); /* the tasks never started, or ended unseen */
    chase_slurm_settings_clear(&g.user);
    return 0;
}
