/* HTTP GET over libcurl with the habits a long-running training job needs from a flaky API: bounded time, bounded
 * size, polite retries (exponential backoff with jitter, Retry-After on 429), TLS verification always on. */
#include "signal/http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "util/grow.h"

/* The library is built without the command's version macro; keep the two in step with project(VERSION). */
#ifndef CHASE_VERSION
#define CHASE_VERSION "0.1.0"
#endif

void chase_http_opts_default(chase_http_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->connect_timeout_s = 5;
    o->timeout_s = 20;
    o->retries = 3;
    o->backoff_s = 1;
    o->max_wait_s = 60;
    o->max_bytes = CHASE_HTTP_MAX_BYTES;
    snprintf(o->user_agent, sizeof o->user_agent, "chase/%s", CHASE_VERSION);
}

void chase_http_resp_free(chase_http_resp_t *resp)
{
    if (resp) {
        free(resp->body);
        resp->body = NULL;
        resp->len = 0;
    }
}

int chase_http_escape(char *buf, size_t size, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(buf);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int plain = isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
        if (len + (plain ? 1 : 3) >= size)
            return CHASE_ERANGE;
        if (plain) {
            buf[len++] = (char)c;
        } else {
            buf[len++] = '%';
            buf[len++] = hex[c >> 4];
            buf[len++] = hex[c & 15];
        }
    }
    buf[len] = '\0';
    return CHASE_OK;
}

typedef struct sink {
    char *buf;
    size_t len, cap, max;
    int over;
    double retry_after_s;
} sink_t;

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    sink_t *k = user;
    size_t n = size * nmemb;
    if (k->len + n > k->max) {
        k->over = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    char *b = chase_grow(k->buf, &k->cap, k->len + n + 1, 1, 16384);
    if (!b)
        return 0;
    k->buf = b;
    memcpy(k->buf + k->len, data, n);
    k->len += n;
    k->buf[k->len] = '\0';
    return n;
}

/* Retry-After is either delta-seconds or an HTTP date. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *user)
{
    sink_t *k = user;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";
    if (n > sizeof name - 1 && !strncasecmp(data, name, sizeof name - 1)) {
        char v[128];
        size_t m = n - (sizeof name - 1);
        if (m >= sizeof v)
            m = sizeof v - 1;
        memcpy(v, data + sizeof name - 1, m);
        v[m] = '\0';
        char *p = v;
        while (*p == ' ' || *p == '\t')
            p++;
        char *end;
        errno = 0;
        double s = strtod(p, &end);
        if (end != p && !errno && isfinite(s) && s >= 0) {
            k->retry_after_s = s;
        } else {
            time_t when = curl_getdate(p, NULL);
            if (when != (time_t)-1) {
                double d = difftime(when, time(NULL));
                k->retry_after_s = d > 0 ? d : 0;
            }
        }
    }
    return n;
}

static void sleep_s(double s)
{
    if (!(s > 0))
        return;
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* A short, printable piece of an error body for the message, with any secret we sent blanked out. */
static void snippet(char *out, size_t size, const char *body, size_t len, const char *const *headers,
                    const char *password)
{
    size_t j = 0;
    for (size_t i = 0; i < len && j + 1 < size && i < 160; i++) {
        unsigned char c = (unsigned char)body[i];
        out[j++] = (c >= 32 && c < 127) ? (char)c : ' ';
    }
    out[j] = '\0';
    const char *secrets[18];
    size_t ns = 0;
    for (size_t i = 0; headers && headers[i] && ns < 16; i++) {
        const char *v = strchr(headers[i], ':');
        if (v) {
            v++;
            while (*v == ' ')
                v++;
            if (!strncasecmp(v, "Bearer ", 7))
                v += 7;
            secrets[ns++] = v;
        }
    }
    if (password)
        secrets[ns++] = password;
    for (size_t i = 0; i < ns; i++) {
        size_t sl = strlen(secrets[i]);
        if (sl < 4)
            continue;
        char *hit;
        while ((hit = strstr(out, secrets[i])) != NULL)
            memset(hit, '*', sl);
    }
}

static int retryable_http(long status)
{
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

static int retryable_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE: return 1;
    default: return 0;
    }
}

int chase_http_get(const chase_http_opts_t *o, const char *url, const char *what, const char *const *headers,
                   const char *user, const char *password, chase_http_resp_t *resp, chase_err_t *err)
{
    memset(resp, 0, sizeof *resp);
    resp->retry_after_s = -1;
    if (!url || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
        return chase_err_set(err, CHASE_EINVAL, "%s: URL must start with https:// or http://", what);
    CURL *h = curl_easy_init();
    if (!h)
        return chase_err_set(err, CHASE_ENOMEM, "%s: cannot create an HTTP handle", what);
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers && headers[i]; i++) {
        struct curl_slist *t = curl_slist_append(hl, headers[i]);
        if (!t) {
            curl_slist_free_all(hl);
            curl_easy_cleanup(h);
            return chase_err_set(err, CHASE_ENOMEM, "%s: out of memory", what);
        }
        hl = t;
    }
    char curl_msg[CURL_ERROR_SIZE];
    sink_t k = {0};
    k.max = o->max_bytes ? o->max_bytes : CHASE_HTTP_MAX_BYTES;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_USERAGENT, o->user_agent);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->connect_timeout_s * 1000));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(o->timeout_s * 1000));
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)k.max);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &k);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &k);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_msg);
    if (user) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, password ? password : "");
    }

    /* Jitter needs no quality, only to differ between processes that failed together. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    unsigned seed = (unsigned)now.tv_nsec ^ ((unsigned)getpid() << 16);

    int rc = CHASE_OK;
    for (int attempt = 0;; attempt++) {
        k.len = 0;
        k.over = 0;
        k.retry_after_s = -1;
        curl_msg[0] = '\0';
        resp->status = 0;
        CURLcode cc = curl_easy_perform(h);
        resp->attempts = attempt + 1;
        if (cc == CURLE_FILESIZE_EXCEEDED)
            k.over = 1; /* refused from its Content-Length, before any byte of the body */
        if (cc == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        resp->retry_after_s = k.retry_after_s;
        if (cc == CURLE_OK && resp->status >= 200 && resp->status < 300) {
            rc = CHASE_OK;
            break;
        }
        int again =
            attempt < o->retries && (cc == CURLE_OK ? retryable_http(resp->status) : (!k.over && retryable_curl(cc)));
        double wait = o->backoff_s * pow(2, attempt) * (0.5 + (double)rand_r(&seed) / ((double)RAND_MAX + 1));
        if (cc == CURLE_OK && k.retry_after_s >= 0 && (resp->status == 429 || resp->status == 503))
            wait = k.retry_after_s; /* the server said when; sooner would only be refused again */
        if (again && wait > o->max_wait_s) {
            if (k.retry_after_s > o->max_wait_s)
                again = 0; /* a long Retry-After: give up now instead of stalling the job */
            else
                wait = o->max_wait_s;
        }
        if (!again) {
            char body[200] = "";
            if (cc == CURLE_OK && k.buf)
                snippet(body, sizeof body, k.buf, k.len, headers, password);
            if (k.over) {
                rc = chase_err_set(err, CHASE_ERANGE, "%s: response larger than %zu bytes; refused", what, k.max);
            } else if (cc == CURLE_OPERATION_TIMEDOUT) {
                rc = chase_err_set(err, CHASE_ETIMEOUT, "%s: no complete answer within %.3g s (%d attempt%s)", what,
                                   o->timeout_s, attempt + 1, attempt ? "s" : "");
            } else if (cc != CURLE_OK) {
                rc = chase_err_set(err, CHASE_ENET, "%s: %s (%d attempt%s)", what,
                                   curl_msg[0] ? curl_msg : curl_easy_strerror(cc), attempt + 1, attempt ? "s" : "");
            } else if (resp->status == 401 || resp->status == 403) {
                rc = chase_err_set(err, CHASE_EAUTH, "%s: HTTP %ld, credentials missing or refused%s%s", what,
                                   resp->status, body[0] ? ": " : "", body);
            } else if (resp->status == 404) {
                rc =
                    chase_err_set(err, CHASE_ENOTFOUND, "%s: HTTP 404, not found%s%s", what, body[0] ? ": " : "", body);
            } else if (resp->status == 429) {
                if (k.retry_after_s >= 0)
                    rc = chase_err_set(
                        err, CHASE_ENET,
                        "%s: HTTP 429, rate limited; the server asks to retry after %.0f s (%d attempt%s)", what,
                        k.retry_after_s, attempt + 1, attempt ? "s" : "");
                else
                    rc = chase_err_set(err, CHASE_ENET, "%s: HTTP 429, rate limited (%d attempt%s)", what, attempt + 1,
                                       attempt ? "s" : "");
            } else {
                rc = chase_err_set(err, CHASE_ENET, "%s: HTTP %ld (%d attempt%s)%s%s", what, resp->status, attempt + 1,
                                   attempt ? "s" : "", body[0] ? ": " : "", body);
            }
            break;
        }
        sleep_s(wait);
    }
    if (rc == CHASE_OK) {
        resp->body = k.buf ? k.buf : calloc(1, 1);
        resp->len = k.len;
        if (!resp->body)
            rc = chase_err_set(err, CHASE_ENOMEM, "%s: out of memory", what);
    } else {
        free(k.buf);
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return rc;
}
