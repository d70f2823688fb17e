/* `chase devices`: the GPUs NVML sees, with the power limits chase would move and the energy counters it reads. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/nvml.h"
#include "cli/cli_util.h"
#include "cli/commands.h"

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: chase devices [--json FILE]\n"
        "\n"
        "Lists the NVIDIA GPUs that NVML sees: index, name, UUID, PCI bus id, the current, default, minimum and\n"
        "maximum power limit, the power drawn now, and the cumulative energy counter. It only reads: no setting\n"
        "is changed, so it is safe on any machine and needs no special rights.\n"
        "\n"
        "Options:\n"
        "  --json FILE   write JSON to FILE ('-' for standard output) instead of the table:\n"
        "                {\"devices\":[{\"index\",\"name\",\"uuid\",\"pci_bus_id\",\"power_limit_w\",\n"
        "                 \"default_power_limit_w\",\"min_power_limit_w\",\"max_power_limit_w\",\"power_w\",\n"
        "                 \"energy_j\"}]}; a value the GPU does not report is null, a GPU that failed has \"error\".\n"
        "  -h, --help    show this help\n"
        "\n"
        "Environment:\n"
        "  CHASE_NVML_LIBRARY   NVML library to load (default libnvidia-ml.so.1, from the NVIDIA driver)\n"
        "\n"
        "Examples:\n"
        "  chase devices                       # a table for people\n"
        "  chase devices --json - | jq '.devices[].power_limit_w'\n"
        "  CHASE_NVML_LIBRARY=build/tests/nvml/libnvidia-ml-fake.so chase devices   # try it without a GPU\n"
        "\n"
        "Exit status: 0 when every GPU could be read, 1 when NVML is missing or a GPU failed, 2 for bad options.\n");
}

static cJSON *device_json(const chase_gpu_info_t *in, const char *error)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", in->index);
    if (error) {
        cJSON_AddStringToObject(o, "error", error);
        return o;
    }
    cJSON_AddStringToObject(o, "name", in->name);
    cJSON_AddStringToObject(o, "uuid", in->uuid);
    cJSON_AddStringToObject(o, "pci_bus_id", in->pci_bus_id);
    cli_json_number(o, "power_limit_w", in->pl_w);
    cli_json_number(o, "default_power_limit_w", in->default_pl_w);
    cli_json_number(o, "min_power_limit_w", in->min_pl_w);
    cli_json_number(o, "max_power_limit_w", in->max_pl_w);
    cli_json_number(o, "power_w", in->power_w);
    cli_json_number(o, "energy_j", in->energy_j);
    return o;
}

/* A number for the table: one decimal, or "-" when the GPU does not report it. */
static const char *cell(char *buf, size_t size, double v, int decimals)
{
    if (isfinite(v))
        snprintf(buf, size, "%.*f", decimals, v);
    else
        snprintf(buf, size, "-");
    return buf;
}

static void print_row(FILE *out, const chase_gpu_info_t *in)
{
    char a[32], b[32], c[32], d[32], e[32], f[32];
    fprintf(out, "%3d  %-22s %-40s %-16s %7s %7s %7s %7s %8s %14s\n", in->index, in->name[0] ? in->name : "-",
            in->uuid[0] ? in->uuid : "-", in->pci_bus_id[0] ? in->pci_bus_id : "-", cell(a, sizeof a, in->pl_w, 1),
            cell(b, sizeof b, in->default_pl_w, 1), cell(c, sizeof c, in->min_pl_w, 1),
            cell(d, sizeof d, in->max_pl_w, 1), cell(e, sizeof e, in->power_w, 1), cell(f, sizeof f, in->energy_j, 1));
}

int chase_cmd_devices(int argc, char **argv)
{
    const char *json_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "chase devices: --json needs a file name ('-' for standard output)\n");
                return 2;
            }
            json_path = argv[++i];
        } else if (!strncmp(argv[i], "--json=", 7)) {
            json_path = argv[i] + 7;
        } else {
            fprintf(stderr, "chase devices: unknown argument '%s'; see 'chase devices --help'\n", argv[i]);
            return 2;
        }
    }
    if (json_path && !*json_path) {
        fprintf(stderr, "chase devices: --json needs a file name ('-' for standard output)\n");
        return 2;
    }

    chase_err_t err;
    chase_err_clear(&err);
    chase_gpu_t *gpu = NULL;
    int rc = chase_gpu_nvml_open(&gpu, &err);
    if (rc != CHASE_OK) {
        fprintf(stderr, "chase devices: %s\n", err.msg);
        if (rc == CHASE_ENOTFOUND)
            fprintf(stderr, "hint: on a machine without an NVIDIA GPU, try chase with the fake NVML the tests build: "
                            "CHASE_NVML_LIBRARY=build/tests/nvml/libnvidia-ml-fake.so chase devices\n");
        return 1; /* not the user's input at fault: no 2 */
    }
    int n = 0;
    rc = gpu->ops->count(gpu->self, &n, &err);
    if (rc != CHASE_OK) {
        fprintf(stderr, "chase devices: %s\n", err.msg);
        chase_gpu_free(gpu);
        return 1;
    }

    int failed = 0;
    cJSON *root = json_path ? cJSON_CreateObject() : NULL;
    cJSON *list = root ? cJSON_AddArrayToObject(root, "devices") : NULL;
    if (!json_path) {
        if (n == 0)
            printf("NVML sees no GPU.\n");
        else
            printf("%3s  %-22s %-40s %-16s %7s %7s %7s %7s %8s %14s\n", "GPU", "NAME", "UUID", "PCI BUS ID", "PL W",
                   "DEF W", "MIN W", "MAX W", "POWER W", "ENERGY J");
    }
    for (int i = 0; i < n; i++) {
        chase_gpu_info_t in;
        chase_err_clear(&err);
        rc = gpu->ops->info(gpu->self, i, &in, &err);
        if (rc != CHASE_OK) {
            failed = 1;
            fprintf(stderr, "chase devices: %s\n", err.msg);
        }
        if (list)
            cJSON_AddItemToArray(list, device_json(&in, rc == CHASE_OK ? NULL : err.msg));
        else if (rc == CHASE_OK)
            print_row(stdout, &in);
        else
            printf("%3d  (failed: %s)\n", i, chase_strerror(rc));
    }
    chase_gpu_free(gpu);

    if (root && cli_write_json("chase devices", json_path, root))
        return 1;
    return failed ? 1 : 0;
}
