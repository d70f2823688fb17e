/* `chase forecast`: the forecast a model would have made at a given time, and `chase forecast eval`, the
 * rolling-origin evaluation of every model on a trace (the library's chase_forecast_evaluate). */
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
#include "cli/commands.h"

#define PROG "chase forecast"
#define MAX_MODELS 16

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: chase forecast --trace FILE --at TIME [--horizon 24h] [--model chase] [OPTIONS]\n"
        "       chase forecast eval --trace FILE [--horizon 1h] [--models LIST] [OPTIONS]\n"
        "       chase forecast --list\n"
        "\n"
        "chase sets each period's power limit before the period starts, so it acts on a forecast of the grid's\n"
        "carbon intensity (CI). The first form prints the forecast a model would have made at TIME from the\n"
        "trace's samples before TIME only. 'eval' replays the trace and scores each model's forecasts.\n"
        "\n"
        "How eval works (rolling origin): each model is given the samples one at a time, in time order; after\n"
        "each sample it forecasts the sample HORIZON ahead, which is compared with the true value. A model never\n"
        "sees a sample after the forecast's origin. By default the first half of the trace is warm-up and the\n"
        "second half is scored. Samples the trace reader filled (short gaps) are given to the models as missing\n"
        "and not scored. When a model has too little history, persistence stands in (counted as 'fallback').\n"
        "\n"
        "Options:\n"
        "  --trace FILE          CSV trace: time,ci; a named column; or an Electricity Maps portal export\n"
        "  --column NAME         CI column to read (default: ci, else actual, else the Electricity Maps column)\n"
        "  --lca                 Electricity Maps export: read the life-cycle (LCA) column instead of direct\n"
        "  --horizon H           lead time: 30m, 1h, 24h ... a multiple of the trace step, at most %d steps\n"
        "                        (default 24h for a forecast, 1h for eval)\n"
        "  --at TIME             forecast: the time the forecast is made (ISO-8601 UTC); uses samples before it\n"
        "  --model NAME          forecast: the model (default chase)\n"
        "  --models LIST         eval: comma-separated models (default: all)\n"
        "  --from TIME           eval: first target time scored (default: the middle of the trace)\n"
        "  --to TIME             eval: score targets before this time (default: to the end)\n"
        "  --compare-column NAME eval: also score a published forecast held in this column, on the same hours;\n"
        "                        automatic when the file has a dacf_forecast or watttime_forecast column\n"
        "                        ('none' turns it off)\n"
        "  --json FILE           write JSON to FILE ('-' for stdout) instead of the table\n"
        "  --list                list the models\n"
        "\n"
        "Eval columns: MAPE %% (mean absolute percentage error), MAE g/kWh, n (points scored), ratio to\n"
        "persistence (below 1 beats 'next = now'), fallback (points where persistence stood in).\n"
        "JSON (eval): {\"trace\", \"horizon_h\", \"results\": [{\"model\", \"mape_pct\", \"mae_g_per_kwh\", \"n\",\n"
        "  \"n_fallback\", \"ratio_to_persistence\"}]}\n"
        "JSON (forecast): {\"trace\", \"model\", \"at\", \"last_sample\", \"step_s\", \"fallback\", \"forecast\":\n"
        "  [{\"time\", \"ci_g_per_kwh\", \"lo_g_per_kwh\", \"hi_g_per_kwh\", \"actual_g_per_kwh\"}]} (lo/hi: 80 %%\n"
        "  interval, null when the model has none; actual: null when not in the trace)\n"
        "\n"
        "Examples:\n"
        "  chase forecast eval --trace ../shared/data/carbon/dacf-CISO-2020-2021.csv\n"
        "  chase forecast eval --trace ../shared/data/carbon/dacf-forecast-DE-2021H2.csv --horizon 24h\n"
        "  chase forecast eval --trace AU-NSW_2023_hourly.csv --lca --models persistence,chase --json -\n"
        "  chase forecast --trace ../shared/data/carbon/eia-CISO-2022.csv --at 2022-06-01T00:00:00Z --horizon 24h\n"
        "\n"
        "Models:\n",
        CHASE_FORECAST_MAX_HORIZON);
    for (const chase_forecaster_ops_t *const *m = chase_forecaster_models(); *m; m++)
        fprintf(out, "  %-14s %s\n", (*m)->name, (*m)->summary);
    fprintf(out, "See docs/forecasting.md for the models and the benchmark.\n");
}

typedef struct args {
    const char *trace, *column, *at, *model, *models, *from, *to, *compare, *json, *horizon;
    int lca, eval;
} args_t;

/* Parses "--name value" pairs; returns 0, 1 for --help/--list handled, or -1 on a bad option. */
static int parse_args(int argc, char **argv, args_t *a)
{
    struct {
        const char *name;
        const char **dst;
    } opts[] = {{"--trace", &a->trace},    {"--column", &a->column},          {"--at", &a->at},
                {"--model", &a->model},    {"--models", &a->models},          {"--from", &a->from},
                {"--to", &a->to},          {"--compare-column", &a->compare}, {"--json", &a->json},
                {"--horizon", &a->horizon}};
    int i = 1;
    if (argc > 1 && !strcmp(argv[1], "eval")) {
        a->eval = 1;
        i = 2;
    }
    for (; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(o, "--list")) {
            for (const chase_forecaster_ops_t *const *m = chase_forecaster_models(); *m; m++)
                printf("%-14s %s\n", (*m)->name, (*m)->summary);
            return 1;
        }
        if (!strcmp(o, "--lca")) {
            a->lca = 1;
            continue;
        }
        size_t k;
        for (k = 0; k < sizeof opts / sizeof opts[0]; k++)
            if (!strcmp(o, opts[k].name))
                break;
        if (k == sizeof opts / sizeof opts[0]) {
            fprintf(stderr, "%s: unknown option '%s' (see chase forecast --help)\n", PROG, o);
            return -1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s: %s needs a value\n", PROG, o);
            return -1;
        }
        *opts[k].dst = argv[++i];
    }
    if (!a->trace) {
        fprintf(stderr, "%s: --trace FILE is required (see chase forecast --help)\n", PROG);
        return -1;
    }
    if (!a->eval && !a->at) {
        fprintf(stderr, "%s: --at TIME is required for a forecast (or use 'chase forecast eval')\n", PROG);
        return -1;
    }
    if (a->eval && (a->at || a->model)) {
        fprintf(stderr, "%s: eval takes --models, not --at or --model\n", PROG);
        return -1;
    }
    if (!a->eval && (a->models || a->from || a->to || a->compare)) {
        fprintf(stderr, "%s: --models, --from, --to and --compare-column belong to 'chase forecast eval'\n", PROG);
        return -1;
    }
    return 0;
}

static int parse_time_opt(const char *name, const char *text, int64_t *out)
{
    chase_err_t err = {0};
    if (chase_time_parse(text, out, &err) != CHASE_OK) {
        fprintf(stderr, "%s: %s: %s\n", PROG, name, err.msg[0] ? err.msg : "not an ISO-8601 time");
        return -1;
    }
    return 0;
}

static int parse_horizon(const char *text, const chase_trace_t *tr, int64_t *out_s)
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
static int read_compare(const args_t *a, const char *column, const chase_trace_t *tr, double **out)
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

static int cmd_eval(const args_t *a, const chase_trace_t *tr)
{
    chase_forecast_eval_opts_t eo = {.from = INT64_MIN, .to = INT64_MAX};
    if (parse_horizon(a->horizon ? a->horizon : "1h", tr, &eo.horizon_s))
        return 2;
    if (a->from && parse_time_opt("--from", a->from, &eo.from))
        return 2;
    if (a->to && parse_time_opt("--to", a->to, &eo.to))
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

static int cmd_at(const args_t *a, const chase_trace_t *tr)
{
    int64_t at, horizon_s;
    if (parse_time_opt("--at", a->at, &at))
        return 2;
    if (parse_horizon(a->horizon ? a->horizon : "24h", tr, &horizon_s))
        return 2;
    int h = (int)(horizon_s / tr->step_s);
    int64_t end = chase_trace_end(tr);
    if (at <= tr->start || at > end) {
        char s0[32], s1[32];
        fprintf(stderr, "%s: --at %s is outside the trace %s (%s .. %s]: a forecast needs data before it\n", PROG,
                a->at, tr->name, chase_time_format(tr->start, s0, sizeof s0), chase_time_format(end, s1, sizeof s1));
        return 2;
    }
    const char *model = a->model ? a->model : "chase";
    chase_forecaster_t *f;
    chase_err_t err = {0};
    int rc = chase_forecaster_create(model, tr->step_s, NULL, &f, &err);
    if (rc != CHASE_OK)
        return cli_fail(PROG, rc, &err);
    /* Only samples complete by `at` are known then. */
    size_t i;
    for (i = 0; i < tr->n && tr->start + (int64_t)(i + 1) * tr->step_s <= at; i++) {
        int64_t t = tr->start + (int64_t)i * tr->step_s;
        double v = tr->filled && tr->filled[i] ? NAN : tr->ci[i];
        if ((rc = chase_forecaster_observe(f, t, v)) != CHASE_OK) {
            chase_forecaster_free(f);
            chase_err_set(&err, rc, "model %s refused the sample at index %zu of %s", model, i, tr->name);
            return cli_fail(PROG, rc, &err);
        }
    }
    if (i == 0) {
        chase_forecaster_free(f);
        fprintf(stderr, "%s: no sample of %s is complete by %s\n", PROG, tr->name, a->at);
        return 2;
    }
    double mean[CHASE_FORECAST_MAX_HORIZON], lo[CHASE_FORECAST_MAX_HORIZON], hi[CHASE_FORECAST_MAX_HORIZON];
    int fallback = 0;
    rc = chase_forecaster_predict(f, h, mean, lo, hi, &err);
    int64_t last = chase_forecaster_last(f);
    chase_forecaster_free(f);
    if (rc == CHASE_ENODATA) {
        /* The documented fallback: persistence from the last real value. */
        fprintf(stderr, "%s: %s; persistence stands in\n", PROG, err.msg);
        rc = chase_forecaster_create("persistence", tr->step_s, NULL, &f, &err);
        if (rc != CHASE_OK)
            return cli_fail(PROG, rc, &err);
        for (size_t j = 0; j < i; j++)
            if (!(tr->filled && tr->filled[j]))
                chase_forecaster_observe(f, tr->start + (int64_t)j * tr->step_s, tr->ci[j]);
        rc = chase_forecaster_predict(f, h, mean, lo, hi, &err);
        chase_forecaster_free(f);
        fallback = 1;
    }
    if (rc != CHASE_OK)
        return cli_fail(PROG, rc, &err);

    char ts[32], ts2[32];
    cJSON *root = NULL, *arr = NULL;
    if (a->json) {
        root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "trace", tr->name);
        cJSON_AddStringToObject(root, "model", fallback ? "persistence" : model);
        cJSON_AddStringToObject(root, "at", chase_time_format(at, ts, sizeof ts));
        cJSON_AddStringToObject(root, "last_sample", chase_time_format(last, ts, sizeof ts));
        cJSON_AddNumberToObject(root, "step_s", (double)tr->step_s);
        cJSON_AddBoolToObject(root, "fallback", fallback);
        arr = cJSON_AddArrayToObject(root, "forecast");
    } else {
        printf("Forecast by %s at %s from %s up to the sample starting %s (step %lld s)\n",
               fallback ? "persistence" : model, chase_time_format(at, ts, sizeof ts), tr->name,
               chase_time_format(last, ts2, sizeof ts2), (long long)tr->step_s);
        printf("%-21s %10s %10s %10s %10s\n", "time", "forecast", "lo80", "hi80", "actual");
    }
    for (int k = 1; k <= h; k++) {
        int64_t t = last + (int64_t)k * tr->step_s;
        long j = chase_trace_index(tr, t);
        double actual = j >= 0 && !(tr->filled && tr->filled[j]) ? tr->ci[j] : NAN;
        if (arr) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "time", chase_time_format(t, ts, sizeof ts));
            cli_json_number(o, "ci_g_per_kwh", mean[k - 1]);
            cli_json_number(o, "lo_g_per_kwh", lo[k - 1]);
            cli_json_number(o, "hi_g_per_kwh", hi[k - 1]);
            cli_json_number(o, "actual_g_per_kwh", actual);
            cJSON_AddItemToArray(arr, o);
        } else {
            printf("%-21s %10.2f %10.2f %10.2f %10.2f\n", chase_time_format(t, ts, sizeof ts), mean[k - 1], lo[k - 1],
                   hi[k - 1], actual);
        }
    }
    return root ? (cli_write_json(PROG, a->json, root) ? 1 : 0) : 0;
}

int chase_cmd_forecast(int argc, char **argv)
{
    args_t a = {0};
    int p = parse_args(argc, argv, &a);
    if (p)
        return p > 0 ? 0 : 2;
    chase_trace_read_opts_t ro = {.column = a.column, .lca = a.lca};
    chase_trace_t *tr;
    chase_err_t err = {0};
    int rc = chase_trace_read_csv(a.trace, &ro, &tr, &err);
    if (rc != CHASE_OK)
        return cli_fail(PROG, rc, &err);
    int status = a.eval ? cmd_eval(&a, tr) : cmd_at(&a, tr);
    chase_trace_free(tr);
    return status;
}
