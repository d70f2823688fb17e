/* The agent's table: the machine's GPUs as users may see and set them (which ones, in what range, through which
 * device file), and the sessions that hold them. A session holds one GPU group per GPU (chase/gpu_group.h), so the
 * group's promises hold here too: the original setting is journaled in the state directory before the first change
 * and put back, with retries, when the session ends. No sockets here: the server (agent/server.c) decides when a
 * session ends; this file decides whether a claim or a set is allowed and does it. */
#ifndef CHASE_AGENT_TABLE_H
#define CHASE_AGENT_TABLE_H

#include <stddef.h>

#include "agent/access.h"
#include "agent/log.h"
#include "chase/agent.h"
#include "gpu/agent_proto.h"

typedef struct chase_agent_table chase_agent_table_t;
typedef struct chase_agent_session chase_agent_session_t;

/* Reads every GPU of gpu (borrowed) and checks cfg (borrowed) against them: a GPU index NVML does not have, a range
 * that leaves a GPU nothing to set, or device access required where NVML names no device file is CHASE_EFORMAT
 * with cfg's file and line. Journal files go to state_dir. */
int chase_agent_table_open(const chase_agent_config_t *cfg, chase_gpu_t *gpu, const char *state_dir,
                           chase_agent_log_fn log, void *log_arg, chase_agent_table_t **out, chase_err_t *err);

/* Ends every session (see chase_agent_table_release) and frees t (NULL is fine). */
void chase_agent_table_free(chase_agent_table_t *t);

/* How many GPUs the machine has, and how many sessions are open. */
int chase_agent_table_size(const chase_agent_table_t *t);
size_t chase_agent_table_sessions(const chase_agent_table_t *t);

/* GPU idx as users see it, read now: its range is the one chased allows (the GPU's own for GPUs it does not
 * manage), with its holder. CHASE_ENOTFOUND for an index the machine does not have. */
int chase_agent_table_describe(chase_agent_table_t *t, int idx, chase_agent_gpu_t *out, chase_err_t *err);

/* GPU idx's energy counter (J). */
int chase_agent_table_energy(chase_agent_table_t *t, int idx, double *joules, chase_err_t *err);

/* Opens a session of peer on gpus[0..n): CHASE_EPERM when peer may not set, CHASE_ENOTFOUND for a GPU the machine
 * does not have, CHASE_EINVAL for one chased does not manage or (require_device_access) whose descriptor in
 * fds[0..n_fds) is missing or not its device file, CHASE_ESTATE for one another session holds (err names its uid).
 * Nothing changes on any GPU. The caller keeps and closes fds. */
int chase_agent_table_claim(chase_agent_table_t *t, const chase_agent_peer_t *peer, const int *gpus, int n,
                            const int *fds, int n_fds, chase_agent_session_t **out, chase_err_t *err);

/* Sets GPU gpu of session s to v: CHASE_ESTATE when s does not hold it, CHASE_ERANGE outside the range chased
 * allows (the value the GPU had when the session took it is always allowed: it puts the GPU back). */
int chase_agent_table_set(chase_agent_table_t *t, chase_agent_session_t *s, int gpu, const chase_setting_t *v,
                          chase_err_t *err);

/* Ends session s for the reason why ("released", "connection closed"): every GPU it changed is put back, the GPUs
 * are free again, s is freed. The error names the GPUs that could not be put back (their originals stay in the
 * journal, for the next start of chased). */
int chase_agent_table_release(chase_agent_table_t *t, chase_agent_session_t *s, const char *why, chase_err_t *err);

/* What session s holds: its id, its GPUs and the setting each had when the session took it. */
unsigned long long chase_agent_session_id(const chase_agent_session_t *s);
int chase_agent_session_size(const chase_agent_session_t *s);
int chase_agent_session_gpu(const chase_agent_session_t *s, int i);
double chase_agent_session_original(const chase_agent_session_t *s, int i);

#endif
