/* The agent's log lines (see agent/log.h). */
#include "agent/log.h"

#include <stdarg.h>
#include <stdio.h>

void chase_agent_logf(chase_agent_log_fn log, void *arg, chase_agent_log_level_t level, const char *fmt, ...)
{
    if (!log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log(arg, level, msg);
}
