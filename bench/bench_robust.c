/* The budget policy on trace shapes the shared data lacks (issue 13, item 4): 15- and 30-minute steps, gaps, CI near
 * zero with spikes, a sudden change of regime. Each shape is made from a shared trace:
 *   15-min  eia-CISO-2022 interpolated to 15-minute steps (30-minute periods)
 *   30-min  dacf-forecast-DE-2021H2 (wind) interpolated to 30-minute steps
 *   gaps    eia-BPAT-2022 with 6 % of its rows deleted in blocks of 2 to 20 hours (the reader fills them)
 *   spikes  dacf-SE-2020-2021 (hydro and nuclear) scaled to 2-8 g/kWh, with gas peaks of 200-500 g/kWh lasting 1 to
 *           4 hours on a third of the days
 *   regime  eia-PJM-2022 whose second half runs at 40 % of its level (a step change the past cannot show)
 * Jobs, profiles and budgets are bench_simulate's; the policies learn with the default forecaster and budget.
 * Per row: static, budget and oracle against max, the gap, the fc gap (budget with perfect forecasts minus budget).
 * Target: budget never below static by more than 0.02 pp.
 *
 *   build/bench_robust [DATA_DIR [EVERY_DAYS [POLICY]]]    (default ../shared/data, a job starting every 30 days,
 *                                                          and the budget policy with its defaults: budget) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/profile.h"
#include "chase/simulate.h"
#include "chase/trace.h"
#include "bench_jobs.h"

#define N_BUDGETS 4
static const double budgets[N_BUDGETS] = {1, 2.5, 5, 10};
static const char *const profiles[2] = {"a40-resnet50", "v100-resnet50"};

/* Deterministic pseudo-random numbers in [0, 1) (splitmix64), so every run builds the same shapes. */
static double rnd(unsigned long long *s)
{
    unsigned long long z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static chase_trace_t *read_trace(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/carbon/%s.csv", dir, name);
    chase_trace_t *t;
    chase_err_t err;
    if (chase_trace_read_csv(path, NULL, &t, &err) != CHASE_OK) {
        fprintf(stderr, "bench_robust: %s\n", err.msg);
        return NULL;
    }
    return t;
}

/* tr at a step of step_s (dividing its own), linear between its samples. */
static chase_trace_t *finer(const chase_trace_t *tr, int64_t step_s, const char *name)
{
    size_t k = (size_t)(tr->step_s / step_s);
    chase_trace_t *t = chase_trace_new(name, tr->start, step_s, tr->n * k);
    for (size_t i = 0; t && i < tr->n; i++) {
        double a = tr->ci[i], b = i + 1 < tr->n ? tr->ci[i + 1] : a;
        for (size_t j = 0; j < k; j++)
            t->ci[i * k + j] = a + (b - a) * (double)j / (double)k;
    }
    return t;
}

/* tr written out as CSV with blocks of rows deleted, and read back: the reader fills the gaps as it would a real
 * file's. */
static chase_trace_t *with_gaps(const chase_trace_t *tr, const char *name)
{
    size_t cap = tr->n * 48 + 64, len = 0;
    char *text = malloc(cap);
    if (!text)
        return NULL;
    len += (size_t)snprintf(text, cap, "time,ci\n");
    unsigned long long seed = 2022;
    for (size_t i = 0; i < tr->n; i++) {
        if (i > 48 && i + 48 < tr->n && rnd(&seed) < 0.006) { /* a block of 2 to 20 h */
            i += 2 + (size_t)(rnd(&seed) * 18);
            continue;
        }
        int64_t t = tr->start + (int64_t)i * tr->step_s;
        int64_t d = t / 86400, s = t % 86400;
        /* civil date from days since 1970-01-01 (Howard Hinnant's algorithm) */
        int64_t z = d + 719468, era = z / 146097, doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365, y = yoe + era * 400;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
        int64_t day = doy - (153 * mp + 2) / 5 + 1, mon = mp < 10 ? mp + 3 : mp - 9;
        y += mon <= 2;
        len += (size_t)snprintf(text + len, cap - len, "%04lld-%02lld-%02lldT%02lld:%02lld:00Z,%.3f\n", (long long)y,
                                (long long)mon, (long long)day, (long long)(s / 3600), (long long)(s % 3600 / 60),
                                tr->ci[i]);
    }
    chase_trace_t *out = NULL;
    chase_err_t err;
    if (chase_trace_parse_csv(text, len, name, NULL, &out, &err) != CHASE_OK)
        fprintf(stderr, "bench_robust: %s\n", err.msg);
    free(text);
    return out;
}

/* A low-carbon grid with gas peaks: tr scaled into 2-8 g/kWh, spikes on a third of the days. */
static chase_trace_t *spiky(const chase_trace_t *tr, const char *name)
{
    chase_trace_t *t = chase_trace_new(name, tr->start, tr->step_s, tr->n);
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < tr->n; i++) {
        lo = fmin(lo, tr->ci[i]);
        hi = fmax(hi, tr->ci[i]);
    }
    unsigned long long seed = 77;
    size_t day = (size_t)(86400 / tr->step_s);
    for (size_t i = 0; t && i < tr->n; i++)
        t->ci[i] = 2 + 6 * (tr->ci[i] - lo) / (hi - lo > 0 ? hi - lo : 1);
    for (size_t d = 0; t && d + 1 < tr->n / day; d++) {
        if (rnd(&seed) > 1.0 / 3)
            continue;
        size_t at = d * day + (size_t)(rnd(&seed) * (double)day), len = 1 + (size_t)(rnd(&seed) * 4);
        double peak = 200 + 300 * rnd(&seed);
        for (size_t i = at; i < at + len && i < tr->n; i++)
            t->ci[i] = peak;
    }
    return t;
}

/* tr with its second half at 40 % of its level. */
static chase_trace_t *regime(const chase_trace_t *tr, const char *name)
{
    chase_trace_t *t = chase_trace_slice(tr, 0, tr->n);
    if (t) {
        snprintf(t->name, sizeof t->name, "%s", name);
        for (size_t i = tr->n / 2; i < tr->n; i++)
            t->ci[i] *= 0.4;
    }
    return t;
}

static double saving(double c, double max) { return 100 * (1 - c / max); }

/* Every row of one trace; returns the worst budget - static margin. */
static double bench_trace(const chase_trace_t *tr, double every_days, const char *budget, int *below)
{
    const char *pols[] = {"max", "static", budget, "oracle"};
    double worst = INFINITY;
    for (int pi = 0; pi < 2; pi++) {
        chase_profile_t *prof;
        if (chase_profile_builtin(profiles[pi], &prof, NULL) != CHASE_OK)
            return NAN;
        double epochs, job_s, first;
        bench_job_size(prof, tr, &epochs, &job_s, &first);
        for (int bi = 0; bi < N_BUDGETS; bi++) {
            double c[5] = {0};
            int jobs = 0;
            for (double start = first; start + job_s <= (double)chase_trace_end(tr);
                 start += every_days * 86400) {
                chase_sim_spec_t s;
                chase_sim_spec_init(&s);
                s.trace = tr;
                s.profile = prof;
                s.start = start;
                s.work = epochs;
                s.period_s = tr->step_s < 1800 ? 1800 : (double)tr->step_s;
                s.params.budget_pct = budgets[bi];
                chase_totals_t t[4], tp;
                chase_err_t err;
                if (chase_simulate_policies(&s, pols, 4, NULL, t, &err) != CHASE_OK) {
                    fprintf(stderr, "bench_robust: %s: %s\n", tr->name, err.msg);
                    continue;
                }
                s.forecaster = "perfect";
                if (chase_simulate_policy(&s, budget, NULL, &tp, &err) != CHASE_OK)
                    continue;
                for (int k = 0; k < 4; k++)
                    c[k] += t[k].carbon_g;
                c[4] += tp.carbon_g;
                jobs++;
            }
            if (!jobs)
                continue;
            double st = saving(c[1], c[0]), bu = saving(c[2], c[0]), orc = saving(c[3], c[0]);
            printf("%-22s %-14s %6.1f | %7.2f %7.2f %7.2f | %7.2f %7.2f | %4d\n", tr->name, profiles[pi], budgets[bi],
                   st, bu, orc, orc - bu, saving(c[4], c[0]) - bu, jobs);
            worst = fmin(worst, bu - st);
            *below += bu - st < -0.02;
        }
        chase_profile_free(prof);
    }
    return worst;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/data";
    double every_days = argc > 2 ? atof(argv[2]) : 30;
    const char *budget = argc > 3 ? argv[3] : "budget";
    if (!(every_days >= 1 && every_days <= 366)) {
        fprintf(stderr, "bench_robust: EVERY_DAYS must be 1 to 366\n");
        return 2;
    }
    chase_trace_t *ciso = read_trace(dir, "eia-CISO-2022"), *de = read_trace(dir, "dacf-forecast-DE-2021H2");
    chase_trace_t *bpat = read_trace(dir, "eia-BPAT-2022"), *se = read_trace(dir, "dacf-SE-2020-2021");
    chase_trace_t *pjm = read_trace(dir, "eia-PJM-2022");
    if (!ciso || !de || !bpat || !se || !pjm) {
        fprintf(stderr, "bench_robust: the shared traces are missing (pass the shared data folder)\n");
        return 77;
    }
    chase_trace_t *shapes[5] = {finer(ciso, 900, "15-min CISO"), finer(de, 1800, "30-min DE"),
                                with_gaps(bpat, "gaps BPAT"), spiky(se, "spikes near zero"),
                                regime(pjm, "regime PJM")};
    printf("%-22s %-14s %6s | %7s %7s %7s | %7s %7s | %4s\n", "shape", "profile", "budget", "static", "budget",
           "oracle", "gap pp", "fc gap", "jobs");
    int below = 0;
    double worst = INFINITY;
    for (int i = 0; i < 5; i++) {
        if (!shapes[i]) {
            fprintf(stderr, "bench_robust: could not build shape %d\n", i);
            return 1;
        }
        worst = fmin(worst, bench_trace(shapes[i], every_days, budget, &below));
        if (i == 2)
            printf("(gaps BPAT: %zu of %zu samples filled by the reader)\n", shapes[i]->n_filled, shapes[i]->n);
    }
    printf("\nrows below static by more than 0.02 pp: %d (target 0); worst budget - static %+.3f pp\n", below, worst);
    for (int i = 0; i < 5; i++)
        chase_trace_free(shapes[i]);
    chase_trace_free(ciso);
    chase_trace_free(de);
    chase_trace_free(bpat);
    chase_trace_free(se);
    chase_trace_free(pjm);
    return 0;
}
