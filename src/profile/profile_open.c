/* Opening a profile by what the user wrote: a file of either format, or a built-in name. */
#include <string.h>

#include "chase/profile.h"

int chase_profile_open(const char *spec, const char *workload, chase_profile_t **out, chase_err_t *err)
{
    size_t n = strlen(spec);
    if (n > 5 && !strcmp(spec + n - 5, ".json"))
        return chase_profile_read_json(spec, out, err);
    if (n > 4 && !strcmp(spec + n - 4, ".csv")) {
        if (!workload)
            return chase_err_set(err, CHASE_EINVAL,
                                 "--profile %s is a Zeus CSV: say which workload with --workload "
                                 "DATASET/NETWORK/BATCH/OPTIMIZER",
                                 spec);
        return chase_profile_read_zeus_csv(spec, workload, out, err);
    }
    return chase_profile_builtin(spec, out, err);
}
