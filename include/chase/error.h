/* Error codes and error detail shared by every chase module. */
#ifndef CHASE_ERROR_H
#define CHASE_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Every fallible function returns CHASE_OK (0) or one of these negative codes. */
typedef enum {
    CHASE_OK = 0,
    CHASE_EINVAL = -1,    /* bad argument from the caller */
    CHASE_ENOMEM = -2,    /* out of memory */
    CHASE_EIO = -3,       /* a file or socket could not be read or written */
    CHASE_EFORMAT = -4,   /* input data is malformed (file, HTTP body, message) */
    CHASE_ERANGE = -5,    /* a value is outside what is allowed */
    CHASE_ENOTSUP = -6,   /* the operation is not supported here */
    CHASE_ENODATA = -7,   /* no data for the requested time or key */
    CHASE_EPERM = -8,     /* permission denied */
    CHASE_ENOTFOUND = -9, /* a named thing (file, workload, zone, GPU) does not exist */
    CHASE_ENET = -10,     /* network failure */
    CHASE_ETIMEOUT = -11, /* an operation ran past its time limit */
    CHASE_EAUTH = -12,    /* credentials missing or refused */
    CHASE_EGPU = -13,     /* the GPU or its driver failed */
    CHASE_ESTATE = -14    /* call not valid in the object's current state */
} chase_status_t;

/* Detail of the last failure: the code and a message that names what was wrong and where. */
typedef struct chase_err {
    int code;
    char msg[512];
} chase_err_t;

/* Short static text for an error code; never NULL. */
const char *chase_strerror(int code);

/* Records code and a printf-style message in err (which may be NULL) and returns code. */
int chase_err_set(chase_err_t *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Clears err (which may be NULL). */
void chase_err_clear(chase_err_t *err);

/* Exit status a command should use for code: 2 for bad input, 1 otherwise, 0 for CHASE_OK. */
int chase_exit_status(int code);

#ifdef __cplusplus
}
#endif
#endif
