/* The trace type and its CSV reader: every real file under ../shared/data/carbon, checked against a naive reader
 * written here, and small generated CSVs for every documented rule and error. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chase/timeutil.h"
#include "chase/trace.h"
#include "check.h"

static int have_data = 1;

/* ---------- a naive reference reader for the real files (plain comma split, no quoting, which they need not) */

typedef struct ref {
    int64_t t[20000];
    double v[20000]; /* NAN for empty */
    size_t n;
} ref_t;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)sz + 1);
    size_t got = fread(buf, 1, (size_t)sz, f);
    fclose(f);
    buf[got] = '\0';
    if (len)
        *len = got;
    return buf;
}

/* Reads column col (0-based) of every data row. */
static int ref_read(const char *path, int col, ref_t *r)
{
    char *text = slurp(path, NULL);
    if (!text)
        return -1;
    r->n = 0;
    char *save = NULL, *line = strtok_r(text, "\n", &save); /* header */
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *cr = strchr(line, '\r');
        if (cr)
            *cr = '\0';
        char *fields[16];
        int nf = 0;
        for (char *p = line; nf < 16;) {
            fields[nf++] = p;
            char *c = strchr(p, ',');
            if (!c)
                break;
            *c = '\0';
            p = c + 1;
        }
        if (chase_time_parse(fields[0], &r->t[r->n], NULL))
            return -1;
        r->v[r->n] = fields[col][0] ? strtod(fields[col], NULL) : NAN;
        r->n++;
    }
    free(text);
    return 0;
}

static chase_trace_t *load(const char *rel, const chase_trace_read_opts_t *o)
{
    char path[1024];
    if (!shared_data_path(rel, path, sizeof path)) {
        have_data = 0;
        return NULL;
    }
    chase_trace_t *t = NULL;
    chase_err_t err = {0};
    int rc = chase_trace_read_csv(path, o, &t, &err);
    if (rc)
        fprintf(stderr, "%s: %s\n", rel, err.msg);
    CHECK(rc == CHASE_OK);
    return t;
}

/* Every value the reader kept equals the file's, at the same time; the empty ones are flagged as filled. */
static void check_against_ref(const chase_trace_t *t, const char *rel, int col)
{
    char path[1024];
    static ref_t r;
    if (!shared_data_path(rel, path, sizeof path))
        return;
    CHECK(ref_read(path, col, &r) == 0);
    size_t bad = 0, empty = 0;
    for (size_t i = 0; i < r.n; i++) {
        long k = chase_trace_index(t, r.t[i]);
        if (isnan(r.v[i])) {
            empty++;
            if (k < 0 || !t->filled || !t->filled[k])
                bad++;
        } else if (k < 0 || t->ci[k] != r.v[i] || (t->filled && t->filled[k])) {
            bad++;
        }
    }
    if (bad)
        fprintf(stderr, "%s: %zu rows differ from the reference reader\n", rel, bad);
    CHECK(bad == 0);
    CHECK(t->n_filled == empty); /* no file here misses whole rows or has empty first/last rows */
    CHECK(t->n == r.n);
    CHECK(t->start == r.t[0]);
    CHECK(t->ci[0] == r.v[0]);
    CHECK(t->ci[t->n - 1] == r.v[r.n - 1]);
}

/* ---------- real files */

static void test_every_real_file_loads(void)
{
    char root[1024], dir[1100], rel[1200];
    if (!shared_data_path("carbon", root, sizeof root)) {
        have_data = 0;
        return;
    }
    const char *subs[] = {"carbon", "carbon/electricitymaps-format"};
    int files = 0;
    for (int s = 0; s < 2; s++) {
        snprintf(dir, sizeof dir, "%s/%s", getenv("CHASE_SHARED_DATA") ? getenv("CHASE_SHARED_DATA") : "../shared/data",
                 subs[s]);
        DIR *d = opendir(dir);
        CHECK(d != NULL);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l < 5 || strcmp(e->d_name + l - 4, ".csv"))
                continue;
            snprintf(rel, sizeof rel, "%s/%s", subs[s], e->d_name);
            chase_trace_t *t = load(rel, NULL);
            if (!t)
                continue;
            files++;
            /* Which column the default rule picks, and where it sits, follows from the file family. */
            int col = 1;
            if (strstr(e->d_name, "_hourly")) {
                col = 4;
                CHECK(strstr(t->column, "(direct)") != NULL);
            } else if (!strncmp(e->d_name, "dacf-forecast", 13)) {
                CHECK_STR(t->column, "actual");
            } else {
                CHECK_STR(t->column, "ci");
            }
            int64_t want_step = strstr(e->d_name, "watttime") ? 1800 : 3600;
            CHECK(t->step_s == want_step);
            CHECK_STR(t->note, ""); /* one step throughout: nothing resampled, nothing to say */
            for (size_t i = 0; i < t->n; i++)
                if (!isfinite(t->ci[i]) || t->ci[i] < 0) {
                    CHECK(!"every value finite and >= 0");
                    break;
                }
            check_against_ref(t, rel, col);
            chase_trace_free(t);
        }
        closedir(d);
    }
    CHECK(files >= 22); /* 5 dacf + 6 dacf-forecast + 8 eia + 1 watttime + 2 electricitymaps */
}

static void test_row_counts(void)
{
    struct {
        const char *rel;
        size_t n;
    } cases[] = {{"carbon/dacf-SE-2020-2021.csv", 17544},      /* two years, 2020 a leap year */
                 {"carbon/dacf-forecast-DE-2021H2.csv", 4416}, /* 184 days */
                 {"carbon/eia-PJM-2022.csv", 8760},            /* a year, with gaps */
                 {"carbon/watttime-MISO_MASON_CITY-2022-10.csv", 167},
                 {"carbon/electricitymaps-format/JP-TK_2023_hourly.csv", 8760}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        chase_trace_t *t = load(cases[i].rel, NULL);
        if (!t)
            continue;
        CHECK(t->n == cases[i].n);
        chase_trace_free(t);
    }
}

static void test_pjm_gaps_filled(void)
{
    chase_trace_t *t = load("carbon/eia-PJM-2022.csv", NULL);
    if (!t)
        return;
    CHECK(t->filled != NULL);
    /* The long gap: 22 empty rows from 2022-03-13T07:00Z. */
    int64_t gs;
    chase_time_parse("2022-03-13T07:00:00Z", &gs, NULL);
    long a = chase_trace_index(t, gs), len = 0;
    CHECK(a > 24);
    while (a + len < (long)t->n && t->filled[a + len])
        len++;
    CHECK(len == 22);
    CHECK(!t->filled[a - 1] && !t->filled[a + len]);
    /* Documented rule: the day before, offset linearly so the fill meets both neighbours. */
    double off_l = t->ci[a - 1] - t->ci[a - 1 - 24], off_r = t->ci[a + len] - t->ci[a + len - 24];
    double worst = 0;
    for (long k = 0; k < len; k++) {
        double want = t->ci[a + k - 24] + off_l + (off_r - off_l) * (double)(k + 1) / (double)(len + 1);
        worst = fmax(worst, fabs(t->ci[a + k] - want));
    }
    CHECK_NEAR(worst, 0, 1e-9);
    /* The one-hour gap on 2022-11-07T05:00Z: the mean of its neighbours. */
    chase_time_parse("2022-11-07T05:00:00Z", &gs, NULL);
    long b = chase_trace_index(t, gs);
    CHECK(t->filled[b]);
    CHECK_NEAR(t->ci[b], (t->ci[b - 1] + t->ci[b + 1]) / 2, 1e-9);
    CHECK(t->n_filled == 23);
    chase_trace_free(t);
}

static void test_short_gaps_linear(void)
{
    const char *files[] = {"carbon/eia-CISO-2022.csv", "carbon/eia-MISO-2022.csv"};
    for (int f = 0; f < 2; f++) {
        chase_trace_t *t = load(files[f], NULL);
        if (!t)
            continue;
        CHECK(t->n_filled == 3 && t->filled != NULL);
        if (!t->filled) {
            chase_trace_free(t);
            continue;
        }
        size_t runs = 0;
        for (size_t i = 0; i < t->n; i++) {
            if (!t->filled[i] || t->filled[i - 1])
                continue;
            size_t b = i;
            while (t->filled[b])
                b++;
            runs++;
            for (size_t k = i; k < b; k++) {
                double want = t->ci[i - 1] + (t->ci[b] - t->ci[i - 1]) * (double)(k - i + 1) / (double)(b - i + 1);
                CHECK_NEAR(t->ci[k], want, 1e-9);
            }
        }
        CHECK(runs >= 2);
        chase_trace_free(t);
    }
}

static void test_named_columns(void)
{
    chase_trace_read_opts_t o = {.column = "dacf_forecast"};
    chase_trace_t *t = load("carbon/dacf-forecast-PJM-2021H2.csv", &o);
    if (t) {
        CHECK_STR(t->column, "dacf_forecast");
        check_against_ref(t, "carbon/dacf-forecast-PJM-2021H2.csv", 2);
        chase_trace_free(t);
    }
    o.column = "watttime_forecast";
    t = load("carbon/watttime-MISO_MASON_CITY-2022-10.csv", &o);
    if (t) {
        check_against_ref(t, "carbon/watttime-MISO_MASON_CITY-2022-10.csv", 2);
        chase_trace_free(t);
    }
    o.column = "ACTUAL"; /* names match without regard to case when there is no exact match */
    t = load("carbon/dacf-forecast-SE-2021H2.csv", &o);
    if (t) {
        CHECK_STR(t->column, "actual");
        chase_trace_free(t);
    }
}

static void test_electricitymaps_direct_vs_lca(void)
{
    const char *rel = "carbon/electricitymaps-format/AU-NSW_2023_hourly.csv";
    chase_trace_read_opts_t o = {0};
    chase_trace_t *d = load(rel, &o);
    o.lca = 1;
    chase_trace_t *l = load(rel, &o);
    if (d && l) {
        CHECK(strstr(l->column, "(LCA)") != NULL);
        check_against_ref(l, rel, 5);
        CHECK(d->n == l->n && d->start == l->start);
        size_t higher = 0;
        double sd = 0, sl = 0;
        for (size_t i = 0; i < d->n; i++) {
            higher += l->ci[i] > d->ci[i];
            sd += d->ci[i];
            sl += l->ci[i];
        }
        CHECK(higher == d->n); /* life-cycle CI adds upstream emissions: above direct every hour */
        CHECK(sl > sd * 1.05);
    }
    /* A named column beats lca. */
    o.column = "Renewable Percentage";
    chase_trace_t *r = load(rel, &o);
    if (r) {
        check_against_ref(r, rel, 7);
        chase_trace_free(r);
    }
    chase_trace_free(d);
    chase_trace_free(l);
}

/* Reading speed, as CPU time (what other jobs on a shared machine take is not counted) with a generous bound: it
 * catches a reader gone quadratic (seconds), not a busy machine. */
static void test_speed(void)
{
    char path[1024];
    if (!shared_data_path("carbon/dacf-CISO-2020-2021.csv", path, sizeof path)) {
        have_data = 0;
        return;
    }
    double best = 1e9;
    for (int k = 0; k < 10; k++) {
        struct timespec a, b;
        chase_trace_t *t;
        chase_err_t err;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
        CHECK(chase_trace_read_csv(path, NULL, &t, &err) == CHASE_OK);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
        best = fmin(best, (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6);
        chase_trace_free(t);
    }
    fprintf(stderr, "reading 2 years of hourly CI (17544 rows): %.2f ms CPU\n", best);
#if defined(__SANITIZE_ADDRESS__) || defined(__OPTIMIZE__) == 0
    CHECK(best < 2000); /* sanitizers and -O0 are slow; only catch gross regressions */
#else
    CHECK(best < 200); /* about 2 ms on the project's machine; one year must stay well under 10 ms */
#endif
}

/* ---------- generated CSVs */

static int parse(const char *text, const chase_trace_read_opts_t *o, chase_trace_t **t, chase_err_t *err)
{
    *t = NULL;
    memset(err, 0, sizeof *err);
    return chase_trace_parse_csv(text, strlen(text), "mem.csv", o, t, err);
}

/* The text must be rejected with code, and the message must name "mem.csv:LINE" (when line > 0) and contain word. */
static void expect_error(const char *text, const chase_trace_read_opts_t *o, int code, int line, const char *word)
{
    chase_trace_t *t;
    chase_err_t err;
    int rc = parse(text, o, &t, &err);
    char where[64];
    snprintf(where, sizeof where, "mem.csv:%d:", line);
    int ok = rc == code && t == NULL && (line <= 0 || strstr(err.msg, where)) && (!word || strstr(err.msg, word));
    if (!ok)
        fprintf(stderr, "  expected code %d at line %d with '%s'; got %d: %s\n", code, line, word ? word : "", rc,
                err.msg);
    CHECK(ok);
    chase_trace_free(t);
}

static void test_errors_with_lines(void)
{
    const char *h = "time,ci\n";
    char buf[1024];
#define ROWS(s) (snprintf(buf, sizeof buf, "%s%s", h, s), buf)
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n2020-01-01T01:00:00Z,2,3\n"), NULL, CHASE_EFORMAT, 3, "fields");
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n2020-01-01T01:00:00Z\n"), NULL, CHASE_EFORMAT, 3, "1 field,");
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n2020-01-01T01:00:00Z,abc\n"), NULL, CHASE_EFORMAT, 3, "abc");
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n2020-01-01T01:00:00Z,12x\n"), NULL, CHASE_EFORMAT, 3, "number");
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n2020-01-01T02:00:00Z,2\n2020-01-01T01:00:00Z,3\n"), NULL, CHASE_EFORMAT,
                 4, "order");
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n2020-01-01T01:00:00Z,2\n2020-01-01T01:00:00Z,3\n"), NULL, CHASE_EFORMAT,
                 4, "duplicate");
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n2020-01-01T01:00:00Z,-2\n"), NULL, CHASE_EFORMAT, 3, "negative");
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n2020-01-01T01:00:00Z,nan\n"), NULL, CHASE_EFORMAT, 3, "finite");
    expect_error(ROWS("2020-01-01T00:00:00Z,inf\n2020-01-01T01:00:00Z,1\n"), NULL, CHASE_EFORMAT, 2, "finite");
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n2020-13-01T01:00:00Z,1\n"), NULL, CHASE_EFORMAT, 3, "ISO-8601");
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n,1\n"), NULL, CHASE_EFORMAT, 3, "time");
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n\"2020-01-01T01:00:00Z,2\n"), NULL, CHASE_EFORMAT, 3, "quote");
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n\"2020-01-01T01:00:00Z\"x,2\n"), NULL, CHASE_EFORMAT, 3, "quote");
    /* Off the grid: hourly rows, one at half past. */
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n2020-01-01T01:00:00Z,1\n2020-01-01T02:00:00Z,1\n"
                      "2020-01-01T02:30:00Z,1\n2020-01-01T04:00:00Z,1\n"),
                 NULL, CHASE_EFORMAT, 5, "grid");
    /* Steps outside 5..60 min. */
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n2020-01-01T00:01:00Z,1\n2020-01-01T00:02:00Z,1\n"), NULL, CHASE_EFORMAT,
                 3, "1 min");
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n2020-01-01T02:00:00Z,1\n2020-01-01T04:00:00Z,1\n"), NULL, CHASE_EFORMAT,
                 3, "2 h");
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n"), NULL, CHASE_EFORMAT, 2, "one data row");
    expect_error(ROWS("2020-01-01T00:00:00Z,\n2020-01-01T01:00:00Z,\n"), NULL, CHASE_EFORMAT, 0, "no values");
    /* Empty file, blank file, header only (also with blank lines after it). */
    expect_error("", NULL, CHASE_EFORMAT, 0, "empty");
    expect_error("\n\n", NULL, CHASE_EFORMAT, 0, "empty");
    expect_error("time,ci\n", NULL, CHASE_EFORMAT, 1, "no data rows");
    expect_error("\ntime,ci\r\n\r\n", NULL, CHASE_EFORMAT, 2, "no data rows");
    /* Header problems. */
    expect_error("2020-01-01T00:00:00Z,1\n2020-01-01T01:00:00Z,2\n", NULL, CHASE_EFORMAT, 1, "header");
    expect_error("when,ci\n2020-01-01T00:00:00Z,1\n", NULL, CHASE_EFORMAT, 1, "'when'");
    expect_error("time,price\n2020-01-01T00:00:00Z,1\n", NULL, CHASE_EFORMAT, 1, "'price'");
    chase_trace_read_opts_t o = {.column = "foo"};
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n2020-01-01T01:00:00Z,2\n"), &o, CHASE_ENOTFOUND, 1, "'ci'");
    o.column = "time";
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n2020-01-01T01:00:00Z,2\n"), &o, CHASE_EINVAL, 1, "times");
    chase_trace_read_opts_t lca = {.lca = 1};
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n2020-01-01T01:00:00Z,2\n"), &lca, CHASE_EFORMAT, 1, "LCA");
    chase_trace_read_opts_t neg = {.max_gap_s = -1};
    expect_error(ROWS("2020-01-01T00:00:00Z,1\n2020-01-01T01:00:00Z,2\n"), &neg, CHASE_EINVAL, 0, "max_gap");
#undef ROWS
}

/* count hourly rows from 2020-01-01, value i+100, except rows [gap_from, gap_to) which are empty (or absent). */
static char *hourly(int count, int gap_from, int gap_to, int absent)
{
    size_t cap = 64 + (size_t)count * 40, o = 0;
    char *s = malloc(cap);
    o += (size_t)snprintf(s + o, cap - o, "time,ci\n");
    for (int i = 0; i < count; i++) {
        char ts[32];
        chase_time_format(1577836800 + (int64_t)i * 3600, ts, sizeof ts);
        int in_gap = i >= gap_from && i < gap_to;
        if (in_gap && absent)
            continue;
        if (in_gap)
            o += (size_t)snprintf(s + o, cap - o, "%s,\n", ts);
        else
            o += (size_t)snprintf(s + o, cap - o, "%s,%d\n", ts, i + 100);
    }
    return s;
}

static void test_long_gap_error_names_rows(void)
{
    /* A 30 h gap of empty rows 50..79 sits on lines 52..81. */
    char *s = hourly(200, 50, 80, 0);
    expect_error(s, NULL, CHASE_EFORMAT, 52, "line 81");
    expect_error(s, NULL, CHASE_EFORMAT, 52, "30 h");
    expect_error(s, NULL, CHASE_EFORMAT, 52, "max_gap");
    /* Raising the limit fills it. */
    chase_trace_read_opts_t o = {.max_gap_s = 30 * 3600};
    chase_trace_t *t;
    chase_err_t err;
    CHECK(parse(s, &o, &t, &err) == CHASE_OK);
    if (t) {
        CHECK(t->n_filled == 30 && t->n == 200);
        chase_trace_free(t);
    }
    free(s);
    /* The same gap as absent rows: the message says where rows are missing. */
    s = hourly(200, 50, 80, 1);
    expect_error(s, NULL, CHASE_EFORMAT, 51, "no row, after line 51");
    expect_error(s, NULL, CHASE_EFORMAT, 51, "no row, before line 52");
    free(s);
    /* A limit below the step refuses every gap, even one hour. */
    s = hourly(10, 5, 6, 0);
    o.max_gap_s = 60;
    expect_error(s, &o, CHASE_EFORMAT, 7, "1 h");
    free(s);
}

static void test_linear_fill_and_absent_rows(void)
{
    chase_trace_t *t;
    chase_err_t err;
    char *s = hourly(20, 5, 8, 1); /* rows 5, 6, 7 absent: 3 h, linear */
    CHECK(parse(s, NULL, &t, &err) == CHASE_OK);
    if (t) {
        CHECK(t->n == 20 && t->n_filled == 3);
        for (int i = 5; i < 8; i++) {
            CHECK(t->filled[i]);
            CHECK_NEAR(t->ci[i], 104 + (108.0 - 104) * (i - 4) / 4, 1e-12); /* neighbours 104 and 108 */
        }
        CHECK(!t->filled[4] && !t->filled[8]);
        chase_trace_free(t);
    }
    free(s);
}

/* A series that repeats every day: the day-before fill must give back exactly what was removed. */
static void test_daily_fill_restores_periodic_series(void)
{
    char *s = malloc(200000);
    size_t o = (size_t)sprintf(s, "time,ci\n");
    double vals[4 * 96]; /* 15-min steps, 4 identical days; day 2 gets a 6 h hole */
    for (int i = 0; i < 4 * 96; i++)
        vals[i] = 300 + 100 * sin(2 * M_PI * (i % 96) / 96.0) + 7 * (((i % 96) * 7) % 5);
    for (int i = 0; i < 4 * 96; i++) {
        char ts[32];
        chase_time_format(1577836800 + (int64_t)i * 900, ts, sizeof ts);
        if (i >= 96 + 40 && i < 96 + 64)
            o += (size_t)sprintf(s + o, "%s,\n", ts);
        else
            o += (size_t)sprintf(s + o, "%s,%.17g\n", ts, vals[i]);
    }
    chase_trace_t *t;
    chase_err_t err;
    CHECK(parse(s, NULL, &t, &err) == CHASE_OK);
    if (t) {
        CHECK(t->step_s == 900 && t->n_filled == 24);
        double worst = 0;
        for (int i = 96 + 40; i < 96 + 64; i++)
            worst = fmax(worst, fabs(t->ci[i] - vals[i]));
        CHECK_NEAR(worst, 0, 1e-9);
        chase_trace_free(t);
    }
    /* The same hole in the first day has no day before: it is interpolated linearly (documented). */
    o = (size_t)sprintf(s, "time,ci\n");
    for (int i = 0; i < 2 * 96; i++) {
        char ts[32];
        chase_time_format(1577836800 + (int64_t)i * 900, ts, sizeof ts);
        if (i >= 40 && i < 64)
            o += (size_t)sprintf(s + o, "%s,\n", ts);
        else
            o += (size_t)sprintf(s + o, "%s,%.17g\n", ts, vals[i]);
    }
    CHECK(parse(s, NULL, &t, &err) == CHASE_OK);
    if (t) {
        CHECK_NEAR(t->ci[50], vals[39] + (vals[64] - vals[39]) * 11 / 25.0, 1e-9);
        chase_trace_free(t);
    }
    free(s);
}

static void test_edges_trimmed(void)
{
    chase_trace_t *t;
    chase_err_t err;
    const char *s = "time,ci\n2020-01-01T00:00:00Z,\n2020-01-01T01:00:00Z,\n2020-01-01T02:00:00Z,5\n"
                    "2020-01-01T03:00:00Z,6\n2020-01-01T04:00:00Z,7\n2020-01-01T05:00:00Z,\n";
    CHECK(parse(s, NULL, &t, &err) == CHASE_OK);
    if (t) {
        CHECK(t->n == 3 && t->trimmed_head == 2 && t->trimmed_tail == 1 && t->n_filled == 0);
        CHECK(t->start == 1577836800 + 2 * 3600);
        CHECK(t->ci[0] == 5 && t->ci[2] == 7);
        chase_trace_free(t);
    }
}

static void test_bom_crlf_quotes_offsets(void)
{
    chase_trace_t *t;
    chase_err_t err;
    /* A spreadsheet export: BOM, CRLF, quoted fields (a comma and a doubled quote inside), an offset time, an
     * Electricity Maps style header with the unicode subscript. */
    const char *s = "\xEF\xBB\xBF\"Datetime (UTC)\",Zone,\"Carbon Intensity gCO\xE2\x82\x82"
                    "eq/kWh (direct)\","
                    "\"Carbon Intensity gCO\xE2\x82\x82"
                    "eq/kWh (LCA)\",Note\r\n"
                    "\"2023-01-01 00:00:00\",\"Tokyo, JP\",\"100.5\",120,\"said \"\"hi\"\"\"\r\n"
                    "2023-01-01 01:00:00,JP, 200 ,220,\"two\r\nlines\"\r\n"
                    "2023-01-01T03:00:00+01:00,JP,300,330,\r\n";
    CHECK(parse(s, NULL, &t, &err) == CHASE_OK);
    if (t) {
        CHECK(t->n == 3 && t->step_s == 3600 && t->start == 1672531200);
        CHECK(t->ci[0] == 100.5 && t->ci[1] == 200 && t->ci[2] == 300);
        chase_trace_free(t);
    } else {
        fprintf(stderr, "  %s\n", err.msg);
    }
    chase_trace_read_opts_t o = {.lca = 1};
    CHECK(parse(s, &o, &t, &err) == CHASE_OK);
    if (t) {
        CHECK(t->ci[0] == 120 && t->ci[2] == 330);
        chase_trace_free(t);
    }
    /* The quoted line break counts: the row after it is line 4. */
    const char *bad = "time,ci,note\n2020-01-01T00:00:00Z,1,\"a\nb\"\n2020-01-01T01:00:00Z,x,\n";
    expect_error(bad, NULL, CHASE_EFORMAT, 4, "'x'");
    /* Without a trailing newline, and with blank lines between rows. */
    CHECK(parse("time,ci\n2020-01-01T00:00:00Z,1\n\n2020-01-01T00:05:00Z,2", NULL, &t, &err) == CHASE_OK);
    if (t) {
        CHECK(t->n == 2 && t->step_s == 300 && t->ci[1] == 2);
        chase_trace_free(t);
    }
}

static void test_step_is_most_common_spacing(void)
{
    /* 30-min rows with one missing: the step stays 30 min and the missing row is filled. */
    const char *s = "time,ci\n2020-01-01T00:00:00Z,1\n2020-01-01T00:30:00Z,2\n2020-01-01T01:30:00Z,4\n"
                    "2020-01-01T02:00:00Z,5\n";
    chase_trace_t *t;
    chase_err_t err;
    CHECK(parse(s, NULL, &t, &err) == CHASE_OK);
    if (t) {
        CHECK(t->step_s == 1800 && t->n == 5 && t->n_filled == 1);
        CHECK_NEAR(t->ci[2], 3, 1e-12);
        chase_trace_free(t);
    }
}

/* A temporary folder for the tests that need files of their own. */
static const char *scratch_dir(void)
{
    static char dir[256];
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/chase-test-trace-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            exit(1);
        }
    }
    return dir;
}

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

/* A FIFO, a directory or a device given as the trace is bad input (exit status 2), refused before any read: a FIFO
 * used to block in open() for ever, and /dev/zero never ends. An alarm turns a hang into a failure. */
static void test_only_regular_files(void)
{
    char fifo[300], dirpath[300];
    snprintf(fifo, sizeof fifo, "%s/ci.fifo", scratch_dir());
    snprintf(dirpath, sizeof dirpath, "%s/adir.csv", scratch_dir());
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK(mkdir(dirpath, 0700) == 0);
    const char *paths[] = {fifo, dirpath, "/dev/zero", "/dev/null"};
    const char *kind[] = {"FIFO", "directory", "character device", "character device"};
    alarm(20);
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        chase_trace_t *t = NULL;
        chase_err_t err = {0};
        int rc = chase_trace_read_csv(paths[i], NULL, &t, &err);
        CHECK(rc == CHASE_EINVAL && t == NULL);
        CHECK(chase_exit_status(rc) == 2);
        CHECK(strstr(err.msg, paths[i]) != NULL && strstr(err.msg, kind[i]) != NULL);
        if (rc != CHASE_EINVAL || !strstr(err.msg, kind[i]))
            fprintf(stderr, "  %s: %d %s\n", paths[i], rc, err.msg);
    }
    alarm(0);
    chase_trace_t *t = NULL;
    chase_err_t err = {0};
    char missing[300];
    snprintf(missing, sizeof missing, "%s/missing.csv", scratch_dir());
    CHECK(chase_trace_read_csv(missing, NULL, &t, &err) == CHASE_ENOTFOUND && strstr(err.msg, missing));
    unlink(fifo);
    rmdir(dirpath);
}

/* A NUL byte is not text: "12\0abc" used to read as 12 (strtod stops at the NUL). Anywhere in the file it is an
 * error naming its line, in the text given in memory and in a file. */
static void test_nul_bytes_refused(void)
{
    static const char a[] = "time,ci\n2020-01-01T00:00:00Z,1\n2020-01-01T01:00:00Z,12\0abc\n2020-01-01T02:00:00Z,3\n";
    static const char b[] = "time,ci\n2020-01-01T00:00:00Z,1\n2020-01-01T01:00:00Z\0junk,2\n2020-01-01T02:00:00Z,3\n";
    static const char c[] = "time,ci\r\n2020-01-01T00:00:00Z,1\r2020-01-01T01:00:00Z,2\0\n";
    const struct {
        const char *text;
        size_t len;
        int line;
    } cases[] = {{a, sizeof a - 1, 3}, {b, sizeof b - 1, 3}, {c, sizeof c - 1, 3}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        chase_trace_t *t = NULL;
        chase_err_t err = {0};
        int rc = chase_trace_parse_csv(cases[i].text, cases[i].len, "mem.csv", NULL, &t, &err);
        char where[32];
        snprintf(where, sizeof where, "mem.csv:%d:", cases[i].line);
        CHECK(rc == CHASE_EFORMAT && t == NULL && strstr(err.msg, where) && strstr(err.msg, "NUL"));
        if (rc != CHASE_EFORMAT || !strstr(err.msg, where))
            fprintf(stderr, "  case %zu: %d %s\n", i, rc, err.msg);
        chase_trace_free(t);
    }
    char path[300];
    snprintf(path, sizeof path, "%s/nul.csv", scratch_dir());
    write_text(path, a, sizeof a - 1);
    chase_trace_t *t = NULL;
    chase_err_t err = {0};
    CHECK(chase_trace_read_csv(path, NULL, &t, &err) == CHASE_EFORMAT && t == NULL && strstr(err.msg, ":3:"));
    unlink(path);
}

/* Names and values from the file reach messages escaped, and the trace's own name and column are safe labels. */
static void test_names_escaped(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/x\x1b]0;pwned\x07.csv", scratch_dir());
    static const char text[] = "time,\x1b[31mred\n2020-01-01T00:00:00Z,1\n2020-01-01T01:00:00Z,2\n";
    write_text(path, text, sizeof text - 1);
    chase_trace_t *t = NULL;
    chase_err_t err = {0};
    CHECK(chase_trace_read_csv(path, NULL, &t, &err) == CHASE_EFORMAT);
    CHECK(strchr(err.msg, '\x1b') == NULL && strchr(err.msg, '\x07') == NULL);
    CHECK(strstr(err.msg, "x\\x1b]0;pwned\\x07.csv") && strstr(err.msg, "'\\x1b[31mred'"));
    fprintf(stderr, "  (message: %s)\n", err.msg);
    chase_trace_read_opts_t o = {.column = "\x1b[31mred"};
    CHECK(chase_trace_read_csv(path, &o, &t, &err) == CHASE_OK);
    if (t) {
        CHECK_STR(t->name, "x\\x1b]0;pwned\\x07");
        CHECK_STR(t->column, "\\x1b[31mred");
        chase_trace_free(t);
    }
    o.column = "\x1b[2Jgone";
    CHECK(chase_trace_read_csv(path, &o, &t, &err) == CHASE_ENOTFOUND);
    CHECK(strchr(err.msg, '\x1b') == NULL && strstr(err.msg, "\\x1b[2Jgone"));
    unlink(path);
    /* A bad time or value quotes the field, escaped. */
    expect_error("time,ci\n2020-01-01T00:00:00Z,1\n\x1b[2J,2\n", NULL, CHASE_EFORMAT, 3, "'\\x1b[2J'");
    expect_error("time,ci\n2020-01-01T00:00:00Z,1\n2020-01-01T01:00:00Z,\x1b[2J\n", NULL, CHASE_EFORMAT, 3,
                 "'\\x1b[2J'");
    /* A time an offset moves before the year 0 is refused like any bad time. */
    expect_error("time,ci\n0000-01-01T00:00:00+01:00,1\n0000-01-01T01:00:00+01:00,2\n", NULL, CHASE_EFORMAT, 2,
                 "ISO-8601");
}

/* Rows from (time, value, minutes to the next row) triples: a file whose spacing is given row by row. */
static char *rows_csv(int64_t t0, const int *minutes, size_t n, const double *v)
{
    size_t cap = 32 + n * 48, o = 0;
    char *s = malloc(cap);
    o += (size_t)snprintf(s, cap, "time,ci\n");
    int64_t t = t0;
    for (size_t i = 0; i < n; i++) {
        char ts[32];
        chase_time_format(t, ts, sizeof ts);
        if (isnan(v[i]))
            o += (size_t)snprintf(s + o, cap - o, "%s,\n", ts);
        else
            o += (size_t)snprintf(s + o, cap - o, "%s,%g\n", ts, v[i]);
        t += (int64_t)minutes[i] * 60;
    }
    return s;
}

/* A series whose step changes part way, as ENTSO-E's went from 30- (or 60-) minute to 15-minute values: read at the
 * finest step, each row's value held over its own step, and said once in the note. Before, the first 15-minute row
 * was "off the 30 min grid" and the file could not be read at all. */
static void test_step_changes_part_way(void)
{
    /* Three days of 30-min values, then three days of 15-min ones, from 2025-09-28; a daily curve. */
    enum { A = 3 * 48, B = 3 * 96 };
    int minutes[A + B];
    double v[A + B];
    for (int i = 0; i < A + B; i++) {
        minutes[i] = i < A ? 30 : 15;
        double h = i < A ? i * 0.5 : A * 0.5 + (i - A) * 0.25;
        v[i] = round(300 + 100 * sin(2 * M_PI * h / 24));
    }
    int64_t t0 = 1759017600; /* 2025-09-28T00:00:00Z */
    char *text = rows_csv(t0, minutes, A + B, v);
    chase_trace_t *t = NULL;
    chase_err_t err = {0};
    CHECK(chase_trace_parse_csv(text, strlen(text), "entsoe.csv", NULL, &t, &err) == CHASE_OK);
    if (t) {
        CHECK(t->step_s == 900 && t->start == t0 && t->n == 2 * A + B && t->n_filled == 0);
        int held = 1;
        for (int i = 0; i < A; i++)
            held &= t->ci[2 * i] == v[i] && t->ci[2 * i + 1] == v[i];
        for (int i = 0; i < B; i++)
            held &= t->ci[2 * A + i] == v[A + i];
        CHECK(held);
        /* The step-hold integral of every row is kept exactly: 30 min of each 30-min value. */
        double want = 0;
        for (int i = 0; i < A + B; i++)
            want += v[i] * minutes[i] * 60;
        CHECK_NEAR(chase_trace_integral(t, (double)t->start, (double)chase_trace_end(t)), want, 1e-6);
        /* Said once, with where: the first 15-min row is data row A (from 0), on line A + 2 under the header. */
        fprintf(stderr, "  (note: %s)\n", t->note);
        CHECK(strstr(t->note, "from 30 min to 15 min") && strstr(t->note, "read at 15 min"));
        char where[64];
        snprintf(where, sizeof where, "line %d (2025-10-01T00:00:00Z)", A + 2);
        CHECK(strstr(t->note, where) != NULL);
        chase_trace_free(t);
    }
    free(text);

    /* The other way, 15 then 30 min: every row sits on the 15-min grid, but the 30-min values are held, not read
     * as 15-min rows with every other one missing (which would interpolate them and call half the trace filled). */
    int m2[12] = {15, 15, 15, 15, 15, 30, 30, 30, 30, 30, 30, 30};
    double v2[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    text = rows_csv(t0, m2, 12, v2);
    CHECK(chase_trace_parse_csv(text, strlen(text), "back.csv", NULL, &t, &err) == CHASE_OK);
    if (t) {
        CHECK(t->step_s == 900 && t->n_filled == 0 && t->n == 5 + 2 * 7);
        CHECK(t->n == 19 && t->ci[5] == 6 && t->ci[6] == 6 && t->ci[17] == 12 && t->ci[18] == 12);
        CHECK(strstr(t->note, "from 15 min to 30 min") != NULL);
        chase_trace_free(t);
    }
    free(text);

    /* Hourly, half-hourly, hourly again, with a gap in the middle part and an empty value: two changes; the gap is
     * filled as any gap is, and the note counts the changes. */
    int m3[21] = {60, 60, 60, 60, 60, 30, 30, 30, 30, 90, 30, 30, 30, 30, 60, 60, 60, 60, 60, 60, 60};
    double v3[21] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, NAN, 14, 15, 16, 17, 18, 19, 20, 21};
    text = rows_csv(t0, m3, 21, v3);
    CHECK(chase_trace_parse_csv(text, strlen(text), "three.csv", NULL, &t, &err) == CHASE_OK);
    if (!t)
        fprintf(stderr, "  three.csv: %s\n", err.msg);
    if (t) {
        CHECK(t->step_s == 1800 && t->n == 35);
        CHECK(strstr(t->note, "changes 2 times") && strstr(t->note, "first from 1 h to 30 min"));
        CHECK(t->n_filled == 3); /* two half-hours of the 90-min gap's hole, and the empty value */
        CHECK(t->ci[0] == 1 && t->ci[1] == 1 && t->ci[10] == 6);
        fprintf(stderr, "  (note: %s)\n", t->note);
        chase_trace_free(t);
    }
    free(text);

    /* A row off the grid of its own part is still an error, named as such. */
    int m4[12] = {30, 30, 30, 30, 30, 15, 15, 15, 15, 20, 10, 15};
    double v4[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    text = rows_csv(t0, m4, 12, v4);
    expect_error(text, NULL, CHASE_EFORMAT, 12, "off the 15 min grid of this part");
    free(text);
    /* Parts with no common grid of 5 minutes or more cannot be one series. */
    int m5[12] = {60, 60, 60, 60, 67, 15, 15, 15, 15, 15, 15, 15};
    text = rows_csv(t0, m5, 12, v4);
    expect_error(text, NULL, CHASE_EFORMAT, 0, "share no grid");
    free(text);
}

/* Random byte edits of a valid file: never a crash, and always either a valid trace or an error that names the
 * file. Run under ASan this also finds reads past the end of the text. */
static void test_mutations_never_crash(void)
{
    const char *base = "\xEF\xBB\xBF\"Datetime (UTC)\",Zone,Carbon Intensity gCO2eq/kWh (direct),Note\r\n"
                       "2023-01-01 00:00:00,\"A, B\",100,\"x\"\"y\"\r\n"
                       "2023-01-01 01:00:00,A,,\r\n"
                       "2023-01-01 02:00:00,A,120,\r\n"
                       "2023-01-01 04:00:00,A,90.5,z\r\n"
                       "2023-01-01 05:00:00,A,80,\r\n";
    size_t blen = strlen(base);
    char buf[512];
    const char alphabet[] = "0123456789:-TZ ,\"\r\n.e+abc";
    uint64_t x = 88172645463325252ull;
    int bad = 0, accepted = 0;
    for (int k = 0; k < 4000; k++) {
        memcpy(buf, base, blen);
        size_t len = blen;
        int edits = 1 + k % 4;
        for (int e = 0; e < edits; e++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t at = (size_t)(x >> 8) % len;
            char ch = alphabet[(x >> 40) % (sizeof alphabet - 1)];
            switch ((x >> 60) % 3) {
            case 0: buf[at] = ch; break;
            case 1: memmove(buf + at, buf + at + 1, len - at - 1), len--; break;
            default:
                if (len + 1 < sizeof buf)
                    memmove(buf + at + 1, buf + at, len - at), buf[at] = ch, len++;
            }
        }
        /* Parse an exact-size copy so reading one byte too far is caught by ASan. */
        char *exact = malloc(len);
        memcpy(exact, buf, len);
        chase_trace_t *t = NULL;
        chase_err_t err = {0};
        int rc = chase_trace_parse_csv(exact, len, "fz.csv", NULL, &t, &err);
        if (rc == CHASE_OK) {
            accepted++;
            if (!t || t->n < 1 || t->step_s < 300 || t->step_s > 3600)
                bad++;
            for (size_t i = 0; t && i < t->n; i++)
                if (!isfinite(t->ci[i]) || t->ci[i] < 0)
                    bad++;
        } else if (t || strncmp(err.msg, "fz.csv", 6) || rc >= 0) {
            bad++;
        }
        chase_trace_free(t);
        free(exact);
    }
    fprintf(stderr, "mutations: %d of 4000 still parse\n", accepted);
    CHECK(bad == 0);
    CHECK(accepted > 100 && accepted < 4000); /* the edits both break and keep files, or the test proves little */
}

static void test_wide_header(void)
{
    char buf[4096];
    size_t o = 0;
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "c%d,", i);
    o += (size_t)snprintf(buf + o, sizeof buf - o, "time,ci\n");
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < 40; i++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%d,", i);
        o += (size_t)snprintf(buf + o, sizeof buf - o, "2020-01-01T0%d:00:00Z,%d\n", r, 7 + r);
    }
    chase_trace_t *t;
    chase_err_t err;
    CHECK(parse(buf, NULL, &t, &err) == CHASE_OK);
    if (t) {
        CHECK(t->n == 2 && t->ci[0] == 7 && t->ci[1] == 8);
        chase_trace_free(t);
    }
}

/* ---------- the series itself */

static void test_lookup_and_integral(void)
{
    chase_trace_t *t = chase_trace_new("x", 1000, 100, 4);
    CHECK(t != NULL);
    if (!t)
        return;
    double v[] = {10, 20, 40, 80};
    memcpy(t->ci, v, sizeof v);
    CHECK(chase_trace_end(t) == 1400);
    CHECK(chase_trace_index(t, 999) == -1 && chase_trace_index(t, 1000) == 0 && chase_trace_index(t, 1399) == 3);
    CHECK(chase_trace_index(t, 1400) == -1);
    CHECK(chase_trace_at(t, 1099.999) == 10 && chase_trace_at(t, 1100) == 20);
    CHECK(isnan(chase_trace_at(t, 999.5)) && isnan(chase_trace_at(t, 1400)) && isnan(chase_trace_at(t, NAN)));
    /* [1050, 1225): half of sample 0, all of 1, a quarter of 2. */
    CHECK_NEAR(chase_trace_integral(t, 1050, 1225), 10 * 50 + 20 * 100 + 40 * 25, 1e-9);
    CHECK_NEAR(chase_trace_integral(t, 1000, 1400), 100 * (10 + 20 + 40 + 80), 1e-9);
    CHECK_NEAR(chase_trace_integral(t, 1210.5, 1210.75), 40 * 0.25, 1e-12);
    CHECK(chase_trace_integral(t, 1200, 1200) == 0);
    CHECK(isnan(chase_trace_integral(t, 999, 1100)) && isnan(chase_trace_integral(t, 1100, 1401)));
    CHECK(isnan(chase_trace_integral(t, 1200, 1100)));
    chase_trace_t *s = chase_trace_slice(t, 1, 2);
    CHECK(s && s->start == 1100 && s->n == 2 && s->ci[0] == 20 && s->ci[1] == 40 && s->step_s == 100);
    chase_trace_free(s);
    CHECK(chase_trace_slice(t, 3, 2) == NULL);
    CHECK(chase_trace_new("bad", 0, 0, 3) == NULL);
    chase_trace_free(t);
    chase_trace_free(NULL);
}

static void test_slice_keeps_filled_flags(void)
{
    chase_trace_t *t;
    chase_err_t err;
    char *s = hourly(10, 4, 5, 0);
    CHECK(parse(s, NULL, &t, &err) == CHASE_OK);
    if (t) {
        chase_trace_t *a = chase_trace_slice(t, 3, 3), *b = chase_trace_slice(t, 6, 3);
        CHECK(a && a->n_filled == 1 && a->filled && a->filled[1]);
        CHECK(b && b->n_filled == 0 && b->filled == NULL);
        chase_trace_free(a);
        chase_trace_free(b);
        chase_trace_free(t);
    }
    free(s);
}

int main(void)
{
    RUN(test_every_real_file_loads);
    RUN(test_row_counts);
    RUN(test_pjm_gaps_filled);
    RUN(test_short_gaps_linear);
    RUN(test_named_columns);
    RUN(test_electricitymaps_direct_vs_lca);
    RUN(test_speed);
    RUN(test_errors_with_lines);
    RUN(test_long_gap_error_names_rows);
    RUN(test_linear_fill_and_absent_rows);
    RUN(test_daily_fill_restores_periodic_series);
    RUN(test_edges_trimmed);
    RUN(test_bom_crlf_quotes_offsets);
    RUN(test_step_is_most_common_spacing);
    RUN(test_mutations_never_crash);
    RUN(test_only_regular_files);
    RUN(test_nul_bytes_refused);
    RUN(test_names_escaped);
    RUN(test_step_changes_part_way);
    RUN(test_wide_header);
    RUN(test_lookup_and_integral);
    RUN(test_slice_keeps_filled_flags);
    rmdir(scratch_dir());
    if (!have_data && check_failures == 0) {
        fprintf(stderr, "shared data missing: generated-data tests passed, real-file tests skipped\n");
        return SKIP_TEST;
    }
    CHECK_DONE();
}
