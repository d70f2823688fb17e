/* The leader: node 0 of the step runs the whole live session (signal, forecast, policy, profile, control) on its
 * own GPUs, exactly as `chase run` does, with two differences: its job has no child (slurmstepd runs the tasks; the
 * plugin says when they are done), and its GPU backend tells the followers every setting and every energy reading
 * (tee_gpu.h), so every node of the step applies the one decision of each period. At the end it gathers the
 * followers' numbers and writes the step's one report, as the job's user. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/live.h"
#include "chase/report.h"
#include "chase/session.h"
#include "chase/signal.h"
#include "slurm/helper.h"
#include "slurm/hostlist.h"
#include "slurm/leader_net.h"
#include "slurm/stage.h"
#include "slurm/step_report.h"
#include "slurm/tee_gpu.h"

typedef struct leader {
    chase_slurm_helper_t *h;
    chase_slurm_net_t *net;
    chase_live_job_t *lj;
    chase_session_t *session;
    chase_gpu_t *tee;
    chase_slurm_stage_t stage;
    char report[4200];
    char **nodes;
    size_t n_nodes;
} leader_t;

static void tee_set(void *arg, double value)
{
    chase_slurm_net_set(((leader_t *)arg)->net, value);
}

static void tee_energy(void *arg)
{
    chase_slurm_net_mark(((leader_t *)arg)->net, chase_slurm_now());
}

static void on_message(void *arg, chase_session_level_t level, const char *text)
{
    leader_t *l = arg;
    chase_slurm_say(l->h, level == CHASE_SESSION_WARNING ? CHASE_SLURM_WARNING : CHASE_SLURM_NOTE, "%s", text);
}

static void on_net_warning(void *arg, const char *msg)
{
    chase_slurm_say(arg, CHASE_SLURM_WARNING, "%s", msg);
}

static double setting_or(const chase_slurm_settings_t *s, chase_slurm_key_t k, double dflt)
{
    double v = k == CHASE_SLURM_PERIOD || k == CHASE_SLURM_PROGRESS_TIMEOUT ? chase_slurm_seconds(s, k)
                                                                            : chase_slurm_number(s, k);
    return isnan(v) ? dflt : v;
}

/* Everything before the step may start: any failure here refuses the step. */
static int setup(leader_t *l, chase_err_t *err)
{
    chase_slurm_helper_t *h = l->h;
    const chase_slurm_settings_t *s = &h->st.s;
    int rc;
    if ((rc = chase_slurm_hostlist_expand(h->st.nodelist, 65536, &l->nodes, &l->n_nodes, err)) != CHASE_OK)
        return rc;
    if ((int)l->n_nodes != h->st.n_nodes)
        return chase_err_set(err, CHASE_EINVAL, "the step's node list %s names %zu nodes, Slurm says %d",
                             h->st.nodelist, l->n_nodes, h->st.n_nodes);
    /* The live job first: it blocks the termination signals before any thread starts. */
    if ((rc = chase_live_job_create(h->rundir, &l->lj, err)) != CHASE_OK)
        return rc;
    /* Then the followers' line, early: they wait on it to hear whether the step may start. */
    if (h->st.n_nodes > 1) {
        double period = setting_or(s, CHASE_SLURM_PERIOD, 1800);
        int lo, hi, port;
        chase_slurm_ports(s, &lo, &hi);
        chase_slurm_net_opts_t no = {s->v[CHASE_SLURM_MUNGE_SOCKET],
                                     h->st.job,
                                     h->st.step,
                                     h->st.n_nodes,
                                     h->peer_uid,
                                     lo,
                                     hi,
                                     period,
                                     on_net_warning,
                                     h};
        if ((rc = chase_slurm_net_start(&no, &l->net, &port, err)) != CHASE_OK)
            return rc;
        chase_slurm_say(h, CHASE_SLURM_NOTE, "leading %d nodes from port %d", h->st.n_nodes, port);
    }
    if ((rc = chase_slurm_give_progress(h, chase_live_job_address(l->lj), err)) != CHASE_OK)
        return rc;
    if (h->ctl >= 0 && (rc = chase_live_job_watch(l->lj, h->ctl, err)) != CHASE_OK)
        return rc;
    /* The report is checked now, so a long job's report is not lost at its end. */
    char def[256];
    snprintf(def, sizeof def, "chase-%u.%u.json", h->st.job, h->st.step);
    chase_slurm_step_path(&h->st, s->v[CHASE_SLURM_REPORT] ? s->v[CHASE_SLURM_REPORT] : def, l->report,
                          sizeof l->report);
    chase_err_t e;
    chase_err_clear(&e);
    if (chase_slurm_user_can_write(&h->st.user, l->report, &e) != CHASE_OK)
        return chase_err_set(err, CHASE_EPERM, "--chase-report: %s", e.msg);
    if ((rc = chase_slurm_stage_in(h, &l->stage, err)) != CHASE_OK)
        return rc;
    chase_slurm_tee_hooks_t hooks = {tee_set, tee_energy, l};
    if ((rc = chase_slurm_tee_open(h->gpu, h->gpus[0], &hooks, &l->tee, err)) != CHASE_OK)
        return rc;
    chase_session_opts_t so;
    chase_session_opts_init(&so);
    so.signal_spec = l->stage.signal;
    so.cache_path = s->v[CHASE_SLURM_CACHE] ? s->v[CHASE_SLURM_CACHE] : (h->agent ? NULL : CHASE_SLURM_DEFAULT_CACHE);
    if (s->v[CHASE_SLURM_POLICY])
        so.policy = s->v[CHASE_SLURM_POLICY];
    so.budget_pct = setting_or(s, CHASE_SLURM_BUDGET, so.budget_pct);
    so.eta = setting_or(s, CHASE_SLURM_ETA, so.eta);
    so.forecaster = s->v[CHASE_SLURM_FORECASTER];
    so.period_s = setting_or(s, CHASE_SLURM_PERIOD, 1800);
    so.total_steps = setting_or(s, CHASE_SLURM_TOTAL_STEPS, NAN);
    so.profile_file = l->stage.profile[0] ? l->stage.profile : NULL;
    so.warmup_steps = (int)setting_or(s, CHASE_SLURM_WARMUP_STEPS, so.warmup_steps);
    so.profile_steps = (int)setting_or(s, CHASE_SLURM_PROFILE_STEPS, so.profile_steps);
    so.setting_step = setting_or(s, CHASE_SLURM_PL_STEP, so.setting_step);
    so.progress_timeout_s = setting_or(s, CHASE_SLURM_PROGRESS_TIMEOUT, so.progress_timeout_s);
    so.gpu = l->tee;
    so.gpus = h->gpus;
    so.n_gpus = h->n_gpus;
    so.dry_run = s->v[CHASE_SLURM_DRY_RUN] != NULL;
    so.journal_dir = s->v[CHASE_SLURM_JOURNAL_DIR] ? s->v[CHASE_SLURM_JOURNAL_DIR] : (h->agent ? "" : NULL);
    so.on_message = on_message;
    so.arg = l;
    return chase_session_open(&so, &l->session, err);
}

static int all_restored(chase_session_t *S)
{
    chase_gpu_group_t *g = chase_session_gpus(S);
    for (int i = 0; i < chase_gpu_group_size(g); i++)
        if (!chase_gpu_group_restored(g, i))
            return 0;
    return 1;
}

/* The session ended early (control failed): the GPUs are back; the step goes on without control until it ends. */
static void wait_for_step_end(leader_t *l)
{
    chase_job_t *job = chase_live_job_job(l->lj);
    int finished = 0;
    chase_err_t e;
    while (!finished && job->ops->run_until(job->self, job->ops->now(job->self) + 3600, &finished, &e) == CHASE_OK)
        ;
}

static int write_report(leader_t *l, int exit_status, chase_err_t *err)
{
    chase_slurm_helper_t *h = l->h;
    chase_run_record_t rec;
    chase_session_record(l->session, &rec);
    chase_live_job_record(l->lj, &rec);
    int interrupted = chase_live_job_interrupted(l->lj);
    rec.command = h->st.command;
    char spec[4096];
    chase_signal_spec_redact(h->st.s.v[CHASE_SLURM_SIGNAL], spec, sizeof spec);
    rec.signal = spec; /* as the user wrote it (not the staged copy), without its credentials */
    rec.exit_status = exit_status;
    rec.interrupted_by = interrupted ? chase_signal_abbrev(interrupted) : NULL;
    char *run = NULL, *text = NULL;
    int rc = chase_report_run_json(&rec, &run, err);
    if (rc != CHASE_OK)
        return rc;
    const chase_slurm_peer_t **peers = calloc(l->n_nodes, sizeof *peers);
    if (!peers) {
        free(run);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    for (size_t k = 1; k < l->n_nodes; k++)
        peers[k] = chase_slurm_net_peer(l->net, (int)k);
    size_t n_marks;
    const double *marks = chase_slurm_net_marks(l->net, &n_marks);
    chase_gpu_group_t *group = chase_session_gpus(l->session);
    int minors[CHASE_SLURM_MAX_STEP_GPUS], n_minors = 0;
    for (int i = 0; i < chase_gpu_group_size(group) && n_minors < CHASE_SLURM_MAX_STEP_GPUS; i++)
        minors[n_minors++] = chase_gpu_group_info(group, i)->minor;
    pthread_mutex_lock(&h->lock);
    chase_slurm_report_in_t in = {run,
                                  chase_session_ledger(l->session),
                                  h->st.job,
                                  h->st.step,
                                  l->nodes,
                                  (int)l->n_nodes,
                                  exit_status,
                                  peers,
                                  marks,
                                  n_marks,
                                  h->warnings,
                                  h->n_warnings,
                                  chase_slurm_net_refused(l->net),
                                  minors,
                                  n_minors};
    rc = chase_slurm_step_report(&in, &text, err);
    pthread_mutex_unlock(&h->lock);
    free(peers);
    free(run);
    if (rc == CHASE_OK) {
        size_t len = strlen(text);
        text[len] = '\n'; /* cJSON leaves room for nothing more: rewrite the final NUL as a newline */
        rc = chase_slurm_user_write(&h->st.user, l->report, text, len + 1, err);
        text[len] = '\0';
    }
    free(text);
    return rc;
}

static void summary(leader_t *l)
{
    const chase_ledger_t *led = chase_session_ledger(l->session);
    chase_totals_t t;
    chase_ledger_totals(led, &t);
    char line[900];
    snprintf(line, sizeof line,
             "%zu periods on %zu node%s, leader's GPUs %.1f J (%.3f gCO2eq), mean limit %.0f W, policy %s; report "
             "%.500s",
             led->n, l->n_nodes, l->n_nodes == 1 ? "" : "s", t.energy_j, t.carbon_g, t.mean_setting,
             chase_session_policy(l->session), l->report);
    chase_slurm_ctl_line(l->h, "summary", line);
}

static void cleanup(leader_t *l)
{
    chase_session_free(l->session);
    chase_slurm_net_free(l->net);
    chase_gpu_free(l->tee);
    chase_live_job_free(l->lj);
    chase_slurm_stage_free(&l->stage);
    chase_slurm_hostlist_free(l->nodes, l->n_nodes);
}

int chase_slurm_leader_run(chase_slurm_helper_t *h)
{
    leader_t l;
    memset(&l, 0, sizeof l);
    l.h = h;
    chase_err_t err;
    chase_err_clear(&err);
    if (setup(&l, &err) != CHASE_OK) {
        chase_slurm_ctl_line(h, "error", err.msg);
        fprintf(stderr, "chase-slurm-step: %s\n", err.msg);
        /* Every node refuses the step, with the leader's reason, before any task starts. */
        chase_slurm_net_refuse(l.net, err.msg);
        chase_slurm_net_wait_joined(l.net, 3);
        cleanup(&l);
        return 1;
    }
    /* The followers are starting at the same moment: those that join within a second or two are greeted before
     * control starts, so the first period has every node's numbers. The tasks wait for this anyway. */
    chase_slurm_net_wait_joined(l.net, 2);
    chase_slurm_net_open(l.net);
    chase_slurm_ctl_line(h, "ready", chase_live_job_address(l.lj));
    int rc = chase_session_run(l.session, chase_live_job_job(l.lj), &err);
    chase_slurm_net_end(l.net); /* the followers put their GPUs back now */
    int restored = all_restored(l.session);
    if (rc != CHASE_OK) {
        chase_slurm_say(h, CHASE_SLURM_WARNING, "control stopped: %s; the step goes on without control%s",
                        err.msg[0] ? err.msg : chase_strerror(rc), restored ? " (GPUs put back)" : "");
        wait_for_step_end(&l);
    }
    int interrupted = chase_live_job_interrupted(l.lj);
    if (interrupted)
        chase_slurm_say(h, CHASE_SLURM_NOTE, "interrupted by %s%s", chase_signal_abbrev(interrupted),
                        restored ? ": power limits restored" : "");
    /* Interrupted (scancel, the time limit), the tasks die too and the plugin soon has their status; but Slurm's
     * KillWait later kills whatever is left, this helper included: the GPUs are back already, the report must not
     * wait long. */
    int exit_status = chase_slurm_exit_status(h, 2);
    chase_slurm_net_wait_finals(l.net, interrupted ? 2 : 5);
    chase_slurm_net_stop(l.net);
    chase_err_t perr;
    if (chase_slurm_stage_out_profile(h, &l.stage, &perr) != CHASE_OK)
        chase_slurm_say(h, CHASE_SLURM_WARNING, "could not save the profile: %s", perr.msg);
    chase_err_t rerr;
    chase_err_clear(&rerr);
    if (write_report(&l, exit_status, &rerr) != CHASE_OK)
        chase_slurm_say(h, CHASE_SLURM_WARNING, "no report: %s", rerr.msg);
    summary(&l);
    cleanup(&l);
    return restored ? 0 : 3;
}
