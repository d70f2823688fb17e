/* The HTTP client against a real server on loopback: answers, retries, Retry-After, timeouts, caps, and secrets
 * kept out of messages. */
#include <string.h>
#include <time.h>

#include "chase/provider.h"
#include "check.h"
#include "fake.h"

static fake_t fake;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static chase_http_opts_t fast(void)
{
    chase_http_opts_t o;
    chase_http_opts_default(&o);
    o.timeout_s = 1;
    o.connect_timeout_s = 1;
    o.retries = 2;
    o.backoff_s = 0.05;
    o.max_wait_s = 5;
    return o;
}

static int get(const char *mode, const char *path, chase_http_opts_t *o, chase_http_resp_t *r, chase_err_t *err)
{
    char base[128], url[256];
    snprintf(url, sizeof url, "%s%s", fake_url(&fake, mode, base, sizeof base), path);
    const char *headers[] = {"auth-token: test-token-123", NULL};
    return chase_http_get(o, url, "test", headers, NULL, NULL, r, err);
}

static void test_ok_and_user_agent(void)
{
    chase_http_opts_t o = fast();
    chase_http_resp_t r;
    chase_err_t err;
    CHECK(get("ok-ua", "/v3/carbon-intensity/latest?zone=DE", &o, &r, &err) == CHASE_OK);
    CHECK(r.status == 200 && r.attempts == 1);
    CHECK(r.body && strstr(r.body, "carbonIntensity") != NULL);
    chase_http_resp_free(&r);
    char *stats = NULL;
    CHECK(fake_count(&fake, "ok-ua", &stats) == 1);
    CHECK(stats && strstr(stats, "\"chase/") != NULL);
    CHECK(stats && strstr(stats, "test-token-123") != NULL); /* the token went in the auth-token header */
    free(stats);
}

static void test_status_errors(void)
{
    chase_http_opts_t o = fast();
    chase_http_resp_t r;
    chase_err_t err;
    CHECK(get("e401", "/intensity", &o, &r, &err) == CHASE_EAUTH);
    CHECK(r.status == 401 && strstr(err.msg, "401") != NULL);
    CHECK(fake_count(&fake, "e401", NULL) == 1); /* refusals are not retried */
    CHECK(get("e403", "/intensity", &o, &r, &err) == CHASE_EAUTH);
    CHECK(strstr(err.msg, "403") != NULL);
    CHECK(get("e404", "/intensity", &o, &r, &err) == CHASE_ENOTFOUND);
    CHECK(get("e500", "/intensity", &o, &r, &err) == CHASE_ENET);
    CHECK(strstr(err.msg, "HTTP 500") != NULL && strstr(err.msg, "3 attempts") != NULL);
    CHECK(fake_count(&fake, "e500", NULL) == 3); /* 1 + 2 retries */
}

static void test_retry_after(void)
{
    chase_http_opts_t o = fast();
    chase_http_resp_t r;
    chase_err_t err;
    double t0 = mono();
    CHECK(get("r429", "/intensity", &o, &r, &err) == CHASE_OK);
    double dt = mono() - t0;
    CHECK(r.attempts == 2);
    /* Waited the second the server asked for, not the 0.05 s backoff; the upper bound only catches a stall. */
    CHECK(dt >= 0.95 && dt < 30);
    chase_http_resp_free(&r);
    /* A Retry-After beyond max_wait gives up at once rather than stall the job: one request, no wait. With max_wait
     * at 60 s, waiting it out would take a minute; the bound is far from both that and a busy machine. */
    o.max_wait_s = 60;
    t0 = mono();
    CHECK(get("long429", "/intensity", &o, &r, &err) == CHASE_ENET);
    CHECK(mono() - t0 < 30);
    CHECK(fake_count(&fake, "long429", NULL) == 1);
    CHECK(strstr(err.msg, "429") && strstr(err.msg, "3600"));
    o.max_wait_s = 5;
    CHECK(get("a429", "/intensity", &o, &r, &err) == CHASE_ENET);
    CHECK(fake_count(&fake, "a429", NULL) == 3);
}

static void test_timeout(void)
{
    chase_http_opts_t o = fast();
    o.timeout_s = 0.3;
    o.retries = 1;
    chase_http_resp_t r;
    chase_err_t err;
    double t0 = mono();
    CHECK(get("hang", "/intensity", &o, &r, &err) == CHASE_ETIMEOUT);
    double dt = mono() - t0;
    /* Two attempts of 0.3 s each; the server holds an answer for 30 s, so without the timeout this takes a minute. */
    CHECK(dt >= 0.6 && dt < 20);
    CHECK(fake_count(&fake, "hang", NULL) == 2);
    CHECK(strstr(err.msg, "0.3 s") != NULL);
}

static void test_size_and_truncation(void)
{
    chase_http_opts_t o = fast();
    chase_http_resp_t r;
    chase_err_t err;
    CHECK(get("huge", "/intensity", &o, &r, &err) == CHASE_ERANGE);
    CHECK(strstr(err.msg, "larger than") != NULL);
    CHECK(fake_count(&fake, "huge", NULL) == 1); /* an oversized answer is not fetched again */
    o.retries = 0;
    CHECK(get("short", "/intensity", &o, &r, &err) == CHASE_ENET); /* connection closed before Content-Length */
}

static void test_secret_scrubbed(void)
{
    chase_http_opts_t o = fast();
    chase_http_resp_t r;
    chase_err_t err;
    CHECK(get("echo401", "/intensity", &o, &r, &err) == CHASE_EAUTH);
    CHECK(strstr(err.msg, "test-token-123") == NULL);
    CHECK(strstr(err.msg, "bad credentials") != NULL);
    char base[128], url[256];
    snprintf(url, sizeof url, "%s/login", fake_url(&fake, "echo401", base, sizeof base));
    CHECK(chase_http_get(&o, url, "login", NULL, "alice", "s3cret-pw", &r, &err) == CHASE_EAUTH);
    CHECK(strstr(err.msg, "s3cret-pw") == NULL);
}

static void test_refused_connection_and_bad_url(void)
{
    chase_http_opts_t o = fast();
    o.retries = 1;
    chase_http_resp_t r;
    chase_err_t err;
    /* Port 1 on loopback: nothing listens there. */
    CHECK(chase_http_get(&o, "http://127.0.0.1:1/x", "nowhere", NULL, NULL, NULL, &r, &err) == CHASE_ENET);
    CHECK(strstr(err.msg, "nowhere") != NULL);
    CHECK(chase_http_get(&o, "file:///etc/passwd", "file", NULL, NULL, NULL, &r, &err) == CHASE_EINVAL);
    char buf[32] = "";
    CHECK(chase_http_escape(buf, sizeof buf, "a b&c/é") == CHASE_OK);
    CHECK_STR(buf, "a%20b%26c%2F%C3%A9");
}

int main(void)
{
    int rc = fake_start(&fake);
    if (rc)
        return rc;
    RUN(test_ok_and_user_agent);
    RUN(test_status_errors);
    RUN(test_retry_after);
    RUN(test_timeout);
    RUN(test_size_and_truncation);
    RUN(test_secret_scrubbed);
    RUN(test_refused_connection_and_bad_url);
    fake_stop(&fake);
    CHECK_DONE();
}
