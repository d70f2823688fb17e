/* `chase forecast`: the forecast a model would have made at a given time; `chase forecast eval` (its own file,
 * cmd_forecast_eval.c) scores every model on a trace. */
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
#include "cli/forecast_args.h"

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

/* Returns -1 to go on, else the exit status (0 after --help or --list, 2 for bad input). */
static int parse_args(int argc, char **argv, forecast_args_t *a)
{
    enum { O_TRACE = 256, O_COLUMN, O_LCA, O_AT, O_MODEL, O_MODELS, O_FROM, O_TO, O_COMPARE, O_JSON, O_HORIZON,
           O_LIST };
    static const struct option longopts[] = {
        {"trace", required_argument, 0, O_TRACE},     {"column", required_argument, 0, O_COLUMN},
        {"lca", no_argument, 0, O_LCA},               {"at", required_argument, 0, O_AT},
        {"model", required_argument, 0, O_MODEL},     {"models", required_argument, 0, O_MODELS},
        {"from", required_argument, 0, O_FROM},       {"to", required_argument, 0, O_TO},
        {"compare-column", required_argument, 0, O_COMPARE}, {"json", required_argument, 0, O_JSON},
        {"horizon", required_argument, 0, O_HORIZON}, {"list", no_argument, 0, O_LIST},
        {"help", no_argument, 0, 'h'},                {0, 0, 0, 0}};
    if (argc > 1 && !strcmp(argv[1], "eval")) {
        a->eval = 1;
        argv++;
        argc--;
    }
    int c;
    optind = 0;
    while ((c = cli_getopt(PROG, argc, argv, "h", longopts)) != -1) {
        switch (c) {
        case O_TRACE: a->trace = optarg; break;
        case O_COLUMN: a->column = optarg; break;
        case O_LCA: a->lca = 1; break;
        case O_AT: a->at = optarg; break;
        case O_MODEL: a->model = optarg; break;
        case O_MODELS: a->models = optarg; break;
        case O_FROM: a->from = optarg; break;
        case O_TO: a->to = optarg; break;
        case O_COMPARE: a->compare = optarg; break;
        case O_JSON: a->json = optarg; break;
        case O_HORIZON: a->horizon = optarg; break;
        case O_LIST:
            for (const chase_forecaster_ops_t *const *m = chase_forecaster_models(); *m; m++)
                printf("%-14s %s\n", (*m)->name, (*m)->summary);
            return 0;
        case 'h': usage(stdout); return 0;
        default: return 2;
        }
    }
    if (optind < argc)
        return cli_bad(PROG, "unexpected argument '%s' (see chase forecast --help)", argv[optind]);
    if (!a->trace)
        return cli_bad(PROG, "--trace FILE is required (see chase forecast --help)");
    if (!a->eval && !a->at)
        return cli_bad(PROG, "--at TIME is required for a forecast (or use 'chase forecast eval')");
    if (a->eval && (a->at || a->model))
        return cli_bad(PROG, "eval takes --models, not --at or --model");
    if (!a->eval && (a->models || a->from || a->to || a->compare))
        return cli_bad(PROG, "--models, --from, --to and --compare-column belong to 'chase forecast eval'");
    return -1;
}

static int cmd_at(const forecast_args_t *a, const chase_trace_t *tr)
{
    int64_t at, horizon_s;
    if (cli_forecast_time("--at", a->at, &at))
        return 2;
    if (cli_forecast_horizon(a->horizon ? a->horizon : "24h", tr, &horizon_s))
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
            char c[4][32];
            const double v[4] = {mean[k - 1], lo[k - 1], hi[k - 1], actual};
            for (int q = 0; q < 4; q++)
                snprintf(c[q], sizeof c[q], isfinite(v[q]) ? "%.2f" : "-", v[q]);
            printf("%-21s %10s %10s %10s %10s\n", chase_time_format(t, ts, sizeof ts), c[0], c[1], c[2], c[3]);
        }
    }
    return root ? (cli_write_json(PROG, a->json, root) ? 1 : 0) : 0;
}

int chase_cmd_forecast(int argc, char **argv)
{
    forecast_args_t a = {0};
    int p = parse_args(argc, argv, &a);
    if (p >= 0)
        return p;
    chase_trace_read_opts_t ro = {.column = a.column, .lca = a.lca};
    chase_trace_t *tr;
    chase_err_t err = {0};
    int rc = chase_trace_read_csv(a.trace, &ro, &tr, &err);
    if (rc != CHASE_OK)
        return cli_fail(PROG, rc, &err);
    if (tr->note[0])
        fprintf(stderr, PROG ": note: %s\n", tr->note);
    int status = a.eval ? cli_forecast_eval(&a, tr) : cmd_at(&a, tr);
    chase_trace_free(tr);
    return status;
}
