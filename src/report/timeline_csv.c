/* The per-period timeline as CSV: one row per period and run, for spreadsheets and plotting tools. */
#include "chase/report.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "chase/timeutil.h"
#include "report/c_locale.h"

/* Writes s as one CSV field, quoted (RFC 4180) only when it holds a comma, quote or line break. */
static void put_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* A time as ISO-8601 UTC, rounded to the second; empty when unknown or beyond what the format can hold. */
static void put_time(FILE *out, double t)
{
    char buf[40];
    if (isfinite(t) && fabs(t) < 253402300800.0) /* year 9999 */
        fputs(chase_time_format((int64_t)llround(t), buf, sizeof buf), out);
}

/* A number with 10 significant digits (enough to re-add energies to the totals); empty when not finite, which
 * spreadsheets and pandas read as missing. */
static void put_num(FILE *out, double v)
{
    if (isfinite(v))
        fprintf(out, "%.10g", v == 0 ? 0.0 : v); /* no "-0" */
}

int chase_report_timeline_csv(FILE *out, const chase_report_run_t *runs, size_t n, chase_err_t *err)
{
    if (!out)
        return chase_err_set(err, CHASE_EINVAL, "timeline: no output stream");
    if (n && !runs)
        return chase_err_set(err, CHASE_EINVAL, "timeline: %zu runs announced but none given", n);
    for (size_t i = 0; i < n; i++)
        if (!runs[i].policy || !runs[i].ledger || (runs[i].ledger->n && !runs[i].ledger->rows))
            return chase_err_set(err, CHASE_EINVAL, "timeline: run %zu has no %s", i,
                                 !runs[i].policy ? "policy name" : "ledger");

    report_c_locale_t loc;
    if (report_c_locale_enter(&loc))
        return chase_err_set(err, CHASE_ENOMEM, "timeline: cannot switch to the C locale");
    fputs("policy,start,end,ci_g_per_kwh,forecast_g_per_kwh,power_limit_w,energy_j,carbon_g,work\n", out);
    for (size_t i = 0; i < n; i++) {
        const chase_ledger_t *l = runs[i].ledger;
        for (size_t k = 0; k < l->n; k++) {
            const chase_period_t *p = &l->rows[k];
            put_field(out, runs[i].policy);
            fputc(',', out);
            put_time(out, p->start);
            fputc(',', out);
            put_time(out, p->end);
            const double v[] = {p->ci, p->ci_forecast, p->setting, p->energy_j, p->carbon_g, p->work};
            for (size_t j = 0; j < sizeof v / sizeof v[0]; j++) {
                fputc(',', out);
                put_num(out, v[j]);
            }
            fputc('\n', out);
        }
    }
    report_c_locale_leave(&loc);
    if (fflush(out) != 0 || ferror(out))
        return chase_err_set(err, CHASE_EIO, "timeline: write failed");
    return CHASE_OK;
}
