/* The agent's log lines: formatted once here and handed to the front end's callback (the library never prints). */
#ifndef CHASE_AGENT_LOG_H
#define CHASE_AGENT_LOG_H

#include "chase/agent.h"

/* Where log lines go (see chase_agent_opts_t.on_log). */
typedef void (*chase_agent_log_fn)(void *arg, chase_agent_log_level_t level, const char *msg);

/* Formats one line (at most 1 KiB) and gives it to log (NULL: nowhere). */
void chase_agent_logf(chase_agent_log_fn log, void *arg, chase_agent_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
