/* `chase simulate`: how much carbon each policy would save on a carbon trace, at what cost in time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/forecast.h"
#include "chase/gridmodel.h"
#include "chase/profile.h"
#include "chase/report.h"
#include "chase/simulate.h"
#include "chase/timeutil.h"
#include "chase/trace.h"
#include "cli/cli_util.h"
#include "cli/commands.h"

#define PROG "chase simulate"
#define DEFAULT_GRID "us-caiso-solar"
#define DEFAULT_PROFILE "a40-resnet50"
#define DEFAULT_POLICIES "max,static,chase,budget,oracle"
#define DEFAULT_START "2023-03-06T00:00:00Z"
#define MAX_POLICIES 16
#define HISTORY_S (14 * 86400)
#define MAX_JOB_YEARS 5
#define MAX_JOB_S (MAX_JOB_YEARS * 365.25 * 86400)

static void usage(FILE *out)
{
    fprintf(out,
"Usage: chase simulate [OPTIONS]\n"
"\n"
"Runs one training job under several power-limit policies on a carbon-intensity trace and reports, for each,\n"
"the training time, energy and carbon, and the saving against running at the GPU's top limit (`max`).\n"
"The simulation drives the same control loop as `chase run`, with a simulated GPU and a virtual clock.\n"
"\n"
"Where the carbon comes from (default: the built-in grid model " DEFAULT_GRID "):\n"
"  --trace FILE         a CSV trace: `time,ci`, an Electricity Maps export, or any column (--column)\n"
"  --column NAME        the CI column to read (e.g. actual)\n"
"  --lca                Electricity Maps export: read the life-cycle (LCA) column instead of direct\n"
"  --grid NAME          a built-in grid model (see --list); --seed N picks its weather (default 1)\n"
"\n"
"The GPU and the job (default: " DEFAULT_PROFILE ", 90 epochs):\n"
"  --profile SPEC       a built-in profile name, a chase profile .json, or a Zeus summary_power CSV\n"
"  --workload W         with a Zeus CSV: DATASET/NETWORK/BATCH/OPTIMIZER (e.g. imagenet/resnet50/256/adadelta)\n"
"  --epochs N           job size in the profile's units of work\n"
"  --hours H            job size as hours at the top power limit\n"
"  --gpus N             GPUs in the job, all at the same limit (default 1)\n"
"  --start TIME         when the job starts (ISO-8601 UTC; default: 7 days into the trace, so the policies\n"
"                       have a week of past data)\n"
"\n"
"The control (defaults in brackets):\n"
"  --policy LIST        policies to compare [" DEFAULT_POLICIES "]; also fixed:W\n"
"  --budget PCT         slowdown budget for static, budget and oracle, in %% [2.5]\n"
"  --eta X              chase (the paper's Eq. 6): weight of carbon against time, 0..1 [0.5]\n"
"  --max-power W        chase: MaxPower [the top limit]\n"
"  --max-ci G           chase: MaxCI in g/kWh [highest CI of the 24 h before the start]\n"
"  --forecaster NAME    forecaster for chase and budget [chase]; `perfect` uses the true future\n"
"  --period DUR         control period, e.g. 30m, 1h, 900s [30m]\n"
"\n"
"Output:\n"
"  --json FILE|-        results as JSON (fields: see docs/simulate.md)\n"
"  --timeline FILE.csv  one row per period and policy\n"
"  --svg FILE           chart of the CI and each policy's power limit over time\n"
"  --list               list the built-in grid models, profiles, policies and forecasters\n"
"  -h, --help           this help\n"
"\n"
"Examples:\n"
"  chase simulate\n"
"  chase simulate --grid de-wind --budget 5 --svg run.svg\n"
"  chase simulate --trace ../shared/data/carbon/eia-CISO-2022.csv --profile v100-resnet50 --epochs 60\n"
"  chase simulate --trace watttime.csv --period 30m --policy max,chase --eta 0.5 --max-power 300 --max-ci 750\n"
"\n"
"Exit status: 0 on success, 2 for bad input (with the file and line at fault), 1 for other failures.\n");
}

static void list_builtins(void)
{
    printf("Built-in grid models (--grid NAME):\n");
    for (const char *const *g = chase_gridmodel_names(); *g; g++)
        printf("  %-22s %s\n", *g, chase_gridmodel_summary(*g));
    printf("\nBuilt-in profiles (--profile NAME):\n");
    for (const char *const *p = chase_profile_builtin_names(); *p; p++)
        printf("  %-22s %s\n", *p, chase_profile_builtin_summary(*p));
    printf("\nPolicies (--policy LIST):\n");
    for (const chase_policy_ops_t *const *p = chase_policy_list(); *p; p++)
        printf("  %-22s %s\n", (*p)->name, (*p)->summary);
    printf("\nForecasters (--forecaster NAME):\n");
    for (const chase_forecaster_ops_t *const *f = chase_forecaster_models(); *f; f++)
        printf("  %-22s %s\n", (*f)->name, (*f)->summary);
    printf("  %-22s %s\n", "perfect", "the true future values (to separate forecast error from policy quality)");
}

typedef struct options {
    const char *trace, *column, *grid, *profile, *workload, *policies, *forecaster, *json, *timeline, *svg;
    const char *start;
    int lca, gpus, quiet_table;
    double epochs, hours, period_s, seed;
    chase_policy_params_t params;
} options_t;

/* Rounds away the sign of values that print as zero ("-0.00"). */
static double shown(double v) { return fabs(v) < 0.005 ? 0 : v; }

static void print_table(const chase_policy_result_t *r, size_t n, const char *unit_note)
{
    printf("%-12s %9s %10s %11s %10s %9s %9s %11s %10s %8s\n", "policy", "time h", "slowdown%", "energy kWh",
           "carbon kg", "carbon", "energy", "efficiency", "timing", "mean PL");
    printf("%-12s %9s %10s %11s %10s %9s %9s %11s %10s %8s\n", "", "", "", "", "", "saving%", "saving%", "part pp",
           "part pp", "W");
    for (size_t i = 0; i < n; i++)
        printf("%-12s %9.2f %10.2f %11.3f %10.3f %9.2f %9.2f %11.2f %10.2f %8.1f\n", r[i].policy,
               r[i].totals.time_s / 3600, shown(r[i].slowdown_pct), r[i].totals.energy_j / 3.6e6,
               r[i].totals.carbon_g / 1000,
               shown(r[i].carbon_saving_pct), shown(r[i].energy_saving_pct), shown(r[i].efficiency_pp),
               shown(r[i].timing_pp),
               r[i].totals.mean_setting);
    printf("\nSavings are against max. Efficiency part: what one fixed limit with the same slowdown saves (the best\n"
           "carbon-blind setting, as Zeus would pick it); timing part: the rest, from following the grid. %s\n",
           unit_note);
}

static int write_outputs(const options_t *o, const chase_comparison_t *c)
{
    int status = 0;
    chase_err_t err;
    chase_err_clear(&err);
    if (o->json) {
        char *text = NULL;
        if (chase_report_simulate_json(c, &text, &err) != CHASE_OK || chase_report_write(o->json, text, &err))
            status = -1;
        free(text);
    }
    const chase_trace_t *trace = c->trace;
    const chase_profile_t *prof = c->profile;
    size_t n = c->n;
    chase_report_run_t runs[MAX_POLICIES + 1];
    for (size_t i = 0; i < n; i++)
        runs[i] = (chase_report_run_t){c->results[i].policy, &c->results[i].ledger};
    if (o->timeline) {
        FILE *f = cli_open_out(PROG, o->timeline);
        if (!f || chase_report_timeline_csv(f, runs, n, &err) != CHASE_OK || cli_close_out(PROG, o->timeline, f))
            status = -1;
    }
    if (o->svg) {
        char title[300];
        snprintf(title, sizeof title, "%s on %s", prof->name, trace->name);
        FILE *f = cli_open_out(PROG, o->svg);
        if (!f || chase_report_svg(f, title, trace, runs, n, &err) != CHASE_OK || cli_close_out(PROG, o->svg, f))
            status = -1;
    }
    if (err.code)
        fprintf(stderr, PROG ": %s\n", err.msg);
    return status;
}

static int parse_options(int argc, char **argv, options_t *o)
{
    enum { O_TRACE = 256, O_COLUMN, O_LCA, O_GRID, O_SEED, O_PROFILE, O_WORKLOAD, O_EPOCHS, O_HOURS, O_GPUS, O_START,
           O_POLICY, O_BUDGET, O_ETA, O_MAXP, O_MAXCI, O_FORECASTER, O_PERIOD, O_JSON, O_TIMELINE, O_SVG, O_LIST };
    static const struct option longopts[] = {
        {"trace", required_argument, 0, O_TRACE},       {"column", required_argument, 0, O_COLUMN},
        {"lca", no_argument, 0, O_LCA},                 {"grid", required_argument, 0, O_GRID},
        {"seed", required_argument, 0, O_SEED},         {"profile", required_argument, 0, O_PROFILE},
        {"workload", required_argument, 0, O_WORKLOAD}, {"epochs", required_argument, 0, O_EPOCHS},
        {"hours", required_argument, 0, O_HOURS},       {"gpus", required_argument, 0, O_GPUS},
        {"start", required_argument, 0, O_START},       {"policy", required_argument, 0, O_POLICY},
        {"budget", required_argument, 0, O_BUDGET},     {"eta", required_argument, 0, O_ETA},
        {"max-power", required_argument, 0, O_MAXP},    {"max-ci", required_argument, 0, O_MAXCI},
        {"forecaster", required_argument, 0, O_FORECASTER}, {"period", required_argument, 0, O_PERIOD},
        {"json", required_argument, 0, O_JSON},         {"timeline", required_argument, 0, O_TIMELINE},
        {"svg", required_argument, 0, O_SVG},           {"list", no_argument, 0, O_LIST},
        {"help", no_argument, 0, 'h'},                  {0, 0, 0, 0}};
    int c;
    optind = 0;
    while ((c = cli_getopt(PROG, argc, argv, "h", longopts)) != -1) {
        switch (c) {
        case O_TRACE: o->trace = optarg; break;
        case O_COLUMN: o->column = optarg; break;
        case O_LCA: o->lca = 1; break;
        case O_GRID: o->grid = optarg; break;
        case O_SEED:
            if (cli_parse_double(PROG, "--seed", optarg, 0, 1e15, &o->seed))
                return 2;
            break;
        case O_PROFILE: o->profile = optarg; break;
        case O_WORKLOAD: o->workload = optarg; break;
        case O_EPOCHS:
            if (cli_parse_double(PROG, "--epochs", optarg, 1e-6, 1e7, &o->epochs))
                return 2;
            break;
        case O_HOURS:
            if (cli_parse_double(PROG, "--hours", optarg, 1e-3, 1e6, &o->hours))
                return 2;
            break;
        case O_GPUS:
            if (cli_parse_int(PROG, "--gpus", optarg, 1, 1024, &o->gpus))
                return 2;
            break;
        case O_START: o->start = optarg; break;
        case O_POLICY: o->policies = optarg; break;
        case O_BUDGET:
            if (cli_parse_double(PROG, "--budget", optarg, 0, 1000, &o->params.budget_pct))
                return 2;
            break;
        case O_ETA:
            if (cli_parse_double(PROG, "--eta", optarg, 0, 1, &o->params.eta))
                return 2;
            break;
        case O_MAXP:
            if (cli_parse_double(PROG, "--max-power", optarg, 1, 1e5, &o->params.max_power_w))
                return 2;
            break;
        case O_MAXCI:
            if (cli_parse_double(PROG, "--max-ci", optarg, 1e-3, 1e5, &o->params.max_ci))
                return 2;
            break;
        case O_FORECASTER: o->forecaster = optarg; break;
        case O_PERIOD:
            if (cli_parse_duration(PROG, "--period", optarg, 60, 86400, &o->period_s))
                return 2;
            break;
        case O_JSON: o->json = optarg; break;
        case O_TIMELINE: o->timeline = optarg; break;
        case O_SVG: o->svg = optarg; break;
        case O_LIST: list_builtins(); return 0;
        case 'h': usage(stdout); return 0;
        default: return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROG ": unexpected argument '%s' (see chase simulate --help)\n", argv[optind]);
        return 2;
    }
    if (o->trace && o->grid) {
        fprintf(stderr, PROG ": give either --trace or --grid, not both\n");
        return 2;
    }
    if (o->epochs > 0 && o->hours > 0) {
        fprintf(stderr, PROG ": give either --epochs or --hours, not both\n");
        return 2;
    }
    if ((o->column || o->lca) && !o->trace) {
        fprintf(stderr, PROG ": --column and --lca apply to --trace files\n");
        return 2;
    }
    /* "-" means that output alone on standard output, so it can be piped (chase simulate --json - | jq). */
    int dashes = (o->json && !strcmp(o->json, "-")) + (o->timeline && !strcmp(o->timeline, "-")) +
                 (o->svg && !strcmp(o->svg, "-"));
    if (dashes > 1)
        return cli_bad(PROG, "only one of --json, --timeline and --svg can write to standard output ('-')");
    o->quiet_table = dashes == 1;
    return -1;
}

/* Splits the policy list; returns the count or -1 after printing an error. */
static int split_policies(char *list, const char **names)
{
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == MAX_POLICIES) {
            fprintf(stderr, PROG ": at most %d policies at once\n", MAX_POLICIES);
            return -1;
        }
        for (int i = 0; i < n; i++)
            if (!strcmp(names[i], tok)) {
                fprintf(stderr, PROG ": policy '%s' is listed twice\n", tok);
                return -1;
            }
        names[n++] = tok;
    }
    if (n == 0)
        fprintf(stderr, PROG ": --policy needs at least one policy\n");
    return n ? n : -1;
}

int chase_cmd_simulate(int argc, char **argv)
{
    options_t o = {.gpus = 1, .period_s = 1800, .seed = 1};
    chase_policy_params_init(&o.params);
    int st = parse_options(argc, argv, &o);
    if (st >= 0)
        return st;

    chase_err_t err;
    chase_err_clear(&err);
    chase_profile_t *prof = NULL;
    chase_trace_t *trace = NULL;
    chase_policy_result_t res[MAX_POLICIES + 1];
    size_t n_res = 0;
    int rc, status = 1;
    char *list = strdup(o.policies ? o.policies : DEFAULT_POLICIES);
    const char *names[MAX_POLICIES + 1];
    memset(res, 0, sizeof res);

    int n_pol = list ? split_policies(list, names) : -1;
    if (n_pol < 0) {
        status = 2;
        goto out;
    }
    if ((rc = chase_profile_open(o.profile ? o.profile : DEFAULT_PROFILE, o.workload, &prof, &err)) != CHASE_OK) {
        status = cli_fail(PROG, rc, &err);
        goto out;
    }
    double work = o.epochs > 0 ? o.epochs
                  : o.hours > 0 ? o.hours * 3600 * chase_profile_top_throughput(prof)
                  : !strcmp(prof->unit, "epoch") ? 90
                  : 72 * 3600 * chase_profile_top_throughput(prof);
    double t_max = work / chase_profile_top_throughput(prof), t_worst = chase_sim_worst_time(prof, work);
    if (t_max > MAX_JOB_S) {
        /* A bound that catches typos (--epochs 1e7 would run for an hour and mean nothing). */
        status = cli_bad(PROG, "a job of %g %s%s takes %.0f years at the top limit: is that a typo? (at most %d years)",
                         work, prof->unit, work == 1 ? "" : "s", t_max / (365.25 * 86400), MAX_JOB_YEARS);
        goto out;
    }
    int64_t start = 0;
    if (o.start && (rc = chase_time_parse(o.start, &start, &err)) != CHASE_OK) {
        status = cli_bad(PROG, "--start: %s", err.msg);
        goto out;
    }
    if (o.trace) {
        chase_trace_read_opts_t ro = {.column = o.column, .lca = o.lca};
        if ((rc = chase_trace_read_csv(o.trace, &ro, &trace, &err)) != CHASE_OK) {
            status = cli_fail(PROG, rc, &err);
            goto out;
        }
        if (trace->note[0])
            fprintf(stderr, PROG ": note: %s\n", trace->note);
        if (!o.start)
            start = chase_sim_default_start(trace, t_worst);
    } else {
        if (!o.start)
            chase_time_parse(DEFAULT_START, &start, NULL);
        start -= start % 3600;
        if ((rc = chase_sim_grid_trace(o.grid ? o.grid : DEFAULT_GRID, start, HISTORY_S, t_worst, o.period_s,
                                       (uint64_t)o.seed, &trace, &err)) != CHASE_OK) {
            status = cli_fail(PROG, rc, &err);
            goto out;
        }
    }
    if (start < trace->start || start >= chase_trace_end(trace)) {
        char a[32], b[32];
        fprintf(stderr, PROG ": --start is outside the trace (%s .. %s)\n",
                chase_time_format(trace->start, a, sizeof a), chase_time_format(chase_trace_end(trace), b, sizeof b));
        status = 2;
        goto out;
    }

    chase_sim_spec_t spec;
    chase_sim_spec_init(&spec);
    spec.trace = trace;
    spec.profile = prof;
    spec.start = (double)start;
    spec.work = work;
    spec.n_gpus = o.gpus;
    spec.period_s = o.period_s;
    spec.forecaster = o.forecaster;
    spec.params = o.params;

    /* max is the baseline of every saving: it runs first, shown or not. */
    int show_max = 0;
    for (int i = 0; i < n_pol; i++)
        show_max |= !strcmp(names[i], "max");
    if ((rc = chase_simulate_compare(&spec, names, (size_t)n_pol, res, &n_res, &err)) != CHASE_OK) {
        status = cli_fail(PROG, rc, &err);
        goto out;
    }
    for (size_t i = 0; i < n_res; i++)
        if (res[i].info.warn)
            fprintf(stderr, PROG ": warning: policy %s: %s\n", res[i].policy, res[i].info.note);
    chase_comparison_t cmp = {.trace = trace,
                              .profile = prof,
                              .start = (double)start,
                              .work = work,
                              .period_s = o.period_s,
                              .budget_pct = o.params.budget_pct,
                              .n_gpus = o.gpus,
                              .results = show_max ? res : res + 1,
                              .n = show_max ? n_res : n_res - 1};

    if (!o.quiet_table) {
        char a[32];
        chase_time_format(start, a, sizeof a);
        printf("chase simulate: %s, %g %s%s (%.1f h at %g W), %d GPU%s\n", prof->name, work, prof->unit,
               work == 1 ? "" : "s", t_max / 3600, chase_profile_max_setting(prof), o.gpus, o.gpus > 1 ? "s" : "");
        printf("grid: %s from %s, %g-min periods, budget %g %%\n\n", trace->name, a, o.period_s / 60,
               o.params.budget_pct);
        print_table(cmp.results, cmp.n, "Budget applies to static, budget and oracle.");
    }
    status = write_outputs(&o, &cmp) ? 1 : 0;
out:
    chase_policy_results_free(res, n_res);
    chase_trace_free(trace);
    chase_profile_free(prof);
    free(list);
    return status;
}
