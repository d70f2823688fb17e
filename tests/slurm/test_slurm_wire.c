/* The wire between a step's helpers, against a real munged (started here, in a temporary folder): a message opens
 * only for its job, step and receiver, from the expected user, once; anything altered or foreign is refused. Needs
 * root (munged) and munge installed: skipped elsewhere, failed in CI where it must run. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "slurm/wire.h"

static char tmp[] = "/tmp/chase-wire-XXXXXX";
static char sock[300];
static pid_t munged = -1;

static int skip(const char *why)
{
    const char *ci = getenv("CI");
    fprintf(stderr, "%s: %s\n", ci && !strcmp(ci, "true") ? "FAIL (CI must run this)" : "SKIP", why);
    return ci && !strcmp(ci, "true") ? 1 : 77;
}

static int start_munged(void)
{
    char key[300], cmd[2048];
    snprintf(key, sizeof key, "%s/munge.key", tmp);
    snprintf(sock, sizeof sock, "%s/munge.sock", tmp);
    snprintf(cmd, sizeof cmd, "head -c 1024 /dev/urandom > %s && chmod 400 %s", key, key);
    if (system(cmd))
        return -1;
    chmod(tmp, 0711);
    munged = fork();
    if (munged == 0) {
        char a[4][400];
        snprintf(a[0], sizeof a[0], "--socket=%s", sock);
        snprintf(a[1], sizeof a[1], "--key-file=%s", key);
        snprintf(a[2], sizeof a[2], "--pid-file=%s/munged.pid", tmp);
        snprintf(a[3], sizeof a[3], "--seed-file=%s/seed", tmp);
        char log[400];
        snprintf(log, sizeof log, "--log-file=%s/munged.log", tmp);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execlp("munged", "munged", "-F", "-f", a[0], a[1], a[2], a[3], log, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        struct stat st;
        if (stat(sock, &st) == 0)
            return 0;
        int status;
        if (waitpid(munged, &status, WNOHANG) == munged) {
            munged = -1;
            return -1;
        }
        usleep(50000);
    }
    return -1;
}

/* Seals {key: v} (or {} when key is NULL) from w to node to, as one line without its newline. */
static int seal(chase_slurm_wire_t *w, const char *type, int to, const char *key, double v, char **line)
{
    cJSON *m = cJSON_CreateObject();
    if (key)
        cJSON_AddNumberToObject(m, key, v);
    chase_err_t err;
    int rc = chase_slurm_wire_encode(w, type, to, m, line, &err);
    cJSON_Delete(m);
    if (rc == CHASE_OK) {
        CHECK((*line)[strlen(*line) - 1] == '\n');
        (*line)[strlen(*line) - 1] = '\0';
    }
    return rc;
}

static void test_round_trip(void)
{
    chase_slurm_wire_t *leader, *follower, *other_step;
    chase_err_t err;
    CHECK(chase_slurm_wire_open(sock, 42, 0, 0, 0, &leader, &err) == CHASE_OK);
    CHECK(chase_slurm_wire_open(sock, 42, 0, 1, 0, &follower, &err) == CHASE_OK);
    CHECK(chase_slurm_wire_open(sock, 42, 1, 1, 0, &other_step, &err) == CHASE_OK);
    char *line;
    CHECK(seal(leader, "set", 1, "value", 125, &line) == CHASE_OK);
    CHECK(!strchr(line, ' ') && !strchr(line, '\n'));
    cJSON *m;
    const char *type;
    int from;
    /* Another step of the same job cannot use it. */
    CHECK(chase_slurm_wire_decode(other_step, line, &m, &type, &from, &err) == CHASE_EFORMAT);
    free(line);
    CHECK(seal(leader, "set", 1, "value", 125, &line) == CHASE_OK);
    CHECK(chase_slurm_wire_decode(follower, line, &m, &type, &from, &err) == CHASE_OK);
    CHECK_STR(type, "set");
    CHECK(from == 0);
    CHECK_NEAR(cJSON_GetObjectItemCaseSensitive(m, "value")->valuedouble, 125, 0);
    cJSON_Delete(m);
    /* Decoded once: the same credential again is a replay. */
    CHECK(chase_slurm_wire_decode(follower, line, &m, &type, &from, &err) == CHASE_EAUTH);
    free(line);
    /* Altered on the way. */
    CHECK(seal(leader, "set", 1, "value", 125, &line) == CHASE_OK);
    line[strlen(line) / 2] ^= 1;
    CHECK(chase_slurm_wire_decode(follower, line, &m, &type, &from, &err) == CHASE_EAUTH);
    free(line);
    /* Not munge at all. */
    CHECK(chase_slurm_wire_decode(follower, "{\"v\":1,\"type\":\"set\"}", &m, &type, &from, &err) == CHASE_EAUTH);
    /* A node's own message does not come back to it as someone else's; one for node 2 is not node 1's. */
    CHECK(seal(follower, "hello", 0, NULL, 0, &line) == CHASE_OK);
    CHECK(chase_slurm_wire_decode(follower, line, &m, &type, &from, &err) == CHASE_EFORMAT);
    free(line);
    CHECK(seal(leader, "set", 2, "value", 1, &line) == CHASE_OK);
    CHECK(chase_slurm_wire_decode(follower, line, &m, &type, &from, &err) == CHASE_EFORMAT);
    free(line);
    chase_slurm_wire_free(leader);
    chase_slurm_wire_free(follower);
    chase_slurm_wire_free(other_step);
}

/* Sealed by root, but the receiver expects the job's user (the node agent's mode): refused; and a credential only
 * uid 1234 may open cannot be opened by root. */
static void test_wrong_user(void)
{
    chase_slurm_wire_t *root_sender, *expects_user, *for_user, *root_receiver;
    chase_err_t err;
    CHECK(chase_slurm_wire_open(sock, 7, 0, 0, 0, &root_sender, &err) == CHASE_OK);
    CHECK(chase_slurm_wire_open(sock, 7, 0, 1, 1234, &expects_user, &err) == CHASE_OK);
    char *line;
    cJSON *m;
    const char *type;
    int from;
    CHECK(seal(root_sender, "set", 1, "value", 1, &line) == CHASE_OK);
    CHECK(chase_slurm_wire_decode(expects_user, line, &m, &type, &from, &err) == CHASE_EAUTH);
    CHECK(strstr(err.msg, "uid 0, not 1234") != NULL);
    free(line);
    CHECK(chase_slurm_wire_open(sock, 7, 0, 0, 1234, &for_user, &err) == CHASE_OK);
    CHECK(chase_slurm_wire_open(sock, 7, 0, 1, 0, &root_receiver, &err) == CHASE_OK);
    CHECK(seal(for_user, "set", 1, "value", 1, &line) == CHASE_OK);
    CHECK(chase_slurm_wire_decode(root_receiver, line, &m, &type, &from, &err) == CHASE_EAUTH);
    free(line);
    chase_slurm_wire_free(root_sender);
    chase_slurm_wire_free(expects_user);
    chase_slurm_wire_free(for_user);
    chase_slurm_wire_free(root_receiver);
}

int main(void)
{
    if (geteuid() != 0)
        return skip("needs root to start munged");
    if (!mkdtemp(tmp))
        return 1;
    if (start_munged())
        return skip("munged (Debian: munge) did not start");
    RUN(test_round_trip);
    RUN(test_wrong_user);
    if (munged > 0) {
        kill(munged, SIGTERM);
        waitpid(munged, NULL, 0);
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd))
        return 1;
    CHECK_DONE();
}
