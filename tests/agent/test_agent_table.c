/* The agent's table over the fake NVML, in process (no root, no socket): what a claim and a set are allowed to do,
 * that a session's end puts every GPU back, the journal written before a change, the proof of device access, and
 * the recovery of what a killed agent left. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/state.h"
#include "agent/table.h"
#include "chase/gpu_group.h"
#include "chase/journal.h"
#include "chase/nvml.h"
#include "check.h"
#include "fake_state.h"
#include "nvml_test_util.h"

static char dir[512], state_dir[600], logbuf[16384];
static chase_agent_config_t cfg;
static chase_gpu_t *gpu;
static chase_err_t err;
static fake_state_handle_t fake;

static void on_log(void *arg, chase_agent_log_level_t level, const char *msg)
{
    (void)arg;
    (void)level;
    size_t n = strlen(logbuf);
    snprintf(logbuf + n, sizeof logbuf - n, "%s\n", msg);
}

/* GPU i's limit as the fake NVML holds it. */
static double limit_w(int i)
{
    fake_state_lock(&fake);
    double w = fake.state->gpu[i].limit_mw / 1000.0;
    fake_state_unlock(&fake);
    return w;
}

static void set_limit_outside(int i, double w)
{
    fake_state_lock(&fake);
    fake_state_set_limit(fake.state, i, (uint32_t)(w * 1000), fake_state_now_ns());
    fake_state_unlock(&fake);
}

static int journal_entries(void)
{
    chase_journal_entry_t e[8];
    size_t n = 0;
    chase_journal_list(state_dir, e, 8, &n, NULL);
    return (int)n;
}

/* A fresh pair of fake GPUs (GPU 0 at 275 W, GPU 1 at 300 W), NVML opened on them, and cfg parsed from text. */
static int setup(const char *name, const char *text)
{
    const char *state = nvml_test_fresh(name, 2);
    fake_state_close(&fake);
    if (fake_state_open(state, &fake) != 0)
        return -1;
    set_limit_outside(0, 275);
    chase_gpu_free(gpu);
    gpu = NULL;
    if (chase_gpu_nvml_open(&gpu, &err) != CHASE_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    snprintf(state_dir, sizeof state_dir, "%s/state-%s", dir, name);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", state_dir);
    CHECK(system(cmd) == 0);
    mkdir(state_dir, 0700);
    logbuf[0] = '\0';
    return chase_agent_config_parse(text, strlen(text), "chased.conf", &cfg, &err);
}

static chase_agent_table_t *open_table(void)
{
    chase_agent_table_t *t = NULL;
    chase_err_clear(&err);
    if (chase_agent_table_open(&cfg, gpu, state_dir, on_log, NULL, &t, &err) != CHASE_OK)
        fprintf(stderr, "table: %s\n", err.msg);
    return t;
}

static const chase_agent_peer_t alice = {.pid = 77, .uid = 1001, .gid = 1001, .may_set = 1};
static const chase_agent_peer_t bob = {.pid = 78, .uid = 1002, .gid = 1002, .may_set = 1};
static const chase_agent_peer_t eve = {.pid = 79, .uid = 1003, .gid = 1003, .may_set = 0};

static void test_config_against_gpus(void)
{
    chase_agent_table_t *t = NULL;
    CHECK(setup("tcfg", "allow_users = 1001\ngpus = 0, 5\n") == CHASE_OK);
    CHECK(chase_agent_table_open(&cfg, gpu, state_dir, on_log, NULL, &t, &err) == CHASE_EFORMAT && !t);
    CHECK(strstr(err.msg, "chased.conf:2: gpus: GPU 5 does not exist (NVML reports 2 GPUs)") != NULL);
    CHECK(setup("tcfg", "min_power_w = 350\n") == CHASE_OK);
    CHECK(chase_agent_table_open(&cfg, gpu, state_dir, on_log, NULL, &t, &err) == CHASE_EFORMAT && !t);
    CHECK(strstr(err.msg, "chased.conf:1: min_power_w..max_power_w leave GPU 0 no power limit") != NULL);
    CHECK(setup("tcfg", "require_device_access = yes\ndev_dir = /nonexistent-chase\n") == CHASE_OK);
    CHECK(chase_agent_table_open(&cfg, gpu, state_dir, on_log, NULL, &t, &err) == CHASE_EFORMAT && !t);
    CHECK(strstr(err.msg, "chased.conf:2: dev_dir /nonexistent-chase is not a directory") != NULL);
}

static void test_describe(void)
{
    CHECK(setup("tdesc", "gpus = 1\nmin_power_w = 120\nmax_power_w = 280\n") == CHASE_OK);
    chase_agent_table_t *t = open_table();
    CHECK(t && chase_agent_table_size(t) == 2);
    if (!t)
        return;
    chase_agent_gpu_t g;
    CHECK(chase_agent_table_describe(t, 1, &g, &err) == CHASE_OK);
    CHECK(g.managed == 1 && g.holder_uid == -1);
    CHECK_NEAR(g.info.min_pl_w, 120, 0); /* the range users may set */
    CHECK_NEAR(g.info.max_pl_w, 280, 0);
    CHECK_NEAR(g.gpu_min_w, 100, 0); /* the GPU's own */
    CHECK_NEAR(g.gpu_max_w, 300, 0);
    CHECK_STR(g.device, "/dev/nvidia0"); /* the fake numbers device files backwards */
    CHECK(chase_agent_table_describe(t, 0, &g, &err) == CHASE_OK);
    CHECK(g.managed == 0);
    CHECK_NEAR(g.info.max_pl_w, 300, 0);
    CHECK_NEAR(g.info.pl_w, 275, 0);
    CHECK_STR(g.device, "/dev/nvidia1");
    CHECK(chase_agent_table_describe(t, 2, &g, &err) == CHASE_ENOTFOUND);
    double j = -1;
    CHECK(chase_agent_table_energy(t, 0, &j, &err) == CHASE_OK && j >= 0);
    chase_agent_table_free(t);
}

static void test_claims(void)
{
    CHECK(setup("tclaim", "gpus = 1\n") == CHASE_OK);
    chase_agent_table_t *t = open_table();
    if (!t)
        return;
    chase_agent_session_t *s = NULL, *s2 = NULL;
    int g1 = 1, g0 = 0, g9 = 9;
    CHECK(chase_agent_table_claim(t, &eve, &g1, 1, NULL, 0, &s, &err) == CHASE_EPERM && !s);
    CHECK(strstr(err.msg, "uid 1003 may not set GPU settings") && strstr(err.msg, "chased.conf"));
    CHECK(chase_agent_table_claim(t, &alice, &g0, 1, NULL, 0, &s, &err) == CHASE_EINVAL && !s);
    CHECK(strstr(err.msg, "GPU 0 is not one that users may set") != NULL);
    CHECK(chase_agent_table_claim(t, &alice, &g9, 1, NULL, 0, &s, &err) == CHASE_ENOTFOUND && !s);
    CHECK(chase_agent_table_claim(t, &alice, &g1, 1, NULL, 0, &s, &err) == CHASE_OK && s);
    CHECK(chase_agent_table_sessions(t) == 1);
    CHECK(chase_agent_table_claim(t, &bob, &g1, 1, NULL, 0, &s2, &err) == CHASE_ESTATE && !s2);
    CHECK_STR(err.msg, "GPU 1 is in use by uid 1001's session (pid 77)");
    chase_agent_gpu_t g;
    CHECK(chase_agent_table_describe(t, 1, &g, &err) == CHASE_OK && g.holder_uid == 1001);
    CHECK(chase_agent_table_release(t, s, "released", &err) == CHASE_OK);
    CHECK(chase_agent_table_claim(t, &bob, &g1, 1, NULL, 0, &s2, &err) == CHASE_OK && s2);
    CHECK(strstr(logbuf, "session 1 of uid 1001 (pid 77) took GPU 1 (at 300 W)") != NULL);
    chase_agent_table_free(t); /* ends bob's session too */
}

static void test_sets_and_restore(void)
{
    CHECK(setup("tset", "min_power_w = 120\nmax_power_w = 280\n") == CHASE_OK);
    set_limit_outside(1, 290); /* outside what users may set: only putting it back may go there */
    chase_agent_table_t *t = open_table();
    if (!t)
        return;
    chase_agent_session_t *s = NULL;
    int both[] = {0, 1};
    CHECK(chase_agent_table_claim(t, &alice, both, 2, NULL, 0, &s, &err) == CHASE_OK && s);
    if (!s) {
        chase_agent_table_free(t);
        return;
    }
    CHECK_NEAR(chase_agent_session_original(s, 0), 275, 0);
    CHECK_NEAR(chase_agent_session_original(s, 1), 290, 0);
    CHECK(journal_entries() == 0); /* nothing changed yet */
    chase_setting_t v = {CHASE_KNOB_POWER_LIMIT, 290};
    CHECK(chase_agent_table_set(t, s, 0, &v, &err) == CHASE_ERANGE);
    CHECK_STR(err.msg, "GPU 0: 290 W is outside the range chased allows (120..280 W)");
    v.value = 110;
    CHECK(chase_agent_table_set(t, s, 0, &v, &err) == CHASE_ERANGE);
    CHECK_NEAR(limit_w(0), 275, 0);
    v.value = 150;
    CHECK(chase_agent_table_set(t, s, 0, &v, &err) == CHASE_OK);
    CHECK(chase_agent_table_set(t, s, 1, &v, &err) == CHASE_OK);
    CHECK_NEAR(limit_w(0), 150, 0);
    CHECK_NEAR(limit_w(1), 150, 0);
    CHECK(journal_entries() == 2); /* the originals were written before the change */
    v.value = 290;                 /* GPU 1's own original: allowed, it puts the GPU back */
    CHECK(chase_agent_table_set(t, s, 1, &v, &err) == CHASE_OK);
    CHECK_NEAR(limit_w(1), 290, 0);
    CHECK(journal_entries() == 1);
    CHECK(chase_agent_table_release(t, s, "connection closed", &err) == CHASE_OK);
    CHECK_NEAR(limit_w(0), 275, 0);
    CHECK_NEAR(limit_w(1), 290, 0);
    CHECK(journal_entries() == 0);
    CHECK(chase_agent_table_sessions(t) == 0);
    CHECK(strstr(logbuf, "ended (connection closed): GPU 0 back to 275 W") != NULL);

    /* A set on a GPU the session does not hold. */
    int g0 = 0;
    CHECK(chase_agent_table_claim(t, &alice, &g0, 1, NULL, 0, &s, &err) == CHASE_OK);
    v.value = 200;
    CHECK(chase_agent_table_set(t, s, 1, &v, &err) == CHASE_ESTATE);
    CHECK(chase_agent_table_set(t, s, 0, &v, &err) == CHASE_OK);
    chase_agent_table_free(t); /* the agent stopping puts it back as well */
    CHECK_NEAR(limit_w(0), 275, 0);
    CHECK(journal_entries() == 0);
}

static void test_device_access(void)
{
    char devs[700], link[800];
    snprintf(devs, sizeof devs, "%s/devs", dir);
    mkdir(devs, 0755);
    /* The fake says GPU 0's file is nvidia1 and GPU 1's nvidia0; stand-ins: /dev/zero and /dev/null. */
    snprintf(link, sizeof link, "%s/nvidia1", devs);
    unlink(link);
    CHECK(symlink("/dev/zero", link) == 0);
    snprintf(link, sizeof link, "%s/nvidia0", devs);
    unlink(link);
    CHECK(symlink("/dev/null", link) == 0);
    char text[900];
    snprintf(text, sizeof text, "require_device_access = yes\ndev_dir = %s\n", devs);
    CHECK(setup("tdev", text) == CHASE_OK);
    chase_agent_table_t *t = open_table();
    if (!t)
        return;
    chase_agent_session_t *s = NULL;
    int g0 = 0, both[] = {0, 1};
    int zero = open("/dev/zero", O_RDONLY), null = open("/dev/null", O_RDONLY);
    CHECK(chase_agent_table_claim(t, &alice, &g0, 1, NULL, 0, &s, &err) == CHASE_EINVAL && !s);
    CHECK(strstr(err.msg, "came with 0 descriptors") != NULL);
    CHECK(chase_agent_table_claim(t, &alice, &g0, 1, &null, 1, &s, &err) == CHASE_EINVAL && !s);
    CHECK(strstr(err.msg, "the descriptor sent for GPU 0 is not its device file") != NULL);
    int pair[] = {zero, zero};
    CHECK(chase_agent_table_claim(t, &alice, both, 2, pair, 2, &s, &err) == CHASE_EINVAL && !s);
    CHECK(strstr(err.msg, "GPU 1") != NULL);
    pair[1] = null;
    CHECK(chase_agent_table_claim(t, &alice, both, 2, pair, 2, &s, &err) == CHASE_OK && s);
    close(zero);
    close(null);
    chase_agent_table_free(t);
}

static void test_recovery(void)
{
    CHECK(setup("trec", "") == CHASE_OK);
    /* A "killed agent": a process that journals GPU 0's original, lowers it, and dies without putting it back. */
    pid_t pid = fork();
    if (pid == 0) {
        chase_gpu_group_opts_t go = {.gpus = (int[]){0}, .n_gpus = 1, .journal_dir = state_dir};
        chase_gpu_group_t *g = NULL;
        if (chase_gpu_group_open(gpu, &go, &g, NULL) != CHASE_OK || chase_gpu_group_apply(g, 140, NULL) != CHASE_OK)
            _exit(1);
        _exit(0); /* no restore: as after SIGKILL */
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_NEAR(limit_w(0), 140, 0);
    CHECK(journal_entries() == 1);
    int lock = -1, lock2 = -1;
    CHECK(chase_agent_state_lock(state_dir, &lock, &err) == CHASE_OK && lock >= 0);
    CHECK(chase_agent_state_lock(state_dir, &lock2, &err) == CHASE_ESTATE && lock2 < 0);
    CHECK(strstr(err.msg, "another chased") != NULL);
    chase_agent_state_recover(gpu, state_dir, on_log, NULL);
    CHECK_NEAR(limit_w(0), 275, 0);
    CHECK(journal_entries() == 0);
    CHECK(strstr(logbuf, "at start: GPU 0") && strstr(logbuf, "restored to 275 W"));
    close(lock);
}

int main(void)
{
    int rc = nvml_test_setup();
    if (rc)
        return rc;
    const char *tmp = getenv("CHASE_TEST_TMPDIR");
    snprintf(dir, sizeof dir, "%s/table-%d", tmp ? tmp : "/tmp", (int)getpid());
    mkdir(dir, 0755);
    fake.fd = -1;
    fake.state = NULL;
    RUN(test_config_against_gpus);
    RUN(test_describe);
    RUN(test_claims);
    RUN(test_sets_and_restore);
    RUN(test_device_access);
    RUN(test_recovery);
    chase_gpu_free(gpu);
    fake_state_close(&fake);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    CHECK_DONE();
}
