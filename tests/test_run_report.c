/* A run report reads back to the record it was written from; bad reports are refused naming the field; the run's
 * CSV, chart and Prometheus metrics carry what the record holds, escaped, with nothing unknown written as NaN. */
#include <unistd.h>

#include "chase/metrics.h"
#include "chase/report.h"
#include "chase/savings.h"
#include "check.h"
#include "sim_fixtures.h"

#define T0 1700000000.0

static chase_profile_t *prof;
static chase_ledger_t ledger;
static chase_run_gpu_t gpus[2];
static char *command[] = {"python3", "train.py", "--name=a \"b\"", NULL};

/* A run of 2 GPUs: two profiling rows, then control rows at 200 and 250 W under a CI that swings; the last period
 * has no forecast. */
static void make_record(chase_run_record_t *r)
{
    chase_ledger_init(&ledger);
    for (int i = 0; i < 12; i++) {
        chase_period_t p = {0};
        p.start = T0 + 60 * i;
        p.end = p.start + 60;
        p.phase = i < 2 ? CHASE_PHASE_PROFILE : CHASE_PHASE_CONTROL;
        p.setting = p.decided = i < 2 ? 300 - 100 * i : i % 2 ? 200 : 250;
        double x, pw;
        chase_profile_at(prof, p.setting, &x, &pw);
        p.ci = 200 + 150 * (i % 3);
        p.ci_forecast = i < 2 || i == 11 ? NAN : p.ci - 10;
        p.energy_j = 2 * pw * 60;
        p.carbon_g = p.energy_j * p.ci / 3.6e6;
        p.work = x * 60;
        p.knob = CHASE_KNOB_POWER_LIMIT;
        chase_ledger_append(&ledger, &p);
    }
    for (int i = 0; i < 2; i++) {
        memset(&gpus[i], 0, sizeof gpus[i]);
        gpus[i].info.index = 2 + i;
        snprintf(gpus[i].info.name, sizeof gpus[i].info.name, "NVIDIA \"A40\"\\%d", i);
        snprintf(gpus[i].info.uuid, sizeof gpus[i].info.uuid, "GPU-%d", i);
        gpus[i].original = 275;
        gpus[i].min = 100;
        gpus[i].max = 300;
        gpus[i].restored = 1;
    }
    memset(r, 0, sizeof *r);
    r->command = command;
    r->signal = "trace:ci \"x\".csv,speed=60\nnext\xff";
    r->policy = r->policy_requested = "budget";
    r->period_s = 60;
    r->budget_pct = 5;
    r->total_steps = 100;
    r->backend = "nvml";
    r->profile_source = "online";
    r->knob = CHASE_KNOB_POWER_LIMIT;
    r->gpus = gpus;
    r->n_gpus = 2;
    r->profile = prof;
    r->steps = 42;
    r->samples = 672;
    r->ranks = 1;
    r->ledger = &ledger;
    r->exit_status = 3;
    r->interrupted_by = "SIGTERM";
}

static void test_reads_back(void)
{
    chase_run_record_t r;
    make_record(&r);
    char *text = NULL;
    chase_err_t err;
    CHECK(chase_report_run_json(&r, &text, &err) == CHASE_OK);
    chase_run_report_t *rep = NULL;
    int rc = chase_report_run_parse(text, strlen(text), "run.json", &rep, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    CHECK(rc == CHASE_OK && rep);
    if (!rep) {
        free(text);
        return;
    }
    const chase_run_record_t *b = chase_report_run_record(rep);
    CHECK_STR(b->signal, r.signal);
    CHECK_STR(b->policy, "budget");
    CHECK_STR(b->profile_source, "online");
    CHECK_STR(b->interrupted_by, "SIGTERM");
    CHECK(b->error == NULL && b->exit_status == 3 && b->budget_pct == 5 && b->total_steps == 100);
    CHECK(b->command && !strcmp(b->command[2], command[2]) && b->command[3] == NULL);
    CHECK(b->n_gpus == 2 && b->gpus[1].info.index == 3 && !strcmp(b->gpus[1].info.name, gpus[1].info.name));
    CHECK(b->gpus[0].original == 275 && b->gpus[0].restored);
    CHECK(b->profile && b->profile->n == prof->n && b->profile->pts[2].power_w == prof->pts[2].power_w);
    CHECK(b->steps == 42 && b->samples == 672 && b->ranks == 1);
    CHECK(b->ledger->n == ledger.n);
    for (size_t i = 0; i < ledger.n && i < b->ledger->n; i++) {
        const chase_period_t *p = &ledger.rows[i], *q = &b->ledger->rows[i];
        CHECK(q->start == p->start && q->end == p->end && q->phase == p->phase && q->setting == p->setting);
        CHECK_NEAR(q->energy_j, p->energy_j, 1e-9 * p->energy_j);
        CHECK_NEAR(q->carbon_g, p->carbon_g, 1e-9 * p->carbon_g);
        CHECK(isnan(p->ci_forecast) ? isnan(q->ci_forecast) : q->ci_forecast == p->ci_forecast);
    }
    /* The estimate from what was read is the one written. */
    chase_savings_t a, c;
    CHECK(chase_savings_of_run(&r, &a, &err) == CHASE_OK && chase_savings_of_run(b, &c, &err) == CHASE_OK);
    CHECK_NEAR(c.carbon_saving_pct, a.carbon_saving_pct, 1e-9);
    CHECK_NEAR(c.timing_pp, a.timing_pp, 1e-9);
    CHECK(strstr(text, "\"savings\":") && strstr(text, "\"efficiency_part_pct\":"));
    chase_report_run_free(rep);
    free(text);
    chase_ledger_free(&ledger);
}

/* Each broken report is refused with CHASE_EFORMAT and a message naming the file and the field. */
static void test_refuses_bad_reports(void)
{
    chase_run_record_t r;
    make_record(&r);
    char *text = NULL;
    chase_err_t err;
    CHECK(chase_report_run_json(&r, &text, &err) == CHASE_OK);
    struct {
        const char *from, *to, *says;
    } cases[] = {
        {"\"energy_j\":\t", "\"energy_j\":\t\"x\", \"was\":\t",
         "run.json: periods[0].energy_j: expected a number >= 0 (got a string)"},
        {"\"phase\":\t\"control\"", "\"phase\":\t\"ctrl\"",
         "run.json: periods[2].phase: expected \"control\" or \"profile\""},
        {"\"steps\":\t", "\"steps\":\t-1, \"was\":\t",
         "run.json: progress.steps: expected a number >= 0 or null (got -1)"},
        {"\"periods\":\t[", "\"periods\":\t7, \"was\":\t[", "run.json: periods: expected an array (got 7)"},
        {"\"policy\":\t\"budget\"", "\"policy\":\t5", "run.json: policy: expected a string (got 5)"},
        {"\"budget_pct\":\t5", "\"budget_pct\":\tnull",
         "run.json: budget_pct: expected a number in 0..1000 (got null)"},
        {"\"throughput\":\t", "\"throughput\":\t0, \"was\":\t",
         "run.json: profile: points[0]: field \"throughput\" must be > 0"},
        {"\"index\":\t2", "\"index\":\t-2", "run.json: gpus[0].index: expected a number in 0..1e+06 (got -2)"},
        {"\"ci_g_per_kwh\":\t", "\"ci_g_per_kwh\":\ttrue, \"was\":\t",
         "run.json: periods[0].ci_g_per_kwh: expected a number in 0..100000 or null (got a boolean)"},
        {"\"stale\":\tfalse", "\"stale\":\t0", "run.json: periods[0].stale: expected true or false (got 0)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *at = strstr(text, cases[i].from);
        CHECK(at != NULL);
        if (!at)
            continue;
        size_t head = (size_t)(at - text), tail = strlen(at + strlen(cases[i].from));
        char *bad = malloc(head + strlen(cases[i].to) + tail + 1);
        sprintf(bad, "%.*s%s%s", (int)head, text, cases[i].to, at + strlen(cases[i].from));
        chase_run_report_t *rep = NULL;
        chase_err_clear(&err);
        int rc = chase_report_run_parse(bad, strlen(bad), "run.json", &rep, &err);
        CHECK(rc == CHASE_EFORMAT && rep == NULL);
        if (!strstr(err.msg, cases[i].says))
            fprintf(stderr, "case %zu: got \"%s\", want \"%s\"\n", i, err.msg, cases[i].says);
        CHECK(strstr(err.msg, cases[i].says) != NULL);
        free(bad);
    }
    /* Periods out of order, broken JSON (with its line), and not an object at all. */
    chase_run_report_t *rep = NULL;
    char *swapped = strdup(text);
    char *s0 = strstr(swapped, "\"start\":\t1700000000,");
    CHECK(s0 != NULL);
    if (s0)
        memcpy(s0, "\"start\":\t1700000900,", 20);
    CHECK(chase_report_run_parse(swapped, strlen(swapped), "run.json", &rep, &err) == CHASE_EFORMAT);
    CHECK(strstr(err.msg, "run.json: periods[0].end: 1700000060.000 is before the period's start (1700000900.000)"));
    free(swapped);
    char *early = strdup(text);
    char *s2 = strstr(early, "\"start\":\t1700000120,");
    CHECK(s2 != NULL);
    if (s2)
        memcpy(s2, "\"start\":\t1700000010,", 20);
    CHECK(chase_report_run_parse(early, strlen(early), "run.json", &rep, &err) == CHASE_EFORMAT);
    CHECK(strstr(err.msg, "run.json: periods[2].start: 1700000010.000 is before the previous period's end "
                          "(1700000120.000): periods must be in order"));
    free(early);
    CHECK(chase_report_run_parse("{\n\"a\": [1,\n", 11, "run.json", &rep, &err) == CHASE_EFORMAT);
    CHECK(strstr(err.msg, "run.json:") && strstr(err.msg, "not valid JSON"));
    CHECK(chase_report_run_parse("[1]", 3, "run.json", &rep, &err) == CHASE_EFORMAT);
    CHECK(strstr(err.msg, "expected a run report (a JSON object), got an array") != NULL);
    CHECK(chase_report_run_read("/nonexistent/run.json", &rep, &err) == CHASE_ENOTFOUND);
    CHECK(strstr(err.msg, "/nonexistent/run.json") != NULL);
    free(text);
    chase_ledger_free(&ledger);
}

static char *capture(int (*fn)(FILE *, const chase_run_record_t *, void *), const chase_run_record_t *r, void *arg)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    CHECK(fn(f, r, arg) == CHASE_OK);
    fclose(f);
    return s;
}

static int csv_fn(FILE *f, const chase_run_record_t *r, void *arg)
{
    return chase_report_run_csv(f, r, arg);
}

static int svg_fn(FILE *f, const chase_run_record_t *r, void *arg)
{
    return chase_report_run_svg(f, "run & <chart>", r, arg);
}

static void test_csv_and_svg(void)
{
    chase_run_record_t r;
    make_record(&r);
    chase_err_t err;
    char *csv = capture(csv_fn, &r, &err);
    char *save = NULL, *line = strtok_r(csv, "\n", &save);
    CHECK_STR(line, "start,end,phase,ci_g_per_kwh,forecast_g_per_kwh,power_limit_w,decided_power_limit_w,power_w,"
                    "energy_j,carbon_g,steps,stale");
    size_t rows = 0;
    double energy = 0;
    while ((line = strtok_r(NULL, "\n", &save))) {
        const chase_period_t *p = &ledger.rows[rows++];
        char phase[16], fc[32];
        double ci, pl, dec, pw, e, c, steps;
        /* The forecast may be empty: read it as text. */
        int n = sscanf(line, "%*[^,],%*[^,],%15[^,],%lf,%31[^,],%lf,%lf,%lf,%lf,%lf,%lf", phase, &ci, fc, &pl, &dec,
                       &pw, &e, &c, &steps);
        if (n != 9) /* an empty forecast stops %[^,]: read the rest after ",," */
            n = sscanf(line, "%*[^,],%*[^,],%15[^,],%lf,,%lf,%lf,%lf,%lf,%lf,%lf", phase, &ci, &pl, &dec, &pw, &e, &c,
                       &steps) +
                1;
        CHECK(n == 9);
        CHECK_STR(phase, chase_phase_name(p->phase));
        CHECK(pl == p->setting && ci == p->ci);
        CHECK_NEAR(pw, p->energy_j / 60 / 2, 1e-6); /* mean power per GPU */
        energy += e;
    }
    CHECK(rows == ledger.n);
    CHECK_NEAR(energy, 0, 1e300); /* summed below against the totals */
    chase_totals_t t;
    chase_ledger_totals(&ledger, &t);
    CHECK_NEAR(energy, t.energy_j, 1e-6 * t.energy_j);
    free(csv);

    char *svg = capture(svg_fn, &r, &err);
    CHECK(!strncmp(svg, "<svg ", 5) && strstr(svg, "</svg>\n"));
    CHECK(strstr(svg, "run &amp; &lt;chart&gt;") != NULL);
    CHECK(strstr(svg, ">limit</text>") && strstr(svg, ">power</text>") && !strstr(svg, ">decided limit</text>"));
    CHECK(strstr(svg, "Limit and power per GPU (W)") && strstr(svg, "recorded in run"));
    free(svg);
    r.dry_run = 1;
    svg = capture(svg_fn, &r, &err);
    CHECK(strstr(svg, ">decided limit</text>") != NULL);
    free(svg);
    chase_ledger_free(&ledger);
}

/* The metrics name the run, escape what users wrote, leave out what is unknown, and pass the strict checker of
 * the format (tests/run/prom_check.py) when Python is there. */
static void test_metrics(void)
{
    chase_run_record_t r;
    make_record(&r);
    chase_run_status_t st;
    chase_run_status(&r, &st);
    char label[64];
    CHECK_STR(chase_metrics_run_label("/var/lib/node_exporter/chase-12.prom", label, sizeof label), "chase-12");
    CHECK_STR(chase_metrics_run_label("plain", label, sizeof label), "plain");
    chase_metrics_t m = {"job \"7\"", &r, &st, 1};
    char *text = NULL;
    chase_err_t err;
    CHECK(chase_metrics_format(&m, &text, &err) == CHASE_OK);
    CHECK(strstr(text, "chase_info{run=\"job \\\"7\\\"\",policy=\"budget\",policy_requested=\"budget\","
                       "signal=\"trace:ci \\\"x\\\".csv,speed=60\\\\x0anext\\\\xff\",") != NULL);
    CHECK(strstr(text, "chase_gpu_power_limit_watts{run=\"job \\\"7\\\"\",gpu=\"3\"} 200\n") != NULL);
    CHECK(strstr(text, "chase_running{run=\"job \\\"7\\\"\"} 1\n") != NULL);
    CHECK(strstr(text, "chase_periods_total{run=\"job \\\"7\\\"\",phase=\"control\"} 10\n") != NULL);
    /* The last period had no forecast: the family is there, its sample is not. */
    CHECK(strstr(text, "# TYPE chase_grid_carbon_intensity_forecast_grams_per_kilowatt_hour gauge\n# HELP") != NULL);
    CHECK(!strstr(text, " nan") && !strstr(text, " NaN") && !strstr(text, " inf") && !strstr(text, "Inf"));
    CHECK(strstr(text, "chase_estimated_carbon_saving_ratio{") != NULL);
    CHECK(strstr(text, "chase_done_ratio{run=\"job \\\"7\\\"\"} ") != NULL);
    size_t n = strlen(text);
    CHECK(n > 0 && text[n - 1] == '\n');
    /* Without a measured profile there is no estimate, and no estimated series. */
    r.profile_source = "none (policy needs no profile)";
    r.total_steps = NAN;
    chase_run_status(&r, &st);
    char *plain = NULL;
    CHECK(chase_metrics_format(&m, &plain, &err) == CHASE_OK);
    CHECK(!strstr(plain, "chase_estimated_carbon_saving_ratio{") && !strstr(plain, "chase_done_ratio{"));
    CHECK(strstr(plain, "chase_energy_joules_total{") != NULL);

    const char *src = getenv("CHASE_SOURCE_DIR");
    if (src && access("/usr/bin/python3", X_OK) == 0) {
        char path[] = "/tmp/chase-metrics-XXXXXX.prom";
        int fd = mkstemps(path, 5);
        CHECK(fd >= 0);
        FILE *f = fdopen(fd, "w");
        fputs(text, f);
        fclose(f);
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/run/prom_check.py %s", src, path);
        CHECK(system(cmd) == 0);
        CHECK(chase_metrics_write(path, &m, &err) == CHASE_OK);
        CHECK(system(cmd) == 0);
        unlink(path);
    }
    free(text);
    free(plain);
    chase_ledger_free(&ledger);
}

int main(void)
{
    prof = fixture_profile();
    snprintf(prof->unit, sizeof prof->unit, "step");
    for (size_t i = 0; i < prof->n; i++)
        prof->pts[i].throughput *= 3600; /* steps per second */
    RUN(test_reads_back);
    RUN(test_refuses_bad_reports);
    RUN(test_csv_and_svg);
    RUN(test_metrics);
    chase_profile_free(prof);
    CHECK_DONE();
}
