/* The SVG chart: carbon intensity on top, each run's power limit below, on one UTC time axis.
 * Self-contained (no scripts, no external fonts), labels at the lines' right ends so no legend is needed,
 * and bounded in size: equal consecutive values merge, and very long lines are reduced per pixel column. */
#include "chase/report.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chase/timeutil.h"
#include "report/c_locale.h"
#include "util/grow.h"

enum {
    SVG_W = 960,
    PLOT_X0 = 78,  /* left edge of the plots: room for tick labels and the rotated axis title */
    PLOT_X1 = 780, /* right edge: the margin beyond holds the line labels */
    TOP_Y = 66,    /* below title and subtitle */
    CI_H = 200,    /* height of the CI panel when the power panel is drawn */
    PANEL_GAP = 22,
    PL_H = 220,
    SOLO_H = 360,    /* height of the CI panel when there are no runs to draw */
    AXIS_BELOW = 64, /* time tick labels (two lines) and the time axis title */
    MAX_TIME_TICKS = 9,
    LABEL_GAP = 14,    /* minimum vertical distance between two line labels */
    TITLE_CHARS = 80,  /* the title line is cut there (the <title> element keeps it whole) */
    LABEL_CHARS = 20,  /* longer labels are cut with an ellipsis so they stay inside the margin */
    MAX_POINTS = 20000 /* above this a line is reduced to min/max per pixel column */
};

/* Times beyond year 9999 or values beyond this are not something a chart of a training job can show. */
#define MAX_TIME 253402300800.0
#define MAX_VALUE 1e12

/* Okabe & Ito's colour-blind-safe palette without its yellow (too pale on white) and black (kept for CI). */
static const char *const palette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"};
#define N_PALETTE (sizeof palette / sizeof palette[0])
/* Beyond the palette, colours repeat with a dash pattern so that lines stay distinct. */
static const char *const dashes[] = {NULL, "7 3", "2 2", "9 3 2 3"};
#define N_DASHES (sizeof dashes / sizeof dashes[0])
static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* One constant-valued piece of a step line. */
typedef struct seg {
    double t0, t1, v;
} seg_t;

typedef struct line {
    seg_t *s;
    size_t n, cap;
    double vmin, vmax;
} line_t;

typedef struct xscale {
    double t0, t1;
} xscale_t;

typedef struct yscale {
    double lo, hi, step; /* axis range and tick step */
    double top, bottom;  /* pixels */
} yscale_t;

static double x_of(const xscale_t *x, double t)
{
    return PLOT_X0 + (t - x->t0) / (x->t1 - x->t0) * (PLOT_X1 - PLOT_X0);
}

static double y_of(const yscale_t *y, double v)
{
    return y->bottom - (v - y->lo) / (y->hi - y->lo) * (y->bottom - y->top);
}

/* Adds [t0, t1) at v, merging with the previous piece when it continues it at the same value. Pieces with unknown
 * times or values are dropped (the line shows a gap there). */
static int line_add(line_t *l, double t0, double t1, double v)
{
    if (!(fabs(t0) < MAX_TIME && fabs(t1) < MAX_TIME) || !isfinite(v) || t1 <= t0)
        return CHASE_OK;
    if (l->n && l->s[l->n - 1].v == v && fabs(l->s[l->n - 1].t1 - t0) < 1e-3) {
        l->s[l->n - 1].t1 = t1;
        return CHASE_OK;
    }
    seg_t *s = chase_grow(l->s, &l->cap, l->n + 1, sizeof *s, 64);
    if (!s)
        return CHASE_ENOMEM;
    l->s = s;
    l->s[l->n++] = (seg_t){t0, t1, v};
    if (l->n == 1 || v < l->vmin)
        l->vmin = v;
    if (l->n == 1 || v > l->vmax)
        l->vmax = v;
    return CHASE_OK;
}

/* Writes text as XML character data: markup characters escaped, control characters and bytes that are not UTF-8
 * dropped (they would make the file unreadable), cut after max_chars characters with an ellipsis (0: no limit). */
static void put_text(FILE *out, const char *s, size_t max_chars)
{
    size_t chars = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t len = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
        /* Reject overlong forms, surrogates, code points past U+10FFFF and U+FFFE/U+FFFF (not allowed in XML). */
        int ok = len > 0 && !(len == 2 && *p < 0xC2) && !(len == 3 && *p == 0xE0 && p[1] < 0xA0) &&
                 !(len == 3 && *p == 0xED && p[1] >= 0xA0) && !(len == 4 && *p == 0xF0 && p[1] < 0x90) &&
                 !(len == 4 && *p == 0xF4 && p[1] >= 0x90) && !(len == 4 && *p > 0xF4) &&
                 !(len == 3 && *p == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF));
        for (size_t k = 1; ok && k < len; k++)
            ok = (p[k] & 0xC0) == 0x80;
        if (!ok) {
            p++;
            continue;
        }
        if (max_chars && chars == max_chars) {
            fputs("\xE2\x80\xA6", out); /* … */
            return;
        }
        switch (*p) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&apos;", out); break;
        default:
            if (len > 1 || *p >= 0x20 || *p == '\t')
                fwrite(p, 1, len, out);
        }
        p += len;
        chars++;
    }
}

/* 1, 2 or 5 times a power of ten, near range/target. */
static double nice_step(double range, int target)
{
    double raw = range / target;
    double p = pow(10, floor(log10(raw)));
    double f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/* Round axis bounds around [vmin, vmax]; from_zero keeps 0 on the axis for non-negative data (CI, where ratios
 * matter). A constant series gets a range around its value, so the scale never divides by zero. */
static int yscale_fit(yscale_t *y, double vmin, double vmax, int from_zero)
{
    if (from_zero && vmin >= 0)
        vmin = 0;
    if (vmax - vmin <= 1e-9 * fmax(fabs(vmin), fabs(vmax))) {
        double pad = fabs(vmax) * 0.1;
        if (!(pad >= 1e-9))
            pad = 1;
        vmin = from_zero && vmin >= 0 ? vmin : vmin - pad;
        vmax += pad;
    }
    if (!(fmax(fabs(vmin), fabs(vmax)) <= MAX_VALUE))
        return CHASE_ERANGE;
    y->step = nice_step(vmax - vmin, 5);
    y->lo = floor(vmin / y->step) * y->step;
    y->hi = ceil(vmax / y->step) * y->step;
    /* Keep lines off the frame, where they would be hidden. */
    if (y->hi - vmax < 0.02 * (y->hi - y->lo))
        y->hi += y->step;
    if (!(from_zero && y->lo == 0) && vmin - y->lo < 0.02 * (y->hi - y->lo))
        y->lo -= y->step;
    return isfinite(y->hi - y->lo) && y->hi > y->lo ? CHASE_OK : CHASE_ERANGE;
}

/* Writes the axis frame, horizontal grid, tick labels and the rotated axis title of one panel. */
static void put_value_axis(FILE *out, const yscale_t *y, const char *axis_title)
{
    int decimals = y->step >= 1 ? 0 : (int)ceil(-log10(y->step) - 1e-9);
    if (decimals > 9)
        decimals = 9;
    fprintf(out, "<g font-size=\"11\" fill=\"#444\" text-anchor=\"end\">\n");
    for (int k = 0; k < 40; k++) {
        double v = y->lo + k * y->step;
        if (v > y->hi + y->step * 1e-6)
            break;
        double py = y_of(y, v);
        fprintf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>", PLOT_X0, PLOT_X1, py,
                py);
        fprintf(out, "<text x=\"%d\" y=\"%.1f\">%.*f</text>\n", PLOT_X0 - 6, py + 4, decimals,
                fabs(v) < y->step * 1e-6 ? 0.0 : v);
    }
    fprintf(out,
            "</g>\n<text transform=\"translate(20 %.1f) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\" "
            "fill=\"#222\">%s</text>\n",
            (y->top + y->bottom) / 2, axis_title);
}

/* Calendar fields of t (UTC). */
typedef struct civil {
    int y, mo, d, h, mi;
} civil_t;

static civil_t civil_of(double t)
{
    char buf[40];
    chase_time_format((int64_t)floor(t), buf, sizeof buf);
    civil_t c = {0, 1, 1, 0, 0};
    sscanf(buf, "%d-%d-%dT%d:%d", &c.y, &c.mo, &c.d, &c.h, &c.mi);
    return c;
}

static double month_start(int y, int mo)
{
    char buf[24];
    int64_t t = 0;
    y += (mo - 1) / 12;
    mo = (mo - 1) % 12 + 1;
    snprintf(buf, sizeof buf, "%04d-%02d-01", y, mo);
    chase_time_parse(buf, &t, NULL);
    return (double)t;
}

/* Time ticks at round UTC instants: minutes or hours (labelled HH:MM, the date below when it changes), days or weeks
 * (Mondays; labelled "Mar 2", the year below when it changes), or months. The spacing is the finest that keeps the
 * labels apart. Grid lines go through every panel in [top, bottom]. */
static void put_time_axis(FILE *out, const xscale_t *x, double top, double bottom)
{
    static const double steps[] = {60,    300,   600,   900,   1800,   3600,   7200,
                                   10800, 21600, 43200, 86400, 172800, 604800, 1209600};
    static const int month_steps[] = {1, 2, 3, 6, 12, 24, 60, 120, 240, 600};
    double span = x->t1 - x->t0, step = 0;
    int months = 0;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0] && !step; i++)
        if (span / steps[i] <= MAX_TIME_TICKS)
            step = steps[i];
    for (size_t i = 0; i < sizeof month_steps / sizeof month_steps[0] && !step && !months; i++)
        if (span / (month_steps[i] * 30.44 * 86400) <= MAX_TIME_TICKS)
            months = month_steps[i];
    if (!step && !months)
        months = 1200;

    fprintf(out, "<g font-size=\"11\" fill=\"#444\" text-anchor=\"middle\">\n");
    double t;
    civil_t c0 = civil_of(x->t0), prev = {-1, -1, -1, -1, -1};
    if (step) {
        double origin = step >= 604800 ? 4 * 86400 : 0; /* weeks start on Monday; 1970-01-05 was one */
        t = origin + ceil((x->t0 - origin) / step) * step;
    } else {
        int m = c0.y * 12 + (c0.mo - 1);
        if (month_start(c0.y, c0.mo) < x->t0)
            m++;
        m = (m + months - 1) / months * months;
        t = month_start(m / 12, m % 12 + 1);
    }
    for (int k = 0; k < 60 && t <= x->t1 + 1e-6; k++) {
        double px = x_of(x, t);
        civil_t c = civil_of(t);
        fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>", px, px, top, bottom);
        if (step && step < 86400) {
            fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">%02d:%02d</text>", px, bottom + 16, c.h, c.mi);
            if (c.d != prev.d || c.mo != prev.mo || c.y != prev.y)
                fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">%04d-%02d-%02d</text>", px, bottom + 30, c.y, c.mo, c.d);
        } else {
            if (step)
                fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">%s %d</text>", px, bottom + 16, month_names[c.mo - 1], c.d);
            else
                fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">%s</text>", px, bottom + 16, month_names[c.mo - 1]);
            if (c.y != prev.y)
                fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">%d</text>", px, bottom + 30, c.y);
        }
        fputc('\n', out);
        prev = c;
        if (step) {
            t += step;
        } else {
            int m = c.y * 12 + (c.mo - 1) + months;
            t = month_start(m / 12, m % 12 + 1);
        }
    }
    fprintf(out,
            "</g>\n<text x=\"%d\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" fill=\"#222\">"
            "Time (UTC)</text>\n",
            (PLOT_X0 + PLOT_X1) / 2, bottom + 52);
}

/* Opens a <polyline>; the caller writes points and closes it. */
static void open_polyline(FILE *out, const char *colour, const char *dash, double width)
{
    fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" stroke-linejoin=\"round\"", colour,
            width);
    if (dash)
        fprintf(out, " stroke-dasharray=\"%s\"", dash);
    fputs(" points=\"", out);
}

/* Per pixel column: the first, lowest, highest and last value drawn there, in time order. */
typedef struct column {
    int used;
    double first, lo, hi, last;
} column_t;

/* Reduces l to what a pixel column can show: drawing first, min, max, last per column keeps every peak and dip. */
static int put_line_reduced(FILE *out, const line_t *l, const xscale_t *x, const yscale_t *y, const char *colour,
                            const char *dash, double width)
{
    enum { W = PLOT_X1 - PLOT_X0 };
    column_t *col = calloc(W, sizeof *col);
    if (!col)
        return CHASE_ENOMEM;
    double per_px = (x->t1 - x->t0) / W;
    for (size_t i = 0; i < l->n; i++) {
        const seg_t *s = &l->s[i];
        long c0 = (long)floor((s->t0 - x->t0) / per_px), c1 = (long)ceil((s->t1 - x->t0) / per_px) - 1;
        for (long c = c0 < 0 ? 0 : c0; c <= c1 && c < W; c++) {
            column_t *k = &col[c];
            if (!k->used) {
                *k = (column_t){1, s->v, s->v, s->v, s->v};
                continue;
            }
            k->lo = fmin(k->lo, s->v);
            k->hi = fmax(k->hi, s->v);
            k->last = s->v;
        }
    }
    int open = 0;
    for (int c = 0; c < W; c++) {
        if (!col[c].used) {
            if (open)
                fputs("\"/>\n", out);
            open = 0;
            continue;
        }
        if (!open)
            open_polyline(out, colour, dash, width);
        open = 1;
        const double v[4] = {col[c].first, col[c].lo, col[c].hi, col[c].last};
        for (int j = 0; j < 4; j++)
            if (j == 0 || v[j] != v[j - 1])
                fprintf(out, "%.1f,%.1f ", PLOT_X0 + c + 0.5, y_of(y, v[j]));
    }
    if (open)
        fputs("\"/>\n", out);
    free(col);
    return CHASE_OK;
}

/* Draws l as a step line (a new polyline after each gap of more than a pixel) and marks where it ends. */
static int put_line(FILE *out, const line_t *l, const xscale_t *x, const yscale_t *y, const char *colour,
                    const char *dash, double width)
{
    if (!l->n)
        return CHASE_OK;
    if (2 * l->n > MAX_POINTS) {
        int rc = put_line_reduced(out, l, x, y, colour, dash, width);
        if (rc)
            return rc;
    } else {
        double px_time = (x->t1 - x->t0) / (PLOT_X1 - PLOT_X0);
        for (size_t i = 0; i < l->n; i++) {
            const seg_t *s = &l->s[i];
            if (i == 0 || s->t0 - l->s[i - 1].t1 > px_time) {
                if (i)
                    fputs("\"/>\n", out);
                open_polyline(out, colour, dash, width);
            }
            double py = y_of(y, s->v);
            fprintf(out, "%.1f,%.1f %.1f,%.1f ", x_of(x, s->t0), py, x_of(x, s->t1), py);
        }
        fputs("\"/>\n", out);
    }
    const seg_t *end = &l->s[l->n - 1];
    fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", x_of(x, end->t1), y_of(y, end->v),
            colour);
    return CHASE_OK;
}

/* A label for the line ending at (x_end, want), placed at height y in the right margin. */
typedef struct label {
    double x_end, want, y;
    const char *text, *colour;
} label_t;

static int by_want(const void *a, const void *b)
{
    const label_t *p = a, *q = b;
    return (p->want > q->want) - (p->want < q->want);
}

/* Spreads labels at least LABEL_GAP apart, as close as possible to where their lines end, within [top, bottom]:
 * push down past each neighbour, then push up from the bottom. */
static void place_labels(label_t *lab, size_t n, double top, double bottom)
{
    qsort(lab, n, sizeof *lab, by_want);
    for (size_t i = 0; i < n; i++) {
        lab[i].y = lab[i].want < top ? top : lab[i].want;
        if (i && lab[i].y < lab[i - 1].y + LABEL_GAP)
            lab[i].y = lab[i - 1].y + LABEL_GAP;
    }
    for (size_t i = n; i-- > 0;) {
        double limit = i + 1 < n ? lab[i + 1].y - LABEL_GAP : bottom;
        if (lab[i].y > limit)
            lab[i].y = limit;
    }
}

static void put_labels(FILE *out, label_t *lab, size_t n, double top, double bottom)
{
    place_labels(lab, n, top, bottom);
    for (size_t i = 0; i < n; i++) {
        /* A run that ended early gets a dotted guide to the margin; a label moved off its line's height gets a short
         * leader, so that each label still points at its line. */
        if (lab[i].x_end < PLOT_X1 - 6)
            fprintf(out,
                    "<line x1=\"%.1f\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1\" "
                    "stroke-dasharray=\"1 3\"/>",
                    lab[i].x_end + 4, PLOT_X1, lab[i].want, lab[i].want, lab[i].colour);
        if (fabs(lab[i].y - lab[i].want) > 3)
            fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"0.8\" points=\"%d,%.1f %d,%.1f\"/>",
                    lab[i].colour, PLOT_X1 + 1, lab[i].want, PLOT_X1 + 6, lab[i].y);
        fprintf(out, "<text x=\"%d\" y=\"%.1f\" font-size=\"12\" font-weight=\"bold\" fill=\"%s\">", PLOT_X1 + 8,
                lab[i].y + 4, lab[i].colour);
        put_text(out, lab[i].text, LABEL_CHARS);
        fputs("</text>\n", out);
    }
}

/* The CI line: the trace's samples over [t0, t1) when it covers any of it, else the ledger's per-period CI. */
static int build_ci_line(line_t *ci, const chase_trace_t *trace, const chase_ledger_t *fallback, double t0, double t1,
                         int *from_trace)
{
    *from_trace = 0;
    if (trace && trace->n) {
        double step = (double)trace->step_s, start = (double)trace->start;
        double first = floor((t0 - start) / step), last = ceil((t1 - start) / step);
        size_t i0 = first < 0 ? 0 : first > (double)trace->n ? trace->n : (size_t)first;
        size_t i1 = last < 0 ? 0 : last > (double)trace->n ? trace->n : (size_t)last;
        for (size_t i = i0; i < i1; i++) {
            double a = start + (double)i * step;
            int rc = line_add(ci, fmax(a, t0), fmin(a + step, t1), trace->ci[i]);
            if (rc)
                return rc;
        }
        *from_trace = ci->n > 0;
        if (ci->n)
            return CHASE_OK;
    }
    for (size_t i = 0; fallback && i < fallback->n; i++) {
        const chase_period_t *p = &fallback->rows[i];
        int rc = line_add(ci, p->start, p->end, p->ci);
        if (rc)
            return rc;
    }
    return CHASE_OK;
}

/* Title, and a subtitle with the time span and where the CI line comes from: the trace (source NULL), the ledger
 * of the run named source, or nowhere (source ""). */
static void put_header(FILE *out, const char *title, const chase_trace_t *trace, const char *source, const xscale_t *x,
                       double height)
{
    char a[40], b[40];
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\" "
            "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n<title>",
            SVG_W, height, SVG_W, height);
    put_text(out, title, 0);
    fprintf(out,
            "</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%d\" y=\"26\" font-size=\"17\" font-weight=\"bold\" fill=\"#111\">",
            PLOT_X0);
    put_text(out, title, TITLE_CHARS);
    chase_time_format((int64_t)floor(x->t0), a, sizeof a);
    chase_time_format((int64_t)ceil(x->t1), b, sizeof b);
    a[16] = b[16] = '\0'; /* minutes are enough */
    a[10] = b[10] = ' ';
    fprintf(out, "</text>\n<text x=\"%d\" y=\"46\" font-size=\"12\" fill=\"#555\">%s to %s UTC \xC2\xB7 ", PLOT_X0, a,
            b);
    if (!source) {
        fputs("CI: trace ", out);
        put_text(out, trace->name[0] ? trace->name : "(unnamed)", LABEL_CHARS * 2);
    } else if (*source) {
        fputs("CI: recorded in run \xE2\x80\x9C", out); /* “name” */
        put_text(out, source, LABEL_CHARS * 2);
        fputs("\xE2\x80\x9D", out);
    } else {
        fputs("no CI known", out);
    }
    fputs("</text>\n", out);
}

/* The chart of chase_report_svg, with the power panel's axis title and, when ci_run is not NULL, the name the
 * subtitle gives the run whose ledger holds the CI (else the first drawn run's policy). */
static int draw(FILE *out, const char *title, const chase_trace_t *trace, const chase_report_run_t *runs, size_t n,
                const char *power_axis, const char *ci_run, chase_err_t *err)
{
    if (!out)
        return chase_err_set(err, CHASE_EINVAL, "svg: no output stream");
    if (n && !runs)
        return chase_err_set(err, CHASE_EINVAL, "svg: %zu runs announced but none given", n);
    for (size_t i = 0; i < n; i++)
        if (!runs[i].policy || !runs[i].ledger || (runs[i].ledger->n && !runs[i].ledger->rows))
            return chase_err_set(err, CHASE_EINVAL, "svg: run %zu has no %s", i,
                                 !runs[i].policy ? "policy name" : "ledger");
    if (trace && (trace->step_s <= 0 || (trace->n && !trace->ci)))
        return chase_err_set(err, CHASE_EINVAL, "svg: trace '%s' has no samples or no step", trace->name);
    if (!title || !*title)
        title = "Carbon intensity and GPU power limits";

    line_t *pl = calloc(n + 1, sizeof *pl), ci = {0};
    if (!pl)
        return chase_err_set(err, CHASE_ENOMEM, "svg: out of memory");
    int rc = CHASE_OK;
    const chase_ledger_t *first = NULL;
    const char *ci_policy = NULL;
    xscale_t x = {INFINITY, -INFINITY};
    double pmin = INFINITY, pmax = -INFINITY;
    size_t drawn = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const chase_ledger_t *l = runs[i].ledger;
        for (size_t k = 0; k < l->n && !rc; k++)
            rc = line_add(&pl[i], l->rows[k].start, l->rows[k].end, l->rows[k].setting);
        if (!pl[i].n)
            continue;
        drawn++;
        x.t0 = fmin(x.t0, pl[i].s[0].t0);
        x.t1 = fmax(x.t1, pl[i].s[pl[i].n - 1].t1);
        pmin = fmin(pmin, pl[i].vmin);
        pmax = fmax(pmax, pl[i].vmax);
        if (!first) {
            first = l;
            ci_policy = ci_run ? ci_run : runs[i].policy;
        }
    }
    if (!rc && !drawn && trace && trace->n) {
        x.t0 = (double)trace->start;
        x.t1 = (double)trace->start + (double)trace->n * (double)trace->step_s;
    }
    if (!rc && !(x.t1 > x.t0)) {
        rc = chase_err_set(err, CHASE_ENODATA, "svg: nothing to draw (no run has a period and no trace was given)");
        goto done;
    }
    int from_trace = 0;
    if (!rc)
        rc = build_ci_line(&ci, trace, first, x.t0, x.t1, &from_trace);
    if (rc) {
        chase_err_set(err, rc, "svg: out of memory");
        goto done;
    }

    double ci_bottom = TOP_Y + (drawn ? CI_H : SOLO_H);
    double bottom = drawn ? ci_bottom + PANEL_GAP + PL_H : ci_bottom;
    yscale_t yci = {0, 1, 1, TOP_Y, ci_bottom}, ypl = {0, 1, 1, ci_bottom + PANEL_GAP, bottom};
    if ((ci.n && yscale_fit(&yci, ci.vmin, ci.vmax, 1)) || (drawn && yscale_fit(&ypl, pmin, pmax, 0))) {
        rc = chase_err_set(err, CHASE_ERANGE, "svg: values too large to draw");
        goto done;
    }

    report_c_locale_t loc;
    if (report_c_locale_enter(&loc)) {
        rc = chase_err_set(err, CHASE_ENOMEM, "svg: cannot switch to the C locale");
        goto done;
    }
    put_header(out, title, trace, from_trace ? NULL : ci.n ? ci_policy : "", &x, bottom + AXIS_BELOW);
    put_value_axis(out, &yci,
                   "Carbon intensity (gCO\xE2\x82\x82"
                   "eq/kWh)");
    if (drawn)
        put_value_axis(out, &ypl, power_axis);
    put_time_axis(out, &x, TOP_Y, bottom);
    fprintf(out, "<g fill=\"none\" stroke=\"#888\"><rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\"/>", PLOT_X0,
            yci.top, PLOT_X1 - PLOT_X0, yci.bottom - yci.top);
    if (drawn)
        fprintf(out, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\"/>", PLOT_X0, ypl.top, PLOT_X1 - PLOT_X0,
                ypl.bottom - ypl.top);
    fputs("</g>\n", out);

    label_t *lab = calloc(n + 1, sizeof *lab);
    if (!lab) {
        rc = chase_err_set(err, CHASE_ENOMEM, "svg: out of memory");
        goto leave;
    }
    if (ci.n) {
        rc = put_line(out, &ci, &x, &yci, "#222222", NULL, 1.4);
        lab[0] = (label_t){x_of(&x, ci.s[ci.n - 1].t1), y_of(&yci, ci.s[ci.n - 1].v), 0, "CI", "#222222"};
        if (!rc)
            put_labels(out, lab, 1, yci.top + 4, yci.bottom);
    }
    size_t nl = 0;
    for (size_t i = 0, c = 0; i < n && !rc; i++) {
        if (!pl[i].n)
            continue;
        const char *colour = palette[c % N_PALETTE], *dash = dashes[(c / N_PALETTE) % N_DASHES];
        c++;
        rc = put_line(out, &pl[i], &x, &ypl, colour, dash, 1.8);
        const seg_t *end = &pl[i].s[pl[i].n - 1];
        lab[nl++] = (label_t){x_of(&x, end->t1), y_of(&ypl, end->v), 0, runs[i].policy, colour};
    }
    if (!rc && nl)
        put_labels(out, lab, nl, ypl.top + 4, ypl.bottom + 8);
    if (rc)
        chase_err_set(err, rc, "svg: out of memory");
    free(lab);
    fputs("</svg>\n", out);
leave:
    report_c_locale_leave(&loc);
    if (!rc && (fflush(out) != 0 || ferror(out)))
        rc = chase_err_set(err, CHASE_EIO, "svg: write failed");
done:
    for (size_t i = 0; i < n; i++)
        free(pl[i].s);
    free(pl);
    free(ci.s);
    return rc;
}

int chase_report_svg(FILE *out, const char *title, const chase_trace_t *trace, const chase_report_run_t *runs, size_t n,
                     chase_err_t *err)
{
    return draw(out, title, trace, runs, n, "Power limit (W)", NULL, err);
}

/* A live run's chart: the lines are the limit in force and the power drawn per GPU (what the limit did), and in an
 * observe-only run the limit the policy decided. The power line is a copy of the ledger with each period's mean
 * draw per GPU as its value, so the same line code draws it. */
int chase_report_run_svg(FILE *out, const char *title, const chase_run_record_t *r, chase_err_t *err)
{
    if (!r || !r->ledger)
        return chase_err_set(err, CHASE_EINVAL, "svg: no run");
    const chase_ledger_t *l = r->ledger;
    chase_ledger_t power, decided;
    chase_ledger_init(&power);
    chase_ledger_init(&decided);
    int per = r->n_gpus > 0 ? r->n_gpus : 1, rc = CHASE_OK;
    for (size_t i = 0; i < l->n && rc == CHASE_OK; i++) {
        chase_period_t p = l->rows[i];
        double d = p.end - p.start;
        p.setting = d > 0 ? p.energy_j / d / per : NAN;
        rc = chase_ledger_append(&power, &p);
        p.setting = l->rows[i].decided;
        if (rc == CHASE_OK && r->dry_run)
            rc = chase_ledger_append(&decided, &p);
    }
    if (rc != CHASE_OK) {
        chase_ledger_free(&power);
        chase_ledger_free(&decided);
        return chase_err_set(err, rc, "svg: out of memory");
    }
    /* Power shares the panel with the setting only when the setting is in watts too. */
    int watts = r->knob == CHASE_KNOB_POWER_LIMIT;
    char axis[64];
    snprintf(axis, sizeof axis, watts ? "Limit and power per GPU (W)" : "%s (%s)", chase_knob_name(r->knob),
             chase_knob_unit(r->knob));
    chase_report_run_t runs[3];
    size_t n = 0;
    runs[n++] = (chase_report_run_t){"limit", l};
    if (r->dry_run)
        runs[n++] = (chase_report_run_t){"decided limit", &decided};
    if (watts)
        runs[n++] = (chase_report_run_t){"power", &power};
    rc = draw(out, title, NULL, runs, n, axis, r->policy ? r->policy : "", err);
    chase_ledger_free(&power);
    chase_ledger_free(&decided);
    return rc;
}
