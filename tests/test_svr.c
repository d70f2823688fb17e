/* svr-paper checked without libsvm: on a problem small enough to solve exactly, the test works out the SVR the
 * paper describes (epsilon-SVR, RBF kernel, C = 100, gamma = 1e-4, epsilon = 0.1 g/kWh, unscaled inputs sin and cos
 * of the target's time of day and the previous value; docs/forecasting.md and arXiv 2303.02508) by solving its
 * dual programme itself, and requires the forecaster's one- and two-step forecasts to match. The settings come from
 * the documentation, never from the code: a change to any of them moves the forecasts out of tolerance. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "chase/forecast.h"
#include "check.h"

#define T0 1656633600LL /* 2022-07-01T00:00:00Z */
#define C_DOC 100.0
#define GAMMA_DOC 1e-4
#define EPS_DOC 0.1
#define NP 3 /* training pairs */

static void feat(double *x, int64_t t, double prev)
{
    double a = 2 * M_PI * (double)(t % 86400) / 86400.0;
    x[0] = sin(a);
    x[1] = cos(a);
    x[2] = prev;
}

static double kernel(const double *a, const double *b)
{
    double d2 = 0;
    for (int j = 0; j < 3; j++)
        d2 += (a[j] - b[j]) * (a[j] - b[j]);
    return exp(-GAMMA_DOC * d2);
}

/* Solves A z = r (n <= NP + 1) by Gaussian elimination with partial pivoting; 0 when singular. */
static int solve(int n, double a[NP + 1][NP + 2])
{
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(a[r][c]) > fabs(a[p][c]))
                p = r;
        if (fabs(a[p][c]) < 1e-14)
            return 0;
        for (int k = 0; k <= n; k++) {
            double t = a[c][k];
            a[c][k] = a[p][k];
            a[p][k] = t;
        }
        for (int r = 0; r < n; r++) {
            if (r == c)
                continue;
            double f = a[r][c] / a[c][c];
            for (int k = c; k <= n; k++)
                a[r][k] -= f * a[c][k];
        }
    }
    for (int r = 0; r < n; r++)
        a[r][n] /= a[r][r];
    return 1;
}

/* The epsilon-SVR's dual, solved exactly by trying every active set: beta_i = alpha_i - alpha_i* lies at -C, is
 * free and negative (the point is on the tube's lower edge: f = y + eps), is 0 (inside the tube), is free and
 * positive (f = y - eps), or at +C; sum beta = 0. For each pattern with a free point, the free betas and the offset
 * b solve the edge equations; the pattern is the optimum when the betas have their signs and every other point
 * meets its condition (inside the tube for 0, beyond its edge for a bound). Returns the number of free points of
 * the optimum, 0 if none was found. */
static int svr_exact(const double x[NP][3], const double *y, double *beta, double *b)
{
    double k[NP][NP];
    for (int i = 0; i < NP; i++)
        for (int j = 0; j < NP; j++)
            k[i][j] = kernel(x[i], x[j]);
    int found = 0;
    for (int code = 0; code < 243 && !found; code++) { /* 5^NP patterns */
        int st[NP], c = code, free_idx[NP], nf = 0;
        for (int i = 0; i < NP; i++, c /= 5)
            st[i] = c % 5 - 2; /* -2: -C, -1: free < 0, 0: zero, 1: free > 0, 2: +C */
        double bt[NP];
        for (int i = 0; i < NP; i++) {
            bt[i] = st[i] == 2 ? C_DOC : st[i] == -2 ? -C_DOC : 0;
            if (st[i] == 1 || st[i] == -1)
                free_idx[nf++] = i;
        }
        if (nf == 0)
            continue;
        /* Unknowns: the free betas, then b. Rows: each free point on its edge, then sum beta = 0. */
        double a[NP + 1][NP + 2];
        memset(a, 0, sizeof a);
        for (int r = 0; r < nf; r++) {
            int i = free_idx[r];
            double rhs = y[i] - EPS_DOC * st[i];
            for (int j = 0; j < NP; j++)
                if (st[j] == 2 || st[j] == -2)
                    rhs -= k[i][j] * bt[j];
            for (int q = 0; q < nf; q++)
                a[r][q] = k[i][free_idx[q]];
            a[r][nf] = 1;
            a[r][nf + 1] = rhs;
        }
        double fixed = 0;
        for (int j = 0; j < NP; j++)
            fixed += bt[j];
        for (int q = 0; q < nf; q++)
            a[nf][q] = 1;
        a[nf][nf + 1] = -fixed;
        if (!solve(nf + 1, a))
            continue;
        for (int q = 0; q < nf; q++)
            bt[free_idx[q]] = a[q][nf + 1];
        double off = a[nf][nf + 1];
        int ok = 1;
        for (int i = 0; i < NP && ok; i++) {
            double f = off;
            for (int j = 0; j < NP; j++)
                f += k[i][j] * bt[j];
            double r = y[i] - f, tol = 1e-9;
            switch (st[i]) {
            case -2: ok = r <= -EPS_DOC + tol; break;
            case -1: ok = bt[i] < 0 && bt[i] > -C_DOC; break;
            case 0: ok = fabs(r) <= EPS_DOC + tol; break;
            case 1: ok = bt[i] > 0 && bt[i] < C_DOC; break;
            default: ok = r >= EPS_DOC - tol; break;
            }
        }
        if (ok) {
            memcpy(beta, bt, sizeof bt);
            *b = off;
            found = nf;
        }
    }
    return found;
}

static double svr_eval(const double x[NP][3], const double *beta, double b, const double *q)
{
    double f = b;
    for (int i = 0; i < NP; i++)
        f += beta[i] * kernel(x[i], q);
    return f;
}

/* Four hourly samples (three training pairs) and the forecasts the documented SVR gives after them. */
static void check_case(const double v[4], int want_bound, double tol)
{
    chase_forecaster_t *f;
    CHECK(chase_forecaster_create("svr-paper", 3600, NULL, &f, NULL) == CHASE_OK);
    for (int i = 0; i < 4; i++)
        CHECK(chase_forecaster_observe(f, T0 + (20 + i) * 3600LL, v[i]) == CHASE_OK);
    double mean[2];
    CHECK(chase_forecaster_predict(f, 2, mean, NULL, NULL, NULL) == CHASE_OK);
    chase_forecaster_free(f);

    double x[NP][3], y[NP], beta[NP] = {0}, b = NAN;
    for (int i = 0; i < NP; i++) { /* pair i: v[i] -> v[i + 1], the target at hour 21 + i */
        feat(x[i], T0 + (21 + i) * 3600LL, v[i]);
        y[i] = v[i + 1];
    }
    int nfree = svr_exact(x, y, beta, &b);
    CHECK(nfree > 0);
    int bound = 0;
    for (int i = 0; i < NP; i++)
        bound += fabs(beta[i]) == C_DOC;
    CHECK(bound == want_bound); /* the case exercises what it is meant to (C, or the tube's edges) */
    double q[3];
    feat(q, T0 + 24 * 3600LL, v[3]);
    double one = svr_eval(x, beta, b, q);
    feat(q, T0 + 25 * 3600LL, one); /* recursive: the forecast becomes the previous value */
    double two = svr_eval(x, beta, b, q);
    CHECK_NEAR(mean[0], one, tol);
    CHECK_NEAR(mean[1], two, tol);
    fprintf(stderr, "  samples %g %g %g %g: beta %.4f %.4f %.4f, b %.4f; forecasts %.4f %.4f (forecaster %.4f %.4f)\n",
            v[0], v[1], v[2], v[3], beta[0], beta[1], beta[2], b, one, two, mean[0], mean[1]);
}

static void test_matches_exact_svr(void)
{
    /* Far-apart previous values: every point on its tube edge (free), so epsilon and gamma set the answer. */
    static const double spread[4] = {300, 420, 350, 390};
    check_case(spread, 0, 1e-3);
    /* Close previous values with different targets: the kernel matrix is nearly singular, one beta hits C. */
    static const double close[4] = {300, 306, 340, 303};
    check_case(close, 1, 1e-3);
}

/* A case with a known answer: a series alternating 300, 400, 300 ... is a function of the previous value, which the
 * SVR (refit on the last day) learns: after a 300 comes 400, then 300 again. */
static void test_known_alternation(void)
{
    chase_forecaster_t *f;
    CHECK(chase_forecaster_create("svr-paper", 3600, NULL, &f, NULL) == CHASE_OK);
    for (int i = 0; i < 31; i++)
        chase_forecaster_observe(f, T0 + (int64_t)i * 3600, i % 2 ? 400 : 300);
    double mean[3];
    CHECK(chase_forecaster_predict(f, 3, mean, NULL, NULL, NULL) == CHASE_OK);
    CHECK_NEAR(mean[0], 400, 1);
    CHECK_NEAR(mean[1], 300, 2);
    CHECK_NEAR(mean[2], 400, 3);
    chase_forecaster_free(f);
}

/* Fewer than 3 training pairs in the last day is "too little history"; a gap on either side drops a pair. */
static void test_short_and_gappy_history(void)
{
    chase_forecaster_t *f;
    double mean[1];
    CHECK(chase_forecaster_create("svr-paper", 3600, NULL, &f, NULL) == CHASE_OK);
    chase_forecaster_observe(f, T0, 300);
    chase_forecaster_observe(f, T0 + 3600, 310);
    chase_forecaster_observe(f, T0 + 7200, 320);
    CHECK(chase_forecaster_predict(f, 1, mean, NULL, NULL, NULL) == CHASE_ENODATA); /* 2 pairs */
    chase_forecaster_observe(f, T0 + 5 * 3600, 330);                                /* after a gap: no pair */
    CHECK(chase_forecaster_predict(f, 1, mean, NULL, NULL, NULL) == CHASE_ENODATA);
    chase_forecaster_observe(f, T0 + 6 * 3600, 340);
    CHECK(chase_forecaster_predict(f, 1, mean, NULL, NULL, NULL) == CHASE_OK);
    CHECK(isfinite(mean[0]));
    /* Samples older than 24 h are not trained on: a day later only the recent pairs count. */
    chase_forecaster_observe(f, T0 + 40 * 3600, 500);
    CHECK(chase_forecaster_predict(f, 1, mean, NULL, NULL, NULL) == CHASE_ENODATA);
    chase_forecaster_free(f);
}

int main(void)
{
    RUN(test_matches_exact_svr);
    RUN(test_known_alternation);
    RUN(test_short_and_gappy_history);
    CHECK_DONE();
}
