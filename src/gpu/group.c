/* The GPU group (see chase/gpu_group.h): one place for the bookkeeping that the control loop, online profiling and
 * the front ends share, so that they agree on which GPUs are the job's and on how they are put back. */
#include "chase/gpu_group.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chase/journal.h"
#include "util/notify.h"

#define RESTORE_TRIES 3

typedef struct member {
    int index;
    chase_gpu_info_t info;
    double original, lo, hi;
    double value;   /* what the group last set (NAN: never set, the original is in force) */
    int changed;    /* the GPU may hold a setting other than its original */
    int left_changed; /* a dead run left it changed and this group may not put it back (observed only) */
    int journaled;  /* its original is in the journal */
    char key[128];  /* journal key */
} member_t;

struct chase_gpu_group {
    chase_gpu_t *gpu;
    chase_knob_t knob;
    int n;
    member_t *m;
    double *energy0;
    double lo, hi;
    int observe_only;
    char journal_dir[1024];
    void (*on_warning)(void *arg, const char *msg);
    void *warning_arg;
};

static void warn(chase_gpu_group_t *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(chase_gpu_group_t *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    chase_notify_v(g->on_warning, g->warning_arg, fmt, ap);
    va_end(ap);
}

static const char *label(const member_t *m, char *buf, size_t size)
{
    if (m->info.name[0])
        snprintf(buf, size, "GPU %d (%s)", m->index, m->info.name);
    else
        snprintf(buf, size, "GPU %d", m->index);
    return buf;
}

static int set_one(chase_gpu_group_t *g, member_t *m, double value, chase_err_t *err)
{
    chase_setting_t s = {g->knob, value};
    return chase_gpu_set_setting(g->gpu, m->index, &s, err);
}

/* A GPU a dead run left changed is put back first; one a live run drives is not ours to take. */
static int settle_journal(chase_gpu_group_t *g, member_t *m, chase_err_t *err)
{
    chase_journal_entry_t e;
    chase_err_t je;
    int rc = chase_journal_read(g->journal_dir, m->key, &e, &je);
    if (rc == CHASE_ENODATA)
        return CHASE_OK;
    if (rc != CHASE_OK) {
        warn(g, "%s (ignored)", je.msg);
        return CHASE_OK;
    }
    char lb[160];
    if (chase_journal_owner_alive(&e) && g->observe_only)
        return CHASE_OK; /* watching changes nothing */
    if (chase_journal_owner_alive(&e))
        return chase_err_set(err, CHASE_ESTATE,
                             "%s is driven by another chase process (pid %d, journal %s): one job's GPUs at a time; "
                             "choose other GPUs with --gpus",
                             label(m, lb, sizeof lb), (int)e.pid, g->journal_dir);
    if (e.original.knob != g->knob)
        return CHASE_OK;
    chase_err_t se;
    if (!g->observe_only && set_one(g, m, e.original.value, &se) == CHASE_OK) {
        warn(g, "%s: a chase run (pid %d) died without putting it back: restored to %g %s", label(m, lb, sizeof lb),
             (int)e.pid, e.original.value, chase_knob_unit(g->knob));
        (void)chase_journal_remove(g->journal_dir, m->key, NULL);
        return CHASE_OK;
    }
    /* It cannot be put back from here (observe-only, no permission): at least do not take the lowered value as the
     * GPU's own. */
    m->original = e.original.value;
    m->left_changed = 1;
    warn(g, "%s: a chase run (pid %d) died leaving it changed; its setting before that run was %g %s (run `chase "
            "restore` with the right to set limits)",
         label(m, lb, sizeof lb), (int)e.pid, e.original.value, chase_knob_unit(g->knob));
    return CHASE_OK;
}

static int read_member(chase_gpu_group_t *g, member_t *m, chase_err_t *err)
{
    int rc = chase_gpu_info(g->gpu, m->index, &m->info, err);
    if (rc != CHASE_OK)
        return rc;
    chase_journal_key(g->gpu, &m->info, m->key, sizeof m->key);
    m->value = NAN;
    m->original = NAN;
    if (g->journal_dir[0] && (rc = settle_journal(g, m, err)) != CHASE_OK)
        return rc;
    chase_setting_range_t r;
    if ((rc = chase_gpu_get_setting(g->gpu, m->index, g->knob, &r, err)) != CHASE_OK)
        return rc;
    char lb[160];
    if (!isfinite(r.current) || !isfinite(r.min) || !isfinite(r.max))
        return chase_err_set(err, CHASE_ENOTSUP, "%s does not report its %s and their range: chase cannot control it",
                             label(m, lb, sizeof lb), chase_knob_name(g->knob));
    if (isnan(m->original))
        m->original = r.current;
    m->lo = r.min;
    m->hi = r.max;
    return CHASE_OK;
}

/* Takes the GPUs from a backend that shares them (chase_gpu_ops_t.claim) before anything of them is read or
 * changed. A caller who may not set them at all only watches, as after a refused set. */
static int claim(chase_gpu_group_t *g, chase_err_t *err)
{
    int *idx = malloc((size_t)g->n * sizeof *idx);
    if (!idx)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    for (int i = 0; i < g->n; i++)
        idx[i] = g->m[i].index;
    chase_err_t e;
    chase_err_clear(&e);
    int rc = chase_gpu_claim(g->gpu, idx, g->n, &e);
    free(idx);
    if (rc == CHASE_EPERM) {
        g->observe_only = 1;
        warn(g, "no permission to set GPU %ss (%s): continuing in observe-only mode", chase_knob_name(g->knob),
             e.msg);
        return CHASE_OK;
    }
    if (rc != CHASE_OK && err)
        *err = e;
    return rc;
}

int chase_gpu_group_open(chase_gpu_t *gpu, const chase_gpu_group_opts_t *opts, chase_gpu_group_t **out,
                         chase_err_t *err)
{
    *out = NULL;
    chase_gpu_group_opts_t none = {0};
    const chase_gpu_group_opts_t *o = opts ? opts : &none;
    int total = 0, rc;
    if (!gpu)
        return chase_err_set(err, CHASE_EINVAL, "chase_gpu_group_open: no backend");
    if ((rc = chase_gpu_count(gpu, &total, err)) != CHASE_OK)
        return rc;
    int n = o->gpus ? o->n_gpus : total;
    if (n < 1)
        return chase_err_set(err, CHASE_ENOTFOUND, o->gpus ? "no GPU named" : "the %s backend reports no GPU",
                             chase_gpu_backend(gpu));
    chase_gpu_group_t *g = calloc(1, sizeof *g);
    if (!g)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    g->m = calloc((size_t)n, sizeof *g->m);
    g->energy0 = calloc((size_t)n, sizeof *g->energy0);
    if (!g->m || !g->energy0) {
        chase_gpu_group_free(g);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    g->gpu = gpu;
    g->knob = o->knob;
    g->n = n;
    g->observe_only = o->observe_only;
    g->on_warning = o->on_warning;
    g->warning_arg = o->warning_arg;
    g->lo = -INFINITY;
    g->hi = INFINITY;
    /* A backend that claims GPUs puts them back itself when the claim ends: a journal of ours would only restore,
     * at our next start, what it has restored already. */
    if (o->journal_dir && !gpu->ops->claim)
        snprintf(g->journal_dir, sizeof g->journal_dir, "%s", o->journal_dir);
    for (int i = 0; i < n; i++) {
        int idx = o->gpus ? o->gpus[i] : i;
        for (int j = 0; j < i; j++)
            if (g->m[j].index == idx) {
                chase_gpu_group_free(g);
                return chase_err_set(err, CHASE_EINVAL, "GPU %d is named twice", idx);
            }
        if (idx < 0 || idx >= total) {
            chase_gpu_group_free(g);
            return chase_err_set(err, CHASE_ENOTFOUND, "GPU %d does not exist (the %s backend has %d: 0..%d)", idx,
                                 chase_gpu_backend(gpu), total, total - 1);
        }
        g->m[i].index = idx;
        g->m[i].original = NAN;
    }
    if (!g->observe_only && (rc = claim(g, err)) != CHASE_OK) {
        chase_gpu_group_free(g);
        return rc;
    }
    for (int i = 0; i < n; i++) {
        int idx = g->m[i].index;
        if ((rc = read_member(g, &g->m[i], err)) != CHASE_OK ||
            (rc = chase_gpu_energy(gpu, idx, &g->energy0[i], err)) != CHASE_OK) {
            chase_gpu_group_free(g);
            return rc;
        }
        g->lo = fmax(g->lo, g->m[i].lo);
        g->hi = fmin(g->hi, g->m[i].hi);
    }
    if (!(g->lo <= g->hi)) {
        chase_gpu_group_free(g);
        return chase_err_set(err, CHASE_ERANGE, "the GPUs share no %s range: give --gpus of one model",
                             chase_knob_name(o->knob));
    }
    *out = g;
    return CHASE_OK;
}

void chase_gpu_group_free(chase_gpu_group_t *g)
{
    if (!g)
        return;
    if (g->m)
        (void)chase_gpu_group_restore(g, NULL);
    free(g->m);
    free(g->energy0);
    free(g);
}

int chase_gpu_group_size(const chase_gpu_group_t *g) { return g->n; }
chase_knob_t chase_gpu_group_knob(const chase_gpu_group_t *g) { return g->knob; }
chase_gpu_t *chase_gpu_group_backend(const chase_gpu_group_t *g) { return g->gpu; }
int chase_gpu_group_index(const chase_gpu_group_t *g, int i) { return g->m[i].index; }
const chase_gpu_info_t *chase_gpu_group_info(const chase_gpu_group_t *g, int i) { return &g->m[i].info; }
double chase_gpu_group_original(const chase_gpu_group_t *g, int i) { return g->m[i].original; }
int chase_gpu_group_observe_only(const chase_gpu_group_t *g) { return g->observe_only; }
int chase_gpu_group_restored(const chase_gpu_group_t *g, int i) { return !g->m[i].changed && !g->m[i].left_changed; }

int chase_gpu_group_all_restored(const chase_gpu_group_t *g)
{
    for (int i = 0; i < g->n; i++)
        if (!chase_gpu_group_restored(g, i))
            return 0;
    return 1;
}

void chase_gpu_group_member_range(const chase_gpu_group_t *g, int i, double *lo, double *hi)
{
    *lo = g->m[i].lo;
    *hi = g->m[i].hi;
}

void chase_gpu_group_range(const chase_gpu_group_t *g, double *lo, double *hi)
{
    *lo = g->lo;
    *hi = g->hi;
}

/* Writes m's original to the journal before its first change; a journal that cannot be written is said once and
 * does not stop the run (the in-process restore still holds). */
static void journal_member(chase_gpu_group_t *g, member_t *m)
{
    if (!g->journal_dir[0] || m->journaled)
        return;
    chase_journal_entry_t e;
    memset(&e, 0, sizeof e);
    snprintf(e.key, sizeof e.key, "%s", m->key);
    e.index = m->index;
    e.original = (chase_setting_t){g->knob, m->original};
    chase_err_t je;
    if (chase_journal_write(g->journal_dir, &e, &je) == CHASE_OK) {
        m->journaled = 1;
    } else {
        warn(g, "cannot journal the original settings (%s): a run killed with SIGKILL could not be undone", je.msg);
        g->journal_dir[0] = '\0';
    }
}

int chase_gpu_group_apply(chase_gpu_group_t *g, double value, chase_err_t *err)
{
    if (g->observe_only)
        return CHASE_OK;
    if (!isfinite(value))
        return chase_err_set(err, CHASE_EINVAL, "%s %g is not a usable value", chase_knob_name(g->knob), value);
    int any_changed = 0;
    for (int i = 0; i < g->n; i++)
        any_changed |= g->m[i].changed;
    for (int i = 0; i < g->n; i++) {
        member_t *m = &g->m[i];
        if (m->value == value)
            continue;
        journal_member(g, m);
        chase_err_t e;
        chase_err_clear(&e);
        int rc = set_one(g, m, value, &e);
        if (rc == CHASE_OK) {
            m->value = value;
            m->changed = 1;
            any_changed = 1;
            continue;
        }
        if (m->journaled && !m->changed) {
            (void)chase_journal_remove(g->journal_dir, m->key, NULL);
            m->journaled = 0;
        }
        if (rc == CHASE_EPERM && !any_changed) {
            g->observe_only = 1;
            warn(g, "no permission to set GPU %ss (%s): continuing in observe-only mode (run as root, or use the "
                    "node agent chased, to apply decisions)",
                 chase_knob_name(g->knob), e.msg);
            return CHASE_OK;
        }
        char lb[160];
        chase_err_t rerr;
        int rrc = chase_gpu_group_restore(g, &rerr);
        return chase_err_set(err, rc, "setting %s to %g %s: %s; %s", label(m, lb, sizeof lb), value,
                             chase_knob_unit(g->knob), e.msg,
                             rrc == CHASE_OK ? "the GPUs already changed were put back" : rerr.msg);
    }
    return CHASE_OK;
}

double chase_gpu_group_in_force(chase_gpu_group_t *g)
{
    double sum = 0;
    for (int i = 0; i < g->n; i++) {
        chase_setting_range_t r;
        if (chase_gpu_get_setting(g->gpu, g->m[i].index, g->knob, &r, NULL) != CHASE_OK || !isfinite(r.current))
            return NAN;
        sum += r.current;
    }
    return sum / g->n;
}

static void pause_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

int chase_gpu_group_restore(chase_gpu_group_t *g, chase_err_t *err)
{
    int first = CHASE_OK;
    char msg[sizeof err->msg] = "";
    for (int i = 0; i < g->n; i++) {
        member_t *m = &g->m[i];
        if (!m->changed)
            continue;
        int rc = CHASE_OK;
        chase_err_t e;
        chase_err_clear(&e);
        for (int t = 0; t < RESTORE_TRIES; t++) {
            if (t)
                pause_ms(20 * t);
            if ((rc = set_one(g, m, m->original, &e)) == CHASE_OK)
                break;
            if (rc == CHASE_EPERM || rc == CHASE_ENOTSUP || rc == CHASE_ENOTFOUND)
                break; /* trying again would not change the answer */
        }
        if (rc == CHASE_OK) {
            m->changed = 0;
            m->value = NAN;
            if (m->journaled && chase_journal_remove(g->journal_dir, m->key, NULL) == CHASE_OK)
                m->journaled = 0;
            continue;
        }
        char lb[160];
        size_t len = strlen(msg);
        int w = snprintf(msg + len, sizeof msg - len, "%s%s not put back to %g %s (%.200s)", len ? "; " : "",
                         label(m, lb, sizeof lb), m->original, chase_knob_unit(g->knob), e.msg);
        (void)w; /* a message cut short still names the first GPUs */
        if (first == CHASE_OK)
            first = rc;
    }
    if (first != CHASE_OK)
        chase_err_set(err, first, "%s", msg);
    return first;
}

int chase_gpu_group_energy(chase_gpu_group_t *g, double *joules, chase_err_t *err)
{
    double sum = 0;
    for (int i = 0; i < g->n; i++) {
        double j;
        chase_err_t e;
        chase_err_clear(&e);
        int rc = chase_gpu_energy(g->gpu, g->m[i].index, &j, &e);
        if (rc != CHASE_OK) {
            char lb[160];
            return chase_err_set(err, rc, "reading the energy of %s: %s", label(&g->m[i], lb, sizeof lb), e.msg);
        }
        sum += j - g->energy0[i];
    }
    *joules = sum;
    return CHASE_OK;
}
