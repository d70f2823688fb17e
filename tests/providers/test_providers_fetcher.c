/* Live fetches run in a worker thread: with an API that hangs, never accepts or trickles, every signal call and
 * chase_signal_free return within bounds; a failed fetch is timed at its end; the worker blocks every signal;
 * warnings from the worker reach the caller's callback on the caller's thread. The bounds are generous (2 s) on
 * purpose: they catch a fetch on the caller's thread (20-30 s here), not a slow machine. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include "chase/provider.h"
#include "check.h"
#include "fake.h"
#include "hang_server.h"

#define BOUND_S 2.0

static char dir[256];
static chase_sample_t s[4096];
static fake_t fake;
static int have_fake;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Opens "ukci:url=URL,cache=DIR/NAME,EXTRA" through chase_signal_open, as `chase run` does. */
static int open_live(const char *url, const char *cache, const char *extra, double wait_s, said_t *said,
                     chase_signal_t **sig, chase_err_t *err)
{
    char spec[1024];
    snprintf(spec, sizeof spec, "ukci:url=%s,cache=%s/%s%s%s", url, dir, cache, extra ? "," : "", extra ? extra : "");
    chase_signal_open_opts_t o = {
        .now = wall(), .wait_s = wait_s, .on_warning = said ? said_collect : NULL, .on_warning_arg = said};
    return chase_signal_open(spec, &o, sig, err);
}

/* With an API that never answers, never accepts, or trickles a byte at a time, the control loop's calls answer at
 * once and freeing the signal stops the fetch under way. */
static void test_hanging_api_never_holds_the_caller(void)
{
    static const char *const names[] = {"silent", "black hole", "trickle"};
    static const int modes[] = {HANG_SILENT, HANG_BLACKHOLE, HANG_TRICKLE};
    for (int m = 0; m < 3; m++) {
        hang_server_t h;
        CHECK(hang_start(&h, modes[m], 0, 0) == 0);
        char url[64], cache[64];
        snprintf(cache, sizeof cache, "hang%d.sqlite", m);
        chase_signal_t *sig = NULL;
        chase_err_t err;
        said_t said;
        said_init(&said);
        double t0 = mono();
        CHECK(open_live(hang_url(&h, url, sizeof url), cache, "timeout=30s,connect_timeout=30s,retries=3", 0, &said,
                        &sig, &err) == CHASE_OK);
        if (!sig)
            continue;
        double now = wall(), mean;
        size_t n;
        /* Nothing was ever fetched: no data yet, said so, at once. */
        CHECK(chase_signal_history(sig, now, (int64_t)now - 86400, s, 4096, &n, &err) == CHASE_ENODATA);
        CHECK(strstr(err.msg, "no carbon data yet") && strstr(err.msg, "first fetch is under way"));
        CHECK(chase_signal_forecast(sig, now, (int64_t)now + 3600, s, 4096, &n, &err) != CHASE_OK);
        CHECK(chase_signal_actual(sig, now - 1800, now, &mean, &err) == CHASE_ENODATA);
        double calls = mono() - t0;
        CHECK(calls < BOUND_S);
        /* Let the fetch get well under way (connected and waiting, or stuck connecting), then close. */
        for (int i = 0; i < 50 && modes[m] != HANG_BLACKHOLE && atomic_load(&h.accepted) == 0; i++)
            hang_sleep(0.02);
        hang_sleep(0.3);
        CHECK(modes[m] == HANG_BLACKHOLE || atomic_load(&h.accepted) >= 1);
        double t1 = mono();
        chase_signal_free(sig);
        double freed = mono() - t1;
        CHECK(freed < BOUND_S);
        fprintf(stderr, "  %-10s: open + history + forecast + actual %.3f s, free %.3f s\n", names[m], calls, freed);
        CHECK(said.wrong_thread == 0);
        hang_stop(&h);
    }
}

/* A fetch that fails is timed at its end: the retry wait counts from there, not from when the fetch began (which
 * would let the next query go straight back to an API that has just spent a whole timeout failing). */
static void test_failure_time_is_the_end_of_the_fetch(void)
{
    hang_server_t h;
    CHECK(hang_start(&h, HANG_SILENT, 0, 0) == 0);
    char url[64], keys[512];
    snprintf(keys, sizeof keys, "url=%s,cache=%s/fail.sqlite,timeout=1s,retries=0,retry_wait=1.5s,fresh=0",
             hang_url(&h, url, sizeof url), dir);
    chase_signal_t *sig = NULL;
    chase_err_t err;
    CHECK(chase_provider_open("ukci", keys, NULL, &sig, &err) == CHASE_OK);
    if (!sig) {
        hang_stop(&h);
        return;
    }
    double now = wall(), t0 = mono();
    size_t n;
    CHECK(chase_signal_history(sig, now, (int64_t)now - 3600, s, 4096, &n, &err) == CHASE_ETIMEOUT);
    double took = mono() - t0;
    CHECK(took >= 0.9 && took < 1 + BOUND_S);
    CHECK(atomic_load(&h.accepted) == 1);
    /* 2 s after the fetch began but 1 s after it failed: within retry_wait, so the failure is repeated, unasked. */
    CHECK(chase_signal_history(sig, now + 2, (int64_t)now - 3600, s, 4096, &n, &err) == CHASE_ETIMEOUT);
    CHECK(atomic_load(&h.accepted) == 1);
    /* Once the retry wait is over the worker tries again on its own, without a query to prompt it. */
    for (int i = 0; i < 150 && atomic_load(&h.accepted) < 2; i++)
        hang_sleep(0.02);
    CHECK(atomic_load(&h.accepted) == 2);
    chase_signal_free(sig);
    hang_stop(&h);
}

/* The cache answers at once while the API is stuck, and a slow API's answer arrives later without a query waiting. */
static void test_answers_from_memory_while_the_api_is_slow(void)
{
    hang_server_t good, slow;
    CHECK(hang_start(&good, HANG_ANSWER, 0, 200) == 0);
    CHECK(hang_start(&slow, HANG_ANSWER, 1.0, 300) == 0);
    char url[64];
    chase_signal_t *sig = NULL;
    chase_err_t err;
    size_t n;
    /* A first run fills the cache (waiting for its fetch, as `chase signal` does). */
    CHECK(open_live(hang_url(&good, url, sizeof url), "slow.sqlite", NULL, -1, NULL, &sig, &err) == CHASE_OK);
    double now = wall();
    CHECK(sig && chase_signal_history(sig, now, (int64_t)now - 3 * 3600, s, 4096, &n, &err) == CHASE_OK && n == 4);
    chase_signal_free(sig);
    /* A second, with a slow API and a stale cache: the cache's values answer at once. */
    double t0 = mono();
    CHECK(open_live(hang_url(&slow, url, sizeof url), "slow.sqlite", "fresh=0", 0, NULL, &sig, &err) == CHASE_OK);
    CHECK(sig && chase_signal_history(sig, now, (int64_t)now - 3 * 3600, s, 4096, &n, &err) == CHASE_OK && n == 4);
    CHECK(mono() - t0 < 0.9); /* well before the slow API's first byte */
    CHECK(s[3].ci == 200 && !(s[3].flags & CHASE_SAMPLE_STALE));
    /* The slow answer comes in by itself: no query waited for it. */
    for (int i = 0; i < 200 && atomic_load(&slow.accepted) < 1; i++)
        hang_sleep(0.01);
    hang_sleep(1.5);
    CHECK(sig && chase_signal_history(sig, wall(), (int64_t)now - 3 * 3600, s, 4096, &n, &err) == CHASE_OK && n == 4);
    CHECK(n == 4 && s[3].ci == 300);
    chase_signal_free(sig);
    hang_stop(&good);
    hang_stop(&slow);
}

/* The bits of one line "SigBlk: <hex>" of /proc/self/task/TID/status. */
static unsigned long long blocked_of(const char *tid)
{
    char path[128], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%s/status", tid);
    FILE *f = fopen(path, "r");
    unsigned long long mask = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "SigBlk:", 7))
            mask = strtoull(line + 7, NULL, 16);
    if (f)
        fclose(f);
    return mask;
}

/* `chase run` blocks its termination signals and reads them from a signalfd: a thread of ours that left them
 * unblocked would receive them instead, and chase would never see the Ctrl-C. */
static void test_worker_blocks_every_signal(void)
{
    hang_server_t h;
    CHECK(hang_start(&h, HANG_SILENT, 0, 0) == 0);
    char url[64];
    chase_signal_t *sig = NULL;
    chase_err_t err;
    CHECK(open_live(hang_url(&h, url, sizeof url), "mask.sqlite", "timeout=30s", 0, NULL, &sig, &err) == CHASE_OK);
    for (int i = 0; i < 100 && atomic_load(&h.accepted) == 0; i++)
        hang_sleep(0.02); /* the worker (and curl's resolver, if any) are running by then */
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};
    unsigned long long want = 0;
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        want |= 1ull << (sigs[i] - 1);
    char self[32];
    snprintf(self, sizeof self, "%ld", (long)syscall(SYS_gettid));
    int others = 0;
    DIR *d = opendir("/proc/self/task");
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, self))
            continue;
        unsigned long long m = blocked_of(e->d_name);
        /* Only the fetcher's threads exist besides this one (and the server's, which the test started itself). */
        if (h.has_thread && m == blocked_of(self))
            continue;
        others++;
        CHECK((m & want) == want);
    }
    if (d)
        closedir(d);
    CHECK(others >= 1);
    CHECK((blocked_of(self) & (1ull << (SIGTERM - 1))) == 0); /* the caller's own mask is left as it was */
    chase_signal_free(sig);
    hang_stop(&h);
}

/* Warnings from a fetch (points dropped) and from opening (a token in the spec) reach the callback, on the
 * caller's thread, and nothing is printed. */
static void test_warnings_reach_the_callback(void)
{
    if (!have_fake)
        return;
    char url[128], spec[1024];
    said_t said;
    said_init(&said);
    chase_signal_open_opts_t o = {.now = wall(), .wait_s = -1, .on_warning = said_collect, .on_warning_arg = &said};
    snprintf(spec, sizeof spec, "electricitymaps:zone=DE,token=test-token-123,url=%s,cache=%s/warn.sqlite",
             fake_url(&fake, "nulls", url, sizeof url), dir);
    chase_signal_t *sig = NULL;
    chase_err_t err;
    size_t n;
    capture_start(dir);
    CHECK(chase_signal_open(spec, &o, &sig, &err) == CHASE_OK);
    CHECK(sig && chase_signal_history(sig, wall(), (int64_t)wall() - 86400, s, 4096, &n, &err) == CHASE_OK && n == 8);
    CHECK(capture_end()[0] == '\0');
    CHECK(strstr(said.text, "token= in the signal spec") && strstr(said.text, "ELECTRICITYMAPS_TOKEN"));
    CHECK(strstr(said.text, "16 points dropped") && strstr(said.text, "null"));
    CHECK(strstr(said.text, "test-token-123") == NULL);
    CHECK(said.wrong_thread == 0);
    chase_signal_free(sig);
}

/* A WattTime refusal that echoes the basic-auth header (base64 of user:password) shows no credential. */
static void test_refusal_echo_is_redacted(void)
{
    if (!have_fake)
        return;
    char url[128], keys[512];
    snprintf(keys, sizeof keys, "region=CAISO_NORTH,url=%s,cache=%s/wt.sqlite",
             fake_url(&fake, "echo401", url, sizeof url), dir);
    chase_signal_t *sig = NULL;
    chase_err_t err;
    size_t n;
    CHECK(chase_provider_open("watttime", keys, NULL, &sig, &err) == CHASE_OK);
    CHECK(sig && chase_signal_history(sig, wall(), (int64_t)wall() - 3600, s, 4096, &n, &err) == CHASE_EAUTH);
    CHECK(strstr(err.msg, "401") && strstr(err.msg, "bad credentials"));
    /* base64("alice:s3cret-pw") */
    CHECK(!strstr(err.msg, "YWxpY2U6czNjcmV0LXB3") && !strstr(err.msg, "s3cret-pw") && !strstr(err.msg, "alice"));
    if (strstr(err.msg, "YWxpY2U6"))
        fprintf(stderr, "  %s\n", err.msg);
    chase_signal_free(sig);
}

int main(void)
{
    if (!temp_dir(dir, sizeof dir))
        return 1;
    have_fake = fake_start(&fake) == 0;
    setenv("WATTTIME_USERNAME", "alice", 1);
    setenv("WATTTIME_PASSWORD", "s3cret-pw", 1);
    unsetenv("ELECTRICITYMAPS_TOKEN");
    RUN(test_hanging_api_never_holds_the_caller);
    RUN(test_failure_time_is_the_end_of_the_fetch);
    RUN(test_answers_from_memory_while_the_api_is_slow);
    RUN(test_worker_blocks_every_signal);
    RUN(test_warnings_reach_the_callback);
    RUN(test_refusal_echo_is_redacted);
    fake_stop(&fake);
    temp_dir_remove(dir);
    CHECK_DONE();
}
