/* Small helpers for the JSON the reports write (private to src/report). */
#ifndef CHASE_REPORT_JSON_H
#define CHASE_REPORT_JSON_H

#include <cjson/cJSON.h>

#include "chase/error.h"
#include "chase/gpu.h"

/* Adds key: v, or key: null when v is not finite (no forecast, a value a GPU cannot read). */
void report_json_number(cJSON *obj, const char *key, double v);

/* Adds key: "PREFIX" + the knob's field name + "SUFFIX" (e.g. "original_" "power_limit_w") with value v. */
void report_json_knob(cJSON *obj, const char *prefix, chase_knob_t knob, double v);

/* Adds index, name, uuid and pci_bus_id of a GPU. */
void report_json_gpu_identity(cJSON *obj, const chase_gpu_info_t *in);

/* Prints root indented, frees it; CHASE_ENOMEM when it cannot. */
int report_json_print(cJSON *root, char **out, chase_err_t *err);

#endif
