/* One report per step: each period gets every node's energy, carbon and mean limit from the followers' answers to
 * the leader's marks at its start and end; periods and nodes add up to the step's totals; a follower that missed a
 * mark, never joined or never said its last word shows as such, never as zeros. */
#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "chase/report.h"
#include "check.h"
#include "slurm/step_report.h"

static const double T0 = 1700000000;

/* Three 10-s control periods on the leader: 100 W, 300 W, 100 W at CI 400, 100, 400. */
static void leader_rows(chase_ledger_t *l)
{
    chase_ledger_init(l);
    double set[3] = {100, 300, 100}, ci[3] = {400, 100, 400}, e[3] = {1000, 2350, 1000};
    for (int i = 0; i < 3; i++) {
        chase_period_t r = {T0 + 10 * i,
                            T0 + 10 * (i + 1),
                            ci[i],
                            ci[i],
                            set[i],
                            e[i],
                            e[i] * ci[i] / 3.6e6,
                            50,
                            0,
                            CHASE_KNOB_POWER_LIMIT,
                            CHASE_PHASE_CONTROL,
                            set[i]};
        chase_ledger_append(l, &r);
    }
}

static char *run_json(const chase_ledger_t *l)
{
    chase_run_gpu_t gpu = {{.index = 2, .minor = 0, .name = "NVIDIA A40"}, 275, 100, 300, 1};
    char *argv[] = {"python3", "train.py", NULL};
    chase_run_record_t rec = {.command = argv,
                              .signal = "static:400",
                              .policy = "chase",
                              .policy_requested = "chase",
                              .period_s = 10,
                              .budget_pct = 2.5,
                              .total_steps = NAN,
                              .backend = "nvml",
                              .profile_source = "file",
                              .knob = CHASE_KNOB_POWER_LIMIT,
                              .gpus = &gpu,
                              .n_gpus = 1,
                              .steps = 150,
                              .ledger = l,
                              .exit_status = 0};
    char *text = NULL;
    CHECK(chase_report_run_json(&rec, &text, NULL) == CHASE_OK);
    return text;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void test_two_nodes(void)
{
    chase_ledger_t l;
    leader_rows(&l);
    char *run = run_json(&l);
    /* Marks at the period boundaries (and one more in between, as profiling reads would make). */
    double marks[5] = {T0 + 0.001, T0 + 10.002, T0 + 15, T0 + 20.001, T0 + 30.003};
    /* c2 answers every mark but the last: its counters, on its own clock (t). */
    chase_slurm_sample_t s2[4] = {
        {0, 500.0, 0, 5000, 0}, {1, 510.0, 1010, 6000, 50}, {2, 515.0, 2180, 7500, 75}, {3, 520.0, 3360, 9000, 100}};
    cJSON *final2 = cJSON_Parse("{\"restored\":true,\"exit_status\":0,\"fallback_s\":1.5,\"steps\":150,"
                                "\"gpus\":[{\"index\":0,\"minor\":2,\"name\":\"NVIDIA A40\"}]}");
    chase_slurm_peer_t c2 = {.joined = 1, .samples = s2, .n_samples = 4, .final = final2};
    snprintf(c2.name, sizeof c2.name, "c2");
    chase_slurm_peer_t c3 = {0}; /* never joined */
    const chase_slurm_peer_t *peers[3] = {NULL, &c2, &c3};
    char *names[3] = {"c1", "c2", "c3"};
    char *warnings[1] = {"no word from the leader"};
    int minors[1] = {0};
    chase_slurm_report_in_t in = {run, &l, 42, 0, names, 3, 0, peers, marks, 5, warnings, 1, 2, minors, 1};
    char *out = NULL;
    chase_err_t err;
    CHECK(chase_slurm_step_report(&in, &out, &err) == CHASE_OK);
    cJSON *r = cJSON_Parse(out);
    CHECK(r != NULL);
    const cJSON *periods = cJSON_GetObjectItemCaseSensitive(r, "periods");
    CHECK(cJSON_GetArraySize(periods) == 3);
    /* Period 0: c2's energy is what its counter grew between the marks at the period's start and end. */
    const cJSON *p0 = cJSON_GetArrayItem(periods, 0), *n0 = cJSON_GetObjectItemCaseSensitive(p0, "nodes");
    CHECK_NEAR(num(cJSON_GetArrayItem(n0, 0), "energy_j"), 1000, 1e-9);
    CHECK_NEAR(num(cJSON_GetArrayItem(n0, 1), "energy_j"), 1010, 1e-9);
    CHECK_NEAR(num(cJSON_GetArrayItem(n0, 1), "power_limit_w"), 100, 1e-9); /* 1000 W·s over its 10 s */
    CHECK_NEAR(num(cJSON_GetArrayItem(n0, 1), "carbon_g"), 1010 * 400 / 3.6e6, 1e-12);
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(n0, 2), "energy_j")));
    CHECK_NEAR(num(p0, "energy_j"), 2010, 1e-9);
    CHECK_NEAR(num(p0, "carbon_g"), 2010 * 400 / 3.6e6, 1e-12);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(p0, "complete")));
    /* Period 1 spans marks 1 and 3 (mark 2 fell inside it): 300 W, as the leader. */
    const cJSON *n1 = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(periods, 1), "nodes");
    CHECK_NEAR(num(cJSON_GetArrayItem(n1, 1), "energy_j"), 2350, 1e-9);
    CHECK_NEAR(num(cJSON_GetArrayItem(n1, 1), "power_limit_w"), 300, 1e-9);
    /* Period 2: c2 did not answer the last mark. */
    const cJSON *n2 = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(periods, 2), "nodes");
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(n2, 1), "energy_j")));
    /* Totals: the step's energy is every known period's, every node's. */
    const cJSON *tot = cJSON_GetObjectItemCaseSensitive(r, "total");
    CHECK_NEAR(num(tot, "energy_j"), 1000 + 2350 + 1000 + 1010 + 2350, 1e-9);
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(r, "nodes");
    CHECK(cJSON_GetArraySize(nodes) == 3);
    const cJSON *lead = cJSON_GetArrayItem(nodes, 0), *foll = cJSON_GetArrayItem(nodes, 1),
                *lost = cJSON_GetArrayItem(nodes, 2);
    CHECK_NEAR(num(lead, "energy_j"), 4350, 1e-9);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(lead, "restored")));
    CHECK_NEAR(num(foll, "energy_j"), 3360, 1e-9);
    CHECK_NEAR(num(foll, "fallback_s"), 1.5, 1e-9);
    CHECK(num(foll, "periods_missing") == 1);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(lost, "joined")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(lost, "restored"))); /* unknown, not "yes" */
    CHECK(num(lost, "periods_missing") == 3);
    /* Every GPU with its node; the step's ids; the leader's warnings. */
    const cJSON *gpus = cJSON_GetObjectItemCaseSensitive(r, "gpus");
    CHECK(cJSON_GetArraySize(gpus) == 2);
    CHECK(num(cJSON_GetArrayItem(gpus, 0), "minor") == 0 && num(cJSON_GetArrayItem(gpus, 1), "minor") == 2);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(gpus, 1), "node")->valuestring, "c2");
    const cJSON *slurm = cJSON_GetObjectItemCaseSensitive(r, "slurm");
    CHECK(num(slurm, "job_id") == 42 && num(slurm, "refused_connections") == 2);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(slurm, "leader")->valuestring, "c1");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "warnings")) == 1);
    CHECK(num(r, "exit_status") == 0);
    cJSON_Delete(r);
    free(out);
    /* An unknown exit status is null, not 0. */
    in.leader_exit_status = -1;
    CHECK(chase_slurm_step_report(&in, &out, &err) == CHASE_OK);
    r = cJSON_Parse(out);
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r, "exit_status")));
    cJSON_Delete(r);
    free(out);
    /* A follower that ended with the leader, before its last mark: its final reading, made then, closes the last
     * period; one made well after it does not. */
    cJSON_AddNumberToObject(final2, "wall", T0 + 30.2);
    cJSON_AddNumberToObject(final2, "t", 530);
    cJSON_AddNumberToObject(final2, "energy_j", 4370);
    cJSON_AddNumberToObject(final2, "setting_s", 10000);
    CHECK(chase_slurm_step_report(&in, &out, &err) == CHASE_OK);
    r = cJSON_Parse(out);
    const cJSON *last =
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(
                               cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "periods"), 2), "nodes"),
                           1);
    CHECK_NEAR(num(last, "energy_j"), 1010, 1e-9);
    CHECK_NEAR(num(last, "power_limit_w"), 100, 1e-9);
    cJSON_Delete(r);
    free(out);
    cJSON_ReplaceItemInObjectCaseSensitive(final2, "wall", cJSON_CreateNumber(T0 + 31));
    CHECK(chase_slurm_step_report(&in, &out, &err) == CHASE_OK);
    r = cJSON_Parse(out);
    last = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(
                                  cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "periods"), 2), "nodes"),
                              1);
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(last, "energy_j")));
    cJSON_Delete(r);
    free(out);
    /* A run report that does not match the periods is refused. */
    in.run_json = "{\"periods\":[]}";
    CHECK(chase_slurm_step_report(&in, &out, &err) == CHASE_EFORMAT);
    cJSON_Delete(final2);
    free(run);
    chase_ledger_free(&l);
}

int main(void)
{
    RUN(test_two_nodes);
    CHECK_DONE();
}
