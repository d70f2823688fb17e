/* Atomic file writes (see atomic_file.h). */
#include "util/atomic_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int chase_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode, chase_err_t *err)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof ".tmpXXXXXX");
    if (!tmp)
        return chase_err_set(err, CHASE_ENOMEM, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmpXXXXXX", sizeof ".tmpXXXXXX");
    int rc = CHASE_OK;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = chase_err_set(err, CHASE_EIO, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        free(tmp);
        return rc;
    }
    (void)fchmod(fd, mode); /* mkstemp makes 0600 */
    int ok = write_all(fd, data, len) == 0;
    int saved = ok ? 0 : errno;
    if (ok && fsync(fd) != 0) {
        ok = 0;
        saved = errno;
    }
    if (close(fd) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (!ok) {
        unlink(tmp);
        rc = chase_err_set(err, CHASE_EIO, "%s: write failed (%s); the file was left as it was", path,
                           strerror(saved ? saved : EIO));
    } else if (rename(tmp, path) != 0) {
        rc = chase_err_set(err, CHASE_EIO, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

int chase_file_check_writable(const char *path, chase_err_t *err)
{
    if (!path || !*path)
        return chase_err_set(err, CHASE_EINVAL, "empty file name");
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return chase_err_set(err, CHASE_EINVAL, "%s is a folder, not a file", path);
    char *dir = strdup(path);
    if (!dir)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    char *slash = strrchr(dir, '/');
    const char *d = ".";
    if (slash == dir)
        d = "/";
    else if (slash) {
        *slash = '\0';
        d = dir;
    }
    int rc = CHASE_OK;
    if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode))
        rc = chase_err_set(err, CHASE_ENOTFOUND, "%s: the folder %s does not exist", path, d);
    else if (access(d, W_OK | X_OK) != 0)
        rc = chase_err_set(err, CHASE_EPERM, "%s: cannot write in the folder %s: %s", path, d, strerror(errno));
    free(dir);
    return rc;
}
