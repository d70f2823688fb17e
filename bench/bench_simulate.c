/* Benchmark of the policies: every policy on every trace in ../shared/data/carbon, with the A40 and V100 ResNet-50
 * profiles, at slowdown budgets 1, 2.5, 5 and 10 %. Each trace is cut into jobs of 90 epochs (or as many as fit)
 * starting every 30 days after a week of trace; savings are summed over those jobs (carbon-weighted). The policies
 * learn from up to 90 days of the trace before each start (chase_sim_spec_init's history).
 * Then the speed check: a year of hourly CI through all six policies.
 *
 *   build/bench_simulate [DATA_DIR [EVERY_DAYS]]    (default ../shared/data, a job starting every 30 days)
 */
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

static const double budgets[] = {1, 2.5, 5, 10};
#define N_BUDGETS 4
enum { P_MAX, P_STATIC, P_CHASE, P_BUDGET, P_ORACLE, P_PERFECT, N_POL };
static const char *const pol_names[N_POL] = {"max", "static", "chase", "budget", "oracle", "budget"};

typedef struct acc {
    double carbon[N_POL], time[N_POL];
    double max_slowdown_budget; /* worst slowdown of budget over the jobs */
} acc_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the process: on a shared machine, wall time also counts other people's work. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Runs all policies for one job; returns 0 when every policy finished inside the trace. The policies that read
 * the default forecaster share one (chase_simulate_policies); the perfect-forecast run is a simulation of its own. */
static int one_job(chase_sim_spec_t *s, double budget, acc_t *a)
{
    chase_totals_t t[N_POL];
    chase_err_t err;
    s->params.budget_pct = budget;
    s->forecaster = NULL;
    if (chase_simulate_policies(s, pol_names, P_PERFECT, NULL, t, &err) != CHASE_OK)
        return -1;
    s->forecaster = "perfect";
    s->tape = NULL;
    if (chase_simulate_policy(s, pol_names[P_PERFECT], NULL, &t[P_PERFECT], &err) != CHASE_OK)
        return -1;
    for (int p = 0; p < N_POL; p++) {
        a->carbon[p] += t[p].carbon_g;
        a->time[p] += t[p].time_s;
    }
    double slow = 100 * (t[P_BUDGET].time_s / t[P_MAX].time_s - 1);
    if (slow > a->max_slowdown_budget)
        a->max_slowdown_budget = slow;
    return 0;
}

static double saving(const acc_t *a, int p) { return 100 * (1 - a->carbon[p] / a->carbon[P_MAX]); }

/* Median CPU seconds of a year of hourly CI through the six policies (one simulation, forecaster shared), or NAN. */
static double speed_check(const chase_profile_t *prof, const char *path, const char *forecaster)
{
    chase_trace_t *tr;
    chase_err_t err;
    if (chase_trace_read_csv(path, NULL, &tr, &err) != CHASE_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return NAN;
    }
    static const char *const six[] = {"max", "fixed:250", "static", "chase", "budget", "oracle"};
    chase_sim_spec_t s;
    chase_sim_spec_init(&s);
    s.trace = tr;
    s.profile = prof;
    s.period_s = 3600;
    s.start = (double)tr->start + 86400;
    s.forecaster = forecaster;
    s.params.budget_pct = 2.5;
    /* The longest job every policy finishes inside the year: the slowest one (chase) sets the size. */
    double span = (double)chase_trace_end(tr) - s.start - 86400;
    s.work = span / 1.25 * chase_profile_top_throughput(prof);
    double times[7];
    for (int rep = 0; rep < 7; rep++) {
        double t0 = cpu_s();
        chase_totals_t t[6];
        if (chase_simulate_policies(&s, six, 6, NULL, t, &err) != CHASE_OK)
            fprintf(stderr, "bench_simulate: %s\n", err.msg);
        times[rep] = cpu_s() - t0;
    }
    for (int i = 0; i < 7; i++)
        for (int j = i + 1; j < 7; j++)
            if (times[j] < times[i]) {
                double x = times[i];
                times[i] = times[j];
                times[j] = x;
            }
    printf("\nspeed: %s, %.0f h of job at hourly periods through max, fixed:250, static, chase, budget, oracle "
           "(%s forecaster, shared): median %.4f s of CPU time over 7 runs (min %.4f, max %.4f)\n",
           tr->name, s.work / chase_profile_top_throughput(prof) / 3600, forecaster, times[3], times[0], times[6]);
    chase_trace_free(tr);
    return times[3];
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/data";
    double every_days = argc > 2 ? atof(argv[2]) : 30;
    if (!(every_days >= 1 && every_days <= 366)) {
        fprintf(stderr, "bench_simulate: EVERY_DAYS must be 1 to 366 (got '%s')\n", argv[2]);
        return 2;
    }
    char *files[64];
    size_t n_files = bench_list_traces(dir, files, 64);
    if (n_files == 0) {
        fprintf(stderr, "bench_simulate: no traces under %s/carbon (pass the shared data folder)\n", dir);
        return 77;
    }
    static const char *const profiles[] = {"a40-resnet50", "v100-resnet50"};
    printf("%-34s %-14s %6s | %7s %7s %7s %7s | %7s %9s | %7s %7s | %4s\n", "trace", "profile", "budget", "static",
           "chase", "budget", "oracle", "gap pp", "slowdown", "perfect", "fc gap", "jobs");
    printf("%-34s %-14s %6s | %31s | %7s %9s | %15s |\n", "", "", "%", "carbon saving % against max",
           "oracle-", "budget %", "budget w/ perfect");
    double worst_gap = -INFINITY, worst_over = -INFINITY, worst_vs_static = INFINITY, sum_gap = 0;
    int rows = 0, rows_over = 0;
    double t_start = now_s();
    for (size_t f = 0; f < n_files; f++) {
        chase_trace_t *tr;
        chase_err_t err;
        if (chase_trace_read_csv(files[f], NULL, &tr, &err) != CHASE_OK) {
            fprintf(stderr, "%s\n", err.msg);
            continue;
        }
        /* The jobs of both profiles and every budget that start together share one forecast tape: the forecaster
         * learns the trace's past once per start. */
        chase_profile_t *prof[2];
        double epochs[2], job_s[2], first = 0;
        for (int pi = 0; pi < 2; pi++) {
            if (chase_profile_builtin(profiles[pi], &prof[pi], &err) != CHASE_OK) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            bench_job_size(prof[pi], tr, &epochs[pi], &job_s[pi], &first);
        }
        acc_t acc[2][N_BUDGETS];
        int jobs[2][N_BUDGETS];
        memset(acc, 0, sizeof acc);
        memset(jobs, 0, sizeof jobs);
        double end = (double)chase_trace_end(tr);
        for (double start = first; start + job_s[0] <= end || start + job_s[1] <= end; start += every_days * 86400) {
            chase_sim_spec_t base;
            chase_sim_spec_init(&base);
            base.trace = tr;
            base.start = start;
            base.period_s = tr->step_s < 1800 ? 1800 : (double)tr->step_s;
            chase_forecast_tape_t *tape = NULL;
            if (chase_sim_tape_create(&base, &tape, &err) != CHASE_OK) {
                fprintf(stderr, "bench_simulate: %s\n", err.msg);
                return 1;
            }
            for (int pi = 0; pi < 2; pi++) {
                if (start + job_s[pi] > end)
                    continue;
                for (int bi = 0; bi < N_BUDGETS; bi++) {
                    chase_sim_spec_t s = base;
                    s.profile = prof[pi];
                    s.work = epochs[pi];
                    s.tape = tape;
                    if (one_job(&s, budgets[bi], &acc[pi][bi]) == 0)
                        jobs[pi][bi]++;
                }
            }
            chase_forecast_tape_free(tape);
        }
        for (int pi = 0; pi < 2; pi++) {
            for (int bi = 0; bi < N_BUDGETS; bi++) {
                const acc_t *a = &acc[pi][bi];
                if (!jobs[pi][bi])
                    continue;
                double gap = saving(a, P_ORACLE) - saving(a, P_BUDGET);
                printf("%-34s %-14s %6.1f | %7.2f %7.2f %7.2f %7.2f | %7.2f %9.2f | %7.2f %7.2f | %4d\n", tr->name,
                       profiles[pi], budgets[bi], saving(a, P_STATIC), saving(a, P_CHASE), saving(a, P_BUDGET),
                       saving(a, P_ORACLE), gap, a->max_slowdown_budget, saving(a, P_PERFECT),
                       saving(a, P_PERFECT) - saving(a, P_BUDGET), jobs[pi][bi]);
                worst_gap = fmax(worst_gap, gap);
                sum_gap += gap;
                rows++;
                rows_over += gap > 0.3;
                worst_over = fmax(worst_over, a->max_slowdown_budget - budgets[bi]);
                worst_vs_static = fmin(worst_vs_static, saving(a, P_BUDGET) - saving(a, P_STATIC));
            }
            chase_profile_free(prof[pi]);
        }
        chase_trace_free(tr);
    }
    printf("\nworst oracle-budget gap %.3f pp (target <= 0.3; over it in %d of %d rows; mean %.3f pp); worst "
           "budget-static margin %.3f pp (target >= 0); worst slowdown over budget %.3f pp (target <= 0.3); %.1f s\n",
           worst_gap, rows_over, rows, rows ? sum_gap / rows : NAN, worst_vs_static, worst_over, now_s() - t_start);
    chase_profile_t *a40;
    chase_err_t err;
    chase_profile_builtin("a40-resnet50", &a40, &err);
    char year[1024];
    snprintf(year, sizeof year, "%s/carbon/eia-CISO-2022.csv", dir);
    double t_pers = speed_check(a40, year, "persistence");
    double t_chase = speed_check(a40, year, "chase");
    printf("\nspeed ratio chase / persistence forecaster: %.1fx (target <= 20x)\n", t_chase / t_pers);
    chase_profile_free(a40);
    for (size_t f = 0; f < n_files; f++)
        free(files[f]);
    return 0;
}
