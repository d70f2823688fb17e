/* `chase simulate` as a user runs it: defaults, JSON output, timeline and chart files, and bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check.h"

static const char *bin;
static char tmp[256];

/* Runs `chase simulate ARGS`, captures stdout and stderr into buffers, returns the exit status. */
static int run(const char *args, char *out, size_t out_size, char *err, size_t err_size)
{
    char cmd[2048], of[300], ef[300];
    snprintf(of, sizeof of, "%s/out", tmp);
    snprintf(ef, sizeof ef, "%s/err", tmp);
    snprintf(cmd, sizeof cmd, "%s simulate %s >%s 2>%s", bin, args, of, ef);
    int st = system(cmd);
    FILE *f = fopen(of, "r");
    size_t n = f ? fread(out, 1, out_size - 1, f) : 0;
    out[n] = 0;
    if (f)
        fclose(f);
    f = fopen(ef, "r");
    n = f ? fread(err, 1, err_size - 1, f) : 0;
    err[n] = 0;
    if (f)
        fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char out[1 << 20], err[1 << 16];

static void test_defaults(void)
{
    CHECK(run("", out, sizeof out, err, sizeof err) == 0);
    CHECK(strstr(out, "a40-resnet50") != NULL);
    for (const char *p = "max\0static\0chase\0budget\0oracle\0"; *p; p += strlen(p) + 1)
        CHECK(strstr(out, p) != NULL);
    CHECK(strstr(out, "efficiency") != NULL && strstr(out, "timing") != NULL);
}

static void test_json(void)
{
    CHECK(run("--grid se-hydro --hours 24 --policy max,budget,oracle --budget 5 --json -", out, sizeof out, err,
              sizeof err) == 0);
    const char *brace = strchr(out, '{');
    cJSON *root = brace ? cJSON_Parse(brace) : NULL;
    CHECK(root != NULL);
    if (!root)
        return;
    CHECK(cJSON_IsString(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "trace"), "start")));
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "trace"), "period_s")->valuedouble == 1800);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "profile"), "power_limits_w")) == 9);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "job"), "unit")->valuestring, "epoch");
    CHECK(cJSON_GetObjectItem(root, "budget_pct")->valuedouble == 5);
    cJSON *res = cJSON_GetObjectItem(root, "results");
    CHECK(cJSON_GetArraySize(res) == 3);
    double max_c = 0, orc = 0, bud = 0;
    cJSON *r;
    cJSON_ArrayForEach(r, res)
    {
        const char *name = cJSON_GetObjectItem(r, "policy")->valuestring;
        double c = cJSON_GetObjectItem(r, "carbon_g")->valuedouble;
        double sav = cJSON_GetObjectItem(r, "carbon_saving_pct")->valuedouble;
        double eff = cJSON_GetObjectItem(r, "efficiency_part_pct")->valuedouble;
        double tim = cJSON_GetObjectItem(r, "timing_part_pct")->valuedouble;
        CHECK_NEAR(eff + tim, sav, 1e-9);
        CHECK(cJSON_GetObjectItem(r, "time_s")->valuedouble > 0);
        CHECK(cJSON_GetObjectItem(r, "energy_j")->valuedouble > 0);
        CHECK(cJSON_IsNumber(cJSON_GetObjectItem(r, "mean_power_limit_w")));
        if (!strcmp(name, "max"))
            max_c = c;
        if (!strcmp(name, "oracle"))
            orc = c;
        if (!strcmp(name, "budget")) {
            bud = c;
            CHECK(cJSON_GetObjectItem(r, "slowdown_pct")->valuedouble <= 5 + 1e-6);
        }
    }
    CHECK(orc <= bud && bud < max_c);
    cJSON_Delete(root);
}

static void test_files(void)
{
    char args[1024], path[300];
    snprintf(args, sizeof args, "--hours 12 --policy max,budget --timeline %s/t.csv --svg %s/c.svg", tmp, tmp);
    CHECK(run(args, out, sizeof out, err, sizeof err) == 0);
    snprintf(path, sizeof path, "%s/t.csv", tmp);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    int lines = 0;
    char line[512];
    while (f && fgets(line, sizeof line, f))
        lines++;
    if (f)
        fclose(f);
    CHECK(lines > 2 * 24); /* header + about 25 periods per policy */
    snprintf(path, sizeof path, "%s/c.svg", tmp);
    f = fopen(path, "r");
    CHECK(f && fgets(line, sizeof line, f) && !strncmp(line, "<svg", 4));
    if (f)
        fclose(f);
}

static void test_bad_input(void)
{
    char args[1024], path[300];
    CHECK(run("--budget abc", out, sizeof out, err, sizeof err) == 2);
    CHECK(strstr(err, "--budget") != NULL);
    CHECK(run("--policy max,nonsense", out, sizeof out, err, sizeof err) == 2);
    CHECK(strstr(err, "nonsense") != NULL);
    CHECK(run("--grid atlantis", out, sizeof out, err, sizeof err) == 2);
    CHECK(run("--profile nope", out, sizeof out, err, sizeof err) == 2);
    CHECK(run("--period 5", out, sizeof out, err, sizeof err) == 2);
    CHECK(run("--eta 2", out, sizeof out, err, sizeof err) == 2);
    CHECK(run("--trace x.csv --grid de-wind", out, sizeof out, err, sizeof err) == 2);
    CHECK(run("--start yesterday", out, sizeof out, err, sizeof err) == 2);
    CHECK(run("--frobnicate", out, sizeof out, err, sizeof err) == 2);
    CHECK(run("--trace /nonexistent/trace.csv", out, sizeof out, err, sizeof err) != 0);
    /* A malformed trace names the file and the line. */
    snprintf(path, sizeof path, "%s/bad.csv", tmp);
    FILE *f = fopen(path, "w");
    fprintf(f, "time,ci\n2024-01-01T00:00:00Z,100\n2024-01-01T01:00:00Z,abc\n");
    fclose(f);
    snprintf(args, sizeof args, "--trace %s", path);
    CHECK(run(args, out, sizeof out, err, sizeof err) == 2);
    CHECK(strstr(err, "bad.csv") != NULL && strstr(err, ":3") != NULL);
    CHECK(run("--help", out, sizeof out, err, sizeof err) == 0 && strstr(out, "Examples") != NULL);
    CHECK(run("--list", out, sizeof out, err, sizeof err) == 0 && strstr(out, "de-wind") != NULL);
}

static void test_short_trace(void)
{
    char args[1024], path[300];
    snprintf(path, sizeof path, "%s/short.csv", tmp);
    FILE *f = fopen(path, "w");
    fprintf(f, "time,ci\n");
    for (int h = 0; h < 24; h++)
        fprintf(f, "2024-01-01T%02d:00:00Z,%d\n", h, 100 + 10 * h);
    fclose(f);
    snprintf(args, sizeof args, "--trace %s --hours 30", path);
    CHECK(run(args, out, sizeof out, err, sizeof err) == 1);
    CHECK(strstr(err, "ends") != NULL);
    snprintf(args, sizeof args, "--trace %s --hours 10 --policy max,static,chase,budget", path);
    CHECK(run(args, out, sizeof out, err, sizeof err) == 0);
}

int main(void)
{
    bin = getenv("CHASE_BIN");
    if (!bin) {
        fprintf(stderr, "SKIP: CHASE_BIN is not set (run under ctest)\n");
        return SKIP_TEST;
    }
    snprintf(tmp, sizeof tmp, "/tmp/chase-test-sim-XXXXXX");
    if (!mkdtemp(tmp))
        return 1;
    RUN(test_defaults);
    RUN(test_json);
    RUN(test_files);
    RUN(test_bad_input);
    RUN(test_short_trace);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    CHECK_DONE();
}
