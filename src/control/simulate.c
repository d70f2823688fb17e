/* One simulated job under one policy: wires the control loop to a simulated GPU and the trace. */
#include "chase/simulate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chase/forecast.h"
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

/* Runs the job under pol with forecaster fc (NULL when the policy reads none; not owned). */
static int run_policy(const chase_sim_spec_t *spec, const char *policy, chase_policy_t *pol, chase_forecaster_t *fc,
                      chase_ledger_t *ledger, chase_totals_t *out, chase_err_t *err)
{
    chase_ledger_t local;
    chase_ledger_init(&local);
    chase_ledger_t *l = ledger ? ledger : &local;
    size_t first_row = l->n;
    chase_signal_t *sig = NULL;
    chase_sim_t *sim = NULL;
    int rc;
    if ((rc = chase_signal_trace(spec->trace, &sig, err)) != CHASE_OK)
        goto out;
    if ((rc = chase_sim_create(spec->profile, spec->n_gpus, spec->work, spec->start, &sim, err)) != CHASE_OK)
        goto out;
    chase_control_config_t cfg;
    chase_control_config_init(&cfg);
    cfg.period_s = spec->period_s;
    cfg.work_total = spec->work;
    cfg.budget_pct = spec->params.budget_pct;
    if (spec->history_s > 0)
        cfg.history_s = spec->history_s;
    rc = chase_control_run(&cfg, spec->profile, sig, fc, pol, chase_sim_gpu(sim), chase_sim_job(sim), l, err);
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
    chase_sim_free(sim);
    chase_signal_free(sig);
    chase_ledger_free(&local);
    return rc;
}

int chase_sim_tape_create(const chase_sim_spec_t *spec, chase_forecast_tape_t **out, chase_err_t *err)
{
    chase_forecaster_t *fc;
    int rc = make_forecaster(spec, &fc, err);
    return rc == CHASE_OK ? chase_forecast_tape_create(fc, out, err) : rc;
}

int chase_simulate_policy(const chase_sim_spec_t *spec, const char *policy, chase_ledger_t *ledger,
                          chase_totals_t *out, chase_err_t *err)
{
    return chase_simulate_policies(spec, &policy, 1, ledger, out, err);
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
     * same, and the model learns once (a tape). A policy that reads none gets none: the default model's online
     * learning is most of a simulation's time. The loop then reports the last known value as the forecast. */
    if (rc == CHASE_OK && !tape && readers > 1 && (rc = chase_sim_tape_create(spec, &own_tape, err)) == CHASE_OK)
        tape = own_tape;
    for (size_t i = 0; i < n && rc == CHASE_OK; i++) {
        if (chase_policy_forecast_use(pol[i]) != CHASE_FORECAST_NONE)
            rc = tape ? chase_forecast_tape_reader(tape, &fc, err) : make_forecaster(spec, &fc, err);
        if (rc == CHASE_OK)
            rc = run_policy(spec, policies[i], pol[i], fc, ledgers ? &ledgers[i] : NULL, out ? &out[i] : NULL, err);
        chase_forecaster_free(fc);
        fc = NULL;
        if (rc == CHASE_OK && tape && chase_forecast_tape_diverged(tape))
            rc = chase_err_set(err, CHASE_EINVAL, "internal error: policy %s gave the shared forecaster other samples",
                               policies[i]);
    }
    chase_forecast_tape_free(own_tape);
    for (size_t i = 0; i < n; i++)
        chase_policy_free(pol[i]);
    free(pol);
    return rc;
}
