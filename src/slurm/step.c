/* The helper's command line (see step.h):
 *
 *   chase-slurm-step --job=J --step=S --node-id=K --nodes=N --node=NAME --nodelist=LIST --gres-index=I,J
 *                    --slurm-conf=PATH --cwd=DIR --uid=U --gid=G [--chase-NAME=VALUE ...] [-- COMMAND...]
 *   chase-slurm-step --restore [--chase-journal-dir=D] [--chase-nvml-library=L]
 *
 * The plugin builds it with chase_slurm_step_argv and the helper reads it with chase_slurm_step_parse, so the two
 * always agree. */
#include "slurm/step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void chase_slurm_step_arg_name(chase_slurm_key_t k, char *buf, size_t size)
{
    const chase_slurm_def_t *d = chase_slurm_def(k);
    if (d->user_name) {
        snprintf(buf, size, "--%s", d->user_name);
        return;
    }
    snprintf(buf, size, "--chase-%s", d->site_name);
    for (char *p = buf; *p; p++)
        if (*p == '_')
            *p = '-';
}

/* Copies value into a fixed buffer, refusing what does not fit or holds control characters. */
static int text(const char *name, const char *value, char *buf, size_t size, chase_err_t *err)
{
    if (strlen(value) >= size)
        return chase_err_set(err, CHASE_EINVAL, "%s: too long", name);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if (*p < ' ' || *p == 127)
            return chase_err_set(err, CHASE_EINVAL, "%s: control characters", name);
    snprintf(buf, size, "%s", value);
    return CHASE_OK;
}

static int number(const char *name, const char *value, double lo, double hi, double *out, chase_err_t *err)
{
    char *end;
    double x = strtod(value, &end);
    if (end == value || *end || !(x >= lo && x <= hi) || x != (double)(long long)x)
        return chase_err_set(err, CHASE_EINVAL, "%s: '%.40s' is not a whole number from %.0f to %.0f", name, value, lo,
                             hi);
    *out = x;
    return CHASE_OK;
}

int chase_slurm_step_parse(int argc, char **argv, chase_slurm_step_t *st, chase_err_t *err)
{
    memset(st, 0, sizeof *st);
    st->node_id = -1;
    double uid = -1, gid = -1, x;
    int rc = CHASE_OK, i;
    for (i = 1; i < argc && rc == CHASE_OK; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (!strcmp(a, "--restore")) {
            st->restore_only = 1;
            continue;
        }
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) || !eq) {
            rc = chase_err_set(err, CHASE_EINVAL, "unexpected argument '%.60s'", a);
            break;
        }
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
        const char *v = eq + 1;
        if (!strcmp(name, "--job"))
            rc = number(name, v, 0, 4294967295.0, &x, err), st->job = (uint32_t)x;
        else if (!strcmp(name, "--step"))
            rc = number(name, v, 0, 4294967295.0, &x, err), st->step = (uint32_t)x;
        else if (!strcmp(name, "--node-id"))
            rc = number(name, v, 0, 1e6, &x, err), st->node_id = (int)x;
        else if (!strcmp(name, "--nodes"))
            rc = number(name, v, 1, 1e6, &x, err), st->n_nodes = (int)x;
        else if (!strcmp(name, "--uid"))
            rc = number(name, v, 0, 4294967294.0, &uid, err);
        else if (!strcmp(name, "--gid"))
            rc = number(name, v, 0, 4294967294.0, &gid, err);
        else if (!strcmp(name, "--node"))
            rc = text(name, v, st->node, sizeof st->node, err);
        else if (!strcmp(name, "--nodelist"))
            rc = text(name, v, st->nodelist, sizeof st->nodelist, err);
        else if (!strcmp(name, "--gres-index"))
            rc = text(name, v, st->gres_index, sizeof st->gres_index, err);
        else if (!strcmp(name, "--slurm-conf"))
            rc = text(name, v, st->slurm_conf, sizeof st->slurm_conf, err);
        else if (!strcmp(name, "--cwd"))
            rc = text(name, v, st->cwd, sizeof st->cwd, err);
        else {
            int k = 0;
            char arg[96];
            for (; k < CHASE_SLURM_N; k++) {
                chase_slurm_step_arg_name((chase_slurm_key_t)k, arg, sizeof arg);
                if (!strcmp(arg, name))
                    break;
            }
            char why[512];
            if (k == CHASE_SLURM_N)
                rc = chase_err_set(err, CHASE_EINVAL, "unknown argument %s", name);
            else if (chase_slurm_set(&st->s, (chase_slurm_key_t)k,
                                     k < CHASE_SLURM_N_USER ? CHASE_SLURM_BY_USER : CHASE_SLURM_BY_SITE, v, why,
                                     sizeof why))
                rc = chase_err_set(err, CHASE_EINVAL, "%s", why);
        }
    }
    if (rc != CHASE_OK)
        return rc;
    st->command = argv + i;
    if (st->restore_only)
        return CHASE_OK;
    if (uid < 0 || gid < 0 || st->node_id < 0 || !st->n_nodes || st->node_id >= st->n_nodes || !st->node[0] ||
        !st->nodelist[0] || !st->slurm_conf[0] || st->cwd[0] != '/')
        return chase_err_set(err, CHASE_EINVAL,
                             "missing or inconsistent --uid, --gid, --node-id, --nodes, --node, --nodelist, "
                             "--slurm-conf or --cwd (absolute)");
    return chase_slurm_user_init(&st->user, (uid_t)uid, (gid_t)gid, err);
}

/* Appends the concatenation of a, b and c to *v. */
static int push(char ***v, size_t *n, size_t *cap, const char *a, const char *b, const char *c)
{
    if (*n + 2 > *cap) {
        size_t grown = *cap ? 2 * *cap : 32;
        char **nv = realloc(*v, grown * sizeof *nv);
        if (!nv)
            return -1;
        *v = nv;
        *cap = grown;
    }
    size_t len = strlen(a) + strlen(b) + strlen(c);
    char *s = malloc(len + 1);
    if (!s)
        return -1;
    snprintf(s, len + 1, "%s%s%s", a, b, c);
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
    return 0;
}

int chase_slurm_step_argv(const char *path, const chase_slurm_step_t *st, char ***out)
{
    char **v = NULL, num[64], num2[64];
    size_t n = 0, cap = 0;
    int bad = push(&v, &n, &cap, path, "", "");
    if (st->restore_only) {
        bad |= push(&v, &n, &cap, "--restore", "", "");
    } else {
        snprintf(num, sizeof num, "%u", st->job);
        bad |= push(&v, &n, &cap, "--job=", num, "");
        snprintf(num, sizeof num, "%u", st->step);
        bad |= push(&v, &n, &cap, "--step=", num, "");
        snprintf(num, sizeof num, "%d", st->node_id);
        bad |= push(&v, &n, &cap, "--node-id=", num, "");
        snprintf(num, sizeof num, "%d", st->n_nodes);
        bad |= push(&v, &n, &cap, "--nodes=", num, "");
        snprintf(num, sizeof num, "%u", (unsigned)st->user.uid);
        snprintf(num2, sizeof num2, "%u", (unsigned)st->user.gid);
        bad |= push(&v, &n, &cap, "--uid=", num, "");
        bad |= push(&v, &n, &cap, "--gid=", num2, "");
        bad |= push(&v, &n, &cap, "--node=", st->node, "");
        bad |= push(&v, &n, &cap, "--nodelist=", st->nodelist, "");
        bad |= push(&v, &n, &cap, "--gres-index=", st->gres_index, "");
        bad |= push(&v, &n, &cap, "--slurm-conf=", st->slurm_conf, "");
        bad |= push(&v, &n, &cap, "--cwd=", st->cwd, "");
    }
    for (int k = 0; k < CHASE_SLURM_N; k++) {
        if (!st->s.v[k])
            continue;
        char arg[96];
        chase_slurm_step_arg_name((chase_slurm_key_t)k, arg, sizeof arg);
        bad |= push(&v, &n, &cap, arg, "=", st->s.v[k]);
    }
    if (!st->restore_only && st->command && st->command[0]) {
        bad |= push(&v, &n, &cap, "--", "", "");
        for (char **c = st->command; *c; c++)
            bad |= push(&v, &n, &cap, *c, "", "");
    }
    if (bad) {
        chase_slurm_step_argv_free(v);
        return -1;
    }
    *out = v;
    return 0;
}

void chase_slurm_step_argv_free(char **argv)
{
    for (char **p = argv; p && *p; p++)
        free(*p);
    free(argv);
}

void chase_slurm_step_path(const chase_slurm_step_t *st, const char *path, char *out, size_t size)
{
    if (path[0] == '/')
        snprintf(out, size, "%s", path);
    else
        snprintf(out, size, "%s/%s", st->cwd, path);
}

void chase_slurm_step_free(chase_slurm_step_t *st)
{
    chase_slurm_settings_clear(&st->s);
}
