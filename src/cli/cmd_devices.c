/* `chase devices`: the GPUs NVML sees, with the power limits chase would move and the energy counters it reads. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/gpu.h"
#include "chase/report.h"
#include "cli/cli_util.h"
#include "cli/commands.h"

#define PROG "chase devices"

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
    static const struct option longopts[] = {{"json", required_argument, 0, 'j'}, {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    const char *json_path = NULL;
    int c;
    optind = 0;
    while ((c = cli_getopt(PROG, argc, argv, "h", longopts)) != -1) {
        switch (c) {
        case 'j': json_path = optarg; break;
        case 'h': usage(stdout); return 0;
        default: return 2;
        }
    }
    if (optind < argc)
        return cli_bad(PROG, "unexpected argument '%s' (see chase devices --help)", argv[optind]);
    if (json_path && !*json_path)
        return cli_bad(PROG, "--json needs a file name ('-' for standard output)");

    chase_err_t err;
    chase_err_clear(&err);
    chase_gpu_t *gpu = NULL;
    int rc = chase_gpu_open(NULL, &gpu, &err);
    if (rc != CHASE_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        if (rc == CHASE_ENOTFOUND)
            fprintf(stderr, "hint: on a machine without an NVIDIA GPU, try chase with the fake NVML the tests build: "
                            "CHASE_NVML_LIBRARY=build/tests/nvml/libnvidia-ml-fake.so chase devices\n");
        return 1; /* not the user's input at fault: no 2 */
    }
    int n = 0;
    if ((rc = chase_gpu_count(gpu, &n, &err)) != CHASE_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        chase_gpu_free(gpu);
        return 1;
    }
    chase_gpu_info_t *info = calloc(n > 0 ? (size_t)n : 1, sizeof *info);
    char(*msgs)[sizeof err.msg] = calloc(n > 0 ? (size_t)n : 1, sizeof *msgs);
    const char **errors = calloc(n > 0 ? (size_t)n : 1, sizeof *errors);
    if (!info || !msgs || !errors) {
        free(info);
        free(msgs);
        free(errors);
        chase_gpu_free(gpu);
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    int failed = 0;
    for (int i = 0; i < n; i++) {
        chase_err_clear(&err);
        if ((rc = chase_gpu_info(gpu, i, &info[i], &err)) != CHASE_OK) {
            failed = 1;
            info[i].index = i;
            snprintf(msgs[i], sizeof msgs[i], "%s", err.msg[0] ? err.msg : chase_strerror(rc));
            errors[i] = msgs[i];
            fprintf(stderr, PROG ": %s\n", msgs[i]);
        }
    }
    chase_gpu_free(gpu);
    int status = failed ? 1 : 0;
    if (json_path) {
        char *text = NULL;
        if (chase_report_devices_json(info, errors, n, &text, &err) != CHASE_OK ||
            chase_report_write(json_path, text, &err) != CHASE_OK) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            status = 1;
        }
        free(text);
    } else if (n == 0) {
        printf("NVML sees no GPU.\n");
    } else {
        printf("%3s  %-22s %-40s %-16s %7s %7s %7s %7s %8s %14s\n", "GPU", "NAME", "UUID", "PCI BUS ID", "PL W",
               "DEF W", "MIN W", "MAX W", "POWER W", "ENERGY J");
        for (int i = 0; i < n; i++)
            if (errors[i])
                printf("%3d  (failed: %s)\n", i, errors[i]);
            else
                print_row(stdout, &info[i]);
    }
    free(info);
    free(msgs);
    free(errors);
    return status;
}
