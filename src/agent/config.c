/* chased's configuration file: one `key = value` a line, `#` comments. Every key must be known and given once, every
 * value is checked, and a mistake is named by file and line, so that the daemon stops at start rather than guess
 * what an administrator meant about who may change the GPUs. */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chase/agent.h"

#define CONFIG_FILE_MAX (64 * 1024)
#define CONFIG_LINE_MAX 1024

typedef struct parse {
    const char *name;
    int line;
    chase_agent_config_t *c;
    chase_err_t *err;
} parse_t;

static int bad(parse_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(parse_t *p, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return chase_err_set(p->err, CHASE_EFORMAT, "%s:%d: %s", p->name, p->line, msg);
}

void chase_agent_config_init(chase_agent_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->all_gpus = 1;
    c->min_power_w = c->max_power_w = NAN;
    snprintf(c->dev_dir, sizeof c->dev_dir, "/dev");
    c->max_clients = 128;
    c->max_clients_per_user = 32;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* A whole number in [lo, hi], written in decimal digits only. */
static int whole(const char *s, long long lo, long long hi, long long *out)
{
    if (!*s || strlen(s) > 12)
        return -1;
    for (const char *q = s; *q; q++)
        if (!isdigit((unsigned char)*q))
            return -1;
    long long v = strtoll(s, NULL, 10);
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* User and group names as useradd(8) accepts them. */
static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 32 || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!isalnum(ch) && ch != '_' && ch != '-' && ch != '.' && !(ch == '$' && i == n - 1))
            return 0;
    }
    return 1;
}

/* Looks name up as a user (is_group 0) or a group; 0 and *id on success. */
static int resolve(const char *name, int is_group, unsigned long *id)
{
    long size = sysconf(is_group ? _SC_GETGR_R_SIZE_MAX : _SC_GETPW_R_SIZE_MAX);
    size_t cap = size > 0 ? (size_t)size : 16384;
    for (int tries = 0; tries < 4; tries++, cap *= 4) {
        char *buf = malloc(cap);
        if (!buf)
            return -1;
        int rc;
        if (is_group) {
            struct group gr, *res = NULL;
            rc = getgrnam_r(name, &gr, buf, cap, &res);
            if (rc == 0 && res)
                *id = (unsigned long)res->gr_gid;
            rc = rc ? rc : (res ? 0 : ENOENT);
        } else {
            struct passwd pw, *res = NULL;
            rc = getpwnam_r(name, &pw, buf, cap, &res);
            if (rc == 0 && res)
                *id = (unsigned long)res->pw_uid;
            rc = rc ? rc : (res ? 0 : ENOENT);
        }
        free(buf);
        if (rc != ERANGE)
            return rc == 0 ? 0 : -1;
    }
    return -1;
}

/* allow_users / allow_groups: names or numeric ids, comma separated; an empty value allows nobody. */
static int parse_ids(parse_t *p, const char *key, char *value, int is_group)
{
    size_t *n = is_group ? &p->c->n_allow_gids : &p->c->n_allow_uids;
    *n = 0;
    if (!*value)
        return CHASE_OK;
    for (char *item = value, *next; item; item = next) {
        next = strchr(item, ',');
        if (next)
            *next++ = '\0';
        item = trim(item);
        long long num;
        unsigned long id;
        if (!*item)
            return bad(p, "%s: an empty entry (write names or ids separated by single commas)", key);
        if (whole(item, 0, 4294967294LL, &num) == 0) {
            id = (unsigned long)num;
        } else if (!valid_name(item)) {
            return bad(p, "%s: '%.64s' is neither a %s name nor a number", key, item, is_group ? "group" : "user");
        } else if (resolve(item, is_group, &id) != 0) {
            return bad(p, "%s: no %s named '%s' on this machine", key, is_group ? "group" : "user", item);
        }
        int dup = 0;
        for (size_t i = 0; i < *n; i++)
            dup |= is_group ? p->c->allow_gids[i] == (gid_t)id : p->c->allow_uids[i] == (uid_t)id;
        if (dup)
            continue;
        if (*n == CHASE_AGENT_CONFIG_MAX_IDS)
            return bad(p, "%s: more than %d entries", key, CHASE_AGENT_CONFIG_MAX_IDS);
        if (is_group)
            p->c->allow_gids[(*n)++] = (gid_t)id;
        else
            p->c->allow_uids[(*n)++] = (uid_t)id;
    }
    return CHASE_OK;
}

static int parse_gpus(parse_t *p, char *value)
{
    p->c->gpus_line = p->line;
    p->c->n_gpus = 0;
    if (!strcmp(value, "all")) {
        p->c->all_gpus = 1;
        return CHASE_OK;
    }
    p->c->all_gpus = 0;
    for (char *item = value, *next; item; item = next) {
        next = strchr(item, ',');
        if (next)
            *next++ = '\0';
        item = trim(item);
        long long v;
        if (whole(item, 0, 4095, &v) != 0)
            return bad(p, "gpus: '%.64s' is not a GPU index (write 'all', or NVML indices like 0,1,3)", item);
        for (size_t i = 0; i < p->c->n_gpus; i++)
            if (p->c->gpus[i] == (int)v)
                return bad(p, "gpus: GPU %lld is listed twice", v);
        if (p->c->n_gpus == CHASE_AGENT_CONFIG_MAX_GPUS)
            return bad(p, "gpus: more than %d GPUs", CHASE_AGENT_CONFIG_MAX_GPUS);
        p->c->gpus[p->c->n_gpus++] = (int)v;
    }
    return CHASE_OK;
}

static int parse_watts(parse_t *p, const char *key, const char *value, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (!*value || *end || errno || !isfinite(v) || v < 1 || v > 100000)
        return bad(p, "%s: '%.64s' is not a power in watts (1..100000)", key, value);
    *out = v;
    p->c->range_line = p->line;
    return CHASE_OK;
}

static int parse_bool(parse_t *p, const char *key, const char *value, int *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(value, yes[i]))
            return *out = 1, CHASE_OK;
        if (!strcasecmp(value, no[i]))
            return *out = 0, CHASE_OK;
    }
    return bad(p, "%s: '%.64s' is not yes or no", key, value);
}

static int parse_count(parse_t *p, const char *key, const char *value, int *out)
{
    long long v;
    if (whole(value, 1, 4096, &v) != 0)
        return bad(p, "%s: '%.64s' is not a number from 1 to 4096", key, value);
    *out = (int)v;
    return CHASE_OK;
}

static int parse_dir(parse_t *p, const char *key, char *value)
{
    size_t n = strlen(value);
    while (n > 1 && value[n - 1] == '/')
        value[--n] = '\0';
    if (value[0] != '/' || n >= sizeof p->c->dev_dir)
        return bad(p, "%s: '%.64s' is not an absolute path (under %zu bytes)", key, value, sizeof p->c->dev_dir);
    snprintf(p->c->dev_dir, sizeof p->c->dev_dir, "%s", value);
    p->c->dev_dir_line = p->line;
    return CHASE_OK;
}

enum { K_USERS, K_GROUPS, K_GPUS, K_MIN, K_MAX, K_DEVACCESS, K_DEVDIR, K_CLIENTS, K_CLIENTS_USER, K_N };
static const char *const keys[K_N] = {"allow_users", "allow_groups", "gpus",
                                      "min_power_w", "max_power_w",  "require_device_access",
                                      "dev_dir",     "max_clients",  "max_clients_per_user"};

static int parse_value(parse_t *p, int k, char *value)
{
    chase_agent_config_t *c = p->c;
    switch (k) {
    case K_USERS: return parse_ids(p, keys[k], value, 0);
    case K_GROUPS: return parse_ids(p, keys[k], value, 1);
    case K_GPUS: return parse_gpus(p, value);
    case K_MIN: return parse_watts(p, keys[k], value, &c->min_power_w);
    case K_MAX: return parse_watts(p, keys[k], value, &c->max_power_w);
    case K_DEVACCESS: return parse_bool(p, keys[k], value, &c->require_device_access);
    case K_DEVDIR: return parse_dir(p, keys[k], value);
    case K_CLIENTS: return parse_count(p, keys[k], value, &c->max_clients);
    case K_CLIENTS_USER: return parse_count(p, keys[k], value, &c->max_clients_per_user);
    }
    return bad(p, "internal: key %d", k);
}

static int parse_line(parse_t *p, char *line, int seen[K_N])
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    char *s = trim(line);
    if (!*s)
        return CHASE_OK;
    char *eq = strchr(s, '=');
    if (!eq)
        return bad(p, "expected 'key = value', got '%.64s'", s);
    *eq = '\0';
    char *key = trim(s), *value = trim(eq + 1);
    int k = 0;
    while (k < K_N && strcmp(key, keys[k]) != 0)
        k++;
    if (k == K_N)
        return bad(p,
                   "unknown key '%.64s' (known: allow_users, allow_groups, gpus, min_power_w, max_power_w, "
                   "require_device_access, dev_dir, max_clients, max_clients_per_user)",
                   key);
    if (seen[k])
        return bad(p, "%s is set twice (first at line %d)", keys[k], seen[k]);
    seen[k] = p->line;
    if (!*value && k != K_USERS && k != K_GROUPS)
        return bad(p, "%s has no value", keys[k]);
    return parse_value(p, k, value);
}

int chase_agent_config_parse(const char *text, size_t len, const char *name, chase_agent_config_t *c, chase_err_t *err)
{
    chase_agent_config_init(c);
    snprintf(c->path, sizeof c->path, "%s", name ? name : "");
    parse_t p = {c->path[0] ? c->path : "(config)", 0, c, err};
    int seen[K_N] = {0};
    size_t pos = 0;
    char line[CONFIG_LINE_MAX + 1];
    while (pos < len) {
        p.line++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        if (n > CONFIG_LINE_MAX)
            return bad(&p, "line longer than %d bytes", CONFIG_LINE_MAX);
        if (memchr(text + pos, '\0', n))
            return bad(&p, "a NUL byte: not a text file");
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + (nl ? 1 : 0);
        int rc = parse_line(&p, line, seen);
        if (rc != CHASE_OK)
            return rc;
    }
    if (isfinite(c->min_power_w) && isfinite(c->max_power_w) && c->min_power_w > c->max_power_w) {
        p.line = c->range_line;
        return bad(&p, "min_power_w %g is above max_power_w %g", c->min_power_w, c->max_power_w);
    }
    return CHASE_OK;
}

int chase_agent_config_load(const char *path, chase_agent_config_t *c, chase_err_t *err)
{
    chase_agent_config_init(c);
    FILE *f = fopen(path, "r");
    if (!f)
        return chase_err_set(err, errno == ENOENT ? CHASE_ENOTFOUND : CHASE_EIO, "cannot read %s: %s", path,
                             strerror(errno));
    char *text = malloc(CONFIG_FILE_MAX + 1);
    if (!text) {
        fclose(f);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    size_t n = fread(text, 1, CONFIG_FILE_MAX + 1, f);
    int failed = ferror(f);
    fclose(f);
    int rc;
    if (failed)
        rc = chase_err_set(err, CHASE_EIO, "cannot read %s", path);
    else if (n > CONFIG_FILE_MAX)
        rc = chase_err_set(err, CHASE_EFORMAT, "%s: larger than %d bytes: not a chased configuration", path,
                           CONFIG_FILE_MAX);
    else
        rc = chase_agent_config_parse(text, n, path, c, err);
    free(text);
    return rc;
}
