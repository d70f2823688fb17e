/* Signals: trace replay never looks ahead, actual() is the exact mean, static, replay mapping, spec parsing through
 * the one key reader and the one table of sources, and spec redaction. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/provider.h"
#include "chase/signal.h"
#include "chase/timeutil.h"
#include "check.h"
#include "signal/keys.h"
#include "signal/registry.h"

static int have_data = 1;

/* A tiny deterministic generator, so the random probes are the same on every run. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static chase_trace_t *synthetic(int64_t start, int64_t step, size_t n)
{
    chase_trace_t *t = chase_trace_new("synthetic", start, step, n);
    for (size_t i = 0; i < n; i++)
        t->ci[i] = 100 + 50 * sin((double)i / 3.0) + (double)(i % 7);
    return t;
}

/* For many instants: every sample returned ended by now, and the newest sample that ended by now is returned. */
static void check_no_lookahead(chase_signal_t *s, const chase_trace_t *t, double t_lo, double t_hi, int probes)
{
    static chase_sample_t out[20000];
    int bad = 0;
    for (int k = 0; k < probes; k++) {
        double now = t_lo + (t_hi - t_lo) * urand();
        if (k % 5 == 0) /* exactly on a boundary */
            now = (double)(t->start + (int64_t)(urand() * (double)t->n) * t->step_s);
        size_t n = 0;
        chase_err_t err;
        CHECK(chase_signal_history(s, now, INT64_MIN, out, 20000, &n, &err) == CHASE_OK);
        for (size_t i = 0; i < n; i++)
            if ((double)(out[i].t + out[i].step_s) > now || (i && out[i].t != out[i - 1].t + out[i].step_s))
                bad++;
        /* Not too cautious either: the sample after the last one returned has not ended yet. */
        int64_t next_end = n ? out[n - 1].t + 2 * t->step_s : t->start + t->step_s;
        if (n < t->n && (double)next_end <= now)
            bad++;
        if (n && out[n - 1].ci != chase_trace_at(t, (double)out[n - 1].t))
            bad++;
    }
    CHECK(bad == 0);
}

static void test_trace_history_no_lookahead(void)
{
    chase_trace_t *t = synthetic(1600000000, 1800, 500);
    chase_signal_t *s;
    chase_err_t err;
    CHECK(chase_signal_trace(t, &s, &err) == CHASE_OK);
    CHECK(s->step_s == 1800);
    check_no_lookahead(s, t, 1600000000.0 - 7200, (double)chase_trace_end(t) + 7200, 3000);
    /* Before the first sample ends nothing is known. */
    chase_sample_t out[4];
    size_t n = 99;
    CHECK(chase_signal_history(s, 1600000000 + 1799.999, 0, out, 4, &n, &err) == CHASE_OK && n == 0);
    CHECK(chase_signal_history(s, 1600000000 + 1800, 0, out, 4, &n, &err) == CHASE_OK && n == 1);
    CHECK(n == 1 && out[0].t == 1600000000 && out[0].ci == t->ci[0] && out[0].flags == 0);
    /* cap keeps the newest; since drops older samples (a since inside a sample skips that sample). */
    double now = 1600000000 + 10 * 1800 + 5;
    CHECK(chase_signal_history(s, now, 0, out, 4, &n, &err) == CHASE_OK && n == 4);
    CHECK(out[0].t == 1600000000 + 6 * 1800 && out[3].t == 1600000000 + 9 * 1800);
    CHECK(chase_signal_history(s, now, 1600000000 + 8 * 1800 - 1, out, 4, &n, &err) == CHASE_OK && n == 2);
    CHECK(out[0].t == 1600000000 + 8 * 1800);
    CHECK(chase_signal_history(s, now, 1600000000 + 8 * 1800 + 1, out, 4, &n, &err) == CHASE_OK && n == 1);
    CHECK(chase_signal_history(s, now, 1600000000 + 99 * 1800, out, 4, &n, &err) == CHASE_OK && n == 0);
    CHECK(chase_signal_history(s, now, 0, out, 0, &n, &err) == CHASE_OK && n == 0);
    CHECK(chase_signal_history(s, NAN, 0, out, 4, &n, &err) == CHASE_EINVAL);
    CHECK(chase_signal_history(s, now, 0, NULL, 4, &n, &err) == CHASE_EINVAL);
    /* A trace signal makes no forecasts of its own. */
    CHECK(chase_signal_forecast(s, now, (int64_t)now + 3600, out, 4, &n, &err) == CHASE_ENOTSUP);
    chase_signal_free(s);
    chase_trace_free(t);
}

/* The real file with the long gap: filled samples carry the FILLED flag, and no look-ahead across a year. */
static void test_trace_history_real_file(void)
{
    char path[1024];
    if (!shared_data_path("carbon/eia-PJM-2022.csv", path, sizeof path)) {
        have_data = 0;
        return;
    }
    chase_trace_t *t;
    chase_err_t err;
    CHECK(chase_trace_read_csv(path, NULL, &t, &err) == CHASE_OK);
    chase_signal_t *s;
    CHECK(chase_signal_trace(t, &s, &err) == CHASE_OK);
    check_no_lookahead(s, t, (double)t->start, (double)chase_trace_end(t), 500);
    int64_t gap;
    chase_time_parse("2022-03-13T07:00:00Z", &gap, NULL);
    chase_sample_t out[48];
    size_t n;
    CHECK(chase_signal_history(s, (double)gap + 86400, gap - 3600, out, 48, &n, &err) == CHASE_OK && n == 25);
    int flagged = 0;
    for (size_t i = 0; i < n; i++)
        flagged += (out[i].flags & CHASE_SAMPLE_FILLED) != 0;
    CHECK(flagged == 22 && !(out[0].flags & CHASE_SAMPLE_FILLED) && (out[1].flags & CHASE_SAMPLE_FILLED));
    /* A whole year's mean is the plain mean of the samples. */
    double mean, sum = 0;
    for (size_t i = 0; i < t->n; i++)
        sum += t->ci[i];
    CHECK(chase_signal_actual(s, (double)t->start, (double)chase_trace_end(t), &mean, &err) == CHASE_OK);
    CHECK_NEAR(mean, sum / (double)t->n, 1e-9);
    chase_signal_free(s);
    chase_trace_free(t);
}

static void test_trace_actual_exact(void)
{
    chase_trace_t *t = synthetic(0, 3600, 48);
    chase_signal_t *s;
    chase_err_t err;
    CHECK(chase_signal_trace(t, &s, &err) == CHASE_OK);
    double m;
    /* [1800, 5400): half of sample 0 and half of sample 1. */
    CHECK(chase_signal_actual(s, 1800, 5400, &m, &err) == CHASE_OK);
    CHECK_NEAR(m, (t->ci[0] + t->ci[1]) / 2, 1e-12);
    /* Random intervals against a brute-force mean over 1-second slices. */
    int bad = 0;
    for (int k = 0; k < 200; k++) {
        int64_t a = (int64_t)(urand() * 40 * 3600), b = a + 1 + (int64_t)(urand() * 8 * 3600);
        double want = 0;
        for (int64_t x = a; x < b; x++)
            want += t->ci[x / 3600];
        want /= (double)(b - a);
        CHECK(chase_signal_actual(s, (double)a, (double)b, &m, &err) == CHASE_OK);
        bad += fabs(m - want) > 1e-9;
    }
    CHECK(bad == 0);
    CHECK(chase_signal_actual(s, -1, 3600, &m, &err) == CHASE_ENODATA);
    CHECK(strstr(err.msg, "1970-01-01T00:00:00Z") != NULL); /* says what the trace covers */
    CHECK(chase_signal_actual(s, 47 * 3600, 48 * 3600 + 1, &m, &err) == CHASE_ENODATA);
    CHECK(chase_signal_actual(s, 3600, 3600, &m, &err) == CHASE_EINVAL);
    chase_signal_free(s);
    chase_trace_free(t);
}

static void test_replay_mapping(void)
{
    chase_trace_t *t = synthetic((int64_t)1000000 * 3600, 3600, 100);
    chase_signal_t *s;
    chase_err_t err;
    /* Real time: the sample holding start (rounded down to the step) begins at origin on the caller's clock. */
    chase_replay_t map = {t->start + 10 * 3600 + 600, 1700000000, 1};
    CHECK(chase_signal_trace_replay(t, &map, 0, &s, &err) == CHASE_OK);
    chase_sample_t out[200];
    size_t n;
    CHECK(chase_signal_history(s, 1700000000, INT64_MIN, out, 200, &n, &err) == CHASE_OK);
    CHECK(n == 10 && out[9].t == 1700000000 - 3600 && out[9].ci == t->ci[9]);
    CHECK(chase_signal_history(s, 1700000000 + 3600, INT64_MIN, out, 200, &n, &err) == CHASE_OK);
    CHECK(n == 11 && out[10].t == 1700000000 && out[10].ci == t->ci[10]);
    double m;
    CHECK(chase_signal_actual(s, 1700000000, 1700000000 + 7200, &m, &err) == CHASE_OK);
    CHECK_NEAR(m, (t->ci[10] + t->ci[11]) / 2, 1e-12);
    chase_signal_free(s);
    /* A demo at 60x: an hour of trace per minute; the signal's step is 60 s on the caller's clock. */
    map = (chase_replay_t){t->start + 5 * 3600, 500, 60};
    CHECK(chase_signal_trace_replay(t, &map, 0, &s, &err) == CHASE_OK);
    CHECK(s->step_s == 60);
    CHECK(chase_signal_history(s, 500 + 120, INT64_MIN, out, 200, &n, &err) == CHASE_OK);
    CHECK(n == 7 && out[6].t == 500 + 60 && out[6].step_s == 60 && out[6].ci == t->ci[6]);
    CHECK(chase_signal_actual(s, 500, 560, &m, &err) == CHASE_OK);
    CHECK_NEAR(m, t->ci[5], 1e-12);
    chase_signal_free(s);
    /* Bad mappings. */
    map = (chase_replay_t){t->start, 0, 7};
    CHECK(chase_signal_trace_replay(t, &map, 0, &s, &err) == CHASE_EINVAL && strstr(err.msg, "whole seconds"));
    map = (chase_replay_t){t->start - 1, 0, 1};
    CHECK(chase_signal_trace_replay(t, &map, 0, &s, &err) == CHASE_EINVAL && strstr(err.msg, "outside"));
    map = (chase_replay_t){t->start, 0, -1};
    CHECK(chase_signal_trace_replay(t, &map, 0, &s, &err) == CHASE_EINVAL);
    /* An owned trace is freed with the signal (ASan reports a leak otherwise) and on failure. */
    chase_trace_t *own = synthetic(0, 3600, 10);
    CHECK(chase_signal_trace_replay(own, NULL, 1, &s, &err) == CHASE_OK);
    chase_signal_free(s);
    own = synthetic(0, 3600, 10);
    map = (chase_replay_t){99 * 3600, 0, 1};
    CHECK(chase_signal_trace_replay(own, &map, 1, &s, &err) == CHASE_EINVAL);
    chase_trace_free(t);
}

static void test_static(void)
{
    chase_signal_t *s;
    chase_err_t err;
    CHECK(chase_signal_static(250, 1800, &s, &err) == CHASE_OK);
    chase_sample_t out[8];
    size_t n;
    double now = 1800.0 * 1000 + 17;
    CHECK(chase_signal_history(s, now, 0, out, 8, &n, &err) == CHASE_OK && n == 8);
    CHECK(out[7].t == 1800 * 999 && out[7].step_s == 1800 && out[7].ci == 250 && out[0].t == 1800 * 992);
    CHECK(chase_signal_history(s, now, 1800 * 997 + 1, out, 8, &n, &err) == CHASE_OK && n == 2);
    CHECK(chase_signal_history(s, now, INT64_MIN, out, 8, &n, &err) == CHASE_OK && n == 8 && out[7].t == 1800 * 999);
    CHECK(chase_signal_history(s, 1800.0 * 1000, 1800 * 999, out, 8, &n, &err) == CHASE_OK && n == 1);
    CHECK(chase_signal_history(s, 1800.0 * 1000 - 0.5, 1800 * 999, out, 8, &n, &err) == CHASE_OK && n == 0);
    double m;
    CHECK(chase_signal_actual(s, 5, 99999, &m, &err) == CHASE_OK && m == 250);
    chase_signal_free(s);
    CHECK(chase_signal_static(-1, 1800, &s, &err) == CHASE_EINVAL);
    CHECK(chase_signal_static(NAN, 1800, &s, &err) == CHASE_EINVAL);
    CHECK(chase_signal_static(100, 0, &s, &err) == CHASE_EINVAL);
    chase_signal_free(NULL);
}

/* ---------- specs */

static int open_spec(const char *spec, double now, chase_signal_t **s, chase_err_t *err)
{
    chase_signal_open_opts_t o = {.now = now};
    *s = NULL;
    memset(err, 0, sizeof *err);
    return chase_signal_open(spec, &o, s, err);
}

static void expect_spec_error(const char *spec, int code, const char *word)
{
    chase_signal_t *s;
    chase_err_t err;
    int rc = open_spec(spec, 1e9, &s, &err);
    int ok = rc == code && s == NULL && strstr(err.msg, word);
    if (!ok)
        fprintf(stderr, "  spec '%s': expected %d with '%s', got %d: %s\n", spec, code, word, rc, err.msg);
    CHECK(ok);
    chase_signal_free(s);
}

static void test_spec_static(void)
{
    chase_signal_t *s;
    chase_err_t err;
    CHECK(open_spec("static:420", 0, &s, &err) == CHASE_OK);
    double m;
    if (s) {
        CHECK(s->step_s == 1800 && chase_signal_actual(s, 0, 10, &m, &err) == CHASE_OK && m == 420);
        chase_signal_free(s);
    }
    CHECK(open_spec("static:0.5,step=5m", 0, &s, &err) == CHASE_OK);
    if (s) {
        CHECK(s->step_s == 300);
        chase_signal_free(s);
    }
    expect_spec_error("static:", CHASE_EINVAL, "CI value");
    expect_spec_error("static:abc", CHASE_EINVAL, "'abc'");
    expect_spec_error("static:-3", CHASE_EINVAL, "'-3'");
    expect_spec_error("static:400,step=10x", CHASE_EINVAL, "step='10x'");
    expect_spec_error("static:400,step=1s", CHASE_EINVAL, "step=1s");
    expect_spec_error("static:400,colour=red", CHASE_EINVAL, "unknown key 'colour'");
    expect_spec_error("static:400,step=", CHASE_EINVAL, "'step' has an empty value");
}

/* The one key=value reader every source uses (in a chain, an item without '=' names the next provider instead). */
static void test_spec_key_values(void)
{
    chase_keys_t k;
    chase_err_t err;
    CHECK(chase_keys_parse("prov", "a=1, b = x ,,c=2", &k, &err) == CHASE_OK && k.n == 3);
    CHECK_STR(chase_keys_get(&k, "a"), "1");
    CHECK_STR(chase_keys_get(&k, "b"), "x");
    CHECK_STR(chase_keys_get(&k, "c"), "2");
    CHECK(chase_keys_get(&k, "d") == NULL);
    CHECK(chase_keys_check(&k, "a, b, c", &err) == CHASE_OK);
    CHECK(chase_keys_check(&k, "a, b", &err) == CHASE_EINVAL && strstr(err.msg, "prov: unknown key 'c'") &&
          strstr(err.msg, "(known keys: a, b)"));
    chase_keys_free(&k);
    CHECK(chase_keys_parse("prov", "", &k, &err) == CHASE_OK && k.n == 0 && k.lead == NULL);
    chase_keys_free(&k);
    /* A source with a leading item takes it whole, '=' and blanks included. */
    CHECK(chase_keys_parse_lead("trace", "/data/a=b.csv,start=2022", &k, &err) == CHASE_OK);
    CHECK_STR(k.lead, "/data/a=b.csv");
    CHECK(k.n == 1 && !strcmp(k.key[0], "start"));
    chase_keys_free(&k);
    static const struct {
        const char *text, *says;
    } bad[] = {
        {"step", "prov: 'step' in the signal spec is not key=value"},
        {"=3", "has no key"},
        {"a=1,a=2", "key 'a' given twice"},
        {"a= ", "key 'a' has an empty value"},
        /* A long item without '=' may be a pasted credential: it is named by position, never quoted. */
        {"a=1,sk9f8d7s6a5d4f3g2h1", "item 2 of the signal spec is not key=value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = chase_keys_parse("prov", bad[i].text, &k, &err);
        CHECK(rc == CHASE_EINVAL && strstr(err.msg, bad[i].says));
        if (rc != CHASE_EINVAL || !strstr(err.msg, bad[i].says))
            fprintf(stderr, "  '%s': %d %s\n", bad[i].text, rc, err.msg);
        CHECK(strstr(err.msg, "sk9f8d7s6a5d4f3g2h1") == NULL);
    }
    double d = -1;
    int b = -1;
    CHECK(chase_keys_parse("prov", "n=2.5,d=90s,b=yes,x=abc", &k, &err) == CHASE_OK);
    CHECK(chase_keys_number(&k, "n", 0, 3, &d, &err) == CHASE_OK && d == 2.5);
    CHECK(chase_keys_number(&k, "n", 0, 2, &d, &err) == CHASE_EINVAL && strstr(err.msg, "n=2.5 must be between"));
    CHECK(chase_keys_duration(&k, "d", 0, 100, &d, &err) == CHASE_OK && d == 90);
    CHECK(chase_keys_bool(&k, "b", &b, &err) == CHASE_OK && b == 1);
    CHECK(chase_keys_number(&k, "x", 0, 1, &d, &err) == CHASE_EINVAL && strstr(err.msg, "x='abc' is not a number"));
    d = 7;
    CHECK(chase_keys_number(&k, "absent", 0, 1, &d, &err) == CHASE_OK && d == 7); /* absent: left alone */
    chase_keys_free(&k);
}

/* One table of sources: every name the spec reader knows, the help and chase_provider_known agree with it. */
static void test_registry(void)
{
    size_t n = 0, live = 0;
    for (const chase_signal_source_t *s; (s = chase_signal_source(n)) != NULL; n++) {
        CHECK(s->name && s->usage && s->summary && s->secret_envs);
        CHECK(strncmp(s->usage, s->name, strlen(s->name)) == 0); /* the usage is the spec form of that name */
        CHECK(chase_provider_known(s->name) == s->live);
        CHECK(chase_source_find(s->name) && &chase_source_find(s->name)->info == s);
        live += (size_t)s->live;
    }
    CHECK(n == 5 && live == 3);
    CHECK(!chase_provider_known("trace") && !chase_provider_known("nosuch") && !chase_provider_known(NULL));
    /* The credential variables, for a command that must not inherit them. */
    const char *want[] = {"ELECTRICITYMAPS_TOKEN", "WATTTIME_USERNAME", "WATTTIME_PASSWORD"};
    size_t m = 0;
    for (const char *e; (e = chase_signal_secret_env(m)) != NULL; m++)
        CHECK(m < 3 && !strcmp(e, want[m]));
    CHECK(m == 3);
    CHECK(chase_source_secret_key("token") && chase_source_secret_key("password") &&
          chase_source_secret_key("username") && chase_source_secret_key("api_key") &&
          chase_source_secret_key("MySecret") && !chase_source_secret_key("zone") && !chase_source_secret_key("url"));
}

/* What a report or a message may show of a spec: every credential blanked, everything else kept. */
static void test_spec_redact(void)
{
    static const struct {
        const char *spec, *shown;
    } cases[] = {
        {"ukci", "ukci"},
        {"electricitymaps:zone=DE,token=tok-SECRET-1", "electricitymaps:zone=DE,token=***"},
        {"electricitymaps:token=tok-SECRET-1,zone=DE", "electricitymaps:token=***,zone=DE"},
        {"watttime:region=PJM,username=alice,password=pw-SECRET-2,ukci:region=13,max_stale=1h",
         "watttime:region=PJM,username=***,password=***,ukci:region=13,max_stale=1h"},
        {"ukci:url=https://bob:pw-SECRET-3@proxy.example/uk,fresh=0", "ukci:url=https://***@proxy.example/uk,fresh=0"},
        {"trace:/data/ci.csv,start=2022-06-01,speed=60", "trace:/data/ci.csv,start=2022-06-01,speed=60"},
        {"static:400", "static:400"},
        {"electricitymaps:zone=DE, api_key = k-SECRET-4", "electricitymaps:zone=DE, api_key =***"},
        /* A bare value after a live source (a pasted key without "token="): blanked too. */
        {"electricitymaps:zone=DE,tokSECRET5abcdef123456", "electricitymaps:zone=DE,***"},
    };
    char buf[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(chase_signal_spec_redact(cases[i].spec, buf, sizeof buf) == CHASE_OK);
        CHECK_STR(buf, cases[i].shown);
        CHECK(strstr(buf, "SECRET") == NULL);
    }
    /* Cut to fit: still redacted, and said. */
    char small[32];
    CHECK(chase_signal_spec_redact("electricitymaps:zone=DE,token=tok-SECRET-1", small, sizeof small) == CHASE_ERANGE);
    CHECK(strlen(small) == sizeof small - 1 && strstr(small, "SECRET") == NULL && strstr(small, "tok-") == NULL);
    CHECK(chase_signal_spec_redact(NULL, buf, sizeof buf) == CHASE_OK && buf[0] == '\0');
    /* Errors about a spec never quote a credential either. */
    chase_signal_t *s;
    chase_err_t err;
    CHECK(open_spec("electricitymaps:zone=DE,token=tok-SECRET-6,colour=red", 1e9, &s, &err) == CHASE_EINVAL);
    CHECK(strstr(err.msg, "colour") && !strstr(err.msg, "SECRET"));
    CHECK(open_spec("static:3,tokSECRET7abcdef123456", 1e9, &s, &err) == CHASE_EINVAL);
    CHECK(strstr(err.msg, "not shown") && !strstr(err.msg, "SECRET"));
    CHECK(open_spec("electricitymaps:tokSECRET8abcdef123456", 1e9, &s, &err) == CHASE_EINVAL);
    CHECK(strstr(err.msg, "not key=value") && !strstr(err.msg, "SECRET"));
}

static void test_spec_general(void)
{
    expect_spec_error("nosuch:zone=DE", CHASE_EINVAL, "provider 'nosuch' is not available in this build");
    expect_spec_error("nosuch:zone=DE", CHASE_EINVAL, "trace, static");
    expect_spec_error("data.csv", CHASE_EINVAL, "write trace:data.csv");
    expect_spec_error(":x", CHASE_EINVAL, "names no provider");
    expect_spec_error("", CHASE_EINVAL, "missing");
    chase_signal_t *s;
    chase_err_t err;
    CHECK(chase_signal_open(NULL, NULL, &s, &err) == CHASE_EINVAL);
}

static void test_spec_trace(void)
{
    char path[1024], spec[1400];
    if (!shared_data_path("carbon/eia-CISO-2022.csv", path, sizeof path)) {
        have_data = 0;
        return;
    }
    chase_trace_t *t;
    chase_err_t err;
    CHECK(chase_trace_read_csv(path, NULL, &t, &err) == CHASE_OK);
    chase_signal_t *s;
    chase_sample_t out[400];
    size_t n;
    double now = 1800000000;
    /* Default start: a week into the trace, replayed at now; so the week before it is history. */
    snprintf(spec, sizeof spec, "trace:%s", path);
    CHECK(open_spec(spec, now, &s, &err) == CHASE_OK);
    if (s) {
        CHECK(chase_signal_history(s, now, INT64_MIN, out, 400, &n, &err) == CHASE_OK);
        CHECK(n == 168 && out[167].t == (int64_t)now - 3600 && out[167].ci == t->ci[167] && out[0].ci == t->ci[0]);
        chase_signal_free(s);
    }
    /* Explicit start and speed. */
    snprintf(spec, sizeof spec, "trace:%s,start=2022-06-01T00:00:00Z,speed=60", path);
    CHECK(open_spec(spec, now, &s, &err) == CHASE_OK);
    if (s) {
        int64_t june;
        chase_time_parse("2022-06-01T00:00:00Z", &june, NULL);
        long j = chase_trace_index(t, june);
        CHECK(s->step_s == 60);
        CHECK(chase_signal_history(s, now + 60, INT64_MIN, out, 1, &n, &err) == CHASE_OK);
        CHECK(n == 1 && out[0].t == (int64_t)now && out[0].ci == t->ci[j]);
        chase_signal_free(s);
    }
    /* Errors name the key. */
    snprintf(spec, sizeof spec, "trace:%s,speed=fast", path);
    expect_spec_error(spec, CHASE_EINVAL, "speed='fast'");
    snprintf(spec, sizeof spec, "trace:%s,speed=0", path);
    expect_spec_error(spec, CHASE_EINVAL, "speed=0");
    snprintf(spec, sizeof spec, "trace:%s,speed=7", path);
    expect_spec_error(spec, CHASE_EINVAL, "speed=7 turns");
    snprintf(spec, sizeof spec, "trace:%s,start=yesterday", path);
    expect_spec_error(spec, CHASE_EINVAL, "start='yesterday'");
    snprintf(spec, sizeof spec, "trace:%s,start=2030-01-01", path);
    expect_spec_error(spec, CHASE_EINVAL, "start=2030-01-01 is outside");
    snprintf(spec, sizeof spec, "trace:%s,lca=maybe", path);
    expect_spec_error(spec, CHASE_EINVAL, "lca='maybe'");
    snprintf(spec, sizeof spec, "trace:%s,max_gap=soon", path);
    expect_spec_error(spec, CHASE_EINVAL, "max_gap='soon'");
    snprintf(spec, sizeof spec, "trace:%s,colour=red", path);
    expect_spec_error(spec, CHASE_EINVAL, "unknown key 'colour'");
    snprintf(spec, sizeof spec, "trace:%s,column=nope", path);
    expect_spec_error(spec, CHASE_ENOTFOUND, "no column named 'nope'");
    expect_spec_error("trace:", CHASE_EINVAL, "missing file");
    expect_spec_error("trace:/nonexistent/x.csv", CHASE_ENOTFOUND, "/nonexistent/x.csv");
    /* The file's errors pass through with their line: CISO has a one-hour gap; refusing gaps names its row. */
    snprintf(spec, sizeof spec, "trace:%s,max_gap=1m", path);
    expect_spec_error(spec, CHASE_EFORMAT, "eia-CISO-2022.csv:108:");
    chase_trace_free(t);
}

static void test_spec_trace_columns(void)
{
    char path[1024], spec[1400];
    if (!shared_data_path("carbon/electricitymaps-format/JP-TK_2023_hourly.csv", path, sizeof path)) {
        have_data = 0;
        return;
    }
    chase_signal_t *d, *l;
    chase_err_t err;
    double now = 1e9, md = 0, ml = 0;
    snprintf(spec, sizeof spec, "trace:%s,start=2023-01-01", path);
    CHECK(open_spec(spec, now, &d, &err) == CHASE_OK);
    snprintf(spec, sizeof spec, "trace:%s,lca=1,start=2023-01-01", path);
    CHECK(open_spec(spec, now, &l, &err) == CHASE_OK);
    if (d && l) {
        CHECK(chase_signal_actual(d, now, now + 86400 * 30, &md, &err) == CHASE_OK);
        CHECK(chase_signal_actual(l, now, now + 86400 * 30, &ml, &err) == CHASE_OK);
        CHECK(ml > md * 1.05);
    }
    chase_signal_free(d);
    chase_signal_free(l);
    char p2[1024];
    if (shared_data_path("carbon/watttime-MISO_MASON_CITY-2022-10.csv", p2, sizeof p2)) {
        chase_signal_t *f;
        snprintf(spec, sizeof spec, "trace:%s,column=watttime_forecast", p2);
        CHECK(open_spec(spec, now, &f, &err) == CHASE_OK);
        if (f) {
            CHECK(f->step_s == 1800);
            chase_sample_t out[4];
            size_t n;
            /* Only 83 h long: the replay starts at the trace's first sample, so nothing is known yet at now. */
            CHECK(chase_signal_history(f, now, INT64_MIN, out, 4, &n, &err) == CHASE_OK && n == 0);
            chase_signal_free(f);
        }
    }
}

int main(void)
{
    RUN(test_trace_history_no_lookahead);
    RUN(test_trace_history_real_file);
    RUN(test_trace_actual_exact);
    RUN(test_replay_mapping);
    RUN(test_static);
    RUN(test_spec_static);
    RUN(test_spec_key_values);
    RUN(test_registry);
    RUN(test_spec_redact);
    RUN(test_spec_general);
    RUN(test_spec_trace);
    RUN(test_spec_trace_columns);
    if (!have_data && check_failures == 0) {
        fprintf(stderr, "shared data missing: generated-data tests passed, real-file tests skipped\n");
        return SKIP_TEST;
    }
    CHECK_DONE();
}
