/* chased as administrators run it and users meet it: the daemon binary as root on the fake NVML, its clients run as
 * other users (setpriv --reuid=65534 --regid=65534 --clear-groups): chase run, chase devices and agent_probe, a raw
 * protocol client. Every fault case of issue 11: a job through the agent, a user not allowed, a limit out of range,
 * two sessions on one GPU, SIGKILL of chase run (limits back within 1 s), SIGKILL of chased and its restart, SIGTERM,
 * malformed and oversized messages, idle and slow clients, 1000 sessions (files and memory stay put), device proof
 * with mknod'ed device files, and configuration errors. Needs root: elsewhere it says so and skips (exit 77). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "fake_state.h"
#include "nvml_test_util.h"

#define NOBODY 65534
#define OTHER 65533 /* a second allowed uid, for two users' sessions */
#define ORIGINAL0 275.0
#define ORIGINAL1 300.0

static char tmp[64], sock[100], state_file[320], state_dir[320], conf[320], log_path[320], chase_bin[320],
    probe_bin[320], out_dir[320], trace[320], profile[320];
static fake_state_handle_t fake;
static pid_t agent = -1;
static char out[1 << 18];

static double now(void)
{
    return nvml_test_now();
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static void read_file(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* The last size-1 bytes of chased's log (it grows long over 1000 sessions). */
static void read_log(char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen(log_path, "r");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, len > (long)size - 1 ? len - (long)size + 1 : 0, SEEK_SET);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static double limit_w(int i)
{
    fake_state_lock(&fake);
    double w = fake.state->gpu[i].limit_mw / 1000.0;
    fake_state_unlock(&fake);
    return w;
}

static unsigned set_calls(int i)
{
    fake_state_lock(&fake);
    unsigned n = fake.state->gpu[i].set_calls;
    fake_state_unlock(&fake);
    return n;
}

static void set_limit(int i, double w)
{
    fake_state_lock(&fake);
    fake_state_set_limit(fake.state, i, (uint32_t)(w * 1000), fake_state_now_ns());
    fake_state_unlock(&fake);
}

/* Waits up to timeout s for both GPUs to be at (w0, w1); returns the seconds it took, or -1. */
static double wait_limits(double w0, double w1, double timeout)
{
    double t0 = now();
    while (now() - t0 < timeout) {
        if (limit_w(0) == w0 && limit_w(1) == w1)
            return now() - t0;
        nvml_test_sleep(0.002);
    }
    return -1;
}

static int journal_files(void)
{
    int n = 0;
    DIR *d = opendir(state_dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strncmp(e->d_name, "gpu-", 4) == 0;
    if (d)
        closedir(d);
    return n;
}

static int connectable(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Waits up to timeout s for pid to exit; its exit status (128+N for signal N), or -1 when it did not. */
static int wait_exit(pid_t pid, double timeout)
{
    double t0 = now();
    int st;
    while (now() - t0 < timeout) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        nvml_test_sleep(0.005);
    }
    return -1;
}

/* Starts chased with config text (NULL: keep the file) and extra environment env ("K=V" or NULL); its stderr is
 * appended to log_path. Returns 0 once it says it is ready (READY=1 on NOTIFY_SOCKET, as systemd's Type=notify
 * waits for), its exit status when it stops first, -1 on timeout. */
static int start_agent(const char *config, const char *env)
{
    if (config)
        write_file(conf, config);
    char notify[100];
    snprintf(notify, sizeof notify, "%s/notify.sock", tmp);
    unlink(notify);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", notify);
    int nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (nfd < 0 || bind(nfd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644), null = open("/dev/null", O_WRONLY);
        dup2(fd, 2);
        dup2(null, 1); /* nothing of it may hold the test's own output open */
        umask(077);    /* as the unit's UMask=0077: the socket's folder it makes must still let users in */
        setenv("NOTIFY_SOCKET", notify, 1);
        if (env)
            putenv((char *)env);
        execl(getenv("CHASED_BIN"), "chased", "--config", conf, "--socket", sock, "--state-dir", state_dir,
              (char *)NULL);
        _exit(127);
    }
    int rc = -1;
    double t0 = now();
    while (rc == -1 && now() - t0 < 20) {
        int st;
        char msg[64] = "";
        if (waitpid(pid, &st, WNOHANG) == pid) {
            rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        struct pollfd p = {nfd, POLLIN, 0};
        if (poll(&p, 1, 10) == 1 && recv(nfd, msg, sizeof msg - 1, 0) > 0 && !strcmp(msg, "READY=1")) {
            agent = pid;
            rc = 0;
        }
    }
    close(nfd);
    unlink(notify);
    if (rc == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return rc;
}

static int stop_agent(int sig)
{
    if (agent < 0)
        return -1;
    kill(agent, sig);
    int st = wait_exit(agent, 20);
    if (st < 0) {
        kill(agent, SIGKILL);
        waitpid(agent, NULL, 0);
    }
    agent = -1;
    return st;
}

/* Runs "ARGS" as uid through setpriv, stdout in out, stderr in errbuf; returns its exit status. */
static int as_user(int uid, const char *args, char *errbuf, size_t errsize)
{
    char cmd[8192], errpath[400];
    snprintf(errpath, sizeof errpath, "%s/stderr.txt", tmp);
    snprintf(cmd, sizeof cmd, "setpriv --reuid=%d --regid=%d --clear-groups %s 2>'%s'", uid, uid, args, errpath);
    int rc = nvml_test_run(cmd, out, sizeof out);
    if (errbuf)
        read_file(errpath, errbuf, errsize);
    return rc;
}

/* The probe as uid on the agent's socket: "ACTIONS" as agent_probe takes them (quoted by the caller). */
static int probe(int uid, const char *actions)
{
    char args[6000];
    snprintf(args, sizeof args, "'%s' '%s' %s", probe_bin, sock, actions);
    return as_user(uid, args, NULL, 0);
}

/* Starts argv as uid in the background; *in_fd (when not NULL) is a pipe to its stdin; stdout goes to path. */
static pid_t spawn_as(int uid, char *const argv[], int *in_fd, const char *stdout_path)
{
    int p[2] = {-1, -1};
    if (in_fd && (pipe(p) != 0 || fcntl(p[1], F_SETFD, FD_CLOEXEC) != 0))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        if (in_fd) {
            dup2(p[0], 0);
            close(p[0]);
        }
        int fd = open(stdout_path ? stdout_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0666);
        dup2(fd, 1);
        int e = open("/dev/null", O_WRONLY);
        dup2(e, 2);
        char u[32], g[32];
        snprintf(u, sizeof u, "--reuid=%d", uid);
        snprintf(g, sizeof g, "--regid=%d", uid);
        char *args[64] = {"setpriv", u, g, "--clear-groups"};
        int n = 4;
        for (int i = 0; argv[i] && n < 63; i++)
            args[n++] = argv[i];
        args[n] = NULL;
        execvp("setpriv", args);
        _exit(127);
    }
    if (in_fd) {
        close(p[0]);
        *in_fd = p[1];
    }
    return pid;
}

static cJSON *load_json(const char *path)
{
    static char text[1 << 18];
    read_file(path, text, sizeof text);
    return cJSON_Parse(text);
}

static const char *config_allowing(void)
{
    static char c[512];
    snprintf(c, sizeof c, "allow_users = %d, %d\nmin_power_w = 120\nmax_power_w = 280\n", NOBODY, OTHER);
    return c;
}

/* Both GPUs back at their originals, no journal left, nothing open in chased. */
static void check_all_back(const char *when)
{
    double t = wait_limits(ORIGINAL0, ORIGINAL1, 2);
    CHECK(t >= 0);
    if (t < 0)
        fprintf(stderr, "  %s: GPUs at %g, %g W\n", when, limit_w(0), limit_w(1));
}

static void test_devices_as_user(void)
{
    CHECK(start_agent(config_allowing(), NULL) == 0);
    char args[1000], err[4096];
    snprintf(args, sizeof args, "'%s' devices --agent '%s' --json -", chase_bin, sock);
    CHECK(as_user(NOBODY, args, err, sizeof err) == 0);
    cJSON *root = cJSON_Parse(out), *devs = cJSON_GetObjectItem(root, "devices");
    CHECK(cJSON_GetArraySize(devs) == 2);
    cJSON *d0 = cJSON_GetArrayItem(devs, 0);
    CHECK_NEAR(cJSON_GetObjectItem(d0, "power_limit_w")->valuedouble, ORIGINAL0, 0);
    CHECK_NEAR(cJSON_GetObjectItem(d0, "min_power_limit_w")->valuedouble, 120, 0); /* the agent's range */
    CHECK_NEAR(cJSON_GetObjectItem(d0, "max_power_limit_w")->valuedouble, 280, 0);
    cJSON_Delete(root);
    /* Through CHASE_AGENT, without the option; and a socket where nothing listens is said plainly. */
    snprintf(args, sizeof args, "env CHASE_AGENT='%s' '%s' devices", sock, chase_bin);
    CHECK(as_user(NOBODY, args, err, sizeof err) == 0);
    CHECK(strstr(out, "NVIDIA A40") != NULL);
    snprintf(args, sizeof args, "'%s' devices --agent '%s/none.sock'", chase_bin, tmp);
    CHECK(as_user(NOBODY, args, err, sizeof err) == 1);
    CHECK(strstr(err, "no node agent answers at") != NULL);
    CHECK(stop_agent(SIGTERM) == 0);
}

/* An allowed user's job through the agent: the limits follow the policy, the report says "agent", all put back. */
static void test_job_follows_policy(void)
{
    CHECK(start_agent(config_allowing(), NULL) == 0);
    unsigned calls0 = set_calls(0);
    char args[3000], err[65536], report[400];
    snprintf(report, sizeof report, "%s/job.json", out_dir);
    unlink(report);
    snprintf(args, sizeof args,
             "'%s' run --agent '%s' --signal trace:%s,start=2021-01-02T00:00:00Z,speed=1800 --period 1s "
             "--forecaster persistence --policy chase --eta 0.7 --profile-file %s --report %s -- sleep 7",
             chase_bin, sock, trace, profile, report);
    char *argv[] = {"sh", "-c", args, NULL};
    pid_t pid = spawn_as(NOBODY, argv, NULL, NULL);
    /* Watch the GPUs while the job runs: only settings the agent allows ever appear. */
    double seen[64];
    int n_seen = 0, bad = 0;
    while (waitpid(pid, NULL, WNOHANG) == 0) {
        double w = limit_w(0);
        if (w != ORIGINAL0 && (w < 120 || w > 280))
            bad++;
        int known = w == ORIGINAL0;
        for (int i = 0; i < n_seen; i++)
            known |= seen[i] == w;
        if (!known && n_seen < 64)
            seen[n_seen++] = w;
        nvml_test_sleep(0.01);
    }
    CHECK(bad == 0);
    CHECK(n_seen >= 2); /* the limit moved with the carbon signal */
    CHECK(set_calls(0) > calls0);
    check_all_back("after the job");
    cJSON *r = load_json(report);
    CHECK(r != NULL);
    const cJSON *backend = cJSON_GetObjectItem(r, "backend");
    CHECK(cJSON_IsString(backend) && !strcmp(backend->valuestring, "agent"));
    const cJSON *g0 = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "gpus"), 0);
    CHECK(g0 && cJSON_GetObjectItem(g0, "original_power_limit_w")->valuedouble == ORIGINAL0);
    CHECK(g0 && cJSON_GetObjectItem(g0, "max_power_limit_w")->valuedouble == 280);
    /* High-CI periods ran lower than low-CI ones. */
    double hi_sum = 0, lo_sum = 0;
    int hi_n = 0, lo_n = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(r, "periods"))
    {
        double ci = cJSON_GetObjectItem(p, "ci_g_per_kwh")->valuedouble,
               w = cJSON_GetObjectItem(p, "power_limit_w")->valuedouble,
               dt = cJSON_GetObjectItem(p, "end")->valuedouble - cJSON_GetObjectItem(p, "start")->valuedouble;
        if (dt < 0.5)
            continue;
        if (ci >= 400)
            hi_sum += w, hi_n++;
        else if (ci <= 150)
            lo_sum += w, lo_n++;
    }
    CHECK(hi_n > 0 && lo_n > 0 && hi_sum / hi_n < lo_sum / lo_n - 10);
    cJSON_Delete(r);
    read_log(err, sizeof err);
    CHECK(strstr(err, "of uid 65534") && strstr(err, "took GPU 0 (at 275 W), GPU 1 (at 300 W)"));
    CHECK(journal_files() == 0);
    CHECK(stop_agent(SIGTERM) == 0);
}

static void test_not_allowed(void)
{
    char c[200];
    snprintf(c, sizeof c, "allow_users = %d\n", OTHER);
    CHECK(start_agent(c, NULL) == 0);
    unsigned calls = set_calls(0) + set_calls(1);
    char args[2000], err[8192], report[400];
    snprintf(report, sizeof report, "%s/denied.json", out_dir);
    snprintf(args, sizeof args,
             "'%s' run --agent '%s' --signal static:400 --policy fixed:150 --period 1s --report %s "
             "-- sleep 1.5",
             chase_bin, sock, report);
    CHECK(as_user(NOBODY, args, err, sizeof err) == 0);
    CHECK(strstr(err, "chased: uid 65534 may not set GPU settings on this machine") != NULL);
    CHECK(strstr(err, "observe-only") != NULL);
    cJSON *r = load_json(report);
    const cJSON *backend = cJSON_GetObjectItem(r, "backend");
    CHECK(cJSON_IsString(backend) && !strcmp(backend->valuestring, "observe-only"));
    cJSON_Delete(r);
    CHECK(set_calls(0) + set_calls(1) == calls);
    /* The raw protocol says the same; reading stays open to everyone. */
    CHECK(probe(NOBODY, "'send:{\"v\":1,\"id\":1,\"op\":\"claim\",\"gpus\":[0]}' "
                        "'send:{\"v\":1,\"id\":2,\"op\":\"set\",\"gpu\":0,\"power_limit_w\":150}' "
                        "'send:{\"v\":1,\"id\":3,\"op\":\"energy\",\"gpu\":1}'") == 0);
    CHECK(strstr(out, "\"id\":1,\"ok\":false,\"error\":\"EPERM\",\"message\":\"uid 65534 may not set") != NULL);
    CHECK(strstr(out, "\"id\":2,\"ok\":false,\"error\":\"EPERM\"") != NULL);
    CHECK(strstr(out, "\"id\":3,\"ok\":true,\"energy_j\":") != NULL);
    CHECK(stop_agent(SIGTERM) == 0);
}

static void test_out_of_range(void)
{
    CHECK(start_agent(config_allowing(), NULL) == 0);
    char args[2000], err[8192], marker[400];
    snprintf(marker, sizeof marker, "%s/started", out_dir);
    unlink(marker);
    snprintf(args, sizeof args, "'%s' run --agent '%s' --signal static:400 --policy fixed:290 -- touch %s", chase_bin,
             sock, marker);
    CHECK(as_user(NOBODY, args, err, sizeof err) == 2);
    CHECK(strstr(err, "290") && strstr(err, "120") && strstr(err, "280"));
    CHECK(access(marker, F_OK) != 0); /* the job never started */
    CHECK(probe(NOBODY, "'send:{\"v\":1,\"id\":1,\"op\":\"claim\",\"gpus\":[1]}' "
                        "'send:{\"v\":1,\"id\":2,\"op\":\"set\",\"gpu\":1,\"power_limit_w\":290}' "
                        "'send:{\"v\":1,\"id\":3,\"op\":\"set\",\"gpu\":1,\"power_limit_w\":119}'") == 0);
    CHECK(strstr(out, "\"id\":2,\"ok\":false,\"error\":\"ERANGE\",\"message\":\"GPU 1: 290 W is outside the range "
                      "chased allows (120..280 W)\"") != NULL);
    CHECK(strstr(out, "\"id\":3,\"ok\":false,\"error\":\"ERANGE\"") != NULL);
    CHECK(limit_w(1) == ORIGINAL1);
    CHECK(stop_agent(SIGTERM) == 0);
}

static void test_two_sessions(void)
{
    CHECK(start_agent(config_allowing(), NULL) == 0);
    char hold_out[400];
    snprintf(hold_out, sizeof hold_out, "%s/hold.txt", tmp);
    char *argv[] = {probe_bin,
                    sock,
                    "send:{\"v\":1,\"op\":\"claim\",\"gpus\":[0]}",
                    "send:{\"v\":1,\"op\":\"set\",\"gpu\":0,\"power_limit_w\":200}",
                    "hold",
                    NULL};
    int in = -1;
    pid_t holder = spawn_as(OTHER, argv, &in, hold_out);
    CHECK(wait_limits(200, ORIGINAL1, 10) >= 0);
    char args[2000], err[8192];
    snprintf(args, sizeof args, "'%s' run --agent '%s' --signal static:400 --policy fixed:150 --gpus 0 -- true",
             chase_bin, sock);
    CHECK(as_user(NOBODY, args, err, sizeof err) == 1);
    CHECK(strstr(err, "GPU 0 is in use by uid 65533's session") != NULL);
    CHECK(probe(NOBODY,
                "'send:{\"v\":1,\"op\":\"claim\",\"gpus\":[1,0]}' 'send:{\"v\":1,\"op\":\"claim\",\"gpus\":[1]}' "
                "'send:{\"v\":1,\"op\":\"claim\",\"gpus\":[1]}'") == 0);
    CHECK(strstr(out, "\"error\":\"ESTATE\",\"message\":\"GPU 0 is in use by uid 65533's session") != NULL);
    CHECK(strstr(out, "\"ok\":true,\"gpus\":[{\"index\":1") != NULL); /* GPU 1 was free */
    CHECK(strstr(out, "this connection already holds session") != NULL);
    CHECK(limit_w(0) == 200); /* the holder's setting stands */
    close(in);                /* the holder goes: its GPU comes back and is free again */
    CHECK(wait_exit(holder, 10) == 0);
    check_all_back("after the holder left");
    /* release ends the session on a connection that stays open: the GPU is back, free, and may be claimed again. */
    CHECK(probe(NOBODY, "'send:{\"v\":1,\"id\":1,\"op\":\"claim\",\"gpus\":[0]}' "
                        "'send:{\"v\":1,\"id\":2,\"op\":\"set\",\"gpu\":0,\"power_limit_w\":140}' "
                        "'send:{\"v\":1,\"id\":3,\"op\":\"info\",\"gpu\":0}' "
                        "'send:{\"v\":1,\"id\":4,\"op\":\"release\"}' "
                        "'send:{\"v\":1,\"id\":5,\"op\":\"info\",\"gpu\":0}' "
                        "'send:{\"v\":1,\"id\":6,\"op\":\"release\"}' "
                        "'send:{\"v\":1,\"id\":7,\"op\":\"claim\",\"gpus\":[0]}'") == 0);
    CHECK(strstr(out, "\"id\":3,\"ok\":true,\"gpu\":{\"index\":0") != NULL);
    CHECK(strstr(out, "\"power_limit_w\":140,") && strstr(out, "\"holder_uid\":65534}"));
    CHECK(strstr(out, "\"id\":4,\"ok\":true}") != NULL);
    CHECK(strstr(out, "\"power_limit_w\":275,") && strstr(out, "\"holder_uid\":null}"));
    CHECK(strstr(out, "\"id\":6,\"ok\":false,\"error\":\"ESTATE\",\"message\":\"no session to release\"") != NULL);
    CHECK(strstr(out, "\"id\":7,\"ok\":true") != NULL);
    check_all_back("after release");
    CHECK(stop_agent(SIGTERM) == 0);
}

/* Connections over max_clients_per_user are refused with a line saying why; other users are still served. */
static void test_client_caps(void)
{
    char c[600];
    snprintf(c, sizeof c, "%smax_clients_per_user = 2\nmax_clients = 3\n", config_allowing());
    CHECK(start_agent(c, NULL) == 0);
    char *hold[] = {probe_bin, sock, "send:{\"v\":1,\"op\":\"hello\"}", "hold", NULL};
    int in[3] = {-1, -1, -1};
    pid_t p0 = spawn_as(NOBODY, hold, &in[0], NULL), p1 = spawn_as(NOBODY, hold, &in[1], NULL);
    nvml_test_sleep(0.5);
    CHECK(probe(NOBODY, "read") == 0);
    CHECK(strstr(out, "\"error\":\"ESTATE\",\"message\":\"chased serves 2 connections at once per user "
                      "(max_clients_per_user)") != NULL);
    CHECK(probe(OTHER, "'send:{\"v\":1,\"op\":\"hello\"}'") == 0 && strstr(out, "\"ok\":true"));
    pid_t p2 = spawn_as(OTHER, hold, &in[2], NULL);
    nvml_test_sleep(0.5);
    CHECK(probe(OTHER, "read") == 0);
    CHECK(strstr(out, "chased serves 3 connections at once (max_clients)") != NULL);
    for (int i = 0; i < 3; i++)
        close(in[i]);
    CHECK(wait_exit(p0, 10) == 0 && wait_exit(p1, 10) == 0 && wait_exit(p2, 10) == 0);
    nvml_test_sleep(0.3);
    CHECK(probe(NOBODY, "'send:{\"v\":1,\"op\":\"hello\"}'") == 0 && strstr(out, "\"ok\":true"));
    CHECK(stop_agent(SIGTERM) == 0);
}

static void test_sigkill_client(void)
{
    CHECK(start_agent(config_allowing(), NULL) == 0);
    char args[2000], pidfile[400], child[64];
    snprintf(pidfile, sizeof pidfile, "%s/child.pid", out_dir);
    unlink(pidfile);
    snprintf(args, sizeof args,
             "'%s' run --agent '%s' --signal static:400 --policy fixed:150 --period 1s --quiet -- "
             "sh -c 'echo $$ > %s; exec sleep 60'",
             chase_bin, sock, pidfile);
    /* setpriv execs chase run: this pid is chase run's. */
    char *argv[] = {chase_bin,  "run", "--agent", sock, "--signal", "static:400", "--policy", "fixed:150",
                    "--period", "1s",  "--quiet", "--", "sh",       "-c",         NULL,       NULL};
    char script[600];
    snprintf(script, sizeof script, "echo $$ > %s; exec sleep 60", pidfile);
    argv[14] = script;
    pid_t pid = spawn_as(NOBODY, argv, NULL, NULL);
    CHECK(wait_limits(150, 150, 15) >= 0);
    CHECK(journal_files() == 2);
    kill(pid, SIGKILL);
    double t0 = now();
    double t = wait_limits(ORIGINAL0, ORIGINAL1, 5);
    fprintf(stderr, "  limits back %.1f ms after SIGKILL of chase run\n", t < 0 ? -1 : (now() - t0) * 1000);
    CHECK(t >= 0 && t <= 1.0);
    CHECK(wait_exit(pid, 5) == 128 + SIGKILL);
    CHECK(journal_files() == 0);
    read_file(pidfile, child, sizeof child);
    int cpid = atoi(child);
    CHECK(cpid > 1);
    if (cpid > 1)
        kill(cpid, SIGKILL); /* the orphaned training command */
    CHECK(stop_agent(SIGTERM) == 0);
}

static void test_sigkill_agent(void)
{
    CHECK(start_agent(config_allowing(), NULL) == 0);
    char *argv[] = {probe_bin,
                    sock,
                    "send:{\"v\":1,\"op\":\"claim\",\"gpus\":[0,1]}",
                    "send:{\"v\":1,\"op\":\"set\",\"gpu\":0,\"power_limit_w\":150}",
                    "send:{\"v\":1,\"op\":\"set\",\"gpu\":1,\"power_limit_w\":160}",
                    "hold",
                    NULL};
    int in = -1;
    pid_t holder = spawn_as(NOBODY, argv, &in, NULL);
    CHECK(wait_limits(150, 160, 10) >= 0);
    CHECK(journal_files() == 2);
    CHECK(stop_agent(SIGKILL) == 128 + SIGKILL);
    nvml_test_sleep(0.2);
    CHECK(limit_w(0) == 150 && limit_w(1) == 160); /* nobody put them back: the agent was killed */
    close(in);
    wait_exit(holder, 10);
    CHECK(start_agent(NULL, NULL) == 0); /* the next start does */
    CHECK(limit_w(0) == ORIGINAL0 && limit_w(1) == ORIGINAL1);
    CHECK(journal_files() == 0);
    char log[65536];
    read_log(log, sizeof log);
    CHECK(strstr(log, "at start: GPU 0") && strstr(log, "restored to 275 W"));
    CHECK(strstr(log, "at start: GPU 1") && strstr(log, "restored to 300 W"));
    CHECK(stop_agent(SIGTERM) == 0);
}

static void test_sigterm_agent(void)
{
    CHECK(start_agent(config_allowing(), NULL) == 0);
    char *argv[] = {probe_bin,
                    sock,
                    "send:{\"v\":1,\"op\":\"claim\",\"gpus\":[1]}",
                    "send:{\"v\":1,\"op\":\"set\",\"gpu\":1,\"power_limit_w\":130}",
                    "hold",
                    NULL};
    int in = -1;
    pid_t holder = spawn_as(NOBODY, argv, &in, NULL);
    CHECK(wait_limits(ORIGINAL0, 130, 10) >= 0);
    CHECK(stop_agent(SIGTERM) == 0);
    CHECK(limit_w(1) == ORIGINAL1);
    CHECK(journal_files() == 0);
    CHECK(access(sock, F_OK) != 0); /* its socket is gone with it */
    close(in);
    wait_exit(holder, 10);
}

static void test_malformed(void)
{
    CHECK(start_agent(config_allowing(), NULL) == 0);
    CHECK(probe(NOBODY,
                "'send:hello' 'send:{\"v\":1,\"id\":5,\"op\":\"hello\"}' 'send:{\"v\":9,\"id\":6,\"op\":\"hello\"}' "
                "'send:{\"v\":1,\"id\":7,\"op\":\"format-disk\"}' 'send:{\"v\":1,\"id\":8,\"op\":\"set\"}' "
                "'send:\x01\x02\xff\xfe' 'send:{\"v\":1,\"id\":9,\"op\":\"devices\"}'") == 0);
    CHECK(strstr(out, "{\"v\":1,\"id\":null,\"ok\":false,\"error\":\"EFORMAT\",\"message\":\"not JSON") == out);
    CHECK(strstr(out, "\"id\":5,\"ok\":true,\"agent\":\"chased") != NULL);
    CHECK(strstr(out, "\"id\":6,\"ok\":false,\"error\":\"ENOTSUP\",\"message\":\"protocol version 9") != NULL);
    CHECK(strstr(out, "\"id\":7,\"ok\":false,\"error\":\"ENOTSUP\",\"message\":\"unknown op") != NULL);
    CHECK(strstr(out, "\"id\":8,\"ok\":false,\"error\":\"EFORMAT\"") != NULL);
    CHECK(strstr(out, "\"id\":9,\"ok\":true,\"gpus\":[") != NULL); /* the connection still serves */
    /* Oversized: an error line, then the connection is closed. */
    CHECK(probe(NOBODY, "bytes:5000 read read") == 0);
    CHECK(strstr(out, "request longer than 4095 bytes") && strstr(out, "\nEOF"));
    /* More descriptors than a claim may carry. */
    char many[4000] = "";
    for (int i = 0; i < 70; i++)
        strcat(many, "fd:/dev/null ");
    strcat(many, "'send:{\"v\":1,\"op\":\"hello\"}' read");
    CHECK(probe(NOBODY, many) == 0);
    CHECK(strstr(out, "more descriptors than a claim may carry") && strstr(out, "\nEOF"));
    /* Descriptors with a request other than a claim are kept for the claim; with no device proof they are ignored. */
    CHECK(probe(NOBODY,
                "fd:/dev/null 'send:{\"v\":1,\"op\":\"hello\"}' 'send:{\"v\":1,\"op\":\"claim\",\"gpus\":[0]}'") == 0);
    CHECK(strstr(out, "\"session\"") != NULL);
    /* After all that, chased still serves everyone. */
    CHECK(probe(NOBODY, "'send:{\"v\":1,\"op\":\"hello\"}'") == 0 && strstr(out, "\"ok\":true"));
    CHECK(stop_agent(SIGTERM) == 0);
}

static void test_idle_and_slow_clients(void)
{
    CHECK(start_agent(config_allowing(), NULL) == 0);
    char idle_out[400], slow_out[400];
    snprintf(idle_out, sizeof idle_out, "%s/idle.txt", tmp);
    snprintf(slow_out, sizeof slow_out, "%s/slow.txt", tmp);
    char *idle[] = {probe_bin, sock, "hold", NULL};
    char *slow[] = {probe_bin, sock, "raw:{\"v\":1,", "sleep:11500", "read", "read", NULL};
    int in = -1;
    pid_t p_idle = spawn_as(NOBODY, idle, &in, idle_out), p_slow = spawn_as(NOBODY, slow, NULL, slow_out);
    nvml_test_sleep(0.3);
    /* Another client is served at once, every time, while those two sit there. */
    double worst = 0;
    for (int k = 0; k < 5; k++) {
        double t0 = now();
        CHECK(probe(NOBODY, "'send:{\"v\":1,\"op\":\"devices\"}' 'send:{\"v\":1,\"op\":\"energy\",\"gpu\":0}'") == 0);
        CHECK(strstr(out, "\"energy_j\"") != NULL);
        worst = fmax(worst, now() - t0);
        nvml_test_sleep(0.5);
    }
    fprintf(stderr, "  slowest answer beside an idle and a slow client: %.0f ms (process start included)\n",
            worst * 1000);
    CHECK(worst < 2.0);
    /* The slow sender is cut off after 10 s; the idle one (no request begun) stays. */
    CHECK(wait_exit(p_slow, 20) == 0);
    char text[4096];
    read_file(slow_out, text, sizeof text);
    CHECK(strstr(text, "a request must arrive whole within 10 s") && strstr(text, "\nEOF"));
    CHECK(waitpid(p_idle, NULL, WNOHANG) == 0);
    close(in);
    CHECK(wait_exit(p_idle, 10) == 0);
    CHECK(stop_agent(SIGTERM) == 0);
}

/* chased's open descriptors and resident memory (KiB). */
static void agent_usage(int *fds, long *rss_kib)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)agent);
    *fds = 0;
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)))
        *fds += e->d_name[0] != '.';
    if (d)
        closedir(d);
    snprintf(path, sizeof path, "/proc/%d/status", (int)agent);
    FILE *f = fopen(path, "r");
    *rss_kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            *rss_kib = atol(line + 6);
    if (f)
        fclose(f);
}

static void test_many_sessions(void)
{
    /* ASan keeps freed memory in quarantine (up to 256 MB): without it, freed memory is reused as by malloc and the
     * resident size shows what the agent really keeps. Ignored by a build without ASan. */
    static char asan[512];
    const char *prev = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof asan, "ASAN_OPTIONS=%s%squarantine_size_mb=0", prev ? prev : "", prev ? ":" : "");
    CHECK(start_agent(config_allowing(), asan) == 0);
    /* Each session passes a descriptor with its claim (ignored without device proof, but it must be closed). */
    const char *session = "'send:{\"v\":1,\"op\":\"hello\"}' fd:/dev/null fd:/dev/zero "
                          "'send:{\"v\":1,\"op\":\"claim\",\"gpus\":[0,1]}' "
                          "'send:{\"v\":1,\"op\":\"set\",\"gpu\":0,\"power_limit_w\":150}' "
                          "'send:{\"v\":1,\"op\":\"energy\",\"gpu\":1}'";
    char actions[600];
    /* Warm-up: the allocator's caches reach their size (ASan's take about a thousand sessions). */
    snprintf(actions, sizeof actions, "repeat:%d %s", 1000, session);
    CHECK(probe(NOBODY, actions) == 0);
    nvml_test_sleep(0.3);               /* chased has seen the last connection go */
    int fds0, fds1;
    long rss0, rss1;
    agent_usage(&fds0, &rss0);
    double t0 = now();
    snprintf(actions, sizeof actions, "repeat:%d %s", 1000, session);
    CHECK(probe(NOBODY, actions) == 0);
    CHECK(strstr(out, "repeat: 1000 ok") != NULL);
    double dt = now() - t0;
    nvml_test_sleep(0.3);
    agent_usage(&fds1, &rss1);
    fprintf(stderr, "  1000 sessions in %.1f s: descriptors %d -> %d, resident %ld -> %ld KiB\n", dt, fds0, fds1, rss0,
            rss1);
    CHECK(fds1 == fds0);
    CHECK(rss0 > 0 && rss1 - rss0 <= 128); /* a leak of 128 bytes a session would show */
    check_all_back("after 1000 sessions");
    CHECK(journal_files() == 0);
    char log[1 << 16];
    read_log(log, sizeof log);
    CHECK(stop_agent(SIGTERM) == 0);
}

static void test_device_access(void)
{
    /* Device files made with mknod. Without the NVIDIA driver a 195:N node cannot be opened (ENXIO), so they carry
     * the numbers of /dev/null (1:3) and /dev/zero (1:5): what the agent checks is that the client could open the
     * very file it names. The fake numbers device files backwards: GPU 0's is nvidia1, GPU 1's nvidia0. */
    char devs[400], n0[450], n1[450], c[800];
    snprintf(devs, sizeof devs, "%s/devs", tmp);
    mkdir(devs, 0755);
    snprintf(n0, sizeof n0, "%s/nvidia0", devs);
    snprintf(n1, sizeof n1, "%s/nvidia1", devs);
    unlink(n0);
    unlink(n1);
    CHECK(mknod(n0, S_IFCHR | 0666, makedev(1, 3)) == 0 && chmod(n0, 0666) == 0); /* GPU 1: this job's */
    CHECK(mknod(n1, S_IFCHR | 0600, makedev(1, 5)) == 0);                         /* GPU 0: not this job's */
    snprintf(c, sizeof c, "%srequire_device_access = yes\ndev_dir = %s\n", config_allowing(), devs);
    CHECK(start_agent(c, NULL) == 0);
    char args[2000], err[8192], report[400];
    snprintf(report, sizeof report, "%s/dev.json", out_dir);
    snprintf(args, sizeof args,
             "'%s' run --agent '%s' --gpus 1 --signal static:400 --policy fixed:150 --period 1s "
             "--report %s -- sleep 1.5",
             chase_bin, sock, report);
    CHECK(as_user(NOBODY, args, err, sizeof err) == 0);
    cJSON *r = load_json(report);
    const cJSON *backend = cJSON_GetObjectItem(r, "backend"),
                *p0 = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "periods"), 0);
    CHECK(cJSON_IsString(backend) && !strcmp(backend->valuestring, "agent"));
    CHECK(p0 && cJSON_GetObjectItem(p0, "power_limit_w")->valuedouble == 150);
    cJSON_Delete(r);
    snprintf(args, sizeof args, "'%s' run --agent '%s' --gpus 0 --signal static:400 --policy fixed:150 -- true",
             chase_bin, sock);
    CHECK(as_user(NOBODY, args, err, sizeof err) == 2);
    CHECK(strstr(err, "GPU 0: cannot open its device file") && strstr(err, "nvidia1 (Permission denied)"));
    char actions[1200];
    snprintf(actions, sizeof actions,
             "fd:%s 'send:{\"v\":1,\"op\":\"claim\",\"gpus\":[0]}' "
             "'send:{\"v\":1,\"op\":\"claim\",\"gpus\":[1]}'",
             n0);
    CHECK(probe(NOBODY, actions) == 0);
    CHECK(strstr(out, "the descriptor sent for GPU 0 is not its device file") != NULL);
    CHECK(strstr(out, "came with 0 descriptors") != NULL);
    CHECK(limit_w(0) == ORIGINAL0 && limit_w(1) == ORIGINAL1);
    CHECK(stop_agent(SIGTERM) == 0);
}

static void test_config_errors(void)
{
    char log[65536];
    CHECK(start_agent("gpus = 0\nallow_user = bob\n", NULL) == 2);
    read_log(log, sizeof log);
    char want[400];
    snprintf(want, sizeof want, "%s:2: unknown key 'allow_user'", conf);
    CHECK(strstr(log, want) != NULL);
    CHECK(start_agent("gpus = 0,5\n", NULL) == 2);
    read_log(log, sizeof log);
    snprintf(want, sizeof want, "%s:1: gpus: GPU 5 does not exist", conf);
    CHECK(strstr(log, want) != NULL);
    /* A second agent on a live one's state directory or socket is refused. */
    CHECK(start_agent(config_allowing(), NULL) == 0);
    pid_t first = agent;
    CHECK(start_agent(NULL, NULL) == 1);
    agent = first;
    read_log(log, sizeof log);
    CHECK(strstr(log, "another chased") != NULL);
    CHECK(connectable());
    CHECK(stop_agent(SIGTERM) == 0);
}

static int setup(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "SKIP: chased's tests run it as root with clients of other uids (setpriv); run them as root "
                        "(CI does)\n");
        return 77;
    }
    if (nvml_test_setup() || !getenv("CHASED_BIN") || !getenv("AGENT_PROBE")) {
        fprintf(stderr, "SKIP: run under ctest (CHASED_BIN, AGENT_PROBE unset)\n");
        return 77;
    }
    if (system("setpriv --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "FAIL: setpriv (util-linux) is missing\n");
        return 1;
    }
    /* Everything the other users need sits in a folder they can reach (the build tree may be under /root). */
    snprintf(tmp, sizeof tmp, "/tmp/chase-agent-test-%d", (int)getpid());
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -m 755 '%s' && cp '%s' '%s/chase' && cp '%s' '%s/agent_probe'", tmp,
             tmp, getenv("CHASE_BIN"), tmp, getenv("AGENT_PROBE"), tmp);
    if (system(cmd) != 0)
        return 1;
    snprintf(chase_bin, sizeof chase_bin, "%s/chase", tmp);
    snprintf(probe_bin, sizeof probe_bin, "%s/agent_probe", tmp);
    snprintf(sock, sizeof sock, "%s/run/chased.sock", tmp);
    snprintf(state_file, sizeof state_file, "%s/gpus.state", tmp);
    snprintf(state_dir, sizeof state_dir, "%s/state", tmp);
    snprintf(conf, sizeof conf, "%s/chased.conf", tmp);
    snprintf(log_path, sizeof log_path, "%s/chased.log", tmp);
    snprintf(out_dir, sizeof out_dir, "%s/out", tmp);
    snprintf(trace, sizeof trace, "%s/ci.csv", tmp);
    snprintf(profile, sizeof profile, "%s/profile.json", tmp);
    mkdir(out_dir, 0777);
    chmod(out_dir, 0777);
    /* A day of history, then blocks of 4 half-hours alternating 500 and 100 g/kWh (replayed one a second). */
    FILE *f = fopen(trace, "w");
    fprintf(f, "time,ci\n");
    for (int i = 0; i < 400; i++) {
        time_t t = 1609459200 + 1800 * (time_t)i;
        struct tm tm;
        gmtime_r(&t, &tm);
        char ts[32];
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(f, "%s,%d\n", ts, i < 48 ? 100 + (i * 7) % 5 * 100 : ((i - 48) / 4) % 2 ? 100 : 500);
    }
    fclose(f);
    /* A job whose speed saturates: policy chase (eta 0.7) picks 200 W at 500 g/kWh and 250 W at 100 g/kWh. */
    write_file(profile, "{\"name\":\"agent-test\",\"unit\":\"step\",\"points\":["
                        "{\"power_limit_w\":150,\"throughput\":0.6,\"power_w\":142.5},"
                        "{\"power_limit_w\":200,\"throughput\":0.85,\"power_w\":190},"
                        "{\"power_limit_w\":250,\"throughput\":0.97,\"power_w\":237.5},"
                        "{\"power_limit_w\":280,\"throughput\":1.0,\"power_w\":266}]}");
    chmod(profile, 0644);
    chmod(trace, 0644);
    setenv("FAKE_NVML_STATE", state_file, 1);
    setenv("FAKE_NVML_GPUS", "2", 1);
    if (fake_state_open(state_file, &fake) != 0)
        return 1;
    set_limit(0, ORIGINAL0); /* not the default: putting back means to what the GPU had */
    unsetenv("CHASE_AGENT");
    return 0;
}

int main(void)
{
    int rc = setup();
    if (rc)
        return rc;
    RUN(test_devices_as_user);
    RUN(test_job_follows_policy);
    RUN(test_not_allowed);
    RUN(test_out_of_range);
    RUN(test_two_sessions);
    RUN(test_sigkill_client);
    RUN(test_sigkill_agent);
    RUN(test_sigterm_agent);
    RUN(test_malformed);
    RUN(test_idle_and_slow_clients);
    RUN(test_client_caps);
    RUN(test_many_sessions);
    RUN(test_device_access);
    RUN(test_config_errors);
    if (agent > 0)
        stop_agent(SIGKILL);
    fake_state_close(&fake);
    if (!check_failures) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmp);
    } else {
        fprintf(stderr, "kept %s (chased.log there)\n", tmp);
    }
    CHECK_DONE();
}
