/* Helpers for the tests that run chase against the fake NVML: a fresh state file per test, a clean environment,
 * and running a command to capture its output. */
#ifndef CHASE_TESTS_NVML_TEST_UTIL_H
#define CHASE_TESTS_NVML_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char nvml_test_fake_lib[1024];

/* Saves the fake library path ctest gave; 77 (skip) when run outside ctest. */
static inline int nvml_test_setup(void)
{
    const char *lib = getenv("CHASE_NVML_LIBRARY");
    if (!lib || !getenv("FAKE_NVML_STATE_TOOL") || !getenv("CHASE_BIN")) {
        fprintf(stderr, "SKIP: run under ctest (CHASE_NVML_LIBRARY, FAKE_NVML_STATE_TOOL, CHASE_BIN unset)\n");
        return 77;
    }
    snprintf(nvml_test_fake_lib, sizeof nvml_test_fake_lib, "%s", lib);
    return 0;
}

/* Starts a test with the current fake library, no failure injected, and a new state file of n_gpus GPUs. */
static inline const char *nvml_test_fresh(const char *name, int n_gpus)
{
    static char path[1024];
    const char *dir = getenv("CHASE_TEST_TMPDIR");
    snprintf(path, sizeof path, "%s/%s-%ld.state", dir ? dir : "/tmp", name, (long)getpid());
    unlink(path);
    setenv("CHASE_NVML_LIBRARY", nvml_test_fake_lib, 1);
    setenv("FAKE_NVML_STATE", path, 1);
    char n[16];
    snprintf(n, sizeof n, "%d", n_gpus);
    setenv("FAKE_NVML_GPUS", n, 1);
    static const char *const injected[] = {
        "FAKE_NVML_NO_PERMISSION", "FAKE_NVML_DRIVER_NOT_LOADED", "FAKE_NVML_LOSE_GPU",
        "FAKE_NVML_NO_ENERGY",     "FAKE_NVML_RESET_ENERGY_AT",   "FAKE_NVML_DRAW_W",
        "FAKE_NVML_LOAD",          "FAKE_NVML_POWER_CURVE",       "FAKE_NVML_MINORS"};
    for (size_t i = 0; i < sizeof injected / sizeof injected[0]; i++)
        unsetenv(injected[i]);
    return path;
}

/* Runs cmd through the shell; returns its exit status (-1 if it could not run) and its stdout in out. */
static inline int nvml_test_run(const char *cmd, char *out, size_t size)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline double nvml_test_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void nvml_test_sleep(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

#endif
