/* The ledger: one row per control period, and the totals a report is made of. */
#ifndef CHASE_LEDGER_H
#define CHASE_LEDGER_H

#include <stddef.h>

#include "chase/error.h"
#include "chase/setting.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a period was for: control (the policy decided) or measuring the job's profile. */
typedef enum chase_phase { CHASE_PHASE_CONTROL = 0, CHASE_PHASE_PROFILE = 1 } chase_phase_t;

typedef struct chase_period {
    double start;       /* UTC seconds */
    double end;
    double ci;          /* actual mean CI over the period, g/kWh */
    double ci_forecast; /* what the policy was told */
    double setting;     /* time-weighted mean setting of the knob in force */
    double energy_j;    /* all GPUs of the job */
    double carbon_g;
    double work;        /* units done in the period */
    int stale;          /* the CI came from a stale or fallback value */
    chase_knob_t knob;  /* what setting is */
    chase_phase_t phase;
    double decided;     /* time-weighted mean setting the policy decided (differs from setting when observed only) */
} chase_period_t;

/* Where the last row left off: its end, and the job's work done and the GPUs' energy counter at that moment. The
 * next writer (control after profiling, the next period) starts there, so no step or joule falls between rows. */
typedef struct chase_ledger_mark {
    int set;
    double t, work, energy_j;
} chase_ledger_mark_t;

typedef struct chase_ledger {
    size_t n, cap;
    chase_period_t *rows;
    chase_ledger_mark_t mark;
} chase_ledger_t;

/* Sums over rows. carbon_g sums the rows whose CI was known; unpriced_s is the time of the rows without one (no
 * carbon data at all yet), whose carbon is unknown rather than zero. */
typedef struct chase_totals {
    double time_s, energy_j, carbon_g, work, mean_setting, unpriced_s;
} chase_totals_t;

void chase_ledger_init(chase_ledger_t *l);
void chase_ledger_free(chase_ledger_t *l);
int chase_ledger_append(chase_ledger_t *l, const chase_period_t *row);
void chase_ledger_totals(const chase_ledger_t *l, chase_totals_t *out);

/* How many rows are of phase. */
size_t chase_ledger_count(const chase_ledger_t *l, chase_phase_t phase);

/* "control" or "profile" */
const char *chase_phase_name(chase_phase_t phase);

#ifdef __cplusplus
}
#endif
#endif
