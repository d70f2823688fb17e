/* A live run's periods as CSV (docs/report.md): one row each, in time order, with the phase, the limit in force and
 * decided, and the mean power per GPU, for spreadsheets and pandas. */
#include <math.h>
#include <stdint.h>

#include "chase/report.h"
#include "chase/timeutil.h"
#include "report/c_locale.h"

/* 10 significant digits (the rows add up to the report's totals); empty when unknown, which readers take as
 * missing. */
static void cell(FILE *out, double v)
{
    fputc(',', out);
    if (isfinite(v))
        fprintf(out, "%.10g", v == 0 ? 0.0 : v);
}

int chase_report_run_csv(FILE *out, const chase_run_record_t *r, chase_err_t *err)
{
    if (!out || !r || !r->ledger)
        return chase_err_set(err, CHASE_EINVAL, "run csv: no %s", out ? "run" : "output stream");
    report_c_locale_t loc;
    if (report_c_locale_enter(&loc))
        return chase_err_set(err, CHASE_ENOMEM, "run csv: cannot switch to the C locale");
    const char *key = chase_knob_key(r->knob);
    fprintf(out,
            "start,end,phase,ci_g_per_kwh,forecast_g_per_kwh,%s,decided_%s,power_w,energy_j,carbon_g,steps,"
            "stale\n",
            key, key);
    int per = r->n_gpus > 0 ? r->n_gpus : 1;
    for (size_t i = 0; i < r->ledger->n; i++) {
        const chase_period_t *p = &r->ledger->rows[i];
        char a[40], b[40];
        double d = p->end - p->start;
        /* ISO-8601 to the second, like the timeline CSV; the exact seconds are in the JSON report. */
        fprintf(out, "%s,%s,%s", chase_time_format((int64_t)llround(p->start), a, sizeof a),
                chase_time_format((int64_t)llround(p->end), b, sizeof b), chase_phase_name(p->phase));
        cell(out, p->ci);
        cell(out, p->ci_forecast);
        cell(out, p->setting);
        cell(out, p->decided);
        cell(out, d > 0 ? p->energy_j / d / per : NAN);
        cell(out, p->energy_j);
        cell(out, p->carbon_g);
        cell(out, p->work);
        fprintf(out, ",%s\n", p->stale ? "true" : "false");
    }
    report_c_locale_leave(&loc);
    if (fflush(out) != 0 || ferror(out))
        return chase_err_set(err, CHASE_EIO, "run csv: write failed");
    return CHASE_OK;
}
