/* "svr-paper": the forecaster of Yang et al. (arXiv 2303.02508) as published, so that chase compares against the
 * paper's real method. An epsilon-SVR with an RBF kernel (C = 100, gamma = 1e-4) maps
 * (sin and cos of the target sample's time of day, the previous sample's CI) to the target's CI. It is refit on the
 * samples of the previous 24 h before every forecast and predicts one step ahead; longer horizons feed each
 * prediction back as the "previous value" (recursive).
 *
 * Choices the paper leaves open, stated here: the inputs are not scaled (CI stays in g/kWh, so gamma = 1e-4 makes a
 * 100 g/kWh difference in the previous value weigh exp(-1), while the time-of-day terms can move the kernel by at
 * most a factor exp(-4e-4)); epsilon is 0.1 g/kWh (the default of libsvm and scikit-learn, which the paper's Python
 * prototype used); the time of day is the UTC start of the sample. Training pairs with a gap on either side are
 * dropped; fewer than 3 pairs gives CHASE_ENODATA. */
#include <libsvm/svm.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chase/timeutil.h"
#include "forecast/history.h"
#include "forecast/models.h"

#define SVR_MIN_PAIRS 3

typedef struct svr_paper {
    chase_hist_t hist;
    long window;               /* training targets: the last `window` samples (24 h) */
    struct svm_node *nodes;    /* window * 4 nodes: sin, cos, previous value, end marker */
    struct svm_node **x;
    double *y;
    struct svm_model *model;   /* refers to nodes; NULL until fitted */
    int stale;                 /* a sample arrived since the last fit */
} svr_paper_t;

static void svr_quiet(const char *s) { (void)s; }

static void svr_features(struct svm_node *n, int64_t t, double prev)
{
    double a = 2.0 * M_PI * chase_time_second_of_day(t) / 86400.0;
    n[0].index = 1;
    n[0].value = sin(a);
    n[1].index = 2;
    n[1].value = cos(a);
    n[2].index = 3;
    n[2].value = prev;
    n[3].index = -1;
    n[3].value = 0;
}

static void *svr_create(int64_t step_s, const char *options, chase_err_t *err)
{
    if (options && *options) {
        chase_err_set(err, CHASE_EINVAL, "svr-paper takes no options (got '%s'): it is the paper's model as published",
                      options);
        return NULL;
    }
    svr_paper_t *s = calloc(1, sizeof *s);
    if (!s) {
        chase_err_set(err, CHASE_ENOMEM, "out of memory");
        return NULL;
    }
    s->window = (long)((86400 + step_s - 1) / step_s);
    s->nodes = malloc((size_t)s->window * 4 * sizeof *s->nodes);
    s->x = malloc((size_t)s->window * sizeof *s->x);
    s->y = malloc((size_t)s->window * sizeof *s->y);
    if (!s->nodes || !s->x || !s->y || chase_hist_init(&s->hist, (size_t)s->window + 1, step_s) != CHASE_OK) {
        free(s->nodes);
        free(s->x);
        free(s->y);
        free(s);
        chase_err_set(err, CHASE_ENOMEM, "out of memory");
        return NULL;
    }
    return s;
}

static int svr_observe(void *state, int64_t t, double ci)
{
    svr_paper_t *s = state;
    chase_hist_push(&s->hist, t, ci);
    s->stale = 1;
    return CHASE_OK;
}

/* Fits the SVR on the pairs (previous sample -> sample) whose target lies in the last 24 h. */
static int svr_fit(svr_paper_t *s)
{
    if (s->model)
        svm_free_and_destroy_model(&s->model);
    int l = 0;
    for (long k = s->window - 1; k >= 0; k--) {
        double y = chase_hist_back(&s->hist, k), prev = chase_hist_back(&s->hist, k + 1);
        if (isnan(y) || isnan(prev))
            continue;
        svr_features(&s->nodes[l * 4], s->hist.last_t - k * s->hist.step_s, prev);
        s->x[l] = &s->nodes[l * 4];
        s->y[l] = y;
        l++;
    }
    if (l < SVR_MIN_PAIRS)
        return CHASE_ENODATA;
    struct svm_problem prob = {.l = l, .y = s->y, .x = s->x};
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
    if (svm_check_parameter(&prob, &par))
        return CHASE_EINVAL;
    /* libsvm prints progress to stdout by default; a library must not. */
    svm_set_print_string_function(svr_quiet);
    s->model = svm_train(&prob, &par);
    return s->model ? CHASE_OK : CHASE_ENOMEM;
}

static int svr_predict(void *state, int64_t last_t, int h, double *mean, double *lo, double *hi)
{
    svr_paper_t *s = state;
    if (s->stale || !s->model) {
        int rc = svr_fit(s);
        if (rc != CHASE_OK)
            return rc;
        s->stale = 0;
    }
    long real = chase_hist_last_real(&s->hist, 0);
    if (real < 0)
        return CHASE_ENODATA;
    double prev = chase_hist_back(&s->hist, real);
    struct svm_node n[4];
    for (int k = 1; k <= h; k++) {
        svr_features(n, last_t + k * s->hist.step_s, prev);
        double v = svm_predict(s->model, n);
        mean[k - 1] = v > 0 ? v : 0;
        prev = mean[k - 1];
        if (lo)
            lo[k - 1] = NAN;
        if (hi)
            hi[k - 1] = NAN;
    }
    return CHASE_OK;
}

static void svr_destroy(void *state)
{
    svr_paper_t *s = state;
    if (s->model)
        svm_free_and_destroy_model(&s->model);
    chase_hist_free(&s->hist);
    free(s->nodes);
    free(s->x);
    free(s->y);
    free(s);
}

const chase_forecaster_ops_t chase_model_svr_paper = {
    "svr-paper", "the paper's RBF support-vector regressor on time of day and the previous value (libsvm)",
    svr_create, svr_observe, svr_predict, svr_destroy};
