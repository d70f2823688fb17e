/* The GPU backend "agent": GPUs reached through the node agent chased (docs/agent.md), for users who may not set
 * GPU settings themselves. It needs no NVML of its own. Opened by chase_gpu_open (backend "agent", or "auto"). */
#ifndef CHASE_AGENT_CLIENT_H
#define CHASE_AGENT_CLIENT_H

#include "chase/error.h"
#include "chase/gpu.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where chased listens unless told otherwise (chased --socket, chase --agent, CHASE_AGENT). */
#define CHASE_AGENT_DEFAULT_SOCKET "/run/chase/chased.sock"

/* Connects to the agent at socket_path and reads its GPUs. CHASE_ENOTFOUND when nothing listens there (err says how
 * to start chased or do without it), CHASE_ENOTSUP when the agent speaks another protocol version, CHASE_EIO when
 * the connection fails. The GPUs' range is the one the agent allows; claim (chase_gpu_claim) opens a session that
 * the agent ends, putting the GPUs back, when this backend is freed or its process dies. */
int chase_gpu_agent_open(const char *socket_path, chase_gpu_t **out, chase_err_t *err);

#ifdef __cplusplus
}
#endif
#endif
