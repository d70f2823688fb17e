/* The key=value reader every signal source uses, and the typed readers on top of it. Values are never echoed for
 * keys that may hold credentials: only the typed readers quote a value, and no credential goes through them. */
#include "signal/keys.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/timeutil.h"

/* An item longer than this is not quoted in messages: a stray credential pasted without "key=" must not show. */
#define QUOTE_MAX 15

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static int fail(chase_keys_t *k, int rc)
{
    chase_keys_free(k);
    return rc;
}

static int parse(const char *provider, const char *text, int lead, chase_keys_t *k, chase_err_t *err)
{
    memset(k, 0, sizeof *k);
    k->provider = provider;
    k->store = strdup(text ? text : "");
    if (!k->store)
        return chase_err_set(err, CHASE_ENOMEM, "%s: out of memory", provider);
    char *p = k->store;
    if (lead) {
        char *comma = strchr(p, ',');
        k->lead = p;
        if (!comma)
            return CHASE_OK;
        *comma = '\0';
        p = comma + 1;
    }
    size_t item_no = lead ? 1 : 0;
    while (p) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        char *item = trim(p);
        p = comma ? comma + 1 : NULL;
        item_no++;
        if (!*item)
            continue;
        char *eq = strchr(item, '=');
        if (!eq && strlen(item) <= QUOTE_MAX)
            return fail(
                k, chase_err_set(err, CHASE_EINVAL, "%s: '%s' in the signal spec is not key=value", provider, item));
        if (!eq)
            return fail(k, chase_err_set(err, CHASE_EINVAL,
                                         "%s: item %zu of the signal spec is not key=value (not shown: it may be a "
                                         "credential)",
                                         provider, item_no));
        *eq = '\0';
        char *key = trim(item), *value = trim(eq + 1);
        if (!*key)
            return fail(k, chase_err_set(err, CHASE_EINVAL, "%s: item %zu of the signal spec has no key before '='",
                                         provider, item_no));
        if (!*value)
            return fail(k, chase_err_set(err, CHASE_EINVAL, "%s: key '%.40s' has an empty value", provider, key));
        for (size_t i = 0; i < k->n; i++)
            if (!strcmp(k->key[i], key))
                return fail(k, chase_err_set(err, CHASE_EINVAL, "%s: key '%.40s' given twice in the signal spec",
                                             provider, key));
        if (k->n == CHASE_KEYS_MAX)
            return fail(k, chase_err_set(err, CHASE_EINVAL, "%s: more than %d keys in the signal spec", provider,
                                         CHASE_KEYS_MAX));
        k->key[k->n] = key;
        k->value[k->n] = value;
        k->n++;
    }
    return CHASE_OK;
}

int chase_keys_parse(const char *provider, const char *text, chase_keys_t *k, chase_err_t *err)
{
    return parse(provider, text, 0, k, err);
}

int chase_keys_parse_lead(const char *provider, const char *text, chase_keys_t *k, chase_err_t *err)
{
    return parse(provider, text, 1, k, err);
}

void chase_keys_free(chase_keys_t *k)
{
    free(k->store);
    memset(k, 0, sizeof *k);
}

const char *chase_keys_get(chase_keys_t *k, const char *key)
{
    for (size_t i = 0; i < k->n; i++)
        if (!strcmp(k->key[i], key))
            return k->value[i];
    return NULL;
}

/* 1 when name is one of the comma-separated words of list. */
static int listed(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t w = strcspn(p, ", ");
        if (w == len && !strncmp(p, name, len))
            return 1;
        p += w;
    }
    return 0;
}

int chase_keys_check(const chase_keys_t *k, const char *known, chase_err_t *err)
{
    for (size_t i = 0; i < k->n; i++)
        if (!listed(known, k->key[i]))
            return chase_err_set(err, CHASE_EINVAL, "%s: unknown key '%.40s' (known keys: %s)", k->provider, k->key[i],
                                 known);
    return CHASE_OK;
}

const char *chase_keys_secret(chase_keys_t *k, const char *key, const char *env, chase_warn_fn warn, void *warn_arg)
{
    const char *in_spec = chase_keys_get(k, key);
    const char *in_env = getenv(env);
    if (in_env && *in_env)
        return in_env;
    if (!in_spec)
        return NULL;
    if (warn) {
        char msg[300];
        snprintf(msg, sizeof msg,
                 "%s: %s= in the signal spec can be read in process listings and shell history; set %s in the "
                 "environment instead",
                 k->provider, key, env);
        warn(warn_arg, msg);
    }
    return in_spec;
}

int chase_keys_number(chase_keys_t *k, const char *key, double lo, double hi, double *out, chase_err_t *err)
{
    const char *v = chase_keys_get(k, key);
    if (!v)
        return CHASE_OK;
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !isfinite(d))
        return chase_err_set(err, CHASE_EINVAL, "%s: %s='%.40s' is not a number", k->provider, key, v);
    if (d < lo || d > hi)
        return chase_err_set(err, CHASE_EINVAL, "%s: %s=%.40s must be between %g and %g", k->provider, key, v, lo, hi);
    *out = d;
    return CHASE_OK;
}

int chase_keys_duration(chase_keys_t *k, const char *key, double lo_s, double hi_s, double *out, chase_err_t *err)
{
    const char *v = chase_keys_get(k, key);
    if (!v)
        return CHASE_OK;
    double d;
    if (chase_duration_parse(v, &d, NULL) != CHASE_OK)
        return chase_err_set(err, CHASE_EINVAL, "%s: %s='%.40s' is not a duration (e.g. 30s, 30m, 6h, 2d)", k->provider,
                             key, v);
    if (d < lo_s || d > hi_s)
        return chase_err_set(err, CHASE_EINVAL, "%s: %s=%.40s must be a duration from %gs to %gs", k->provider, key, v,
                             lo_s, hi_s);
    *out = d;
    return CHASE_OK;
}

int chase_keys_bool(chase_keys_t *k, const char *key, int *out, chase_err_t *err)
{
    const char *v = chase_keys_get(k, key);
    if (!v)
        return CHASE_OK;
    if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"))
        *out = 1;
    else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
        *out = 0;
    else
        return chase_err_set(err, CHASE_EINVAL, "%s: %s='%.40s' must be 1 or 0", k->provider, key, v);
    return CHASE_OK;
}

int chase_keys_latlon(chase_keys_t *k, double *lat, double *lon, int *given, chase_err_t *err)
{
    *given = 0;
    if (!chase_keys_get(k, "lat") && !chase_keys_get(k, "lon"))
        return CHASE_OK;
    if (!chase_keys_get(k, "lat") || !chase_keys_get(k, "lon"))
        return chase_err_set(err, CHASE_EINVAL, "%s: give both lat= and lon=", k->provider);
    int rc = chase_keys_number(k, "lat", -90, 90, lat, err);
    if (rc == CHASE_OK)
        rc = chase_keys_number(k, "lon", -180, 180, lon, err);
    if (rc == CHASE_OK)
        *given = 1;
    return rc;
}

int chase_keys_code_ok(const char *s, size_t max)
{
    if (!*s || strlen(s) >= max)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_'))
            return 0;
    return 1;
}

int chase_keys_secret_like(const char *s, size_t len)
{
    int alpha = 0, digit = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ')
            return 0;
        alpha |= (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z');
        digit |= s[i] >= '0' && s[i] <= '9';
    }
    return len >= 16 && alpha && digit;
}
