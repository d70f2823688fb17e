/* The ledger of control periods. */
#include "chase/ledger.h"

#include <math.h>
#include <stdlib.h>
#include "util/grow.h"

void chase_ledger_init(chase_ledger_t *l)
{
    l->n = l->cap = 0;
    l->rows = NULL;
    l->mark = (chase_ledger_mark_t){0, 0, 0, 0};
}

void chase_ledger_free(chase_ledger_t *l)
{
    free(l->rows);
    chase_ledger_init(l);
}

int chase_ledger_append(chase_ledger_t *l, const chase_period_t *row)
{
    chase_period_t *rows = chase_grow(l->rows, &l->cap, l->n + 1, sizeof *rows, 256);
    if (!rows)
        return CHASE_ENOMEM;
    l->rows = rows;
    l->rows[l->n++] = *row;
    return CHASE_OK;
}

void chase_ledger_totals(const chase_ledger_t *l, chase_totals_t *out)
{
    double pl_time = 0;
    out->time_s = out->energy_j = out->carbon_g = out->work = out->mean_setting = out->unpriced_s = 0;
    for (size_t i = 0; i < l->n; i++) {
        const chase_period_t *r = &l->rows[i];
        double d = r->end - r->start;
        out->time_s += d;
        out->energy_j += r->energy_j;
        if (isfinite(r->carbon_g))
            out->carbon_g += r->carbon_g;
        else
            out->unpriced_s += d;
        out->work += r->work;
        pl_time += r->setting * d;
    }
    out->mean_setting = out->time_s > 0 ? pl_time / out->time_s : 0;
}

size_t chase_ledger_count(const chase_ledger_t *l, chase_phase_t phase)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->rows[i].phase == phase;
    return n;
}

const char *chase_phase_name(chase_phase_t phase) { return phase == CHASE_PHASE_PROFILE ? "profile" : "control"; }
