/* Formatting a message for a callback (see notify.h). */
#include "util/notify.h"

#include <stdio.h>

void chase_notify_v(chase_notify_fn fn, void *arg, const char *fmt, va_list ap)
{
    if (!fn)
        return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fn(arg, msg);
}

void chase_notify(chase_notify_fn fn, void *arg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    chase_notify_v(fn, arg, fmt, ap);
    va_end(ap);
}
