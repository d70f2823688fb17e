/* Access decisions of the agent (see agent/access.h). */
/* struct ucred (SO_PEERCRED) is a GNU extension of the socket headers. */
#define _GNU_SOURCE
#include "agent/access.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59 /* Linux 4.13; older libc headers lack the name */
#endif

int chase_agent_may_set(const chase_agent_config_t *c, uid_t uid, gid_t gid, const gid_t *gids, size_t n_gids)
{
    if (uid == 0)
        return 1;
    for (size_t i = 0; i < c->n_allow_uids; i++)
        if (c->allow_uids[i] == uid)
            return 1;
    for (size_t i = 0; i < c->n_allow_gids; i++) {
        if (c->allow_gids[i] == gid)
            return 1;
        for (size_t j = 0; j < n_gids; j++)
            if (c->allow_gids[i] == gids[j])
                return 1;
    }
    return 0;
}

/* The peer's supplementary groups, as the kernel recorded them at connect (malloc'd; *n of them). */
static gid_t *peer_groups(int fd, size_t *n, chase_err_t *err)
{
    socklen_t len = 64 * sizeof(gid_t);
    for (int tries = 0; tries < 3; tries++) {
        gid_t *gids = malloc(len ? len : sizeof(gid_t));
        if (!gids) {
            chase_err_set(err, CHASE_ENOMEM, "out of memory");
            return NULL;
        }
        socklen_t got = len;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, gids, &got) == 0) {
            *n = got / sizeof(gid_t);
            return gids;
        }
        free(gids);
        if (errno != ERANGE || got <= len)
            break;
        len = got; /* the kernel says how much it needs */
    }
    chase_err_set(err, CHASE_EIO, "cannot read the client's groups (SO_PEERGROUPS): %s", strerror(errno));
    return NULL;
}

int chase_agent_peer_read(int fd, const chase_agent_config_t *c, chase_agent_peer_t *out, chase_err_t *err)
{
    memset(out, 0, sizeof *out);
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred)
        return chase_err_set(err, CHASE_EIO, "cannot read the client's credentials (SO_PEERCRED): %s", strerror(errno));
    out->pid = cred.pid;
    out->uid = cred.uid;
    out->gid = cred.gid;
    size_t n = 0;
    gid_t *gids = NULL;
    /* Groups matter only when the uid alone does not decide. */
    if (!chase_agent_may_set(c, cred.uid, cred.gid, NULL, 0) && c->n_allow_gids > 0) {
        if (!(gids = peer_groups(fd, &n, err)))
            return err ? err->code : CHASE_EIO;
    }
    out->may_set = chase_agent_may_set(c, cred.uid, cred.gid, gids, n);
    free(gids);
    return CHASE_OK;
}

int chase_agent_check_device(int fd, const char *path, int gpu, chase_err_t *err)
{
    struct stat want, got;
    if (stat(path, &want) != 0)
        return chase_err_set(err, CHASE_EINVAL, "GPU %d's device file %s cannot be checked: %s", gpu, path,
                             strerror(errno));
    if (!S_ISCHR(want.st_mode))
        return chase_err_set(err, CHASE_EINVAL, "GPU %d's device file %s is not a character device", gpu, path);
    if (fstat(fd, &got) != 0 || !S_ISCHR(got.st_mode) || got.st_rdev != want.st_rdev)
        return chase_err_set(err, CHASE_EINVAL,
                             "the descriptor sent for GPU %d is not its device file %s (character device %u:%u): "
                             "only a process that may open the GPU may set it",
                             gpu, path, major(want.st_rdev), minor(want.st_rdev));
    return CHASE_OK;
}
