/* HTTP GET over libcurl with the habits a long-running training job needs from a flaky API: bounded time, bounded
 * size, polite retries (exponential backoff with jitter, Retry-After on 429), TLS verification always on. */
#include "signal/http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "signal/clock.h"
#include "util/grow.h"

/* The library is built without the command's version macro; keep the two in step with project(VERSION). */
#ifndef CHASE_VERSION
#define CHASE_VERSION "0.1.0"
#endif

/* curl_global_init must run before any handle and is thread-safe only from libcurl 7.84 on; fetches now run in
 * worker threads, so it runs once here. This once-flag is the library's one piece of global state. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

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

/* How often a transfer looks at its abort flag. curl's own progress callback runs only about once a second while
 * a server says nothing, too slow for a shutdown that must finish within a second. */
#define POLL_MS 50

static int aborted(const chase_http_opts_t *o)
{
    return o->abort && atomic_load(o->abort) != 0;
}

/* Seconds left before the deadline (a large number when there is none). */
static double time_left(const chase_http_opts_t *o)
{
    return o->deadline_s > 0 ? o->deadline_s - chase_mono_s() : 1e9;
}

/* Sleeps s seconds in slices, returning 1 early when the abort flag rises. */
static int sleep_s(const chase_http_opts_t *o, double s)
{
    double end = chase_mono_s() + s;
    while (!aborted(o)) {
        double left = end - chase_mono_s();
        if (left <= 0)
            return 0;
        if (left > POLL_MS / 1000.0)
            left = POLL_MS / 1000.0;
        struct timespec ts = {(time_t)left, (long)((left - floor(left)) * 1e9)};
        nanosleep(&ts, NULL);
    }
    return 1;
}

/* One attempt through the multi interface, which lets the loop look at the abort flag every POLL_MS. */
static CURLcode perform(CURLM *m, CURL *h, const chase_http_opts_t *o, int *stopped)
{
    CURLcode cc = CURLE_FAILED_INIT;
    if (curl_multi_add_handle(m, h) != CURLM_OK)
        return CURLE_OUT_OF_MEMORY;
    for (;;) {
        int running = 0;
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        if (!running) {
            int queued;
            CURLMsg *msg;
            while ((msg = curl_multi_info_read(m, &queued)) != NULL)
                if (msg->msg == CURLMSG_DONE)
                    cc = msg->data.result;
            break;
        }
        if (aborted(o)) {
            *stopped = 1;
            cc = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        curl_multi_poll(m, NULL, 0, POLL_MS, NULL);
    }
    curl_multi_remove_handle(m, h);
    return cc;
}

/* Zeroes a buffer that held a credential; volatile, so the compiler may not drop stores to a dying buffer. */
static void wipe(void *p, size_t size)
{
    volatile unsigned char *b = p;
    for (size_t i = 0; i < size; i++)
        b[i] = 0;
}

/* Replaces every occurrence of secret (when at least 4 bytes long) in text by '*'. */
static void blank(char *text, const char *secret, size_t sl)
{
    if (sl < 4)
        return;
    for (char *hit = text; (hit = strstr(hit, secret)) != NULL; hit += sl)
        memset(hit, '*', sl);
}

static void base64(const unsigned char *in, size_t len, char *out, size_t size)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t j = 0;
    for (size_t i = 0; i < len && j + 5 < size; i += 3) {
        unsigned v =
            (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < len ? in[i + 2] : 0);
        out[j++] = tab[v >> 18 & 63];
        out[j++] = tab[v >> 12 & 63];
        out[j++] = i + 1 < len ? tab[v >> 6 & 63] : '=';
        out[j++] = i + 2 < len ? tab[v & 63] : '=';
    }
    out[j] = '\0';
}

static int token_char(char c)
{
    return isalnum((unsigned char)c) || c == '+' || c == '/' || c == '=' || c == '_' || c == '-' || c == '.' ||
           c == '~';
}

/* Blanks what looks like a credential even when it is none we sent: the word after "Basic" or "Bearer", and any
 * run of 16 or more token characters holding both letters and digits (API keys, base64, JWTs). */
static void blank_credential_words(char *text)
{
    for (char *p = text; *p;) {
        if (!token_char(*p)) {
            p++;
            continue;
        }
        char *w = p;
        int alpha = 0, digit = 0;
        for (; token_char(*p); p++) {
            alpha |= isalpha((unsigned char)*p) != 0;
            digit |= isdigit((unsigned char)*p) != 0;
        }
        size_t wl = (size_t)(p - w);
        int scheme = (wl == 5 && !strncasecmp(w, "Basic", 5)) || (wl == 6 && !strncasecmp(w, "Bearer", 6));
        if (scheme) {
            char *v = p;
            while (*v == ' ')
                v++;
            char *e = v;
            while (*e && *e != ' ' && *e != '"' && *e != ',' && *e != '}')
                e++;
            memset(v, '*', (size_t)(e - v));
            p = e;
        } else if (wl >= 16 && alpha && digit) {
            memset(w, '*', wl);
        }
    }
}

/* A short, printable piece of an error body for a message, with every credential blanked out: the header values
 * and the password we sent, the base64 form basic auth sent them in, and anything that looks like one. */
static void snippet(char *out, size_t size, const char *body, size_t len, const char *const *headers, const char *user,
                    const char *password)
{
    char text[4097];
    size_t n = len < sizeof text - 1 ? len : sizeof text - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)body[i];
        text[i] = (c >= 32 && c < 127) ? (char)c : ' ';
    }
    text[n] = '\0';
    for (size_t i = 0; headers && headers[i]; i++) {
        const char *v = strchr(headers[i], ':');
        if (!v)
            continue;
        for (v++; *v == ' '; v++)
            ;
        blank(text, v, strlen(v));
        if (!strncasecmp(v, "Bearer ", 7))
            blank(text, v + 7, strlen(v + 7));
    }
    if (user) {
        char pair[600], b64[820];
        snprintf(pair, sizeof pair, "%s:%s", user, password ? password : "");
        base64((const unsigned char *)pair, strlen(pair), b64, sizeof b64);
        blank(text, b64, strlen(b64));
        blank(text, user, strlen(user));
        wipe(pair, sizeof pair);
        wipe(b64, sizeof b64);
    }
    if (password)
        blank(text, password, strlen(password));
    blank_credential_words(text);
    snprintf(out, size, "%.160s", text);
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

/* The error for an attempt that is not retried. */
static int fail(const chase_http_opts_t *o, const char *what, CURLcode cc, const sink_t *k, const char *curl_msg,
                double limit_s, int attempts, const chase_http_resp_t *resp, const char *const *headers,
                const char *user, const char *password, chase_err_t *err)
{
    const char *plural = attempts > 1 ? "s" : "";
    char body[200] = "";
    if (cc == CURLE_OK && k->buf)
        snippet(body, sizeof body, k->buf, k->len, headers, user, password);
    const char *sep = body[0] ? ": " : "";
    if (k->over)
        return chase_err_set(err, CHASE_ERANGE, "%s: response larger than %zu bytes; refused", what, k->max);
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return chase_err_set(err, CHASE_ETIMEOUT, "%s: no complete answer within %.3g s (%d attempt%s)%s", what,
                             limit_s, attempts, plural,
                             limit_s < o->timeout_s ? "; the time for this fetch ran out" : "");
    if (cc != CURLE_OK)
        return chase_err_set(err, CHASE_ENET, "%s: %s (%d attempt%s)", what,
                             curl_msg[0] ? curl_msg : curl_easy_strerror(cc), attempts, plural);
    if (resp->status == 401 || resp->status == 403)
        return chase_err_set(err, CHASE_EAUTH, "%s: HTTP %ld, credentials missing or refused%s%s", what, resp->status,
                             sep, body);
    if (resp->status == 404)
        return chase_err_set(err, CHASE_ENOTFOUND, "%s: HTTP 404, not found%s%s", what, sep, body);
    if (resp->status == 429 && k->retry_after_s >= 0)
        return chase_err_set(err, CHASE_ENET,
                             "%s: HTTP 429, rate limited; the server asks to retry after %.0f s (%d attempt%s)", what,
                             k->retry_after_s, attempts, plural);
    if (resp->status == 429)
        return chase_err_set(err, CHASE_ENET, "%s: HTTP 429, rate limited (%d attempt%s)", what, attempts, plural);
    return chase_err_set(err, CHASE_ENET, "%s: HTTP %ld (%d attempt%s)%s%s", what, resp->status, attempts, plural, sep,
                         body);
}

int chase_http_get(const chase_http_opts_t *o, const char *url, const char *what, const char *const *headers,
                   const char *user, const char *password, chase_http_resp_t *resp, chase_err_t *err)
{
    memset(resp, 0, sizeof *resp);
    resp->retry_after_s = -1;
    pthread_once(&curl_once, curl_init_once);
    if (!url || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
        return chase_err_set(err, CHASE_EINVAL, "%s: URL must start with https:// or http://", what);
    CURL *h = curl_easy_init();
    CURLM *m = curl_multi_init();
    struct curl_slist *hl = NULL;
    int rc = h && m ? CHASE_OK : chase_err_set(err, CHASE_ENOMEM, "%s: cannot create an HTTP handle", what);
    for (size_t i = 0; rc == CHASE_OK && headers && headers[i]; i++) {
        struct curl_slist *t = curl_slist_append(hl, headers[i]);
        if (!t)
            rc = chase_err_set(err, CHASE_ENOMEM, "%s: out of memory", what);
        else
            hl = t;
    }
    if (rc != CHASE_OK) {
        curl_slist_free_all(hl);
        curl_multi_cleanup(m);
        curl_easy_cleanup(h);
        return rc;
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
#if LIBCURL_VERSION_NUM >= 0x075700
    curl_easy_setopt(h, CURLOPT_QUICK_EXIT, 1L); /* an aborted name lookup is left behind, not waited for */
#endif
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

    for (int attempt = 0;; attempt++) {
        k.len = 0;
        k.over = 0;
        k.retry_after_s = -1;
        curl_msg[0] = '\0';
        resp->status = 0;
        /* Each attempt gets its timeout, cut to what is left of the fetch's time. */
        double limit = fmin(o->timeout_s, time_left(o));
        int stopped = aborted(o);
        CURLcode cc = CURLE_OPERATION_TIMEDOUT;
        if (!stopped && limit >= 0.001) {
            curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(fmin(o->connect_timeout_s, limit) * 1000));
            curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(limit * 1000));
            cc = perform(m, h, o, &stopped);
        }
        if (stopped) {
            rc = chase_err_set(err, CHASE_ESTATE, "%s: stopped: the signal is being closed", what);
            break;
        }
        resp->attempts = attempt + 1;
        if (cc == CURLE_FILESIZE_EXCEEDED)
            k.over = 1; /* refused from its Content-Length, before any byte of the body */
        if (cc == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        resp->retry_after_s = k.retry_after_s;
        if (cc == CURLE_OK && resp->status >= 200 && resp->status < 300)
            break;
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
        if (again && wait >= time_left(o))
            again = 0; /* the wait would use up the fetch's time: the next attempt could not run */
        if (!again) {
            rc = fail(o, what, cc, &k, curl_msg, fmax(limit, 0), attempt + 1, resp, headers, user, password, err);
            break;
        }
        if (sleep_s(o, wait)) {
            rc = chase_err_set(err, CHASE_ESTATE, "%s: stopped: the signal is being closed", what);
            break;
        }
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
    curl_multi_cleanup(m);
    curl_easy_cleanup(h);
    return rc;
}
