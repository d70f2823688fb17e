/* Reading carbon-intensity traces from CSV: time,ci files, named columns and the Electricity Maps portal export.
 * The rules (formats, gap filling, errors) are documented in docs/traces.md; keep the two in step. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chase/timeutil.h"
#include "chase/trace.h"
#include "signal/trace_steps.h"
#include "util/escape.h"
#include "util/file.h"
#include "util/grow.h"

#define MAX_SAMPLES 10000000 /* 95 years of 5-min samples: a bound on memory, far above any real trace */
#define FIELD_MAX 256        /* longest time, value or header name we look at; longer fields are skipped or rejected */
#define MAX_FILE_BYTES (1u << 30) /* a GiB: ten times the largest trace MAX_SAMPLES allows, far above any real one */
#define SHOWN 64                  /* bytes of a field quoted in a message (escaped, so up to four times as many) */

/* A field as it lies in the text; quoted fields still hold their doubled quotes. */
typedef struct span {
    const char *p;
    size_t len;
    int quoted;
} span_t;

typedef struct cursor {
    const char *p, *end;
    long line; /* line of p, 1-based */
    const char *name;
} cursor_t;

/* The rows read from the file (signal/trace_steps.h): one slot per row, allocated once from an upper bound on the
 * row count. */
typedef chase_trace_rows_t rows_t;

/* Reads one field at c->p; *eor is set when the field ended its record (end of line or of text). */
static int next_field(cursor_t *c, span_t *f, int *eor, chase_err_t *err)
{
    const char *p = c->p, *end = c->end, *q = p;
    while (q < end && (*q == ' ' || *q == '\t'))
        q++;
    f->quoted = 0;
    if (q < end && *q == '"') {
        long first = c->line;
        f->quoted = 1;
        f->p = ++q;
        for (;;) {
            if (q >= end)
                return chase_err_set(err, CHASE_EFORMAT, "%s:%ld: a quoted field is never closed (missing \")", c->name,
                                     first);
            if (*q == '"') {
                if (q + 1 < end && q[1] == '"') {
                    q += 2;
                    continue;
                }
                break;
            }
            if (*q == '\n')
                c->line++;
            q++;
        }
        f->len = (size_t)(q - f->p);
        q++;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (q < end && *q != ',' && *q != '\n' && *q != '\r')
            return chase_err_set(err, CHASE_EFORMAT, "%s:%ld: text after the closing quote of a field", c->name,
                                 c->line);
        p = q;
    } else {
        f->p = p;
        while (p < end && *p != ',' && *p != '\n' && *p != '\r')
            p++;
        f->len = (size_t)(p - f->p);
    }
    if (p >= end) {
        *eor = 1;
    } else if (*p == ',') {
        p++;
        *eor = 0;
    } else {
        if (*p == '\r' && p + 1 < end && p[1] == '\n')
            p++;
        p++;
        c->line++;
        *eor = 1;
    }
    c->p = p;
    return CHASE_OK;
}

/* Copies a field without its quotes and surrounding blanks into buf; -1 when it does not fit. */
static int span_copy(const span_t *f, char *buf, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < f->len; i++) {
        char ch = f->p[i];
        if (f->quoted && ch == '"')
            i++; /* a doubled quote stands for one */
        if (o + 1 >= size)
            return -1;
        buf[o++] = ch;
    }
    while (o && isspace((unsigned char)buf[o - 1]))
        o--;
    buf[o] = '\0';
    size_t lead = 0;
    while (isspace((unsigned char)buf[lead]))
        lead++;
    if (lead)
        memmove(buf, buf + lead, o - lead + 1);
    return 0;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Which column a header name is, for the default choice. */
enum { COL_OTHER, COL_TIME, COL_CI, COL_ACTUAL, COL_EM_DIRECT, COL_EM_LCA };

static int classify(const char *name)
{
    char low[FIELD_MAX];
    snprintf(low, sizeof low, "%s", name);
    lower(low);
    static const char *const times[] = {"time", "datetime", "datetime (utc)", "timestamp", "date", "point_time"};
    for (size_t i = 0; i < sizeof times / sizeof *times; i++)
        if (!strcmp(low, times[i]))
            return COL_TIME;
    if (!strcmp(low, "ci"))
        return COL_CI;
    if (!strcmp(low, "actual"))
        return COL_ACTUAL;
    /* Electricity Maps writes "Carbon Intensity gCO₂eq/kWh (direct)" and "(LCA)" (newer exports: "(Life cycle)"). */
    if (!strncmp(low, "carbon intensity", 16)) {
        if (strstr(low, "(direct)"))
            return COL_EM_DIRECT;
        if (strstr(low, "(lca)") || strstr(low, "(life cycle)"))
            return COL_EM_LCA;
    }
    return COL_OTHER;
}

/* The header: names copied once, so errors can list them. */
typedef struct header {
    char (*names)[FIELD_MAX];
    size_t n;
    long line;
} header_t;

static void list_columns(const header_t *h, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < h->n && o + 8 < size; i++) {
        char name[4 * SHOWN];
        chase_escape(h->names[i], name, sizeof name);
        int w = snprintf(buf + o, size - o, "%s'%s'", i ? ", " : "", name);
        if (w < 0 || (size_t)w >= size - o) {
            snprintf(buf + (size - 5), 5, "...");
            return;
        }
        o += (size_t)w;
    }
}

static int read_header(cursor_t *c, header_t *h, chase_err_t *err)
{
    size_t cap = 16;
    h->names = malloc(cap * sizeof *h->names);
    if (!h->names)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    for (;;) { /* skip blank lines before the header */
        if (c->p >= c->end)
            return chase_err_set(err, CHASE_EFORMAT, "%s: the file is empty (expected a header such as time,ci)",
                                 c->name);
        h->line = c->line;
        h->n = 0;
        int eor = 0;
        while (!eor) {
            span_t f;
            int rc = next_field(c, &f, &eor, err);
            if (rc)
                return rc;
            void *more = chase_grow(h->names, &cap, h->n + 1, sizeof *h->names, 16);
            if (!more)
                return chase_err_set(err, CHASE_ENOMEM, "out of memory");
            h->names = more;
            if (span_copy(&f, h->names[h->n], FIELD_MAX))
                return chase_err_set(err, CHASE_EFORMAT, "%s:%ld: header field %zu is longer than %d bytes", c->name,
                                     h->line, h->n + 1, FIELD_MAX - 1);
            h->n++;
        }
        if (h->n > 1 || h->names[0][0])
            return CHASE_OK;
    }
}

/* Picks the time and value columns following the documented order. */
static int choose_columns(const header_t *h, const chase_trace_read_opts_t *o, const char *name, size_t *tcol,
                          size_t *vcol, chase_err_t *err)
{
    char cols[300];
    long found[COL_EM_LCA + 1];
    for (int k = 0; k <= COL_EM_LCA; k++)
        found[k] = -1;
    for (size_t i = 0; i < h->n; i++) {
        int k = classify(h->names[i]);
        if (found[k] < 0)
            found[k] = (long)i;
    }
    list_columns(h, cols, sizeof cols);
    if (found[COL_TIME] < 0) {
        int64_t t;
        if (chase_time_parse(h->names[0], &t, NULL) == CHASE_OK)
            return chase_err_set(err, CHASE_EFORMAT,
                                 "%s:%ld: the first row is data, not a header; add a header line such as time,ci", name,
                                 h->line);
        return chase_err_set(err, CHASE_EFORMAT,
                             "%s:%ld: no time column (expected one named time, Datetime (UTC) or timestamp); "
                             "columns are %s",
                             name, h->line, cols);
    }
    *tcol = (size_t)found[COL_TIME];
    long v = -1;
    if (o->column && o->column[0]) {
        for (size_t i = 0; i < h->n && v < 0; i++)
            if (!strcmp(h->names[i], o->column))
                v = (long)i;
        for (size_t i = 0; i < h->n && v < 0; i++)
            if (!strcasecmp(h->names[i], o->column))
                v = (long)i;
        char want[4 * SHOWN];
        chase_escape(o->column, want, sizeof want);
        if (v < 0)
            return chase_err_set(err, CHASE_ENOTFOUND, "%s:%ld: no column named '%s'; columns are %s", name, h->line,
                                 want, cols);
        if ((size_t)v == *tcol)
            return chase_err_set(err, CHASE_EINVAL, "%s:%ld: column '%s' holds the times, not CI", name, h->line, want);
    } else if (o->lca) {
        v = found[COL_EM_LCA];
        if (v < 0)
            return chase_err_set(err, CHASE_EFORMAT,
                                 "%s:%ld: lca=1 reads the Electricity Maps 'Carbon Intensity gCO2eq/kWh (LCA)' column, "
                                 "but there is none; columns are %s",
                                 name, h->line, cols);
    } else {
        v = found[COL_CI] >= 0 ? found[COL_CI] : found[COL_ACTUAL] >= 0 ? found[COL_ACTUAL] : found[COL_EM_DIRECT];
        if (v < 0)
            return chase_err_set(err, CHASE_EFORMAT,
                                 "%s:%ld: no CI column (expected 'ci', 'actual' or the Electricity Maps "
                                 "'Carbon Intensity gCO2eq/kWh (direct)'); choose one with column=NAME; columns are %s",
                                 name, h->line, cols);
    }
    *vcol = (size_t)v;
    return CHASE_OK;
}

/* An upper bound on the number of records, so the row arrays are allocated once. */
static size_t count_lines(const char *p, size_t len)
{
    size_t n = 1;
    const char *end = p + len;
    for (const char *q = p; (q = memchr(q, '\n', (size_t)(end - q))); q++)
        n++;
    for (const char *q = p; (q = memchr(q, '\r', (size_t)(end - q))); q++)
        n++;
    return n;
}

static int read_rows(cursor_t *c, const header_t *h, size_t tcol, size_t vcol, rows_t *r, chase_err_t *err)
{
    char buf[FIELD_MAX], shown[4 * SHOWN], vname[4 * SHOWN];
    chase_escape(h->names[vcol], vname, sizeof vname);
    while (c->p < c->end) {
        long line = c->line;
        size_t nf = 0;
        int eor = 0;
        span_t f, ft = {0}, fv = {0}, f0 = {0};
        while (!eor) {
            int rc = next_field(c, &f, &eor, err);
            if (rc)
                return rc;
            if (nf == 0)
                f0 = f;
            if (nf == tcol)
                ft = f;
            if (nf == vcol)
                fv = f;
            nf++;
        }
        if (nf == 1 && span_copy(&f0, buf, sizeof buf) == 0 && !buf[0])
            continue; /* blank line */
        if (nf != h->n)
            return chase_err_set(err, CHASE_EFORMAT, "%s:%ld: %zu field%s, but the header (line %ld) has %zu", c->name,
                                 line, nf, nf == 1 ? "" : "s", h->line, h->n);
        if (span_copy(&ft, buf, sizeof buf))
            return chase_err_set(err, CHASE_EFORMAT, "%s:%ld: the time field is too long", c->name, line);
        int64_t t;
        if (!buf[0])
            return chase_err_set(err, CHASE_EFORMAT, "%s:%ld: the time is empty", c->name, line);
        if (chase_time_parse(buf, &t, NULL))
            return chase_err_set(err, CHASE_EFORMAT,
                                 "%s:%ld: '%s' is not an ISO-8601 UTC time (expected e.g. 2020-01-01T00:00:00Z)",
                                 c->name, line, chase_escape_bytes(buf, strnlen(buf, SHOWN), shown, sizeof shown));
        if (r->n && t <= r->t[r->n - 1]) {
            char a[32], b[32];
            chase_time_format(t, a, sizeof a);
            chase_time_format(r->t[r->n - 1], b, sizeof b);
            if (t == r->t[r->n - 1])
                return chase_err_set(err, CHASE_EFORMAT, "%s:%ld: duplicate time %s (also on line %ld)", c->name, line,
                                     a, r->line[r->n - 1]);
            return chase_err_set(err, CHASE_EFORMAT,
                                 "%s:%ld: time %s comes before %s on line %ld; rows must be in increasing time order",
                                 c->name, line, a, b, r->line[r->n - 1]);
        }
        if (span_copy(&fv, buf, sizeof buf))
            return chase_err_set(err, CHASE_EFORMAT, "%s:%ld: the value in column '%s' is too long", c->name, line,
                                 vname);
        double v = NAN;
        if (buf[0]) {
            char *end;
            errno = 0;
            v = strtod(buf, &end);
            chase_escape_bytes(buf, strnlen(buf, 40), shown, sizeof shown);
            if (end == buf || *end)
                return chase_err_set(err, CHASE_EFORMAT,
                                     "%s:%ld: '%s' in column '%s' is not a number (leave the field empty to mark a "
                                     "gap)",
                                     c->name, line, shown, vname);
            if (!isfinite(v))
                return chase_err_set(err, CHASE_EFORMAT,
                                     "%s:%ld: '%s' in column '%s' is not a finite number (leave the field empty to "
                                     "mark a gap)",
                                     c->name, line, shown, vname);
            if (v < 0)
                return chase_err_set(err, CHASE_EFORMAT, "%s:%ld: negative CI %s in column '%s'", c->name, line, shown,
                                     vname);
        }
        if (r->n == r->cap) /* cannot happen: cap bounds the number of lines */
            return chase_err_set(err, CHASE_EFORMAT, "%s:%ld: too many rows", c->name, line);
        r->t[r->n] = t;
        r->v[r->n] = v;
        r->line[r->n] = line;
        r->n++;
    }
    return CHASE_OK;
}

/* The step is the most common spacing of rows, so that a few missing rows do not change it. */
static int infer_step(const rows_t *r, const char *name, int64_t *step, chase_err_t *err)
{
    char d[32];
    if (r->n < 2)
        return chase_err_set(err, CHASE_EFORMAT,
                             "%s:%ld: only one data row; chase needs at least two rows to know the step", name,
                             r->line[0]);
    unsigned hist[CHASE_TRACE_MAX_STEP_S + 1] = {0};
    size_t longer = 0;
    for (size_t i = 1; i < r->n; i++) {
        int64_t dt = r->t[i] - r->t[i - 1];
        if (dt <= CHASE_TRACE_MAX_STEP_S)
            hist[dt]++;
        else
            longer++;
    }
    int64_t best = 0;
    for (int64_t s = 1; s <= CHASE_TRACE_MAX_STEP_S; s++)
        if (hist[s] > hist[best])
            best = s;
    if (!best || longer > hist[best]) {
        return chase_err_set(err, CHASE_EFORMAT,
                             "%s:%ld: rows are %s apart (line %ld to %ld); chase reads steps of 5 to 60 minutes", name,
                             r->line[1], chase_trace_dur_text(r->t[1] - r->t[0], d, sizeof d), r->line[0], r->line[1]);
    }
    if (best < CHASE_TRACE_MIN_STEP_S) {
        size_t i = 1;
        while (r->t[i] - r->t[i - 1] != best)
            i++;
        return chase_err_set(err, CHASE_EFORMAT,
                             "%s:%ld: rows are mostly %s apart (e.g. lines %ld and %ld); chase reads steps of 5 to 60 "
                             "minutes: average the file to a coarser step first",
                             name, r->line[i], chase_trace_dur_text(best, d, sizeof d), r->line[i - 1], r->line[i]);
    }
    *step = best;
    return CHASE_OK;
}

/* Checks every gap between two rows with values against the limit before anything large is allocated. */
static int check_gaps(const rows_t *r, size_t first, size_t last, int64_t step, int64_t max_gap, const char *name,
                      chase_err_t *err)
{
    size_t prev = first;
    for (size_t i = first + 1; i <= last; i++) {
        if (isnan(r->v[i]))
            continue;
        int64_t missing = r->t[i] - r->t[prev] - step;
        if (missing > max_gap) {
            char a[32], b[32], wa[64], wb[64], d[32], m[32];
            int64_t ta = r->t[prev] + step, tb = r->t[i] - step;
            chase_time_format(ta, a, sizeof a);
            chase_time_format(tb, b, sizeof b);
            if (r->t[prev + 1] == ta)
                snprintf(wa, sizeof wa, "line %ld", r->line[prev + 1]);
            else
                snprintf(wa, sizeof wa, "no row, after line %ld", r->line[prev]);
            if (r->t[i - 1] == tb)
                snprintf(wb, sizeof wb, "line %ld", r->line[i - 1]);
            else
                snprintf(wb, sizeof wb, "no row, before line %ld", r->line[i]);
            long line = r->t[prev + 1] == ta ? r->line[prev + 1] : r->line[prev];
            return chase_err_set(err, CHASE_EFORMAT,
                                 "%s:%ld: no CI from %s (%s) to %s (%s), %s; chase fills gaps up to %s. Fill the gap "
                                 "in the file or raise the limit (max_gap=DURATION in a trace: spec, max_gap_s in "
                                 "chase_trace_read_opts_t)",
                                 name, line, a, wa, b, wb, chase_trace_dur_text(missing, d, sizeof d),
                                 chase_trace_dur_text(max_gap, m, sizeof m));
        }
        prev = i;
    }
    return CHASE_OK;
}

/* Fills ci[a, b) (a > 0, b < n). Short gaps: a straight line between the neighbours. Longer ones: the same hours of
 * the day before, shifted by an offset that moves linearly from the left edge's mismatch to the right edge's, so
 * the fill keeps the daily shape and still meets both neighbours. */
static void fill_gap(double *ci, size_t a, size_t b, int64_t step)
{
    size_t len = b - a;
    size_t day = 86400 % step == 0 ? (size_t)(86400 / step) : 0;
    double left = ci[a - 1], right = ci[b];
    if ((int64_t)len * step <= CHASE_TRACE_LINEAR_GAP_S || !day || a < day + 1) {
        for (size_t k = 0; k < len; k++)
            ci[a + k] = left + (right - left) * (double)(k + 1) / (double)(len + 1);
        return;
    }
    /* Base pattern first, in place: a gap longer than a day repeats the day before it. */
    for (size_t k = 0; k < len; k++)
        ci[a + k] = ci[a + k - day];
    double base_left = ci[a - 1 - day], base_right = ci[b - day];
    double off_l = left - base_left, off_r = right - base_right;
    for (size_t k = 0; k < len; k++) {
        double v = ci[a + k] + off_l + (off_r - off_l) * (double)(k + 1) / (double)(len + 1);
        ci[a + k] = v > 0 ? v : 0;
    }
}

static int build_trace(const rows_t *r, int64_t step, const char *trace_name, const char *column,
                       const chase_trace_read_opts_t *o, const char *name, chase_trace_t **out, chase_err_t *err)
{
    size_t first = 0, last = r->n;
    while (first < r->n && isnan(r->v[first]))
        first++;
    if (first == r->n)
        return chase_err_set(err, CHASE_EFORMAT, "%s: column '%s' has no values (every row is empty)", name, column);
    while (isnan(r->v[last - 1]))
        last--;
    last--;
    for (size_t i = 1; i < r->n; i++) {
        if ((r->t[i] - r->t[0]) % step) {
            char a[32], b[32], d[32];
            return chase_err_set(
                err, CHASE_EFORMAT, "%s:%ld: time %s is off the %s grid of this file (which starts at %s on line %ld)",
                name, r->line[i], chase_time_format(r->t[i], a, sizeof a), chase_trace_dur_text(step, d, sizeof d),
                chase_time_format(r->t[0], b, sizeof b), r->line[0]);
        }
    }
    int64_t max_gap = o->max_gap_s ? o->max_gap_s : CHASE_TRACE_DEFAULT_MAX_GAP_S;
    int rc = check_gaps(r, first, last, step, max_gap, name, err);
    if (rc)
        return rc;
    size_t n = (size_t)((r->t[last] - r->t[first]) / step) + 1;
    if (n > MAX_SAMPLES) /* only reachable with a raised max_gap and sparse rows */
        return chase_err_set(err, CHASE_EFORMAT, "%s: the rows span %zu samples of %lld s; chase reads at most %d",
                             name, n, (long long)step, MAX_SAMPLES);
    chase_trace_t *t = chase_trace_new(trace_name, r->t[first], step, n);
    if (!t)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    snprintf(t->column, sizeof t->column, "%s", column);
    t->trimmed_head = (size_t)((r->t[first] - r->t[0]) / step);
    t->trimmed_tail = (size_t)((r->t[r->n - 1] - r->t[last]) / step);
    for (size_t i = 0; i < n; i++)
        t->ci[i] = NAN;
    for (size_t i = first; i <= last; i++)
        t->ci[(r->t[i] - t->start) / step] = r->v[i];
    for (size_t i = 0; i < n; i++)
        t->n_filled += isnan(t->ci[i]) != 0;
    if (t->n_filled) {
        t->filled = calloc(n, 1);
        if (!t->filled) {
            chase_trace_free(t);
            return chase_err_set(err, CHASE_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < n;) {
            if (!isnan(t->ci[i])) {
                i++;
                continue;
            }
            size_t b = i;
            while (isnan(t->ci[b]))
                t->filled[b++] = 1;
            fill_gap(t->ci, i, b, step);
            i = b;
        }
    }
    *out = t;
    return CHASE_OK;
}

/* Line (1-based, as the cursor counts them: LF, CRLF or a lone CR end a line) of the byte at `at`. */
static long line_at(const char *text, const char *at)
{
    long line = 1;
    for (const char *q = text; q < at; q++)
        if (*q == '\n' || (*q == '\r' && (q + 1 >= at || q[1] != '\n')))
            line++;
    return line;
}

/* The parser behind both entry points: name is used in messages, trace_name becomes the trace's name; both are
 * escaped here, once, since they come from the caller's input (a file name can hold terminal escapes). */
static int parse(const char *text, size_t len, const char *raw_name, const char *raw_trace_name,
                 const chase_trace_read_opts_t *opts, chase_trace_t **out, chase_err_t *err)
{
    chase_trace_read_opts_t defaults = {0};
    const chase_trace_read_opts_t *o = opts ? opts : &defaults;
    if (!out || (!text && len))
        return chase_err_set(err, CHASE_EINVAL, "chase_trace_parse_csv: missing text or output");
    if (o->max_gap_s < 0)
        return chase_err_set(err, CHASE_EINVAL, "max_gap_s must not be negative (0 means the default of 24 h)");
    *out = NULL;
    char name[256], trace_name[sizeof((chase_trace_t *)0)->name];
    chase_escape(raw_name, name, sizeof name);
    chase_escape(raw_trace_name, trace_name, sizeof trace_name);
    /* A NUL byte is never text: strtod and the time parser would stop at it and read "12\0abc" as 12. */
    const char *nul = len ? memchr(text, '\0', len) : NULL;
    if (nul)
        return chase_err_set(err, CHASE_EFORMAT, "%s:%ld: a NUL byte (binary data); a trace is a text CSV file", name,
                             line_at(text, nul));
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) { /* spreadsheet programs start UTF-8 files with a BOM */
        text += 3;
        len -= 3;
    }
    cursor_t c = {text, text + len, 1, name};
    header_t h = {0};
    rows_t r = {0};
    size_t tcol = 0, vcol = 0;
    int rc = read_header(&c, &h, err);
    if (!rc)
        rc = choose_columns(&h, o, name, &tcol, &vcol, err);
    if (!rc) {
        r.cap = count_lines(c.p, (size_t)(c.end - c.p));
        r.t = malloc(r.cap * sizeof *r.t);
        r.v = malloc(r.cap * sizeof *r.v);
        r.line = malloc(r.cap * sizeof *r.line);
        if (!r.t || !r.v || !r.line)
            rc = chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    if (!rc)
        rc = read_rows(&c, &h, tcol, vcol, &r, err);
    if (!rc && r.n == 0)
        rc = chase_err_set(err, CHASE_EFORMAT, "%s:%ld: no data rows after the header", name, h.line);
    int64_t step = 0;
    if (!rc)
        rc = infer_step(&r, name, &step, err);
    char note[sizeof((chase_trace_t *)0)->note] = "";
    if (!rc)
        rc = chase_trace_rows_unify_step(&r, name, MAX_SAMPLES, &step, note, sizeof note, err);
    if (!rc) {
        char column[sizeof((chase_trace_t *)0)->column];
        chase_escape(h.names[vcol], column, sizeof column);
        rc = build_trace(&r, step, trace_name, column, o, name, out, err);
    }
    if (!rc)
        snprintf((*out)->note, sizeof(*out)->note, "%s", note);
    free(h.names);
    free(r.t);
    free(r.v);
    free(r.line);
    return rc;
}

int chase_trace_parse_csv(const char *text, size_t len, const char *name, const chase_trace_read_opts_t *opts,
                          chase_trace_t **out, chase_err_t *err)
{
    if (!name)
        name = "(csv)";
    return parse(text, len, name, name, opts, out, err);
}

int chase_trace_read_csv(const char *path, const chase_trace_read_opts_t *opts, chase_trace_t **out, chase_err_t *err)
{
    if (!path || !out)
        return chase_err_set(err, CHASE_EINVAL, "chase_trace_read_csv: missing path or output");
    char *text = NULL;
    size_t size = 0;
    int rc = chase_file_read_regular(path, MAX_FILE_BYTES, &text, &size, err);
    if (rc)
        return rc;
    /* The trace is named after the file: "eia-PJM-2022" for ../data/eia-PJM-2022.csv. */
    char base[128];
    const char *slash = strrchr(path, '/');
    snprintf(base, sizeof base, "%s", slash ? slash + 1 : path);
    size_t bl = strlen(base);
    if (bl > 4 && !strcasecmp(base + bl - 4, ".csv"))
        base[bl - 4] = '\0';
    rc = parse(text, size, path, base, opts, out, err);
    free(text);
    return rc;
}
