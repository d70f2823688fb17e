/* Where a live run stands after a period: steps done, the estimated end, and the savings and slowdown so far. */
#include <math.h>

#include "chase/savings.h"

void chase_run_status(const chase_run_record_t *r, chase_run_status_t *out)
{
    const chase_ledger_t *l = r->ledger;
    out->steps = 0;
    out->total_steps = r->total_steps >= 1 ? r->total_steps : NAN;
    out->now = out->finish = out->done_pct = NAN;
    /* The pace that counts is the control's: profiling runs at settings the rest of the job will not see. */
    double ctl_steps = 0, ctl_time = 0, all_time = 0;
    for (size_t i = 0; l && i < l->n; i++) {
        const chase_period_t *p = &l->rows[i];
        double d = p->end - p->start;
        out->steps += p->work;
        all_time += d;
        if (p->phase == CHASE_PHASE_CONTROL) {
            ctl_steps += p->work;
            ctl_time += d;
        }
        out->now = p->end;
    }
    chase_savings_of_run(r, &out->savings, NULL);
    if (!isfinite(out->total_steps))
        return;
    out->done_pct = 100 * out->steps / out->total_steps;
    double pace = ctl_time > 0 ? ctl_steps / ctl_time : all_time > 0 ? out->steps / all_time : 0;
    double left = fmax(0, out->total_steps - out->steps);
    if (left == 0)
        out->finish = out->now;
    else if (pace > 0)
        out->finish = out->now + left / pace;
}
