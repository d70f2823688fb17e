/* Reports: the timeline CSV reads back to the ledger it came from; the SVG chart is well-formed XML, names every
 * policy (escaped), stays small for a year of periods, and survives the degenerate cases. */
#include <ctype.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/ledger.h"
#include "chase/report.h"
#include "chase/timeutil.h"
#include "check.h"

#define T2020 1577836800.0 /* 2020-01-01T00:00:00Z */

/* Fills l with n periods of length period_s from start; pl_w(i) and ci(i) give the values. */
static void fill(chase_ledger_t *l, double start, size_t n, double period_s, double (*pl)(size_t), double (*ci)(size_t))
{
    chase_ledger_init(l);
    for (size_t i = 0; i < n; i++) {
        chase_period_t p = {0};
        p.start = start + (double)i * period_s;
        p.end = p.start + period_s;
        p.ci = ci(i);
        p.ci_forecast = ci(i) + 1.25;
        p.setting = pl(i);
        p.energy_j = p.setting * period_s * 0.9;
        p.carbon_g = p.energy_j / 3.6e6 * p.ci;
        p.work = period_s / 7.0;
        chase_ledger_append(l, &p);
    }
    CHECK(l->n == n);
}

static double pl_steps(size_t i)
{
    return 150 + 25 * (double)(i % 5);
}
static double pl_const(size_t i)
{
    (void)i;
    return 300;
}
static double ci_wave(size_t i)
{
    return 300 + 150 * sin((double)i * 0.13) + (double)(i % 7);
}
static double ci_const(size_t i)
{
    (void)i;
    return 420;
}

/* A cheap deterministic hash so that a huge ledger does not merge into a few segments. */
static double pl_noisy(size_t i)
{
    uint32_t h = (uint32_t)i * 2654435761u;
    h ^= h >> 15;
    return 100 + (double)(h % 2000) / 10.0;
}

/* Captures what a writer produces. */
typedef struct buf {
    char *s;
    size_t len;
    FILE *f;
} buf_t;

static void buf_open(buf_t *b)
{
    b->s = NULL;
    b->len = 0;
    b->f = open_memstream(&b->s, &b->len);
}

static void buf_close(buf_t *b)
{
    fclose(b->f);
}

/* ---- CSV ---- */

/* Splits one CSV line (RFC 4180 quoting) into at most max fields, in place; returns the count. */
static int csv_split(char *line, char **fields, int max)
{
    int n = 0;
    char *w = line, *p = line;
    while (n < max) {
        fields[n++] = w;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else if (!*p) {
                    return -1;
                } else {
                    *w++ = *p++;
                }
            }
        } else {
            while (*p && *p != ',')
                *w++ = *p++;
        }
        if (*p != ',') {
            *w = '\0';
            return *p ? -1 : n;
        }
        *w++ = '\0';
        p++;
    }
    return -1;
}

static void check_row(char **f, const char *policy, const chase_period_t *p)
{
    int64_t t;
    CHECK_STR(f[0], policy);
    CHECK(chase_time_parse(f[1], &t, NULL) == CHASE_OK && (double)t == p->start);
    CHECK(chase_time_parse(f[2], &t, NULL) == CHASE_OK && (double)t == p->end);
    const double want[] = {p->ci, p->ci_forecast, p->setting, p->energy_j, p->carbon_g, p->work};
    for (int j = 0; j < 6; j++) {
        if (!isfinite(want[j])) {
            CHECK_STR(f[3 + j], ""); /* unknown values are left empty */
            continue;
        }
        char *end;
        double v = strtod(f[3 + j], &end);
        CHECK(end != f[3 + j] && *end == '\0');
        CHECK_NEAR(v, want[j], fabs(want[j]) * 1e-9);
    }
}

static void test_csv_reads_back(void)
{
    chase_ledger_t a, b;
    fill(&a, T2020, 3, 1800, pl_steps, ci_wave);
    fill(&b, T2020 + 900, 2, 1800, pl_const, ci_const);
    b.rows[1].ci_forecast = NAN;       /* a period without a forecast */
    b.rows[0].carbon_g = 1234.5678901; /* needs more than 6 digits */
    const char *odd = "odd, \"quoted\" name";
    chase_report_run_t runs[] = {{"max", &a}, {odd, &b}};
    buf_t out;
    buf_open(&out);
    chase_err_t err;
    CHECK(chase_report_timeline_csv(out.f, runs, 2, &err) == CHASE_OK);
    buf_close(&out);

    char *save = NULL, *line = strtok_r(out.s, "\n", &save);
    CHECK_STR(line, "policy,start,end,ci_g_per_kwh,forecast_g_per_kwh,power_limit_w,energy_j,carbon_g,work");
    size_t rows = 0;
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *f[12];
        int nf = csv_split(line, f, 12);
        CHECK(nf == 9);
        if (nf != 9)
            continue;
        if (rows < a.n)
            check_row(f, "max", &a.rows[rows]);
        else if (rows < a.n + b.n)
            check_row(f, odd, &b.rows[rows - a.n]);
        rows++;
    }
    CHECK(rows == a.n + b.n);
    free(out.s);
    chase_ledger_free(&a);
    chase_ledger_free(&b);
}

static void test_csv_edges(void)
{
    chase_ledger_t empty;
    chase_ledger_init(&empty);
    chase_report_run_t runs[] = {{"none", &empty}, {"bad", NULL}};
    buf_t out;
    buf_open(&out);
    chase_err_t err;
    CHECK(chase_report_timeline_csv(out.f, runs, 1, &err) == CHASE_OK); /* header only */
    CHECK(chase_report_timeline_csv(out.f, runs, 2, &err) == CHASE_EINVAL);
    CHECK(strstr(err.msg, "run 1") != NULL);
    CHECK(chase_report_timeline_csv(out.f, NULL, 1, &err) == CHASE_EINVAL);
    CHECK(chase_report_timeline_csv(NULL, runs, 1, &err) == CHASE_EINVAL);
    buf_close(&out);
    CHECK_STR(out.s, "policy,start,end,ci_g_per_kwh,forecast_g_per_kwh,power_limit_w,energy_j,carbon_g,work\n");
    free(out.s);
}

/* A host program that chose a locale with a decimal comma still gets "0.5". Without such a locale the check cannot
 * run and the program reports a skip (77); scripts/deps.sh generates de_DE.UTF-8 so that CI always runs it. */
static int locale_missing;
static void test_csv_ignores_locale(void)
{
    static const char *const names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "nl_NL.UTF-8"};
    const char *got = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !got; i++)
        got = setlocale(LC_NUMERIC, names[i]);
    if (!got) {
        fprintf(stderr, "SKIP: no decimal-comma locale (de_DE.UTF-8) installed; run scripts/deps.sh\n");
        locale_missing = 1;
        return;
    }
    CHECK(strcmp(localeconv()->decimal_point, ",") == 0); /* the check below means nothing with a decimal point */
    chase_ledger_t a;
    fill(&a, T2020, 1, 1800, pl_const, ci_const);
    a.rows[0].work = 0.5;
    chase_report_run_t run = {"max", &a};
    buf_t out;
    buf_open(&out);
    CHECK(chase_report_timeline_csv(out.f, &run, 1, NULL) == CHASE_OK);
    buf_close(&out);
    CHECK(strstr(out.s, ",0.5\n") != NULL);
    setlocale(LC_NUMERIC, "C");
    free(out.s);
    chase_ledger_free(&a);
}

/* ---- SVG ---- */

/* Checks that an entity reference starts at p. */
static int is_entity(const char *p)
{
    static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (size_t i = 0; i < 5; i++)
        if (!strncmp(p, ents[i], strlen(ents[i])))
            return 1;
    return 0;
}

/* A small XML checker: an optional declaration, one <svg> root, balanced tags, quoted attributes without '<', and
 * '&' only in entity references. Returns NULL when fine, else what is wrong. */
static const char *xml_problem(const char *s)
{
    char stack[64][32];
    int depth = 0, roots = 0;
    const char *p = s;
    if (!strncmp(p, "<?xml", 5)) {
        p = strstr(p, "?>");
        if (!p)
            return "unterminated declaration";
        p += 2;
    }
    while (isspace((unsigned char)*p))
        p++;
    if (strncmp(p, "<svg", 4))
        return "root is not <svg";
    while (*p) {
        if (*p != '<') {
            if (!depth && !isspace((unsigned char)*p))
                return "text outside the root";
            if (*p == '&' && !is_entity(p))
                return "bare & in text";
            if (*p == '>')
                return "bare > in text";
            p++;
            continue;
        }
        int closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t len = strcspn(name, " \t\n/>");
        if (!len || len >= sizeof stack[0])
            return "bad tag name";
        const char *q = name + len;
        char quote = 0;
        for (; *q && (quote || *q != '>'); q++) {
            if (quote && *q == '<')
                return "< inside an attribute";
            if (quote && *q == '&' && !is_entity(q))
                return "bare & in an attribute";
            if (*q == '"' || *q == '\'')
                quote = quote == *q ? 0 : quote ? quote : *q;
        }
        if (!*q)
            return "unterminated tag";
        if (closing) {
            if (!depth || strncmp(stack[depth - 1], name, len) || stack[depth - 1][len])
                return "mismatched closing tag";
            depth--;
        } else if (q[-1] != '/') {
            if (depth == (int)(sizeof stack / sizeof stack[0]))
                return "too deep";
            if (!depth)
                roots++;
            memcpy(stack[depth], name, len);
            stack[depth++][len] = '\0';
        } else if (!depth) {
            return "empty element outside the root";
        }
        p = q + 1;
    }
    if (depth)
        return "unclosed element";
    return roots == 1 ? NULL : "not exactly one root";
}

/* Common checks on every chart: well-formed, ends with </svg>, no NaN or infinity written anywhere. */
static void check_svg(const char *s)
{
    const char *why = xml_problem(s);
    if (why)
        fprintf(stderr, "svg problem: %s\n", why);
    CHECK(why == NULL);
    static const char root[] = "<svg xmlns=\"http://www.w3.org/2000/svg\" ";
    CHECK(!strncmp(s, root, sizeof root - 1)); /* no declaration: UTF-8 is XML's default */
    size_t len = strlen(s);
    CHECK(len > 7 && !strcmp(s + len - 7, "</svg>\n"));
    char *low = strdup(s);
    for (char *c = low; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    CHECK(strstr(low, "nan") == NULL);
    CHECK(strstr(low, "inf") == NULL);
    free(low);
}

/* Largest number of points in one polyline, and the number of polylines. */
static size_t max_polyline_points(const char *s, size_t *count)
{
    size_t most = 0;
    *count = 0;
    for (const char *p = strstr(s, "<polyline"); p; p = strstr(p + 1, "<polyline")) {
        const char *pts = strstr(p, "points=\"");
        if (!pts)
            break;
        pts += 8;
        size_t n = 0;
        for (const char *c = pts; *c && *c != '"'; c++)
            n += *c == ',';
        most = n > most ? n : most;
        (*count)++;
    }
    return most;
}

/* The y of the <text> whose content is exactly label, or NAN. */
static double text_y(const char *s, const char *label)
{
    char pat[128];
    snprintf(pat, sizeof pat, ">%s</text>", label);
    const char *hit = strstr(s, pat);
    if (!hit)
        return NAN;
    const char *open = hit;
    while (open > s && strncmp(open, "<text", 5))
        open--;
    const char *y = strstr(open, " y=\"");
    return y && y < hit ? strtod(y + 4, NULL) : NAN;
}

static char *svg_of(const char *title, const chase_trace_t *trace, const chase_report_run_t *runs, size_t n, int *rc)
{
    buf_t out;
    buf_open(&out);
    chase_err_t err = {0};
    *rc = chase_report_svg(out.f, title, trace, runs, n, &err);
    buf_close(&out);
    if (*rc)
        fprintf(stderr, "chase_report_svg: %s\n", err.msg);
    return out.s;
}

static void test_svg_names_and_escapes(void)
{
    chase_ledger_t a, b, c;
    fill(&a, T2020, 48, 1800, pl_const, ci_wave);
    fill(&b, T2020, 50, 1800, pl_steps, ci_wave);
    fill(&c, T2020, 52, 1800, pl_const, ci_wave); /* ends at the same value as a: labels must move apart */
    chase_report_run_t runs[] = {{"max", &a}, {"a<b&c", &b}, {"budget \"x\" \xff", &c}};
    int rc;
    char *s = svg_of("Carbon <script>alert(1)</script> & co", NULL, runs, 3, &rc);
    CHECK(rc == CHASE_OK);
    check_svg(s);
    CHECK(strstr(s, ">max</text>") != NULL);
    CHECK(strstr(s, ">a&lt;b&amp;c</text>") != NULL);
    CHECK(strstr(s, "a<b") == NULL);
    CHECK(strstr(s, ">budget &quot;x&quot; </text>") != NULL); /* the byte that is not UTF-8 is dropped */
    CHECK(strstr(s, "&lt;script&gt;") != NULL && strstr(s, "<script") == NULL);
    double ya = text_y(s, "max"), yc = text_y(s, "budget &quot;x&quot; ");
    CHECK(isfinite(ya) && isfinite(yc) && fabs(ya - yc) >= 13.5);
    CHECK(strstr(s, "CI: recorded in run \xE2\x80\x9Cmax\xE2\x80\x9D") != NULL);
    CHECK(strstr(s, "Power limit (W)") != NULL);
    /* 26 h from 2020-01-01: ticks every 3 h (at most nine), the date under the first tick of each day */
    CHECK(strstr(s, ">03:00</text>") != NULL && strstr(s, ">2020-01-02</text>") != NULL);
    CHECK(strstr(s, ">02:00</text>") == NULL);
    size_t lines;
    max_polyline_points(s, &lines);
    CHECK(lines >= 4); /* CI and three runs */
    free(s);
    chase_ledger_free(&a);
    chase_ledger_free(&b);
    chase_ledger_free(&c);
}

static void test_svg_merges_equal_values(void)
{
    chase_ledger_t a;
    fill(&a, T2020, 1000, 1800, pl_const, ci_const);
    chase_report_run_t run = {"max", &a};
    int rc;
    char *s = svg_of(NULL, NULL, &run, 1, &rc);
    CHECK(rc == CHASE_OK);
    check_svg(s);
    size_t lines, most = max_polyline_points(s, &lines);
    CHECK(lines == 2 && most == 2); /* one flat segment each for CI and power */
    CHECK(strlen(s) < 20000);
    free(s);
    chase_ledger_free(&a);
}

/* A year of 30-minute periods under six policies, with a 30-minute trace: the file stays small. */
static void test_svg_year_is_bounded(void)
{
    enum { N = 17520, RUNS = 6 };
    chase_ledger_t l[RUNS];
    chase_report_run_t runs[RUNS];
    static const char *const names[RUNS] = {"max", "static", "chase", "budget", "oracle", "fixed:200"};
    for (int i = 0; i < RUNS; i++) {
        fill(&l[i], T2020, N - (size_t)i * 100, 1800, i ? pl_noisy : pl_const, ci_wave);
        runs[i] = (chase_report_run_t){names[i], &l[i]};
    }
    chase_trace_t tr = {.start = (int64_t)T2020 - 86400, .step_s = 1800, .n = N + 200};
    snprintf(tr.name, sizeof tr.name, "made-up year");
    tr.ci = malloc(tr.n * sizeof *tr.ci);
    for (size_t i = 0; i < tr.n; i++)
        tr.ci[i] = ci_wave(i);
    int rc;
    char *s = svg_of("A year", &tr, runs, RUNS, &rc);
    CHECK(rc == CHASE_OK);
    check_svg(s);
    size_t lines, most = max_polyline_points(s, &lines);
    CHECK(most <= 20000);
    CHECK(most <= 4 * 960); /* reduced to at most four points per pixel column */
    CHECK(lines >= RUNS + 1);
    CHECK(strlen(s) < 1500000);
    CHECK(strstr(s, "CI: trace made-up year") != NULL);
    CHECK(strstr(s, ">Jul</text>") != NULL); /* month ticks for a year */
    for (int i = 0; i < RUNS; i++) {
        char pat[64];
        snprintf(pat, sizeof pat, ">%s</text>", names[i]);
        CHECK(strstr(s, pat) != NULL);
    }
    fprintf(stderr, "note: year x 6 policies: %zu bytes, at most %zu points per polyline\n", strlen(s), most);
    free(s);
    free(tr.ci);
    for (int i = 0; i < RUNS; i++)
        chase_ledger_free(&l[i]);
}

static void test_svg_degenerate(void)
{
    int rc;
    /* zero runs: CI from the trace only, one panel */
    chase_trace_t tr = {.start = (int64_t)T2020, .step_s = 3600, .n = 6};
    snprintf(tr.name, sizeof tr.name, "six <hours>");
    double ci[6] = {200, 250, 250, 180, 400, 390};
    tr.ci = ci;
    char *s = svg_of(NULL, &tr, NULL, 0, &rc);
    CHECK(rc == CHASE_OK);
    check_svg(s);
    CHECK(strstr(s, "Power limit") == NULL);
    CHECK(strstr(s, "six &lt;hours&gt;") != NULL);
    CHECK(strstr(s, ">03:00</text>") != NULL && strstr(s, ">2020-01-01</text>") != NULL); /* hourly ticks */
    free(s);

    /* nothing at all to draw: an error, not a crash */
    chase_ledger_t empty;
    chase_ledger_init(&empty);
    chase_report_run_t none = {"max", &empty};
    s = svg_of(NULL, NULL, &none, 1, &rc);
    CHECK(rc == CHASE_ENODATA);
    free(s);
    s = svg_of(NULL, NULL, NULL, 0, &rc);
    CHECK(rc == CHASE_ENODATA);
    free(s);

    /* one period, constant values, CI from the ledger */
    chase_ledger_t one;
    fill(&one, T2020, 1, 1800, pl_const, ci_const);
    chase_report_run_t run = {"max", &one};
    s = svg_of("one period", NULL, &run, 1, &rc);
    CHECK(rc == CHASE_OK);
    check_svg(s);
    CHECK(strstr(s, ">max</text>") != NULL);
    free(s);

    /* a trace that misses the runs entirely falls back to the ledger's CI; non-finite values leave gaps */
    tr.start = (int64_t)T2020 + 10 * 86400;
    one.rows[0].ci = NAN;
    s = svg_of(NULL, &tr, &run, 1, &rc);
    CHECK(rc == CHASE_OK);
    check_svg(s);
    CHECK(strstr(s, "no CI known") != NULL);
    free(s);

    /* all-zero values, and a NaN power limit among good ones */
    one.rows[0].setting = 0;
    one.rows[0].ci = 0;
    s = svg_of(NULL, NULL, &run, 1, &rc);
    CHECK(rc == CHASE_OK);
    check_svg(s);
    free(s);
    chase_ledger_free(&one);

    chase_ledger_t mixed;
    fill(&mixed, T2020, 4, 1800, pl_steps, ci_wave);
    mixed.rows[2].setting = NAN;
    mixed.rows[1].end = INFINITY;
    chase_report_run_t m = {"mixed", &mixed};
    s = svg_of(NULL, NULL, &m, 1, &rc);
    CHECK(rc == CHASE_OK);
    check_svg(s);
    free(s);
    chase_ledger_free(&mixed);

    /* values no chart can show are refused; times no calendar can show are dropped */
    chase_ledger_t huge;
    fill(&huge, T2020, 3, 1800, pl_const, ci_const);
    huge.rows[1].setting = 1e300;
    chase_report_run_t h = {"huge", &huge};
    s = svg_of(NULL, NULL, &h, 1, &rc);
    CHECK(rc == CHASE_ERANGE);
    free(s);
    huge.rows[1].setting = 250;
    huge.rows[2].start = 1e300;
    s = svg_of(NULL, NULL, &h, 1, &rc);
    CHECK(rc == CHASE_OK);
    check_svg(s);
    free(s);
    chase_ledger_free(&huge);

    /* names with bytes that are not UTF-8 or not allowed in XML still give a readable file */
    chase_ledger_t two;
    fill(&two, T2020, 2, 1800, pl_steps, ci_wave);
    chase_report_run_t odd[] = {{"ctl\x01\x1b[0m", &two}, {"sur\xed\xa0\x80x\xef\xbf\xbe\xc0\xaf\xe2\x82", &two}};
    s = svg_of("t\x7f\x02", NULL, odd, 2, &rc);
    CHECK(rc == CHASE_OK);
    check_svg(s);
    CHECK(strstr(s, ">ctl[0m</text>") != NULL && strstr(s, ">surx</text>") != NULL);
    free(s);
    chase_ledger_free(&two);

    /* long names are cut on screen (labels at 20 characters, the title line at 80) but kept whole in <title> */
    char title[201];
    memset(title, 'T', 200);
    title[200] = '\0';
    fill(&two, T2020, 2, 1800, pl_steps, ci_wave);
    chase_report_run_t longname = {"\xC3\xA9tude-of-a-very-long-policy-name", &two};
    s = svg_of(title, NULL, &longname, 1, &rc);
    CHECK(rc == CHASE_OK);
    check_svg(s);
    CHECK(strstr(s, title) != NULL);
    char cut[100];
    snprintf(cut, sizeof cut, ">%.80s\xE2\x80\xA6</text>", title);
    CHECK(strstr(s, cut) != NULL);
    CHECK(strstr(s, ">\xC3\xA9tude-of-a-very-long\xE2\x80\xA6</text>") != NULL);
    free(s);
    chase_ledger_free(&two);

    /* bad arguments */
    chase_report_run_t bad = {NULL, &empty};
    s = svg_of(NULL, NULL, &bad, 1, &rc);
    CHECK(rc == CHASE_EINVAL);
    free(s);
    CHECK(chase_report_svg(NULL, NULL, NULL, &run, 1, NULL) == CHASE_EINVAL);
}

/* With CHASE_REPORT_EXAMPLE=path set, writes the example chart docs/report.md shows (three days, four policies). */
static void write_example(void)
{
    const char *path = getenv("CHASE_REPORT_EXAMPLE");
    if (!path)
        return;
    enum { N = 144 };
    static const char *const names[] = {"max", "static", "chase", "budget"};
    chase_ledger_t l[4];
    chase_report_run_t runs[4];
    chase_trace_t tr = {.start = (int64_t)T2020, .step_s = 1800, .n = N + 24};
    snprintf(tr.name, sizeof tr.name, "made-up solar grid");
    double ci[N + 24];
    for (size_t i = 0; i < tr.n; i++) /* a daily solar dip around noon, a little noise */
        ci[i] = 380 - 160 * fmax(0, sin((double)(i % 48 - 12) / 24.0 * 3.14159265)) + (double)((i * 37) % 11);
    tr.ci = ci;
    for (int r = 0; r < 4; r++) {
        chase_ledger_init(&l[r]);
        size_t n = N - (size_t)(r ? 6 - r : 12);
        for (size_t i = 0; i < n; i++) {
            double c = ci[i];
            double pl = r == 0   ? 300
                        : r == 1 ? 225
                        : r == 2 ? fmin(300, fmax(150, 300 - (c - 220) * 0.9))
                                 : (c < 280   ? 300
                                    : c < 340 ? 225
                                              : 175);
            chase_period_t p = {.start = T2020 + (double)i * 1800,
                                .end = T2020 + (double)(i + 1) * 1800,
                                .ci = c,
                                .ci_forecast = c,
                                .setting = pl,
                                .decided = pl,
                                .energy_j = pl * 1800,
                                .work = 1};
            chase_ledger_append(&l[r], &p);
        }
        runs[r] = (chase_report_run_t){names[r], &l[r]};
    }
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        CHECK(chase_report_svg(f, "Example (made-up data): power limit per policy", &tr, runs, 4, NULL) == CHASE_OK);
        fclose(f);
    }
    for (int r = 0; r < 4; r++)
        chase_ledger_free(&l[r]);
}

int main(void)
{
    RUN(test_csv_reads_back);
    RUN(test_csv_edges);
    RUN(test_csv_ignores_locale);
    RUN(test_svg_names_and_escapes);
    RUN(test_svg_merges_equal_values);
    RUN(test_svg_year_is_bounded);
    RUN(test_svg_degenerate);
    RUN(write_example);
    if (locale_missing && check_failures == 0)
        return SKIP_TEST;
    CHECK_DONE();
}
