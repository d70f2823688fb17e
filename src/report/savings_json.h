/* The "savings" object of the run report (private to src/report). */
#ifndef CHASE_REPORT_SAVINGS_JSON_H
#define CHASE_REPORT_SAVINGS_JSON_H

#include <cjson/cJSON.h>

#include "chase/report.h"

/* Adds "savings": the estimate of chase_savings_of_run for r, with null figures and a reason when there is none
 * (fields: docs/run.md). */
void report_json_savings(cJSON *root, const chase_run_record_t *r);

#endif
