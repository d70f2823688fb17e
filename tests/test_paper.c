/* Reproduces the paper's experiment (Yang et al., 2023): one A40, ResNet-50 on ImageNet, 30-min periods,
 * MaxPower 300 W, MaxCI 750 g/kWh, on the 30-min WattTime MISO trace of the original prototype (83 h, so 70 epochs
 * at 3847 s each fit). The paper reports 13.6 % less carbon for 2.5 % more time. chase's figures differ; what the
 * test pins down is the explanation: nearly all of the saving is efficiency that one fixed limit also gets, and the
 * part from carbon timing is small on this trace. */
#include "check.h"
#include "chase/simulate.h"

static chase_trace_t *trace;
static chase_profile_t *a40;

static void run(const char *policy, const char *forecaster, double eta, double budget, chase_totals_t *out)
{
    chase_sim_spec_t s;
    chase_sim_spec_init(&s);
    s.trace = trace;
    s.profile = a40;
    s.start = (double)trace->start;
    s.work = 70;
    s.period_s = 1800;
    s.forecaster = forecaster;
    s.params.eta = eta;
    s.params.max_power_w = 300;
    s.params.max_ci = 750;
    s.params.budget_pct = budget;
    chase_err_t err;
    int rc = chase_simulate_policy(&s, policy, NULL, out, &err);
    if (rc)
        fprintf(stderr, "%s: %s\n", policy, err.msg);
    CHECK(rc == CHASE_OK);
}

static double saving(const chase_totals_t *p, const chase_totals_t *m) { return 100 * (1 - p->carbon_g / m->carbon_g); }
static double slowdown(const chase_totals_t *p, const chase_totals_t *m) { return 100 * (p->time_s / m->time_s - 1); }

static void test_paper(void)
{
    chase_totals_t max, chase, chase_perfect, stat, budget, oracle;
    run("max", "persistence", 0.5, 2.5, &max);
    run("chase", "persistence", 0.5, 2.5, &chase);
    run("chase", "perfect", 0.5, 2.5, &chase_perfect);
    double s = saving(&chase, &max), d = slowdown(&chase, &max);
    double energy = 100 * (1 - chase.energy_j / max.energy_j);
    run("static", "persistence", 0.5, d, &stat); /* one fixed limit with the same slowdown */
    run("budget", "persistence", 0.5, 2.5, &budget);
    run("oracle", "persistence", 0.5, 2.5, &oracle);
    printf("paper: 13.6 %% less carbon for 2.5 %% more time\n");
    printf("chase (eta 0.5): %.2f %% less carbon for %.2f %% more time; energy saving %.2f %%, so efficiency "
           "%.2f pp and carbon timing %.2f pp\n", s, d, energy, energy, s - energy);
    printf("static at the same slowdown: %.2f %%; budget 2.5 %%: %.2f %% (%.2f %% slower); oracle 2.5 %%: %.2f %%\n",
           saving(&stat, &max), saving(&budget, &max), slowdown(&budget, &max), saving(&oracle, &max));
    /* The same order of saving as the paper, within its slowdown. */
    CHECK(s > 10 && s < 20);
    CHECK(d > 0 && d <= 2.5);
    /* Most of it is efficiency: a fixed limit at the same slowdown gets within a point of it. */
    CHECK(s - energy < 1);
    CHECK(fabs(saving(&stat, &max) - s) < 1);
    /* A perfect forecast changes little: the forecaster is not what limits the saving here. */
    CHECK(fabs(saving(&chase_perfect, &max) - s) < 1);
    /* Budgeted control uses the same time better, and the oracle bounds it. */
    CHECK(slowdown(&budget, &max) <= 2.5 + 1e-6);
    CHECK(saving(&budget, &max) >= s - 0.2);
    CHECK(saving(&oracle, &max) >= saving(&budget, &max) - 1e-9);
}

int main(void)
{
    char path[1024];
    if (!shared_data_path("carbon/watttime-MISO_MASON_CITY-2022-10.csv", path, sizeof path))
        return SKIP_TEST;
    chase_err_t err;
    if (chase_trace_read_csv(path, NULL, &trace, &err) != CHASE_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    CHECK(chase_profile_builtin("a40-resnet50", &a40, &err) == CHASE_OK);
    RUN(test_paper);
    chase_trace_free(trace);
    chase_profile_free(a40);
    CHECK_DONE();
}
