/* The agent's listening socket (see agent/listen.h). */
#include "agent/listen.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int address(const char *path, struct sockaddr_un *sa, chase_err_t *err)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (!path[0] || strlen(path) >= sizeof sa->sun_path)
        return chase_err_set(err, CHASE_EINVAL, "socket path '%.120s' is empty or longer than %zu bytes", path,
                             sizeof sa->sun_path - 1);
    memcpy(sa->sun_path, path, strlen(path) + 1);
    return CHASE_OK;
}

/* 1 when an agent answers at sa (it accepts connections, or its queue is full). */
static int answers(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 1; /* cannot tell: do not take the file */
    int rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
    int alive = rc == 0 || errno == EAGAIN || errno == EINPROGRESS;
    close(fd);
    return alive;
}

/* Creates the socket's folder when it is missing (one level, as /run/chase is for a hand-started chased). */
static int make_folder(const char *path, chase_err_t *err)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return CHASE_OK;
    *slash = '\0';
    if (mkdir(dir, 0755) == 0)
        (void)chmod(dir, 0755); /* whatever the umask (systemd's UMask=0077): users must reach the socket */
    else if (errno != EEXIST)
        return chase_err_set(err, CHASE_EIO, "cannot create the socket's folder %s: %s", dir, strerror(errno));
    return CHASE_OK;
}

int chase_agent_listen(const char *path, int *fd, dev_t *dev, ino_t *ino, chase_err_t *err)
{
    *fd = -1;
    struct sockaddr_un sa;
    int rc = address(path, &sa, err);
    if (rc != CHASE_OK || (rc = make_folder(path, err)) != CHASE_OK)
        return rc;
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return chase_err_set(err, CHASE_EIO, "%s exists and is not a socket: remove it or choose --socket", path);
        if (answers(&sa))
            return chase_err_set(err, CHASE_ESTATE, "another chased already listens on %s", path);
        if (unlink(path) != 0 && errno != ENOENT)
            return chase_err_set(err, CHASE_EIO, "cannot remove the stale socket %s: %s", path, strerror(errno));
    }
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return chase_err_set(err, CHASE_EIO, "socket: %s", strerror(errno));
    /* Everyone may connect: what a client may do is decided from its credentials, per request. */
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 || chmod(path, 0666) != 0 || listen(s, 128) != 0 ||
        stat(path, &st) != 0) {
        int e = errno;
        close(s);
        return chase_err_set(err, CHASE_EIO, "cannot listen on %s: %s", path, strerror(e));
    }
    *fd = s;
    *dev = st.st_dev;
    *ino = st.st_ino;
    return CHASE_OK;
}

void chase_agent_unlisten(const char *path, dev_t dev, ino_t ino)
{
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev && st.st_ino == ino)
        unlink(path);
}
