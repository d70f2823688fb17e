/* The SQLite cache: round trips, what may replace what, the default path, two processes writing at once, and a
 * broken cache (corrupt, read-only, another user's) that degrades instead of stopping the signal. */
#include <dirent.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chase/provider.h"
#include "check.h"
#include "fake.h"

static char dir[256];
static fake_t fake;
static int have_fake;

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
    CHECK(chase_cache_open(path, &c, &err) == CHASE_EFORMAT);
    CHECK(strstr(err.msg, "junk.sqlite") != NULL && strstr(err.msg, "not a database") != NULL);
}

static const char junk[] = "this is not a database, it is a text file that happens to be long enough to matter\n";

static void write_junk(const char *path)
{
    FILE *f = fopen(path, "w");
    fputs(junk, f);
    fclose(f);
}

/* The name of the file in folder that starts with prefix, or "" (into buf). */
static const char *find_file(const char *folder, const char *prefix, char *buf, size_t size)
{
    DIR *d = opendir(folder);
    buf[0] = '\0';
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        if (!strncmp(e->d_name, prefix, strlen(prefix)))
            snprintf(buf, size, "%s/%s", folder, e->d_name);
    if (d)
        closedir(d);
    return buf;
}

/* A corrupt file is moved aside (kept, for a look) and a new cache takes its place. */
static void test_corrupt_moved_aside(void)
{
    char sub[300], path[400], moved[600], note[1400];
    snprintf(sub, sizeof sub, "%s/corrupt", dir);
    mkdir(sub, 0700);
    snprintf(path, sizeof path, "%s/cache.sqlite", sub);
    write_junk(path);
    chase_cache_t *c = NULL;
    chase_err_t err;
    CHECK(chase_cache_open_or_memory(path, &c, note, sizeof note, &err) == CHASE_OK && c);
    CHECK(strstr(note, "not a database") && strstr(note, "cache.sqlite.corrupt-") && strstr(note, "new cache"));
    find_file(sub, "cache.sqlite.corrupt-", moved, sizeof moved);
    CHECK(moved[0] && strstr(note, moved));
    char back[sizeof junk] = "";
    FILE *f = fopen(moved, "r");
    CHECK(f && fread(back, 1, sizeof back - 1, f) == sizeof junk - 1 && !strcmp(back, junk));
    if (f)
        fclose(f);
    chase_sample_t in = {.t = 3600, .step_s = 3600, .ci = 123}, out;
    size_t n = 0;
    CHECK(c && chase_cache_put(c, "p", "z", CHASE_CACHE_OBSERVED, &in, 1, 1, &err) == CHASE_OK);
    chase_cache_close(c);
    /* The new file is a real cache now, and keeps what was written. */
    CHECK(chase_cache_open(path, &c, &err) == CHASE_OK);
    CHECK(c && chase_cache_get(c, "p", "z", CHASE_CACHE_OBSERVED, 0, 1 << 30, &out, 1, &n, &err) == CHASE_OK && n == 1);
    chase_cache_close(c);
    /* A good file opens as it is, with nothing to say. */
    CHECK(chase_cache_open_or_memory(path, &c, note, sizeof note, &err) == CHASE_OK && note[0] == '\0');
    chase_cache_close(c);
}

/* Checks that an unwritable cache gives a working cache in memory; returns the number of failed checks. */
static int check_memory_fallback(const char *path, const char *why)
{
    int before = check_failures;
    chase_cache_t *c = NULL;
    chase_err_t err;
    char note[1400];
    CHECK(chase_cache_open(path, &c, &err) != CHASE_OK);
    CHECK(chase_cache_open_or_memory(path, &c, note, sizeof note, &err) == CHASE_OK && c);
    CHECK(strstr(note, "in memory") != NULL);
    if (!strstr(note, "in memory"))
        fprintf(stderr, "  %s: note '%s'\n", why, note);
    chase_sample_t in = {.t = 3600, .step_s = 3600, .ci = 321}, out;
    size_t n = 0;
    CHECK(c && chase_cache_put(c, "p", "z", CHASE_CACHE_OBSERVED, &in, 1, 1, &err) == CHASE_OK);
    CHECK(c && chase_cache_get(c, "p", "z", CHASE_CACHE_OBSERVED, 0, 1 << 30, &out, 1, &n, &err) == CHASE_OK &&
          n == 1 && out.ci == 321);
    chase_cache_close(c);
    return check_failures - before;
}

/* A read-only cache file and a folder of another user (a cache made by `sudo -E chase ...`): as root these are
 * checked in a child that runs as nobody, since root may write anything. */
static void test_unwritable_gives_memory(void)
{
    char ro[300], file[400], rootdir[300], under[400];
    snprintf(ro, sizeof ro, "%s/ro", dir);
    mkdir(ro, 0700);
    snprintf(file, sizeof file, "%s/cache.sqlite", ro);
    chase_cache_t *c;
    chase_err_t err;
    CHECK(chase_cache_open(file, &c, &err) == CHASE_OK); /* a good cache, then made unwritable */
    chase_cache_close(c);
    snprintf(rootdir, sizeof rootdir, "%s/owned", dir);
    mkdir(rootdir, 0755);
    snprintf(under, sizeof under, "%s/chase/cache.sqlite", rootdir);
    chmod(file, 0444);
    chmod(ro, 0555);
    if (geteuid() != 0) {
        check_memory_fallback(file, "read-only file");
        chmod(rootdir, 0555);
        check_memory_fallback(under, "unwritable folder");
        chmod(ro, 0700);
        chmod(rootdir, 0700);
        return;
    }
    const struct passwd *nobody = getpwnam("nobody");
    if (!nobody) {
        fprintf(stderr, "  (no user 'nobody': the unwritable-cache checks are skipped as root)\n");
        return;
    }
    chmod(dir, 0755);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(nobody->pw_gid) != 0 || setuid(nobody->pw_uid) != 0)
            _exit(99);
        setenv("HOME", rootdir, 1); /* the default path under a home that is not ours */
        unsetenv("XDG_CACHE_HOME");
        int failed = check_memory_fallback(file, "read-only file") + check_memory_fallback(under, "root's folder") +
                     check_memory_fallback(NULL, "default path in root's home");
        _exit(failed ? 1 : 0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    chmod(ro, 0700);
    chmod(dir, 0700);
}

/* Through a live signal: a corrupt cache costs one warning, and the signal works. */
static void test_live_signal_with_corrupt_cache(void)
{
    if (!have_fake)
        return;
    char path[400], spec[600], url[128];
    snprintf(path, sizeof path, "%s/live-corrupt.sqlite", dir);
    write_junk(path);
    snprintf(spec, sizeof spec, "ukci:url=%s,cache=%s", fake_url(&fake, "ok-corrupt", url, sizeof url), path);
    said_t said;
    said_init(&said);
    chase_signal_open_opts_t opts = {.on_warning = said_collect, .on_warning_arg = &said, .wait_s = -1};
    chase_signal_t *sig = NULL;
    chase_err_t err;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec;
    static chase_sample_t s[100];
    size_t n = 0;
    capture_start(dir);
    CHECK(chase_signal_open(spec, &opts, &sig, &err) == CHASE_OK);
    CHECK(sig && chase_signal_history(sig, now, (int64_t)now - 3600, s, 100, &n, &err) == CHASE_OK && n >= 2);
    CHECK(sig && chase_signal_history(sig, now + 1, (int64_t)now - 3600, s, 100, &n, &err) == CHASE_OK);
    CHECK(capture_end()[0] == '\0');
    CHECK(said.calls == 1 && strstr(said.text, "moved it to") != NULL);
    chase_signal_free(sig);
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
    have_fake = fake_start(&fake) == 0;
    RUN(test_round_trip);
    RUN(test_not_a_cache);
    RUN(test_default_path);
    RUN(test_two_processes);
    RUN(test_corrupt_moved_aside);
    RUN(test_unwritable_gives_memory);
    RUN(test_live_signal_with_corrupt_cache);
    fake_stop(&fake);
    temp_dir_remove(dir);
    CHECK_DONE();
}
