/* The control loop shared by `chase simulate` and `chase run` (see control.h for the data flow of one period). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/control.h"
#include "control/skill.h"
#include "util/grow.h"

#define HISTORY_CHUNK 4096

void chase_control_config_init(chase_control_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->period_s = 1800;
    cfg->work_total = NAN;
    cfg->budget_pct = NAN;
    cfg->history_s = 14 * 86400;
    cfg->job_start = NAN;
}

/* The CI observed so far, on the signal's step grid (NAN where the signal had nothing). */
typedef struct history {
    double *v;
    size_t n, cap;
    int64_t t0, step_s;
} history_t;

static int history_push(history_t *h, int64_t t, double ci)
{
    if (h->n == 0) {
        h->t0 = t;
    } else {
        int64_t next = h->t0 + (int64_t)h->n * h->step_s;
        if (t < next)
            return CHASE_OK; /* already known */
        while (next < t) {   /* a gap in the signal */
            int rc = history_push(h, next, NAN);
            if (rc)
                return rc;
            next += h->step_s;
        }
    }
    double *v = chase_grow(h->v, &h->cap, h->n + 1, sizeof *v, 1024);
    if (!v)
        return CHASE_ENOMEM;
    h->v = v;
    h->v[h->n++] = ci;
    return CHASE_OK;
}

typedef struct loop {
    const chase_control_config_t *cfg;
    const chase_profile_t *profile;
    chase_signal_t *signal;
    chase_forecaster_t *forecaster;
    chase_policy_t *policy;
    chase_gpu_group_t *gpus;
    chase_job_t *job;
    chase_ledger_t *ledger;
    double energy; /* the group's energy counter at the end of the last row */
    double work;   /* the job's work done at the end of the last row */
    history_t hist;
    chase_hull_t hull;
    int signal_down; /* the signal has no usable data now (a chain past its max_stale): run the safe policy */
    int score_ahead; /* forecast after every observation (the policy plans with the horizon) */
    /* The forecaster's latest prediction, made after the last observation, and its skill so far. */
    double ahead[CHASE_FORECAST_MAX_HORIZON], ahead_rmse[CHASE_FORECAST_MAX_HORIZON];
    double ahead_expect[CHASE_FORECAST_MAX_HORIZON], ahead_expect_rmse[CHASE_FORECAST_MAX_HORIZON];
    size_t n_ahead;
    int64_t ahead_t0;
    skill_t skill;
} loop_t;

static void warn(loop_t *L, const char *msg)
{
    if (L->cfg->on_warning)
        L->cfg->on_warning(L->cfg->on_warning_arg, msg);
}

/* Predicts the samples after the last observation; remembers them for the policy and to score them later. */
static void predict_ahead(loop_t *L)
{
    L->n_ahead = 0;
    if (chase_forecaster_predict(L->forecaster, CHASE_FORECAST_MAX_HORIZON, L->ahead, NULL, NULL, NULL) != CHASE_OK)
        return;
    L->n_ahead = CHASE_FORECAST_MAX_HORIZON;
    L->ahead_t0 = chase_forecaster_last(L->forecaster) + L->hist.step_s;
    skill_forecasts(&L->skill, L->ahead, L->n_ahead, L->ahead_t0, L->hist.step_s);
}

/* Takes in what the signal knows at now, into the history and the forecaster. */
static int update_history(loop_t *L, double now, chase_err_t *err)
{
    chase_sample_t buf[HISTORY_CHUNK];
    int64_t since = L->hist.n ? L->hist.t0 + (int64_t)L->hist.n * L->hist.step_s
                              : (int64_t)floor(now - L->cfg->history_s);
    for (;;) {
        size_t n = 0;
        chase_err_t e;
        chase_err_clear(&e);
        int rc = chase_signal_history(L->signal, now, since, buf, HISTORY_CHUNK, &n, &e);
        if (rc != CHASE_OK) {
            if (!L->signal_down) {
                char msg[700];
                snprintf(msg, sizeof msg,
                         "no carbon data (%s): running at the top power limit, the safe policy, until the signal "
                         "returns",
                         e.msg[0] ? e.msg : chase_strerror(rc));
                warn(L, msg);
                L->signal_down = 1;
            }
            return CHASE_OK;
        }
        if (L->signal_down) {
            warn(L, "carbon data is back: the policy decides again");
            L->signal_down = 0;
        }
        for (size_t i = 0; i < n; i++) {
            if (L->hist.n == 0)
                L->hist.step_s = buf[i].step_s > 0 ? buf[i].step_s : L->signal->step_s;
            int64_t before = L->hist.n ? L->hist.t0 + (int64_t)L->hist.n * L->hist.step_s : buf[i].t;
            if (buf[i].t < before)
                continue;
            if ((rc = history_push(&L->hist, buf[i].t, buf[i].ci)) != CHASE_OK)
                return chase_err_set(err, rc, "out of memory");
            skill_actual(&L->skill, buf[i].t, buf[i].ci);
            if (L->forecaster && chase_forecaster_last(L->forecaster) < buf[i].t &&
                chase_forecaster_observe(L->forecaster, buf[i].t, buf[i].ci) == CHASE_OK) {
                L->n_ahead = 0; /* stale once a new sample is in */
                if (L->score_ahead)
                    predict_ahead(L);
            }
        }
        if (n < HISTORY_CHUNK)
            return CHASE_OK;
        since = buf[n - 1].t + 1;
    }
}

/* Last non-gap value of the history, or NAN. */
static double last_known(const history_t *h)
{
    for (size_t i = h->n; i-- > 0;)
        if (!isnan(h->v[i]))
            return h->v[i];
    return NAN;
}

/* Forecast mean CI over [a, b) from the latest prediction, falling back to the last known value. */
static double forecast_period(loop_t *L, double a, double b)
{
    double fallback = last_known(&L->hist);
    if (L->n_ahead == 0 && L->forecaster && chase_forecaster_last(L->forecaster) != INT64_MIN)
        predict_ahead(L);
    if (L->n_ahead == 0)
        return fallback;
    double step = (double)L->hist.step_s, first = (double)L->ahead_t0;
    int h = (int)L->n_ahead;
    const double *mean = L->ahead;
    double sum = 0, w = 0;
    for (int j = 0; j < h; j++) {
        double s0 = first + step * j, s1 = s0 + step;
        double ov = fmin(s1, b) - fmax(s0, a);
        if (ov > 0 && isfinite(mean[j])) {
            sum += mean[j] * ov;
            w += ov;
        }
    }
    if (w > 0)
        return sum / w;
    return isfinite(mean[h - 1]) ? mean[h - 1] : fallback;
}

/* Energy the group used since the last reading. */
static int read_energy(loop_t *L, double *delta, chase_err_t *err)
{
    double total;
    int rc = chase_gpu_group_energy(L->gpus, &total, err);
    if (rc != CHASE_OK)
        return rc;
    *delta = total - L->energy;
    L->energy = total;
    return CHASE_OK;
}

/* Mean CI over [a, b) for accounting; the forecast (flagged stale) when the signal cannot say. */
static double actual_ci(loop_t *L, double a, double b, double forecast, int *stale)
{
    double ci;
    if (b <= a)
        return isfinite(forecast) ? forecast : last_known(&L->hist);
    if (chase_signal_actual(L->signal, a, b, &ci, NULL) == CHASE_OK && isfinite(ci))
        return ci;
    *stale = 1;
    return isfinite(forecast) ? forecast : last_known(&L->hist);
}

static int run_period(loop_t *L, size_t k, double t0, int *finished, chase_err_t *err)
{
    const chase_control_config_t *cfg = L->cfg;
    double a = t0 + (double)k * cfg->period_s, b = a + cfg->period_s;
    double now = L->job->ops->now(L->job->self);
    if (now > a)
        a = now;
    /* A row starts where the last one ended (on the wall clock, deciding takes a moment): no gap in the ledger. */
    if (L->ledger->mark.set && L->ledger->mark.t < a - 1e-6)
        a = L->ledger->mark.t;
    if (b <= a)
        b = a + cfg->period_s;
    int rc = update_history(L, now, err);
    if (rc)
        return rc;
    for (size_t j = 0; j < CHASE_FORECAST_MAX_HORIZON; j++) {
        L->ahead_rmse[j] = skill_rmse(&L->skill, j);
        skill_expect(&L->skill, j, j < L->n_ahead ? L->ahead[j] : NAN, &L->ahead_expect[j], &L->ahead_expect_rmse[j]);
    }
    chase_period_t row = {.start = a, .ci_forecast = forecast_period(L, a, b)};
    /* The budget counts from the job's own start: time spent before control (profiling) is part of it. */
    double job_start = isfinite(cfg->job_start) ? cfg->job_start : t0;
    size_t keep = (size_t)(cfg->history_s / (double)(L->hist.step_s > 0 ? L->hist.step_s : 1));
    size_t from = L->hist.n > keep ? L->hist.n - keep : 0;
    chase_policy_ctx_t ctx = {
        .t = a,
        .period_s = b - a,
        .ci_forecast = row.ci_forecast,
        .ci_past = L->hist.n ? L->hist.v + from : NULL,
        .n_past = L->hist.n - from,
        .ci_past_step_s = L->hist.step_s,
        .ci_past_t0 = L->hist.t0 + (int64_t)from * L->hist.step_s,
        .ci_ahead = L->n_ahead ? L->ahead : NULL,
        .n_ahead = L->n_ahead,
        .ci_ahead_step_s = L->hist.step_s,
        .ci_ahead_t0 = L->ahead_t0,
        .ci_ahead_rmse = L->ahead_rmse,
        .ci_ahead_expect = L->ahead_expect,
        .ci_ahead_expect_rmse = L->ahead_expect_rmse,
        .work_done = L->job->ops->work_done(L->job->self),
        .work_total = cfg->work_total,
        .job_start = job_start,
        .deadline = isfinite(cfg->budget_pct) && isfinite(cfg->work_total)
                        ? job_start + (1 + cfg->budget_pct / 100) * cfg->work_total /
                                          chase_profile_top_throughput(L->profile)
                        : INFINITY,
        .hull = &L->hull,
        .profile = L->profile,
    };
    chase_decision_t set;
    if (L->signal_down) {
        set = (chase_decision_t){.knob = L->profile->knob, .n = 1, .value = {chase_profile_max_setting(L->profile)},
                                 .share = {1}};
        row.stale = 1;
    } else if ((rc = chase_policy_decide(L->policy, &ctx, &set, err)) != CHASE_OK) {
        return rc;
    }
    double seg_start = a, ci_time = 0, pl_time = 0, decided_time = 0;
    /* Observed only, the GPUs keep whatever they hold: the row says that, not what the policy decided. */
    double in_force = chase_gpu_group_observe_only(L->gpus) ? chase_gpu_group_in_force(L->gpus) : NAN;
    int stopped = CHASE_OK; /* the job was interrupted: account for the part of the period that ran, then stop */
    for (int i = 0; i < set.n && !*finished && stopped == CHASE_OK; i++) {
        if (set.share[i] <= 0)
            continue;
        double seg_end = i == set.n - 1 ? b : seg_start + set.share[i] * (b - a);
        if ((rc = chase_gpu_group_apply(L->gpus, set.value[i], err)) != CHASE_OK)
            return rc;
        stopped = L->job->ops->run_until(L->job->self, seg_end, finished, err);
        double end = L->job->ops->now(L->job->self), e;
        chase_err_t eerr;
        if ((rc = read_energy(L, &e, stopped ? &eerr : err)) != CHASE_OK)
            return stopped ? stopped : rc;
        double ci = actual_ci(L, seg_start, end, row.ci_forecast, &row.stale);
        row.energy_j += e;
        row.carbon_g += e * ci / 3.6e6;
        ci_time += ci * (end - seg_start);
        double held = chase_gpu_group_observe_only(L->gpus) ? chase_gpu_group_in_force(L->gpus) : set.value[i];
        if (!isfinite(held))
            held = isfinite(in_force) ? in_force : set.value[i];
        pl_time += held * (end - seg_start);
        decided_time += set.value[i] * (end - seg_start);
        seg_start = end;
    }
    row.end = seg_start;
    double d = row.end - row.start;
    row.ci = d > 0 ? ci_time / d : row.ci_forecast;
    row.setting = d > 0 ? pl_time / d : isfinite(in_force) ? in_force : set.value[0];
    row.decided = d > 0 ? decided_time / d : set.value[0];
    row.knob = L->profile->knob;
    double work = L->job->ops->work_done(L->job->self);
    row.work = work - L->work;
    L->work = work;
    if (chase_ledger_append(L->ledger, &row) != CHASE_OK)
        return stopped ? stopped : chase_err_set(err, CHASE_ENOMEM, "out of memory");
    L->ledger->mark = (chase_ledger_mark_t){1, row.end, L->work, L->energy};
    if (cfg->on_period)
        cfg->on_period(cfg->on_period_arg, &row);
    return stopped;
}

int chase_control_run(const chase_control_config_t *cfg, const chase_profile_t *profile, chase_signal_t *signal,
                      chase_forecaster_t *forecaster, chase_policy_t *policy, chase_gpu_group_t *gpus,
                      chase_job_t *job, chase_ledger_t *ledger, chase_err_t *err)
{
    if (!(cfg->period_s >= 1) || !isfinite(cfg->period_s))
        return chase_err_set(err, CHASE_EINVAL, "the control period must be at least 1 s (got %g)", cfg->period_s);
    if (!profile || profile->n == 0 || !signal || !policy || !gpus || !job || !ledger)
        return chase_err_set(err, CHASE_EINVAL, "chase_control_run: missing argument");
    if (profile->knob != chase_gpu_group_knob(gpus))
        return chase_err_set(err, CHASE_EINVAL, "the profile's %s is not what the GPU group sets (%s)",
                             chase_knob_name(profile->knob), chase_knob_name(chase_gpu_group_knob(gpus)));
    loop_t L = {.cfg = cfg, .profile = profile, .signal = signal, .forecaster = forecaster, .policy = policy,
                .gpus = gpus, .job = job, .ledger = ledger};
    skill_init(&L.skill);
    L.score_ahead = chase_policy_uses_ahead(policy);
    /* Go on from where the rows already in the ledger ended (after profiling), or from now. */
    const chase_ledger_mark_t *m = &ledger->mark;
    int resume = cfg->resume && m->set;
    if (!resume)
        ledger->mark.set = 0;
    int rc = CHASE_OK;
    if (resume) {
        L.energy = m->energy_j;
        L.work = m->work;
    } else {
        L.work = job->ops->work_done(job->self);
        rc = chase_gpu_group_energy(gpus, &L.energy, err);
    }
    if (rc == CHASE_OK)
        rc = chase_hull_build(profile, &L.hull, err);
    if (rc == CHASE_OK) {
        double t0 = resume ? m->t : job->ops->now(job->self);
        int finished = 0;
        for (size_t k = 0; !finished; k++)
            if ((rc = run_period(&L, k, t0, &finished, err)) != CHASE_OK)
                break;
    }
    chase_err_t rerr;
    chase_err_clear(&rerr);
    int rrc = chase_gpu_group_restore(gpus, &rerr);
    if (rc == CHASE_OK && rrc != CHASE_OK) {
        rc = rrc;
        if (err)
            *err = rerr;
    }
    chase_hull_free(&L.hull);
    free(L.hist.v);
    return rc;
}
