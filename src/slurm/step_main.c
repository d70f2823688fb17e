/* chase-slurm-step: the process the Slurm plugin starts on each node of a step run with --chase (the plugin's
 * callbacks must return quickly; this process lives as long as the step). It finds the step's GPUs on its node from
 * Slurm's allocation, opens them, and leads (node 0) or follows (the others); with --restore it only puts back what
 * a dead helper left changed.
 *
 * Its exit status: 0, 1 when the step could not be set up (said on the control socket), 2 for a bad command line,
 * 3 when some GPU may not have its original setting back (the plugin then runs --restore). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chase/journal.h"
#include "slurm/gres.h"
#include "slurm/helper.h"
#include "slurm/hostlist.h"

/* The folder for progress sockets and staged files: made (0711: the users' tasks pass through it to their own
 * sockets) when missing. */
static int make_rundir(chase_slurm_helper_t *h, chase_err_t *err)
{
    /* With the agent the helper runs as the user, who makes private folders in a place open to all (sticky). */
    const char *dir = h->st.s.v[CHASE_SLURM_RUNDIR] ? h->st.s.v[CHASE_SLURM_RUNDIR]
                      : h->agent                    ? "/tmp"
                                                    : CHASE_SLURM_DEFAULT_RUNDIR;
    snprintf(h->rundir, sizeof h->rundir, "%s", dir);
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    /* mkdir applies the helper's umask (077): what it makes gets its mode with chmod. */
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) == 0)
            chmod(path, 0755);
        else if (errno != EEXIST)
            return chase_err_set(err, CHASE_EIO, "cannot make %s: %s", path, strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0711) == 0)
        chmod(path, 0711);
    else if (errno != EEXIST)
        return chase_err_set(err, CHASE_EIO, "cannot make %s: %s", path, strerror(errno));
    return CHASE_OK;
}

/* The step's GPUs on this node, from Slurm's allocation. *n = 0 when it has none here. */
static int find_gpus(chase_slurm_helper_t *h, int *minors, int *n, chase_err_t *err)
{
    *n = 0;
    int yes = 0, rc = chase_slurm_gres_types_gpu(h->st.slurm_conf, &yes, err);
    if (rc != CHASE_OK)
        return rc;
    if (!yes)
        return chase_err_set(err, CHASE_ENOTSUP,
                             "slurm.conf's GresTypes does not name gpu: Slurm then tells no step which GPUs it has, "
                             "and chase drives only a step's own GPUs");
    if (!h->st.gres_index[0])
        return CHASE_OK;
    char gres_conf[4200];
    snprintf(gres_conf, sizeof gres_conf, "%s", h->st.slurm_conf);
    char *slash = strrchr(gres_conf, '/');
    snprintf(slash ? slash + 1 : gres_conf, sizeof gres_conf - (size_t)(slash ? slash + 1 - gres_conf : 0),
             "gres.conf");
    char **files;
    size_t n_files, count;
    if ((rc = chase_slurm_gres_files(gres_conf, h->st.node, &files, &n_files, err)) != CHASE_OK)
        return rc;
    rc = chase_slurm_gres_minors(files, n_files, h->st.gres_index, minors, CHASE_SLURM_MAX_STEP_GPUS, &count, err);
    chase_slurm_hostlist_free(files, n_files);
    *n = (int)count;
    return rc;
}

static int open_backend(chase_slurm_helper_t *h, chase_err_t *err)
{
    chase_gpu_open_opts_t go = {0};
    if (h->agent) {
        go.backend = "agent";
        go.agent_socket = h->st.s.v[CHASE_SLURM_AGENT];
    }
    chase_err_t e;
    chase_err_clear(&e);
    int rc = chase_gpu_open(&go, &h->gpu, &e);
    if (rc != CHASE_OK)
        return chase_err_set(err, rc, "cannot open the GPUs: %s", e.msg);
    return CHASE_OK;
}

/* With the node agent, the helper has no business being root: it becomes the job's user for good. */
static int become_user(chase_slurm_helper_t *h, chase_err_t *err)
{
    const chase_slurm_user_t *u = &h->st.user;
    if (geteuid() != 0)
        return CHASE_OK;
    if (setgroups((size_t)u->n_groups, u->groups) || setresgid(u->gid, u->gid, u->gid) ||
        setresuid(u->uid, u->uid, u->uid))
        return chase_err_set(err, CHASE_EPERM, "cannot become uid %u: %s", (unsigned)u->uid, strerror(errno));
    return CHASE_OK;
}

/* --restore: puts back the GPUs whose journal entries dead helpers left. */
static int restore_only(chase_slurm_helper_t *h)
{
    char dir[4096];
    chase_err_t err;
    chase_err_clear(&err);
    int rc = CHASE_OK;
    if (h->st.s.v[CHASE_SLURM_JOURNAL_DIR])
        snprintf(dir, sizeof dir, "%s", h->st.s.v[CHASE_SLURM_JOURNAL_DIR]);
    else
        rc = chase_journal_default_dir(dir, sizeof dir, &err);
    if (rc == CHASE_OK)
        rc = open_backend(h, &err);
    chase_journal_result_t res[64];
    size_t n = 0;
    if (rc == CHASE_OK)
        rc = chase_journal_restore(h->gpu, dir, 0, res, 64, &n, &err);
    if (rc != CHASE_OK) {
        chase_slurm_ctl_line(h, "warning", err.msg);
        return 3;
    }
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (res[i].outcome == CHASE_JOURNAL_OWNER_ALIVE)
            continue;
        failed |= res[i].outcome == CHASE_JOURNAL_FAILED;
        char line[600];
        snprintf(line, sizeof line, "put back after a dead helper: %s", res[i].message);
        chase_slurm_ctl_line(h, res[i].outcome == CHASE_JOURNAL_FAILED ? "warning" : "note", line);
    }
    return failed ? 3 : 0;
}

static int run(chase_slurm_helper_t *h, int argc, char **argv);

/* The last line to the plugin says how the helper ended: slurmstepd reaps any child of its own (the helper
 * included) with wait3, so the plugin cannot count on waitpid for the status; a socket that ends without this line
 * means the helper died. */
int main(int argc, char **argv)
{
    chase_slurm_helper_t h;
    memset(&h, 0, sizeof h);
    pthread_mutex_init(&h.lock, NULL);
    h.ctl = fcntl(CHASE_SLURM_CTL_FD, F_GETFD) == -1 ? -1 : CHASE_SLURM_CTL_FD;
    if (h.ctl >= 0)
        fcntl(h.ctl, F_SETFD, FD_CLOEXEC);
    int status = run(&h, argc, argv);
    char text[16];
    snprintf(text, sizeof text, "%d", status);
    chase_slurm_ctl_line(&h, "done", text);
    return status;
}

/* Finds the step's GPUs on this node, opens them, and leads or follows: the helper's exit status. */
static int serve(chase_slurm_helper_t *h)
{
    chase_err_t err;
    chase_err_clear(&err);
    int minors[CHASE_SLURM_MAX_STEP_GPUS], n = 0;
    int rc = find_gpus(h, minors, &n, &err);
    if (rc == CHASE_OK && n == 0) {
        char why[400];
        snprintf(why, sizeof why, "the step has no GPU on node %s: chase leaves it alone", h->st.node);
        chase_slurm_ctl_line(h, "skip", why);
        return 0;
    }
    if (rc == CHASE_OK)
        rc = make_rundir(h, &err);
    if (rc == CHASE_OK && h->agent)
        rc = become_user(h, &err);
    if (rc == CHASE_OK)
        rc = open_backend(h, &err);
    if (rc == CHASE_OK)
        rc = chase_slurm_map_gpus(h, minors, n, &err);
    if (rc != CHASE_OK) {
        chase_slurm_ctl_line(h, "error", err.msg);
        fprintf(stderr, "chase-slurm-step: %s\n", err.msg);
        return 1;
    }
    return h->st.node_id == 0 ? chase_slurm_leader_run(h) : chase_slurm_follower_run(h);
}

static int run(chase_slurm_helper_t *h, int argc, char **argv)
{
    umask(077);
    chase_err_t err;
    chase_err_clear(&err);
    int status = 2;
    if (chase_slurm_step_parse(argc, argv, &h->st, &err) != CHASE_OK) {
        fprintf(stderr, "chase-slurm-step: %s\n", err.msg);
        chase_slurm_ctl_line(h, "error", err.msg);
    } else {
        if (h->st.s.v[CHASE_SLURM_NVML_LIBRARY])
            setenv("CHASE_NVML_LIBRARY", h->st.s.v[CHASE_SLURM_NVML_LIBRARY], 1);
        h->agent = h->st.s.v[CHASE_SLURM_AGENT] != NULL;
        h->peer_uid = h->agent ? h->st.user.uid : geteuid();
        /* chdir: hold no user folder busy. */
        status = chdir("/") ? 1 : h->st.restore_only ? restore_only(h) : serve(h);
    }
    chase_gpu_free(h->gpu);
    for (size_t i = 0; i < h->n_warnings; i++)
        free(h->warnings[i]);
    free(h->warnings);
    chase_slurm_step_free(&h->st);
    return status;
}
