/* The JSON of a simulated comparison (docs/simulate.md lists its fields). */
#include <math.h>

#include "chase/report.h"
#include "chase/timeutil.h"
#include "report/json.h"

int chase_report_simulate_json(const chase_comparison_t *c, char **out, chase_err_t *err)
{
    char buf[32];
    cJSON *root = cJSON_CreateObject(), *t = cJSON_AddObjectToObject(root, "trace");
    cJSON_AddStringToObject(t, "name", c->trace->name);
    cJSON_AddStringToObject(t, "start", chase_time_format((int64_t)c->start, buf, sizeof buf));
    double end = c->start;
    for (size_t i = 0; i < c->n; i++)
        end = fmax(end, c->start + c->results[i].totals.time_s);
    cJSON_AddStringToObject(t, "end", chase_time_format((int64_t)ceil(end), buf, sizeof buf));
    cJSON_AddNumberToObject(t, "period_s", c->period_s);
    cJSON_AddNumberToObject(t, "step_s", (double)c->trace->step_s);
    cJSON *p = cJSON_AddObjectToObject(root, "profile");
    cJSON_AddStringToObject(p, "name", c->profile->name);
    cJSON *pls = cJSON_AddArrayToObject(p, "power_limits_w");
    for (size_t i = 0; i < c->profile->n; i++)
        cJSON_AddItemToArray(pls, cJSON_CreateNumber(c->profile->pts[i].setting));
    cJSON *j = cJSON_AddObjectToObject(root, "job");
    cJSON_AddNumberToObject(j, "work", c->work);
    cJSON_AddStringToObject(j, "unit", c->profile->unit);
    cJSON_AddNumberToObject(j, "gpus", c->n_gpus);
    cJSON_AddNumberToObject(root, "budget_pct", c->budget_pct);
    cJSON *res = cJSON_AddArrayToObject(root, "results");
    for (size_t i = 0; i < c->n; i++) {
        const chase_policy_result_t *r = &c->results[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "policy", r->policy);
        cJSON_AddNumberToObject(x, "time_s", r->totals.time_s);
        cJSON_AddNumberToObject(x, "energy_j", r->totals.energy_j);
        cJSON_AddNumberToObject(x, "carbon_g", r->totals.carbon_g);
        cJSON_AddNumberToObject(x, "slowdown_pct", r->slowdown_pct);
        cJSON_AddNumberToObject(x, "carbon_saving_pct", r->carbon_saving_pct);
        cJSON_AddNumberToObject(x, "energy_saving_pct", r->energy_saving_pct);
        cJSON_AddNumberToObject(x, "efficiency_part_pct", r->efficiency_pp);
        cJSON_AddNumberToObject(x, "timing_part_pct", r->timing_pp);
        report_json_knob(x, "mean_", c->profile->knob, r->totals.mean_setting);
        cJSON_AddItemToArray(res, x);
    }
    return report_json_print(root, out, err);
}
