/* What a live run saved: its measured time, energy and carbon against estimates of the same work at the GPUs' top
 * setting (`max`) and at the best fixed setting with the same slowdown (`static`), split into efficiency and
 * timing the way `chase simulate` splits a simulated policy's saving (src/control/compare.c).
 *
 * The estimates come from the job's profile, anchored to the run's own measurements: each period's measured time
 * and energy are scaled by the profile's ratio between the setting the period ran at and the counterfactual
 * setting, so a job that runs slower or hotter than its profile in absolute terms (other work on the node, a
 * profile from another day) still gets sound ratios. The counterfactual runs start with the run and are priced
 * at the CI the run recorded over their own span. For a ledger that follows its profile exactly (a simulation)
 * the estimates are what the simulation of `max` and `static` gives. docs/run.md says which figure is which. */
#ifndef CHASE_SAVINGS_H
#define CHASE_SAVINGS_H

#include "chase/error.h"
#include "chase/ledger.h"
#include "chase/profile.h"
#include "chase/report.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The same work under one fixed setting (estimated). */
typedef struct chase_savings_case {
    double setting; /* the knob's value (time-weighted mean when a policy mixes two) */
    double time_s, energy_j, carbon_g;
} chase_savings_case_t;

typedef struct chase_savings {
    int estimated;              /* 1: the estimates below hold; 0: reason says why there are none */
    char reason[200];           /* "" when estimated; else why not (no measured profile, no period, ...) */
    char note[200];             /* a caveat on an estimate ("" when none): unknown CI, CI held past the run's end */
    chase_totals_t run;         /* measured: the ledger's totals */
    chase_savings_case_t max;   /* estimated: the same work at the profile's top setting */
    chase_savings_case_t fixed; /* estimated: at the least-energy fixed setting within the run's slowdown */
    double slowdown_pct;        /* the run's time against max's, percent */
    double carbon_saving_pct, energy_saving_pct; /* against max */
    double carbon_saved_g, energy_saved_j;       /* max minus the run */
    double efficiency_pp, timing_pp;             /* carbon_saving_pct = efficiency_pp + timing_pp */
    double profiling_pp;        /* of timing_pp, what online profiling cost: its periods against the same work at the
                                   fixed setting at the same CI (negative: a cost); 0 without profiling */
    double time_fit, power_fit; /* measured / what the profile predicts for the settings the run held (1: exact) */
    double ci_held_s;           /* how long a counterfactual ran past the run's last period (priced at its CI) */
} chase_savings_t;

/* Estimates what the run in ledger saved, from profile (per-GPU power) and n_gpus GPUs. Always fills out->run
 * and leaves unknown figures NAN; CHASE_ENODATA with out->reason (and err) when nothing can be estimated (no
 * period with time, a setting outside what the profile can price); carbon figures are NAN, with a note, when the
 * CI of some period was unknown. */
int chase_savings_estimate(const chase_profile_t *profile, const chase_ledger_t *ledger, int n_gpus,
                           chase_savings_t *out, chase_err_t *err);

/* The estimate for a run report's record: none (CHASE_ENODATA, with the reason) when its profile was not
 * measured (profile_source "none (...)": a stand-in without speeds cannot price anything). */
int chase_savings_of_run(const chase_run_record_t *r, chase_savings_t *out, chase_err_t *err);

/* Where a live run stands after its last period. */
typedef struct chase_run_status {
    double steps;            /* measured: steps done so far */
    double total_steps;      /* the job's size when known (--total-steps), else NAN */
    double done_pct;         /* steps / total_steps, NAN when the size is unknown */
    double now;              /* end of the last period, UTC s */
    double finish;           /* estimated end at the pace so far (UTC s); NAN without a size or a pace */
    chase_savings_t savings; /* the estimate so far: slowdown_pct is the slowdown so far */
} chase_run_status_t;

/* Fills out from r (its ledger so far). The pace is that of the control periods (all periods before any). */
void chase_run_status(const chase_run_record_t *r, chase_run_status_t *out);

#ifdef __cplusplus
}
#endif
#endif
