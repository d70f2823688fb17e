/* The Slurm front end's settings: every --chase-* value and plugstack.conf argument is checked where it enters, with
 * a message naming the option as the user or the administrator wrote it; the site's bounds hold; the helper's
 * command line carries the step exactly. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "slurm/settings.h"
#include "slurm/step.h"

static int user_ok(chase_slurm_key_t k, const char *v)
{
    char why[512];
    return chase_slurm_check(k, CHASE_SLURM_BY_USER, v, why, sizeof why) == 0;
}

static const char *user_why(chase_slurm_key_t k, const char *v)
{
    static char why[512];
    why[0] = '\0';
    chase_slurm_check(k, CHASE_SLURM_BY_USER, v, why, sizeof why);
    return why;
}

static void test_values(void)
{
    CHECK(user_ok(CHASE_SLURM_BUDGET, "2.5"));
    CHECK(!user_ok(CHASE_SLURM_BUDGET, "500"));
    CHECK(strstr(user_why(CHASE_SLURM_BUDGET, "500"), "--chase-budget: '500'") != NULL);
    CHECK(!user_ok(CHASE_SLURM_BUDGET, "5%"));
    CHECK(!user_ok(CHASE_SLURM_BUDGET, "nan"));
    CHECK(user_ok(CHASE_SLURM_PERIOD, "30m") && user_ok(CHASE_SLURM_PERIOD, "1s"));
    CHECK(!user_ok(CHASE_SLURM_PERIOD, "0s"));
    CHECK(!user_ok(CHASE_SLURM_PERIOD, "2x"));
    CHECK(strstr(user_why(CHASE_SLURM_PERIOD, "2x"), "--chase-period") != NULL);
    CHECK(user_ok(CHASE_SLURM_WARMUP_STEPS, "0"));
    CHECK(!user_ok(CHASE_SLURM_WARMUP_STEPS, "1.5"));
    CHECK(!user_ok(CHASE_SLURM_PROFILE_STEPS, "0"));
    CHECK(user_ok(CHASE_SLURM_ENABLE, NULL) && user_ok(CHASE_SLURM_ENABLE, "1"));
    CHECK(!user_ok(CHASE_SLURM_DRY_RUN, "yes"));
    CHECK(!user_ok(CHASE_SLURM_POLICY, NULL));
    CHECK(!user_ok(CHASE_SLURM_SIGNAL, "static:400 ; rm -rf"));
    CHECK(!user_ok(CHASE_SLURM_SIGNAL, "static:400\n"));
    CHECK(user_ok(CHASE_SLURM_REPORT, "out/run.json"));
    CHECK(!user_ok(CHASE_SLURM_REPORT, "-"));
    char why[512];
    CHECK(chase_slurm_check(CHASE_SLURM_JOURNAL_DIR, CHASE_SLURM_BY_SITE, "run/chase", why, sizeof why) == -1);
    CHECK(strstr(why, "plugstack.conf argument journal_dir=") && strstr(why, "absolute"));
    CHECK(chase_slurm_check(CHASE_SLURM_PORTS, CHASE_SLURM_BY_SITE, "7000-7010", why, sizeof why) == 0);
    CHECK(chase_slurm_check(CHASE_SLURM_PORTS, CHASE_SLURM_BY_SITE, "7010-7000", why, sizeof why) == -1);
    CHECK(chase_slurm_check(CHASE_SLURM_PORTS, CHASE_SLURM_BY_SITE, "0-10", why, sizeof why) == -1);
    CHECK(chase_slurm_user_key("chase-budget") == CHASE_SLURM_BUDGET);
    CHECK(chase_slurm_user_key("chase-max-budget") == -1); /* the site's alone */
}

static void test_site_args(void)
{
    chase_slurm_settings_t site = {{0}};
    char why[512];
    char *good[] = {"signal=static:400", "max_budget=10", "ports=7000-7015", "nvml_library=/opt/nvml.so"};
    CHECK(chase_slurm_site_parse(4, good, &site, why, sizeof why) == 0);
    CHECK_STR(site.v[CHASE_SLURM_SIGNAL], "static:400");
    CHECK_NEAR(chase_slurm_number(&site, CHASE_SLURM_MAX_BUDGET), 10, 0);
    int lo, hi;
    chase_slurm_ports(&site, &lo, &hi);
    CHECK(lo == 7000 && hi == 7015);
    char *unknown[] = {"signl=static:400"};
    CHECK(chase_slurm_site_parse(1, unknown, &site, why, sizeof why) == -1);
    CHECK(strstr(why, "unknown argument 'signl'") && strstr(why, "max_budget"));
    char *bare[] = {"max_budget"};
    CHECK(chase_slurm_site_parse(1, bare, &site, why, sizeof why) == -1 && strstr(why, "needs a value"));
    char *user_only[] = {"eta=0.5"}; /* a user's option, not the site's */
    CHECK(chase_slurm_site_parse(1, user_only, &site, why, sizeof why) == -1);
    chase_slurm_settings_clear(&site);
    chase_slurm_settings_t none = {{0}};
    chase_slurm_ports(&none, &lo, &hi);
    CHECK(lo == 7816 && hi == 7831);
}

static void test_merge(void)
{
    chase_slurm_settings_t site = {{0}}, user = {{0}}, out = {{0}};
    char why[512];
    CHECK(chase_slurm_set(&site, CHASE_SLURM_SIGNAL, CHASE_SLURM_BY_SITE, "ukci", why, sizeof why) == 0);
    CHECK(chase_slurm_set(&site, CHASE_SLURM_MAX_BUDGET, CHASE_SLURM_BY_SITE, "5", why, sizeof why) == 0);
    CHECK(chase_slurm_set(&site, CHASE_SLURM_MIN_PERIOD, CHASE_SLURM_BY_SITE, "5m", why, sizeof why) == 0);
    CHECK(chase_slurm_merge(&site, &user, &out, why, sizeof why) == 0);
    CHECK_STR(out.v[CHASE_SLURM_SIGNAL], "ukci"); /* the site's default */
    CHECK(chase_slurm_set(&user, CHASE_SLURM_SIGNAL, CHASE_SLURM_BY_USER, "static:400", why, sizeof why) == 0);
    CHECK(chase_slurm_set(&user, CHASE_SLURM_BUDGET, CHASE_SLURM_BY_USER, "5", why, sizeof why) == 0);
    CHECK(chase_slurm_merge(&site, &user, &out, why, sizeof why) == 0);
    CHECK_STR(out.v[CHASE_SLURM_SIGNAL], "static:400"); /* the user's over it */
    CHECK(chase_slurm_set(&user, CHASE_SLURM_BUDGET, CHASE_SLURM_BY_USER, "5.5", why, sizeof why) == 0);
    CHECK(chase_slurm_merge(&site, &user, &out, why, sizeof why) == -1);
    CHECK(strstr(why, "--chase-budget=5.5") && strstr(why, "at most 5 %"));
    CHECK(chase_slurm_set(&user, CHASE_SLURM_BUDGET, CHASE_SLURM_BY_USER, "1", why, sizeof why) == 0);
    CHECK(chase_slurm_set(&user, CHASE_SLURM_PERIOD, CHASE_SLURM_BY_USER, "1m", why, sizeof why) == 0);
    CHECK(chase_slurm_merge(&site, &user, &out, why, sizeof why) == -1 && strstr(why, "at least 5m"));
    /* The defaults are held to the bounds too: 2.5 % against a site maximum of 2 %. */
    chase_slurm_settings_t strict = {{0}}, nobody = {{0}};
    CHECK(chase_slurm_set(&strict, CHASE_SLURM_SIGNAL, CHASE_SLURM_BY_SITE, "ukci", why, sizeof why) == 0);
    CHECK(chase_slurm_set(&strict, CHASE_SLURM_MAX_BUDGET, CHASE_SLURM_BY_SITE, "2", why, sizeof why) == 0);
    CHECK(chase_slurm_merge(&strict, &nobody, &out, why, sizeof why) == -1 && strstr(why, "the default"));
    /* No signal anywhere: refused, saying how to give one. */
    chase_slurm_settings_t bare = {{0}};
    CHECK(chase_slurm_merge(&bare, &nobody, &out, why, sizeof why) == -1 && strstr(why, "--chase-signal"));
    chase_slurm_settings_clear(&site);
    chase_slurm_settings_clear(&user);
    chase_slurm_settings_clear(&out);
    chase_slurm_settings_clear(&strict);
}

/* What the plugin writes is what the helper reads. */
static void test_helper_command_line(void)
{
    chase_slurm_step_t st;
    memset(&st, 0, sizeof st);
    st.job = 4294967294u;
    st.step = 3;
    st.node_id = 1;
    st.n_nodes = 2;
    st.user.uid = 65534;
    st.user.gid = 65534;
    snprintf(st.node, sizeof st.node, "c2");
    snprintf(st.nodelist, sizeof st.nodelist, "c[1-2]");
    snprintf(st.gres_index, sizeof st.gres_index, "0,1");
    snprintf(st.slurm_conf, sizeof st.slurm_conf, "/etc/slurm/slurm.conf");
    snprintf(st.cwd, sizeof st.cwd, "/home/u");
    char why[512];
    CHECK(chase_slurm_set(&st.s, CHASE_SLURM_BUDGET, CHASE_SLURM_BY_USER, "5", why, sizeof why) == 0);
    CHECK(chase_slurm_set(&st.s, CHASE_SLURM_DRY_RUN, CHASE_SLURM_BY_USER, NULL, why, sizeof why) == 0);
    CHECK(chase_slurm_set(&st.s, CHASE_SLURM_JOURNAL_DIR, CHASE_SLURM_BY_SITE, "/run/j", why, sizeof why) == 0);
    char *cmd[] = {"python3", "train.py", "--lr=0.1", NULL};
    st.command = cmd;
    char **argv;
    CHECK(chase_slurm_step_argv("/usr/libexec/chase/chase-slurm-step", &st, &argv) == 0);
    int argc = 0;
    while (argv[argc])
        argc++;
    chase_slurm_step_t back;
    chase_err_t err;
    CHECK(chase_slurm_step_parse(argc, argv, &back, &err) == CHASE_OK);
    CHECK(back.job == st.job && back.step == 3 && back.node_id == 1 && back.n_nodes == 2);
    CHECK(back.user.uid == 65534 && back.user.gid == 65534);
    CHECK_STR(back.node, "c2");
    CHECK_STR(back.nodelist, "c[1-2]");
    CHECK_STR(back.gres_index, "0,1");
    CHECK_STR(back.cwd, "/home/u");
    CHECK_STR(back.s.v[CHASE_SLURM_BUDGET], "5");
    CHECK_STR(back.s.v[CHASE_SLURM_DRY_RUN], "1");
    CHECK_STR(back.s.v[CHASE_SLURM_JOURNAL_DIR], "/run/j");
    CHECK(back.command[0] && !strcmp(back.command[0], "python3") && !strcmp(back.command[2], "--lr=0.1") &&
          !back.command[3]);
    char out[256];
    chase_slurm_step_path(&back, "r.json", out, sizeof out);
    CHECK_STR(out, "/home/u/r.json");
    chase_slurm_step_path(&back, "/tmp/r.json", out, sizeof out);
    CHECK_STR(out, "/tmp/r.json");
    chase_slurm_step_free(&back);
    chase_slurm_step_argv_free(argv);
    /* The helper checks again what it is given. */
    char *bad[] = {"h",       "--job=1",   "--step=0",      "--node-id=2",     "--nodes=2", "--uid=1",
                   "--gid=1", "--node=c1", "--nodelist=c1", "--slurm-conf=/s", "--cwd=/",   NULL};
    CHECK(chase_slurm_step_parse(11, bad, &back, &err) == CHASE_EINVAL); /* node 2 of 2 */
    chase_slurm_step_free(&back);
    char *bad_budget[] = {"h", "--chase-budget=500", NULL};
    CHECK(chase_slurm_step_parse(2, bad_budget, &back, &err) == CHASE_EINVAL && strstr(err.msg, "--chase-budget"));
    chase_slurm_step_free(&back);
    char *unknown[] = {"h", "--chase-bugdet=5", NULL};
    CHECK(chase_slurm_step_parse(2, unknown, &back, &err) == CHASE_EINVAL && strstr(err.msg, "unknown"));
    chase_slurm_step_free(&back);
    chase_slurm_step_free(&st);
}

int main(void)
{
    RUN(test_values);
    RUN(test_site_args);
    RUN(test_merge);
    RUN(test_helper_command_line);
    CHECK_DONE();
}
