/* Every `chase` command parses its options the same way: full option names only, one error form
 * ("chase CMD: ..."), exit status 2 for bad input, and `chase help CMD` is `chase CMD --help`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static const char *bin;
static char tmp[256];
static char out[1 << 18], err[1 << 16];

/* Runs `chase ARGS` (ARGS is shell text), captures stdout and stderr, returns the exit status. */
static int run(const char *args)
{
    char cmd[2048], of[300], ef[300];
    snprintf(of, sizeof of, "%s/out", tmp);
    snprintf(ef, sizeof ef, "%s/err", tmp);
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s </dev/null", bin, args, of, ef);
    int st = system(cmd);
    FILE *f = fopen(of, "r");
    size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
    out[n] = 0;
    if (f)
        fclose(f);
    f = fopen(ef, "r");
    n = f ? fread(err, 1, sizeof err - 1, f) : 0;
    err[n] = 0;
    if (f)
        fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* One option of each command, a shortened spelling of it, and what else the command needs to get that far. */
typedef struct command {
    const char *name;
    const char *option;
    const char *abbrev;
    const char *rest;
} command_t;

static const command_t commands[] = {
    {"simulate", "--budget 5", "--bud 5", ""},
    {"forecast", "--trace x.csv", "--trac x.csv", "--at 2022-01-01T00:00:00Z"},
    {"signal", "--signal static:300", "--sig static:300", ""},
    {"devices", "--json -", "--js -", ""},
    {"run", "--signal static:300", "--sig static:300", "-- true"},
    {"restore", "--journal-dir /nonexistent", "--journal /nonexistent", ""},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static int starts_with_prog(const char *text, const char *name)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "chase %s: ", name);
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

static void test_unknown_option(void)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        char args[256];
        snprintf(args, sizeof args, "%s --bogus 1 %s", commands[i].name, commands[i].rest);
        CHECK(run(args) == 2);
        CHECK(starts_with_prog(err, commands[i].name));
        CHECK(strstr(err, "unknown option '--bogus'") != NULL);
        if (!starts_with_prog(err, commands[i].name))
            fprintf(stderr, "  %s: %s", commands[i].name, err);
    }
}

static void test_no_abbreviations(void)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        char args[256];
        snprintf(args, sizeof args, "%s %s %s", commands[i].name, commands[i].abbrev, commands[i].rest);
        CHECK(run(args) == 2);
        CHECK(starts_with_prog(err, commands[i].name));
        CHECK(strstr(err, "write it in full") != NULL);
    }
}

static void test_missing_value(void)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        char args[256], opt[64];
        snprintf(opt, sizeof opt, "%s", commands[i].option);
        *strchr(opt, ' ') = '\0'; /* the option without its value, last on the line */
        snprintf(args, sizeof args, "%s %s", commands[i].name, opt);
        CHECK(run(args) == 2);
        CHECK(starts_with_prog(err, commands[i].name));
        CHECK(strstr(err, "needs a value") != NULL);
    }
    /* chase run's "--report -- cmd": the "--" ends the options, it is not the report's name */
    CHECK(run("run --signal static:300 --report -- true") == 2);
    CHECK(strstr(err, "--report needs a value") != NULL);
}

static void test_help_command(void)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        char args[128], help[sizeof out];
        snprintf(args, sizeof args, "%s --help", commands[i].name);
        CHECK(run(args) == 0);
        CHECK(strstr(out, "Usage: chase") != NULL);
        snprintf(help, sizeof help, "%s", out);
        snprintf(args, sizeof args, "help %s", commands[i].name);
        CHECK(run(args) == 0);
        CHECK(strcmp(out, help) == 0);
    }
    CHECK(run("help nosuch") == 2);
    CHECK(strstr(err, "unknown command 'nosuch'") != NULL);
    CHECK(run("help") == 0 && strstr(out, "Commands:") != NULL);
}

static void test_flag_with_value(void)
{
    CHECK(run("simulate --list=3") == 2);
    CHECK(strstr(err, "--list takes no value") != NULL);
    CHECK(run("run --dry-run=1 --signal static:300 -- true") == 2);
    CHECK(strstr(err, "--dry-run takes no value") != NULL);
}

int main(void)
{
    bin = getenv("CHASE_BIN");
    if (!bin) {
        fprintf(stderr, "SKIP: CHASE_BIN is not set (ctest sets it to the chase binary)\n");
        return SKIP_TEST;
    }
    snprintf(tmp, sizeof tmp, "/tmp/chase-test-cli-XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_unknown_option);
    RUN(test_no_abbreviations);
    RUN(test_missing_value);
    RUN(test_help_command);
    RUN(test_flag_with_value);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    CHECK_DONE();
}
