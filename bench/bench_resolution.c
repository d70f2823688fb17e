/* Cost against resolution: a year of CI at 5-minute steps and 5-minute periods against the same year at hourly
 * steps and periods, through the six policies (max, fixed:250, static, chase, budget, oracle) as one simulation
 * each (chase_simulate_policies: one forecaster shared by the policies that read it). There are 12 times as many
 * periods and samples, so a cost that grows with the work alone is 12 times; the target (issue 15) is at most 15.
 *
 *   build/bench_resolution [DATA_DIR [FORECASTER [PAIRS]]]   (defaults ../shared/data, persistence, 5)
 *
 * The hourly year is eia-CISO-2022; the 5-minute year is the same trace interpolated linearly between the hourly
 * values (a smooth series, so the 5-minute window holds 12 distinct values per hour, as a real one would). Cost is
 * the process's CPU time (CLOCK_PROCESS_CPUTIME_ID), measured in pairs (hourly, then 5-minute, back to back) so that
 * load from other processes on a shared machine touches both sides of a ratio alike; the median ratio over the
 * pairs is reported with the smallest and largest. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chase/profile.h"
#include "chase/simulate.h"
#include "chase/trace.h"

#define MAX_PAIRS 25

static const char *const six[] = {"max", "fixed:250", "static", "chase", "budget", "oracle"};

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The hourly trace at 5-minute steps, linear between consecutive hourly values (the last hour held). */
static chase_trace_t *to_five_minutes(const chase_trace_t *h)
{
    const int k = (int)(h->step_s / 300);
    chase_trace_t *t = chase_trace_new("eia-CISO-2022 at 5 min", h->start, 300, h->n * (size_t)k);
    if (!t)
        return NULL;
    for (size_t i = 0; i < h->n; i++) {
        double a = h->ci[i], b = i + 1 < h->n ? h->ci[i + 1] : a;
        for (int j = 0; j < k; j++)
            t->ci[i * (size_t)k + (size_t)j] = a + (b - a) * j / k;
    }
    return t;
}

/* CPU seconds of one simulation of the six policies on tr at periods of the trace's step; -1 on failure. */
static double one_year(const chase_trace_t *tr, const chase_profile_t *prof, const char *forecaster)
{
    chase_sim_spec_t s;
    chase_sim_spec_init(&s);
    s.trace = tr;
    s.profile = prof;
    s.period_s = (double)tr->step_s;
    s.start = (double)tr->start + 86400;
    s.forecaster = forecaster;
    s.params.budget_pct = 2.5;
    /* The longest job every policy finishes inside the year: the slowest one (chase) sets the size. */
    double span = (double)chase_trace_end(tr) - s.start - 86400;
    s.work = span / 1.25 * chase_profile_top_throughput(prof);
    chase_totals_t tot[6];
    chase_err_t err;
    double c0 = cpu_s();
    if (chase_simulate_policies(&s, six, 6, NULL, tot, &err) != CHASE_OK) {
        fprintf(stderr, "bench_resolution: %s: %s\n", tr->name, err.msg);
        return -1;
    }
    return cpu_s() - c0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/data";
    const char *forecaster = argc > 2 ? argv[2] : "persistence";
    int pairs = argc > 3 ? atoi(argv[3]) : 5;
    if (pairs < 1 || pairs > MAX_PAIRS) {
        fprintf(stderr, "bench_resolution: PAIRS must be 1 to %d\n", MAX_PAIRS);
        return 2;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/carbon/eia-CISO-2022.csv", dir);
    chase_trace_t *hourly;
    chase_err_t err;
    if (chase_trace_read_csv(path, NULL, &hourly, &err) != CHASE_OK) {
        fprintf(stderr, "bench_resolution: %s (pass the shared data folder)\n", err.msg);
        return 77;
    }
    chase_trace_t *fine = to_five_minutes(hourly);
    chase_profile_t *a40;
    if (!fine || chase_profile_builtin("a40-resnet50", &a40, &err) != CHASE_OK) {
        fprintf(stderr, "bench_resolution: cannot set up the traces or the profile\n");
        return 1;
    }
    double th[MAX_PAIRS], tf[MAX_PAIRS], ratio[MAX_PAIRS];
    for (int i = 0; i < pairs; i++) {
        th[i] = one_year(hourly, a40, forecaster);
        tf[i] = one_year(fine, a40, forecaster);
        if (th[i] <= 0 || tf[i] <= 0)
            return 1;
        ratio[i] = tf[i] / th[i];
    }
    qsort(th, (size_t)pairs, sizeof *th, cmp_dbl);
    qsort(tf, (size_t)pairs, sizeof *tf, cmp_dbl);
    qsort(ratio, (size_t)pairs, sizeof *ratio, cmp_dbl);
    printf("six policies through a year of eia-CISO-2022 (%s forecaster), CPU time of the whole simulation, %d "
           "pairs:\n",
           forecaster, pairs);
    printf("  hourly steps, hourly periods (%zu samples):      median %.4f s (min %.4f, max %.4f)\n", hourly->n,
           th[pairs / 2], th[0], th[pairs - 1]);
    printf("  5-minute steps, 5-minute periods (%zu samples): median %.4f s (min %.4f, max %.4f)\n", fine->n,
           tf[pairs / 2], tf[0], tf[pairs - 1]);
    printf("  cost ratio 5-minute / hourly: median %.2fx (min %.2f, max %.2f) over %d pairs; 12x is the number of "
           "periods; target <= 15x: %s\n",
           ratio[pairs / 2], ratio[0], ratio[pairs - 1], pairs, ratio[pairs / 2] <= 15 ? "met" : "NOT met");
    chase_profile_free(a40);
    chase_trace_free(fine);
    chase_trace_free(hourly);
    return 0;
}
