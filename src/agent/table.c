/* The agent's table of GPUs and sessions (see agent/table.h). */
#include "agent/table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chase/gpu_group.h"
#include "chase/nvml.h"

typedef struct table_gpu {
    int managed;
    double lo, hi;         /* the range users may set (NAN: the GPU cannot be set) */
    double gpu_lo, gpu_hi; /* the GPU's own, read at open */
    char device[256];      /* its device file, "" when NVML does not say */
    chase_agent_session_t *holder;
} table_gpu_t;

struct chase_agent_session {
    unsigned long long id;
    chase_agent_peer_t peer;
    int n;
    int idx[CHASE_AGENT_CLAIM_MAX];
    chase_gpu_group_t *group[CHASE_AGENT_CLAIM_MAX]; /* one per GPU: each is set and put back on its own */
    chase_agent_session_t *prev, *next;
};

struct chase_agent_table {
    const chase_agent_config_t *cfg;
    chase_gpu_t *gpu;
    int n;
    table_gpu_t *g;
    char state_dir[1024];
    chase_agent_log_fn log;
    void *log_arg;
    unsigned long long next_id;
    chase_agent_session_t *sessions;
    size_t n_sessions;
};

static void on_group_warning(void *arg, const char *msg)
{
    const chase_agent_table_t *t = arg;
    chase_agent_logf(t->log, t->log_arg, CHASE_AGENT_WARNING, "%s", msg);
}

/* "FILE:LINE: " for an error found in the configuration at line (0: the file as a whole). */
static const char *where(const chase_agent_config_t *c, int line, char *buf, size_t size)
{
    const char *file = c->path[0] ? c->path : "the built-in configuration";
    if (line > 0)
        snprintf(buf, size, "%s:%d", file, line);
    else
        snprintf(buf, size, "%s", file);
    return buf;
}

/* Reads GPU i's own range and decides what users may set on it. */
static int read_gpu(chase_agent_table_t *t, int i, chase_err_t *err)
{
    const chase_agent_config_t *c = t->cfg;
    table_gpu_t *g = &t->g[i];
    g->lo = g->hi = g->gpu_lo = g->gpu_hi = NAN;
    chase_setting_range_t r;
    chase_err_t e;
    chase_err_clear(&e);
    if (chase_gpu_get_setting(t->gpu, i, CHASE_KNOB_POWER_LIMIT, &r, &e) == CHASE_OK) {
        g->gpu_lo = r.min;
        g->gpu_hi = r.max;
    } else if (g->managed) {
        chase_agent_logf(t->log, t->log_arg, CHASE_AGENT_WARNING, "GPU %d cannot be read (%s): users cannot claim it",
                         i, e.msg);
    }
    int minor = chase_gpu_nvml_minor(t->gpu, i);
    if (minor >= 0)
        snprintf(g->device, sizeof g->device, "%s/nvidia%d", c->dev_dir, minor);
    if (!g->managed || !isfinite(g->gpu_lo) || !isfinite(g->gpu_hi))
        return CHASE_OK;
    g->lo = isfinite(c->min_power_w) ? fmax(c->min_power_w, g->gpu_lo) : g->gpu_lo;
    g->hi = isfinite(c->max_power_w) ? fmin(c->max_power_w, g->gpu_hi) : g->gpu_hi;
    char w[600];
    if (g->lo > g->hi)
        return chase_err_set(err, CHASE_EFORMAT,
                             "%s: min_power_w..max_power_w leave GPU %d no power limit to set (it allows %g..%g W)",
                             where(c, c->range_line, w, sizeof w), i, g->gpu_lo, g->gpu_hi);
    if (c->require_device_access && !g->device[0])
        return chase_err_set(err, CHASE_EFORMAT,
                             "%s: require_device_access: NVML does not say which device file is GPU %d's",
                             where(c, 0, w, sizeof w), i);
    return CHASE_OK;
}

int chase_agent_table_open(const chase_agent_config_t *cfg, chase_gpu_t *gpu, const char *state_dir,
                           chase_agent_log_fn log, void *log_arg, chase_agent_table_t **out, chase_err_t *err)
{
    *out = NULL;
    int n = 0, rc;
    if ((rc = chase_gpu_count(gpu, &n, err)) != CHASE_OK)
        return rc;
    chase_agent_table_t *t = calloc(1, sizeof *t);
    if (!t || !(t->g = calloc(n > 0 ? (size_t)n : 1, sizeof *t->g))) {
        free(t);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    t->cfg = cfg;
    t->gpu = gpu;
    t->n = n;
    t->log = log;
    t->log_arg = log_arg;
    snprintf(t->state_dir, sizeof t->state_dir, "%s", state_dir);
    char w[600];
    for (size_t k = 0; !cfg->all_gpus && k < cfg->n_gpus; k++) {
        if (cfg->gpus[k] >= n) {
            chase_agent_table_free(t);
            return chase_err_set(err, CHASE_EFORMAT, "%s: gpus: GPU %d does not exist (NVML reports %d GPU%s)",
                                 where(cfg, cfg->gpus_line, w, sizeof w), cfg->gpus[k], n, n == 1 ? "" : "s");
        }
        t->g[cfg->gpus[k]].managed = 1;
    }
    struct stat st;
    if (cfg->require_device_access && (stat(cfg->dev_dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
        chase_agent_table_free(t);
        return chase_err_set(err, CHASE_EFORMAT, "%s: dev_dir %s is not a directory",
                             where(cfg, cfg->dev_dir_line, w, sizeof w), cfg->dev_dir);
    }
    for (int i = 0; i < n; i++) {
        t->g[i].managed |= cfg->all_gpus;
        if ((rc = read_gpu(t, i, err)) != CHASE_OK) {
            chase_agent_table_free(t);
            return rc;
        }
    }
    *out = t;
    return CHASE_OK;
}

int chase_agent_table_size(const chase_agent_table_t *t)
{
    return t->n;
}
size_t chase_agent_table_sessions(const chase_agent_table_t *t)
{
    return t->n_sessions;
}
unsigned long long chase_agent_session_id(const chase_agent_session_t *s)
{
    return s->id;
}
int chase_agent_session_size(const chase_agent_session_t *s)
{
    return s->n;
}
int chase_agent_session_gpu(const chase_agent_session_t *s, int i)
{
    return s->idx[i];
}
double chase_agent_session_original(const chase_agent_session_t *s, int i)
{
    return chase_gpu_group_original(s->group[i], 0);
}

static int check_index(const chase_agent_table_t *t, int idx, chase_err_t *err)
{
    if (idx < 0 || idx >= t->n)
        return chase_err_set(err, CHASE_ENOTFOUND, "no GPU %d: this machine has %d GPU%s%s", idx, t->n,
                             t->n == 1 ? "" : "s",
                             t->n == 0   ? ""
                             : t->n == 1 ? " (0)"
                                         : " (0 and up)");
    return CHASE_OK;
}

int chase_agent_table_describe(chase_agent_table_t *t, int idx, chase_agent_gpu_t *out, chase_err_t *err)
{
    memset(out, 0, sizeof *out);
    int rc = check_index(t, idx, err);
    if (rc != CHASE_OK || (rc = chase_gpu_info(t->gpu, idx, &out->info, err)) != CHASE_OK)
        return rc;
    const table_gpu_t *g = &t->g[idx];
    out->gpu_min_w = out->info.min_pl_w;
    out->gpu_max_w = out->info.max_pl_w;
    if (g->managed && isfinite(g->lo)) {
        out->info.min_pl_w = g->lo;
        out->info.max_pl_w = g->hi;
    }
    out->managed = g->managed;
    snprintf(out->device, sizeof out->device, "%s", g->device);
    out->holder_uid = g->holder ? (long long)g->holder->peer.uid : -1;
    return CHASE_OK;
}

int chase_agent_table_energy(chase_agent_table_t *t, int idx, double *joules, chase_err_t *err)
{
    int rc = check_index(t, idx, err);
    return rc != CHASE_OK ? rc : chase_gpu_energy(t->gpu, idx, joules, err);
}

/* Whether peer may take GPU idx now. */
static int check_claimable(const chase_agent_table_t *t, int idx, chase_err_t *err)
{
    int rc = check_index(t, idx, err);
    if (rc != CHASE_OK)
        return rc;
    const table_gpu_t *g = &t->g[idx];
    char w[600];
    if (!g->managed)
        return chase_err_set(err, CHASE_EINVAL,
                             "GPU %d is not one that users may set on this machine (gpus in %s): name the job's GPUs "
                             "with --gpus",
                             idx, where(t->cfg, t->cfg->gpus_line, w, sizeof w));
    if (!isfinite(g->lo))
        return chase_err_set(err, CHASE_EGPU, "GPU %d did not report its power limit range when chased started", idx);
    if (g->holder)
        return chase_err_set(err, CHASE_ESTATE, "GPU %d is in use by uid %u's session (pid %d)", idx,
                             (unsigned)g->holder->peer.uid, (int)g->holder->peer.pid);
    return CHASE_OK;
}

static void session_free(chase_agent_session_t *s)
{
    for (int i = 0; i < s->n; i++)
        chase_gpu_group_free(s->group[i]);
    free(s);
}

int chase_agent_table_claim(chase_agent_table_t *t, const chase_agent_peer_t *peer, const int *gpus, int n,
                            const int *fds, int n_fds, chase_agent_session_t **out, chase_err_t *err)
{
    *out = NULL;
    char w[600];
    if (!peer->may_set)
        return chase_err_set(err, CHASE_EPERM,
                             "uid %u may not set GPU settings on this machine: it is in neither allow_users nor "
                             "allow_groups of %s (ask the administrator; reading GPUs and energy needs no right)",
                             (unsigned)peer->uid, where(t->cfg, 0, w, sizeof w));
    if (n < 1 || n > CHASE_AGENT_CLAIM_MAX)
        return chase_err_set(err, CHASE_EINVAL, "a claim names 1 to %d GPUs", CHASE_AGENT_CLAIM_MAX);
    int rc;
    for (int i = 0; i < n; i++)
        if ((rc = check_claimable(t, gpus[i], err)) != CHASE_OK)
            return rc;
    if (t->cfg->require_device_access) {
        if (n_fds != n)
            return chase_err_set(err, CHASE_EINVAL,
                                 "chased requires proof that a process may use each GPU it claims "
                                 "(require_device_access): the claim of %d GPU%s came with %d descriptor%s, not one "
                                 "open descriptor of each GPU's device file",
                                 n, n == 1 ? "" : "s", n_fds, n_fds == 1 ? "" : "s");
        for (int i = 0; i < n; i++)
            if ((rc = chase_agent_check_device(fds[i], t->g[gpus[i]].device, gpus[i], err)) != CHASE_OK)
                return rc;
    }
    chase_agent_session_t *s = calloc(1, sizeof *s);
    if (!s)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    s->peer = *peer;
    for (int i = 0; i < n; i++) {
        chase_gpu_group_opts_t go = {.gpus = &gpus[i],
                                     .n_gpus = 1,
                                     .knob = CHASE_KNOB_POWER_LIMIT,
                                     .journal_dir = t->state_dir,
                                     .on_warning = on_group_warning,
                                     .warning_arg = t};
        chase_err_t e;
        chase_err_clear(&e);
        if ((rc = chase_gpu_group_open(t->gpu, &go, &s->group[i], &e)) != CHASE_OK) {
            session_free(s);
            return chase_err_set(err, rc, "GPU %d: %s", gpus[i], e.msg);
        }
        s->idx[i] = gpus[i];
        s->n = i + 1;
    }
    s->id = ++t->next_id;
    s->next = t->sessions;
    if (t->sessions)
        t->sessions->prev = s;
    t->sessions = s;
    t->n_sessions++;
    char list[512] = "";
    for (int i = 0; i < n; i++) {
        t->g[gpus[i]].holder = s;
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%sGPU %d (at %g W)", i ? ", " : "", gpus[i],
                 chase_agent_session_original(s, i));
    }
    chase_agent_logf(t->log, t->log_arg, CHASE_AGENT_INFO, "session %llu of uid %u (pid %d) took %s", s->id,
                     (unsigned)peer->uid, (int)peer->pid, list);
    *out = s;
    return CHASE_OK;
}

int chase_agent_table_set(chase_agent_table_t *t, chase_agent_session_t *s, int gpu, const chase_setting_t *v,
                          chase_err_t *err)
{
    int i = 0;
    while (i < s->n && s->idx[i] != gpu)
        i++;
    if (i == s->n)
        return chase_err_set(err, CHASE_ESTATE, "GPU %d is not in this session: claim it first", gpu);
    if (v->knob != CHASE_KNOB_POWER_LIMIT)
        return chase_err_set(err, CHASE_ENOTSUP, "chased sets only power limits");
    chase_gpu_group_t *g = s->group[i];
    const table_gpu_t *tg = &t->g[gpu];
    if (v->value == chase_gpu_group_original(g, 0))
        return chase_gpu_group_restore(g, err); /* back where it was: no journal entry needed any more */
    if (!(v->value >= tg->lo - 1e-9 && v->value <= tg->hi + 1e-9))
        return chase_err_set(err, CHASE_ERANGE, "GPU %d: %g W is outside the range chased allows (%g..%g W)", gpu,
                             v->value, tg->lo, tg->hi);
    int rc = chase_gpu_group_apply(g, v->value, err);
    if (rc == CHASE_OK && chase_gpu_group_observe_only(g))
        return chase_err_set(err, CHASE_EPERM,
                             "NVML refused to set GPU %d's power limit to chased (does it run as root, with "
                             "CAP_SYS_ADMIN?)",
                             gpu);
    return rc;
}

int chase_agent_table_release(chase_agent_table_t *t, chase_agent_session_t *s, const char *why, chase_err_t *err)
{
    int first = CHASE_OK;
    char list[600] = "";
    for (int i = 0; i < s->n; i++) {
        chase_gpu_group_t *g = s->group[i];
        chase_err_t e;
        chase_err_clear(&e);
        int changed = !chase_gpu_group_restored(g, 0);
        int rc = chase_gpu_group_restore(g, &e);
        size_t len = strlen(list);
        if (rc == CHASE_OK && changed)
            snprintf(list + len, sizeof list - len, "%sGPU %d back to %g W", len ? ", " : "", s->idx[i],
                     chase_gpu_group_original(g, 0));
        if (rc != CHASE_OK) {
            chase_agent_logf(t->log, t->log_arg, CHASE_AGENT_ERROR,
                             "session %llu: %s; its original stays in the journal in %s for the next start of chased",
                             s->id, e.msg, t->state_dir);
            if (first == CHASE_OK) {
                first = rc;
                chase_err_set(err, rc, "%s", e.msg);
            }
        }
        t->g[s->idx[i]].holder = NULL;
    }
    chase_agent_logf(t->log, t->log_arg, CHASE_AGENT_INFO, "session %llu of uid %u (pid %d) ended (%s)%s%s", s->id,
                     (unsigned)s->peer.uid, (int)s->peer.pid, why, list[0] ? ": " : "", list);
    if (s->prev)
        s->prev->next = s->next;
    else
        t->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    t->n_sessions--;
    session_free(s);
    return first;
}

void chase_agent_table_free(chase_agent_table_t *t)
{
    if (!t)
        return;
    while (t->sessions)
        (void)chase_agent_table_release(t, t->sessions, "chased is stopping", NULL);
    free(t->g);
    free(t);
}
