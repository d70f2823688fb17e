/* One report per step: the leader's run report (docs/run.md) made the whole step's. Each period gets the energy,
 * carbon and mean limit of every node ("nodes"), and its energy_j and carbon_g become the step's (all nodes); the
 * top level gets "slurm" (job, step, nodes, leader) and "nodes" (each node's GPUs, totals, whether it put its GPUs
 * back, its tasks' exit status, time spent without the leader), and "gpus" lists every node's GPUs with their
 * node. docs/slurm.md lists the fields.
 *
 * A follower's numbers for a period come from its answers to the leader's marks at the period's start and end: the
 * leader reads its own energy at those moments and each follower reads its own when the mark arrives. A period a
 * follower did not answer for (not yet connected, lost) has null for that node and "complete": false. */
#ifndef CHASE_SLURM_STEP_REPORT_H
#define CHASE_SLURM_STEP_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "chase/error.h"
#include "chase/ledger.h"
#include "slurm/leader_net.h"

typedef struct chase_slurm_report_in {
    const char *run_json;         /* chase_report_run_json of the leader's session */
    const chase_ledger_t *ledger; /* its periods */
    uint32_t job, step;
    char *const *node_names; /* the step's nodes; [0] leads */
    int n_nodes;
    int leader_exit_status;                 /* -1: unknown */
    const chase_slurm_peer_t *const *peers; /* [k] for followers k >= 1 (NULL: never joined) */
    const double *marks;                    /* the leader's wall-clock time of each mark, by id */
    size_t n_marks;
    char *const *warnings; /* what the leader said went wrong, in order */
    size_t n_warnings;
    unsigned refused;         /* connections the leader refused */
    const int *leader_minors; /* the device minor number of each of the leader's GPUs, in the report's order */
    int n_leader_minors;
} chase_slurm_report_in_t;

/* The step's report as indented JSON; free *out. CHASE_EFORMAT when run_json is not a run report. */
int chase_slurm_step_report(const chase_slurm_report_in_t *in, char **out, chase_err_t *err);

#endif
