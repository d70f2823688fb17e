/* Reports of finished runs: per-period timeline CSV and an SVG chart of CI and power limits. */
#ifndef CHASE_REPORT_H
#define CHASE_REPORT_H

#include <stdio.h>

#include "chase/error.h"
#include "chase/ledger.h"
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

#ifdef __cplusplus
}
#endif
#endif
