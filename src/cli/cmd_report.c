/* `chase report RUN.json`: a live run's report as the table chase simulate prints (the run measured, beside the
 * same work at the top limit and at the best fixed limit, estimated), its chart and its periods as CSV. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/report.h"
#include "chase/savings.h"
#include "chase/timeutil.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "util/escape.h"

#define PROG "chase report"

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: chase report RUN.json [--svg FILE] [--csv FILE]\n"
        "\n"
        "Shows the report of a live run (chase run --report RUN.json): the run as measured, beside estimates of\n"
        "the same work at the GPUs' top limit (max) and at the least-energy fixed limit with the same slowdown\n"
        "(static, what a carbon-blind tool such as Zeus would pick), from the job's profile and priced at the CI\n"
        "the run recorded. The saving against max is split as chase simulate splits it: the efficiency part is\n"
        "what static saves, the timing part the rest, from following the grid.\n"
        "\n"
        "Options:\n"
        "  --svg FILE    chart of the CI, the power limit and the power drawn over time (\"-\": stdout)\n"
        "  --csv FILE    one row per period: time, phase, CI, forecast, limit, power, energy, carbon, steps\n"
        "                (\"-\": stdout)\n"
        "  -h, --help    this text\n"
        "\n"
        "Examples:\n"
        "  chase run --signal ukci --report run.json -- python3 train.py && chase report run.json\n"
        "  chase report run.json --svg run.svg --csv run.csv\n"
        "\n"
        "Exit status: 0; 2 for a missing or malformed report (the file and the field are named); 1 when an\n"
        "output cannot be written. Fields and the estimate's method: docs/run.md; chart and CSV: docs/report.md.\n");
}

typedef struct opts {
    const char *input, *svg, *csv;
} opts_t;

static int parse_opts(int argc, char **argv, opts_t *o)
{
    enum { O_SVG = 256, O_CSV };
    static const struct option longopts[] = {{"svg", required_argument, 0, O_SVG},
                                             {"csv", required_argument, 0, O_CSV},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    int c, n_inputs = 0;
    optind = 0;
    /* The report may come before or after the options: getopt stops at it (chase's option reader never permutes),
     * so it is taken and the options after it are read on. */
    for (;;) {
        c = cli_getopt(PROG, argc, argv, "h", longopts);
        if (c == -1) {
            int after_dashes = optind > 0 && optind <= argc && !strcmp(argv[optind - 1], "--");
            if (optind >= argc)
                break;
            if (after_dashes) { /* everything after "--" is a file name, whatever it looks like */
                if (optind + 1 < argc || o->input)
                    return cli_bad(PROG, "one run report at a time (got '%s' and '%s')",
                                   o->input ? o->input : argv[optind], argv[o->input ? optind : optind + 1]);
                o->input = argv[optind];
                break;
            }
            if (n_inputs++)
                return cli_bad(PROG, "one run report at a time (got '%s' and '%s')", o->input, argv[optind]);
            o->input = argv[optind++];
            continue;
        }
        switch (c) {
        case O_SVG: o->svg = optarg; break;
        case O_CSV: o->csv = optarg; break;
        case 'h': usage(stdout); return 0;
        default: return 2;
        }
    }
    if (!o->input)
        return cli_bad(PROG, "which run report? chase report RUN.json (see --help)");
    if (o->svg && o->csv && !strcmp(o->svg, "-") && !strcmp(o->csv, "-"))
        return cli_bad(PROG, "only one of --svg and --csv can write to standard output ('-')");
    return -1;
}

/* A unit for a column: the largest value shown decides, so a three-minute test run reads in seconds and grams and
 * a week-long job in hours and kilograms. */
typedef struct unit {
    const char *name;
    double div;
} unit_t;

static unit_t time_unit(double s)
{
    return s < 600 ? (unit_t){"s", 1} : s < 36000 ? (unit_t){"min", 60} : (unit_t){"h", 3600};
}
static unit_t energy_unit(double j)
{
    return j < 3.6e5 ? (unit_t){"kJ", 1e3} : (unit_t){"kWh", 3.6e6};
}
static unit_t carbon_unit(double g)
{
    return g < 1e3 ? (unit_t){"g", 1} : (unit_t){"kg", 1e3};
}

/* A number in a column of width w, or "-" when it is not known (never "nan"); values that print as zero lose
 * their sign. */
static void cell(double v, int w, int decimals)
{
    if (!isfinite(v)) {
        printf(" %*s", w, "-");
        return;
    }
    if (fabs(v) < 0.5 * pow(10, -decimals))
        v = 0;
    printf(" %*.*f", w, decimals, v);
}

typedef struct row {
    const char *name;
    double time_s, energy_j, carbon_g, setting;
    double slowdown_pct, carbon_pct, energy_pct, efficiency_pp, timing_pp;
} row_t;

static void print_table(const row_t *rows, size_t n, const char *knob_unit)
{
    double tmax = 0, emax = 0, cmax = 0;
    for (size_t i = 0; i < n; i++) {
        tmax = fmax(tmax, isfinite(rows[i].time_s) ? rows[i].time_s : 0);
        emax = fmax(emax, isfinite(rows[i].energy_j) ? rows[i].energy_j : 0);
        cmax = fmax(cmax, isfinite(rows[i].carbon_g) ? rows[i].carbon_g : 0);
    }
    unit_t tu = time_unit(tmax), eu = energy_unit(emax), cu = carbon_unit(cmax);
    char th[16], eh[16], ch[16], ph[16];
    snprintf(th, sizeof th, "time %s", tu.name);
    snprintf(eh, sizeof eh, "energy %s", eu.name);
    snprintf(ch, sizeof ch, "carbon %s", cu.name);
    snprintf(ph, sizeof ph, "%s", knob_unit);
    printf("%-12s %9s %10s %11s %10s %9s %9s %11s %10s %8s\n", "", th, "slowdown%", eh, ch, "carbon", "energy",
           "efficiency", "timing", "mean");
    printf("%-12s %9s %10s %11s %10s %9s %9s %11s %10s %8s\n", "", "", "", "", "", "saving%", "saving%", "part pp",
           "part pp", ph);
    for (size_t i = 0; i < n; i++) {
        const row_t *r = &rows[i];
        printf("%-12s", r->name);
        cell(r->time_s / tu.div, 9, 2);
        cell(r->slowdown_pct, 10, 2);
        cell(r->energy_j / eu.div, 11, 3);
        cell(r->carbon_g / cu.div, 10, 3);
        cell(r->carbon_pct, 9, 2);
        cell(r->energy_pct, 9, 2);
        cell(r->efficiency_pp, 11, 2);
        cell(r->timing_pp, 10, 2);
        cell(r->setting, 8, 1);
        putchar('\n');
    }
}

/* One word of the command as a shell would need it: quoted when it holds anything but plain characters; what a
 * terminal could act on (a line break too) is shown escaped, so the header stays one line of text. */
static void put_arg(const char *a)
{
    char e[1024];
    chase_escape(a, e, sizeof e);
    int plain = *e != '\0';
    for (const char *c = e; *c; c++)
        plain &= (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                 strchr("_./:=,+-@%", *c) != NULL;
    putchar(' ');
    if (plain) {
        fputs(e, stdout);
        return;
    }
    putchar('\'');
    for (const char *c = e; *c; c++) {
        if (*c == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*c);
    }
    putchar('\'');
}

/* A string from the report, made safe to print (the report may come from anyone). */
typedef struct safe {
    char s[320];
} safe_t;

static safe_t safe(const char *text)
{
    safe_t out;
    chase_escape(text ? text : "", out.s, sizeof out.s);
    return out;
}

static void print_header(const char *path, const chase_run_record_t *r, const chase_totals_t *t)
{
    printf("chase report: %s\n", safe(path).s);
    if (r->command && r->command[0]) {
        printf("command:");
        for (char *const *a = r->command; *a; a++)
            put_arg(*a);
        putchar('\n');
    }
    printf("policy %s", safe(r->policy).s);
    if (r->policy_requested && strcmp(r->policy_requested, r->policy))
        printf(" (asked: %s)", safe(r->policy_requested).s);
    printf(", budget %g %%, signal %s\n", r->budget_pct, safe(r->signal).s);
    printf("%d GPU%s", r->n_gpus, r->n_gpus == 1 ? "" : "s");
    if (r->n_gpus > 0 && r->gpus[0].info.name[0])
        printf(" (%s)", safe(r->gpus[0].info.name).s);
    printf(", profile %s", safe(r->profile_source).s);
    if (r->profile && strncmp(r->profile_source, "none", 4))
        printf(" (%zu %s)", r->profile->n, r->profile->n == 1 ? "setting" : "settings");
    printf("%s\n", r->dry_run ? ", observe only: the GPUs kept their own limits" : "");
    const chase_ledger_t *l = r->ledger;
    size_t prof = chase_ledger_count(l, CHASE_PHASE_PROFILE);
    if (l->n) {
        char a[32], b[32];
        chase_time_format((int64_t)floor(l->rows[0].start), a, sizeof a);
        chase_time_format((int64_t)ceil(l->rows[l->n - 1].end), b, sizeof b);
        printf("%s .. %s: %zu control periods + %zu profiling, %.0f steps\n", a, b, l->n - prof, prof, t->work);
    }
    putchar('\n');
}

/* The table: max and static estimated, the run measured; savings against max, split as chase simulate splits. */
static void print_run(const char *path, const chase_run_record_t *r)
{
    chase_totals_t t;
    chase_ledger_totals(r->ledger, &t);
    chase_savings_t sv;
    chase_savings_of_run(r, &sv, NULL);
    print_header(path, r, &t);
    const char *u = chase_knob_unit(r->knob);
    /* Carbon summed over only the periods with a CI is not the run's carbon: shown as unknown. */
    safe_t policy = safe(r->policy);
    row_t run = {policy.s,         t.time_s,        t.energy_j,           t.unpriced_s > 0 ? NAN : t.carbon_g,
                 t.mean_setting,   sv.slowdown_pct, sv.carbon_saving_pct, sv.energy_saving_pct,
                 sv.efficiency_pp, sv.timing_pp};
    if (!sv.estimated) {
        print_table(&run, 1, u);
        printf("\nNo estimate of the savings: %s. The row is measured.\n", safe(sv.reason).s);
        return;
    }
    double fixed_pp = 100 * (1 - sv.fixed.carbon_g / sv.max.carbon_g);
    row_t rows[3] = {
        {"max*", sv.max.time_s, sv.max.energy_j, sv.max.carbon_g, sv.max.setting, 0, 0, 0, 0, 0},
        {"static*", sv.fixed.time_s, sv.fixed.energy_j, sv.fixed.carbon_g, sv.fixed.setting,
         100 * (sv.fixed.time_s / sv.max.time_s - 1), fixed_pp, 100 * (1 - sv.fixed.energy_j / sv.max.energy_j),
         fixed_pp, 0},
        run,
    };
    if (!isfinite(sv.max.carbon_g))
        rows[0].carbon_pct = rows[0].efficiency_pp = rows[0].timing_pp = rows[1].timing_pp = NAN;
    print_table(rows, 3, u);
    printf("\n* estimated from the job's profile: the same %.0f steps at the top limit (max) and at the least-energy\n"
           "  fixed limit whose slowdown is at most this run's (static), priced at the CI the run recorded. The %s\n"
           "  row is measured. Savings are against max; efficiency part: what static saves; timing part: the rest,\n"
           "  from following the grid.\n",
           t.work, safe(r->policy).s);
    if (isfinite(sv.time_fit) && isfinite(sv.power_fit))
        printf("The profile explains this run's time within %.1f %% and its power within %.1f %% (fits %.3f and "
               "%.3f; 1 is exact).\n",
               100 * fabs(sv.time_fit - 1), 100 * fabs(sv.power_fit - 1), sv.time_fit, sv.power_fit);
    if (isfinite(sv.profiling_pp) && fabs(sv.profiling_pp) >= 0.005)
        printf("Online profiling cost %.2f pp of the saving; the timing part includes it (%.2f pp without it).\n",
               -sv.profiling_pp, sv.timing_pp - sv.profiling_pp);
    /* One line per caveat: they are "; "-separated sentences. */
    for (const char *n = sv.note; *n;) {
        const char *end = strstr(n, "; ");
        int len = end ? (int)(end - n) : (int)strlen(n);
        printf("Note: %.*s.\n", len, n);
        n += len + (end ? 2 : 0);
    }
}

static int write_svg(const opts_t *o, const chase_run_record_t *r, chase_err_t *err)
{
    char title[300];
    snprintf(title, sizeof title, "chase run: %s on %s", r->policy, r->signal);
    FILE *f = cli_open_out(PROG, o->svg);
    if (!f)
        return -1;
    int rc = chase_report_run_svg(f, title, r, err);
    if (rc != CHASE_OK)
        fprintf(stderr, PROG ": %s: %s\n", o->svg, err->msg);
    return cli_close_out(PROG, o->svg, f) || rc != CHASE_OK ? -1 : 0;
}

static int write_csv(const opts_t *o, const chase_run_record_t *r, chase_err_t *err)
{
    FILE *f = cli_open_out(PROG, o->csv);
    if (!f)
        return -1;
    int rc = chase_report_run_csv(f, r, err);
    if (rc != CHASE_OK)
        fprintf(stderr, PROG ": %s: %s\n", o->csv, err->msg);
    return cli_close_out(PROG, o->csv, f) || rc != CHASE_OK ? -1 : 0;
}

int chase_cmd_report(int argc, char **argv)
{
    opts_t o = {0};
    int status = parse_opts(argc, argv, &o);
    if (status >= 0)
        return status;
    chase_err_t err;
    chase_err_clear(&err);
    chase_run_report_t *rep = NULL;
    int rc = chase_report_run_read(o.input, &rep, &err);
    if (rc != CHASE_OK)
        return cli_fail(PROG, rc, &err);
    const chase_run_record_t *r = chase_report_run_record(rep);
    /* With an output on stdout, the table would corrupt it: the output alone goes there. */
    int table = !(o.svg && !strcmp(o.svg, "-")) && !(o.csv && !strcmp(o.csv, "-"));
    if (table)
        print_run(o.input, r);
    status = 0;
    if (o.svg && write_svg(&o, r, &err))
        status = 1;
    if (o.csv && write_csv(&o, r, &err))
        status = 1;
    chase_report_run_free(rep);
    return status;
}
