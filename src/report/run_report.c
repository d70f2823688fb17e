/* The report of a live run (docs/run.md lists its fields) and the device list, as JSON text. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/report.h"
#include "chase/timeutil.h"
#include "report/json.h"
#include "report/savings_json.h"
#include "util/atomic_file.h"

static void add_gpus(cJSON *root, const chase_run_record_t *r)
{
    cJSON *gpus = cJSON_AddArrayToObject(root, "gpus");
    for (int i = 0; i < r->n_gpus; i++) {
        const chase_run_gpu_t *g = &r->gpus[i];
        cJSON *o = cJSON_CreateObject();
        report_json_gpu_identity(o, &g->info);
        report_json_knob(o, "original_", r->knob, g->original);
        report_json_knob(o, "min_", r->knob, g->min);
        report_json_knob(o, "max_", r->knob, g->max);
        cJSON_AddBoolToObject(o, "restored", g->restored);
        cJSON_AddItemToArray(gpus, o);
    }
}

static void add_profile(cJSON *root, const chase_profile_t *p)
{
    if (!p)
        return;
    cJSON *pr = cJSON_AddObjectToObject(root, "profile");
    cJSON_AddStringToObject(pr, "name", p->name);
    cJSON_AddStringToObject(pr, "unit", p->unit);
    cJSON *pts = cJSON_AddArrayToObject(pr, "points");
    for (size_t i = 0; i < p->n; i++) {
        cJSON *o = cJSON_CreateObject();
        report_json_knob(o, "", p->knob, p->pts[i].setting);
        report_json_number(o, "throughput", p->pts[i].throughput);
        report_json_number(o, "power_w", p->pts[i].power_w);
        cJSON_AddItemToArray(pts, o);
    }
}

static void add_periods(cJSON *root, const chase_ledger_t *l, chase_knob_t knob)
{
    cJSON *periods = cJSON_AddArrayToObject(root, "periods");
    for (size_t i = 0; l && i < l->n; i++) {
        const chase_period_t *r = &l->rows[i];
        cJSON *p = cJSON_CreateObject();
        char ts[32];
        report_json_number(p, "start", r->start);
        report_json_number(p, "end", r->end);
        chase_time_format((int64_t)floor(r->start), ts, sizeof ts);
        cJSON_AddStringToObject(p, "start_time", ts);
        cJSON_AddStringToObject(p, "phase", chase_phase_name(r->phase));
        report_json_number(p, "ci_g_per_kwh", r->ci);
        report_json_number(p, "forecast_g_per_kwh", r->ci_forecast);
        report_json_knob(p, "", knob, r->setting);
        report_json_knob(p, "decided_", knob, r->decided);
        report_json_number(p, "energy_j", r->energy_j);
        report_json_number(p, "carbon_g", r->carbon_g);
        report_json_number(p, "steps", r->work);
        cJSON_AddBoolToObject(p, "stale", r->stale);
        cJSON_AddItemToArray(periods, p);
    }
}

static void add_string_or_null(cJSON *root, const char *key, const char *v)
{
    if (v)
        cJSON_AddStringToObject(root, key, v);
    else
        cJSON_AddNullToObject(root, key);
}

int chase_report_run_json(const chase_run_record_t *r, char **out, chase_err_t *err)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *cmd = cJSON_AddArrayToObject(root, "command");
    for (char *const *a = r->command; a && *a; a++)
        cJSON_AddItemToArray(cmd, cJSON_CreateString(*a));
    cJSON_AddStringToObject(root, "signal", r->signal ? r->signal : "");
    cJSON_AddStringToObject(root, "policy", r->policy ? r->policy : "");
    cJSON_AddStringToObject(root, "policy_requested", r->policy_requested ? r->policy_requested : "");
    cJSON *pi = cJSON_AddObjectToObject(root, "policy_info");
    for (size_t i = 0; i < r->policy_info.n; i++)
        report_json_number(pi, r->policy_info.v[i].key, r->policy_info.v[i].value);
    cJSON_AddStringToObject(pi, "note", r->policy_info.note);
    report_json_number(root, "period_s", r->period_s);
    report_json_number(root, "budget_pct", r->budget_pct);
    report_json_number(root, "total_steps", r->total_steps);
    cJSON_AddBoolToObject(root, "dry_run", r->dry_run);
    cJSON_AddStringToObject(root, "backend", r->backend ? r->backend : "observe-only");
    cJSON_AddStringToObject(root, "profile_source", r->profile_source ? r->profile_source : "none");
    add_gpus(root, r);
    add_profile(root, r->profile);
    cJSON *prog = cJSON_AddObjectToObject(root, "progress");
    report_json_number(prog, "steps", r->steps);
    report_json_number(prog, "samples", r->samples);
    report_json_number(prog, "messages", r->messages);
    report_json_number(prog, "malformed", r->malformed);
    cJSON_AddNumberToObject(prog, "ranks", r->ranks);
    add_periods(root, r->ledger, r->knob);
    chase_totals_t t = {0};
    if (r->ledger)
        chase_ledger_totals(r->ledger, &t);
    cJSON *tot = cJSON_AddObjectToObject(root, "total");
    report_json_number(tot, "time_s", t.time_s);
    report_json_number(tot, "energy_j", t.energy_j);
    report_json_number(tot, "carbon_g", t.carbon_g);
    report_json_number(tot, "unpriced_s", t.unpriced_s);
    report_json_number(tot, "steps", t.work);
    report_json_knob(tot, "mean_", r->knob, t.mean_setting);
    report_json_savings(root, r);
    cJSON_AddNumberToObject(root, "exit_status", r->exit_status);
    add_string_or_null(root, "interrupted_by", r->interrupted_by);
    add_string_or_null(root, "error", r->error && r->error[0] ? r->error : NULL);
    return report_json_print(root, out, err);
}

int chase_report_devices_json(const chase_gpu_info_t *in, const char *const *errors, int n, char **out,
                              chase_err_t *err)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(root, "devices");
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(list, o);
        if (errors && errors[i]) {
            cJSON_AddNumberToObject(o, "index", in[i].index);
            cJSON_AddStringToObject(o, "error", errors[i]);
            continue;
        }
        report_json_gpu_identity(o, &in[i]);
        report_json_number(o, "power_limit_w", in[i].pl_w);
        report_json_number(o, "default_power_limit_w", in[i].default_pl_w);
        report_json_number(o, "min_power_limit_w", in[i].min_pl_w);
        report_json_number(o, "max_power_limit_w", in[i].max_pl_w);
        report_json_number(o, "power_w", in[i].power_w);
        report_json_number(o, "energy_j", in[i].energy_j);
    }
    return report_json_print(root, out, err);
}

int chase_report_write(const char *path, const char *text, chase_err_t *err)
{
    size_t len = strlen(text);
    if (!strcmp(path, "-")) {
        if (fwrite(text, 1, len, stdout) != len || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
            return chase_err_set(err, CHASE_EIO, "writing to standard output failed: %s", strerror(errno));
        return CHASE_OK;
    }
    char *with_nl = malloc(len + 2);
    if (!with_nl)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    memcpy(with_nl, text, len);
    with_nl[len] = '\n';
    int rc = chase_file_write_atomic(path, with_nl, len + 1, 0644, err);
    free(with_nl);
    return rc;
}
