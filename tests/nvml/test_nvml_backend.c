/* chase's real NVML backend (dlopen, symbol lookup, units, error mapping, energy bookkeeping) against the fake NVML. */
#include <cjson/cJSON.h>

#include "chase/nvml.h"
#include "check.h"
#include "nvml_test_util.h"

static int set_pl(chase_gpu_t *g, int idx, double w, chase_err_t *err)
{
    chase_setting_t s = {CHASE_KNOB_POWER_LIMIT, w};
    return chase_gpu_set_setting(g, idx, &s, err);
}

static chase_gpu_t *open_ok(void)
{
    chase_gpu_t *g = NULL;
    chase_err_t err;
    chase_err_clear(&err);
    int rc = chase_gpu_nvml_open(&g, &err);
    CHECK(rc == CHASE_OK);
    if (rc != CHASE_OK)
        fprintf(stderr, "  open: %s\n", err.msg);
    return g;
}

/* The fake's state as its tool prints it, parsed; NULL on failure. */
static cJSON *fake_state_json(const char *state, const char *extra)
{
    char cmd[4096], out[8192];
    snprintf(cmd, sizeof cmd, "'%s' '%s' %s", getenv("FAKE_NVML_STATE_TOOL"), state, extra ? extra : "");
    if (nvml_test_run(cmd, out, sizeof out) != 0)
        return NULL;
    return cJSON_Parse(out);
}

static double state_number(cJSON *root, int gpu, const char *key)
{
    cJSON *g = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "gpus"), gpu);
    cJSON *v = cJSON_GetObjectItem(g, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void test_count_and_info(void)
{
    nvml_test_fresh("info", 3);
    chase_gpu_t *g = open_ok();
    if (!g)
        return;
    CHECK_STR(g->ops->name, "nvml");
    chase_err_t err;
    int n = -1;
    CHECK(chase_gpu_count(g, &n, &err) == CHASE_OK);
    CHECK(n == 3);
    chase_gpu_info_t in;
    CHECK(chase_gpu_info(g, 2, &in, &err) == CHASE_OK);
    CHECK(in.index == 2);
    CHECK_STR(in.name, "NVIDIA A40");
    CHECK_STR(in.uuid, "GPU-fa4e0000-0000-4000-8000-000000000002");
    CHECK_STR(in.pci_bus_id, "00000000:43:00.0"); /* from the v3 struct's 32-byte busId, not the legacy one */
    CHECK(in.minor == 0);                          /* the fake's default: device files numbered backwards */
    CHECK_NEAR(in.pl_w, 300, 1e-9);
    CHECK_NEAR(in.default_pl_w, 300, 1e-9);
    CHECK_NEAR(in.min_pl_w, 100, 1e-9);
    CHECK_NEAR(in.max_pl_w, 300, 1e-9);
    CHECK_NEAR(in.power_w, 235, 1e-9); /* limit 300 W does not bind: the fake's A40 draws 235 W */
    CHECK(in.energy_j >= 0 && in.energy_j < 235 * 60);
    CHECK(chase_gpu_info(g, 3, &in, &err) == CHASE_ENOTFOUND);
    CHECK(strstr(err.msg, "no GPU 3") != NULL);
    CHECK(chase_gpu_info(g, -1, &in, &err) == CHASE_ENOTFOUND);
    chase_gpu_free(g);
}

/* A limit set by chase is what another process sees, and a limit set by another process is what chase reads. */
static void test_limit_round_trip_across_processes(void)
{
    const char *state = nvml_test_fresh("roundtrip", 2);
    chase_gpu_t *g = open_ok();
    if (!g)
        return;
    chase_err_t err;
    CHECK(set_pl(g, 1, 150.0, &err) == CHASE_OK);
    chase_gpu_info_t in;
    CHECK(chase_gpu_info(g, 1, &in, &err) == CHASE_OK);
    CHECK_NEAR(in.pl_w, 150, 1e-9);
    CHECK_NEAR(in.power_w, 150, 1e-9); /* now the limit binds */

    cJSON *s = fake_state_json(state, NULL);
    CHECK(s != NULL);
    CHECK_NEAR(state_number(s, 1, "power_limit_w"), 150, 1e-9);
    CHECK_NEAR(state_number(s, 1, "set_calls"), 1, 0);
    CHECK_NEAR(state_number(s, 0, "power_limit_w"), 300, 1e-9);
    CHECK_NEAR(state_number(s, 0, "set_calls"), 0, 0);
    cJSON_Delete(s);

    s = fake_state_json(state, "--set-limit 0 212.5");
    CHECK(s != NULL);
    cJSON_Delete(s);
    CHECK(chase_gpu_info(g, 0, &in, &err) == CHASE_OK);
    CHECK_NEAR(in.pl_w, 212.5, 1e-9);

    /* Watts are rounded to NVML's milliwatts. */
    CHECK(set_pl(g, 0, 187.0004, &err) == CHASE_OK);
    CHECK(chase_gpu_info(g, 0, &in, &err) == CHASE_OK);
    CHECK_NEAR(in.pl_w, 187.0, 1e-9);

    /* Out of the GPU's range: refused by chase with the range, and nothing changes. */
    CHECK(set_pl(g, 1, 350.0, &err) == CHASE_ERANGE);
    CHECK(strstr(err.msg, "100..300") != NULL);
    CHECK(set_pl(g, 1, 99.0, &err) == CHASE_ERANGE);
    CHECK(set_pl(g, 1, NAN, &err) == CHASE_EINVAL);
    CHECK(set_pl(g, 2, 200.0, &err) == CHASE_ENOTFOUND);
    CHECK(chase_gpu_info(g, 1, &in, &err) == CHASE_OK);
    CHECK_NEAR(in.pl_w, 150, 1e-9);
    chase_gpu_free(g);

    /* A new session (as a later chase process) starts from what the file holds. */
    g = open_ok();
    if (!g)
        return;
    CHECK(chase_gpu_info(g, 1, &in, &err) == CHASE_OK);
    CHECK_NEAR(in.pl_w, 150, 1e-9);
    chase_gpu_free(g);
}

static void test_no_permission(void)
{
    const char *state = nvml_test_fresh("noperm", 2);
    setenv("FAKE_NVML_NO_PERMISSION", "1", 1);
    chase_gpu_t *g = open_ok();
    if (!g)
        return;
    chase_err_t err;
    chase_err_clear(&err);
    CHECK(set_pl(g, 0, 200.0, &err) == CHASE_EPERM);
    CHECK(err.code == CHASE_EPERM);
    CHECK(strstr(err.msg, "GPU 0") != NULL);
    CHECK(strstr(err.msg, "root") != NULL);
    /* Reading still works: observe-only is possible. */
    chase_gpu_info_t in;
    CHECK(chase_gpu_info(g, 0, &in, &err) == CHASE_OK);
    CHECK_NEAR(in.pl_w, 300, 1e-9);
    chase_gpu_free(g);
    cJSON *s = fake_state_json(state, NULL);
    CHECK_NEAR(state_number(s, 0, "set_calls"), 0, 0);
    cJSON_Delete(s);
}

static void test_missing_library(void)
{
    nvml_test_fresh("missing", 2);
    setenv("CHASE_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
    chase_gpu_t *g = (chase_gpu_t *)&g; /* must be reset to NULL */
    chase_err_t err;
    chase_err_clear(&err);
    CHECK(chase_gpu_nvml_open(&g, &err) == CHASE_ENOTFOUND);
    CHECK(g == NULL);
    CHECK(strstr(err.msg, "/nonexistent/libnvidia-ml.so.1") != NULL);
    CHECK(strstr(err.msg, "CHASE_NVML_LIBRARY") != NULL);

    /* Empty means unset: the driver's library, which this machine may or may not have. */
    setenv("CHASE_NVML_LIBRARY", "", 1);
    int rc = chase_gpu_nvml_open(&g, &err);
    if (rc == CHASE_OK) {
        chase_gpu_free(g);
    } else {
        CHECK(rc == CHASE_ENOTFOUND || rc == CHASE_EGPU);
        if (rc == CHASE_ENOTFOUND)
            CHECK(strstr(err.msg, "libnvidia-ml.so.1") != NULL && strstr(err.msg, "install the NVIDIA driver"));
    }

    /* A library that loads but is not NVML. */
    setenv("CHASE_NVML_LIBRARY", "libm.so.6", 1);
    CHECK(chase_gpu_nvml_open(&g, &err) == CHASE_ENOTFOUND);
    CHECK(strstr(err.msg, "not a usable NVML") != NULL);
    CHECK(strstr(err.msg, "nvmlInit_v2") != NULL);
}

static void test_driver_not_loaded(void)
{
    nvml_test_fresh("nodriver", 2);
    setenv("FAKE_NVML_DRIVER_NOT_LOADED", "1", 1);
    chase_gpu_t *g = NULL;
    chase_err_t err;
    chase_err_clear(&err);
    CHECK(chase_gpu_nvml_open(&g, &err) == CHASE_EGPU);
    CHECK(g == NULL);
    CHECK(strstr(err.msg, "Driver Not Loaded") != NULL);
    CHECK(strstr(err.msg, "nvidia-smi") != NULL);
}

static void test_gpu_lost_mid_run(void)
{
    const char *state = nvml_test_fresh("lost", 2);
    setenv("FAKE_NVML_LOSE_GPU", "1,12", 1);
    chase_gpu_t *g = open_ok();
    if (!g)
        return;
    chase_err_t err;
    double j, last = -1;
    int ok = 0, rc = CHASE_OK;
    for (int i = 0; i < 50 && rc == CHASE_OK; i++) {
        rc = chase_gpu_energy(g, 1, &j, &err);
        if (rc == CHASE_OK) {
            ok++;
            CHECK(j >= last);
            last = j;
        }
    }
    CHECK(ok > 0 && ok < 50); /* worked, then stopped */
    CHECK(rc == CHASE_EGPU);
    CHECK(strstr(err.msg, "GPU 1 (NVIDIA A40, 00000000:42:00.0)") != NULL);
    CHECK(strstr(err.msg, "lost") != NULL);
    /* It stays lost, for every operation; the other GPU goes on. */
    chase_gpu_info_t in;
    CHECK(set_pl(g, 1, 200, &err) == CHASE_EGPU);
    CHECK(chase_gpu_info(g, 1, &in, &err) == CHASE_EGPU);
    CHECK(chase_gpu_info(g, 0, &in, &err) == CHASE_OK);
    CHECK(set_pl(g, 0, 200, &err) == CHASE_OK);
    chase_gpu_free(g);
    cJSON *s = fake_state_json(state, NULL);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(s, "gpus"), 1), "lost")));
    cJSON_Delete(s);

    /* Lost before chase starts: open still works (indices stay nvidia-smi's), that GPU reports the loss. */
    nvml_test_fresh("lost0", 2);
    setenv("FAKE_NVML_LOSE_GPU", "0", 1);
    g = open_ok();
    if (!g)
        return;
    int n = 0;
    CHECK(chase_gpu_count(g, &n, &err) == CHASE_OK && n == 2);
    CHECK(chase_gpu_info(g, 0, &in, &err) == CHASE_EGPU);
    CHECK(strstr(err.msg, "GPU 0") != NULL);
    CHECK(chase_gpu_info(g, 1, &in, &err) == CHASE_OK);
    chase_gpu_free(g);
}

/* Energy follows the limit: the counter grows at the power the fake's GPU draws under that limit. */
static void test_energy_follows_limit(void)
{
    nvml_test_fresh("energy", 1);
    chase_gpu_t *g = open_ok();
    if (!g)
        return;
    chase_err_t err;
    double watts[] = {235, 150}; /* draw at limit 300 W (does not bind), then at limit 150 W */
    for (int k = 0; k < 2; k++) {
        if (k == 1)
            CHECK(set_pl(g, 0, 150, &err) == CHASE_OK);
        double e0, e1;
        double t0 = nvml_test_now();
        CHECK(chase_gpu_energy(g, 0, &e0, &err) == CHASE_OK);
        double t1 = nvml_test_now();
        nvml_test_sleep(0.15);
        double t2 = nvml_test_now();
        CHECK(chase_gpu_energy(g, 0, &e1, &err) == CHASE_OK);
        double t3 = nvml_test_now();
        /* The reads happened inside [t0, t1] and [t2, t3]; the counter is in whole mJ. */
        CHECK(e1 - e0 >= watts[k] * (t2 - t1) - 0.002);
        CHECK(e1 - e0 <= watts[k] * (t3 - t0) + 0.002);
    }
    chase_gpu_free(g);
}

/* The driver's counter restarts from 0: chase's counter carries on from where it was. */
static void test_energy_counter_reset(void)
{
    nvml_test_fresh("reset", 1);
    setenv("FAKE_NVML_RESET_ENERGY_AT", "4", 1);
    chase_gpu_t *g = open_ok();
    if (!g)
        return;
    chase_err_t err;
    double first = 0, last = -1, j;
    double t_first = 0, t_last = 0, longest_gap = 0, t_prev = 0;
    nvml_test_sleep(0.2); /* let the counter build up so a reset is a visible drop */
    for (int i = 0; i < 8; i++) {
        double t = nvml_test_now();
        CHECK(chase_gpu_energy(g, 0, &j, &err) == CHASE_OK);
        if (i == 0) {
            first = j;
            t_first = t;
        } else if (t - t_prev > longest_gap) {
            longest_gap = t - t_prev;
        }
        CHECK(j >= last);
        last = j;
        t_prev = t_last = nvml_test_now();
        nvml_test_sleep(0.03);
    }
    /* Only what was drawn between the last read before the reset and the reset itself is lost. */
    double span = t_last - t_first;
    CHECK(last - first <= 235 * span + 0.01);
    CHECK(last - first >= 235 * (span - longest_gap - 0.01) - 0.01);
    CHECK(first > 235 * 0.15); /* the counter really had grown, so a reset without the offset would show */
    chase_gpu_free(g);
}

/* No energy counter (pre-Volta): chase integrates power samples instead. */
static void test_energy_not_supported(void)
{
    nvml_test_fresh("noenergy", 1);
    setenv("FAKE_NVML_NO_ENERGY", "1", 1);
    chase_gpu_t *g = open_ok();
    if (!g)
        return;
    chase_err_t err;
    double e0, e1;
    double t0 = nvml_test_now();
    CHECK(chase_gpu_energy(g, 0, &e0, &err) == CHASE_OK);
    double t1 = nvml_test_now();
    nvml_test_sleep(0.15);
    double t2 = nvml_test_now();
    CHECK(chase_gpu_energy(g, 0, &e1, &err) == CHASE_OK);
    double t3 = nvml_test_now();
    CHECK(e0 >= 0);
    CHECK(e1 - e0 >= 235 * (t2 - t1) - 1e-6);
    CHECK(e1 - e0 <= 235 * (t3 - t0) + 1e-6);
    /* A limit change splits the integration: 235 W up to the change, the new 150 W after it, not a blend of both
     * over the whole interval (which would be off by (235 - 150) / 2 W times the interval). */
    double a0 = nvml_test_now();
    CHECK(chase_gpu_energy(g, 0, &e0, &err) == CHASE_OK);
    double a1 = nvml_test_now();
    nvml_test_sleep(0.03);
    double s0 = nvml_test_now();
    CHECK(set_pl(g, 0, 150, &err) == CHASE_OK);
    double s1 = nvml_test_now();
    nvml_test_sleep(0.2);
    double b0 = nvml_test_now();
    CHECK(chase_gpu_energy(g, 0, &e1, &err) == CHASE_OK);
    double b1 = nvml_test_now();
    CHECK(e1 - e0 >= 235 * (s0 - a1) + 150 * (b0 - s1) - 1e-6);
    CHECK(e1 - e0 <= 235 * (s1 - a0) + 150 * (b1 - s0) + 1e-6);
    /* info reports the same integrated counter. */
    chase_gpu_info_t in;
    CHECK(chase_gpu_info(g, 0, &in, &err) == CHASE_OK);
    CHECK(in.energy_j >= e1);
    chase_gpu_free(g);
}

/* A power curve (as from a measured profile) replaces the min(limit, cap) model, linear between its points. */
static void test_power_curve(void)
{
    const char *state = nvml_test_fresh("curve", 1);
    setenv("FAKE_NVML_POWER_CURVE", "100:90,200:170,300:235", 1);
    chase_gpu_t *g = open_ok();
    if (!g)
        return;
    chase_err_t err;
    chase_gpu_info_t in;
    double limits[] = {300, 250, 150, 100}, draws[] = {235, 202.5, 130, 90};
    for (int k = 0; k < 4; k++) {
        CHECK(set_pl(g, 0, limits[k], &err) == CHASE_OK);
        CHECK(chase_gpu_info(g, 0, &in, &err) == CHASE_OK);
        CHECK_NEAR(in.power_w, draws[k], 1e-3);
    }
    chase_gpu_free(g);
    cJSON *s = fake_state_json(state, NULL);
    CHECK_NEAR(state_number(s, 0, "power_w"), 90, 1e-3);
    cJSON_Delete(s);
}

/* Device minor numbers are NVML's, not the indices: a scheduler names GPUs by their device files (/dev/nvidiaN). */
static void test_minor_numbers(void)
{
    nvml_test_fresh("minors", 3);
    setenv("FAKE_NVML_MINORS", "2,0,1", 1);
    chase_gpu_t *g = open_ok();
    unsetenv("FAKE_NVML_MINORS");
    if (!g)
        return;
    chase_err_t err;
    chase_gpu_info_t in;
    int want[] = {2, 0, 1};
    for (int i = 0; i < 3; i++) {
        CHECK(chase_gpu_info(g, i, &in, &err) == CHASE_OK);
        CHECK(in.minor == want[i]);
    }
    chase_gpu_free(g);
}

/* An old driver: unversioned entry points only, the v1 PCI struct, and no energy counter at all. */
static void test_old_driver(void)
{
    nvml_test_fresh("v1", 2);
    const char *v1 = getenv("CHASE_NVML_FAKE_V1");
    CHECK(v1 != NULL);
    if (!v1)
        return;
    setenv("CHASE_NVML_LIBRARY", v1, 1);
    chase_gpu_t *g = open_ok();
    if (!g)
        return;
    chase_err_t err;
    chase_gpu_info_t in;
    CHECK(chase_gpu_info(g, 1, &in, &err) == CHASE_OK);
    CHECK_STR(in.name, "Tesla P100-PCIE-16GB");
    CHECK_STR(in.pci_bus_id, "0000:42:00.0");
    CHECK_NEAR(in.pl_w, 300, 1e-9);
    double e0, e1;
    CHECK(chase_gpu_energy(g, 1, &e0, &err) == CHASE_OK);
    nvml_test_sleep(0.05);
    CHECK(chase_gpu_energy(g, 1, &e1, &err) == CHASE_OK);
    CHECK(e1 - e0 >= 235 * 0.05 - 1e-6);
    CHECK(set_pl(g, 1, 120, &err) == CHASE_OK);
    CHECK(chase_gpu_info(g, 1, &in, &err) == CHASE_OK);
    CHECK_NEAR(in.pl_w, 120, 1e-9);
    chase_gpu_free(g);
}

int main(void)
{
    int skip = nvml_test_setup();
    if (skip)
        return skip;
    RUN(test_count_and_info);
    RUN(test_limit_round_trip_across_processes);
    RUN(test_no_permission);
    RUN(test_missing_library);
    RUN(test_driver_not_loaded);
    RUN(test_gpu_lost_mid_run);
    RUN(test_energy_follows_limit);
    RUN(test_energy_counter_reset);
    RUN(test_energy_not_supported);
    RUN(test_power_curve);
    RUN(test_old_driver);
    RUN(test_minor_numbers);
    CHECK_DONE();
}
