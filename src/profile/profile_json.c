/* chase's own profile file: JSON read, parse and atomic write (format in docs/profiles.md). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chase/profile.h"
#include "util/atomic_file.h"
#include "util/escape.h"
#include "util/file.h"

/* A profile is a few dozen points; anything this large is not a profile and should not be slurped. */
#define MAX_PROFILE_BYTES (4u << 20)

static size_t line_of(const char *text, size_t len, const char *at)
{
    size_t line = 1;
    for (const char *c = text; c < at && c < text + len; c++)
        line += *c == '\n';
    return line;
}

/* A required or optional string member: CHASE_OK with *out set (NULL when absent and optional). */
static int get_string(const cJSON *obj, const char *key, int required, const char *where, const char **out,
                      chase_err_t *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!it) {
        if (required)
            return chase_err_set(err, CHASE_EFORMAT, "%s: missing field \"%s\"", where, key);
        return CHASE_OK;
    }
    if (!cJSON_IsString(it))
        return chase_err_set(err, CHASE_EFORMAT, "%s: field \"%s\" must be a string", where, key);
    /* Names end up in tables and messages on a terminal: a control character there is an attack or corruption. */
    if (chase_escape_needed(it->valuestring, strlen(it->valuestring))) {
        char shown[256];
        return chase_err_set(err, CHASE_EFORMAT, "%s: field \"%s\" holds control characters or invalid UTF-8: \"%s\"",
                             where, key, chase_escape(it->valuestring, shown, sizeof shown));
    }
    *out = it->valuestring;
    return CHASE_OK;
}

static int get_positive(const cJSON *pt, const char *key, const char *where, size_t i, double *out, chase_err_t *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(pt, key);
    if (!it)
        return chase_err_set(err, CHASE_EFORMAT, "%s: points[%zu]: missing field \"%s\"", where, i, key);
    if (!cJSON_IsNumber(it))
        return chase_err_set(err, CHASE_EFORMAT, "%s: points[%zu]: field \"%s\" must be a number", where, i, key);
    double v = it->valuedouble;
    if (!isfinite(v) || v <= 0.0)
        return chase_err_set(err, CHASE_EFORMAT, "%s: points[%zu]: field \"%s\" must be > 0 (got %g)", where, i, key,
                             v);
    *out = v;
    return CHASE_OK;
}

typedef struct indexed {
    double setting;
    size_t i;
} indexed_t;

static int cmp_indexed(const void *a, const void *b)
{
    const indexed_t *x = a, *y = b;
    if (x->setting != y->setting)
        return (x->setting > y->setting) - (x->setting < y->setting);
    return (x->i > y->i) - (x->i < y->i);
}

/* Names the first point (in file order) that repeats an earlier one's limit, and that earlier one. Sorting copies
 * keeps this O(n log n): a comparison of every pair took 86 s for a 70,000-point file. */
static int check_duplicates(const chase_profile_t *p, const char *where, chase_err_t *err)
{
    if (p->n < 2)
        return CHASE_OK;
    indexed_t *s = malloc(p->n * sizeof *s);
    if (!s)
        return chase_err_set(err, CHASE_ENOMEM, "%s: out of memory", where);
    for (size_t i = 0; i < p->n; i++)
        s[i] = (indexed_t){p->pts[i].setting, i};
    qsort(s, p->n, sizeof *s, cmp_indexed);
    /* In each run of equal limits the first two indices are the first repeat and what it repeats. */
    size_t best = SIZE_MAX, first = 0;
    for (size_t k = 1; k < p->n; k++)
        if (s[k].setting == s[k - 1].setting && (k < 2 || s[k - 2].setting != s[k].setting) && s[k].i < best) {
            best = s[k].i;
            first = s[k - 1].i;
        }
    free(s);
    if (best == SIZE_MAX)
        return CHASE_OK;
    return chase_err_set(err, CHASE_EFORMAT, "%s: points[%zu] and points[%zu] both measure %g W", where, first, best,
                         p->pts[best].setting);
}

static int from_json(const cJSON *root, const char *where, chase_profile_t **out, chase_err_t *err)
{
    if (!cJSON_IsObject(root))
        return chase_err_set(err, CHASE_EFORMAT, "%s: a profile must be a JSON object", where);
    const char *name, *gpu, *unit, *source;
    int rc;
    if ((rc = get_string(root, "name", 1, where, &name, err)) || (rc = get_string(root, "gpu", 0, where, &gpu, err)) ||
        (rc = get_string(root, "unit", 1, where, &unit, err)) ||
        (rc = get_string(root, "source", 0, where, &source, err)))
        return rc;
    if (!*name)
        return chase_err_set(err, CHASE_EFORMAT, "%s: field \"name\" must not be empty", where);
    if (!*unit)
        return chase_err_set(err, CHASE_EFORMAT, "%s: field \"unit\" must not be empty (e.g. \"epoch\")", where);
    const cJSON *points = cJSON_GetObjectItemCaseSensitive(root, "points");
    if (!points)
        return chase_err_set(err, CHASE_EFORMAT, "%s: missing field \"points\"", where);
    if (!cJSON_IsArray(points))
        return chase_err_set(err, CHASE_EFORMAT, "%s: field \"points\" must be an array", where);
    int n = cJSON_GetArraySize(points);
    if (n <= 0)
        return chase_err_set(err, CHASE_EFORMAT, "%s: \"points\" is empty: a profile needs at least one measured limit",
                             where);

    chase_profile_t *p = chase_profile_new(name, (size_t)n);
    if (!p)
        return chase_err_set(err, CHASE_ENOMEM, "%s: out of memory", where);
    snprintf(p->gpu, sizeof p->gpu, "%s", gpu ? gpu : "");
    snprintf(p->unit, sizeof p->unit, "%s", unit);

    size_t i = 0;
    const cJSON *pt;
    cJSON_ArrayForEach(pt, points)
    {
        chase_profile_point_t *q = &p->pts[i];
        if (!cJSON_IsObject(pt)) {
            rc = chase_err_set(err, CHASE_EFORMAT, "%s: points[%zu] must be an object", where, i);
            goto fail;
        }
        if ((rc = get_positive(pt, "power_limit_w", where, i, &q->setting, err)) ||
            (rc = get_positive(pt, "throughput", where, i, &q->throughput, err)) ||
            (rc = get_positive(pt, "power_w", where, i, &q->power_w, err)))
            goto fail;
        i++;
    }
    /* Validation below sorts and would lose the indices; name both offending points while we still can. */
    if ((rc = check_duplicates(p, where, err)) || (rc = chase_profile_validate(p, err)))
        goto fail;
    *out = p;
    return CHASE_OK;
fail:
    chase_profile_free(p);
    return rc;
}

int chase_profile_parse_json(const char *text, size_t len, const char *name, chase_profile_t **out, chase_err_t *err)
{
    char where[256];
    chase_escape(name && *name ? name : "profile", where, sizeof where);
    if (!text || !out)
        return chase_err_set(err, CHASE_EINVAL, "%s: no text to parse", where);
    *out = NULL;
    /* cJSON stops at a NUL as if the text ended there: what follows would be silently ignored. */
    const char *nul = memchr(text, '\0', len);
    if (nul)
        return chase_err_set(err, CHASE_EFORMAT, "%s:%zu: a NUL byte (binary data); a profile is a JSON text file",
                             where, line_of(text, len, nul));
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t line = line_of(text, len, end ? end : text);
        return chase_err_set(err, CHASE_EFORMAT, "%s:%zu: not valid JSON", where, line);
    }
    /* cJSON stops after the first value; anything but white space after it means the file is not what we think. */
    while (end && end < text + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    if (end && end < text + len && *end) {
        cJSON_Delete(root);
        return chase_err_set(err, CHASE_EFORMAT, "%s:%zu: unexpected text after the JSON value", where,
                             line_of(text, len, end));
    }
    int rc = from_json(root, where, out, err);
    cJSON_Delete(root);
    return rc;
}

int chase_profile_read_json(const char *path, chase_profile_t **out, chase_err_t *err)
{
    if (!path || !out)
        return chase_err_set(err, CHASE_EINVAL, "profile path is NULL");
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    int rc = chase_file_read_regular(path, MAX_PROFILE_BYTES, &buf, &len, err);
    if (rc)
        return rc;
    if (len == 0) {
        char ep[256];
        rc = chase_err_set(err, CHASE_EFORMAT, "%s: empty file", chase_escape(path, ep, sizeof ep));
    } else {
        rc = chase_profile_parse_json(buf, len, path, out, err);
    }
    free(buf);
    return rc;
}

/* Adds v printed with the fewest digits that read back as the very same double (cJSON's own printer only promises
 * a close one), so that a written profile reads back bit for bit. */
static int add_number(cJSON *obj, const char *key, double v)
{
    char buf[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return cJSON_AddRawToObject(obj, key, buf) != NULL;
}

static cJSON *to_json(const chase_profile_t *p)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON *points = NULL;
    if (!cJSON_AddStringToObject(root, "name", p->name) || !cJSON_AddStringToObject(root, "gpu", p->gpu) ||
        !cJSON_AddStringToObject(root, "unit", p->unit) || !(points = cJSON_AddArrayToObject(root, "points")))
        goto fail;
    for (size_t i = 0; i < p->n; i++) {
        cJSON *pt = cJSON_CreateObject();
        if (!pt || !cJSON_AddItemToArray(points, pt)) {
            cJSON_Delete(pt);
            goto fail;
        }
        if (!add_number(pt, "power_limit_w", p->pts[i].setting) ||
            !add_number(pt, "throughput", p->pts[i].throughput) || !add_number(pt, "power_w", p->pts[i].power_w))
            goto fail;
    }
    return root;
fail:
    cJSON_Delete(root);
    return NULL;
}

int chase_profile_write_json(const chase_profile_t *p, const char *path, chase_err_t *err)
{
    if (!p || !path)
        return chase_err_set(err, CHASE_EINVAL, "profile or path is NULL");
    if (p->n == 0 || !*p->unit || !*p->name)
        return chase_err_set(err, CHASE_EINVAL, "%s: profile '%s' needs a name, a unit and at least one point", path,
                             p->name);
    for (size_t i = 0; i < p->n; i++) {
        const chase_profile_point_t *q = &p->pts[i];
        if (!(isfinite(q->setting) && q->setting > 0 && isfinite(q->throughput) && q->throughput > 0 &&
              isfinite(q->power_w) && q->power_w > 0))
            return chase_err_set(err, CHASE_EINVAL, "%s: point %zu of '%s' is not a valid measurement", path, i,
                                 p->name);
    }
    cJSON *root = to_json(p);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return chase_err_set(err, CHASE_ENOMEM, "%s: out of memory", path);

    /* Beside the target, then renamed over it: a reader never sees half a profile. A profile is not a secret. */
    size_t len = strlen(text);
    char *line = realloc(text, len + 2);
    if (!line) {
        free(text);
        return chase_err_set(err, CHASE_ENOMEM, "%s: out of memory", path);
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    int rc = chase_file_write_atomic(path, line, len + 1, 0644, err);
    free(line);
    return rc;
}
