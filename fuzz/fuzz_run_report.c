/* libFuzzer target: reading a run report back (chase report RUN.json), then everything chase report and the metrics
 * writer do with it. Either a message that quotes input only escaped, or a record whose periods are in order and
 * whose savings estimate, CSV, chart and Prometheus text are made without a crash, a NaN in the metrics, or a split
 * that does not add up. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/metrics.h"
#include "chase/report.h"
#include "chase/savings.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_to_memory(int (*fn)(FILE *, const chase_run_record_t *, chase_err_t *), const chase_run_record_t *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    chase_err_t err = {0};
    if (!f)
        abort();
    int rc = fn(f, r, &err);
    fclose(f);
    if (rc != CHASE_OK && rc != CHASE_ENODATA && rc != CHASE_ERANGE)
        abort();
    free(buf);
}

static int svg(FILE *f, const chase_run_record_t *r, chase_err_t *err)
{
    return chase_report_run_svg(f, "fuzz", r, err);
}

/* 1 when every sample's value (the text after a line's last space; label values may hold anything) is a finite
 * number: unknown values are left out of the metrics, never written as NaN. */
static int values_finite(const char *text)
{
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        if (!end)
            return 0; /* every line ends with a line break */
        if (*line != '#') {
            const char *v = end;
            while (v > line && v[-1] != ' ')
                v--;
            char *stop;
            double x = strtod(v, &stop);
            if (v == line || stop != end || !isfinite(x))
                return 0;
        }
        line = end + 1;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    chase_run_report_t *rep = (chase_run_report_t *)&size; /* must come back NULL on failure */
    chase_err_t err = {0};
    int rc = chase_report_run_parse((const char *)data, size, "fuzz.json", &rep, &err);
    if (rc != CHASE_OK) {
        if (rc > 0 || rep != NULL || !err.msg[0] || !fuzz_msg_safe(&err))
            abort();
        return 0;
    }
    const chase_run_record_t *r = chase_report_run_record(rep);
    const chase_ledger_t *l = r->ledger;
    for (size_t i = 0; i < l->n; i++) {
        if (!(l->rows[i].end >= l->rows[i].start) || !(l->rows[i].energy_j >= 0) || !(l->rows[i].work >= 0))
            abort();
        if (i && !(l->rows[i].start >= l->rows[i - 1].end - 0.5))
            abort();
    }
    chase_savings_t sv;
    int src = chase_savings_of_run(r, &sv, NULL);
    if ((src == CHASE_OK) != sv.estimated || (!sv.estimated && !sv.reason[0]))
        abort();
    if (isfinite(sv.carbon_saving_pct) &&
        fabs(sv.carbon_saving_pct - sv.efficiency_pp - sv.timing_pp) > 1e-6 * (1 + fabs(sv.carbon_saving_pct)))
        abort();
    write_to_memory(chase_report_run_csv, r);
    write_to_memory(svg, r);
    chase_run_status_t st;
    chase_run_status(r, &st);
    chase_metrics_t m = {"fuzz", r, &st, 0};
    char *text = NULL;
    if (chase_metrics_format(&m, &text, &err) != CHASE_OK || !values_finite(text))
        abort();
    free(text);
    chase_report_run_free(rep);
    return 0;
}
