/* One simulated job under one policy: wires the control loop to a simulated GPU and the trace. */
#include "chase/simulate.h"

#include <math.h>
#include <stdlib.h>
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
    spec->history_s = 90 * 86400.0;
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
    if (name && !strcmp(name, "blend"))
        return chase_forecaster_create_blend(spec->published, spec->trace->step_s, out, err);
    if (name && !strcmp(name, "select"))
        return chase_forecaster_create_select(spec->published, spec->trace->step_s, out, err);
    if (name)
        return chase_forecaster_create(name, spec->trace->step_s, NULL, out, err);
    if (chase_forecaster_create("chase", spec->trace->step_s, NULL, out, NULL) == CHASE_OK)
        return CHASE_OK;
    return chase_forecaster_create("persistence", spec->trace->step_s, NULL, out, err);
}

int chase_sim_tape_create(const chase_sim_spec_t *spec, chase_forecast_tape_t **out, chase_err_t *err)
{
    chase_forecaster_t *fc;
    int rc = make_forecaster(spec, &fc, err);
    return rc == CHASE_OK ? chase_forecast_tape_create(fc, out, err) : rc;
}

/* Runs the job under pol with forecaster fc (NULL when the policy reads none; not owned); info (may be NULL)
 * receives what the policy says of itself afterwards. */
static int run_policy(const chase_sim_spec_t *spec, const char *policy, chase_policy_t *pol, chase_forecaster_t *fc,
                      chase_ledger_t *ledger, chase_totals_t *out, chase_policy_info_t *info, chase_err_t *err)
{
    chase_ledger_t local;
    chase_ledger_init(&local);
    chase_ledger_t *l = ledger ? ledger : &local;
    size_t first_row = l->n;
    chase_signal_t *sig = NULL;
    chase_gpu_t *gpu = NULL;
    chase_gpu_group_t *group = NULL;
    chase_sim_job_t *job = NULL;
    int rc;
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
    cfg.budget_pct = spec->params.budget_pct;
    if (spec->history_s > 0)
        cfg.history_s = spec->history_s;
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
    chase_ledger_free(&local);
    return rc;
}

/* The forecaster policy pol reads, a reader of tape when there is one; NULL when it reads none: the default model's
 * online learning is most of a simulation's time (the loop then reports the last known value as the forecast). */
static int forecaster_for(const chase_sim_spec_t *spec, chase_forecast_tape_t *tape, const chase_policy_t *pol,
                          chase_forecaster_t **fc, chase_err_t *err)
{
    *fc = NULL;
    if (chase_policy_forecast_use(pol) == CHASE_FORECAST_NONE)
        return CHASE_OK;
    return tape ? chase_forecast_tape_reader(tape, fc, err) : make_forecaster(spec, fc, err);
}

/* Every reader of a tape must have been given the samples it recorded (see chase_forecast_tape_t). */
static int check_tape(const chase_forecast_tape_t *tape, const char *policy, chase_err_t *err)
{
    if (tape && chase_forecast_tape_diverged(tape))
        return chase_err_set(err, CHASE_EINVAL,
                             "policy %s gave the shared forecaster other samples than it recorded (a tape made for "
                             "another trace, start or history)",
                             policy);
    return CHASE_OK;
}

int chase_simulate_policy(const chase_sim_spec_t *spec, const char *policy, chase_ledger_t *ledger,
                          chase_totals_t *out, chase_err_t *err)
{
    return chase_simulate_policy_info(spec, policy, ledger, out, NULL, err);
}

int chase_simulate_policy_info(const chase_sim_spec_t *spec, const char *policy, chase_ledger_t *ledger,
                               chase_totals_t *out, chase_policy_info_t *info, chase_err_t *err)
{
    chase_policy_params_t params = spec->params;
    params.truth = spec->trace;
    chase_policy_t *pol = NULL;
    chase_forecaster_t *fc = NULL;
    int rc;
    if ((rc = chase_policy_create(policy, &params, &pol, err)) == CHASE_OK &&
        (rc = forecaster_for(spec, spec->tape, pol, &fc, err)) == CHASE_OK)
        rc = run_policy(spec, policy, pol, fc, ledger, out, info, err);
    chase_forecaster_free(fc);
    if (rc == CHASE_OK)
        rc = check_tape(spec->tape, policy, err);
    chase_policy_free(pol);
    return rc;
}

int chase_simulate_policies(const chase_sim_spec_t *spec, const char *const *policies, size_t n,
                            chase_ledger_t *ledgers, chase_totals_t *out, chase_err_t *err)
{
    chase_policy_params_t params = spec->params;
    params.truth = spec->trace;
    chase_policy_t **pol = calloc(n ? n : 1, sizeof *pol);
    chase_forecast_tape_t *tape = spec->tape, *own_tape = NULL;
    chase_forecaster_t *fc = NULL;
    size_t readers = 0;
    int rc = CHASE_OK;
    if (!pol)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == CHASE_OK; i++) {
        rc = chase_policy_create(policies[i], &params, &pol[i], err);
        if (rc == CHASE_OK && chase_policy_forecast_use(pol[i]) != CHASE_FORECAST_NONE)
            readers++;
    }
    /* Policies that read forecasts share one forecaster: each is given the same samples, so the forecasts are the
     * same, and the model learns once (a tape). */
    if (rc == CHASE_OK && !tape && readers > 1 && (rc = chase_sim_tape_create(spec, &own_tape, err)) == CHASE_OK)
        tape = own_tape;
    for (size_t i = 0; i < n && rc == CHASE_OK; i++) {
        if ((rc = forecaster_for(spec, tape, pol[i], &fc, err)) == CHASE_OK)
            rc = run_policy(spec, policies[i], pol[i], fc, ledgers ? &ledgers[i] : NULL, out ? &out[i] : NULL, NULL,
                            err);
        chase_forecaster_free(fc);
        fc = NULL;
        if (rc == CHASE_OK)
            rc = check_tape(tape, policies[i], err);
    }
    chase_forecast_tape_free(own_tape);
    for (size_t i = 0; i < n; i++)
        chase_policy_free(pol[i]);
    free(pol);
    return rc;
}
