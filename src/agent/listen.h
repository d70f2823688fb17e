/* The agent's listening socket: a Unix stream socket every user may connect to (access is decided per request from
 * the kernel's credentials, not by file permissions), never taken from a live agent. */
#ifndef CHASE_AGENT_LISTEN_H
#define CHASE_AGENT_LISTEN_H

#include <sys/types.h>

#include "chase/error.h"

/* Listens on path (non-blocking, close-on-exec, mode 0666), creating its folder (0755) when missing. A socket file
 * where a live agent answers is CHASE_ESTATE; a stale one (nobody answers) is replaced; any other file there is
 * CHASE_EIO. *dev and *ino identify the socket file, so that only this agent's is removed at the end. */
int chase_agent_listen(const char *path, int *fd, dev_t *dev, ino_t *ino, chase_err_t *err);

/* Removes path when it is still the socket file identified by dev and ino. */
void chase_agent_unlisten(const char *path, dev_t dev, ino_t ino);

#endif
