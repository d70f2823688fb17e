/* Slurm host lists (see hostlist.h): the subset chase meets in gres.conf File= and NodeName= and in a step's node
 * list. Slurm's own library is not linked here, so the plugin stays loadable anywhere. */
#include "slurm/hostlist.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAME 256

typedef struct names {
    char **v;
    size_t n, cap, max;
} names_t;

static int add(names_t *l, const char *s, size_t len, chase_err_t *err)
{
    if (l->n >= l->max)
        return chase_err_set(err, CHASE_ERANGE, "host list: more than %zu names", l->max);
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return chase_err_set(err, CHASE_ENOMEM, "out of memory");
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strndup(s, len)))
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    l->n++;
    return CHASE_OK;
}

/* A decimal number of at most 9 digits at *p; its width in *w. */
static int number(const char **p, long *out, int *w)
{
    const char *s = *p;
    int d = 0;
    long v = 0;
    while (isdigit((unsigned char)s[d]) && d < 9)
        v = v * 10 + (s[d++] - '0');
    if (!d || isdigit((unsigned char)s[d]))
        return -1;
    *out = v;
    *w = d;
    *p = s + d;
    return 0;
}

/* One item "PREFIX[RANGES]SUFFIX" or a plain name. */
static int expand_item(const char *item, size_t len, names_t *l, chase_err_t *err)
{
    const char *open = memchr(item, '[', len);
    if (!open) {
        if (memchr(item, ']', len))
            return chase_err_set(err, CHASE_EINVAL, "host list: unbalanced ']' in '%.*s'", (int)len, item);
        return add(l, item, len, err);
    }
    const char *close = memchr(open, ']', len - (size_t)(open - item));
    if (!close)
        return chase_err_set(err, CHASE_EINVAL, "host list: unbalanced '[' in '%.*s'", (int)len, item);
    const char *suffix = close + 1;
    size_t suffix_len = len - (size_t)(suffix - item), prefix_len = (size_t)(open - item);
    if (memchr(suffix, '[', suffix_len) || memchr(suffix, ']', suffix_len))
        return chase_err_set(err, CHASE_EINVAL, "host list: '%.*s' has more than one bracket group", (int)len, item);
    const char *p = open + 1;
    for (;;) {
        long a, b;
        int wa, wb;
        const char *first = p;
        if (number(&p, &a, &wa))
            return chase_err_set(err, CHASE_EINVAL, "host list: '%.*s' needs numbers in brackets", (int)len, item);
        b = a;
        wb = wa;
        if (*p == '-') {
            p++;
            if (number(&p, &b, &wb) || b < a)
                return chase_err_set(err, CHASE_EINVAL, "host list: bad range in '%.*s'", (int)len, item);
        }
        /* "01-12" keeps its width; "1-12" has none. */
        int width = wa > 1 && *first == '0' ? wa : 0;
        for (long v = a; v <= b; v++) {
            char name[MAX_NAME];
            int k =
                snprintf(name, sizeof name, "%.*s%0*ld%.*s", (int)prefix_len, item, width, v, (int)suffix_len, suffix);
            if (k < 0 || (size_t)k >= sizeof name)
                return chase_err_set(err, CHASE_EINVAL, "host list: a name of '%.*s' is too long", (int)len, item);
            int rc = add(l, name, (size_t)k, err);
            if (rc)
                return rc;
        }
        if (*p == ',') {
            p++;
            continue;
        }
        if (p != close)
            return chase_err_set(err, CHASE_EINVAL, "host list: unexpected '%c' in '%.*s'", *p, (int)len, item);
        return CHASE_OK;
    }
}

int chase_slurm_hostlist_expand(const char *text, size_t max, char ***out, size_t *n, chase_err_t *err)
{
    *out = NULL;
    *n = 0;
    names_t l = {NULL, 0, 0, max};
    const char *s = text;
    int rc = CHASE_OK;
    while (rc == CHASE_OK) {
        const char *e = s;
        int depth = 0;
        while (*e && (depth || *e != ',')) {
            depth += *e == '[' ? 1 : *e == ']' ? -1 : 0;
            e++;
        }
        if (e == s)
            rc = chase_err_set(err, CHASE_EINVAL, "host list: empty item in '%.60s'", text);
        else
            rc = expand_item(s, (size_t)(e - s), &l, err);
        if (!*e)
            break;
        s = e + 1;
    }
    if (rc) {
        chase_slurm_hostlist_free(l.v, l.n);
        return rc;
    }
    *out = l.v;
    *n = l.n;
    return CHASE_OK;
}

void chase_slurm_hostlist_free(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

int chase_slurm_hostlist_has(const char *text, const char *name)
{
    char **v;
    size_t n;
    if (chase_slurm_hostlist_expand(text, 65536, &v, &n, NULL))
        return 0;
    int found = 0;
    for (size_t i = 0; i < n && !found; i++)
        found = !strcmp(v[i], name);
    chase_slurm_hostlist_free(v, n);
    return found;
}
