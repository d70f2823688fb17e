/* JSON helpers shared by the report writers. */
#include "report/json.h"

#include <math.h>
#include <stdio.h>

void report_json_number(cJSON *obj, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(obj, key, v);
    else
        cJSON_AddNullToObject(obj, key);
}

void report_json_knob(cJSON *obj, const char *prefix, chase_knob_t knob, double v)
{
    char key[96];
    snprintf(key, sizeof key, "%s%s", prefix, chase_knob_key(knob));
    report_json_number(obj, key, v);
}

void report_json_gpu_identity(cJSON *obj, const chase_gpu_info_t *in)
{
    cJSON_AddNumberToObject(obj, "index", in->index);
    cJSON_AddStringToObject(obj, "name", in->name);
    cJSON_AddStringToObject(obj, "uuid", in->uuid);
    cJSON_AddStringToObject(obj, "pci_bus_id", in->pci_bus_id);
}

int report_json_print(cJSON *root, char **out, chase_err_t *err)
{
    *out = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return *out ? CHASE_OK : chase_err_set(err, CHASE_ENOMEM, "out of memory writing JSON");
}
