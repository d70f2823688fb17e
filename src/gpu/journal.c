/* The journal of original GPU settings (see chase/journal.h): one JSON file per GPU, written atomically. */
#include "chase/journal.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/atomic_file.h"

#define PREFIX "gpu-"
#define SUFFIX ".json"

int chase_journal_default_dir(char *buf, size_t size, chase_err_t *err)
{
    const char *env = getenv("CHASE_JOURNAL_DIR"), *xdg = getenv("XDG_RUNTIME_DIR");
    int w;
    if (env && *env) {
        if (env[0] != '/')
            return chase_err_set(err, CHASE_EINVAL, "CHASE_JOURNAL_DIR must be an absolute path (got '%.200s')", env);
        w = snprintf(buf, size, "%s", env);
    } else if (geteuid() == 0)
        w = snprintf(buf, size, "/run/chase");
    else if (xdg && xdg[0] == '/')
        w = snprintf(buf, size, "%s/chase", xdg);
    else
        w = snprintf(buf, size, "/tmp/chase-%u", (unsigned)geteuid());
    if (w < 0 || (size_t)w >= size)
        return chase_err_set(err, CHASE_ERANGE, "journal directory name too long");
    return CHASE_OK;
}

void chase_journal_key(const chase_gpu_t *gpu, const chase_gpu_info_t *info, char *buf, size_t size)
{
    if (info->uuid[0])
        snprintf(buf, size, "%s", info->uuid);
    else
        snprintf(buf, size, "%s-index-%d", chase_gpu_backend(gpu), info->index);
}

/* dir/gpu-KEY.json, with every character of the key outside [A-Za-z0-9-] as '_'. */
static int entry_path(const char *dir, const char *key, char *buf, size_t size, chase_err_t *err)
{
    char safe[128];
    size_t i = 0;
    for (; key[i] && i + 1 < sizeof safe; i++) {
        char c = key[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        safe[i] = ok ? c : '_';
    }
    safe[i] = '\0';
    int w = snprintf(buf, size, "%s/" PREFIX "%s" SUFFIX, dir, safe);
    if (w < 0 || (size_t)w >= size)
        return chase_err_set(err, CHASE_ERANGE, "journal path too long");
    return CHASE_OK;
}

/* The start time of process pid (clock ticks since boot, field 22 of /proc/PID/stat), 0 when unknown. */
static unsigned long long process_start(pid_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: count fields after the last ')'. */
    char *p = strrchr(line, ')');
    if (!p)
        return 0;
    p++;
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p + 1, ' ');
    }
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

int chase_journal_write(const char *dir, chase_journal_entry_t *e, chase_err_t *err)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return chase_err_set(err, CHASE_EIO, "cannot create the journal directory %s: %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return chase_err_set(err, CHASE_EIO, "the journal directory %s is not a directory", dir);
    char path[1200];
    int rc = entry_path(dir, e->key, path, sizeof path, err);
    if (rc != CHASE_OK)
        return rc;
    e->pid = getpid();
    e->pid_start = process_start(e->pid);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    e->written = (double)ts.tv_sec;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "version", 1);
    cJSON_AddStringToObject(o, "key", e->key);
    cJSON_AddNumberToObject(o, "index", e->index);
    cJSON_AddStringToObject(o, "knob", chase_knob_key(e->original.knob));
    cJSON_AddNumberToObject(o, "original", e->original.value);
    cJSON_AddNumberToObject(o, "pid", (double)e->pid);
    cJSON_AddNumberToObject(o, "pid_start", (double)e->pid_start);
    cJSON_AddNumberToObject(o, "written", e->written);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    rc = chase_file_write_atomic(path, text, strlen(text), 0600, err);
    free(text);
    return rc;
}

static int number(const cJSON *o, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return -1;
    *out = v->valuedouble;
    return 0;
}

static int parse_entry(const char *path, const char *text, chase_journal_entry_t *out, chase_err_t *err)
{
    memset(out, 0, sizeof *out);
    cJSON *o = cJSON_Parse(text);
    double version, index, value, pid, start, written;
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(o, "key"), *knob = cJSON_GetObjectItemCaseSensitive(o, "knob");
    int ok = o && number(o, "version", &version) == 0 && version == 1 && cJSON_IsString(key) &&
             strlen(key->valuestring) < sizeof out->key && cJSON_IsString(knob) &&
             !strcmp(knob->valuestring, chase_knob_key(CHASE_KNOB_POWER_LIMIT)) && number(o, "index", &index) == 0 &&
             number(o, "original", &value) == 0 && value > 0 && number(o, "pid", &pid) == 0 && pid > 0 &&
             pid < 1e9 && number(o, "pid_start", &start) == 0 && start >= 0 && number(o, "written", &written) == 0;
    if (ok) {
        snprintf(out->key, sizeof out->key, "%s", key->valuestring);
        out->index = (int)index;
        out->original = (chase_setting_t){CHASE_KNOB_POWER_LIMIT, value};
        out->pid = (pid_t)pid;
        out->pid_start = (unsigned long long)start;
        out->written = written;
    }
    cJSON_Delete(o);
    return ok ? CHASE_OK : chase_err_set(err, CHASE_EFORMAT, "%s: not a chase journal entry", path);
}

static int read_path(const char *path, chase_journal_entry_t *out, chase_err_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? CHASE_ENODATA
                               : chase_err_set(err, CHASE_EIO, "%s: cannot read: %s", path, strerror(errno));
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return parse_entry(path, text, out, err);
}

int chase_journal_read(const char *dir, const char *key, chase_journal_entry_t *out, chase_err_t *err)
{
    char path[1200];
    int rc = entry_path(dir, key, path, sizeof path, err);
    return rc != CHASE_OK ? rc : read_path(path, out, err);
}

int chase_journal_remove(const char *dir, const char *key, chase_err_t *err)
{
    char path[1200];
    int rc = entry_path(dir, key, path, sizeof path, err);
    if (rc != CHASE_OK)
        return rc;
    if (unlink(path) != 0 && errno != ENOENT)
        return chase_err_set(err, CHASE_EIO, "%s: cannot remove: %s", path, strerror(errno));
    return CHASE_OK;
}

int chase_journal_owner_alive(const chase_journal_entry_t *e)
{
    if (e->pid <= 0)
        return 0;
    if (kill(e->pid, 0) != 0 && errno != EPERM)
        return 0;
    unsigned long long start = process_start(e->pid);
    /* A pid taken by another process since: not the writer. Unknown start times count as alive (err on the side
     * of not touching a GPU another process may drive). */
    return !(start && e->pid_start && start != e->pid_start);
}

int chase_journal_list(const char *dir, chase_journal_entry_t *out, size_t cap, size_t *n, chase_err_t *err)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? CHASE_OK
                               : chase_err_set(err, CHASE_EIO, "cannot read the journal %s: %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL && *n < cap) {
        size_t len = strlen(de->d_name);
        if (strncmp(de->d_name, PREFIX, strlen(PREFIX)) != 0 || len < strlen(SUFFIX) ||
            strcmp(de->d_name + len - strlen(SUFFIX), SUFFIX) != 0)
            continue;
        char path[1200];
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path)
            continue;
        if (read_path(path, &out[*n], NULL) == CHASE_OK)
            (*n)++;
    }
    closedir(d);
    return CHASE_OK;
}

/* The backend index of the GPU whose journal key is key, or -1. */
static int find_gpu(chase_gpu_t *gpu, const char *key)
{
    int total = 0;
    if (chase_gpu_count(gpu, &total, NULL) != CHASE_OK)
        return -1;
    for (int i = 0; i < total; i++) {
        chase_gpu_info_t info;
        char k[128];
        if (chase_gpu_info(gpu, i, &info, NULL) != CHASE_OK)
            continue;
        chase_journal_key(gpu, &info, k, sizeof k);
        if (!strcmp(k, key))
            return i;
    }
    return -1;
}

int chase_journal_restore(chase_gpu_t *gpu, const char *dir, int dry_run, chase_journal_result_t *out, size_t cap,
                          size_t *n, chase_err_t *err)
{
    chase_journal_entry_t *entries = calloc(cap ? cap : 1, sizeof *entries);
    if (!entries)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    int rc = chase_journal_list(dir, entries, cap, n, err);
    for (size_t i = 0; rc == CHASE_OK && i < *n; i++) {
        chase_journal_result_t *r = &out[i];
        memset(r, 0, sizeof *r);
        r->entry = entries[i];
        r->gpu = find_gpu(gpu, entries[i].key);
        const char *unit = chase_knob_unit(entries[i].original.knob);
        if (chase_journal_owner_alive(&entries[i])) {
            r->outcome = CHASE_JOURNAL_OWNER_ALIVE;
            snprintf(r->message, sizeof r->message, "pid %d still runs and drives it: left alone", (int)entries[i].pid);
        } else if (r->gpu < 0) {
            r->outcome = CHASE_JOURNAL_NO_GPU;
            snprintf(r->message, sizeof r->message, "no GPU here is %s (the entry stays)", entries[i].key);
        } else if (dry_run) {
            r->outcome = CHASE_JOURNAL_LISTED;
            snprintf(r->message, sizeof r->message, "would be put back to %g %s", entries[i].original.value, unit);
        } else {
            chase_err_t e;
            chase_err_clear(&e);
            if (chase_gpu_set_setting(gpu, r->gpu, &entries[i].original, &e) == CHASE_OK) {
                r->outcome = CHASE_JOURNAL_RESTORED;
                snprintf(r->message, sizeof r->message, "put back to %g %s", entries[i].original.value, unit);
                (void)chase_journal_remove(dir, entries[i].key, NULL);
            } else {
                r->outcome = CHASE_JOURNAL_FAILED;
                snprintf(r->message, sizeof r->message, "%.250s", e.msg);
            }
        }
    }
    free(entries);
    return rc;
}
