/* A live run as one library call (see chase/session.h): opening checks everything before the job starts; running
 * profiles the job when the policy needs it, falls back when it cannot, and controls until the job ends. */
#include "chase/session.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "chase/forecast.h"
#include "chase/journal.h"
#include "chase/policy.h"
#include "chase/profiling.h"
#include "chase/signal.h"

#define MAX_VISIBLE 1024

struct chase_session {
    chase_session_opts_t o;
    char *signal_spec, *policy_requested, *forecaster_name, *profile_file;
    chase_signal_t *signal;
    chase_forecaster_t *forecaster;
    chase_gpu_t *gpu;  /* owned when the session opened it */
    int own_gpu;
    chase_gpu_group_t *group;
    chase_policy_t *policy;
    chase_profile_t *profile;
    chase_ledger_t ledger;
    chase_run_gpu_t *run_gpus;
    char policy_used[64];
    const char *profile_source;
    char error[600];
    char signal_shown[1024]; /* the spec with its secrets blanked */
    int described; /* the policy said what it works with */
    char journal_dir[1024];
    int visible[MAX_VISIBLE]; /* the job's GPUs from its environment */
};

void chase_session_opts_init(chase_session_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->policy = "budget";
    o->budget_pct = 2.5;
    o->eta = 0.5;
    o->period_s = 1800;
    o->total_steps = NAN;
    o->warmup_steps = 10;
    o->profile_steps = 20;
    o->setting_step = 25;
    o->progress_timeout_s = 300;
}

static void say(chase_session_t *s, chase_session_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(chase_session_t *s, chase_session_level_t level, const char *fmt, ...)
{
    if (!s->o.on_message)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->o.on_message(s->o.arg, level, msg);
}

static void on_group_warning(void *arg, const char *msg) { say(arg, CHASE_SESSION_WARNING, "%s", msg); }

static void on_loop_period(void *arg, const chase_period_t *row)
{
    chase_session_t *s = arg;
    if (s->o.on_period)
        s->o.on_period(s->o.arg, row);
    if (row->phase == CHASE_PHASE_CONTROL && !s->described) {
        /* After the first decision the policy knows what it works with (chase: its MaxCI): say it once. */
        s->described = 1;
        chase_policy_info_t info;
        chase_policy_describe(s->policy, &info);
        if (info.note[0])
            say(s, info.warn ? CHASE_SESSION_WARNING : CHASE_SESSION_NOTE, "policy %s: %s", s->policy_used,
                info.note);
    }
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static char *dup_or_null(const char *t) { return t ? strdup(t) : NULL; }

static int check_numbers(const chase_session_opts_t *o, chase_err_t *err)
{
    if (!o->signal_spec || !*o->signal_spec)
        return chase_err_set(err, CHASE_EINVAL, "a carbon signal is required (e.g. static:400, trace:ci.csv, ukci)");
    if (!(o->period_s >= 1) || !isfinite(o->period_s))
        return chase_err_set(err, CHASE_EINVAL, "the control period must be at least 1 s (got %g)", o->period_s);
    if (!(o->budget_pct >= 0 && o->budget_pct <= 100))
        return chase_err_set(err, CHASE_EINVAL, "the budget must be 0..100 %% (got %g)", o->budget_pct);
    if (!(o->eta >= 0 && o->eta <= 1))
        return chase_err_set(err, CHASE_EINVAL, "eta must be 0..1 (got %g)", o->eta);
    if (o->warmup_steps < 0 || o->profile_steps < 1 || !(o->setting_step > 0) || !(o->progress_timeout_s >= 0))
        return chase_err_set(err, CHASE_EINVAL,
                             "profiling needs warm-up steps >= 0, profile steps >= 1, a step > 0 and a timeout >= 0");
    if (!isnan(o->total_steps) && !(o->total_steps >= 1 && isfinite(o->total_steps)))
        return chase_err_set(err, CHASE_EINVAL, "the job's total steps must be at least 1 (got %g)", o->total_steps);
    return CHASE_OK;
}

static int open_policy(chase_session_t *s, const char *name, chase_err_t *err)
{
    chase_policy_params_t params;
    chase_policy_params_init(&params);
    params.eta = s->o.eta;
    params.budget_pct = s->o.budget_pct;
    chase_err_t e;
    chase_err_clear(&e);
    chase_policy_free(s->policy);
    s->policy = NULL;
    int rc = chase_policy_create(name, &params, &s->policy, &e);
    if (rc != CHASE_OK)
        return chase_err_set(err, rc == CHASE_ENOMEM ? rc : CHASE_EINVAL, "--policy %s: %s", name, e.msg);
    snprintf(s->policy_used, sizeof s->policy_used, "%s", name);
    return CHASE_OK;
}

static int open_forecaster(chase_session_t *s, chase_err_t *err)
{
    const char *name = s->forecaster_name;
    if (!name) {
        name = "persistence";
        for (const chase_forecaster_ops_t *const *m = chase_forecaster_models(); *m; m++)
            if (!strcmp((*m)->name, "chase"))
                name = "chase";
    }
    int64_t step = s->signal->step_s > 0 ? s->signal->step_s : 3600;
    chase_err_t e;
    chase_err_clear(&e);
    int rc = !strcmp(name, "provider") ? chase_forecaster_create_provider(s->signal, step, &s->forecaster, &e)
                                       : chase_forecaster_create(name, step, NULL, &s->forecaster, &e);
    if (rc == CHASE_ENOMEM)
        return chase_err_set(err, rc, "out of memory");
    if (rc != CHASE_OK)
        return chase_err_set(err, CHASE_EINVAL, "--forecaster %s: %s", name, e.msg);
    return CHASE_OK;
}

static int open_gpus(chase_session_t *s, chase_err_t *err)
{
    int rc;
    if (s->o.gpu) {
        s->gpu = s->o.gpu;
    } else {
        chase_err_t e;
        chase_err_clear(&e);
        if ((rc = chase_gpu_open(&s->o.gpu_open, &s->gpu, &e)) != CHASE_OK)
            /* No NVML or no driver is the machine's state, not bad input. */
            return chase_err_set(err, rc == CHASE_ENOTFOUND || rc == CHASE_EINVAL ? CHASE_ENOTSUP : rc, "%s", e.msg);
        s->own_gpu = 1;
    }
    if (s->o.journal_dir)
        snprintf(s->journal_dir, sizeof s->journal_dir, "%s", s->o.journal_dir);
    else if ((rc = chase_journal_default_dir(s->journal_dir, sizeof s->journal_dir, err)) != CHASE_OK)
        return rc;
    const int *gpus = s->o.gpus;
    int n_gpus = s->o.n_gpus;
    if (!gpus) {
        const char *source;
        if ((rc = chase_gpu_visible(s->gpu, s->visible, MAX_VISIBLE, &n_gpus, &source, err)) != CHASE_OK)
            return rc;
        if (n_gpus >= 0) {
            gpus = s->visible;
            char list[256] = "";
            for (int i = 0; i < n_gpus && strlen(list) < sizeof list - 16; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", i ? "," : "", s->visible[i]);
            say(s, CHASE_SESSION_NOTE, "the job's GPUs, from %s: %s", source, list);
        }
    }
    chase_gpu_group_opts_t go = {
        .gpus = gpus,
        .n_gpus = n_gpus,
        .knob = CHASE_KNOB_POWER_LIMIT,
        .observe_only = s->o.dry_run,
        .journal_dir = s->journal_dir[0] ? s->journal_dir : NULL,
        .on_warning = on_group_warning,
        .warning_arg = s,
    };
    return chase_gpu_group_open(s->gpu, &go, &s->group, err);
}

/* Loads the profile file when it exists; its settings must fit the GPUs. */
static int load_profile(chase_session_t *s, chase_err_t *err)
{
    struct stat st;
    if (!s->profile_file || stat(s->profile_file, &st) != 0)
        return CHASE_OK;
    int rc = chase_profile_read_json(s->profile_file, &s->profile, err);
    if (rc != CHASE_OK)
        return rc;
    double lo, hi, plo = chase_profile_min_setting(s->profile), phi = chase_profile_max_setting(s->profile);
    chase_gpu_group_range(s->group, &lo, &hi);
    const char *u = chase_knob_unit(s->profile->knob);
    if (s->profile->knob != chase_gpu_group_knob(s->group) || plo < lo - 1e-6 || phi > hi + 1e-6)
        return chase_err_set(err, CHASE_ERANGE,
                             "--profile-file %s covers %.0f..%.0f %s but the GPUs accept %.0f..%.0f %s: it was "
                             "measured on other GPUs (delete it to profile again)",
                             s->profile_file, plo, phi, u, lo, hi, u);
    s->profile_source = "file";
    return CHASE_OK;
}

int chase_session_open(const chase_session_opts_t *o, chase_session_t **out, chase_err_t *err)
{
    *out = NULL;
    int rc = check_numbers(o, err);
    if (rc != CHASE_OK)
        return rc;
    chase_session_t *s = calloc(1, sizeof *s);
    if (!s)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    s->o = *o;
    chase_ledger_init(&s->ledger);
    s->signal_spec = strdup(o->signal_spec);
    s->policy_requested = strdup(o->policy ? o->policy : "budget");
    s->forecaster_name = dup_or_null(o->forecaster);
    s->profile_file = dup_or_null(o->profile_file);
    if (!s->signal_spec || !s->policy_requested || (o->forecaster && !s->forecaster_name) ||
        (o->profile_file && !s->profile_file)) {
        chase_session_free(s);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    if ((rc = open_policy(s, s->policy_requested, err)) != CHASE_OK)
        goto fail;
    unsigned needs = chase_policy_needs(s->policy);
    if (needs & CHASE_POLICY_NEEDS_TRUTH) {
        rc = chase_err_set(err, CHASE_EINVAL, "--policy %s needs the future and exists only in chase simulate",
                           s->policy_requested);
        goto fail;
    }
    /* The spec as messages and reports show it: a token= in it must never reach either. */
    (void)chase_signal_spec_redact(s->signal_spec, s->signal_shown, sizeof s->signal_shown);
    chase_signal_open_opts_t so = {
        .cache_path = o->cache_path, .now = wall_now(), .on_warning = on_group_warning, .on_warning_arg = s};
    chase_err_t e;
    chase_err_clear(&e);
    if ((rc = chase_signal_open(s->signal_spec, &so, &s->signal, &e)) != CHASE_OK) {
        rc = chase_err_set(err, rc, "--signal %s: %s", s->signal_shown, e.msg);
        goto fail;
    }
    if ((rc = open_forecaster(s, err)) != CHASE_OK || (rc = open_gpus(s, err)) != CHASE_OK ||
        (rc = load_profile(s, err)) != CHASE_OK)
        goto fail;
    if ((needs & CHASE_POLICY_NEEDS_PROFILE) && !s->profile && o->dry_run) {
        rc = chase_err_set(err, CHASE_EINVAL,
                           "--dry-run never sets a limit, so it cannot profile the job online: give --profile-file "
                           "with a saved profile, or use --policy max or fixed:W");
        goto fail;
    }
    double lo, hi;
    chase_gpu_group_range(s->group, &lo, &hi);
    chase_err_clear(&e);
    if ((rc = chase_policy_check_range(s->policy, lo, hi, &e)) != CHASE_OK) {
        rc = chase_err_set(err, rc, "--policy %s: %s", s->policy_requested, e.msg);
        goto fail;
    }
    *out = s;
    return CHASE_OK;
fail:
    chase_session_free(s);
    return rc;
}

/* The job as the session runs it: an interruption (the job's run_until answers CHASE_ESTATE, as the live job does
 * after SIGTERM) ends it like the job's own end, so the period under way is closed and accounted before the GPUs
 * are put back. */
typedef struct stop_job {
    chase_job_t *inner;
    int interrupted;
} stop_job_t;

static double stop_now(void *self)
{
    chase_job_t *j = ((stop_job_t *)self)->inner;
    return j->ops->now(j->self);
}

static int stop_run_until(void *self, double t_end, int *finished, chase_err_t *err)
{
    stop_job_t *sj = self;
    int rc = sj->inner->ops->run_until(sj->inner->self, t_end, finished, err);
    if (rc == CHASE_ESTATE) {
        sj->interrupted = 1;
        *finished = 1;
        return CHASE_OK;
    }
    return rc;
}

static double stop_work_done(void *self)
{
    chase_job_t *j = ((stop_job_t *)self)->inner;
    return j->ops->work_done(j->self);
}

static const chase_job_ops_t stop_job_ops = {stop_now, stop_run_until, stop_work_done};

/* A stand-in profile for policies that need none (max, fixed) or when the job cannot be profiled: the GPUs' range
 * with no claim about speed (equal throughput), so only the settings themselves mean anything. */
static chase_profile_t *range_profile(const chase_session_t *s)
{
    double lo, hi;
    chase_gpu_group_range(s->group, &lo, &hi);
    int two = hi > lo;
    chase_profile_t *p = chase_profile_new("gpu-range (no measurements)", two ? 2 : 1);
    if (!p)
        return NULL;
    p->knob = chase_gpu_group_knob(s->group);
    snprintf(p->gpu, sizeof p->gpu, "%.63s", chase_gpu_group_info(s->group, 0)->name);
    snprintf(p->unit, sizeof p->unit, "step");
    p->pts[0] = (chase_profile_point_t){lo, 1, lo};
    if (two)
        p->pts[1] = (chase_profile_point_t){hi, 1, hi};
    if (chase_profile_validate(p, NULL) != CHASE_OK) {
        chase_profile_free(p);
        return NULL;
    }
    return p;
}

/* Profiles online, or says why not and falls back to the top setting. CHASE_OK to go on (with s->profile set
 * unless the fallback runs on the stand-in); *finished when the job ended while profiling. */
static int profile_online(chase_session_t *s, chase_job_t *job, int *finished, chase_err_t *err)
{
    chase_profiling_opts_t po;
    chase_profiling_opts_init(&po);
    po.warmup_steps = s->o.warmup_steps;
    po.profile_steps = s->o.profile_steps;
    po.setting_step = s->o.setting_step;
    po.first_report_timeout_s = s->o.progress_timeout_s;
    po.signal = s->signal;
    po.ledger = &s->ledger;
    double lo, hi;
    chase_gpu_group_range(s->group, &lo, &hi);
    const char *u = chase_knob_unit(chase_gpu_group_knob(s->group));
    say(s, CHASE_SESSION_NOTE,
        "profiling the job: %d warm-up steps, then %d steps at each limit from %.0f %s down to %.0f %s in %.0f %s "
        "steps",
        s->o.warmup_steps, s->o.profile_steps, hi, u, lo, u, s->o.setting_step, u);
    size_t before = s->ledger.n;
    int rc = chase_profiling_run(&po, s->group, job, &s->profile, finished, err);
    for (size_t i = before; i < s->ledger.n; i++)
        on_loop_period(s, &s->ledger.rows[i]);
    if (rc == CHASE_OK) {
        s->profile_source = "online";
        if (s->profile && s->profile_file) {
            chase_err_t e;
            if (chase_profile_write_json(s->profile, s->profile_file, &e) != CHASE_OK)
                say(s, CHASE_SESSION_WARNING, "could not save the profile: %s", e.msg);
            else
                say(s, CHASE_SESSION_NOTE, "profile saved to %s", s->profile_file);
        }
        return CHASE_OK;
    }
    /* No permission at all (the group went observe-only before changing anything) falls back; a GPU that refused
     * after another accepted is a failure of the run. */
    if (rc != CHASE_ETIMEOUT && !(rc == CHASE_EPERM && chase_gpu_group_observe_only(s->group)))
        return rc;
    say(s, CHASE_SESSION_WARNING, "%s", err->msg);
    say(s, CHASE_SESSION_WARNING, "%s: running at the GPUs' top limit (policy max) and measuring energy only",
        rc == CHASE_EPERM ? "cannot set power limits here, so cannot profile"
                          : "without progress reports chase cannot profile the job");
    s->profile_source = rc == CHASE_EPERM ? "none (no permission)" : "none (no progress reports)";
    chase_err_clear(err);
    return open_policy(s, "max", err);
}

int chase_session_run(chase_session_t *s, chase_job_t *job, chase_err_t *err)
{
    stop_job_t sj = {job, 0};
    chase_job_t wrapped = {&stop_job_ops, &sj};
    double job_start = job->ops->now(job->self);
    int finished = 0, rc = CHASE_OK;
    if (!s->profile && (chase_policy_needs(s->policy) & CHASE_POLICY_NEEDS_PROFILE))
        rc = profile_online(s, &wrapped, &finished, err);
    if (rc == CHASE_OK && !s->profile) {
        s->profile = range_profile(s);
        if (!s->profile_source)
            s->profile_source = "none (policy needs no profile)";
        if (!s->profile)
            rc = chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    if (rc == CHASE_OK && !finished) {
        chase_control_config_t cfg;
        chase_control_config_init(&cfg);
        cfg.period_s = s->o.period_s;
        cfg.budget_pct = s->o.budget_pct;
        cfg.resume = 1;
        cfg.job_start = job_start;
        if (!strcmp(s->profile->unit, "step"))
            cfg.work_total = s->o.total_steps;
        else if (isfinite(s->o.total_steps))
            say(s, CHASE_SESSION_WARNING, "--total-steps ignored: the profile counts work in %s, not steps",
                s->profile->unit);
        cfg.on_period = on_loop_period;
        cfg.on_period_arg = s;
        cfg.on_warning = on_group_warning;
        cfg.on_warning_arg = s;
        rc = chase_control_run(&cfg, s->profile, s->signal, s->forecaster, s->policy, s->group, &wrapped,
                               &s->ledger, err);
    }
    chase_err_t rerr;
    chase_err_clear(&rerr);
    int rrc = chase_gpu_group_restore(s->group, &rerr);
    if (rc == CHASE_OK && rrc != CHASE_OK) {
        rc = rrc;
        if (err)
            *err = rerr;
    }
    if (rc != CHASE_OK)
        snprintf(s->error, sizeof s->error, "%s", err && err->msg[0] ? err->msg : chase_strerror(rc));
    return rc;
}

void chase_session_record(chase_session_t *s, chase_run_record_t *out)
{
    chase_session_t *m = s;
    memset(out, 0, sizeof *out);
    int n = chase_gpu_group_size(s->group);
    if (!m->run_gpus)
        m->run_gpus = calloc((size_t)n, sizeof *m->run_gpus);
    for (int i = 0; m->run_gpus && i < n; i++) {
        chase_run_gpu_t *g = &m->run_gpus[i];
        g->info = *chase_gpu_group_info(s->group, i);
        g->original = chase_gpu_group_original(s->group, i);
        chase_gpu_group_member_range(s->group, i, &g->min, &g->max);
        g->restored = chase_gpu_group_restored(s->group, i);
    }
    out->signal = s->signal_shown;
    out->policy = s->policy_used;
    out->policy_requested = s->policy_requested;
    chase_policy_describe(s->policy, &out->policy_info);
    out->period_s = s->o.period_s;
    out->budget_pct = s->o.budget_pct;
    out->total_steps = s->o.total_steps;
    out->dry_run = s->o.dry_run || chase_gpu_group_observe_only(s->group);
    out->backend = chase_gpu_group_observe_only(s->group) ? "observe-only" : chase_gpu_backend(s->gpu);
    out->profile_source = s->profile_source ? s->profile_source : "none";
    out->knob = chase_gpu_group_knob(s->group);
    out->gpus = m->run_gpus;
    out->n_gpus = m->run_gpus ? n : 0;
    out->profile = s->profile;
    out->ledger = &s->ledger;
    out->error = s->error[0] ? s->error : NULL;
}

const chase_ledger_t *chase_session_ledger(const chase_session_t *s) { return &s->ledger; }
const char *chase_session_policy(const chase_session_t *s) { return s->policy_used; }
const char *chase_session_profile_source(const chase_session_t *s)
{
    return s->profile_source ? s->profile_source : "none";
}
chase_gpu_group_t *chase_session_gpus(chase_session_t *s) { return s->group; }

void chase_session_free(chase_session_t *s)
{
    if (!s)
        return;
    chase_gpu_group_free(s->group);
    if (s->own_gpu)
        chase_gpu_free(s->gpu);
    chase_policy_free(s->policy);
    chase_forecaster_free(s->forecaster);
    chase_signal_free(s->signal);
    chase_profile_free(s->profile);
    chase_ledger_free(&s->ledger);
    free(s->run_gpus);
    free(s->signal_spec);
    free(s->policy_requested);
    free(s->forecaster_name);
    free(s->profile_file);
    free(s);
}
