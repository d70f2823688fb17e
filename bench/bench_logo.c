/* Carbon timing on grids the tuning never saw (issue 13): a leave-one-grid-out benchmark of the budget policy.
 *
 *   build/bench_logo [DATA_DIR [EVERY_DAYS [CANDIDATE...]]]
 *
 * (defaults: ../shared/data, a job starting every 30 days, the candidates below; a candidate is a budget policy
 * spec such as budget:spread=0.5,window=7, optionally after a forecaster and a slash, select/budget; the default
 * forecaster is blend: chase's model, blended with the published forecast where the trace has one).
 *
 * An experiment, not a result: with CHASE_BENCH_PUBLISHED=truth every trace gets the true CI as its "published"
 * forecast (known, like DACF's, from 00:00 UTC of its own day): what the blend could get from a perfect day-ahead
 * forecast, the ceiling of that route.
 *
 * The jobs are bench_simulate's: every trace under DATA_DIR/carbon, the A40 and V100 ResNet-50 profiles, budgets
 * 1, 2.5, 5 and 10 %, 90-epoch jobs starting a week into the trace and then every EVERY_DAYS days, carbon summed
 * over the jobs of a row. The traces are grouped by grid (several years or sources of one balancing area are one
 * grid: CISO is dacf-CISO, dacf-forecast-CISO, eia-CISO and em-US-CAL-CISO). Every choice the budget policy leaves
 * open (the candidates below: today the share of forecast error its plan spreads, and with the published forecast or
 * not) is made for each grid on the other grids only: the candidate with the best timing share there (the mean of
 * the two profiles') is the one whose figures count for the grid left out. Only those figures are printed.
 *
 * Per row: the savings of static, budget and oracle against max, the gap to the oracle, the "fc gap" (what the same
 * policy gains with perfect forecasts of the next 48 samples: the cost of forecast error), and the candidate chosen.
 * Then, per profile, the timing share (budget - static) / (oracle - static) summed over its rows, the mean gap, the
 * rows below static by more than 0.02 pp; and for the six traces with DACF's published forecast, the rows with and
 * without it. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chase/profile.h"
#include "chase/simulate.h"
#include "chase/trace.h"
#include "bench_jobs.h"

#define MAX_FILES 64
#define N_BUDGETS 4
#define N_PROFILES 2
#define MAX_ROWS (MAX_FILES * N_PROFILES * N_BUDGETS)

static const double budgets[N_BUDGETS] = {1, 2.5, 5, 10};
static const char *const profiles[N_PROFILES] = {"a40-resnet50", "v100-resnet50"};

/* The candidates: a forecaster and a budget policy spec each. */
static const char *const default_cand[] = {"blend/budget",           "blend/budget:window=14", "blend/budget:window=28",
                                           "blend/budget:spread=0.5", "select/budget"};
#define MAX_CAND 8
static const char *cand[MAX_CAND];     /* as given */
static char cand_fc[MAX_CAND][32];     /* its forecaster */
static const char *cand_pol[MAX_CAND]; /* its policy spec */
static size_t N_CAND;

/* Splits candidate i into forecaster and policy; 0 when it is well formed. */
static int cand_parse(size_t i)
{
    const char *slash = strchr(cand[i], '/');
    size_t len = slash ? (size_t)(slash - cand[i]) : 5;
    if (len >= sizeof cand_fc[i])
        return -1;
    memcpy(cand_fc[i], slash ? cand[i] : "blend", len);
    cand_fc[i][len] = '\0';
    cand_pol[i] = slash ? slash + 1 : cand[i];
    return 0;
}

enum { F_MAX, F_STATIC, F_ORACLE, N_FIXED };

typedef struct row {
    int trace, grid, profile, budget;
    int jobs;
    double fixed[N_FIXED];      /* carbon (g) summed over the jobs */
    double bud[MAX_CAND];       /* budget under each candidate */
    double perf[MAX_CAND];      /* the same with perfect forecasts */
    double bud_nopub[MAX_CAND]; /* the same forecaster without the published forecast (dacf-forecast traces) */
    int has_pub;
} row_t;

/* The grid a trace belongs to: its balancing area, whatever the source or year. */
static const char *grid_of(const char *name)
{
    static const struct {
        const char *key, *grid;
    } map[] = {{"CISO", "CISO"}, {"US-CAL", "CISO"}, {"ERCO", "ERCO"}, {"US-TEX", "ERCO"}, {"PJM", "PJM"},
               {"ISNE", "ISNE"}, {"-SE-", "SE"},     {"-DE-", "DE"},     {"DE-LU", "DE"},   {"NYIS", "NYIS"},
               {"MISO", "MISO"}, {"AZPS", "AZPS"},   {"BPAT", "BPAT"},   {"SOCO", "SOCO"},  {"GB", "GB"},
               {"AU-NSW", "AU-NSW"}, {"JP-TK", "JP-TK"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strstr(name, map[i].key))
            return map[i].grid;
    return name;
}

static double saving(double c, double max) { return 100 * (1 - c / max); }

/* Timing share of the rows of profile p in grids other than skip (-1: none) under candidate c (-1: each row's own
 * choice in choice[]); also the mean gap and the rows below static by more than 0.02 pp. */
typedef struct score {
    double share, mean_gap, worst_vs_static;
    int below;
    double share_perfect; /* the same policy with perfect forecasts of the next 48 samples */
} score_t;

static score_t score_rows(const row_t *r, size_t n, int p, int skip, int c, const int *choice)
{
    double num = 0, den = 0, gap = 0, worst = INFINITY, num_p = 0;
    int rows = 0, below = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].profile != p || r[i].grid == skip)
            continue;
        int k = c >= 0 ? c : choice[r[i].grid];
        double mx = r[i].fixed[F_MAX], s = saving(r[i].fixed[F_STATIC], mx), o = saving(r[i].fixed[F_ORACLE], mx);
        double b = saving(r[i].bud[k], mx);
        num += b - s;
        num_p += saving(r[i].perf[k], mx) - s;
        den += o - s;
        gap += o - b;
        worst = fmin(worst, b - s);
        below += b - s < -0.02;
        rows++;
    }
    return (score_t){den > 0 ? num / den : NAN, rows ? gap / rows : NAN, worst, below, den > 0 ? num_p / den : NAN};
}

static int load_published(const char *path, const chase_trace_t *tr, chase_trace_t **out)
{
    FILE *f = fopen(path, "r");
    char line[4096] = "";
    if (!f)
        return -1;
    if (!fgets(line, sizeof line, f))
        line[0] = '\0';
    fclose(f);
    *out = NULL;
    if (!strstr(line, "dacf_forecast"))
        return 0;
    chase_trace_read_opts_t ro = {.column = "dacf_forecast"};
    chase_err_t err;
    if (chase_trace_read_csv(path, &ro, out, &err) != CHASE_OK || (*out)->start != tr->start ||
        (*out)->step_s != tr->step_s) {
        chase_trace_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

/* One job of every candidate: adds its carbon to the row; returns 0 when every simulation finished in the trace.
 * tape[c], tape_nopub[c]: the forecasts of candidate c's forecaster for this start, with and without the published
 * forecast (NULL: the trace has none). */
static int one_job(chase_sim_spec_t *s, chase_forecast_tape_t **tape, chase_forecast_tape_t **tape_nopub, row_t *r)
{
    static const char *const fixed[N_FIXED] = {"max", "static", "oracle"};
    chase_totals_t t[N_FIXED], tb, tp, tn;
    chase_err_t err;
    s->tape = NULL;
    if (chase_simulate_policies(s, fixed, N_FIXED, NULL, t, &err) != CHASE_OK)
        return -1;
    double bud[MAX_CAND], perf[MAX_CAND], nopub[MAX_CAND];
    for (size_t c = 0; c < N_CAND; c++) {
        s->tape = tape[c];
        if (chase_simulate_policy(s, cand_pol[c], NULL, &tb, &err) != CHASE_OK)
            return -1;
        s->tape = NULL;
        const char *fc = s->forecaster;
        s->forecaster = "perfect";
        int rc = chase_simulate_policy(s, cand_pol[c], NULL, &tp, &err);
        s->forecaster = fc;
        if (rc != CHASE_OK)
            return -1;
        tn = tb;
        if (tape_nopub[c]) {
            s->tape = tape_nopub[c];
            if (chase_simulate_policy(s, cand_pol[c], NULL, &tn, &err) != CHASE_OK)
                return -1;
        }
        bud[c] = tb.carbon_g;
        perf[c] = tp.carbon_g;
        nopub[c] = tn.carbon_g;
    }
    for (int k = 0; k < N_FIXED; k++)
        r->fixed[k] += t[k].carbon_g;
    for (size_t c = 0; c < N_CAND; c++) {
        r->bud[c] += bud[c];
        r->perf[c] += perf[c];
        r->bud_nopub[c] += nopub[c];
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/data";
    double every_days = argc > 2 ? atof(argv[2]) : 30;
    if (!(every_days >= 1 && every_days <= 366)) {
        fprintf(stderr, "bench_logo: EVERY_DAYS must be 1 to 366 (got '%s')\n", argv[2]);
        return 2;
    }
    if (argc > 3) {
        for (int i = 3; i < argc && N_CAND < MAX_CAND; i++)
            cand[N_CAND++] = argv[i];
    } else {
        for (size_t i = 0; i < sizeof default_cand / sizeof default_cand[0]; i++)
            cand[N_CAND++] = default_cand[i];
    }
    for (size_t c = 0; c < N_CAND; c++)
        if (cand_parse(c)) {
            fprintf(stderr, "bench_logo: bad candidate '%s' (FORECASTER/POLICY or POLICY)\n", cand[c]);
            return 2;
        }
    char *files[MAX_FILES];
    size_t n_files = bench_list_traces(dir, files, MAX_FILES);
    if (n_files == 0) {
        fprintf(stderr, "bench_logo: no traces under %s/carbon (pass the shared data folder)\n", dir);
        return 77;
    }
    static row_t rows[MAX_ROWS];
    size_t n = 0;
    const char *grids[MAX_FILES];
    int n_grids = 0;
    char names[MAX_FILES][128];
    struct timespec ts0;
    clock_gettime(CLOCK_MONOTONIC, &ts0);
    for (size_t f = 0; f < n_files; f++) {
        chase_trace_t *tr, *pub = NULL;
        chase_err_t err;
        if (chase_trace_read_csv(files[f], NULL, &tr, &err) != CHASE_OK) {
            fprintf(stderr, "%s\n", err.msg);
            continue;
        }
        const char *exp = getenv("CHASE_BENCH_PUBLISHED");
        if (exp && !strcmp(exp, "truth")) {
            pub = chase_trace_slice(tr, 0, tr->n);
        } else if (load_published(files[f], tr, &pub) != 0) {
            fprintf(stderr, "bench_logo: %s: its dacf_forecast column cannot be read; scored without it\n", tr->name);
        }
        snprintf(names[f], sizeof names[f], "%s", tr->name);
        const char *g = grid_of(tr->name);
        int gi = 0;
        while (gi < n_grids && strcmp(grids[gi], g))
            gi++;
        if (gi == n_grids)
            grids[n_grids++] = g;
        /* The job sizes and starts of bench_simulate; the jobs that start together share the forecast tapes. */
        chase_profile_t *prof[N_PROFILES];
        double epochs[N_PROFILES], job_s[N_PROFILES], first = 0;
        size_t first_row = n;
        for (int pi = 0; pi < N_PROFILES; pi++) {
            if (chase_profile_builtin(profiles[pi], &prof[pi], &err) != CHASE_OK) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            bench_job_size(prof[pi], tr, &epochs[pi], &job_s[pi], &first);
            for (int bi = 0; bi < N_BUDGETS; bi++) {
                row_t *r = &rows[first_row + (size_t)(pi * N_BUDGETS + bi)];
                memset(r, 0, sizeof *r);
                r->trace = (int)f;
                r->grid = gi;
                r->profile = pi;
                r->budget = bi;
                r->has_pub = pub != NULL;
            }
        }
        double end = (double)chase_trace_end(tr);
        for (double start = first; start + job_s[0] <= end || start + job_s[1] <= end;
             start += every_days * 86400) {
            chase_sim_spec_t base;
            chase_sim_spec_init(&base);
            base.trace = tr;
            base.start = start;
            base.period_s = tr->step_s < 1800 ? 1800 : (double)tr->step_s;
            /* One tape per distinct forecaster (and one without the published forecast), shared by its candidates. */
            chase_forecast_tape_t *tape[MAX_CAND] = {0}, *tape_nopub[MAX_CAND] = {0};
            for (size_t c = 0; c < N_CAND; c++) {
                size_t same = 0;
                while (same < c && strcmp(cand_fc[same], cand_fc[c]))
                    same++;
                if (same < c) {
                    tape[c] = tape[same];
                    tape_nopub[c] = tape_nopub[same];
                    continue;
                }
                base.forecaster = cand_fc[c];
                base.published = pub;
                int rc = chase_sim_tape_create(&base, &tape[c], &err);
                base.published = NULL;
                if (rc == CHASE_OK && pub)
                    rc = chase_sim_tape_create(&base, &tape_nopub[c], &err);
                base.published = pub;
                if (rc != CHASE_OK) {
                    fprintf(stderr, "bench_logo: %s\n", err.msg);
                    return 1;
                }
            }
            for (int pi = 0; pi < N_PROFILES; pi++) {
                if (start + job_s[pi] > end)
                    continue;
                for (int bi = 0; bi < N_BUDGETS; bi++) {
                    row_t *r = &rows[first_row + (size_t)(pi * N_BUDGETS + bi)];
                    chase_sim_spec_t s = base;
                    s.profile = prof[pi];
                    s.work = epochs[pi];
                    s.params.budget_pct = budgets[bi];
                    if (one_job(&s, tape, tape_nopub, r) == 0)
                        r->jobs++;
                }
            }
            for (size_t c = 0; c < N_CAND; c++) {
                size_t same = 0;
                while (same < c && strcmp(cand_fc[same], cand_fc[c]))
                    same++;
                if (same == c) {
                    chase_forecast_tape_free(tape[c]);
                    chase_forecast_tape_free(tape_nopub[c]);
                }
            }
        }
        /* Keep the rows that had a job, in order. */
        for (size_t i = first_row; i < first_row + N_PROFILES * N_BUDGETS; i++)
            if (rows[i].jobs)
                rows[n++] = rows[i];
        for (int pi = 0; pi < N_PROFILES; pi++)
            chase_profile_free(prof[pi]);
        chase_trace_free(pub);
        chase_trace_free(tr);
    }

    /* The choice for each grid, made on the others. */
    int choice[MAX_FILES];
    for (int g = 0; g < n_grids; g++) {
        double best = -INFINITY;
        choice[g] = 0;
        for (size_t c = 0; c < N_CAND; c++) {
            double v = 0;
            for (int p = 0; p < N_PROFILES; p++)
                v += score_rows(rows, n, p, g, (int)c, NULL).share / N_PROFILES;
            if (v > best) {
                best = v;
                choice[g] = (int)c;
            }
        }
    }

    printf("Leave-one-grid-out: each grid's rows use the candidate chosen on the other grids.\n");
    printf("%-34s %-6s %-14s %6s | %7s %7s %7s | %7s %7s | %-30s %4s\n", "trace", "grid", "profile", "budget",
           "static", "budget", "oracle", "gap pp", "fc gap", "chosen on others", "jobs");
    for (size_t i = 0; i < n; i++) {
        const row_t *r = &rows[i];
        int k = choice[r->grid];
        double mx = r->fixed[F_MAX];
        double s = saving(r->fixed[F_STATIC], mx), b = saving(r->bud[k], mx), o = saving(r->fixed[F_ORACLE], mx);
        printf("%-34s %-6s %-14s %6.1f | %7.2f %7.2f %7.2f | %7.2f %7.2f | %-30s %4d\n", names[r->trace],
               grids[r->grid], profiles[r->profile], budgets[r->budget], s, b, o, o - b,
               saving(r->perf[k], mx) - b, cand[k], r->jobs);
    }
    printf("\n");
    for (int p = 0; p < N_PROFILES; p++) {
        score_t sc = score_rows(rows, n, p, -1, -1, choice);
        printf("%-14s timing share %.3f (target >= 0.85); mean gap to oracle %.3f pp; rows below static by more "
               "than 0.02 pp: %d (worst %+.3f pp); with perfect forecasts of the next 48 samples %.3f\n",
               profiles[p], sc.share, sc.mean_gap, sc.below, sc.worst_vs_static, sc.share_perfect);
    }
    double gap = 0;
    int below = 0;
    for (int p = 0; p < N_PROFILES; p++) {
        score_t sc = score_rows(rows, n, p, -1, -1, choice);
        gap += sc.mean_gap / N_PROFILES;
        below += sc.below;
    }
    printf("all rows: mean gap to oracle %.3f pp (target <= 0.10); rows below static by more than 0.02 pp: %d "
           "(target 0)\n",
           gap, below);

    printf("\nThe traces with DACF's published forecast (known from 00:00 UTC of its own day), with and without it "
           "(same candidate):\n");
    printf("%-34s %-14s %6s | %7s %7s %7s | %9s %9s\n", "trace", "profile", "budget", "static", "oracle", "budget",
           "gap with", "gap w/o");
    double sum_with = 0, sum_without = 0;
    int n_pub = 0;
    for (size_t i = 0; i < n; i++) {
        const row_t *r = &rows[i];
        if (!r->has_pub)
            continue;
        int k = choice[r->grid];
        double mx = r->fixed[F_MAX], o = saving(r->fixed[F_ORACLE], mx);
        double bw = saving(r->bud[k], mx), bo = saving(r->bud_nopub[k], mx);
        printf("%-34s %-14s %6.1f | %7.2f %7.2f %7.2f | %9.2f %9.2f\n", names[r->trace], profiles[r->profile],
               budgets[r->budget], saving(r->fixed[F_STATIC], mx), o, bw, o - bw, o - bo);
        sum_with += o - bw;
        sum_without += o - bo;
        n_pub++;
    }
    if (n_pub)
        printf("mean gap to oracle on these %d rows: %.3f pp with the published forecast, %.3f pp without\n", n_pub,
               sum_with / n_pub, sum_without / n_pub);
    struct timespec ts1;
    clock_gettime(CLOCK_MONOTONIC, &ts1);
    printf("\n%zu rows, %d grids, %zu candidates; %.0f s\n", n, n_grids, N_CAND,
           (double)(ts1.tv_sec - ts0.tv_sec) + 1e-9 * (double)(ts1.tv_nsec - ts0.tv_nsec));
    for (size_t f = 0; f < n_files; f++)
        free(files[f]);
    return 0;
}
