/* TEMPORARY: the signal wrappers live in the signal interface's own file, which lands with the trace issue; these
 * weak stand-ins let the providers build and be tested until then. Delete this file once main has them. */
#include <stdlib.h>

#include "chase/signal.h"

__attribute__((weak)) void chase_signal_free(chase_signal_t *s)
{
    if (!s)
        return;
    if (s->ops && s->ops->destroy)
        s->ops->destroy(s->self);
    free(s);
}

__attribute__((weak)) int chase_signal_history(chase_signal_t *s, double now, int64_t since, chase_sample_t *out,
                                               size_t cap, size_t *n, chase_err_t *err)
{
    return s->ops->history(s->self, now, since, out, cap, n, err);
}

__attribute__((weak)) int chase_signal_actual(chase_signal_t *s, double t0, double t1, double *mean_ci,
                                              chase_err_t *err)
{
    return s->ops->actual(s->self, t0, t1, mean_ci, err);
}
