/* Power-limit policies behind one interface: max, fixed:W, static, chase, budget, oracle. */
#ifndef CHASE_POLICY_H
#define CHASE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "chase/error.h"
#include "chase/profile.h"
#include "chase/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a policy knows when it decides the setting of the period [t, t + period_s). */
typedef struct chase_policy_ctx {
    double t;
    double period_s;
    double ci_forecast;         /* forecast CI of this period (g/kWh) */
    const double *ci_past;      /* observed CI known at t, oldest first, ci_past_step_s apart (may be NULL) */
    size_t n_past;
    int64_t ci_past_step_s;
    int64_t ci_past_t0;         /* time of ci_past[0] */
    const double *ci_ahead;     /* forecasts of the samples after the last observed one (may be NULL) */
    size_t n_ahead;
    int64_t ci_ahead_step_s;
    int64_t ci_ahead_t0;        /* time of ci_ahead[0] */
    const double *ci_ahead_rmse; /* the forecaster's measured RMS error by horizon (NAN: no track record yet) */
    const double *ci_ahead_expect; /* each forecast recalibrated on its horizon's record: the least-squares line of
                                      past actuals on past forecasts, at this forecast (may be NULL; NAN: no record) */
    const double *ci_ahead_expect_rmse; /* RMS error of ci_ahead_expect by horizon (NAN: no record) */
    double work_done;           /* units done before t */
    double work_total;          /* units of the whole job, or NAN when unknown */
    double job_start;
    double deadline;            /* time by which the job must end under its budget; INFINITY without one */
    const chase_hull_t *hull;
    const chase_profile_t *profile;
} chase_policy_ctx_t;

/* A policy's decision for one period: setting value[i] of the knob for share[i] of the period, in order; shares
 * add up to 1. */
typedef struct chase_decision {
    chase_knob_t knob; /* the profile's (chase_policy_decide fills it in) */
    int n;             /* 1 or 2 */
    double value[2];
    double share[2];
} chase_decision_t;

/* Parameters every policy may read; fields a policy does not use are ignored. */
typedef struct chase_policy_params {
    double eta;          /* chase: weight of carbon vs time, 0..1 */
    double max_power_w;  /* chase: MaxPower; NAN: the profile's top limit */
    double max_ci;       /* chase: MaxCI; NAN: highest CI of the 24 h before the job (from ci_past) */
    double budget_pct;   /* static, budget, oracle: slowdown budget against max, in percent */
    double fixed_value;  /* fixed: the setting (W for power limits) */
    const chase_trace_t *truth; /* oracle: the whole true trace (perfect knowledge) */
} chase_policy_params_t;

/* What a policy reads of the forecaster. */
typedef enum chase_forecast_use {
    CHASE_FORECAST_NONE = 0, /* nothing: a simulation runs no forecaster for it (ci_forecast is the last value) */
    CHASE_FORECAST_PERIOD,   /* ci_forecast, the forecast of the period being decided */
    CHASE_FORECAST_AHEAD     /* also ci_ahead: the loop then forecasts after every observation and scores each
                                horizon */
} chase_forecast_use_t;

/* What a policy says of itself once it has decided: the values it works with (MaxCI, ...) and a note, so that a
 * report can show them and a test can recompute its decisions. */
typedef struct chase_policy_info {
    size_t n;
    struct {
        const char *key; /* a field name with its unit, e.g. "max_ci_g_per_kwh" */
        double value;    /* NAN: not known (yet) */
    } v[6];
    char note[256]; /* one sentence for people, "" when there is nothing to say */
    int warn;       /* the note is a warning: the policy cannot do what was asked of it */
} chase_policy_info_t;

/* What a policy needs besides the forecast, so that a front end can check a run before it starts. */
enum {
    CHASE_POLICY_NEEDS_PROFILE = 1, /* the job's measured profile (a stand-in of the GPUs' range will not do) */
    CHASE_POLICY_NEEDS_TRUTH = 2    /* the whole true trace (params.truth): simulation only */
};

typedef struct chase_policy_ops {
    const char *name;
    const char *summary;
    /* Parses its own argument (the text after ':' in "fixed:250", NULL when none) and the params it reads. */
    void *(*create)(const chase_policy_params_t *params, const char *arg, chase_err_t *err);
    int (*decide)(void *state, const chase_policy_ctx_t *ctx, chase_decision_t *out, chase_err_t *err);
    void (*destroy)(void *state);
    chase_forecast_use_t forecast_use;
    unsigned needs; /* CHASE_POLICY_NEEDS_* */
    /* CHASE_ERANGE when a setting the policy will ask for lies outside [lo, hi] (NULL: it only uses the profile's
     * own settings). */
    int (*check_range)(void *state, double lo, double hi, chase_err_t *err);
    /* Fills out (zeroed by the caller); NULL: nothing to say. */
    void (*describe)(const void *state, chase_policy_info_t *out);
} chase_policy_ops_t;

typedef struct chase_policy chase_policy_t;

/* Sets params to the defaults: eta 0.5, max_power_w and max_ci NAN, budget 2.5 %, no fixed limit, no truth. */
void chase_policy_params_init(chase_policy_params_t *params);

/* Creates a policy from its spec: "max", "fixed:250", "static", "chase", "budget", "oracle". */
int chase_policy_create(const char *spec, const chase_policy_params_t *params, chase_policy_t **out,
                        chase_err_t *err);
void chase_policy_free(chase_policy_t *p);
const char *chase_policy_name(const chase_policy_t *p);

/* The setting for the period described by ctx. */
int chase_policy_decide(chase_policy_t *p, const chase_policy_ctx_t *ctx, chase_decision_t *out, chase_err_t *err);

/* Whether the policy reads the forecaster's further samples (ci_ahead and their errors). */
int chase_policy_uses_ahead(const chase_policy_t *p);

/* What the policy reads of the forecaster (CHASE_FORECAST_NONE: a simulation need not run one). */
chase_forecast_use_t chase_policy_forecast_use(const chase_policy_t *p);

/* What the policy needs (CHASE_POLICY_NEEDS_*). */
unsigned chase_policy_needs(const chase_policy_t *p);

/* CHASE_ERANGE, naming the setting, when the policy would ask for one outside [lo, hi]. */
int chase_policy_check_range(const chase_policy_t *p, double lo, double hi, chase_err_t *err);

/* What the policy says of itself (see chase_policy_info_t); out->n == 0 and "" when nothing. */
void chase_policy_describe(const chase_policy_t *p, chase_policy_info_t *out);

/* The registered policies, NULL-terminated. */
const chase_policy_ops_t *const *chase_policy_list(void);

#ifdef __cplusplus
}
#endif
#endif
