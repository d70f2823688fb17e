/* The fallback chain: order, stale carry-on, the switch to "no data" after max_stale, each said once through the
 * warning callback (never on stderr); honest words before any source answered; and the spec syntax that tells one
 * provider's keys from the next provider's. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "chase/provider.h"
#include "check.h"
#include "fake.h"

static fake_t fake;
static char dir[256];
static chase_sample_t s[4096];

/* A source the test controls. */
typedef struct scripted {
    const char *name;
    int fail;
    double value;
    int has_forecast;
} scripted_t;

static int sc_history(void *self, double now, int64_t since, chase_sample_t *out, size_t cap, size_t *n,
                      chase_err_t *err)
{
    scripted_t *sc = self;
    (void)since;
    *n = 0;
    if (sc->fail)
        return chase_err_set(err, CHASE_ENET, "%s: down", sc->name);
    if (cap)
        out[(*n)++] = (chase_sample_t){.t = (int64_t)now - (int64_t)now % 3600, .step_s = 3600, .ci = sc->value};
    return CHASE_OK;
}

static int sc_forecast(void *self, double now, int64_t until, chase_sample_t *out, size_t cap, size_t *n,
                       chase_err_t *err)
{
    scripted_t *sc = self;
    (void)until;
    *n = 0;
    if (!sc->has_forecast || sc->fail)
        return chase_err_set(err, CHASE_ENOTSUP, "%s: no forecast", sc->name);
    if (cap)
        out[(*n)++] =
            (chase_sample_t){.t = (int64_t)now, .step_s = 3600, .ci = sc->value + 1, .flags = CHASE_SAMPLE_FORECAST};
    return CHASE_OK;
}

static int sc_actual(void *self, double t0, double t1, double *mean, chase_err_t *err)
{
    scripted_t *sc = self;
    (void)t0;
    (void)t1;
    if (sc->fail)
        return chase_err_set(err, CHASE_ENET, "%s: down", sc->name);
    *mean = sc->value;
    return CHASE_OK;
}

static void sc_destroy(void *self)
{
    (void)self;
}

static const chase_signal_ops_t sc_ops_a = {"a", sc_history, sc_forecast, sc_actual, sc_destroy};
static const chase_signal_ops_t sc_ops_b = {"b", sc_history, sc_forecast, sc_actual, sc_destroy};

static chase_signal_t *scripted(const chase_signal_ops_t *ops, scripted_t *sc)
{
    chase_signal_t *sig = calloc(1, sizeof *sig);
    sig->ops = ops;
    sig->self = sc;
    sig->step_s = 3600;
    return sig;
}

static void test_order_stale_nodata(void)
{
    scripted_t a = {"a", 0, 100, 0}, b = {"b", 0, 200, 1};
    chase_signal_t *m[2] = {scripted(&sc_ops_a, &a), scripted(&sc_ops_b, &b)}, *chain;
    chase_err_t err;
    said_t said;
    said_init(&said);
    CHECK(chase_signal_fallback(m, 2, 7200, said_collect, &said, &chain, &err) == CHASE_OK);
    double t = 1700000000;
    size_t n;
    capture_start(dir); /* the library never prints: everything goes through the callback */
    CHECK(chase_signal_history(chain, t, 0, s, 10, &n, &err) == CHASE_OK && n == 1 && s[0].ci == 100);
    CHECK_STR(chase_signal_fallback_source(chain), "a");
    /* The first fails: the second answers, and the switch is said once. */
    a.fail = 1;
    CHECK(chase_signal_history(chain, t + 60, 0, s, 10, &n, &err) == CHASE_OK && n == 1 && s[0].ci == 200);
    CHECK(chase_signal_history(chain, t + 120, 0, s, 10, &n, &err) == CHASE_OK && s[0].ci == 200);
    CHECK(count_of(said.text, "using b") == 1);
    CHECK_STR(chase_signal_fallback_source(chain), "b");
    /* Forecasts: a makes none, b does. */
    CHECK(chase_signal_forecast(chain, t, (int64_t)t + 3600, s, 10, &n, &err) == CHASE_OK && s[0].ci == 201);
    double mean;
    CHECK(chase_signal_actual(chain, t - 3600, t, &mean, &err) == CHASE_OK && mean == 200);
    /* Both fail: b's last value carries on, flagged stale, at the current step; said once. */
    b.fail = 1;
    double t2 = t + 4000;
    CHECK(chase_signal_history(chain, t2, 0, s, 10, &n, &err) == CHASE_OK);
    CHECK(n == 2 && s[0].ci == 200 && !(s[0].flags & CHASE_SAMPLE_STALE));
    CHECK(n == 2 && s[1].ci == 200 && (s[1].flags & CHASE_SAMPLE_STALE) && s[1].t == (int64_t)t2 - (int64_t)t2 % 3600);
    CHECK(chase_signal_history(chain, t2 + 1800, 0, s, 10, &n, &err) == CHASE_OK);
    CHECK(n >= 1 && (s[n - 1].flags & CHASE_SAMPLE_STALE) && s[n - 1].ci == 200);
    CHECK(count_of(said.text, "flagged stale") == 1);
    CHECK(strstr(said.text, "a: down") && strstr(said.text, "b: down")); /* why: each source's error */
    CHECK(chase_signal_forecast(chain, t2, (int64_t)t2 + 3600, s, 10, &n, &err) != CHASE_OK);
    CHECK(chase_signal_actual(chain, t2 - 3600, t2, &mean, &err) == CHASE_ENODATA);
    /* Past max_stale (2 h after b last answered at t + 120): no data, said once, the safe policy takes over. */
    CHECK(chase_signal_history(chain, t + 120 + 7201, 0, s, 10, &n, &err) == CHASE_ENODATA);
    CHECK(strstr(err.msg, "max_stale") != NULL);
    CHECK(chase_signal_history(chain, t + 120 + 9000, 0, s, 10, &n, &err) == CHASE_ENODATA);
    CHECK(count_of(said.text, "safe policy") == 1);
    /* A source comes back: data again, said once. */
    a.fail = 0;
    CHECK(chase_signal_history(chain, t + 10000, 0, s, 10, &n, &err) == CHASE_OK && s[0].ci == 100 &&
          !(s[0].flags & CHASE_SAMPLE_STALE));
    CHECK(count_of(said.text, "using a") == 1);
    CHECK(strstr(capture_end(), "carbon signal") == NULL);
    CHECK(said.wrong_thread == 0);
    chase_signal_free(chain);
    /* Without a callback the chain is silent. */
    a.fail = b.fail = 1;
    m[0] = scripted(&sc_ops_a, &a);
    CHECK(chase_signal_fallback(m, 1, 7200, NULL, NULL, &chain, &err) == CHASE_OK);
    capture_start(dir);
    CHECK(chase_signal_history(chain, t, 0, s, 10, &n, &err) == CHASE_ENODATA);
    CHECK(capture_end()[0] == '\0');
    chase_signal_free(chain);
}

/* Before any source has ever answered, nothing "has been missing for more than max_stale": say there is no data yet. */
static void test_no_data_yet(void)
{
    scripted_t a = {"a", 1, 100, 0};
    chase_signal_t *m[1] = {scripted(&sc_ops_a, &a)}, *chain;
    chase_err_t err;
    said_t said;
    said_init(&said);
    CHECK(chase_signal_fallback(m, 1, 7200, said_collect, &said, &chain, &err) == CHASE_OK);
    size_t n;
    CHECK(chase_signal_history(chain, 1700000000, 0, s, 10, &n, &err) == CHASE_ENODATA);
    CHECK(strstr(err.msg, "no carbon data yet") && strstr(err.msg, "a: down") && !strstr(err.msg, "more than"));
    CHECK(chase_signal_history(chain, 1700000600, 0, s, 10, &n, &err) == CHASE_ENODATA);
    CHECK(count_of(said.text, "no carbon data yet") == 1 && !strstr(said.text, "more than"));
    /* Once a value came and went stale past max_stale, the longer wording is the true one. */
    a.fail = 0;
    CHECK(chase_signal_history(chain, 1700001200, 0, s, 10, &n, &err) == CHASE_OK);
    a.fail = 1;
    CHECK(chase_signal_history(chain, 1700001200 + 7300, 0, s, 10, &n, &err) == CHASE_ENODATA);
    CHECK(strstr(err.msg, "more than 120 min") != NULL);
    chase_signal_free(chain);
}

static void test_spec_chain_with_live_providers(void)
{
    char bad[128], good[128], spec[1024];
    said_t said;
    said_init(&said);
    char cache[300];
    snprintf(cache, sizeof cache, "%s/chain.sqlite", dir);
    chase_signal_open_opts_t opts = {
        .cache_path = cache, .on_warning = said_collect, .on_warning_arg = &said, .wait_s = -1};
    fake_url(&fake, "e500", bad, sizeof bad);
    fake_url(&fake, "ok-chain", good, sizeof good);
    /* Each provider's url= goes to that provider: the failing one first, the good one second. */
    snprintf(spec, sizeof spec, "electricitymaps:zone=DE,url=%s,retries=0,ukci:url=%s,max_stale=30m", bad, good);
    chase_signal_t *sig;
    chase_err_t err;
    CHECK(chase_signal_open(spec, &opts, &sig, &err) == CHASE_OK);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec;
    size_t n;
    CHECK(chase_signal_history(sig, now, (int64_t)now - 3600, s, 100, &n, &err) == CHASE_OK);
    CHECK(n >= 2 && s[0].step_s == 1800); /* the UK API's half hours */
    CHECK_STR(chase_signal_fallback_source(sig), "ukci");
    CHECK(strstr(said.text, "using ukci") != NULL);
    CHECK(fake_count(&fake, "ok-chain", NULL) == 1);
    chase_signal_free(sig);
    /* A bare provider name starts a provider too, and static can close a chain. (fresh=0: the cache already holds
     * the national UK data fetched above, and would answer instead of the failing URL.) */
    snprintf(spec, sizeof spec, "ukci,url=%s,retries=0,fresh=0,static:321", bad);
    CHECK(chase_signal_open(spec, &opts, &sig, &err) == CHASE_OK);
    CHECK(chase_signal_history(sig, now, (int64_t)now - 3600, s, 100, &n, &err) == CHASE_OK);
    CHECK(n >= 1 && s[n - 1].ci == 321);
    chase_signal_free(sig);
    /* A lone static or trace source is not wrapped. */
    CHECK(chase_signal_open("static:250", &opts, &sig, &err) == CHASE_OK);
    CHECK(chase_signal_fallback_source(sig) == NULL && sig->ops->name && strcmp(sig->ops->name, "fallback") != 0);
    chase_signal_free(sig);
    static const struct {
        const char *spec;
        int code;
        const char *says;
    } bad_specs[] = {
        {"zone=DE,ukci", CHASE_EINVAL, "before any source"},
        {"ukci,,static:3", CHASE_EINVAL, "empty"},
        {"ukci,max_stale=soon", CHASE_EINVAL, "max_stale"},
        {"nosuch:1", CHASE_EINVAL, "nosuch"},
        {"electricitymaps:DE", CHASE_EINVAL, "key=value"},
        {"ukci:region=13,colour=red", CHASE_EINVAL, "colour"},
        {"", CHASE_EINVAL, "spec"},
    };
    for (size_t i = 0; i < sizeof bad_specs / sizeof bad_specs[0]; i++) {
        err.msg[0] = '\0';
        int rc = chase_signal_open(bad_specs[i].spec, &opts, &sig, &err);
        CHECK(rc == bad_specs[i].code && strstr(err.msg, bad_specs[i].says) != NULL);
        if (rc != bad_specs[i].code || !strstr(err.msg, bad_specs[i].says))
            fprintf(stderr, "  '%s': %d %s\n", bad_specs[i].spec, rc, err.msg);
    }
}

/* After a restart with every source down, the cache's newest value still carries on, flagged stale. */
static void test_restart_from_cache(void)
{
    char good[128], bad[128], spec[1024], cache[300];
    snprintf(cache, sizeof cache, "%s/restart.sqlite", dir);
    chase_signal_open_opts_t opts = {.cache_path = cache, .wait_s = -1};
    fake_url(&fake, "ok-restart", good, sizeof good);
    fake_url(&fake, "e500", bad, sizeof bad);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec;
    chase_signal_t *sig;
    chase_err_t err;
    size_t n;
    snprintf(spec, sizeof spec, "ukci:url=%s", good);
    CHECK(chase_signal_open(spec, &opts, &sig, &err) == CHASE_OK);
    CHECK(chase_signal_history(sig, now, (int64_t)now - 3600, s, 100, &n, &err) == CHASE_OK);
    double last = n ? s[n - 1].ci : -1;
    chase_signal_free(sig);
    snprintf(spec, sizeof spec, "ukci:url=%s,fresh=0,retries=0", bad);
    CHECK(chase_signal_open(spec, &opts, &sig, &err) == CHASE_OK);
    CHECK(chase_signal_history(sig, now + 60, (int64_t)now - 3600, s, 100, &n, &err) == CHASE_OK);
    CHECK(n >= 1 && s[n - 1].ci == last && (s[n - 1].flags & CHASE_SAMPLE_STALE));
    CHECK_STR(chase_signal_fallback_source(sig), "ukci");
    chase_signal_free(sig);
}

int main(void)
{
    int rc = fake_start(&fake);
    if (rc)
        return rc;
    if (!temp_dir(dir, sizeof dir))
        return 1;
    setenv("ELECTRICITYMAPS_TOKEN", "test-token-123", 1);
    RUN(test_order_stale_nodata);
    RUN(test_no_data_yet);
    RUN(test_spec_chain_with_live_providers);
    RUN(test_restart_from_cache);
    fake_stop(&fake);
    temp_dir_remove(dir);
    CHECK_DONE();
}
