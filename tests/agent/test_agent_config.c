/* chased's configuration file: what each key does, and every mistake stopping the daemon with file:line. */
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "agent/access.h"
#include "chase/agent.h"
#include "check.h"

static chase_agent_config_t cfg;
static chase_err_t err;

static int parse(const char *text)
{
    chase_err_clear(&err);
    return chase_agent_config_parse(text, strlen(text), "/etc/chase/chased.conf", &cfg, &err);
}

/* The text fails with CHASE_EFORMAT and a message that starts with the file and line and holds `words`. */
static void check_bad(const char *text, int line, const char *words)
{
    char where[64];
    snprintf(where, sizeof where, "/etc/chase/chased.conf:%d: ", line);
    int rc = parse(text);
    CHECK(rc == CHASE_EFORMAT);
    CHECK(strncmp(err.msg, where, strlen(where)) == 0);
    CHECK(strstr(err.msg, words) != NULL);
    if (rc != CHASE_EFORMAT || strncmp(err.msg, where, strlen(where)) != 0 || !strstr(err.msg, words))
        fprintf(stderr, "  for %s  got: %s\n", text, err.msg);
}

static void test_defaults(void)
{
    CHECK(parse("") == CHASE_OK);
    CHECK(cfg.n_allow_uids == 0 && cfg.n_allow_gids == 0);
    CHECK(cfg.all_gpus == 1);
    CHECK(isnan(cfg.min_power_w) && isnan(cfg.max_power_w));
    CHECK(cfg.require_device_access == 0);
    CHECK_STR(cfg.dev_dir, "/dev");
    CHECK(cfg.max_clients == 128 && cfg.max_clients_per_user == 32);
    /* Nobody but root may set by default. */
    CHECK(chase_agent_may_set(&cfg, 0, 0, NULL, 0) == 1);
    CHECK(chase_agent_may_set(&cfg, 1000, 1000, NULL, 0) == 0);
}

static void test_full_file(void)
{
    const char *text = "# who may set\n"
                       "allow_users = root, 1001 ,65534   # trailing comment\n"
                       "\tallow_groups = 2000,root\n"
                       "\n"
                       "gpus = 1,3\r\n"
                       "min_power_w = 150\n"
                       "max_power_w=250.5\n"
                       "require_device_access = yes\n"
                       "dev_dir = /tmp/devs/\n"
                       "max_clients = 7\n"
                       "max_clients_per_user = 2";
    CHECK(parse(text) == CHASE_OK);
    CHECK(cfg.n_allow_uids == 3 && cfg.allow_uids[0] == 0 && cfg.allow_uids[1] == 1001 && cfg.allow_uids[2] == 65534);
    CHECK(cfg.n_allow_gids == 2 && cfg.allow_gids[0] == 2000 && cfg.allow_gids[1] == 0);
    CHECK(cfg.all_gpus == 0 && cfg.n_gpus == 2 && cfg.gpus[0] == 1 && cfg.gpus[1] == 3 && cfg.gpus_line == 5);
    CHECK_NEAR(cfg.min_power_w, 150, 0);
    CHECK_NEAR(cfg.max_power_w, 250.5, 0);
    CHECK(cfg.require_device_access == 1);
    CHECK_STR(cfg.dev_dir, "/tmp/devs");
    CHECK(cfg.max_clients == 7 && cfg.max_clients_per_user == 2);
    CHECK_STR(cfg.path, "/etc/chase/chased.conf");
}

static void test_access(void)
{
    CHECK(parse("allow_users = 1001\nallow_groups = 2000, 2001") == CHASE_OK);
    gid_t groups[] = {5, 2001};
    CHECK(chase_agent_may_set(&cfg, 1001, 1001, NULL, 0) == 1);   /* named user */
    CHECK(chase_agent_may_set(&cfg, 1002, 2000, NULL, 0) == 1);   /* primary group */
    CHECK(chase_agent_may_set(&cfg, 1002, 1002, groups, 2) == 1); /* supplementary group */
    CHECK(chase_agent_may_set(&cfg, 1002, 1002, groups, 1) == 0); /* group 5 is not allowed */
    CHECK(chase_agent_may_set(&cfg, 65534, 65534, NULL, 0) == 0);
    CHECK(chase_agent_may_set(&cfg, 0, 0, NULL, 0) == 1); /* root always */
    CHECK(parse("allow_users =\nallow_groups =") == CHASE_OK);
    CHECK(cfg.n_allow_uids == 0 && cfg.n_allow_gids == 0);
}

static void test_mistakes(void)
{
    check_bad("gpus = all\nallow_user = bob\n", 2, "unknown key 'allow_user'");
    check_bad("gpus = 0\n\ngpus = 1\n", 3, "gpus is set twice (first at line 1)");
    check_bad("allow_users = no-such-user-chase\n", 1, "no user named 'no-such-user-chase'");
    check_bad("allow_groups = no-such-group-chase\n", 1, "no group named 'no-such-group-chase'");
    check_bad("allow_users = bob smith\n", 1, "neither a user name nor a number");
    check_bad("allow_users = root,,1001\n", 1, "an empty entry");
    check_bad("allow_users = -1\n", 1, "neither a user name nor a number");
    check_bad("gpus = 0,x\n", 1, "'x' is not a GPU index");
    check_bad("gpus = 0,0\n", 1, "GPU 0 is listed twice");
    check_bad("gpus = -1\n", 1, "not a GPU index");
    check_bad("gpus =\n", 1, "gpus has no value");
    check_bad("min_power_w = 100W\n", 1, "not a power in watts");
    check_bad("min_power_w = nan\n", 1, "not a power in watts");
    check_bad("max_power_w = 0\n", 1, "not a power in watts");
    check_bad("min_power_w = 300\nmax_power_w = 200\n", 2, "min_power_w 300 is above max_power_w 200");
    check_bad("require_device_access = maybe\n", 1, "not yes or no");
    check_bad("dev_dir = dev\n", 1, "not an absolute path");
    check_bad("max_clients = 0\n", 1, "not a number from 1 to 4096");
    check_bad("max_clients_per_user = 5000\n", 1, "not a number from 1 to 4096");
    check_bad("just words\n", 1, "expected 'key = value'");
    char nul[] = "gpus = all\nx\0y = 1\n";
    chase_err_clear(&err);
    CHECK(chase_agent_config_parse(nul, sizeof nul - 1, "f.conf", &cfg, &err) == CHASE_EFORMAT);
    CHECK(strstr(err.msg, "f.conf:2: a NUL byte") != NULL);
    char longline[2000];
    memset(longline, 'a', sizeof longline - 1);
    longline[sizeof longline - 1] = '\0';
    check_bad(longline, 1, "line longer than");
}

static void test_load(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/agent-config-%d.conf",
             getenv("CHASE_TEST_TMPDIR") ? getenv("CHASE_TEST_TMPDIR") : "/tmp", (int)getpid());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("gpus = 0\nmax_power_w = 250\nbogus = 1\n", f);
    fclose(f);
    chase_err_clear(&err);
    CHECK(chase_agent_config_load(path, &cfg, &err) == CHASE_EFORMAT);
    char where[300];
    snprintf(where, sizeof where, "%s:3: unknown key 'bogus'", path);
    CHECK(strstr(err.msg, where) == err.msg);
    unlink(path);
    CHECK(chase_agent_config_load(path, &cfg, &err) == CHASE_ENOTFOUND);
    CHECK(strstr(err.msg, path) != NULL);
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_full_file);
    RUN(test_access);
    RUN(test_mistakes);
    RUN(test_load);
    CHECK_DONE();
}
