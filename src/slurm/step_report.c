/* The step's report from the leader's run report and the followers' answers (see step_report.h). */
#include "slurm/step_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MARK_TOLERANCE_S 0.5 /* a mark this close to a period's boundary was made at it */

static void number(cJSON *o, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

static void replace_number(cJSON *o, const char *key, double v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    number(o, key, v);
}

static double get_number(const cJSON *o, const char *key)
{
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* The mark made at time t (within the tolerance), or -1. Marks are made in time order. */
static int mark_at(const double *marks, size_t n, double t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (marks[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    int best = -1;
    double best_d = MARK_TOLERANCE_S;
    for (size_t k = lo > 0 ? lo - 1 : 0; k < n && k <= lo; k++)
        if (fabs(marks[k] - t) <= best_d) {
            best_d = fabs(marks[k] - t);
            best = (int)k;
        }
    return best;
}

/* A follower's final reading as a sample, when it was made at time t (its wall clock, within the tolerance). */
static int final_sample(const chase_slurm_peer_t *p, double t, chase_slurm_sample_t *out)
{
    const cJSON *f = p ? p->final : NULL;
    double wall = get_number(f, "wall");
    *out = (chase_slurm_sample_t){-1, get_number(f, "t"), get_number(f, "energy_j"), get_number(f, "setting_s"),
                                  get_number(f, "steps")};
    return isfinite(wall) && fabs(wall - t) <= MARK_TOLERANCE_S && isfinite(out->t) && isfinite(out->energy_j) &&
           isfinite(out->setting_s);
}

/* A follower's answers by mark id. */
static int *index_samples(const chase_slurm_peer_t *p, size_t n_marks)
{
    int *by = malloc((n_marks ? n_marks : 1) * sizeof *by);
    if (!by)
        return NULL;
    for (size_t k = 0; k < n_marks; k++)
        by[k] = -1;
    for (size_t i = 0; p && i < p->n_samples; i++)
        if (p->samples[i].mark >= 0 && (size_t)p->samples[i].mark < n_marks)
            by[p->samples[i].mark] = (int)i;
    return by;
}

typedef struct node_acc {
    double energy_j, carbon_g;
    int missing;
} node_acc_t;

static cJSON *leader_node(const chase_slurm_report_in_t *in, cJSON *root, const node_acc_t *acc)
{
    cJSON *n = cJSON_CreateObject();
    cJSON_AddStringToObject(n, "name", in->node_names[0]);
    cJSON_AddNumberToObject(n, "node_id", 0);
    cJSON_AddStringToObject(n, "role", "leader");
    cJSON *gpus = cJSON_GetObjectItemCaseSensitive(root, "gpus");
    cJSON *mine = gpus ? cJSON_Duplicate(gpus, 1) : cJSON_CreateArray();
    /* The device file each GPU was found by, as the followers report theirs. */
    for (int i = 0; i < in->n_leader_minors && i < cJSON_GetArraySize(mine); i++)
        cJSON_AddNumberToObject(cJSON_GetArrayItem(mine, i), "minor", in->leader_minors[i]);
    cJSON_AddItemToObject(n, "gpus", mine);
    number(n, "energy_j", acc->energy_j);
    number(n, "carbon_g", acc->carbon_g);
    int restored = 1;
    const cJSON *g;
    cJSON_ArrayForEach(g, gpus) restored &= cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "restored"));
    cJSON_AddBoolToObject(n, "restored", restored);
    number(n, "exit_status", in->leader_exit_status >= 0 ? in->leader_exit_status : NAN);
    cJSON_AddNumberToObject(n, "fallback_s", 0);
    number(n, "steps", get_number(cJSON_GetObjectItemCaseSensitive(root, "progress"), "steps"));
    cJSON_AddNumberToObject(n, "periods_missing", acc->missing);
    return n;
}

static cJSON *follower_node(const chase_slurm_report_in_t *in, int k, const node_acc_t *acc)
{
    const chase_slurm_peer_t *p = in->peers ? in->peers[k] : NULL;
    const cJSON *fin = p ? p->final : NULL;
    cJSON *n = cJSON_CreateObject();
    cJSON_AddStringToObject(n, "name", in->node_names[k]);
    cJSON_AddNumberToObject(n, "node_id", k);
    cJSON_AddStringToObject(n, "role", "follower");
    cJSON_AddBoolToObject(n, "joined", p && p->joined);
    const cJSON *gpus = fin ? cJSON_GetObjectItemCaseSensitive(fin, "gpus") : NULL;
    if (!cJSON_IsArray(gpus) && p)
        gpus = p->gpus;
    cJSON_AddItemToObject(n, "gpus", cJSON_IsArray(gpus) ? cJSON_Duplicate(gpus, 1) : cJSON_CreateArray());
    number(n, "energy_j", acc->energy_j);
    number(n, "carbon_g", acc->carbon_g);
    const cJSON *restored = fin ? cJSON_GetObjectItemCaseSensitive(fin, "restored") : NULL;
    if (cJSON_IsBool(restored))
        cJSON_AddBoolToObject(n, "restored", cJSON_IsTrue(restored));
    else
        cJSON_AddNullToObject(n, "restored"); /* it never said: see the node's own Slurm log */
    number(n, "exit_status", get_number(fin, "exit_status"));
    number(n, "fallback_s", get_number(fin, "fallback_s"));
    double steps = get_number(fin, "steps");
    if (!isfinite(steps) && p && p->n_samples)
        steps = p->samples[p->n_samples - 1].steps;
    number(n, "steps", steps);
    cJSON_AddNumberToObject(n, "periods_missing", acc->missing);
    return n;
}

int chase_slurm_step_report(const chase_slurm_report_in_t *in, char **out, chase_err_t *err)
{
    *out = NULL;
    cJSON *root = cJSON_Parse(in->run_json);
    cJSON *periods = root ? cJSON_GetObjectItemCaseSensitive(root, "periods") : NULL;
    cJSON *total = root ? cJSON_GetObjectItemCaseSensitive(root, "total") : NULL;
    size_t rows = in->ledger ? in->ledger->n : 0;
    if (!cJSON_IsArray(periods) || !cJSON_IsObject(total) || (size_t)cJSON_GetArraySize(periods) != rows ||
        in->n_nodes < 1) {
        cJSON_Delete(root);
        return chase_err_set(err, CHASE_EFORMAT, "the leader's run report does not match its periods");
    }
    int nn = in->n_nodes;
    node_acc_t *acc = calloc((size_t)nn, sizeof *acc);
    int **by_mark = calloc((size_t)nn, sizeof *by_mark);
    int rc = acc && by_mark ? CHASE_OK : chase_err_set(err, CHASE_ENOMEM, "out of memory");
    for (int k = 1; rc == CHASE_OK && k < nn; k++)
        if (!(by_mark[k] = index_samples(in->peers ? in->peers[k] : NULL, in->n_marks)))
            rc = chase_err_set(err, CHASE_ENOMEM, "out of memory");
    double step_energy = 0, step_carbon = 0;
    for (size_t i = 0; rc == CHASE_OK && i < rows; i++) {
        const chase_period_t *r = &in->ledger->rows[i];
        cJSON *p = cJSON_GetArrayItem(periods, (int)i);
        cJSON *nodes = cJSON_CreateArray();
        int a = mark_at(in->marks, in->n_marks, r->start), b = mark_at(in->marks, in->n_marks, r->end);
        double energy = 0, carbon = 0;
        int complete = 1, priced = isfinite(r->ci);
        for (int k = 0; k < nn; k++) {
            double e = NAN, s = NAN;
            if (k == 0) {
                e = r->energy_j;
                s = r->setting;
            } else {
                const chase_slurm_peer_t *peer = in->peers ? in->peers[k] : NULL;
                int sa = a >= 0 ? by_mark[k][a] : -1, sb = b >= 0 ? by_mark[k][b] : -1;
                chase_slurm_sample_t last;
                const chase_slurm_sample_t *y = sb >= 0 ? &peer->samples[sb] : NULL;
                /* A follower whose tasks ended with the leader's may have gone before the last mark: its final
                 * reading, made at the same moment, closes the last period. */
                if (!y && sa >= 0 && final_sample(peer, r->end, &last))
                    y = &last;
                if (peer && sa >= 0 && y && y != &peer->samples[sa]) {
                    const chase_slurm_sample_t *x = &peer->samples[sa];
                    e = y->energy_j - x->energy_j;
                    s = y->t > x->t ? (y->setting_s - x->setting_s) / (y->t - x->t) : NAN;
                }
            }
            double c = isfinite(e) && priced ? e * r->ci / 3.6e6 : NAN;
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", in->node_names[k]);
            number(o, "energy_j", e);
            number(o, "carbon_g", c);
            number(o, "power_limit_w", s);
            cJSON_AddItemToArray(nodes, o);
            if (isfinite(e)) {
                energy += e;
                acc[k].energy_j += e;
                if (isfinite(c)) {
                    carbon += c;
                    acc[k].carbon_g += c;
                }
            } else {
                complete = 0;
                acc[k].missing++;
            }
        }
        cJSON_AddItemToObject(p, "nodes", nodes);
        replace_number(p, "energy_j", energy);
        replace_number(p, "carbon_g", priced ? carbon : NAN);
        cJSON_AddBoolToObject(p, "complete", complete);
        step_energy += energy;
        if (priced)
            step_carbon += carbon;
    }
    if (rc == CHASE_OK) {
        replace_number(total, "energy_j", step_energy);
        replace_number(total, "carbon_g", step_carbon);
        cJSON *slurm = cJSON_CreateObject();
        cJSON_AddNumberToObject(slurm, "job_id", in->job);
        cJSON_AddNumberToObject(slurm, "step_id", in->step);
        cJSON *names = cJSON_AddArrayToObject(slurm, "nodes");
        for (int k = 0; k < nn; k++)
            cJSON_AddItemToArray(names, cJSON_CreateString(in->node_names[k]));
        cJSON_AddStringToObject(slurm, "leader", in->node_names[0]);
        cJSON_AddNumberToObject(slurm, "refused_connections", in->refused);
        cJSON_AddItemToObject(root, "slurm", slurm);
        cJSON *nodes = cJSON_CreateArray();
        cJSON_AddItemToArray(nodes, leader_node(in, root, &acc[0]));
        for (int k = 1; k < nn; k++)
            cJSON_AddItemToArray(nodes, follower_node(in, k, &acc[k]));
        /* Every GPU of the step, with its node. */
        cJSON *all = cJSON_CreateArray();
        const cJSON *node;
        cJSON_ArrayForEach(node, nodes)
        {
            const cJSON *g;
            cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(node, "gpus"))
            {
                cJSON *c = cJSON_Duplicate(g, 1);
                cJSON_AddStringToObject(c, "node", cJSON_GetObjectItemCaseSensitive(node, "name")->valuestring);
                cJSON_AddItemToArray(all, c);
            }
        }
        cJSON_ReplaceItemInObjectCaseSensitive(root, "gpus", all);
        cJSON_AddItemToObject(root, "nodes", nodes);
        cJSON_DeleteItemFromObjectCaseSensitive(root, "exit_status");
        number(root, "exit_status", in->leader_exit_status >= 0 ? in->leader_exit_status : NAN);
        cJSON *w = cJSON_AddArrayToObject(root, "warnings");
        for (size_t i = 0; i < in->n_warnings; i++)
            cJSON_AddItemToArray(w, cJSON_CreateString(in->warnings[i]));
        *out = cJSON_Print(root);
        if (!*out)
            rc = chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    for (int k = 0; by_mark && k < nn; k++)
        free(by_mark[k]);
    free(by_mark);
    free(acc);
    cJSON_Delete(root);
    return rc;
}
