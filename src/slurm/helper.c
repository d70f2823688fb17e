/* The helper's shared plumbing (see helper.h). */
#include "slurm/helper.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

double chase_slurm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void chase_slurm_ctl_line(chase_slurm_helper_t *h, const char *kind, const char *text)
{
    if (h->ctl < 0)
        return;
    char line[1024];
    int n = snprintf(line, sizeof line, "%s %s", kind, text);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2;
    for (int i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    /* Never block: the plugin reads these lines only when the step ends. */
    ssize_t w = send(h->ctl, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)w;
}

void chase_slurm_say(chase_slurm_helper_t *h, chase_slurm_level_t level, const char *fmt, ...)
{
    char text[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&h->lock);
    /* stderr is slurmstepd's: the step's own error stream (srun's terminal, sbatch's output file), so the user
     * sees what chase says as it happens; the plugin also puts it in slurmd's log when the step ends. */
    fprintf(stderr, "chase: job %u.%u on %s: %s%s\n", h->st.job, h->st.step, h->st.node,
            level == CHASE_SLURM_WARNING ? "warning: " : "", text);
    chase_slurm_ctl_line(h, level == CHASE_SLURM_WARNING ? "warning" : "note", text);
    if (level == CHASE_SLURM_WARNING && h->n_warnings < 64) {
        char **w = realloc(h->warnings, (h->n_warnings + 1) * sizeof *w);
        if (w) {
            h->warnings = w;
            if ((w[h->n_warnings] = strdup(text)))
                h->n_warnings++;
        }
    }
    pthread_mutex_unlock(&h->lock);
}

int chase_slurm_exit_status(chase_slurm_helper_t *h, double timeout_s)
{
    if (h->ctl < 0)
        return -1;
    char buf[256];
    size_t n = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        char *nl = memchr(buf, '\n', n);
        if (nl) {
            *nl = '\0';
            int status;
            char end;
            if (sscanf(buf, "exit %d%c", &status, &end) == 1 && status >= 0 && status <= 255)
                return status;
            return -1;
        }
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        double left = timeout_s - ((double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) * 1e-9);
        if (left <= 0 || n == sizeof buf)
            return -1;
        struct pollfd p = {h->ctl, POLLIN, 0};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t got = recv(h->ctl, buf + n, sizeof buf - n, MSG_DONTWAIT);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got <= 0)
            return -1; /* the plugin closed without saying: slurmstepd itself is gone */
        n += (size_t)got;
    }
}

int chase_slurm_map_gpus(chase_slurm_helper_t *h, const int *minors, int n, chase_err_t *err)
{
    int count = 0, rc = chase_gpu_count(h->gpu, &count, err);
    if (rc != CHASE_OK)
        return rc;
    h->n_gpus = 0;
    for (int k = 0; k < n; k++) {
        int found = -1;
        for (int i = 0; i < count && found < 0; i++) {
            chase_gpu_info_t info;
            chase_err_t e;
            if (chase_gpu_info(h->gpu, i, &info, &e) == CHASE_OK && info.minor == minors[k])
                found = i;
        }
        if (found < 0)
            return chase_err_set(err, CHASE_ENOTFOUND,
                                 "the step's GPU /dev/nvidia%d (minor %d) is not among the %d GPUs the %s backend "
                                 "reports (or it cannot tell their minor numbers)",
                                 minors[k], minors[k], count, chase_gpu_backend(h->gpu));
        h->gpus[h->n_gpus++] = found;
    }
    return CHASE_OK;
}

int chase_slurm_give_progress(chase_slurm_helper_t *h, const char *address, chase_err_t *err)
{
    if (strncmp(address, "unix:/", 6))
        return chase_err_set(err, CHASE_EINVAL, "unexpected progress address %s", address);
    char sock[4096], dir[4096];
    snprintf(sock, sizeof sock, "%s", address + 5);
    snprintf(dir, sizeof dir, "%s", sock);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return chase_err_set(err, CHASE_EINVAL, "unexpected progress address %s", address);
    *slash = '\0';
    if (geteuid() != 0)
        return CHASE_OK; /* it is already the user's */
    if (chown(dir, h->st.user.uid, h->st.user.gid) || chown(sock, h->st.user.uid, h->st.user.gid))
        return chase_err_set(err, CHASE_EIO, "cannot give %s to uid %u: %s", sock, (unsigned)h->st.user.uid,
                             strerror(errno));
    return CHASE_OK;
}
