/* Comparing policies on one simulated job: every saving against `max`, split into efficiency and timing. */
#include <math.h>
#include <string.h>

#include "chase/simulate.h"

void chase_policy_results_free(chase_policy_result_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        chase_ledger_free(&r[i].ledger);
}

/* The savings of r against the baseline b, and the efficiency part: what one fixed limit (static) with the same
 * slowdown saves. */
static int split(const chase_sim_spec_t *spec, const chase_totals_t *b, chase_policy_result_t *r, chase_err_t *err)
{
    r->slowdown_pct = 100 * (r->totals.time_s / b->time_s - 1);
    r->carbon_saving_pct = 100 * (1 - r->totals.carbon_g / b->carbon_g);
    r->energy_saving_pct = 100 * (1 - r->totals.energy_j / b->energy_j);
    if (!strcmp(r->policy, "max"))
        return CHASE_OK;
    chase_sim_spec_t fixed = *spec;
    chase_totals_t ft;
    fixed.params.budget_pct = fmax(0, r->slowdown_pct);
    int rc = chase_simulate_policy(&fixed, "static", NULL, &ft, err);
    if (rc != CHASE_OK)
        return rc;
    r->efficiency_pp = 100 * (1 - ft.carbon_g / b->carbon_g);
    r->timing_pp = r->carbon_saving_pct - r->efficiency_pp;
    return CHASE_OK;
}

int chase_simulate_compare(const chase_sim_spec_t *spec, const char *const *policies, size_t n,
                           chase_policy_result_t *out, size_t *n_out, chase_err_t *err)
{
    *n_out = 0;
    const char *order[n + 1];
    size_t k = 0;
    order[k++] = "max";
    for (size_t i = 0; i < n; i++)
        if (strcmp(policies[i], "max"))
            order[k++] = policies[i];
    for (size_t i = 0; i < k; i++) {
        chase_policy_result_t *r = &out[i];
        memset(r, 0, sizeof *r);
        r->policy = order[i];
        chase_ledger_init(&r->ledger);
        (*n_out)++;
        chase_err_t e;
        chase_err_clear(&e);
        int rc = chase_simulate_policy_info(spec, order[i], &r->ledger, &r->totals, &r->info, &e);
        if (rc == CHASE_OK)
            rc = split(spec, &out[0].totals, r, &e);
        if (rc != CHASE_OK)
            return chase_err_set(err, rc, "policy %s: %s", order[i], e.msg[0] ? e.msg : chase_strerror(rc));
    }
    return CHASE_OK;
}
