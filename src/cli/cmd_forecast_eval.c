/* `chase forecast eval`: the rolling-origin evaluation of every model on a trace (the library's
 * chase_forecast_evaluate), with a published forecast from the file scored beside them. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/forecast.h"
#include "chase/timeutil.h"
#include "chase/trace.h"
#include "cli/cli_util.h"
#include "cli/forecast_args.h"

#define MAX_MODELS 16

int cli_forecast_time(const char *name, const char *text, int64_t *out)
{
    chase_err_t err = {0};
    if (chase_time_parse(text, out, &err) != CHASE_OK) {
        fprintf(stderr, "%s: %s: %s\n", PROG, name, err.msg[0] ? err.msg : "not an ISO-8601 time");
        return -1;
    }
    return 0;
}

int cli_forecast_horizon(const char *text, const chase_trace_t *tr, int64_t *out_s)
{
    chase_err_t err = {0};
    double s;
    if (chase_duration_parse(text, &s, &err) != CHASE_OK) {
        fprintf(stderr, "%s: --horizon: %s\n", PROG, err.msg[0] ? err.msg : "not a duration");
        return -1;
    }
    int64_t steps = (int64_t)llround(s / (double)tr->step_s);
    if (s <= 0 || fabs(s - (double)(steps * tr->step_s)) > 1e-6 || steps < 1 || steps > CHASE_FORECAST_MAX_HORIZON) {
        fprintf(stderr, "%s: --horizon %s must be 1 to %d steps of the trace's %lld s step\n", PROG, text,
                CHASE_FORECAST_MAX_HORIZON, (long long)tr->step_s);
        return -1;
    }
    *out_s = steps * tr->step_s;
    return 0;
}

/* Name of a published-forecast column in the file's header, or NULL. */
static const char *detect_compare_column(const char *path)
{
    static const char *known[] = {"dacf_forecast", "watttime_forecast"};
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char line[4096];
    const char *found = NULL;
    if (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        for (char *tok = strtok(line, ","); tok && !found; tok = strtok(NULL, ","))
            for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
                if (!strcmp(tok, known[i]))
                    found = known[i];
    }
    fclose(f);
    return found;
}

/* Reads the published forecast column and aligns it with tr's samples (NAN where missing or filled). */
static int read_compare(const forecast_args_t *a, const char *column, const chase_trace_t *tr, double **out)
{
    chase_trace_read_opts_t ro = {.column = column, .lca = a->lca};
    chase_trace_t *c;
    chase_err_t err = {0};
    int rc = chase_trace_read_csv(a->trace, &ro, &c, &err);
    if (rc != CHASE_OK)
        return cli_fail(PROG, rc, &err);
    if (c->step_s != tr->step_s) {
        fprintf(stderr, "%s: column %s of %s has a %lld s step, the CI column %lld s\n", PROG, column, a->trace,
                (long long)c->step_s, (long long)tr->step_s);
        chase_trace_free(c);
        return 2;
    }
    double *v = malloc(tr->n * sizeof *v);
    if (!v) {
        chase_trace_free(c);
        fprintf(stderr, "%s: out of memory\n", PROG);
        return 1;
    }
    for (size_t i = 0; i < tr->n; i++) {
        long j = chase_trace_index(c, tr->start + (int64_t)i * tr->step_s);
        v[i] = j >= 0 && !(c->filled && c->filled[j]) ? c->ci[j] : NAN;
    }
    chase_trace_free(c);
    *out = v;
    return 0;
}

int cli_forecast_eval(const forecast_args_t *a, const chase_trace_t *tr)
{
    chase_forecast_eval_opts_t eo = {.from = INT64_MIN, .to = INT64_MAX};
    if (cli_forecast_horizon(a->horizon ? a->horizon : "1h", tr, &eo.horizon_s))
        return 2;
    if (a->from && cli_forecast_time("--from", a->from, &eo.from))
        return 2;
    if (a->to && cli_forecast_time("--to", a->to, &eo.to))
        return 2;

    const char *names[MAX_MODELS];
    size_t nm = 0;
    char list[1024];
    if (a->models) {
        if (strlen(a->models) >= sizeof list) {
            fprintf(stderr, "%s: --models list too long\n", PROG);
            return 2;
        }
        strcpy(list, a->models);
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            const chase_forecaster_ops_t *const *m = chase_forecaster_models();
            while (*m && strcmp((*m)->name, tok))
                m++;
            if (!*m) {
                fprintf(stderr, "%s: unknown model '%s' in --models (see chase forecast --list)\n", PROG, tok);
                return 2;
            }
            if (nm == MAX_MODELS) {
                fprintf(stderr, "%s: at most %d models in --models\n", PROG, MAX_MODELS);
                return 2;
            }
            names[nm++] = (*m)->name;
        }
        if (!nm) {
            fprintf(stderr, "%s: --models is empty\n", PROG);
            return 2;
        }
    } else {
        for (const chase_forecaster_ops_t *const *m = chase_forecaster_models(); *m && nm < MAX_MODELS; m++)
            names[nm++] = (*m)->name;
    }

    const char *ccol = a->compare ? a->compare : detect_compare_column(a->trace);
    if (ccol && !strcmp(ccol, "none"))
        ccol = NULL;
    double *compare = NULL;
    if (ccol) {
        int rc = read_compare(a, ccol, tr, &compare);
        if (rc && a->compare)
            return rc;
        if (rc) { /* found by itself: the evaluation goes on without it (read_compare said why) */
            fprintf(stderr, "%s: evaluating without the %s column\n", PROG, ccol);
            ccol = NULL;
        } else {
            eo.compare = compare;
            eo.compare_name = ccol;
        }
    }

    chase_forecast_score_t rows[MAX_MODELS + 1];
    chase_err_t err = {0};
    int rc = chase_forecast_evaluate(tr, names, nm, &eo, rows, &err);
    free(compare);
    if (rc != CHASE_OK)
        return cli_fail(PROG, rc, &err);
    size_t nrows = nm + (ccol ? 1 : 0);
    double horizon_h = (double)eo.horizon_s / 3600.0;

    if (a->json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "trace", tr->name);
        cJSON_AddNumberToObject(root, "horizon_h", horizon_h);
        cJSON *res = cJSON_AddArrayToObject(root, "results");
        for (size_t i = 0; i < nrows; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "model", rows[i].model);
            cli_json_number(o, "mape_pct", rows[i].mape_pct);
            cli_json_number(o, "mae_g_per_kwh", rows[i].mae_g_per_kwh);
            cJSON_AddNumberToObject(o, "n", (double)rows[i].n);
            cJSON_AddNumberToObject(o, "n_fallback", (double)rows[i].n_fallback);
            cli_json_number(o, "ratio_to_persistence", rows[i].ratio_to_persistence);
            cJSON_AddItemToArray(res, o);
        }
        return (cli_write_json(PROG, a->json, root) ? 1 : 0);
    }
    char t0[32], t1[32];
    int64_t from = eo.from == INT64_MIN ? tr->start + (int64_t)(tr->n / 2) * tr->step_s : eo.from;
    printf("Forecast evaluation on %s: horizon %g h (%lld steps of %lld s), targets from %s%s%s\n", tr->name, horizon_h,
           (long long)(eo.horizon_s / tr->step_s), (long long)tr->step_s, chase_time_format(from, t0, sizeof t0),
           eo.to == INT64_MAX ? "" : " to ", eo.to == INT64_MAX ? "" : chase_time_format(eo.to, t1, sizeof t1));
    printf("%-18s %8s %10s %7s %10s %9s\n", "model", "MAPE %", "MAE g/kWh", "n", "ratio", "fallback");
    for (size_t i = 0; i < nrows; i++)
        printf("%-18s %8.2f %10.2f %7zu %10.3f %9zu\n", rows[i].model, rows[i].mape_pct, rows[i].mae_g_per_kwh,
               rows[i].n, rows[i].ratio_to_persistence, rows[i].n_fallback);
    if (ccol)
        printf("(%s: the published forecast from the file, scored on the same hours)\n", ccol);
    return 0;
}

