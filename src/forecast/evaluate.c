/* Rolling-origin evaluation of forecasters on a trace: the one shared by `chase forecast eval` and the benchmark. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chase/forecast.h"

typedef struct acc {
    double ape, ae;
    size_t n_pos, n, n_fallback;
} acc_t;

static void acc_add(acc_t *a, double forecast, double actual)
{
    double e = fabs(forecast - actual);
    a->ae += e;
    a->n++;
    if (actual > 0) {
        a->ape += e / actual;
        a->n_pos++;
    }
}

static void acc_store(const acc_t *a, const char *name, chase_forecast_score_t *out)
{
    memset(out, 0, sizeof *out);
    strncpy(out->model, name, sizeof out->model - 1);
    out->mape_pct = a->n_pos ? 100.0 * a->ape / (double)a->n_pos : NAN;
    out->mae_g_per_kwh = a->n ? a->ae / (double)a->n : NAN;
    out->n = a->n;
    out->n_fallback = a->n_fallback;
    out->ratio_to_persistence = NAN;
}

static int is_real(const chase_trace_t *t, size_t i)
{
    return isfinite(t->ci[i]) && !(t->filled && t->filled[i]);
}

/* Creates the model named name; "blend" and "select" get the published forecast when one is compared (the same
 * column, with the blend's issue times: a value is known from 00:00 UTC of its own day). */
static int make_model(const chase_trace_t *tr, const char *name, const double *compare, chase_trace_t **published,
                      chase_forecaster_t **f, chase_err_t *err)
{
    *published = NULL;
    int blend = !strcmp(name, "blend"), select = !strcmp(name, "select");
    if (!compare || !(blend || select))
        return chase_forecaster_create(name, tr->step_s, NULL, f, err);
    *published = chase_trace_new("published", tr->start, tr->step_s, tr->n);
    if (!*published)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    memcpy((*published)->ci, compare, tr->n * sizeof *compare);
    return blend ? chase_forecaster_create_blend(*published, tr->step_s, f, err)
                 : chase_forecaster_create_select(*published, tr->step_s, f, err);
}

/* Runs one model over the trace, scoring the targets in mask. */
static int eval_model(const chase_trace_t *tr, const char *name, const double *compare, long hsteps,
                      const unsigned char *mask, const double *pers, acc_t *a, chase_err_t *err)
{
    chase_forecaster_t *f;
    chase_trace_t *published;
    int rc = make_model(tr, name, compare, &published, &f, err);
    if (rc != CHASE_OK) {
        chase_trace_free(published);
        return rc;
    }
    double mean[CHASE_FORECAST_MAX_HORIZON];
    for (size_t i = 0; i < tr->n && rc == CHASE_OK; i++) {
        int64_t t = tr->start + (int64_t)i * tr->step_s;
        rc = chase_forecaster_observe(f, t, is_real(tr, i) ? tr->ci[i] : NAN);
        if (rc != CHASE_OK) {
            chase_err_set(err, rc, "forecaster '%s' refused sample %zu of %s", name, i, tr->name);
            break;
        }
        size_t j = i + (size_t)hsteps;
        if (j >= tr->n || !mask[j])
            continue;
        chase_err_t perr;
        int prc = chase_forecaster_predict(f, (int)hsteps, mean, NULL, NULL, &perr);
        if (prc == CHASE_ENODATA) {
            a->n_fallback++;
            acc_add(a, pers[j], tr->ci[j]);
        } else if (prc != CHASE_OK) {
            rc = chase_err_set(err, prc, "%s", perr.msg);
        } else {
            acc_add(a, mean[hsteps - 1], tr->ci[j]);
        }
    }
    chase_forecaster_free(f);
    chase_trace_free(published);
    return rc;
}

int chase_forecast_evaluate(const chase_trace_t *tr, const char *const *models, size_t n_models,
                            const chase_forecast_eval_opts_t *opts, chase_forecast_score_t *out, chase_err_t *err)
{
    if (!tr || tr->n == 0 || tr->step_s <= 0)
        return chase_err_set(err, CHASE_EINVAL, "empty trace");
    if (opts->horizon_s <= 0 || opts->horizon_s % tr->step_s != 0)
        return chase_err_set(err, CHASE_EINVAL, "horizon %lld s is not a positive multiple of the step of %s (%lld s)",
                             (long long)opts->horizon_s, tr->name, (long long)tr->step_s);
    long hsteps = (long)(opts->horizon_s / tr->step_s);
    if (hsteps > CHASE_FORECAST_MAX_HORIZON)
        return chase_err_set(err, CHASE_EINVAL, "horizon %lld s is %ld steps of %s; at most %d are supported",
                             (long long)opts->horizon_s, hsteps, tr->name, CHASE_FORECAST_MAX_HORIZON);
    int64_t from = opts->from == INT64_MIN ? tr->start + (int64_t)(tr->n / 2) * tr->step_s : opts->from;
    int64_t to = opts->to;

    unsigned char *mask = calloc(tr->n, 1);
    double *pers = malloc(tr->n * sizeof *pers);
    if (!mask || !pers) {
        free(mask);
        free(pers);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    /* A target is scored when it is real, in the window, has a published forecast (if compared) and some real value
     * precedes its origin (so that persistence, the fallback and the yardstick, is defined). */
    double last = NAN;
    size_t scored = 0;
    for (size_t j = 0; j < tr->n; j++) {
        pers[j] = NAN;
        if (j >= (size_t)hsteps && is_real(tr, j - (size_t)hsteps))
            last = tr->ci[j - (size_t)hsteps];
        int64_t t = tr->start + (int64_t)j * tr->step_s;
        pers[j] = last;
        if (j < (size_t)hsteps || t < from || t >= to || !is_real(tr, j) || isnan(last))
            continue;
        if (opts->compare && !isfinite(opts->compare[j]))
            continue;
        mask[j] = 1;
        scored++;
    }
    int rc = CHASE_OK;
    if (!scored)
        rc = chase_err_set(err, CHASE_ENODATA, "no target to score in %s with a %ld-step horizon in that window",
                           tr->name, hsteps);
    acc_t ap = {0};
    for (size_t j = 0; j < tr->n && rc == CHASE_OK; j++)
        if (mask[j])
            acc_add(&ap, pers[j], tr->ci[j]);
    chase_forecast_score_t ps;
    acc_store(&ap, "persistence", &ps);
    for (size_t m = 0; m < n_models && rc == CHASE_OK; m++) {
        acc_t a = {0};
        rc = eval_model(tr, models[m], opts->compare, hsteps, mask, pers, &a, err);
        acc_store(&a, models[m], &out[m]);
    }
    if (rc == CHASE_OK && opts->compare) {
        acc_t a = {0};
        for (size_t j = 0; j < tr->n; j++)
            if (mask[j])
                acc_add(&a, opts->compare[j], tr->ci[j]);
        acc_store(&a, opts->compare_name ? opts->compare_name : "published", &out[n_models]);
    }
    if (rc == CHASE_OK)
        for (size_t m = 0; m < n_models + (opts->compare ? 1 : 0); m++)
            out[m].ratio_to_persistence = ps.mape_pct > 0 ? out[m].mape_pct / ps.mape_pct : NAN;
    free(mask);
    free(pers);
    return rc;
}
