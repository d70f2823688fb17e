/* "persistence": the next value equals the last observed one (gaps keep the last real value). */
#include <math.h>
#include <stdlib.h>

#include "forecast/models.h"

typedef struct persistence {
    double last;
} persistence_t;

static void *persistence_create(int64_t step_s, const char *options, chase_err_t *err)
{
    (void)step_s;
    if (options && *options) {
        chase_err_set(err, CHASE_EINVAL, "persistence takes no options (got '%s')", options);
        return NULL;
    }
    persistence_t *p = malloc(sizeof *p);
    if (p)
        p->last = NAN;
    return p;
}

static int persistence_observe(void *state, int64_t t, double ci)
{
    (void)t;
    if (!isnan(ci))
        ((persistence_t *)state)->last = ci;
    return CHASE_OK;
}

static int persistence_predict(void *state, int64_t last_t, int h, double *mean, double *lo, double *hi)
{
    (void)last_t;
    double v = ((persistence_t *)state)->last;
    if (isnan(v))
        return CHASE_ENODATA;
    for (int i = 0; i < h; i++) {
        mean[i] = v;
        if (lo)
            lo[i] = NAN;
        if (hi)
            hi[i] = NAN;
    }
    return CHASE_OK;
}

static void persistence_destroy(void *state) { free(state); }

const chase_forecaster_ops_t chase_model_persistence = {
    "persistence", "next = last observed value", persistence_create, persistence_observe, persistence_predict,
    persistence_destroy};
