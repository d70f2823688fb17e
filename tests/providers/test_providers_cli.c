/* `chase signal` as a user runs it: one option reader (full names, one error form, exit 2), tables, JSON, a trace
 * in its own time, exit statuses, and no credential in anything it prints. */
#include <cjson/cJSON.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"
#include "fake.h"

static fake_t fake;
static char dir[256];
static char out[65536], errs[65536];

static void slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* Runs `chase signal ARGS` (ARGS already shell-quoted), capturing stdout and stderr; returns the exit status. */
static int run(const char *args)
{
    const char *bin = getenv("CHASE_BIN");
    char cmd[4096], o[300], e[300];
    snprintf(o, sizeof o, "%s/out.txt", dir);
    snprintf(e, sizeof e, "%s/err.txt", dir);
    snprintf(cmd, sizeof cmd, "'%s' signal %s >'%s' 2>'%s'", bin, args, o, e);
    int st = system(cmd);
    slurp(o, out, sizeof out);
    slurp(e, errs, sizeof errs);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_help_and_usage_errors(void)
{
    CHECK(run("--help") == 0);
    CHECK(strstr(out, "electricitymaps:zone=") && strstr(out, "watttime:region=") && strstr(out, "ukci:region=") &&
          strstr(out, "max_stale") && strstr(out, "Examples"));
    CHECK(run("") == 2 && strstr(errs, "--signal") != NULL);
    CHECK(run("--signal ukci --history soon") == 2 && strstr(errs, "soon") != NULL);
    CHECK(run("--signal ukci --frobnicate 1") == 2 && strstr(errs, "frobnicate") != NULL);
    CHECK(run("--signal 'zone=DE,ukci'") == 2 && strstr(errs, "before any source") != NULL);
    CHECK(run("--signal 'ukci:region=99'") == 2 && strstr(errs, "region") != NULL);
    /* One reader for every option: an unknown option is named as such (it used to "need a value"), an abbreviation
     * is refused with the full name, a missing value and a stray argument are said; all in one form, exit 2. */
    CHECK(run("--bogus") == 2 && strstr(errs, "chase signal: unknown option '--bogus'") != NULL);
    CHECK(!strstr(errs, "needs a value"));
    CHECK(run("--sig ukci") == 2 && strstr(errs, "chase signal: unknown option '--sig' (write it in full: --signal)"));
    CHECK(run("--signal") == 2 && strstr(errs, "chase signal: --signal needs a value") != NULL);
    CHECK(run("--signal ukci stray") == 2 && strstr(errs, "chase signal: unexpected argument 'stray'") != NULL);
    CHECK(run("--signal ukci --history 20d") == 2 && strstr(errs, "chase signal: --history") != NULL);
    CHECK(run("--signal ukci --help=1") == 2 && strstr(errs, "takes no value") != NULL);
    CHECK(run("-h") == 0 && strstr(out, "Usage: chase signal"));
    /* The help lists every source of the table, with its spec form. */
    CHECK(run("--help") == 0 && strstr(out, "trace:FILE") && strstr(out, "static:VALUE") &&
          strstr(out, "ukci[:region=1..17|postcode=RG10]") && strstr(out, "WATTTIME_PASSWORD"));
}

/* A trace is shown in its own time: the samples before its replay start, not relabelled with the wall clock. */
static void test_trace_keeps_its_own_times(void)
{
    char path[300], args[1024];
    snprintf(path, sizeof path, "%s/small.csv", dir);
    FILE *f = fopen(path, "w");
    fputs("time,ci\n", f);
    for (int h = 0; h < 48; h++)
        fprintf(f, "2022-06-%02dT%02d:00:00Z,%d\n", 1 + h / 24, h % 24, 100 + h);
    fclose(f);
    snprintf(args, sizeof args, "--signal 'trace:%s,start=2022-06-02T00:00:00Z,speed=60' --history 3h --json -", path);
    CHECK(run(args) == 0);
    cJSON *j = cJSON_Parse(out);
    const cJSON *h = cJSON_GetObjectItem(j, "history");
    CHECK(cJSON_IsArray(h) && cJSON_GetArraySize(h) == 3);
    const cJSON *last = cJSON_GetArrayItem(h, cJSON_GetArraySize(h) - 1);
    CHECK(last && !strcmp(cJSON_GetObjectItem(last, "time")->valuestring, "2022-06-01T23:00:00Z"));
    CHECK(last && cJSON_GetObjectItem(last, "step_s")->valuedouble == 3600);
    CHECK(last && cJSON_GetObjectItem(last, "ci_g_per_kwh")->valuedouble == 123);
    CHECK(!strcmp(cJSON_GetObjectItem(j, "now")->valuestring, "2022-06-02T00:00:00Z"));
    cJSON_Delete(j);
    snprintf(args, sizeof args, "--signal 'trace:%s,start=2022-06-02T00:00:00Z' --history 1h", path);
    CHECK(run(args) == 0 && strstr(out, "2022-06-01T23:00:00Z") && strstr(out, "123.0 g/kWh"));
    CHECK(errs[0] == '\0'); /* a trace makes no forecast: nothing to complain about */
}

static void test_table_and_json(void)
{
    char url[128], args[1024];
    fake_url(&fake, "ok-cli", url, sizeof url);
    snprintf(args, sizeof args, "--signal 'ukci:url=%s' --cache '%s/c.sqlite' --history 2h --forecast 1h", url, dir);
    CHECK(run(args) == 0);
    CHECK(strstr(out, "history: ") && strstr(out, "forecast: ") && strstr(out, "g/kWh"));
    snprintf(args, sizeof args, "--signal 'ukci:url=%s' --cache '%s/c.sqlite' --history 2h --forecast 1h --json -", url,
             dir);
    CHECK(run(args) == 0);
    cJSON *j = cJSON_Parse(out);
    CHECK(j != NULL);
    const cJSON *h = cJSON_GetObjectItem(j, "history"), *f = cJSON_GetObjectItem(j, "forecast");
    CHECK(cJSON_IsArray(h) && cJSON_GetArraySize(h) >= 4);
    CHECK(cJSON_IsArray(f) && cJSON_GetArraySize(f) >= 2);
    const cJSON *first = cJSON_GetArrayItem(h, 0);
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(first, "ci_g_per_kwh")) &&
          cJSON_IsString(cJSON_GetObjectItem(first, "time")) &&
          cJSON_GetObjectItem(first, "step_s")->valuedouble == 1800 &&
          cJSON_IsBool(cJSON_GetObjectItem(first, "stale")));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(f, 0), "forecast")));
    const cJSON *src = cJSON_GetObjectItem(j, "source");
    CHECK(cJSON_IsString(src) && !strcmp(src->valuestring, "ukci"));
    cJSON_Delete(j);
    /* Both runs together cost one history and one forecast request: the second came from the cache. */
    CHECK(fake_count(&fake, "ok-cli", NULL) == 2);
}

/* Two chase processes on one cache at once: both answer, and the cache stays readable for a third. */
static void test_two_processes(void)
{
    const char *bin = getenv("CHASE_BIN");
    char url[128], one[1024], cmd[3000];
    fake_url(&fake, "ok-two", url, sizeof url);
    snprintf(one, sizeof one, "'%s' signal --signal 'ukci:url=%s,fresh=0' --cache '%s/two.sqlite' >/dev/null 2>&1", bin,
             url, dir);
    snprintf(cmd, sizeof cmd, "sh -c \"%s & a=\\$!; %s; b=\\$?; wait \\$a; exit \\$(( \\$? * 10 + b ))\"", one, one);
    int st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char args[1024];
    snprintf(args, sizeof args, "--signal 'ukci:url=%s' --cache '%s/two.sqlite' --history 2h --forecast 0", url, dir);
    CHECK(run(args) == 0 && strstr(out, "history: ") != NULL);
}

static void test_failures(void)
{
    char url[128], args[1024];
    fake_url(&fake, "e500", url, sizeof url);
    snprintf(args, sizeof args, "--signal 'ukci:url=%s,retries=0' --cache '%s/empty.sqlite'", url, dir);
    CHECK(run(args) == 1);
    CHECK(strstr(errs, "HTTP 500") != NULL && strstr(errs, "no carbon data") != NULL);
    /* The token is never printed: not in the refusal (whose body echoes it), not in the warning about token=. */
    fake_url(&fake, "echo401", url, sizeof url);
    setenv("ELECTRICITYMAPS_TOKEN", "tok-SECRET-42", 1);
    snprintf(args, sizeof args, "--signal 'electricitymaps:zone=DE,url=%s' --cache '%s/t.sqlite' --json -", url, dir);
    CHECK(run(args) == 1);
    CHECK(strstr(errs, "401") != NULL);
    CHECK(strstr(out, "tok-SECRET-42") == NULL && strstr(errs, "tok-SECRET-42") == NULL);
    unsetenv("ELECTRICITYMAPS_TOKEN");
    snprintf(args, sizeof args, "--signal 'electricitymaps:zone=DE,token=tok-SECRET-43,url=%s' --cache '%s/t.sqlite'",
             url, dir);
    CHECK(run(args) == 1);
    CHECK(strstr(errs, "ELECTRICITYMAPS_TOKEN") != NULL && strstr(errs, "tok-SECRET-43") == NULL);
    CHECK(run("--signal electricitymaps:zone=DE") == 1 && strstr(errs, "ELECTRICITYMAPS_TOKEN") != NULL);
    /* A WattTime login refused with the basic-auth header echoed: neither the password nor base64(user:password)
     * reaches stderr or the JSON. */
    setenv("WATTTIME_USERNAME", "alice", 1);
    setenv("WATTTIME_PASSWORD", "s3cret-pw", 1);
    snprintf(args, sizeof args, "--signal 'watttime:region=PJM,url=%s' --cache '%s/wt.sqlite' --json -", url, dir);
    CHECK(run(args) == 1);
    CHECK(strstr(out, "history_error") && strstr(out, "401") && strstr(errs, "401"));
    CHECK(!strstr(out, "YWxpY2U6czNjcmV0LXB3") && !strstr(errs, "YWxpY2U6czNjcmV0LXB3"));
    CHECK(!strstr(out, "s3cret-pw") && !strstr(errs, "s3cret-pw"));
    unsetenv("WATTTIME_USERNAME");
    unsetenv("WATTTIME_PASSWORD");
}

int main(void)
{
    if (!getenv("CHASE_BIN")) {
        fprintf(stderr, "SKIP: CHASE_BIN not set\n");
        return 77;
    }
    int rc = fake_start(&fake);
    if (rc)
        return rc;
    if (!temp_dir(dir, sizeof dir))
        return 1;
    unsetenv("ELECTRICITYMAPS_TOKEN");
    setenv("XDG_CACHE_HOME", dir, 1); /* a run without --cache must not touch the user's cache */
    RUN(test_help_and_usage_errors);
    RUN(test_table_and_json);
    RUN(test_trace_keeps_its_own_times);
    RUN(test_two_processes);
    RUN(test_failures);
    fake_stop(&fake);
    temp_dir_remove(dir);
    CHECK_DONE();
}
