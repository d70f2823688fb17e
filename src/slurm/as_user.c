/* One file operation as the job's user, in a child process (see as_user.h).
 *
 * The helper has threads when it writes the report, so the child only makes system calls between fork and _exit
 * (no malloc, no stdio, no strerror): it sends back a status byte, the step that failed and errno, and the parent
 * turns them into a message. */
#include "slurm/as_user.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int chase_slurm_user_init(chase_slurm_user_t *u, uid_t uid, gid_t gid, chase_err_t *err)
{
    (void)err;
    memset(u, 0, sizeof *u);
    u->uid = uid;
    u->gid = gid;
    struct passwd pw, *found = NULL;
    char buf[4096];
    int n = CHASE_SLURM_MAX_GROUPS;
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found &&
        getgrouplist(found->pw_name, gid, u->groups, &n) >= 0)
        u->n_groups = n;
    else {
        u->groups[0] = gid;
        u->n_groups = 1;
    }
    return CHASE_OK;
}

/* What the child tells the parent. */
enum {
    STEP_DROP = 'd',
    STEP_OPEN = 'o',
    STEP_READ = 'r',
    STEP_WRITE = 'w',
    STEP_RENAME = 'n',
    STEP_ACCESS = 'a',
    STEP_SIZE = 's'
};

static void child_send(int fd, char status, char step, int e)
{
    char msg[6] = {status, step};
    memcpy(msg + 2, &e, sizeof e);
    ssize_t w = write(fd, msg, sizeof msg);
    (void)w;
}

/* Becomes the user; nothing to do when this process is not root (it already runs as a user). */
static int child_drop(const chase_slurm_user_t *u)
{
    if (geteuid() != 0)
        return geteuid() == u->uid ? 0 : -1;
    if (setgroups((size_t)u->n_groups, u->groups) || setresgid(u->gid, u->gid, u->gid) ||
        setresuid(u->uid, u->uid, u->uid))
        return -1;
    if (u->uid != 0 && setuid(0) == 0) /* must be impossible now */
        return -1;
    return 0;
}

typedef enum { OP_READ, OP_WRITE, OP_CHECK } op_t;

typedef struct job {
    op_t op;
    const char *path, *tmp, *dir;
    const char *data;
    size_t len, cap;
} job_t;

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void child_main(const chase_slurm_user_t *u, const job_t *j, int out)
{
    if (child_drop(u)) {
        child_send(out, 'E', STEP_DROP, errno);
        return;
    }
    if (j->op == OP_CHECK) {
        if (access(j->path, F_OK) == 0 ? access(j->path, W_OK) : access(j->dir, W_OK | X_OK)) {
            child_send(out, 'E', STEP_ACCESS, errno);
            return;
        }
        child_send(out, 'K', 0, 0);
        return;
    }
    if (j->op == OP_READ) {
        int fd = open(j->path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
            child_send(out, 'E', STEP_OPEN, fd < 0 ? errno : EISDIR);
            return;
        }
        if ((size_t)st.st_size > j->cap) {
            child_send(out, 'E', STEP_SIZE, EFBIG);
            return;
        }
        child_send(out, 'K', 0, 0);
        char buf[16384];
        for (;;) {
            ssize_t r = read(fd, buf, sizeof buf);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0 || write_all(out, buf, (size_t)r))
                break;
        }
        close(fd);
        return;
    }
    umask(022);
    int fd = open(j->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        child_send(out, 'E', STEP_OPEN, errno);
        return;
    }
    if (write_all(fd, j->data, j->len) || fsync(fd) || close(fd)) {
        int e = errno;
        unlink(j->tmp);
        child_send(out, 'E', STEP_WRITE, e);
        return;
    }
    if (rename(j->tmp, j->path)) {
        int e = errno;
        unlink(j->tmp);
        child_send(out, 'E', STEP_RENAME, e);
        return;
    }
    child_send(out, 'K', 0, 0);
}

/* Runs j in a child as u; on success a read's bytes are in *data. */
static int run(const chase_slurm_user_t *u, const job_t *j, char **data, size_t *len, chase_err_t *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC))
        return chase_err_set(err, CHASE_EIO, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return chase_err_set(err, CHASE_EIO, "fork: %s", strerror(e));
    }
    if (pid == 0) {
        close(p[0]);
        child_main(u, j, p[1]);
        _exit(0);
    }
    close(p[1]);
    size_t cap = (j->op == OP_READ ? j->cap : 0) + 64, n = 0;
    char *buf = malloc(cap + 1);
    int rc = buf ? CHASE_OK : chase_err_set(err, CHASE_ENOMEM, "out of memory");
    for (;;) {
        char tmp[16384];
        ssize_t r = read(p[0], tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (buf && n + (size_t)r <= cap) {
            memcpy(buf + n, tmp, (size_t)r);
            n += (size_t)r;
        }
    }
    close(p[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (rc != CHASE_OK)
        return rc;
    if (n < 6) {
        free(buf);
        return chase_err_set(err, CHASE_EIO, "%s: the process acting as uid %u failed", j->path, (unsigned)u->uid);
    }
    if (buf[0] != 'K') {
        int e;
        memcpy(&e, buf + 2, sizeof e);
        char step = buf[1];
        free(buf);
        const char *what = step == STEP_DROP     ? "cannot act as the job's user"
                           : step == STEP_SIZE   ? "too large"
                           : step == STEP_RENAME ? "cannot replace it"
                           : step == STEP_WRITE  ? "cannot write it"
                           : step == STEP_ACCESS ? "not writable by the job's user"
                                                 : "cannot open it";
        int code = e == ENOENT                               ? CHASE_ENOTFOUND
                   : e == EACCES || e == EPERM || e == EROFS ? CHASE_EPERM
                   : step == STEP_SIZE                       ? CHASE_ERANGE
                                                             : CHASE_EIO;
        return chase_err_set(err, code, "%s: %s (as uid %u: %s)", j->path, what, (unsigned)u->uid,
                             step == STEP_SIZE ? "over the size limit" : strerror(e));
    }
    if (data) {
        memmove(buf, buf + 6, n - 6);
        buf[n - 6] = '\0';
        *data = buf;
        *len = n - 6;
        if (*len > j->cap) {
            free(buf);
            *data = NULL;
            return chase_err_set(err, CHASE_ERANGE, "%s: larger than %zu bytes", j->path, j->cap);
        }
    } else {
        free(buf);
    }
    return CHASE_OK;
}

int chase_slurm_user_read(const chase_slurm_user_t *u, const char *path, size_t cap, char **data, size_t *len,
                          chase_err_t *err)
{
    *data = NULL;
    *len = 0;
    job_t j = {OP_READ, path, NULL, NULL, NULL, 0, cap};
    return run(u, &j, data, len, err);
}

/* The folder of path ("." for a bare name). */
static void dir_of(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, size, ".");
    else if (slash == path)
        snprintf(dir, size, "/");
    else
        snprintf(dir, size, "%.*s", (int)(slash - path), path);
}

int chase_slurm_user_write(const chase_slurm_user_t *u, const char *path, const char *data, size_t len,
                           chase_err_t *err)
{
    static unsigned counter;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.chase-tmp-%ld-%u", path, (long)getpid(), counter++);
    job_t j = {OP_WRITE, path, tmp, NULL, data, len, 0};
    return run(u, &j, NULL, NULL, err);
}

int chase_slurm_user_can_write(const chase_slurm_user_t *u, const char *path, chase_err_t *err)
{
    char dir[4096];
    dir_of(path, dir, sizeof dir);
    job_t j = {OP_CHECK, path, NULL, dir, NULL, 0, 0};
    return run(u, &j, NULL, NULL, err);
}
