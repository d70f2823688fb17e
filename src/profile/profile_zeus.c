/* Reads one workload's power-limit profile straight from a Zeus summary_power CSV (github ml-energy/zeus). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chase/profile.h"
#include "util/escape.h"
#include "util/file.h"
#include "util/grow.h"

enum { COL_DATASET, COL_NETWORK, COL_BATCH, COL_OPTIMIZER, COL_PL, COL_TIME, COL_POWER, NCOLS };
static const char *const col_names[NCOLS] = {"dataset",     "network",        "batch_size",   "optimizer",
                                             "power_limit", "time_per_epoch", "average_power"};

#define MAX_FIELDS 32
#define MAX_SUGGEST 6

typedef struct workload {
    char dataset[64], network[64], optimizer[64];
    long batch;
} workload_t;

/* Splits line in place at commas; returns the field count (more than MAX_FIELDS counts as MAX_FIELDS + 1). */
static int split(char *line, char **f)
{
    int n = 0;
    for (char *s = line;; s++) {
        if (n > MAX_FIELDS)
            return n;
        f[n++] = s;
        s = strchr(s, ',');
        if (!s)
            return n;
        *s = '\0';
    }
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

static int parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v <= 0)
        return -1;
    *out = v;
    return 0;
}

static int parse_positive(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v <= 0.0)
        return -1;
    *out = v;
    return 0;
}

static int copy_part(char *dst, size_t size, const char *src, size_t len)
{
    if (len == 0 || len >= size)
        return -1;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

static int parse_workload(const char *spec, workload_t *w, chase_err_t *err)
{
    const char *part[4];
    size_t len[4];
    const char *s = spec;
    int k = 0;
    for (;;) {
        const char *slash = strchr(s, '/');
        if (k == 4)
            goto bad;
        part[k] = s;
        len[k] = slash ? (size_t)(slash - s) : strlen(s);
        k++;
        if (!slash)
            break;
        s = slash + 1;
    }
    if (k != 4)
        goto bad;
    char batch[32];
    if (copy_part(w->dataset, sizeof w->dataset, part[0], len[0]) ||
        copy_part(w->network, sizeof w->network, part[1], len[1]) || copy_part(batch, sizeof batch, part[2], len[2]) ||
        copy_part(w->optimizer, sizeof w->optimizer, part[3], len[3]))
        goto bad;
    char shown[256], sb[128];
    if (parse_long(batch, &w->batch))
        return chase_err_set(err, CHASE_EINVAL, "workload '%s': batch size '%s' is not a positive integer",
                             chase_escape(spec, shown, sizeof shown), chase_escape(batch, sb, sizeof sb));
    return CHASE_OK;
bad:
    return chase_err_set(err, CHASE_EINVAL,
                         "workload '%s' is not DATASET/NETWORK/BATCH/OPTIMIZER (e.g. imagenet/resnet50/256/adadelta)",
                         chase_escape(spec, shown, sizeof shown));
}

/* "zeus-summary_power_a40.csv" -> "A40"; empty when the file is named otherwise. */
static void gpu_from_path(const char *path, char *gpu, size_t size)
{
    static const char prefix[] = "zeus-summary_power_", suffix[] = ".csv";
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    gpu[0] = '\0';
    size_t n = strlen(base);
    if (strncmp(base, prefix, sizeof prefix - 1) != 0 || n <= sizeof prefix - 1 + sizeof suffix - 1 ||
        strcmp(base + n - (sizeof suffix - 1), suffix) != 0)
        return;
    size_t len = n - (sizeof prefix - 1) - (sizeof suffix - 1);
    if (len >= size)
        len = size - 1;
    for (size_t i = 0; i < len; i++)
        gpu[i] = (char)toupper((unsigned char)base[sizeof prefix - 1 + i]);
    gpu[len] = '\0';
}

/* One measurement of the wanted workload; `row` keeps file order for averaging in a fixed order. */
typedef struct acc {
    double pl, t, p;
    size_t row;
} acc_t;

typedef struct reader {
    const char *path; /* escaped, for messages */
    workload_t want;
    int col[NCOLS];
    acc_t *acc;
    size_t nacc, cap;
    /* Other workloads seen, to suggest when the wanted one is missing: same dataset/network first. */
    char suggest[MAX_SUGGEST][160];
    int nsuggest, suggest_close;
} reader_t;

static int header(reader_t *r, char *line, chase_err_t *err)
{
    char *f[MAX_FIELDS + 1];
    int n = split(line, f);
    for (int c = 0; c < NCOLS; c++) {
        r->col[c] = -1;
        for (int i = 0; i < n && i < MAX_FIELDS; i++)
            if (strcmp(f[i], col_names[c]) == 0)
                r->col[c] = i;
        if (r->col[c] < 0)
            return chase_err_set(err, CHASE_EFORMAT,
                                 "%s:1: header has no column '%s' (a Zeus summary_power CSV has dataset,network,"
                                 "batch_size,optimizer,power_limit,time_per_epoch,average_power)",
                                 r->path, col_names[c]);
    }
    return CHASE_OK;
}

static void note_other(reader_t *r, const char *ds, const char *net, const char *batch, const char *opt)
{
    int close = strcasecmp(ds, r->want.dataset) == 0 && strcasecmp(net, r->want.network) == 0;
    if (r->suggest_close && !close)
        return;
    if (close && !r->suggest_close) {
        r->suggest_close = 1;
        r->nsuggest = 0;
    }
    char w[160], raw[160];
    snprintf(raw, sizeof raw, "%s/%s/%s/%s", ds, net, batch, opt);
    chase_escape(raw, w, sizeof w);
    for (int i = 0; i < r->nsuggest; i++)
        if (strcmp(r->suggest[i], w) == 0)
            return;
    if (r->nsuggest < MAX_SUGGEST)
        snprintf(r->suggest[r->nsuggest++], sizeof r->suggest[0], "%s", w);
}

static int row(reader_t *r, char *line, size_t lineno, chase_err_t *err)
{
    char *f[MAX_FIELDS + 1];
    int n = split(line, f);
    int ncols = 0;
    for (int c = 0; c < NCOLS; c++)
        if (r->col[c] + 1 > ncols)
            ncols = r->col[c] + 1;
    if (n < ncols || n > MAX_FIELDS)
        return chase_err_set(err, CHASE_EFORMAT, "%s:%zu: expected at least %d comma-separated fields, got %d", r->path,
                             lineno, ncols, n);
    const char *ds = f[r->col[COL_DATASET]], *net = f[r->col[COL_NETWORK]], *opt = f[r->col[COL_OPTIMIZER]];
    const char *bs = f[r->col[COL_BATCH]];
    long batch;
    double pl, t, pw;
    char shown[256];
    if (parse_long(bs, &batch))
        return chase_err_set(err, CHASE_EFORMAT, "%s:%zu: batch_size '%s' is not a positive integer", r->path, lineno,
                             chase_escape(bs, shown, sizeof shown));
    if (parse_positive(f[r->col[COL_PL]], &pl))
        return chase_err_set(err, CHASE_EFORMAT, "%s:%zu: power_limit '%s' is not a positive number", r->path, lineno,
                             chase_escape(f[r->col[COL_PL]], shown, sizeof shown));
    if (parse_positive(f[r->col[COL_TIME]], &t))
        return chase_err_set(err, CHASE_EFORMAT, "%s:%zu: time_per_epoch '%s' is not a positive number", r->path,
                             lineno, chase_escape(f[r->col[COL_TIME]], shown, sizeof shown));
    if (parse_positive(f[r->col[COL_POWER]], &pw))
        return chase_err_set(err, CHASE_EFORMAT, "%s:%zu: average_power '%s' is not a positive number", r->path, lineno,
                             chase_escape(f[r->col[COL_POWER]], shown, sizeof shown));
    if (batch != r->want.batch || strcasecmp(ds, r->want.dataset) || strcasecmp(net, r->want.network) ||
        strcasecmp(opt, r->want.optimizer)) {
        note_other(r, ds, net, bs, opt);
        return CHASE_OK;
    }
    /* Kept one by one; repeats of a limit are averaged after sorting (see average_repeats). */
    acc_t *a = chase_grow(r->acc, &r->cap, r->nacc + 1, sizeof *a, 16);
    if (!a)
        return chase_err_set(err, CHASE_ENOMEM, "%s: out of memory", r->path);
    r->acc = a;
    r->acc[r->nacc] = (acc_t){pl, t, pw, r->nacc};
    r->nacc++;
    return CHASE_OK;
}

static int cmp_acc(const void *a, const void *b)
{
    const acc_t *x = a, *y = b;
    if (x->pl != y->pl)
        return (x->pl > y->pl) - (x->pl < y->pl);
    return (x->row > y->row) - (x->row < y->row);
}

/* Repeated measurements of one limit are averaged: the profile wants the typical run, not one sample. Sorting first
 * keeps this O(n log n) however many limits a file has; within a limit the sums run in file order. Returns the
 * number of distinct limits, written as averages to the front of acc. */
static size_t average_repeats(acc_t *acc, size_t n)
{
    qsort(acc, n, sizeof *acc, cmp_acc);
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double t = 0, p = 0;
        for (; j < n && acc[j].pl == acc[i].pl; j++) {
            t += acc[j].t;
            p += acc[j].p;
        }
        acc[out++] = (acc_t){acc[i].pl, t / (double)(j - i), p / (double)(j - i), 0};
        i = j;
    }
    return out;
}

static int unknown_workload(const reader_t *r, const char *workload, chase_err_t *err)
{
    char list[MAX_SUGGEST * 162] = "";
    size_t used = 0;
    for (int i = 0; i < r->nsuggest && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", r->suggest[i]);
    if (r->nsuggest == 0)
        return chase_err_set(err, CHASE_ENOTFOUND, "%s: no workload '%s' (the file has no measurements at all)",
                             r->path, workload);
    return chase_err_set(err, CHASE_ENOTFOUND, "%s: no workload '%s'; %s: %s%s", r->path, workload,
                         r->suggest_close ? "measured with the same dataset/network" : "some that are there", list,
                         r->nsuggest == MAX_SUGGEST ? ", ..." : "");
}

int chase_profile_read_zeus_csv(const char *path, const char *workload, chase_profile_t **out, chase_err_t *err)
{
    if (!path || !workload || !out)
        return chase_err_set(err, CHASE_EINVAL, "Zeus CSV path, workload and output must not be NULL");
    *out = NULL;
    reader_t r;
    memset(&r, 0, sizeof r);
    char ep[256], ew[256];
    r.path = chase_escape(path, ep, sizeof ep);
    int rc = parse_workload(workload, &r.want, err);
    if (rc)
        return rc;
    chase_escape(workload, ew, sizeof ew);
    FILE *f = NULL;
    if ((rc = chase_file_open_regular(path, &f, err)))
        return rc;
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if ((size_t)got != strlen(line)) {
            rc = chase_err_set(err, CHASE_EFORMAT, "%s:%zu: NUL byte in line; not a CSV file", r.path, lineno);
            break;
        }
        chomp(line);
        if (lineno == 1) {
            /* Spreadsheet tools like to prepend a UTF-8 byte-order mark. */
            if (strncmp(line, "\xEF\xBB\xBF", 3) == 0)
                memmove(line, line + 3, strlen(line + 3) + 1);
            if ((rc = header(&r, line, err)))
                break;
            continue;
        }
        if (!*line)
            continue; /* a trailing blank line is common and harmless */
        if ((rc = row(&r, line, lineno, err)))
            break;
    }
    if (!rc && ferror(f))
        rc = chase_err_set(err, CHASE_EIO, "%s: read error", r.path);
    if (!rc && lineno == 0)
        rc = chase_err_set(err, CHASE_EFORMAT, "%s: empty file", r.path);
    free(line);
    fclose(f);
    if (!rc && r.nacc == 0)
        rc = unknown_workload(&r, ew, err);
    if (rc) {
        free(r.acc);
        return rc;
    }

    size_t n = average_repeats(r.acc, r.nacc);
    chase_profile_t *p = chase_profile_new(NULL, n);
    if (!p) {
        free(r.acc);
        return chase_err_set(err, CHASE_ENOMEM, "%s: out of memory", r.path);
    }
    char gpu[sizeof p->gpu];
    gpu_from_path(path, gpu, sizeof gpu);
    chase_escape(gpu, p->gpu, sizeof p->gpu); /* a label from a file name: shown in tables */
    char lower[sizeof p->gpu];
    size_t i;
    for (i = 0; p->gpu[i]; i++)
        lower[i] = (char)tolower((unsigned char)p->gpu[i]);
    lower[i] = '\0';
    /* "a40 imagenet/resnet50/256/adadelta": the workload escaped to fit (never half an escape; a real one is far
     * shorter). */
    size_t o = strlen(lower);
    memcpy(p->name, lower, o);
    if (o)
        p->name[o++] = ' ';
    chase_escape(workload, p->name + o, sizeof p->name - o);
    snprintf(p->unit, sizeof p->unit, "epoch");
    for (i = 0; i < n; i++)
        p->pts[i] = (chase_profile_point_t){r.acc[i].pl, 1.0 / r.acc[i].t, r.acc[i].p};
    free(r.acc);
    if ((rc = chase_profile_validate(p, err))) {
        chase_profile_free(p);
        return rc;
    }
    *out = p;
    return CHASE_OK;
}
