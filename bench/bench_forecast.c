/* Forecast benchmark: every model at 1 h and 24 h on every carbon trace under the shared data, the geometric means
 * of chase's MAPE ratios, the targets checked, and chase's cost (update and predict time, state size).
 *
 *   build/bench_forecast [DATA_DIR]      DATA_DIR defaults to $CHASE_SHARED_DATA/carbon, else ../shared/data/carbon
 *
 * Each trace is read with its default column (ci, else actual, else the Electricity Maps direct column); a
 * dacf_forecast column (DACF's day-ahead forecast, the same numbers whatever the horizon) is scored as "published"
 * on the same hours. Evaluation: chase_forecast_evaluate with its
 * defaults (the second half is scored after warm-up on the first half). Exit status 0 even when a target is missed:
 * this measures, it does not gate. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chase/forecast.h"
#include "chase/trace.h"
#include "forecast/models.h"

#define MAX_FILES 64
#define NM 5

static const char *const models[NM] = {"persistence", "seasonal", "seasonal-week", "svr-paper", "chase"};
enum { PERS, SEAS, WEEK, SVR, CHASE };

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static size_t list_csv(const char *dir, char **out, size_t n, size_t max)
{
    DIR *d = opendir(dir);
    if (!d)
        return n;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".csv")) {
            char *p = malloc(strlen(dir) + l + 2);
            sprintf(p, "%s/%s", dir, e->d_name);
            out[n++] = p;
        }
    }
    closedir(d);
    return n;
}

static int has_column(const char *path, const char *col)
{
    FILE *f = fopen(path, "r");
    char line[4096] = "";
    if (!f)
        return 0;
    if (!fgets(line, sizeof line, f))
        line[0] = '\0';
    fclose(f);
    return strstr(line, col) != NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median time of chase's observe and predict over a whole trace. */
static void time_chase(const chase_trace_t *tr)
{
    chase_forecaster_t *f;
    chase_err_t err = {0};
    if (chase_forecaster_create("chase", tr->step_s, NULL, &f, &err) != CHASE_OK) {
        fprintf(stderr, "bench_forecast: %s\n", err.msg);
        return;
    }
    double *up = malloc(tr->n * sizeof *up), *p1 = malloc(tr->n * sizeof *p1), *p24 = malloc(tr->n * sizeof *p24);
    double mean[CHASE_FORECAST_MAX_HORIZON], lo[CHASE_FORECAST_MAX_HORIZON], hi[CHASE_FORECAST_MAX_HORIZON];
    int h24 = (int)(86400 / tr->step_s);
    if (h24 > CHASE_FORECAST_MAX_HORIZON)
        h24 = CHASE_FORECAST_MAX_HORIZON;
    double max_up = 0;
    for (size_t i = 0; i < tr->n; i++) {
        double t0 = now_s();
        chase_forecaster_observe(f, tr->start + (int64_t)i * tr->step_s, tr->ci[i]);
        double t1 = now_s();
        chase_forecaster_predict(f, 1, mean, lo, hi, NULL);
        double t2 = now_s();
        chase_forecaster_predict(f, h24, mean, lo, hi, NULL);
        double t3 = now_s();
        up[i] = t1 - t0;
        p1[i] = t2 - t1;
        p24[i] = t3 - t2;
        if (up[i] > max_up)
            max_up = up[i];
    }
    qsort(up, tr->n, sizeof *up, cmp_dbl);
    qsort(p1, tr->n, sizeof *p1, cmp_dbl);
    qsort(p24, tr->n, sizeof *p24, cmp_dbl);
    printf("chase cost on %s (%zu samples of %lld s):\n  update median %.1f us, 99th percentile %.1f us, max %.1f us\n"
           "  predict 1 step median %.2f us; predict %d steps median %.2f us\n  state %zu bytes\n",
           tr->name, tr->n, (long long)tr->step_s, up[tr->n / 2] * 1e6, up[tr->n * 99 / 100] * 1e6, max_up * 1e6,
           p1[tr->n / 2] * 1e6, h24, p24[tr->n / 2] * 1e6, chase_model_chase_state_bytes(tr->step_s));
    free(up);
    free(p1);
    free(p24);
    chase_forecaster_free(f);
}

int main(int argc, char **argv)
{
    char dir[1024], sub[1100];
    const char *env = getenv("CHASE_SHARED_DATA");
    if (argc > 1)
        snprintf(dir, sizeof dir, "%s", argv[1]);
    else
        snprintf(dir, sizeof dir, "%s/carbon", env ? env : "../shared/data");
    char *files[MAX_FILES];
    size_t nf = list_csv(dir, files, 0, MAX_FILES);
    snprintf(sub, sizeof sub, "%s/electricitymaps-format", dir);
    nf = list_csv(sub, files, nf, MAX_FILES);
    if (!nf) {
        fprintf(stderr, "bench_forecast: no CSV trace in %s (give the carbon data folder as argument)\n", dir);
        return 2;
    }
    qsort(files, nf, sizeof *files, cmp_str);

    static const double horizons_h[2] = {1, 24};
    double log_rp[2] = {0}, log_rs[2] = {0}, log_rsvr[2] = {0};
    int beats_all_1h = 1, n_ok = 0, seas24_ok = 1;
    size_t counted[2] = {0};
    chase_trace_t *longest = NULL;
    for (int hi = 0; hi < 2; hi++) {
        printf("\nHorizon %g h: MAPE %% per model; chase's MAPE ratio to persistence, seasonal and svr-paper\n",
               horizons_h[hi]);
        printf("%-34s %6s %6s %6s %6s %6s %9s | %6s %6s %6s\n", "trace", "pers", "seas", "week", "svr", "chase",
               "published", "c/pers", "c/seas", "c/svr");
        for (size_t i = 0; i < nf; i++) {
            chase_trace_t *tr;
            chase_err_t err = {0};
            if (chase_trace_read_csv(files[i], NULL, &tr, &err) != CHASE_OK) {
                fprintf(stderr, "bench_forecast: %s\n", err.msg);
                continue;
            }
            chase_forecast_eval_opts_t eo = {.horizon_s = (int64_t)(horizons_h[hi] * 3600), .from = INT64_MIN,
                                             .to = INT64_MAX};
            chase_forecast_score_t rows[NM + 1];
            double *pub = NULL;
            if (has_column(files[i], "dacf_forecast")) {
                chase_trace_read_opts_t ro = {.column = "dacf_forecast"};
                chase_trace_t *c;
                if (chase_trace_read_csv(files[i], &ro, &c, &err) == CHASE_OK && c->n == tr->n &&
                    c->start == tr->start) {
                    pub = malloc(tr->n * sizeof *pub);
                    for (size_t j = 0; j < tr->n; j++)
                        pub[j] = c->filled && c->filled[j] ? NAN : c->ci[j];
                    eo.compare = pub;
                    eo.compare_name = "published";
                    chase_trace_free(c);
                }
            }
            int rc = chase_forecast_evaluate(tr, models, NM, &eo, rows, &err);
            free(pub);
            if (rc != CHASE_OK) {
                fprintf(stderr, "bench_forecast: %s: %s\n", tr->name, err.msg);
                chase_trace_free(tr);
                continue;
            }
            double rp = rows[CHASE].ratio_to_persistence, rs = rows[CHASE].mape_pct / rows[SEAS].mape_pct,
                   rsvr = rows[CHASE].mape_pct / rows[SVR].mape_pct;
            char pubtxt[16] = "-";
            if (eo.compare)
                snprintf(pubtxt, sizeof pubtxt, "%.2f", rows[NM].mape_pct);
            printf("%-34s %6.2f %6.2f %6.2f %6.2f %6.2f %9s | %6.3f %6.3f %6.3f\n", tr->name, rows[PERS].mape_pct,
                   rows[SEAS].mape_pct, rows[WEEK].mape_pct, rows[SVR].mape_pct, rows[CHASE].mape_pct, pubtxt, rp,
                   rs, rsvr);
            log_rp[hi] += log(rp);
            log_rs[hi] += log(rs);
            log_rsvr[hi] += log(rsvr);
            counted[hi]++;
            if (hi == 0) {
                if (rp < 1 && rsvr < 1)
                    n_ok++;
                else
                    beats_all_1h = 0;
            } else if (rs > 0.9) {
                seas24_ok = 0;
            }
            if (hi == 0 && (!longest || tr->n > longest->n)) {
                chase_trace_free(longest);
                longest = tr;
            } else {
                chase_trace_free(tr);
            }
        }
        if (counted[hi])
            printf("%-34s %41s | %6.3f %6.3f %6.3f\n", "geometric mean", "", exp(log_rp[hi] / counted[hi]),
                   exp(log_rs[hi] / counted[hi]), exp(log_rsvr[hi] / counted[hi]));
    }
    printf("\nTargets (issue 3, item 7):\n");
    printf("  1 h: chase beats persistence and svr-paper on every trace: %s (%d of %zu)\n",
           beats_all_1h ? "met" : "NOT met", n_ok, counted[0]);
    double g1 = counted[0] ? exp(log_rp[0] / counted[0]) : NAN;
    printf("  1 h: geometric-mean MAPE ratio to persistence <= 0.70: %s (%.3f)\n", g1 <= 0.70 ? "met" : "NOT met",
           g1);
    printf("  24 h: chase <= 0.9 x seasonal on every trace: %s\n", seas24_ok ? "met" : "NOT met");
    if (longest) {
        printf("\n");
        time_chase(longest);
        chase_trace_free(longest);
    }
    for (size_t i = 0; i < nf; i++)
        free(files[i]);
    return 0;
}
