/* Input files that must be regular files (see file.h). The check is made on the descriptor opened with O_NONBLOCK:
 * checking the path first would leave a window for it to be swapped, and a plain open of a FIFO blocks until a
 * writer comes, with SIGINT still masked by chase run. */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/escape.h"

static const char *kind_of(mode_t m)
{
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISSOCK(m))
        return "a socket";
    return "not a plain file";
}

static int open_regular_fd(const char *path, int *fd_out, chase_err_t *err)
{
    char ep[256];
    if (!path || !*path)
        return chase_err_set(err, CHASE_EINVAL, "missing file name");
    chase_escape(path, ep, sizeof ep);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return chase_err_set(err, CHASE_ENOTFOUND, "%s: cannot open: %s", ep, strerror(e));
        if (e == EISDIR)
            return chase_err_set(err, CHASE_EINVAL, "%s: is a directory, not a file", ep);
        return chase_err_set(err, CHASE_EIO, "%s: cannot open: %s", ep, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return chase_err_set(err, CHASE_EIO, "%s: cannot read: %s", ep, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return chase_err_set(err, CHASE_EINVAL, "%s: is %s, not a regular file", ep, kind_of(st.st_mode));
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    *fd_out = fd;
    return CHASE_OK;
}

int chase_file_open_regular(const char *path, FILE **out, chase_err_t *err)
{
    int fd = -1;
    int rc = open_regular_fd(path, &fd, err);
    if (rc)
        return rc;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory opening a file");
    }
    *out = f;
    return CHASE_OK;
}

int chase_file_read_regular(const char *path, size_t max, char **text, size_t *len, chase_err_t *err)
{
    int fd = -1;
    int rc = open_regular_fd(path, &fd, err);
    if (rc)
        return rc;
    char ep[256];
    chase_escape(path, ep, sizeof ep);
    /* The size from fstat is only a hint: files under /proc say 0 and a file may grow while it is read. */
    struct stat st;
    size_t cap = fstat(fd, &st) == 0 && st.st_size > 0 && (size_t)st.st_size < max ? (size_t)st.st_size + 1 : 4096;
    size_t n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) {
            close(fd);
            return chase_err_set(err, CHASE_ENOMEM, "%s: out of memory reading the file", ep);
        }
        if (n == cap) {
            if (cap > max) {
                free(buf);
                close(fd);
                return chase_err_set(err, CHASE_EFORMAT, "%s: larger than %zu bytes", ep, max);
            }
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *more = realloc(buf, cap + 1);
            if (!more)
                free(buf);
            buf = more;
            continue;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return chase_err_set(err, CHASE_EIO, "%s: cannot read: %s", ep, strerror(e));
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    if (n > max) {
        free(buf);
        return chase_err_set(err, CHASE_EFORMAT, "%s: larger than %zu bytes", ep, max);
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return CHASE_OK;
}
