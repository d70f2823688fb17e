/* One simulated job under one policy: wires the control loop to a simulated GPU and the trace. */
#include "chase/simulate.h"

#include <math.h>
#include <string.h>

#include "chase/forecast.h"
#include "chase/gridmodel.h"
#include "chase/signal.h"
#include "chase/timeutil.h"

void chase_sim_spec_init(chase_sim_spec_t *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->n_gpus = 1;
    spec->period_s = 1800;
    chase_policy_params_init(&spec->params);
}

double chase_sim_baseline_time(const chase_sim_spec_t *spec)
{
    return spec->work / chase_profile_top_throughput(spec->profile);
}

double chase_sim_worst_time(const chase_profile_t *profile, double work)
{
    double t = 0;
    for (size_t i = 0; i < profile->n; i++)
        t = fmax(t, work / profile->pts[i].throughput);
    return t;
}

int64_t chase_sim_default_start(const chase_trace_t *trace, double worst_time_s)
{
    int64_t week = trace->start + 7 * 86400;
    return (double)(chase_trace_end(trace) - week) >= worst_time_s * 1.05 ? week : trace->start;
}

int chase_sim_grid_trace(const char *grid, int64_t start, double history_s, double worst_time_s, double period_s,
                         uint64_t seed, chase_trace_t **out, chase_err_t *err)
{
    start -= start % 3600;
    size_t hours = (size_t)ceil((history_s + worst_time_s * 1.05 + 2 * period_s) / 3600) + 1;
    return chase_gridmodel_generate(grid, start - (int64_t)history_s, hours, seed, out, err);
}

static int make_forecaster(const chase_sim_spec_t *spec, chase_forecaster_t **out, chase_err_t *err)
{
    const char *name = spec->forecaster;
    if (name && !strcmp(name, "perfect"))
        return chase_forecaster_create_perfect(spec->trace, out, err);
    if (name)
        return chase_forecaster_create(name, spec->trace->step_s, NULL, out, err);
    if (chase_forecaster_create("chase", spec->trace->step_s, NULL, out, NULL) == CHASE_OK)
        return CHASE_OK;
    return chase_forecaster_create("persistence", spec->trace->step_s, NULL, out, err);
}

int chase_simulate_policy(const chase_sim_spec_t *spec, const char *policy, chase_ledger_t *ledger,
                          chase_totals_t *out, chase_err_t *err)
{
    return chase_simulate_policy_info(spec, policy, ledger, out, NULL, err);
}

int chase_simulate_policy_info(const chase_sim_spec_t *spec, const char *policy, chase_ledger_t *ledger,
                               chase_totals_t *out, chase_policy_info_t *info, chase_err_t *err)
{
    chase_ledger_t local;
    chase_ledger_init(&local);
    chase_ledger_t *l = ledger ? ledger : &local;
    size_t first_row = l->n;
    chase_policy_params_t params = spec->params;
    params.truth = spec->trace;
    chase_policy_t *pol = NULL;
    chase_forecaster_t *fc = NULL;
    chase_signal_t *sig = NULL;
    chase_gpu_t *gpu = NULL;
    chase_gpu_group_t *group = NULL;
    chase_sim_job_t *job = NULL;
    int rc;
    if ((rc = chase_policy_create(policy, &params, &pol, err)) != CHASE_OK)
        goto out;
    /* A policy that reads no forecast gets none: the default model's online learning is most of a simulation's
     * time. The loop then reports the last known value as the period's forecast. */
    if (chase_policy_forecast_use(pol) != CHASE_FORECAST_NONE && (rc = make_forecaster(spec, &fc, err)) != CHASE_OK)
        goto out;
    if ((rc = chase_signal_trace(spec->trace, &sig, err)) != CHASE_OK)
        goto out;
    chase_gpu_open_opts_t go = {.backend = "sim", .profile = spec->profile, .n_gpus = spec->n_gpus};
    chase_gpu_group_opts_t gg = {.knob = spec->profile->knob};
    if ((rc = chase_gpu_open(&go, &gpu, err)) != CHASE_OK ||
        (rc = chase_gpu_group_open(gpu, &gg, &group, err)) != CHASE_OK ||
        (rc = chase_sim_job_create(gpu, spec->work, spec->start, &job, err)) != CHASE_OK)
        goto out;
    chase_control_config_t cfg;
    chase_control_config_init(&cfg);
    cfg.period_s = spec->period_s;
    cfg.work_total = spec->work;
    cfg.budget_pct = params.budget_pct;
    rc = chase_control_run(&cfg, spec->profile, sig, fc, pol, group, chase_sim_job_job(job), l, err);
    if (info)
        chase_policy_describe(pol, info);
    if (rc != CHASE_OK)
        goto out;
    for (size_t i = first_row; i < l->n; i++) {
        if (l->rows[i].stale) {
            char when[32];
            rc = chase_err_set(err, CHASE_ENODATA,
                               "the trace %s ends at %s, before the job under policy %s does: use a shorter job "
                               "or an earlier --start",
                               spec->trace->name, chase_time_format(chase_trace_end(spec->trace), when, sizeof when),
                               policy);
            goto out;
        }
    }
    if (out) {
        chase_ledger_t view = {.n = l->n - first_row, .cap = 0, .rows = l->rows + first_row};
        chase_ledger_totals(&view, out);
    }
out:
    chase_sim_job_free(job);
    chase_gpu_group_free(group);
    chase_gpu_free(gpu);
    chase_signal_free(sig);
    chase_forecaster_free(fc);
    chase_policy_free(pol);
    chase_ledger_free(&local);
    return rc;
}
