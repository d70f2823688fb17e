/* Private to the profile layer and its tests: what each built-in profile cites. */
#ifndef CHASE_PROFILE_BUILTIN_H
#define CHASE_PROFILE_BUILTIN_H

/* The Zeus summary_power file tag (e.g. "a40" for zeus-summary_power_a40.csv) and the workload
 * "DATASET/NETWORK/BATCH/OPTIMIZER" a built-in profile was taken from; CHASE_ENOTFOUND for an unknown name. */
int chase_profile_builtin_source(const char *name, const char **zeus_gpu, const char **workload);

#endif
