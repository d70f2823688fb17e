/* The SQLite cache: round trips, what may replace what, the default path, and two processes writing at once. */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chase/provider.h"
#include "check.h"
#include "fake.h"

static char dir[256];

static void test_round_trip(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/a/b/cache.sqlite", dir); /* folders are created */
    chase_cache_t *c;
    chase_err_t err;
    CHECK(chase_cache_open(path, &c, &err) == CHASE_OK);
    chase_sample_t in[5], out[5];
    for (int i = 0; i < 5; i++)
        in[i] = (chase_sample_t){.t = 1000 + 3600 * i, .step_s = 3600, .ci = 100 + i, .flags = 0};
    CHECK(chase_cache_put(c, "p", "z", CHASE_CACHE_OBSERVED, in, 5, 42.5, &err) == CHASE_OK);
    size_t n;
    CHECK(chase_cache_get(c, "p", "z", CHASE_CACHE_OBSERVED, 0, 1 << 30, out, 5, &n, &err) == CHASE_OK);
    CHECK(n == 5 && out[0].t == 1000 && out[4].ci == 104);
    CHECK(chase_cache_get(c, "p", "z", CHASE_CACHE_OBSERVED, 0, 1 << 30, out, 2, &n, &err) == CHASE_OK);
    CHECK(n == 2 && out[0].ci == 103 && out[1].ci == 104); /* the newest two, oldest first */
    CHECK(chase_cache_get(c, "p", "other", CHASE_CACHE_OBSERVED, 0, 1 << 30, out, 5, &n, &err) == CHASE_OK && n == 0);
    CHECK(chase_cache_get(c, "p", "z", CHASE_CACHE_FORECAST, 0, 1 << 30, out, 5, &n, &err) == CHASE_OK && n == 0);
    double at;
    CHECK(chase_cache_last_fetch(c, "p", "z", CHASE_CACHE_OBSERVED, &at, &err) == CHASE_OK && at == 42.5);
    CHECK(chase_cache_last_fetch(c, "p", "z", CHASE_CACHE_FORECAST, &at, &err) == CHASE_ENODATA);
    /* A forecast stand-in (UK API before the actual is known) never replaces an observation... */
    chase_sample_t fc = {.t = 1000, .step_s = 3600, .ci = 999, .flags = CHASE_SAMPLE_FORECAST};
    CHECK(chase_cache_put(c, "p", "z", CHASE_CACHE_OBSERVED, &fc, 1, 50, &err) == CHASE_OK);
    CHECK(chase_cache_get(c, "p", "z", CHASE_CACHE_OBSERVED, 1000, 1001, out, 5, &n, &err) == CHASE_OK);
    CHECK(n == 1 && out[0].ci == 100);
    /* ...but a measured value replaces a stand-in, and a revised observation replaces the old one. */
    chase_sample_t st = {.t = 90000, .step_s = 1800, .ci = 10, .flags = CHASE_SAMPLE_FORECAST};
    chase_sample_t ac = {.t = 90000, .step_s = 1800, .ci = 12, .flags = 0};
    CHECK(chase_cache_put(c, "p", "z", CHASE_CACHE_OBSERVED, &st, 1, 60, &err) == CHASE_OK);
    CHECK(chase_cache_put(c, "p", "z", CHASE_CACHE_OBSERVED, &ac, 1, 61, &err) == CHASE_OK);
    CHECK(chase_cache_get(c, "p", "z", CHASE_CACHE_OBSERVED, 90000, 90001, out, 5, &n, &err) == CHASE_OK);
    CHECK(n == 1 && out[0].ci == 12 && out[0].flags == 0);
    chase_cache_close(c);
    /* History survives closing and reopening. */
    CHECK(chase_cache_open(path, &c, &err) == CHASE_OK);
    CHECK(chase_cache_get(c, "p", "z", CHASE_CACHE_OBSERVED, 0, 1 << 30, out, 5, &n, &err) == CHASE_OK && n == 5);
    chase_cache_close(c);
}

static void test_not_a_cache(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/junk.sqlite", dir);
    FILE *f = fopen(path, "w");
    fputs("this is not a database, it is a text file that happens to be long enough to matter\n", f);
    fclose(f);
    chase_cache_t *c;
    chase_err_t err;
    CHECK(chase_cache_open(path, &c, &err) == CHASE_EIO);
    CHECK(strstr(err.msg, "junk.sqlite") != NULL);
}

static void test_default_path(void)
{
    char buf[512];
    chase_err_t err;
    setenv("XDG_CACHE_HOME", "/x/cache", 1);
    CHECK(chase_cache_default_path(buf, sizeof buf, &err) == CHASE_OK);
    CHECK_STR(buf, "/x/cache/chase/cache.sqlite");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/u", 1);
    CHECK(chase_cache_default_path(buf, sizeof buf, &err) == CHASE_OK);
    CHECK_STR(buf, "/home/u/.cache/chase/cache.sqlite");
}

/* Two processes hammer one file: each writes 100 batches (its own zone and a shared one) and reads between. */
static int writer(const char *path, int id)
{
    chase_cache_t *c;
    chase_err_t err;
    if (chase_cache_open(path, &c, &err) != CHASE_OK) {
        fprintf(stderr, "child %d: %s\n", id, err.msg);
        return 1;
    }
    char zone[16];
    snprintf(zone, sizeof zone, "own%d", id);
    for (int b = 0; b < 100; b++) {
        chase_sample_t s[10], out[1000];
        for (int i = 0; i < 10; i++)
            s[i] = (chase_sample_t){.t = (b * 10 + i) * 300, .step_s = 300, .ci = id * 1000 + b, .flags = 0};
        size_t n;
        if (chase_cache_put(c, "p", zone, CHASE_CACHE_OBSERVED, s, 10, b, &err) != CHASE_OK ||
            chase_cache_put(c, "p", "shared", CHASE_CACHE_OBSERVED, s, 10, b, &err) != CHASE_OK ||
            chase_cache_get(c, "p", "shared", CHASE_CACHE_OBSERVED, 0, 1 << 30, out, 1000, &n, &err) != CHASE_OK) {
            fprintf(stderr, "child %d batch %d: %s\n", id, b, err.msg);
            chase_cache_close(c);
            return 1;
        }
    }
    chase_cache_close(c);
    return 0;
}

static void test_two_processes(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/shared.sqlite", dir);
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        if (kids[i] == 0)
            _exit(writer(path, i));
    }
    for (int i = 0; i < 2; i++) {
        int st = 0;
        waitpid(kids[i], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    chase_cache_t *c;
    chase_err_t err;
    CHECK(chase_cache_open(path, &c, &err) == CHASE_OK);
    static chase_sample_t out[2000];
    size_t n;
    for (int i = 0; i < 2; i++) {
        char zone[16];
        snprintf(zone, sizeof zone, "own%d", i);
        CHECK(chase_cache_get(c, "p", zone, CHASE_CACHE_OBSERVED, 0, 1 << 30, out, 2000, &n, &err) == CHASE_OK);
        CHECK(n == 1000);
        CHECK(n == 1000 && out[999].ci == i * 1000 + 99);
    }
    CHECK(chase_cache_get(c, "p", "shared", CHASE_CACHE_OBSERVED, 0, 1 << 30, out, 2000, &n, &err) == CHASE_OK);
    CHECK(n == 1000);
    chase_cache_close(c);
}

int main(void)
{
    if (!temp_dir(dir, sizeof dir))
        return 1;
    RUN(test_round_trip);
    RUN(test_not_a_cache);
    RUN(test_default_path);
    RUN(test_two_processes);
    temp_dir_remove(dir);
    CHECK_DONE();
}
