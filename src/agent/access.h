/* Who is at the other end of a connection, and what they may do: decided from the kernel's word (SO_PEERCRED,
 * SO_PEERGROUPS, the device number behind a descriptor), never from anything the client writes. */
#ifndef CHASE_AGENT_ACCESS_H
#define CHASE_AGENT_ACCESS_H

#include <stddef.h>
#include <sys/types.h>

#include "chase/agent.h"

/* A client as the kernel saw it when it connected. */
typedef struct chase_agent_peer {
    pid_t pid;
    uid_t uid;
    gid_t gid;
    int may_set; /* the configuration lets it open sessions */
} chase_agent_peer_t;

/* 1 when a process of uid, primary group gid and supplementary groups gids may set GPU settings under c: root,
 * a uid in allow_users, or a group (primary or supplementary) in allow_groups. */
int chase_agent_may_set(const chase_agent_config_t *c, uid_t uid, gid_t gid, const gid_t *gids, size_t n_gids);

/* Reads the credentials of the process at the other end of the connected Unix socket fd and decides may_set. */
int chase_agent_peer_read(int fd, const chase_agent_config_t *c, chase_agent_peer_t *out, chase_err_t *err);

/* CHASE_OK when fd is an open descriptor of the character device at path (same device number), the proof that the
 * client may use GPU gpu; CHASE_EINVAL naming the GPU and the file otherwise. */
int chase_agent_check_device(int fd, const char *path, int gpu, chase_err_t *err);

#endif
