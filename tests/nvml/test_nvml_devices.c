/* `chase devices` as users run it: the chase binary against the fake NVML, output parsed as JSON. */
#include <cjson/cJSON.h>

#include "check.h"
#include "nvml_test_util.h"

static char out[65536];

/* Runs `chase ARGS` (stderr to errfile when given); returns its exit status. */
static int chase(const char *args, const char *errfile)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>'%s'", getenv("CHASE_BIN"), args, errfile ? errfile : "/dev/null");
    return nvml_test_run(cmd, out, sizeof out);
}

static void read_text(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static cJSON *device(cJSON *root, int i)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(root, "devices"), i);
}

static double num(cJSON *o, const char *key)
{
    cJSON *v = cJSON_GetObjectItem(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(cJSON *o, const char *key)
{
    cJSON *v = cJSON_GetObjectItem(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_json(void)
{
    const char *state = nvml_test_fresh("devjson", 2);
    /* Another process (as `nvidia-smi -pl` would) sets GPU 1 to 200 W first. */
    char cmd[2048], tool_out[4096];
    snprintf(cmd, sizeof cmd, "'%s' '%s' --set-limit 1 200", getenv("FAKE_NVML_STATE_TOOL"), state);
    CHECK(nvml_test_run(cmd, tool_out, sizeof tool_out) == 0);

    CHECK(chase("devices --json -", NULL) == 0);
    cJSON *root = cJSON_Parse(out);
    CHECK(root != NULL);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(root, "devices")) == 2);
    for (int i = 0; i < 2; i++) {
        cJSON *d = device(root, i);
        CHECK_NEAR(num(d, "index"), i, 0);
        CHECK_STR(str(d, "name"), "NVIDIA A40");
        CHECK(str(d, "uuid") && !strncmp(str(d, "uuid"), "GPU-", 4));
        CHECK_STR(str(d, "pci_bus_id"), i == 0 ? "00000000:41:00.0" : "00000000:42:00.0");
        CHECK_NEAR(num(d, "power_limit_w"), i == 0 ? 300 : 200, 1e-9);
        CHECK_NEAR(num(d, "default_power_limit_w"), 300, 1e-9);
        CHECK_NEAR(num(d, "min_power_limit_w"), 100, 1e-9);
        CHECK_NEAR(num(d, "max_power_limit_w"), 300, 1e-9);
        CHECK_NEAR(num(d, "power_w"), i == 0 ? 235 : 200, 1e-9);
        CHECK(num(d, "energy_j") >= 0);
        CHECK(cJSON_GetObjectItem(d, "error") == NULL);
    }
    CHECK(strcmp(str(device(root, 0), "uuid"), str(device(root, 1), "uuid")) != 0);
    cJSON_Delete(root);

    /* Energy counters from NVML: read twice, they grow with time at the GPU's draw. */
    CHECK(chase("devices --json -", NULL) == 0);
    root = cJSON_Parse(out);
    double e0 = num(device(root, 0), "energy_j");
    cJSON_Delete(root);
    nvml_test_sleep(0.1);
    CHECK(chase("devices --json -", NULL) == 0);
    root = cJSON_Parse(out);
    CHECK(num(device(root, 0), "energy_j") - e0 >= 235 * 0.1 - 0.01);
    cJSON_Delete(root);

    /* --json FILE writes the same document to a file. */
    char path[1100];
    snprintf(path, sizeof path, "%s.json", state);
    snprintf(cmd, sizeof cmd, "devices --json '%s'", path);
    CHECK(chase(cmd, NULL) == 0);
    CHECK(out[0] == '\0');
    char text[8192];
    read_text(path, text, sizeof text);
    root = cJSON_Parse(text);
    CHECK_NEAR(num(device(root, 1), "power_limit_w"), 200, 1e-9);
    cJSON_Delete(root);
    unlink(path);
}

static void test_table(void)
{
    nvml_test_fresh("devtable", 3);
    CHECK(chase("devices", NULL) == 0);
    CHECK(strstr(out, "NAME") != NULL && strstr(out, "ENERGY J") != NULL);
    CHECK(strstr(out, "00000000:43:00.0") != NULL); /* three GPUs */
    CHECK(strstr(out, "GPU-fa4e0000-0000-4000-8000-000000000002") != NULL);
    CHECK(strstr(out, "300.0") != NULL);
}

static void test_no_gpu(void)
{
    nvml_test_fresh("devnone", 0);
    CHECK(chase("devices", NULL) == 0);
    CHECK(strstr(out, "NVML sees no GPU") != NULL);
    CHECK(chase("devices --json -", NULL) == 0);
    cJSON *root = cJSON_Parse(out);
    CHECK(cJSON_IsArray(cJSON_GetObjectItem(root, "devices")));
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(root, "devices")) == 0);
    cJSON_Delete(root);
}

static void test_errors(void)
{
    char errfile[1100], err[4096];
    const char *state = nvml_test_fresh("deverr", 2);
    snprintf(errfile, sizeof errfile, "%s.err", state);

    setenv("CHASE_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
    CHECK(chase("devices --json -", errfile) == 1);
    read_text(errfile, err, sizeof err);
    CHECK(strstr(err, "CHASE_NVML_LIBRARY") != NULL);
    CHECK(strstr(err, "hint:") != NULL);
    CHECK(out[0] == '\0'); /* no half document on stdout */

    nvml_test_fresh("deverr", 2);
    setenv("FAKE_NVML_DRIVER_NOT_LOADED", "1", 1);
    CHECK(chase("devices", errfile) == 1);
    read_text(errfile, err, sizeof err);
    CHECK(strstr(err, "driver") != NULL);

    /* One GPU lost: the others are still listed, the lost one carries an error, the exit status says so. */
    nvml_test_fresh("deverr", 2);
    setenv("FAKE_NVML_LOSE_GPU", "1", 1);
    CHECK(chase("devices --json -", errfile) == 1);
    cJSON *root = cJSON_Parse(out);
    CHECK(root != NULL);
    CHECK_STR(str(device(root, 0), "name"), "NVIDIA A40");
    CHECK(str(device(root, 1), "error") && strstr(str(device(root, 1), "error"), "GPU 1") != NULL);
    cJSON_Delete(root);

    nvml_test_fresh("deverr", 2);
    CHECK(chase("devices --bogus", errfile) == 2);
    read_text(errfile, err, sizeof err);
    CHECK(strstr(err, "--bogus") != NULL);
    CHECK(chase("devices --json", errfile) == 2);
    CHECK(chase("devices --help", NULL) == 0);
    CHECK(strstr(out, "Usage: chase devices") != NULL && strstr(out, "Examples:") != NULL);
    unlink(errfile);
}

int main(void)
{
    int skip = nvml_test_setup();
    if (skip)
        return skip;
    RUN(test_json);
    RUN(test_table);
    RUN(test_no_gpu);
    RUN(test_errors);
    CHECK_DONE();
}
