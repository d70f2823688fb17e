/* chased, the node agent: a root daemon that owns the GPUs' power limits and lets the users the administrator names
 * set them through sessions that are undone when they end (docs/agent.md). This front end parses the options, reads
 * the configuration, opens NVML and runs the library's server until SIGTERM; it runs in the foreground and logs to
 * stderr, as systemd wants. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/table.h"
#include "chase/agent.h"

#define PROG "chased"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: chased [--config FILE] [--socket PATH] [--state-dir DIR] [--check]\n"
            "\n"
            "The chase node agent. It runs as root, owns the GPUs' power limits and lets the users and groups named\n"
            "in its configuration set them through chase run (or any client of docs/agent-protocol.md). Every\n"
            "change a session made is put back when the session ends, however it ends, and a restart after a crash\n"
            "puts back what the crashed agent left. Everyone may read the GPUs and their energy.\n"
            "\n"
            "Options:\n"
            "  --config FILE     configuration (default " CHASE_AGENT_DEFAULT_CONFIG "; when that file is\n"
            "                    missing: only root may set, all GPUs, their own range)\n"
            "  --socket PATH     where to listen (default " CHASE_AGENT_DEFAULT_SOCKET ")\n"
            "  --state-dir DIR   the journal of original settings (default " CHASE_AGENT_DEFAULT_STATE_DIR ")\n"
            "  --check           check the configuration against the GPUs, say what it allows, and exit\n"
            "  -h, --help        this text\n"
            "  --version         chased's version and protocol\n"
            "\n"
            "Environment: CHASE_NVML_LIBRARY (the NVML library, as for chase).\n"
            "Signals: SIGTERM and SIGINT put every GPU back and stop; SIGHUP is ignored (restart to reload).\n"
            "Exit status: 0 after a clean stop, 2 for a bad option or configuration (file:line on stderr), 1 when the\n"
            "GPUs, the socket or the state directory fail. Docs: docs/agent.md.\n");
}

/* Under systemd, stderr goes to the journal, which reads a "<N>" syslog level in front of each line. */
static void on_log(void *arg, chase_agent_log_level_t level, const char *msg)
{
    (void)arg;
    static const char *const prefix[] = {"", "warning: ", "error: "}, *const syslog[] = {"<6>", "<4>", "<3>"};
    if (getenv("JOURNAL_STREAM"))
        fprintf(stderr, "%s%s%s\n", syslog[level], prefix[level], msg);
    else
        fprintf(stderr, PROG ": %s%s\n", prefix[level], msg);
}

/* Tells systemd (Type=notify) how things stand; nothing without NOTIFY_SOCKET. */
static void notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof sa.sun_path)
        return;
    memcpy(sa.sun_path, path, strlen(path));
    if (path[0] == '@')
        sa.sun_path[0] = '\0'; /* an abstract socket */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
    (void)sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
    close(fd);
}

typedef struct opts {
    const char *config, *socket, *state_dir;
    int config_given, check;
} opts_t;

/* Returns -1 to go on, else the exit status. */
static int parse(int argc, char **argv, opts_t *o)
{
    *o = (opts_t){CHASE_AGENT_DEFAULT_CONFIG, CHASE_AGENT_DEFAULT_SOCKET, CHASE_AGENT_DEFAULT_STATE_DIR, 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **target = !strcmp(a, "--config")      ? &o->config
                              : !strcmp(a, "--socket")    ? &o->socket
                              : !strcmp(a, "--state-dir") ? &o->state_dir
                                                          : NULL;
        if (target) {
            if (i + 1 >= argc || !argv[i + 1][0]) {
                fprintf(stderr, PROG ": %s needs a value (see --help)\n", a);
                return 2;
            }
            *target = argv[++i];
            o->config_given |= target == &o->config;
        } else if (!strcmp(a, "--check")) {
            o->check = 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("chased %s (agent protocol %d)\n", CHASE_VERSION, CHASE_AGENT_PROTOCOL);
            return 0;
        } else {
            fprintf(stderr, PROG ": unknown option '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (o->state_dir[0] != '/') {
        fprintf(stderr, PROG ": --state-dir must be an absolute path (got '%s')\n", o->state_dir);
        return 2;
    }
    return -1;
}

static int load_config(const opts_t *o, chase_agent_config_t *c)
{
    chase_err_t err;
    int rc = chase_agent_config_load(o->config, c, &err);
    if (rc == CHASE_ENOTFOUND && !o->config_given) {
        chase_agent_config_init(c);
        fprintf(stderr, PROG ": no %s: only root may set GPU settings (see docs/agent.md)\n", o->config);
        return 0;
    }
    if (rc != CHASE_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }
    return 0;
}

/* --check: what the configuration allows on these GPUs, without taking the socket or the state directory. */
static int check(const chase_agent_config_t *c, chase_gpu_t *gpu)
{
    chase_agent_table_t *t;
    chase_err_t err;
    int rc = chase_agent_table_open(c, gpu, "/nonexistent", on_log, NULL, &t, &err);
    if (rc != CHASE_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return rc == CHASE_EFORMAT ? 2 : 1;
    }
    printf("%s: %zu user%s and %zu group%s may set; device proof %s\n", c->path[0] ? c->path : "(defaults)",
           c->n_allow_uids, c->n_allow_uids == 1 ? "" : "s", c->n_allow_gids, c->n_allow_gids == 1 ? "" : "s",
           c->require_device_access ? "required" : "not required");
    for (int i = 0; i < chase_agent_table_size(t); i++) {
        chase_agent_gpu_t g;
        if (chase_agent_table_describe(t, i, &g, &err) != CHASE_OK)
            printf("GPU %d: %s\n", i, err.msg);
        else if (g.managed)
            printf("GPU %d (%s): users may set %g..%g W (the GPU allows %g..%g W)%s%s\n", i, g.info.name,
                   g.info.min_pl_w, g.info.max_pl_w, g.gpu_min_w, g.gpu_max_w, g.device[0] ? ", device " : "",
                   g.device);
        else
            printf("GPU %d (%s): not managed (read only)\n", i, g.info.name);
    }
    chase_agent_table_free(t);
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o;
    int status = parse(argc, argv, &o);
    if (status >= 0)
        return status;
    chase_agent_config_t cfg;
    if ((status = load_config(&o, &cfg)) != 0)
        return status;
    /* Termination signals become events of the loop, never an exit in the middle of putting a GPU back. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
    int sfd = -1;
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0 || (sfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0) {
        fprintf(stderr, PROG ": signalfd: %s\n", strerror(errno));
        return 1;
    }
    chase_gpu_t *gpu = NULL;
    chase_err_t err;
    chase_gpu_open_opts_t go = {.backend = "nvml"};
    if (chase_gpu_open(&go, &gpu, &err) != CHASE_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 1;
    }
    if (o.check) {
        status = check(&cfg, gpu);
        chase_gpu_free(gpu);
        return status;
    }
    chase_agent_t *agent = NULL;
    chase_agent_opts_t ao = {&cfg, gpu, o.socket, o.state_dir, on_log, NULL};
    int rc = chase_agent_open(&ao, &agent, &err);
    if (rc != CHASE_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        chase_gpu_free(gpu);
        return rc == CHASE_EFORMAT ? 2 : 1;
    }
    fprintf(stderr, PROG ": listening on %s (protocol %d), state in %s, %zu user%s and %zu group%s may set%s\n",
            o.socket, CHASE_AGENT_PROTOCOL, o.state_dir, cfg.n_allow_uids, cfg.n_allow_uids == 1 ? "" : "s",
            cfg.n_allow_gids, cfg.n_allow_gids == 1 ? "" : "s", geteuid() == 0 ? "" : " (not root: NVML may refuse)");
    notify("READY=1");
    for (;;) {
        if ((rc = chase_agent_serve(agent, sfd, &err)) != CHASE_OK) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            status = 1;
            break;
        }
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof si) != (ssize_t)sizeof si)
            continue;
        if (si.ssi_signo == SIGHUP) {
            fprintf(stderr, PROG ": SIGHUP: the configuration is read at start only; restart chased to reload it\n");
            continue;
        }
        fprintf(stderr, PROG ": %s: putting every GPU back and stopping\n", strsignal((int)si.ssi_signo));
        break;
    }
    notify("STOPPING=1");
    chase_agent_free(agent);
    chase_gpu_free(gpu);
    close(sfd);
    fprintf(stderr, PROG ": stopped\n");
    return status;
}
