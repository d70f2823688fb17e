/* fake_nvml_state: shows (and, for tests, changes) the fake NVML's GPUs in a state file, as JSON.
 *
 *   fake_nvml_state FILE                      print the state
 *   fake_nvml_state FILE --set-limit IDX W    set GPU IDX's limit first, as another tool (nvidia-smi -pl) would
 *
 * Output: {"gpus":[{"index","power_limit_w","default_power_limit_w","min_power_limit_w","max_power_limit_w",
 *          "power_w","energy_j","set_calls","lost"}]}. A missing file is created from the environment (FAKE_NVML_GPUS).
 * energy_j is the raw simulated energy since creation, not the (possibly reset) counter NVML reports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_state.h"

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fprintf(argc < 2 ? stderr : stdout, "usage: fake_nvml_state FILE [--set-limit IDX WATTS]\n");
        return argc < 2 ? 2 : 0;
    }
    int set_idx = -1;
    double set_w = 0;
    if (argc == 5 && !strcmp(argv[2], "--set-limit")) {
        char *e1, *e2;
        set_idx = (int)strtol(argv[3], &e1, 10);
        set_w = strtod(argv[4], &e2);
        if (*e1 || *e2 || set_idx < 0) {
            fprintf(stderr, "fake_nvml_state: --set-limit wants an index and watts\n");
            return 2;
        }
    } else if (argc != 2) {
        fprintf(stderr, "usage: fake_nvml_state FILE [--set-limit IDX WATTS]\n");
        return 2;
    }
    fake_state_handle_t h;
    if (fake_state_open(argv[1], &h) != 0)
        return 1;
    fake_state_lock(&h);
    fake_state_t *s = h.state;
    int64_t now = fake_state_now_ns();
    int rc = 0;
    if (set_idx >= 0) {
        if ((unsigned)set_idx >= s->n_gpus || set_w * 1000 < s->gpu[set_idx].min_mw ||
            set_w * 1000 > s->gpu[set_idx].max_mw) {
            fprintf(stderr, "fake_nvml_state: no GPU %d, or %g W outside its limits\n", set_idx, set_w);
            rc = 2;
        } else {
            fake_state_set_limit(s, set_idx, (uint32_t)(set_w * 1000 + 0.5), now);
        }
    }
    if (rc == 0) {
        printf("{\"gpus\":[");
        for (uint32_t i = 0; i < s->n_gpus; i++) {
            const fake_gpu_state_t *g = &s->gpu[i];
            printf("%s{\"index\":%u,\"power_limit_w\":%.3f,\"default_power_limit_w\":%.3f,\"min_power_limit_w\":%.3f,"
                   "\"max_power_limit_w\":%.3f,\"power_w\":%.3f,\"energy_j\":%.3f,\"set_calls\":%u,\"lost\":%s}",
                   i ? "," : "", i, g->limit_mw / 1000.0, g->default_mw / 1000.0, g->min_mw / 1000.0,
                   g->max_mw / 1000.0, fake_state_power_mw(s, (int)i) / 1000.0,
                   fake_state_energy_mj(s, (int)i, now) / 1000.0, g->set_calls,
                   (g->flags & FAKE_GPU_LOST) ? "true" : "false");
        }
        printf("]}\n");
    }
    fake_state_unlock(&h);
    fake_state_close(&h);
    return rc;
}
