/* Using libchase from C: simulate one job under the budget policy on a built-in grid model.
 *
 *   cc simulate_api.c $(pkg-config --cflags --libs chase) -o simulate_api && ./simulate_api
 */
#include <stdio.h>

#include <chase/gridmodel.h>
#include <chase/profile.h>
#include <chase/simulate.h>

int main(void)
{
    chase_err_t err;
    chase_profile_t *profile = NULL;
    chase_trace_t *trace = NULL;
    int64_t start = 1678060800; /* 2023-03-06T00:00:00Z */
    if (chase_profile_builtin("a40-resnet50", &profile, &err) != CHASE_OK ||
        chase_gridmodel_generate("us-caiso-solar", start - 14 * 86400, 24 * 24, 1, &trace, &err) != CHASE_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    chase_sim_spec_t spec;
    chase_sim_spec_init(&spec);
    spec.trace = trace;
    spec.profile = profile;
    spec.start = (double)start;
    spec.work = 90; /* epochs */
    spec.params.budget_pct = 2.5;
    const char *policies[] = {"max", "budget"};
    chase_totals_t t[2];
    for (int i = 0; i < 2; i++) {
        if (chase_simulate_policy(&spec, policies[i], NULL, &t[i], &err) != CHASE_OK) {
            fprintf(stderr, "%s: %s\n", policies[i], err.msg);
            return 1;
        }
    }
    printf("budget saves %.1f %% carbon for %.1f %% more time\n", 100 * (1 - t[1].carbon_g / t[0].carbon_g),
           100 * (t[1].time_s / t[0].time_s - 1));
    chase_trace_free(trace);
    chase_profile_free(profile);
    return 0;
}
