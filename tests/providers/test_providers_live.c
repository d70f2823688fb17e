/* Each provider end to end against the loopback fake: real formats in, g/kWh out, the cache in between, and every
 * failure the issue lists giving a clear error without losing what the cache holds. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "chase/provider.h"
#include "chase/timeutil.h"
#include "check.h"
#include "fake.h"

static fake_t fake;
static char dir[256];
static chase_sample_t s[4096];

/* The instant every check calls "now", also given to the fake API (FAKE_API_NOW), so that an hour or half-hour
 * boundary can never fall between the test's clock reading and the server's. It is two days back, 16:40 past an
 * hour: a server that answered from its own clock would give other hours, and no check could pass by luck. */
static int64_t fixed_now;

static double now_s(void)
{
    return (double)fixed_now + 0.25;
}

static double em_ci(int64_t t)
{
    return round(300 + 100 * sin(2 * M_PI * (double)t / 86400));
}

static double wt_g(int64_t t)
{
    return round((900 + 200 * sin(2 * M_PI * (double)t / 86400)) * 10) / 10 * 0.453592;
}

static double uk_actual(int64_t t)
{
    return round(200 + 50 * sin(2 * M_PI * (double)t / 86400));
}

/* Opens name with "url=<fake>/<mode>,cache=<dir>/<cache>,<extra>"; its warnings go to said (NULL: nowhere). */
static int open_said(const char *name, const char *mode, const char *cache, const char *extra, said_t *said,
                     chase_signal_t **sig, chase_err_t *err)
{
    char base[128], keys[1024];
    snprintf(keys, sizeof keys, "url=%s,cache=%s/%s%s%s", fake_url(&fake, mode, base, sizeof base), dir, cache,
             extra && *extra ? "," : "", extra ? extra : "");
    chase_signal_open_opts_t o = {.on_warning = said ? said_collect : NULL, .on_warning_arg = said};
    return chase_provider_open(name, keys, said ? &o : NULL, sig, err);
}

static int open_p(const char *name, const char *mode, const char *cache, const char *extra, chase_signal_t **sig,
                  chase_err_t *err)
{
    return open_said(name, mode, cache, extra, NULL, sig, err);
}

static size_t cached_rows(chase_signal_t *sig, double now)
{
    size_t n = 0;
    chase_provider_cached(sig, now, 0, s, 4096, &n, NULL);
    return n;
}

static void test_electricitymaps(void)
{
    chase_signal_t *sig;
    chase_err_t err;
    double now = now_s();
    CHECK(open_p("electricitymaps", "ok-em", "em.sqlite", "zone=DE", &sig, &err) == CHASE_OK);
    CHECK(sig->step_s == 3600);
    size_t n = 0;
    CHECK(chase_signal_history(sig, now, (int64_t)now - 86400, s, 4096, &n, &err) == CHASE_OK);
    CHECK(n >= 23 && n <= 24);
    int match = 1;
    for (size_t i = 0; i < n; i++)
        match &= s[i].ci == em_ci(s[i].t) && s[i].step_s == 3600 && s[i].t % 3600 == 0 && s[i].flags == 0;
    CHECK(match);
    CHECK(s[n - 1].t == (int64_t)now - (int64_t)now % 3600);
    CHECK(fake_count(&fake, "ok-em", NULL) == 1);
    /* Within the freshness window the cache answers: no request, even from a second signal (another process). */
    CHECK(chase_signal_history(sig, now + 10, (int64_t)now - 3600, s, 4096, &n, &err) == CHASE_OK);
    chase_signal_t *again;
    CHECK(open_p("electricitymaps", "ok-em", "em.sqlite", "zone=DE", &again, &err) == CHASE_OK);
    CHECK(chase_signal_history(again, now + 20, (int64_t)now - 3600, s, 4096, &n, &err) == CHASE_OK);
    CHECK(fake_count(&fake, "ok-em", NULL) == 1);
    chase_signal_free(again);
    /* After it, /latest suffices (history is already known). */
    CHECK(chase_signal_history(sig, now + 400, (int64_t)now - 3600, s, 4096, &n, &err) == CHASE_OK);
    char *stats = NULL;
    CHECK(fake_count(&fake, "ok-em", &stats) == 2);
    CHECK(stats && strstr(stats, "/latest?zone=DE&emissionFactorType=lifecycle") != NULL);
    free(stats);
    size_t nf = 0;
    CHECK(sig->ops->forecast(sig->self, now, (int64_t)now + 6 * 3600, s, 4096, &nf, &err) == CHASE_OK);
    CHECK(nf >= 6 && nf <= 7);
    CHECK(s[0].flags == CHASE_SAMPLE_FORECAST && s[0].t <= now && s[0].t + 3600 > now);
    CHECK(s[1].ci == em_ci(s[1].t));
    /* The mean of the last two whole hours, for accounting. */
    int64_t h = (int64_t)now - (int64_t)now % 3600;
    double mean = 0;
    CHECK(chase_signal_actual(sig, (double)(h - 7200), (double)h, &mean, &err) == CHASE_OK);
    CHECK_NEAR(mean, (em_ci(h - 7200) + em_ci(h - 3600)) / 2, 1e-9);
    chase_signal_free(sig);
    /* By place, direct emission factors: a different cache key and the query the API expects. */
    CHECK(open_p("electricitymaps", "ok-emll", "em.sqlite", "lat=48.1,lon=11.6,emission=direct", &sig, &err) ==
          CHASE_OK);
    CHECK(chase_signal_history(sig, now, (int64_t)now - 3600, s, 4096, &n, &err) == CHASE_OK);
    CHECK(fake_count(&fake, "ok-emll", &stats) == 1);
    CHECK(stats && strstr(stats, "lat=48.1000&lon=11.6000&emissionFactorType=direct") != NULL);
    free(stats);
    chase_signal_free(sig);
}

static void test_electricitymaps_setup_errors(void)
{
    chase_signal_t *sig = NULL;
    chase_err_t err;
    unsetenv("ELECTRICITYMAPS_TOKEN");
    CHECK(open_p("electricitymaps", "ok", "em.sqlite", "zone=DE", &sig, &err) == CHASE_EAUTH);
    CHECK(strstr(err.msg, "ELECTRICITYMAPS_TOKEN") != NULL);
    /* A token in the spec works but earns a warning, which never repeats the token. */
    said_t said;
    said_init(&said);
    int rc = open_said("electricitymaps", "ok-emkey", "em2.sqlite", "zone=DE,token=test-token-123", &said, &sig, &err);
    CHECK(rc == CHASE_OK);
    CHECK(strstr(said.text, "ELECTRICITYMAPS_TOKEN") != NULL && strstr(said.text, "test-token-123") == NULL);
    size_t n;
    CHECK(rc == CHASE_OK && chase_signal_history(sig, now_s(), (int64_t)now_s() - 3600, s, 10, &n, &err) == CHASE_OK);
    chase_signal_free(sig);
    setenv("ELECTRICITYMAPS_TOKEN", "wrong-token", 1);
    CHECK(open_p("electricitymaps", "ok-emwrong", "em3.sqlite", "zone=DE", &sig, &err) == CHASE_OK);
    CHECK(chase_signal_history(sig, now_s(), (int64_t)now_s() - 3600, s, 10, &n, &err) == CHASE_EAUTH);
    CHECK(strstr(err.msg, "401") != NULL && strstr(err.msg, "wrong-token") == NULL);
    chase_signal_free(sig);
    setenv("ELECTRICITYMAPS_TOKEN", "test-token-123", 1);
    static const char *const bad[] = {
        "zone=DE,colour=blue", "zone=DE;rm", "zone=DE,emission=average", "zone=DE,lat=1,lon=2",
        "lat=95,lon=0",        "",           "zone=DE,retries=x",        "zone=DE,timeout=fast",
        "zone=DE,zone=FR",     "zone"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rc = open_p("electricitymaps", "ok", "em.sqlite", bad[i], &sig, &err);
        CHECK(rc == CHASE_EINVAL);
        if (rc != CHASE_EINVAL)
            fprintf(stderr, "  spec '%s' gave %d\n", bad[i], rc);
        CHECK(strstr(err.msg, "electricitymaps") != NULL);
    }
    CHECK(chase_provider_open("electricitymaps", "zone=DE,url=ftp://x", NULL, &sig, &err) == CHASE_EINVAL);
    CHECK(chase_provider_open("carbonara", "", NULL, &sig, &err) == CHASE_EINVAL);
    CHECK(strstr(err.msg, "carbonara") != NULL);
}

/* Every failure: a clear error naming the provider, no crash, and the cache keeps what it had. */
static void test_failures_keep_cache(void)
{
    static const struct {
        const char *mode;
        int code;
        const char *says;
    } cases[] = {
        {"e401", CHASE_EAUTH, "401"},
        {"e403", CHASE_EAUTH, "403"},
        {"a429", CHASE_ENET, "429"},
        {"e500", CHASE_ENET, "HTTP 500"},
        {"hang", CHASE_ETIMEOUT, "no complete answer"},
        {"trunc", CHASE_EFORMAT, "truncated"},
        {"malformed", CHASE_EFORMAT, "malformed"},
        {"negative", CHASE_ENODATA, "negative"},
        {"units", CHASE_EFORMAT, "lbs/MWh"},
        {"empty", CHASE_ENODATA, "no data points"},
        {"huge", CHASE_ERANGE, "larger than"},
        {"short", CHASE_ENET, "electricitymaps"},
    };
    double now = now_s();
    chase_signal_t *sig;
    chase_err_t err;
    size_t n;
    CHECK(open_p("electricitymaps", "ok", "fail.sqlite", "zone=DE", &sig, &err) == CHASE_OK);
    CHECK(chase_signal_history(sig, now, (int64_t)now - 86400, s, 4096, &n, &err) == CHASE_OK);
    size_t before = cached_rows(sig, now);
    CHECK(before >= 23);
    chase_signal_free(sig);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(open_p("electricitymaps", cases[i].mode, "fail.sqlite",
                     "zone=DE,fresh=0,retries=1,backoff=0.05,"
                     "timeout=1",
                     &sig, &err) == CHASE_OK);
        chase_err_clear(&err);
        int rc = chase_signal_history(sig, now + 1, (int64_t)now - 86400, s, 4096, &n, &err);
        CHECK(rc == cases[i].code);
        CHECK(strstr(err.msg, cases[i].says) != NULL);
        CHECK(strstr(err.msg, "electricitymaps") != NULL);
        if (rc != cases[i].code || !strstr(err.msg, cases[i].says))
            fprintf(stderr, "  mode %s: rc %d: %s\n", cases[i].mode, rc, err.msg);
        CHECK(cached_rows(sig, now) == before);
        /* A second ask right after is answered from memory, without hammering the API. */
        int count = fake_count(&fake, cases[i].mode, NULL);
        CHECK(chase_signal_history(sig, now + 2, (int64_t)now - 86400, s, 4096, &n, &err) == cases[i].code);
        CHECK(fake_count(&fake, cases[i].mode, NULL) == count);
        chase_signal_free(sig);
    }
    /* Null and negative points among good ones: the good ones are kept, the rest named in a warning. */
    said_t said;
    said_init(&said);
    CHECK(open_said("electricitymaps", "nulls", "nulls.sqlite", "zone=DE", &said, &sig, &err) == CHASE_OK);
    int rc = chase_signal_history(sig, now, (int64_t)now - 86400, s, 4096, &n, &err);
    CHECK(rc == CHASE_OK && n == 8);
    CHECK(strstr(said.text, "16 points dropped") != NULL && strstr(said.text, "null") != NULL);
    chase_signal_free(sig);
}

static void test_forecast_refused(void)
{
    chase_signal_t *sig;
    chase_err_t err;
    double now = now_s();
    size_t n;
    CHECK(open_p("electricitymaps", "noforecast", "nofc.sqlite", "zone=DE", &sig, &err) == CHASE_OK);
    CHECK(sig->ops->forecast(sig->self, now, (int64_t)now + 3600, s, 100, &n, &err) == CHASE_EAUTH);
    CHECK(strstr(err.msg, "forecasts refused") != NULL);
    int count = fake_count(&fake, "noforecast", NULL);
    CHECK(sig->ops->forecast(sig->self, now + 900, (int64_t)now + 3600, s, 100, &n, &err) == CHASE_ENOTSUP);
    CHECK(fake_count(&fake, "noforecast", NULL) == count);
    CHECK(chase_signal_history(sig, now, (int64_t)now - 3600, s, 100, &n, &err) == CHASE_OK); /* history still works */
    chase_signal_free(sig);
}

static void test_watttime(void)
{
    chase_signal_t *sig;
    chase_err_t err;
    double now = now_s();
    size_t n;
    CHECK(open_p("watttime", "ok-wt", "wt.sqlite", "region=CAISO_NORTH", &sig, &err) == CHASE_OK);
    CHECK(chase_signal_history(sig, now, (int64_t)now - 3600, s, 4096, &n, &err) == CHASE_OK);
    CHECK(n >= 12 && n <= 13);
    int match = 1;
    for (size_t i = 0; i < n; i++)
        match &= fabs(s[i].ci - wt_g(s[i].t)) < 1e-9 && s[i].step_s == 300;
    CHECK(match);
    /* Past the freshness window only what the cache lacks is asked for: from its newest point on. */
    char start[64] = "start=", *stats = NULL;
    chase_time_format(s[n - 1].t, start + 6, sizeof start - 6);
    CHECK(chase_signal_history(sig, now + 400, (int64_t)now - 3600, s, 4096, &n, &err) == CHASE_OK);
    CHECK(fake_count(&fake, "ok-wt", &stats) == 3);
    CHECK(stats && strstr(stats, start) != NULL);
    free(stats);
    size_t nf;
    CHECK(sig->ops->forecast(sig->self, now, (int64_t)now + 3600, s, 4096, &nf, &err) == CHASE_OK);
    CHECK(nf >= 12 && nf <= 13 && s[0].flags == CHASE_SAMPLE_FORECAST);
    CHECK(fabs(s[3].ci - wt_g(s[3].t)) < 1e-9);
    CHECK(fake_count(&fake, "ok-wt", &stats) == 4); /* one login for all three requests */
    CHECK(stats && strstr(stats, "horizon_hours=1") != NULL && strstr(stats, "\"Bearer tok-") != NULL);
    free(stats);
    chase_signal_free(sig);
    /* By place: the region comes from /v3/region-from-loc. */
    CHECK(open_p("watttime", "ok-wtll", "wt.sqlite", "lat=37.8,lon=-122.3", &sig, &err) == CHASE_OK);
    CHECK(chase_signal_history(sig, now, (int64_t)now - 1800, s, 4096, &n, &err) == CHASE_OK);
    CHECK(fake_count(&fake, "ok-wtll", &stats) == 3);
    CHECK(stats && strstr(stats, "region-from-loc?latitude=37.8000&longitude=-122.3000") &&
          strstr(stats, "historical?region=CAISO_NORTH"));
    free(stats);
    chase_signal_free(sig);
    /* A token refused before its time: one new login, then the request succeeds. */
    CHECK(open_p("watttime", "wtexpire", "wt2.sqlite", "region=CAISO_NORTH", &sig, &err) == CHASE_OK);
    CHECK(chase_signal_history(sig, now, (int64_t)now - 1800, s, 4096, &n, &err) == CHASE_OK);
    CHECK(fake_count(&fake, "wtexpire", &stats) == 4);
    CHECK(stats && strstr(stats, "/login") && strstr(strstr(stats, "/login") + 1, "/login"));
    free(stats);
    chase_signal_free(sig);
    /* A plan without historical data: say what the account gets. */
    CHECK(open_p("watttime", "noplan", "wt3.sqlite", "region=PJM", &sig, &err) == CHASE_OK);
    CHECK(chase_signal_history(sig, now, (int64_t)now - 1800, s, 4096, &n, &err) == CHASE_EAUTH);
    CHECK(strstr(err.msg, "signal-index") != NULL && strstr(err.msg, "percentile") != NULL);
    chase_signal_free(sig);
    /* Wrong units (a percentile where lbs/MWh belongs) are refused, not converted. */
    CHECK(open_p("watttime", "units", "wt4.sqlite", "region=CAISO_NORTH", &sig, &err) == CHASE_OK);
    CHECK(chase_signal_history(sig, now, (int64_t)now - 1800, s, 4096, &n, &err) == CHASE_EFORMAT);
    CHECK(strstr(err.msg, "percentile") != NULL);
    chase_signal_free(sig);
    /* Refused credentials; the password never shows. */
    setenv("WATTTIME_PASSWORD", "not-the-password", 1);
    CHECK(open_p("watttime", "ok-wtbad", "wt5.sqlite", "region=CAISO_NORTH", &sig, &err) == CHASE_OK);
    CHECK(chase_signal_history(sig, now, (int64_t)now - 1800, s, 4096, &n, &err) == CHASE_EAUTH);
    CHECK(strstr(err.msg, "WATTTIME_PASSWORD") != NULL && strstr(err.msg, "not-the-password") == NULL);
    chase_signal_free(sig);
    unsetenv("WATTTIME_PASSWORD");
    CHECK(open_p("watttime", "ok", "wt5.sqlite", "region=CAISO_NORTH", &sig, &err) == CHASE_EAUTH);
    CHECK(strstr(err.msg, "WATTTIME_USERNAME") != NULL);
    setenv("WATTTIME_PASSWORD", "s3cret-pw", 1);
    CHECK(open_p("watttime", "ok", "wt5.sqlite", "region=CAISO&NORTH", &sig, &err) == CHASE_EINVAL);
    CHECK(open_p("watttime", "ok", "wt5.sqlite", "region=X,signal_type=health_damage", &sig, &err) == CHASE_EINVAL);
}

static void test_ukci(void)
{
    chase_signal_t *sig;
    chase_err_t err;
    double now = now_s();
    size_t n;
    CHECK(open_p("ukci", "ok-uk", "uk.sqlite", "", &sig, &err) == CHASE_OK);
    CHECK(sig->step_s == 1800);
    CHECK(chase_signal_history(sig, now, (int64_t)now - 3 * 3600, s, 4096, &n, &err) == CHASE_OK);
    CHECK(n >= 6 && n <= 7);
    int match = 1;
    int64_t open_half = (int64_t)now - (int64_t)now % 1800;
    for (size_t i = 0; i < n; i++) {
        if (s[i].t == open_half) /* not measured yet: the forecast stands in, flagged */
            match &= s[i].flags == CHASE_SAMPLE_FORECAST && s[i].ci == uk_actual(s[i].t) + 10;
        else
            match &= s[i].flags == 0 && s[i].ci == uk_actual(s[i].t);
    }
    CHECK(match);
    CHECK(s[n - 1].t == open_half);
    size_t nf;
    CHECK(sig->ops->forecast(sig->self, now, (int64_t)now + 48 * 3600, s, 4096, &nf, &err) == CHASE_OK);
    CHECK(nf == 96 && s[0].flags == CHASE_SAMPLE_FORECAST);
    chase_signal_free(sig);
    CHECK(open_p("ukci", "ok-ukpc", "uk.sqlite", "postcode=rg10 9xx", &sig, &err) == CHASE_OK);
    CHECK(chase_signal_history(sig, now, (int64_t)now - 3600, s, 4096, &n, &err) == CHASE_OK);
    CHECK(n >= 2 && s[n - 1].flags == CHASE_SAMPLE_FORECAST); /* regional answers carry forecasts only */
    char *stats = NULL;
    CHECK(fake_count(&fake, "ok-ukpc", &stats) == 1 && stats && strstr(stats, "/postcode/RG10") != NULL);
    free(stats);
    chase_signal_free(sig);
    CHECK(open_p("ukci", "ok-ukr", "uk.sqlite", "region=13", &sig, &err) == CHASE_OK);
    CHECK(sig->ops->forecast(sig->self, now, (int64_t)now + 3600, s, 4096, &nf, &err) == CHASE_OK);
    CHECK(nf >= 2 && nf <= 3);
    CHECK(fake_count(&fake, "ok-ukr", &stats) == 1 && stats && strstr(stats, "/fw48h/regionid/13") != NULL);
    free(stats);
    chase_signal_free(sig);
    CHECK(open_p("ukci", "ok", "uk.sqlite", "region=18", &sig, &err) == CHASE_EINVAL);
    CHECK(open_p("ukci", "ok", "uk.sqlite", "postcode=../../etc", &sig, &err) == CHASE_EINVAL);
    CHECK(open_p("ukci", "ok", "uk.sqlite", "region=1,postcode=RG10", &sig, &err) == CHASE_EINVAL);
}

int main(void)
{
    int64_t wall = (int64_t)time(NULL);
    fixed_now = wall - wall % 3600 - 2 * 86400 + 1000;
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long)fixed_now);
    setenv("FAKE_API_NOW", text, 1);
    int rc = fake_start(&fake);
    if (rc)
        return rc;
    if (!temp_dir(dir, sizeof dir))
        return 1;
    setenv("ELECTRICITYMAPS_TOKEN", "test-token-123", 1);
    setenv("WATTTIME_USERNAME", "alice", 1);
    setenv("WATTTIME_PASSWORD", "s3cret-pw", 1);
    RUN(test_electricitymaps);
    RUN(test_electricitymaps_setup_errors);
    RUN(test_failures_keep_cache);
    RUN(test_forecast_refused);
    RUN(test_watttime);
    RUN(test_ukci);
    fake_stop(&fake);
    temp_dir_remove(dir);
    CHECK_DONE();
}
