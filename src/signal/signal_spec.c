/* A signal spec as text: "NAME:ARGS" items, several of which form a fallback chain. This file splits a spec into
 * its sources, opens each through the table of sources (registry.c), and shows a spec with its credentials blanked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/provider.h"
#include "chase/signal.h"
#include "chase/timeutil.h"
#include "signal/registry.h"

#define DEFAULT_MAX_STALE_S (2 * 3600.0)
#define MAX_MEMBERS 8

/* An item starts a new source when it is a bare name or "name:..." with no '=' before the ':'. */
static int starts_source(const char *item, size_t len)
{
    const char *colon = memchr(item, ':', len), *eq = memchr(item, '=', len);
    if (colon)
        return !eq || colon < eq;
    return !eq;
}

/* One source of a chain, by its row in the table. */
static int open_one(const char *name, const char *args, const chase_signal_open_opts_t *opts, chase_signal_t **out,
                    chase_err_t *err)
{
    const chase_source_row_t *row = chase_source_find(name);
    chase_signal_open_opts_t defaults = {0};
    if (row) {
        chase_source_ctx_t ctx = {opts ? opts : &defaults, opts ? opts->wait_s : 0, 1};
        return chase_source_open(row, args, &ctx, out, err);
    }
    if (!*name)
        return chase_err_set(err, CHASE_EINVAL, "signal spec names no provider; write NAME:ARGS, e.g. static:400");
    if (chase_keys_secret_like(name, strlen(name)))
        return chase_err_set(err, CHASE_EINVAL,
                             "a source name in the signal spec is not available in this build (not shown: it looks "
                             "like a credential; write key=value after a source, e.g. electricitymaps:zone=DE)");
    char avail[256] = "";
    for (size_t i = 0; chase_signal_source(i); i++)
        snprintf(avail + strlen(avail), sizeof avail - strlen(avail), "%s%s", i ? ", " : "",
                 chase_signal_source(i)->name);
    /* A bare file name is the likeliest slip: say how to write it. */
    const char *dot = strrchr(name, '.');
    int looks_like_file = strchr(name, '/') || (dot && (!strcmp(dot, ".csv") || !strcmp(dot, ".CSV")));
    return chase_err_set(err, CHASE_EINVAL, "provider '%.40s' is not available in this build (available: %s)%s%.40s",
                         name, avail, looks_like_file ? "; for a trace file write trace:" : "",
                         looks_like_file ? name : "");
}

int chase_signal_open(const char *spec, const chase_signal_open_opts_t *opts, chase_signal_t **out, chase_err_t *err)
{
    if (!spec || !*spec || !out)
        return chase_err_set(err, CHASE_EINVAL, "missing signal spec (e.g. trace:FILE.csv, static:400, ukci)");
    return chase_signal_open_chain(spec, opts, open_one, out, err);
}

int chase_signal_open_chain(const char *spec, const chase_signal_open_opts_t *opts,
                            chase_signal_open_one_fn open_one_fn, chase_signal_t **out, chase_err_t *err)
{
    *out = NULL;
    if (!spec || !*spec)
        return chase_err_set(err, CHASE_EINVAL,
                             "empty signal spec (e.g. ukci, electricitymaps:zone=DE, trace:FILE.csv, static:300)");
    char *copy = strdup(spec);
    if (!copy)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    char *names[MAX_MEMBERS], *keys[MAX_MEMBERS] = {NULL};
    size_t nk[MAX_MEMBERS] = {0}, ns = 0, item_no = 0;
    double max_stale = DEFAULT_MAX_STALE_S;
    int rc = CHASE_OK, any_live = 0;
    /* keys[i] is rebuilt in its own buffer: the items of source i joined by commas. */
    for (char *p = copy; rc == CHASE_OK && p;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        char *item = p;
        p = comma ? comma + 1 : NULL;
        item_no++;
        if (!*item) {
            rc = chase_err_set(err, CHASE_EINVAL, "signal spec: item %zu is empty (stray comma?)", item_no);
            break;
        }
        if (starts_source(item, strlen(item))) {
            if (ns == MAX_MEMBERS) {
                rc = chase_err_set(err, CHASE_EINVAL, "signal spec: more than %d sources", MAX_MEMBERS);
                break;
            }
            char *colon = strchr(item, ':');
            if (colon)
                *colon = '\0';
            names[ns] = item;
            if (!(keys[ns] = calloc(1, strlen(spec) + 1))) {
                rc = chase_err_set(err, CHASE_ENOMEM, "out of memory");
                break;
            }
            ns++;
            if (!colon || !colon[1])
                continue;
            item = colon + 1;
        } else if (ns == 0) {
            rc = chase_err_set(err, CHASE_EINVAL,
                               "signal spec: item %zu comes before any source name (e.g. electricitymaps:zone=DE)",
                               item_no);
            break;
        }
        if (!strncmp(item, "max_stale=", 10)) {
            if (chase_duration_parse(item + 10, &max_stale, NULL) != CHASE_OK)
                rc = chase_err_set(err, CHASE_EINVAL, "signal spec: max_stale=%.30s is not a duration (e.g. 2h)",
                                   item + 10);
            continue;
        }
        if (nk[ns - 1]++)
            strcat(keys[ns - 1], ",");
        strcat(keys[ns - 1], item);
    }
    chase_signal_t *members[MAX_MEMBERS];
    size_t opened = 0;
    for (size_t i = 0; rc == CHASE_OK && i < ns; i++) {
        any_live |= chase_provider_known(names[i]);
        if ((rc = open_one_fn(names[i], keys[i], opts, &members[i], err)) == CHASE_OK)
            opened++;
    }
    for (size_t i = 0; i < ns; i++)
        free(keys[i]);
    free(copy);
    if (rc != CHASE_OK) {
        for (size_t i = 0; i < opened; i++)
            chase_signal_free(members[i]);
        return rc;
    }
    if (ns == 1 && !any_live) {
        *out = members[0];
        return CHASE_OK;
    }
    return chase_signal_fallback(members, ns, max_stale, opts ? opts->on_warning : NULL,
                                 opts ? opts->on_warning_arg : NULL, out, err);
}

/* Appends len bytes of s to buf (of size, at *used); returns 1 once it no longer fits. */
static int put(char *buf, size_t size, size_t *used, const char *s, size_t len)
{
    size_t room = size - 1 - *used;
    size_t take = len < room ? len : room;
    memcpy(buf + *used, s, take);
    *used += take;
    buf[*used] = '\0';
    return take < len;
}

/* A URL value with "user:password@" (or "token@") before its host: the part to blank, as offset and length. */
static int userinfo(const char *v, size_t len, size_t *off, size_t *n)
{
    const char *scheme = NULL;
    for (size_t i = 0; i + 2 < len; i++)
        if (v[i] == ':' && v[i + 1] == '/' && v[i + 2] == '/') {
            scheme = v + i + 3;
            break;
        }
    if (!scheme)
        return 0;
    size_t start = (size_t)(scheme - v), end = start;
    while (end < len && v[end] != '/' && v[end] != '@')
        end++;
    if (end >= len || v[end] != '@')
        return 0;
    *off = start;
    *n = end - start;
    return 1;
}

/* One item (no comma) of a spec, redacted; live is 1 while the items belong to a live source. */
static int redact_item(const char *item, size_t len, int *live, char *buf, size_t size, size_t *used)
{
    if (starts_source(item, len)) {
        const char *colon = memchr(item, ':', len);
        size_t head = colon ? (size_t)(colon - item) + 1 : len;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(head - (colon ? 1 : 0) < 63 ? head - (colon ? 1 : 0) : 63), item);
        *live = chase_provider_known(name);
        if (!chase_source_find(name) && chase_keys_secret_like(item, head))
            return put(buf, size, used, "***", 3);
        if (put(buf, size, used, item, head))
            return 1;
        item += head;
        len -= head;
        if (!len)
            return 0;
    }
    const char *eq = memchr(item, '=', len);
    if (!eq) /* a live source reads only key=value: a bare value there may be a pasted credential */
        return *live ? put(buf, size, used, "***", 3) : put(buf, size, used, item, len);
    size_t kl = (size_t)(eq - item), vl = len - kl - 1, off, n;
    char key[64];
    snprintf(key, sizeof key, "%.*s", (int)(kl < 63 ? kl : 63), item);
    const char *name = key;
    while (*name == ' ')
        name++;
    while (*key && key[strlen(key) - 1] == ' ')
        key[strlen(key) - 1] = '\0';
    if (chase_source_secret_key(name))
        return put(buf, size, used, item, kl + 1) || put(buf, size, used, "***", 3);
    if (userinfo(eq + 1, vl, &off, &n))
        return put(buf, size, used, item, kl + 1 + off) || put(buf, size, used, "***", 3) ||
               put(buf, size, used, eq + 1 + off + n, vl - off - n);
    return put(buf, size, used, item, len);
}

int chase_signal_spec_redact(const char *spec, char *buf, size_t size)
{
    if (!buf || size == 0)
        return CHASE_EINVAL;
    buf[0] = '\0';
    size_t used = 0;
    int live = 0;
    for (const char *p = spec; p;) {
        size_t len = strcspn(p, ",");
        if (redact_item(p, len, &live, buf, size, &used))
            return CHASE_ERANGE;
        p = p[len] ? p + len + 1 : NULL;
        if (p && put(buf, size, &used, ",", 1))
            return CHASE_ERANGE;
    }
    return CHASE_OK;
}
