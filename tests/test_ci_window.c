/* The budget policy's recent-CI window (src/policy/ci_window.c), updated in place: its ranks must be what a count
 * over the values held gives, and its moments what a fresh two-pass computation gives, after any sequence of values
 * coming and leaving (ties, missing samples, spikes that widen the index's range, a range that shrinks back, a
 * constant stretch, near-zero values), and after a long run (no drift). The expected values are computed here by
 * brute force from the raw series, never from the window's own state. */
#include <math.h>

#include "check.h"
#include "policy/ci_window.h"
#include "sim_fixtures.h"

/* The values the window should hold after seeing v[0..end): the last `hold` real ones. */
static int window_first(const double *v, int end, int hold)
{
    int first = end, held = 0;
    while (first > 0 && held < hold)
        held += !isnan(v[--first]);
    return first;
}

/* Two-pass mean and variance of the real values of v[first..end), in long double. */
static void brute_moments(const double *v, int first, int end, double *mean, double *var)
{
    long double s = 0, ss = 0;
    int n = 0;
    for (int i = first; i < end; i++)
        if (!isnan(v[i])) {
            s += v[i];
            n++;
        }
    long double m = n ? s / n : 0;
    for (int i = first; i < end; i++)
        if (!isnan(v[i]))
            ss += (v[i] - m) * (v[i] - m);
    *mean = (double)m;
    *var = n > 1 ? (double)(ss / (n - 1)) : 0;
}

/* Feeds v to a window of `hold` hourly samples, `stride` samples at a time, checking ranks and moments each time. */
static int check_series(const double *v, int n, int hold, int stride, double q_lo, double q_hi, double q_step)
{
    ci_window_t w;
    ci_window_init(&w, hold * 3600.0);
    int bad = 0, checked = 0;
    for (int end = 1; end <= n; end += stride) {
        /* The loop passes the recent past only (here: the last 3 * hold samples), with its own first time. */
        int from_i = end > 3 * hold ? end - 3 * hold : 0;
        chase_policy_ctx_t ctx = {.ci_past = v + from_i,
                                  .n_past = (size_t)(end - from_i),
                                  .ci_past_step_s = 3600,
                                  .ci_past_t0 = (int64_t)from_i * 3600};
        CHECK(ci_window_update(&w, &ctx) == CHASE_OK);
        int first = window_first(v, end, hold);
        size_t held = 0;
        for (int i = first; i < end; i++)
            held += !isnan(v[i]);
        bad += w.n != held;
        for (double q = q_lo; q <= q_hi; q += q_step) {
            size_t want = 0;
            for (int i = first; i < end; i++)
                want += !isnan(v[i]) && v[i] <= q;
            size_t from = want > 3 ? want - 3 : 0;
            bad += ci_window_rank(&w, q, 0) != want || ci_window_rank(&w, q, from) != want;
            checked++;
        }
        double m, var, bm, bvar;
        ci_window_moments(&w, &m, &var);
        brute_moments(v, first, end, &bm, &bvar);
        bad += !(fabs(m - bm) <= 4e-16 * fabs(bm) + 1e-300);
        bad += !(fabs(var - bvar) <= 1e-13 * bvar + 1e-300);
        checked++;
    }
    ci_window_free(&w);
    CHECK(checked > 100);
    return bad;
}

static void test_rank_with_ties_and_gaps(void)
{
    enum { N = 600 };
    static double v[N];
    unsigned long long s = 12345;
    for (int i = 0; i < N; i++) /* many ties; NAN = missing */
        v[i] = (i % 97 == 0) ? NAN : floor(fixture_rand(&s) * 50) * 7.5;
    CHECK(check_series(v, N, 100, 37, -10, 380, 1.25) == 0);
    CHECK(check_series(v, N, 100, 1, -10, 380, 11.25) == 0); /* one sample at a time */
}

/* Spikes far above the usual range force the index to widen; when they leave, the range must shrink back and
 * the ranks stay exact throughout. */
static void test_rank_across_spikes(void)
{
    enum { N = 900 };
    static double v[N];
    unsigned long long s = 777;
    for (int i = 0; i < N; i++) {
        v[i] = 2 + 3 * fixture_rand(&s); /* near zero */
        if (i % 150 == 75)
            v[i] = 800 + 100 * fixture_rand(&s); /* a gas peak */
    }
    CHECK(check_series(v, N, 60, 1, -1, 6, 0.05) == 0);
    CHECK(check_series(v, N, 60, 7, 0, 1000, 7.3) == 0);
}

/* A constant stretch (every rank query is at an edge, the variance is exactly 0), then values return. */
static void test_constant_then_varied(void)
{
    enum { N = 300 };
    static double v[N];
    unsigned long long s = 99;
    for (int i = 0; i < N; i++)
        v[i] = i >= 100 && i < 200 ? 5.0 : 100 + 50 * fixture_rand(&s);
    CHECK(check_series(v, N, 40, 1, 0, 200, 2.5) == 0);
    double c[10] = {5, 5, 5, 5, 5, 5, 5, 5, 5, 5};
    ci_window_t w;
    ci_window_init(&w, 86400.0);
    chase_policy_ctx_t ctx = {.ci_past = c, .n_past = 10, .ci_past_step_s = 3600, .ci_past_t0 = 0};
    CHECK(ci_window_update(&w, &ctx) == CHASE_OK);
    CHECK(ci_window_rank(&w, 4.999, 0) == 0);
    CHECK(ci_window_rank(&w, 5, 0) == 10);
    double m, var;
    ci_window_moments(&w, &m, &var);
    CHECK(m == 5);
    CHECK(var == 0);
    ci_window_free(&w);
}

/* A year of values through a two-week window: the running sums must not drift. Huge spikes come and leave; the
 * last window holds none, so its variance is small next to what a spike's square loses to rounding in a plain sum. */
static void test_no_drift(void)
{
    enum { N = 24 * 365 };
    static double v[N];
    unsigned long long s = 4242;
    for (int i = 0; i < N; i++)
        v[i] = 300 + 200 * sin(i * 0.26) + 40 * fixture_rand(&s) + (i % 500 == 0 && i < N - 400 ? 1e5 : 0);
    ci_window_t w;
    ci_window_init(&w, 14 * 86400.0);
    chase_policy_ctx_t ctx = {.ci_past = v, .n_past = N, .ci_past_step_s = 3600, .ci_past_t0 = 0};
    for (int end = 1; end <= N; end++) {
        ctx.n_past = (size_t)end;
        CHECK(ci_window_update(&w, &ctx) == CHASE_OK);
    }
    double m, var, bm, bvar;
    ci_window_moments(&w, &m, &var);
    brute_moments(v, N - 336, N, &bm, &bvar);
    CHECK_NEAR(m, bm, 4e-16 * bm);
    CHECK_NEAR(var, bvar, 1e-13 * bvar);
    CHECK(w.n == 336);
    ci_window_free(&w);
}

/* A level far above its spread (a variance 1e-6 of the squared mean): the sums of squares must keep the digits the
 * difference needs, or the variance is lost to rounding. */
static void test_small_spread_high_level(void)
{
    enum { N = 2000 };
    static double v[N];
    unsigned long long s = 31337;
    for (int i = 0; i < N; i++)
        v[i] = 1000 + fixture_rand(&s);
    ci_window_t w;
    ci_window_init(&w, 300 * 3600.0);
    chase_policy_ctx_t ctx = {.ci_past = v, .n_past = N, .ci_past_step_s = 3600, .ci_past_t0 = 0};
    CHECK(ci_window_update(&w, &ctx) == CHASE_OK);
    double m, var, bm, bvar;
    ci_window_moments(&w, &m, &var);
    brute_moments(v, N - 300, N, &bm, &bvar);
    CHECK_NEAR(m, bm, 4e-16 * bm);
    CHECK_NEAR(var, bvar, 1e-12 * bvar);
    ci_window_free(&w);
}

int main(void)
{
    RUN(test_rank_with_ties_and_gaps);
    RUN(test_rank_across_spikes);
    RUN(test_constant_then_varied);
    RUN(test_no_drift);
    RUN(test_small_spread_high_level);
    CHECK_DONE();
}
