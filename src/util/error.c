/* Error codes and detail messages. */
#include "chase/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *chase_strerror(int code)
{
    switch (code) {
    case CHASE_OK: return "success";
    case CHASE_EINVAL: return "invalid argument";
    case CHASE_ENOMEM: return "out of memory";
    case CHASE_EIO: return "input/output error";
    case CHASE_EFORMAT: return "malformed input";
    case CHASE_ERANGE: return "value out of range";
    case CHASE_ENOTSUP: return "not supported";
    case CHASE_ENODATA: return "no data";
    case CHASE_EPERM: return "permission denied";
    case CHASE_ENOTFOUND: return "not found";
    case CHASE_ENET: return "network error";
    case CHASE_ETIMEOUT: return "timed out";
    case CHASE_EAUTH: return "authentication failed";
    case CHASE_EGPU: return "GPU error";
    case CHASE_ESTATE: return "invalid state";
    default: return "unknown error";
    }
}

int chase_err_set(chase_err_t *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void chase_err_clear(chase_err_t *err)
{
    if (err) {
        err->code = CHASE_OK;
        err->msg[0] = '\0';
    }
}

int chase_exit_status(int code)
{
    switch (code) {
    case CHASE_OK: return 0;
    case CHASE_EINVAL:
    case CHASE_EFORMAT:
    case CHASE_ERANGE:
    case CHASE_ENOTFOUND: return 2;
    default: return 1;
    }
}
