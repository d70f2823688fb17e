/* A small HTTP GET client over libcurl for the live carbon providers: timeouts, retries with backoff, a size cap. */
#ifndef CHASE_SIGNAL_HTTP_H
#define CHASE_SIGNAL_HTTP_H

#include <stdatomic.h>
#include <stddef.h>

#include "chase/error.h"

#define CHASE_HTTP_MAX_BYTES ((size_t)4 << 20)

/* How requests are made; chase_http_opts_default fills the production values. */
typedef struct chase_http_opts {
    double connect_timeout_s; /* TCP + TLS handshake */
    double timeout_s;         /* whole request, one attempt */
    int retries;              /* extra attempts after a network error, a timeout, 429 or 5xx */
    double backoff_s;         /* first wait; doubles each retry, with jitter in [0.5, 1.5) of it */
    double max_wait_s;        /* longest single wait, Retry-After included; longer Retry-After gives up */
    size_t max_bytes;         /* response body cap */
    char user_agent[64];
    double deadline_s;       /* CLOCK_MONOTONIC time by which every attempt and wait must end; 0: none */
    const atomic_int *abort; /* when set and non-zero, stop at once (polled every 50 ms); NULL: never */
} chase_http_opts_t;

/* One request's answer. body is NUL-terminated and owned by the caller (chase_http_resp_free). */
typedef struct chase_http_resp {
    long status;
    char *body;
    size_t len;
    double retry_after_s; /* from the last 429/503, or -1 */
    int attempts;
} chase_http_resp_t;

/* Fills the defaults: 5 s connect, 20 s total, 3 retries from 1 s, waits up to 60 s, 4 MiB, "chase/VERSION". */
void chase_http_opts_default(chase_http_opts_t *o);

/* GETs url with the extra headers (NULL-terminated list, may be NULL) and, when user is not NULL, HTTP basic auth.
 * Secrets go only in headers or auth, never in url, and never into err: a piece of an error body is quoted only
 * with every credential we sent (in any form: raw, base64 user:password, after Basic/Bearer) and every
 * credential-like word blanked out. Returns CHASE_OK for a 2xx answer; CHASE_EAUTH for 401/403, CHASE_ENOTFOUND
 * for 404, CHASE_ENET for 429/5xx/other HTTP errors after the retries, CHASE_ETIMEOUT for timeouts (or when
 * o->deadline_s leaves no time), CHASE_ERANGE for a body over the cap, CHASE_ESTATE when o->abort stopped it. resp
 * is filled in every case (status 0 when no answer came); what names the request in messages
 * ("electricitymaps /v3/carbon-intensity/history"). */
int chase_http_get(const chase_http_opts_t *o, const char *url, const char *what, const char *const *headers,
                   const char *user, const char *password, chase_http_resp_t *resp, chase_err_t *err);

/* Frees the body (resp may be zeroed). */
void chase_http_resp_free(chase_http_resp_t *resp);

/* Appends s to buf (of size) percent-encoded for a URL query; returns CHASE_ERANGE when it does not fit. */
int chase_http_escape(char *buf, size_t size, const char *s);

#endif
