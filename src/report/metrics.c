/* The Prometheus text file of a live run (see chase/metrics.h). Names follow Prometheus's conventions: a chase_
 * prefix, the unit in the name (seconds, joules, grams, watts, ratio), _total on counters; every series carries
 * the run's label, so that the files of several runs on one node never collide in the textfile collector. */
#include "chase/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/c_locale.h"
#include "util/atomic_file.h"
#include "util/escape.h"

#ifndef CHASE_VERSION
#define CHASE_VERSION "unknown"
#endif

typedef struct out {
    FILE *f;
    const char *run;
} out_t;

/* A label value: backslash, double quote and line feed escaped as the format requires. Text a terminal or a UTF-8
 * parser would choke on (the signal spec is the user's) is first written as \xNN, since node_exporter refuses a file
 * with a label that is not valid UTF-8. */
static void put_label_value(FILE *f, const char *v)
{
    char shown[1024];
    if (v && chase_escape_needed(v, strlen(v)))
        v = chase_escape(v, shown, sizeof shown);
    fputc('"', f);
    for (; v && *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f), fputc(*v, f);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
    fputc('"', f);
}

static void family(out_t *o, const char *name, const char *type, const char *help)
{
    fprintf(o->f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample: name{run="...",extra} value; extra is preformatted ("gpu=\"0\"") or NULL. Unknown values are left
 * out: a missing series reads as "unknown" on a dashboard, NaN as a number. */
static void sample(out_t *o, const char *name, const char *extra, double v)
{
    if (!isfinite(v))
        return;
    fprintf(o->f, "%s{run=", name);
    put_label_value(o->f, o->run);
    if (extra)
        fprintf(o->f, ",%s", extra);
    fprintf(o->f, "} %.12g\n", v == 0 ? 0.0 : v);
}

static void gauge(out_t *o, const char *name, const char *help, double v)
{
    family(o, name, "gauge", help);
    sample(o, name, NULL, v);
}

static void counter(out_t *o, const char *name, const char *help, double v)
{
    family(o, name, "counter", help);
    sample(o, name, NULL, v);
}

static void put_info(out_t *o, const chase_run_record_t *r)
{
    family(o, "chase_info", "gauge", "The run: its policy, carbon signal, GPU backend and chase's version (always 1).");
    fprintf(o->f, "chase_info{run=");
    put_label_value(o->f, o->run);
    const char *keys[] = {"policy", "policy_requested", "signal", "backend", "profile_source", "version"};
    const char *vals[] = {r->policy, r->policy_requested, r->signal, r->backend, r->profile_source, CHASE_VERSION};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        fprintf(o->f, ",%s=", keys[i]);
        put_label_value(o->f, vals[i] ? vals[i] : "");
    }
    fputs("} 1\n", o->f);
}

static void put_gpus(out_t *o, const chase_run_record_t *r, const chase_period_t *last)
{
    if (r->knob != CHASE_KNOB_POWER_LIMIT) /* a new knob gets its own family, named in its unit */
        return;
    char lab[32];
    family(o, "chase_gpu_power_limit_watts", "gauge",
           "Power limit in force on each of the job's GPUs over the last period (one limit for all of them).");
    for (int i = 0; last && i < r->n_gpus; i++) {
        snprintf(lab, sizeof lab, "gpu=\"%d\"", r->gpus[i].info.index);
        sample(o, "chase_gpu_power_limit_watts", lab, last->setting);
    }
    family(o, "chase_gpu_original_power_limit_watts", "gauge",
           "The limit each GPU had before chase, which it gets back when the run ends.");
    for (int i = 0; i < r->n_gpus; i++) {
        snprintf(lab, sizeof lab, "gpu=\"%d\"", r->gpus[i].info.index);
        sample(o, "chase_gpu_original_power_limit_watts", lab, r->gpus[i].original);
    }
}

static void put_estimate(out_t *o, const chase_run_status_t *st)
{
    const chase_savings_t *s = &st->savings;
    double k = s->estimated ? 0.01 : NAN; /* percent to ratio; NAN leaves every estimate out */
    gauge(o, "chase_estimated_slowdown_ratio",
          "Estimated slowdown so far against the same work at the top limit (0.02 = 2 %).", k * s->slowdown_pct);
    gauge(o, "chase_estimated_carbon_saved_grams",
          "Estimated carbon saved so far against the same work at the top limit (measured run, estimated baseline).",
          s->estimated ? s->carbon_saved_g : NAN);
    gauge(o, "chase_estimated_carbon_saving_ratio", "The same as a fraction of the baseline's carbon.",
          k * s->carbon_saving_pct);
    gauge(o, "chase_estimated_efficiency_saving_ratio",
          "Part of the carbon saving one fixed limit with the same slowdown also gets (efficiency).",
          k * s->efficiency_pp);
    gauge(o, "chase_estimated_timing_saving_ratio", "The rest of the carbon saving: following the grid (timing).",
          k * s->timing_pp);
    gauge(o, "chase_estimated_energy_saved_joules", "Estimated energy saved so far against the top limit.",
          s->estimated ? s->energy_saved_j : NAN);
    gauge(o, "chase_estimated_finish_timestamp_seconds",
          "When the job will end at the pace so far (needs --total-steps), Unix time.", st->finish);
}

int chase_metrics_format(const chase_metrics_t *m, char **out, chase_err_t *err)
{
    *out = NULL;
    if (!m || !m->record || !m->status || !m->run)
        return chase_err_set(err, CHASE_EINVAL, "metrics: nothing to write");
    const chase_run_record_t *r = m->record;
    const chase_run_status_t *st = m->status;
    size_t len = 0;
    out_t o = {open_memstream(out, &len), m->run};
    if (!o.f)
        return chase_err_set(err, CHASE_ENOMEM, "metrics: out of memory");
    report_c_locale_t loc;
    if (report_c_locale_enter(&loc)) {
        fclose(o.f);
        free(*out);
        *out = NULL;
        return chase_err_set(err, CHASE_ENOMEM, "metrics: cannot switch to the C locale");
    }
    const chase_ledger_t *l = r->ledger;
    const chase_period_t *last = l && l->n ? &l->rows[l->n - 1] : NULL;
    chase_totals_t t = {0};
    if (l)
        chase_ledger_totals(l, &t);
    put_info(&o, r);
    gauge(&o, "chase_running", "1 while chase controls the job's GPUs, 0 once the run ended.", m->running ? 1 : 0);
    gauge(&o, "chase_start_timestamp_seconds", "When the first period began, Unix time.",
          l && l->n ? l->rows[0].start : NAN);
    gauge(&o, "chase_last_period_end_timestamp_seconds", "When the last period ended (this file's data), Unix time.",
          last ? last->end : NAN);
    gauge(&o, "chase_grid_carbon_intensity_grams_per_kilowatt_hour",
          "Actual mean carbon intensity of the grid over the last period, gCO2eq/kWh.", last ? last->ci : NAN);
    gauge(&o, "chase_grid_carbon_intensity_forecast_grams_per_kilowatt_hour",
          "The carbon intensity the policy was told for the last period (its forecast), gCO2eq/kWh.",
          last ? last->ci_forecast : NAN);
    put_gpus(&o, r, last);
    family(&o, "chase_periods_total", "counter", "Periods accounted, by phase (profile: online profiling).");
    sample(&o, "chase_periods_total", "phase=\"profile\"", l ? (double)chase_ledger_count(l, CHASE_PHASE_PROFILE) : 0);
    sample(&o, "chase_periods_total", "phase=\"control\"", l ? (double)chase_ledger_count(l, CHASE_PHASE_CONTROL) : 0);
    counter(&o, "chase_run_seconds_total", "Time accounted in periods.", t.time_s);
    counter(&o, "chase_energy_joules_total", "Energy of all the job's GPUs, from their own counters.", t.energy_j);
    counter(&o, "chase_carbon_grams_total",
            "Carbon of that energy, each period priced at its actual CI, gCO2eq (periods without a CI left out).",
            t.carbon_g);
    counter(&o, "chase_steps_total", "Steps the job reported.", t.work);
    counter(&o, "chase_samples_total", "Samples the job reported, summed over ranks.", r->samples);
    gauge(&o, "chase_slowdown_budget_ratio", "The slowdown budget against the top limit (0.025 = 2.5 %).",
          r->budget_pct / 100);
    gauge(&o, "chase_done_ratio", "Steps done as a fraction of the job's size (needs --total-steps).",
          st->done_pct / 100);
    put_estimate(&o, st);
    report_c_locale_leave(&loc);
    if (fclose(o.f) != 0 || !*out) {
        free(*out);
        *out = NULL;
        return chase_err_set(err, CHASE_ENOMEM, "metrics: out of memory");
    }
    return CHASE_OK;
}

int chase_metrics_write(const char *path, const chase_metrics_t *m, chase_err_t *err)
{
    char *text = NULL;
    int rc = chase_metrics_format(m, &text, err);
    if (rc == CHASE_OK)
        rc = chase_file_write_atomic(path, text, strlen(text), 0644, err);
    free(text);
    return rc;
}

const char *chase_metrics_run_label(const char *path, char *buf, size_t size)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".prom"))
        n -= 5;
    snprintf(buf, size, "%.*s", (int)n, base);
    return buf;
}
