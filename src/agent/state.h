/* chased's state directory: one agent at a time (a lock file), and the journal of the GPUs' original settings that
 * lets a restarted agent put back what a killed one left changed. */
#ifndef CHASE_AGENT_STATE_H
#define CHASE_AGENT_STATE_H

#include "agent/table.h"
#include "chase/gpu.h"

/* Creates dir (0700) when missing and takes its lock (dir/chased.lock) for as long as *lock_fd stays open:
 * CHASE_ESTATE when another agent holds it, CHASE_EIO when it cannot be made or read. */
int chase_agent_state_lock(const char *dir, int *lock_fd, chase_err_t *err);

/* Puts back every GPU of gpu whose original the journal in dir holds from a process that is gone (a killed agent),
 * saying each through log; journal entries of GPUs this machine does not have are left and said. */
void chase_agent_state_recover(chase_gpu_t *gpu, const char *dir, chase_agent_log_fn log, void *log_arg);

#endif
