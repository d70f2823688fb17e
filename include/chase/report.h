/* Reports: the run report of a live run (JSON), the device list (JSON), per-period timeline CSV and an SVG chart
 * of CI and settings. Writers produce text; chase_report_write puts it in place. */
#ifndef CHASE_REPORT_H
#define CHASE_REPORT_H

#include <stdio.h>

#include "chase/error.h"
#include "chase/gpu.h"
#include "chase/ledger.h"
#include "chase/policy.h"
#include "chase/profile.h"
#include "chase/setting.h"
#include "chase/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One policy's run: its name and its ledger. */
typedef struct chase_report_run {
    const char *policy;
    const chase_ledger_t *ledger;
} chase_report_run_t;

/* Writes one CSV row per period and run: policy,start,end,ci_g_per_kwh,forecast_g_per_kwh,power_limit_w,energy_j,
 * carbon_g,work (times ISO-8601 UTC). */
int chase_report_timeline_csv(FILE *out, const chase_report_run_t *runs, size_t n, chase_err_t *err);

/* Draws CI over time (from trace when given, else from the first run's ledger) and each run's power limit, each
 * line labelled where it ends, with time and value axes. */
int chase_report_svg(FILE *out, const char *title, const chase_trace_t *trace, const chase_report_run_t *runs,
                     size_t n, chase_err_t *err);

/* One policy's outcome in a simulated comparison, with its savings against `max` split into efficiency (what one
 * fixed limit with the same slowdown saves: the best carbon-blind setting) and timing (the rest). */
typedef struct chase_policy_result {
    const char *policy; /* the policy spec (borrowed) */
    chase_totals_t totals;
    chase_ledger_t ledger;
    double slowdown_pct, carbon_saving_pct, energy_saving_pct;
    double efficiency_pp, timing_pp;
    chase_policy_info_t info; /* what the policy said of itself after the run */
} chase_policy_result_t;

/* A simulated comparison: one job, several policies, on one trace. */
typedef struct chase_comparison {
    const chase_trace_t *trace;
    const chase_profile_t *profile;
    double start, work, period_s, budget_pct;
    int n_gpus;
    const chase_policy_result_t *results;
    size_t n;
} chase_comparison_t;

/* The comparison as `chase simulate --json` writes it (fields: docs/simulate.md); free the text with free(). */
int chase_report_simulate_json(const chase_comparison_t *c, char **out, chase_err_t *err);

/* One GPU of a live run. */
typedef struct chase_run_gpu {
    chase_gpu_info_t info;        /* as read when the run started */
    double original, min, max;    /* the knob's setting before the run, and the range it accepts */
    int restored;                 /* the GPU holds its original setting at the end */
} chase_run_gpu_t;

/* What a live run was: the session fills most of it (chase_session_record), the front end the rest. */
typedef struct chase_run_record {
    char *const *command;   /* the training command, NULL-terminated (NULL: none) */
    const char *signal;     /* the carbon source's spec, secrets removed */
    const char *policy;     /* the policy that ran */
    const char *policy_requested;
    chase_policy_info_t policy_info; /* what the policy that ran said of itself */
    double period_s, budget_pct, total_steps; /* total_steps NAN when unknown */
    int dry_run;            /* the user asked to observe only */
    const char *backend;    /* who changed the GPUs: "nvml", "agent", or "observe-only" when nobody did */
    const char *profile_source;
    chase_knob_t knob;
    const chase_run_gpu_t *gpus;
    int n_gpus;
    const chase_profile_t *profile; /* NULL: none */
    double steps, samples, messages, malformed; /* progress reports */
    int ranks;
    const chase_ledger_t *ledger;
    int exit_status;            /* the command's */
    const char *interrupted_by; /* "SIGTERM", ...; NULL when not interrupted */
    const char *error;          /* why control stopped early; NULL when it did not */
} chase_run_record_t;

/* The run report (fields: docs/run.md) as indented JSON text; free it with free(). */
int chase_report_run_json(const chase_run_record_t *r, char **out, chase_err_t *err);

/* Draws a live run's chart in the same style: the CI it recorded on top; below, the limit in force and the mean
 * power each GPU drew, period by period (and the limit decided, in an observe-only run). */
int chase_report_run_svg(FILE *out, const char *title, const chase_run_record_t *r, chase_err_t *err);

/* Writes one CSV row per period of a live run: start,end,phase,ci_g_per_kwh,forecast_g_per_kwh,power_limit_w,
 * decided_power_limit_w,power_w (mean per GPU),energy_j,carbon_g,steps,stale (docs/report.md). */
int chase_report_run_csv(FILE *out, const chase_run_record_t *r, chase_err_t *err);

/* A run report read back from its JSON, owning everything its record points to. */
typedef struct chase_run_report chase_run_report_t;

/* Reads a run report (chase_report_run_json's JSON, docs/run.md), checking every field it keeps: an error names the
 * file and the field ("run.json: periods[3].energy_j: expected a number >= 0 (got a string)"), CHASE_EFORMAT;
 * CHASE_ENOTFOUND or CHASE_EIO when the file cannot be read. total and savings are not read (see the record). */
int chase_report_run_read(const char *path, chase_run_report_t **out, chase_err_t *err);

/* The same from text in memory; name is used in messages. */
int chase_report_run_parse(const char *text, size_t len, const char *name, chase_run_report_t **out,
                           chase_err_t *err);

/* The run as a record (its ledger, profile and GPUs as the report has them), valid until the report is freed. */
const chase_run_record_t *chase_report_run_record(const chase_run_report_t *r);

/* Frees r (NULL is fine). */
void chase_report_run_free(chase_run_report_t *r);

/* The device list as `chase devices --json` writes it: {"devices": [...]}, one object per GPU; errors[i] non-NULL
 * when GPU i failed (then only its index and the error). errors may be NULL. */
int chase_report_devices_json(const chase_gpu_info_t *in, const char *const *errors, int n, char **out,
                              chase_err_t *err);

/* Writes text (and a final newline) to path: "-" is standard output, anything else is replaced atomically, so a
 * failure (a full disk) leaves the old file whole. */
int chase_report_write(const char *path, const char *text, chase_err_t *err);

#ifdef __cplusplus
}
#endif
#endif
