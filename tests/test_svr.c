/* svr-paper against a hand-checked case: the test builds the training set the paper describes (the previous 24 h,
 * features sin and cos of the time of day and the previous value, unscaled), trains libsvm with the paper's
 * parameters, evaluates the RBF expansion sum_i coef_i * exp(-gamma * |x - sv_i|^2) - rho by hand, and requires the
 * forecaster's one- and two-step forecasts to match it. */
#include <libsvm/svm.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "chase/forecast.h"
#include "check.h"

#define T0 1656633600LL /* 2022-07-01T00:00:00Z */
#define STEP 1800

static void quiet(const char *s)
{
    (void)s;
}

static double series(int i)
{
    return 400 + 60 * sin(i * 0.37) + 25 * cos(i * 1.3) + (i % 5) * 3;
}

static void feat(struct svm_node *n, int64_t t, double prev)
{
    double a = 2 * M_PI * (double)(t % 86400) / 86400.0;
    n[0] = (struct svm_node){1, sin(a)};
    n[1] = (struct svm_node){2, cos(a)};
    n[2] = (struct svm_node){3, prev};
    n[3] = (struct svm_node){-1, 0};
}

/* The RBF-SVR decision function written out. */
static double by_hand(const struct svm_model *m, const struct svm_node *x)
{
    double s = 0;
    for (int i = 0; i < m->l; i++) {
        double d2 = 0;
        for (int j = 0; j < 3; j++) {
            double d = x[j].value - m->SV[i][j].value;
            d2 += d * d;
        }
        s += m->sv_coef[0][i] * exp(-m->param.gamma * d2);
    }
    return s - m->rho[0];
}

static void test_matches_hand_computed_rbf_expansion(void)
{
    int n = 100, window = 86400 / STEP; /* 48 samples = 24 h */
    chase_forecaster_t *f;
    CHECK(chase_forecaster_create("svr-paper", STEP, NULL, &f, NULL) == CHASE_OK);
    for (int i = 0; i < n; i++)
        CHECK(chase_forecaster_observe(f, T0 + (int64_t)i * STEP, series(i)) == CHASE_OK);
    double mean[2];
    CHECK(chase_forecaster_predict(f, 2, mean, NULL, NULL, NULL) == CHASE_OK);
    chase_forecaster_free(f);

    /* The training set as the paper describes it: targets are the last 24 h of samples. */
    struct svm_node nodes[48][4], *x[48];
    double y[48];
    for (int k = 0; k < window; k++) {
        int i = n - window + k;
        feat(nodes[k], T0 + (int64_t)i * STEP, series(i - 1));
        x[k] = nodes[k];
        y[k] = series(i);
    }
    struct svm_problem prob = {.l = window, .y = y, .x = x};
    struct svm_parameter par;
    memset(&par, 0, sizeof par);
    par.svm_type = EPSILON_SVR;
    par.kernel_type = RBF;
    par.gamma = 1e-4;
    par.C = 100;
    par.p = 0.1;
    par.eps = 1e-3;
    par.cache_size = 1;
    par.shrinking = 1;
    CHECK(svm_check_parameter(&prob, &par) == NULL);
    svm_set_print_string_function(quiet);
    struct svm_model *m = svm_train(&prob, &par);
    CHECK(m != NULL && m->l > 0);
    if (!m)
        return;
    struct svm_node q[4];
    feat(q, T0 + (int64_t)n * STEP, series(n - 1));
    double one = by_hand(m, q);
    CHECK_NEAR(svm_predict(m, q), one, 1e-9);
    CHECK_NEAR(mean[0], one, 1e-9);
    feat(q, T0 + (int64_t)(n + 1) * STEP, one); /* recursive: the forecast becomes the previous value */
    CHECK_NEAR(mean[1], by_hand(m, q), 1e-9);
    svm_free_and_destroy_model(&m);
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
    RUN(test_matches_hand_computed_rbf_expansion);
    RUN(test_known_alternation);
    RUN(test_short_and_gappy_history);
    CHECK_DONE();
}
