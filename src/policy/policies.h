/* The registered policies (one file each under src/policy/). */
#ifndef CHASE_POLICY_POLICIES_H
#define CHASE_POLICY_POLICIES_H

#include "chase/policy.h"

extern const chase_policy_ops_t chase_policy_max;
extern const chase_policy_ops_t chase_policy_fixed;
extern const chase_policy_ops_t chase_policy_static;
extern const chase_policy_ops_t chase_policy_chase;
extern const chase_policy_ops_t chase_policy_budget;
extern const chase_policy_ops_t chase_policy_oracle;

/* A setting of one limit for the whole period. */
void policy_decision_single(chase_decision_t *out, double value);


/* The limit the static policy picks: least energy per unit within budget_pct of the top limit's time. */
double policy_static_limit(const chase_profile_t *profile, double budget_pct);

/* The deadline a budget sets: start + (1 + budget_pct/100) * work at the top limit's throughput. */
double policy_deadline(const chase_profile_t *profile, double start, double work, double budget_pct);

#endif
