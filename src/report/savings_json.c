/* The run report's "savings" object: always the same fields, null where there is no estimate, so that a reader
 * never has to guess which shape it got. */
#include "report/savings_json.h"

#include "chase/savings.h"
#include "report/json.h"

static void add_case(cJSON *obj, const char *key, chase_knob_t knob, const chase_savings_case_t *c)
{
    cJSON *o = cJSON_AddObjectToObject(obj, key);
    report_json_knob(o, "", knob, c->setting);
    report_json_number(o, "time_s", c->time_s);
    report_json_number(o, "energy_j", c->energy_j);
    report_json_number(o, "carbon_g", c->carbon_g);
}

void report_json_savings(cJSON *root, const chase_run_record_t *r)
{
    chase_savings_t sv;
    chase_savings_of_run(r, &sv, NULL);
    cJSON *o = cJSON_AddObjectToObject(root, "savings");
    cJSON_AddBoolToObject(o, "estimated", sv.estimated);
    cJSON_AddStringToObject(o, "reason", sv.reason);
    cJSON_AddStringToObject(o, "note", sv.note);
    report_json_number(o, "slowdown_pct", sv.slowdown_pct);
    report_json_number(o, "carbon_saving_pct", sv.carbon_saving_pct);
    report_json_number(o, "energy_saving_pct", sv.energy_saving_pct);
    report_json_number(o, "efficiency_part_pct", sv.efficiency_pp);
    report_json_number(o, "timing_part_pct", sv.timing_pp);
    report_json_number(o, "profiling_part_pct", sv.profiling_pp);
    report_json_number(o, "carbon_saved_g", sv.carbon_saved_g);
    report_json_number(o, "energy_saved_j", sv.energy_saved_j);
    add_case(o, "max", r->knob, &sv.max);
    add_case(o, "static", r->knob, &sv.fixed);
    report_json_number(o, "profile_time_fit", sv.time_fit);
    report_json_number(o, "profile_power_fit", sv.power_fit);
    report_json_number(o, "ci_held_s", sv.ci_held_s);
}
