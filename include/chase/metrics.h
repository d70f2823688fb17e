/* Prometheus metrics of a live run, in the text exposition format (0.0.4) that node_exporter's textfile
 * collector reads: the current CI and forecast, the limit of each GPU, energy, carbon, steps and the estimated
 * saving. The file is replaced atomically each period (a temporary file beside it, which does not end in .prom,
 * then a rename), so the collector never reads half of it. docs/run.md lists the metrics. */
#ifndef CHASE_METRICS_H
#define CHASE_METRICS_H

#include "chase/error.h"
#include "chase/report.h"
#include "chase/savings.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chase_metrics {
    const char *run;                  /* the value of every series' `run` label: which run the file is about */
    const chase_run_record_t *record; /* what the run is: policy, signal, GPUs, ledger so far, progress counts */
    const chase_run_status_t *status; /* where it stands: steps, estimated end, the savings so far */
    int running;                      /* 1 while chase controls the job, 0 once it ended */
} chase_metrics_t;

/* The metrics as text (each family with HELP and TYPE, every line ending in a newline); free it with free().
 * Values that are not known (no forecast, no estimate) are left out, never written as NaN. */
int chase_metrics_format(const chase_metrics_t *m, char **out, chase_err_t *err);

/* Formats m and replaces path with it atomically. */
int chase_metrics_write(const char *path, const chase_metrics_t *m, chase_err_t *err);

/* The default `run` label for a metrics file: its base name without ".prom" ("chase-1234" for
 * /var/lib/node_exporter/chase-1234.prom), written to buf. */
const char *chase_metrics_run_label(const char *path, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
