/* The generic side of a signal: argument checks shared by every provider, then a call through its ops. */
#include "chase/signal.h"

#include <math.h>
#include <stdlib.h>

void chase_signal_free(chase_signal_t *s)
{
    if (!s)
        return;
    if (s->ops && s->ops->destroy)
        s->ops->destroy(s->self);
    free(s);
}

static int check_query(chase_signal_t *s, double now, chase_sample_t *out, size_t cap, size_t *n, chase_err_t *err)
{
    if (!s || !s->ops || !n || (cap && !out))
        return chase_err_set(err, CHASE_EINVAL, "signal query: missing signal or output");
    if (!isfinite(now))
        return chase_err_set(err, CHASE_EINVAL, "signal '%s': the time 'now' is not finite", s->ops->name);
    *n = 0;
    return CHASE_OK;
}

int chase_signal_history(chase_signal_t *s, double now, int64_t since, chase_sample_t *out, size_t cap, size_t *n,
                         chase_err_t *err)
{
    int rc = check_query(s, now, out, cap, n, err);
    if (rc)
        return rc;
    return s->ops->history(s->self, now, since, out, cap, n, err);
}

int chase_signal_forecast(chase_signal_t *s, double now, int64_t until, chase_sample_t *out, size_t cap, size_t *n,
                          chase_err_t *err)
{
    int rc = check_query(s, now, out, cap, n, err);
    if (rc)
        return rc;
    if (!s->ops->forecast)
        return chase_err_set(err, CHASE_ENOTSUP, "signal '%s' makes no forecasts of its own", s->ops->name);
    return s->ops->forecast(s->self, now, until, out, cap, n, err);
}

int chase_signal_actual(chase_signal_t *s, double t0, double t1, double *mean_ci, chase_err_t *err)
{
    if (!s || !s->ops || !mean_ci)
        return chase_err_set(err, CHASE_EINVAL, "signal actual: missing signal or output");
    if (!isfinite(t0) || !isfinite(t1) || !(t1 > t0))
        return chase_err_set(err, CHASE_EINVAL, "signal '%s': actual CI needs an interval with t1 > t0", s->ops->name);
    return s->ops->actual(s->self, t0, t1, mean_ci, err);
}
