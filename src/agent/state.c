/* The state directory of chased (see agent/state.h). */
#include "agent/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chase/gpu_group.h"
#include "chase/journal.h"

int chase_agent_state_lock(const char *dir, int *lock_fd, chase_err_t *err)
{
    *lock_fd = -1;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return chase_err_set(err, CHASE_EIO, "cannot create the state directory %s: %s", dir, strerror(errno));
    char path[1100];
    if (snprintf(path, sizeof path, "%s/chased.lock", dir) >= (int)sizeof path)
        return chase_err_set(err, CHASE_EIO, "state directory name too long");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return chase_err_set(err, CHASE_EIO, "cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        return chase_err_set(err, CHASE_ESTATE, "another chased (pid %s) uses the state directory %s",
                             pid[0] ? pid : "?", dir);
    }
    char text[32];
    int len = snprintf(text, sizeof text, "%d\n", (int)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) {
        int e = errno;
        close(fd);
        return chase_err_set(err, CHASE_EIO, "cannot write %s: %s", path, strerror(e));
    }
    *lock_fd = fd;
    return CHASE_OK;
}

typedef struct recover_log {
    chase_agent_log_fn log;
    void *arg;
} recover_log_t;

static void on_warning(void *arg, const char *msg)
{
    recover_log_t *l = arg;
    chase_agent_logf(l->log, l->arg, CHASE_AGENT_WARNING, "at start: %s", msg);
}

void chase_agent_state_recover(chase_gpu_t *gpu, const char *dir, chase_agent_log_fn log, void *log_arg)
{
    recover_log_t l = {log, log_arg};
    int n = 0;
    if (chase_gpu_count(gpu, &n, NULL) != CHASE_OK)
        n = 0;
    /* Opening a group with the journal puts back what a dead owner left (chase/gpu_group.h): one GPU at a time, so
     * that a lost GPU does not keep the others changed. */
    for (int i = 0; i < n; i++) {
        chase_gpu_group_opts_t go = {
            .gpus = &i, .n_gpus = 1, .journal_dir = dir, .on_warning = on_warning, .warning_arg = &l};
        chase_gpu_group_t *g = NULL;
        chase_err_t e;
        chase_err_clear(&e);
        if (chase_gpu_group_open(gpu, &go, &g, &e) != CHASE_OK)
            chase_agent_logf(log, log_arg, CHASE_AGENT_WARNING, "at start: GPU %d: %s", i, e.msg);
        chase_gpu_group_free(g);
    }
    chase_journal_entry_t left[64];
    size_t n_left = 0;
    if (chase_journal_list(dir, left, sizeof left / sizeof left[0], &n_left, NULL) != CHASE_OK)
        return;
    for (size_t k = 0; k < n_left; k++)
        chase_agent_logf(log, log_arg, CHASE_AGENT_ERROR,
                         "at start: the journal in %s still holds the original %g W of GPU %s (pid %d), which could "
                         "not be put back; remove its file once the GPU is set by hand",
                         dir, left[k].original.value, left[k].key, (int)left[k].pid);
}
