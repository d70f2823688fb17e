/* The progress and savings parts of chase run's lines (see run_output.h). */
#include "cli/run_output.h"

#include <math.h>
#include <stdint.h>

#include "chase/timeutil.h"

/* Rounds away the sign of values that print as zero ("-0.0"). */
static double shown(double v, double half_ulp)
{
    return fabs(v) < half_ulp ? 0 : v;
}

void run_output_status(FILE *out, const chase_run_status_t *st, double budget_pct)
{
    fprintf(out, "  | %.0f", st->steps);
    if (isfinite(st->total_steps))
        fprintf(out, "/%.0f steps (%.0f %%)", st->total_steps, floor(st->done_pct));
    else
        fputs(" steps", out);
    if (st->savings.estimated && isfinite(st->savings.slowdown_pct))
        fprintf(out, ", slowdown %.1f %% (budget %g %%)", shown(st->savings.slowdown_pct, 0.05), budget_pct);
    if (isfinite(st->finish)) {
        char ts[32];
        fprintf(out, ", ends ~%s", chase_time_format((int64_t)llround(st->finish), ts, sizeof ts));
    }
}

void run_output_savings(FILE *out, const chase_savings_t *sv)
{
    if (!sv->estimated)
        return;
    if (isfinite(sv->carbon_saved_g))
        fprintf(out, "; estimated saving %.3f gCO2eq (%.1f %%: efficiency %.1f pp + timing %.1f pp)",
                shown(sv->carbon_saved_g, 5e-4), shown(sv->carbon_saving_pct, 0.05), shown(sv->efficiency_pp, 0.05),
                shown(sv->timing_pp, 0.05));
    else
        fprintf(out, "; estimated energy saving %.1f %% (no carbon estimate)", shown(sv->energy_saving_pct, 0.05));
    /* A noisy profile can make the top limit look slower than the limits the run held. */
    if (shown(sv->slowdown_pct, 0.05) >= 0)
        fprintf(out, " for %.1f %% more time than at the top limit", shown(sv->slowdown_pct, 0.05));
    else
        fprintf(out, " in %.1f %% less time than at the top limit", -sv->slowdown_pct);
}
