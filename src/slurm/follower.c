/* A follower: a node of the step other than the first. It decides nothing: it sets its own GPUs to whatever the
 * leader's were just set to (clamped to its own GPUs' range), answers each of the leader's marks with its energy,
 * and puts its GPUs back when the leader says control is over or the step ends. A follower that hears nothing from
 * the leader for lost_after_s (at most one period), or loses its connection, stops trusting the last decision and
 * runs at its GPUs' top limit until the leader is back.
 *
 * One thread, one poll loop: the plugin's control socket (the step's end), the termination signals, the progress
 * socket of this node's tasks and the connection to the leader. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "chase/gpu_group.h"
#include "chase/journal.h"
#include "chase/progress.h"
#include "slurm/helper.h"
#include "slurm/hostlist.h"
#include "slurm/leader_net.h"
#include "slurm/node_addr.h"
#include "slurm/wire.h"

#define CONNECT_TIMEOUT_S 0.3
#define HELLO_WAIT_S 2.0
#define RETRY_S 1.0
#define FIRST_RETRY_S 0.1    /* until the leader first answers: it binds its port at about the same moment */
#define FIRST_CONTACT_S 10.0 /* the leader starts at the same time but has more to open: give it this long */

typedef enum { DOWN, GREETING, UP } link_state_t;

typedef struct follower {
    chase_slurm_helper_t *h;
    chase_gpu_group_t *g;
    chase_progress_t *progress;
    chase_slurm_wire_t *wire;
    int sigfd;
    double lo, hi;
    /* the setting in force and its integral over time, for the leader's per-node limits */
    double value, since, setting_s;
    /* the link to the leader */
    char leader_addr[256];
    link_state_t state;
    int fd, port_k;
    char *in;
    size_t in_n;
    char *out;
    size_t out_n, out_cap;
    double deadline, next_try, heard;
    double lost_after_s;
    int ended;    /* the leader ended control: GPUs put back, follow no more */
    int fallback; /* at the top limit because the leader was lost */
    double fallback_since, fallback_s;
    int warned_lost, warned_clamp;
    int ever_heard;
    char refused[512]; /* the leader refused the step, and why */
    double started;
} follower_t;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void on_group_warning(void *arg, const char *msg)
{
    chase_slurm_say(arg, CHASE_SLURM_WARNING, "%s", msg);
}

/* Banks the time spent at the setting in force. */
static void bank(follower_t *f)
{
    double now = mono();
    if (isfinite(f->value))
        f->setting_s += f->value * (now - f->since);
    f->since = now;
}

static void apply(follower_t *f, double v)
{
    double c = fmin(f->hi, fmax(f->lo, v));
    if (c != v && !f->warned_clamp) {
        f->warned_clamp = 1;
        chase_slurm_say(f->h, CHASE_SLURM_WARNING,
                        "the leader's %.0f W is outside this node's GPUs' %.0f..%.0f W: "
                        "using %.0f W",
                        v, f->lo, f->hi, c);
    }
    chase_err_t e;
    chase_err_clear(&e);
    if (chase_gpu_group_apply(f->g, c, &e) != CHASE_OK) {
        chase_slurm_say(f->h, CHASE_SLURM_WARNING, "cannot follow the leader: %s", e.msg);
        return;
    }
    if (!chase_gpu_group_observe_only(f->g)) {
        bank(f);
        f->value = c;
    }
}

/* The GPUs go back to what they had (the leader ended control, or is back with nothing decided yet). */
static void put_back(follower_t *f)
{
    chase_err_t e;
    if (chase_gpu_group_restore(f->g, &e) != CHASE_OK)
        chase_slurm_say(f->h, CHASE_SLURM_WARNING, "%s", e.msg);
    bank(f);
    f->value = chase_gpu_group_in_force(f->g);
}

static void stop_fallback(follower_t *f, int say)
{
    if (!f->fallback)
        return;
    f->fallback = 0;
    f->fallback_s += mono() - f->fallback_since;
    if (say)
        chase_slurm_say(f->h, CHASE_SLURM_NOTE, "the leader is back: following it again");
}

/* The decision is lost: the GPUs' top limit costs energy, never the job's speed. */
static void start_fallback(follower_t *f, const char *why)
{
    if (f->fallback || f->ended)
        return;
    f->fallback = 1;
    f->fallback_since = mono();
    if (!f->warned_lost) {
        f->warned_lost = 1;
        chase_slurm_say(f->h, CHASE_SLURM_WARNING,
                        "%s: running this node's GPUs at their top limit (%.0f W) until "
                        "the leader is back",
                        why, f->hi);
    }
    apply(f, f->hi);
}

static void link_close(follower_t *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    f->in_n = f->out_n = 0;
    f->state = DOWN;
}

static int link_send(follower_t *f, const char *type, cJSON *msg)
{
    char *line = NULL;
    chase_err_t e;
    int rc = msg ? chase_slurm_wire_encode(f->wire, type, 0, msg, &line, &e) : CHASE_ENOMEM;
    cJSON_Delete(msg);
    if (rc != CHASE_OK)
        return -1;
    size_t len = strlen(line);
    if (f->out_n + len > f->out_cap) {
        size_t cap = (f->out_n + len) * 2;
        char *o = realloc(f->out, cap);
        if (!o || cap > (4u << 20)) {
            free(line);
            free(o == f->out ? NULL : o);
            return -1;
        }
        f->out = o;
        f->out_cap = cap;
    }
    memcpy(f->out + f->out_n, line, len);
    f->out_n += len;
    free(line);
    return 0;
}

static int link_flush(follower_t *f)
{
    return chase_slurm_wire_flush(f->fd, f->out, &f->out_n);
}

static cJSON *gpus_json(follower_t *f)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < chase_gpu_group_size(f->g); i++) {
        const chase_gpu_info_t *in = chase_gpu_group_info(f->g, i);
        double lo, hi;
        chase_gpu_group_member_range(f->g, i, &lo, &hi);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", in->index);
        cJSON_AddNumberToObject(o, "minor", in->minor);
        cJSON_AddStringToObject(o, "name", in->name);
        cJSON_AddStringToObject(o, "uuid", in->uuid);
        cJSON_AddNumberToObject(o, "original_power_limit_w", chase_gpu_group_original(f->g, i));
        cJSON_AddNumberToObject(o, "min_power_limit_w", lo);
        cJSON_AddNumberToObject(o, "max_power_limit_w", hi);
        cJSON_AddBoolToObject(o, "restored", chase_gpu_group_restored(f->g, i));
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

/* Tries the leader's ports from port_k on; a connection that opens gets our hello. */
static void link_try(follower_t *f)
{
    int lo, hi;
    chase_slurm_ports(&f->h->st.s, &lo, &hi);
    int tries = chase_slurm_port_tries(lo, hi);
    for (; f->port_k < tries; f->port_k++) {
        char port[16];
        snprintf(port, sizeof port, "%d", chase_slurm_port(f->h->st.job, f->h->st.step, lo, hi, f->port_k));
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        if (getaddrinfo(f->leader_addr, port, &hints, &res) != 0)
            break;
        for (struct addrinfo *a = res; a && f->fd < 0; a = a->ai_next) {
            int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0)
                continue;
            int rc = connect(fd, a->ai_addr, a->ai_addrlen);
            if (rc < 0 && errno == EINPROGRESS) {
                struct pollfd p = {fd, POLLOUT, 0};
                int e = 0;
                socklen_t el = sizeof e;
                rc = poll(&p, 1, (int)(CONNECT_TIMEOUT_S * 1000)) == 1 &&
                             getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0
                         ? 0
                         : -1;
            }
            if (rc == 0)
                f->fd = fd;
            else
                close(fd);
        }
        freeaddrinfo(res);
        if (f->fd >= 0) {
            cJSON *hello = cJSON_CreateObject();
            if (hello) {
                cJSON_AddStringToObject(hello, "name", f->h->st.node);
                cJSON_AddItemToObject(hello, "gpus", gpus_json(f));
            }
            if (link_send(f, "hello", hello) || link_flush(f)) {
                link_close(f);
                continue;
            }
            f->state = GREETING;
            f->deadline = mono() + HELLO_WAIT_S;
            return;
        }
    }
    /* Nobody there yet (the leader may still be starting): from the first port again in a moment. */
    f->port_k = 0;
    f->next_try = mono() + (f->ever_heard ? RETRY_S : FIRST_RETRY_S);
}

static double number_or(const cJSON *o, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : dflt;
}

static void answer_mark(follower_t *f, double mark)
{
    double e = NAN;
    chase_err_t err;
    if (chase_gpu_group_energy(f->g, &e, &err) != CHASE_OK)
        e = NAN;
    bank(f);
    chase_progress_stats_t ps;
    chase_progress_drain(f->progress, chase_slurm_now(), NULL);
    chase_progress_stats(f->progress, &ps);
    cJSON *m = cJSON_CreateObject();
    if (!m || !isfinite(e)) {
        cJSON_Delete(m);
        return;
    }
    cJSON_AddNumberToObject(m, "mark", mark);
    cJSON_AddNumberToObject(m, "t", f->since);
    cJSON_AddNumberToObject(m, "energy_j", e);
    cJSON_AddNumberToObject(m, "setting_s", f->setting_s);
    cJSON_AddNumberToObject(m, "steps", ps.steps);
    if (link_send(f, "energy", m))
        link_close(f);
}

static void on_message(follower_t *f, const char *type, const cJSON *msg)
{
    f->heard = mono();
    if (!strcmp(type, "refuse") && f->state == GREETING) {
        const cJSON *why = cJSON_GetObjectItemCaseSensitive(msg, "why");
        snprintf(f->refused, sizeof f->refused, "%s", cJSON_IsString(why) ? why->valuestring : "no reason given");
        return;
    }
    if (!strcmp(type, "hello")) {
        double lost = number_or(msg, "lost_after_s", f->lost_after_s);
        f->lost_after_s = fmax(0.5, fmin(3600, lost));
        f->state = UP;
        f->port_k = 0;
        f->ever_heard = 1;
        if (!f->ended && !f->fallback && f->warned_lost)
            chase_slurm_say(f->h, CHASE_SLURM_NOTE, "connected to the leader again");
        return;
    }
    if (f->state != UP)
        return;
    if (!strcmp(type, "end")) {
        if (!f->ended) {
            f->ended = 1;
            stop_fallback(f, 1);
            put_back(f);
        }
        return;
    }
    if (f->ended)
        return;
    double v = number_or(msg, "value", NAN);
    if (!strcmp(type, "mark")) {
        answer_mark(f, number_or(msg, "mark", -1));
    } else if ((!strcmp(type, "set") || !strcmp(type, "ping")) && isfinite(v)) {
        stop_fallback(f, 1);
        if (v != f->value || !strcmp(type, "set"))
            apply(f, v);
    } else if (!strcmp(type, "ping") && f->fallback) {
        /* The leader is back and has decided nothing yet: the GPUs go back to what they had. */
        stop_fallback(f, 1);
        put_back(f);
    }
}

/* The link broke: a leader lost (fall back), or a port that was not this step's leader's (try the next). */
static void link_lost(follower_t *f, const char *why)
{
    int was_up = f->state == UP;
    link_close(f);
    if (was_up)
        start_fallback(f, why);
    else
        f->port_k++;
}

/* Reads what the leader sent; a line that does not open as this step's leader's closes the link. */
static void link_read(follower_t *f)
{
    if (!f->in && !(f->in = malloc(CHASE_SLURM_WIRE_MAX_LINE))) {
        link_close(f);
        return;
    }
    ssize_t r = recv(f->fd, f->in + f->in_n, CHASE_SLURM_WIRE_MAX_LINE - f->in_n, MSG_DONTWAIT);
    if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (r <= 0) {
        link_lost(f, "lost the connection to the leader");
        return;
    }
    f->in_n += (size_t)r;
    char *start = f->in, *nl;
    while (f->fd >= 0 && (nl = memchr(start, '\n', f->in_n - (size_t)(start - f->in)))) {
        *nl = '\0';
        cJSON *msg;
        const char *type;
        int from;
        chase_err_t e;
        if (chase_slurm_wire_decode(f->wire, start, &msg, &type, &from, &e) != CHASE_OK || from != 0) {
            link_lost(f, "the leader's messages stopped opening");
            return;
        }
        on_message(f, type, msg);
        cJSON_Delete(msg);
        start = nl + 1;
    }
    if (f->fd < 0)
        return;
    size_t rest = f->in_n - (size_t)(start - f->in);
    memmove(f->in, start, rest);
    f->in_n = rest;
    if (f->in_n == CHASE_SLURM_WIRE_MAX_LINE)
        link_close(f);
}

static int block_signals(follower_t *f)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM};
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&set, sigs[i]);
    signal(SIGPIPE, SIG_IGN);
    if (sigprocmask(SIG_BLOCK, &set, NULL))
        return -1;
    f->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return f->sigfd < 0 ? -1 : 0;
}

static int setup(follower_t *f, chase_err_t *err)
{
    chase_slurm_helper_t *h = f->h;
    char journal[4096] = "";
    int rc;
    if (h->st.s.v[CHASE_SLURM_JOURNAL_DIR])
        snprintf(journal, sizeof journal, "%s", h->st.s.v[CHASE_SLURM_JOURNAL_DIR]);
    else if (!h->agent && (rc = chase_journal_default_dir(journal, sizeof journal, err)) != CHASE_OK)
        return rc;
    chase_gpu_group_opts_t go = {
        .gpus = h->gpus,
        .n_gpus = h->n_gpus,
        .knob = CHASE_KNOB_POWER_LIMIT,
        .observe_only = h->st.s.v[CHASE_SLURM_DRY_RUN] != NULL,
        .journal_dir = journal[0] ? journal : NULL,
        .on_warning = on_group_warning,
        .warning_arg = h,
    };
    if ((rc = chase_gpu_group_open(h->gpu, &go, &f->g, err)) != CHASE_OK)
        return rc;
    chase_gpu_group_range(f->g, &f->lo, &f->hi);
    f->value = chase_gpu_group_in_force(f->g);
    f->since = f->started = mono();
    if ((rc = chase_progress_open(h->rundir, &f->progress, err)) != CHASE_OK ||
        (rc = chase_slurm_give_progress(h, chase_progress_address(f->progress), err)) != CHASE_OK)
        return rc;
    if (block_signals(f))
        return chase_err_set(err, CHASE_EIO, "cannot take the termination signals: %s", strerror(errno));
    if ((rc = chase_slurm_wire_open(h->st.s.v[CHASE_SLURM_MUNGE_SOCKET], h->st.job, h->st.step, h->st.node_id,
                                    h->peer_uid, &f->wire, err)) != CHASE_OK)
        return rc;
    char **nodes;
    size_t n_nodes;
    if ((rc = chase_slurm_hostlist_expand(h->st.nodelist, 65536, &nodes, &n_nodes, err)) != CHASE_OK)
        return rc;
    rc = chase_slurm_node_addr(nodes[0], f->leader_addr, sizeof f->leader_addr, err);
    chase_slurm_hostlist_free(nodes, n_nodes);
    return rc;
}

/* The step is over here: GPUs back, last words to the leader. */
static int finish(follower_t *f, int signal_seen)
{
    chase_err_t e;
    int restored = chase_gpu_group_restore(f->g, &e) == CHASE_OK;
    if (!restored)
        chase_slurm_say(f->h, CHASE_SLURM_WARNING, "%s", e.msg);
    stop_fallback(f, 0);
    bank(f);
    int status = chase_slurm_exit_status(f->h, signal_seen ? 2 : 1);
    if (f->fd >= 0 && f->state == UP) {
        double energy = NAN;
        chase_progress_stats_t ps;
        chase_progress_drain(f->progress, chase_slurm_now(), NULL);
        chase_progress_stats(f->progress, &ps);
        chase_gpu_group_energy(f->g, &energy, NULL);
        cJSON *m = cJSON_CreateObject();
        if (m) {
            if (isfinite(energy))
                cJSON_AddNumberToObject(m, "energy_j", energy);
            cJSON_AddNumberToObject(m, "t", f->since);
            cJSON_AddNumberToObject(m, "wall", chase_slurm_now()); /* when: it may close the leader's last period */
            cJSON_AddNumberToObject(m, "setting_s", f->setting_s);
            cJSON_AddNumberToObject(m, "steps", ps.steps);
            cJSON_AddBoolToObject(m, "restored", restored);
            cJSON_AddNumberToObject(m, "fallback_s", f->fallback_s);
            if (status >= 0)
                cJSON_AddNumberToObject(m, "exit_status", status);
            else
                cJSON_AddNullToObject(m, "exit_status");
            cJSON_AddItemToObject(m, "gpus", gpus_json(f));
        }
        if (link_send(f, "final", m) == 0) {
            double until = mono() + 2;
            while (f->out_n && mono() < until) {
                struct pollfd p = {f->fd, POLLOUT, 0};
                if (poll(&p, 1, 100) < 0 || link_flush(f))
                    break;
            }
        }
    }
    link_close(f);
    return restored ? 0 : 3;
}

int chase_slurm_follower_run(chase_slurm_helper_t *h)
{
    follower_t f;
    memset(&f, 0, sizeof f);
    f.h = h;
    f.fd = f.sigfd = -1;
    f.value = NAN;
    double period = chase_slurm_seconds(&h->st.s, CHASE_SLURM_PERIOD);
    f.lost_after_s = chase_slurm_lost_after_s(isnan(period) ? 1800 : period);
    chase_err_t err;
    chase_err_clear(&err);
    int rc = setup(&f, &err);
    if (rc != CHASE_OK) {
        chase_slurm_ctl_line(h, "error", err.msg);
        fprintf(stderr, "chase-slurm-step: %s\n", err.msg);
        chase_gpu_group_free(f.g);
        chase_progress_close(f.progress);
        chase_slurm_wire_free(f.wire);
        return 1;
    }
    /* Ready once the leader has said the step may start (or refused it), or after FIRST_CONTACT_S without it: a
     * step the leader's node refuses is then refused here too, before any task starts. */
    f.heard = mono();
    int signal_seen = 0, ready = 0;
    for (;;) {
        double now = mono();
        if (f.refused[0])
            break;
        if (!ready && (f.state == UP || now - f.started > FIRST_CONTACT_S)) {
            ready = 1;
            chase_slurm_ctl_line(h, "ready", chase_progress_address(f.progress));
        }
        if (f.state == DOWN && now >= f.next_try && !f.ended)
            link_try(&f);
        if (f.state == GREETING && mono() >= f.deadline) {
            link_close(&f);
            f.port_k++; /* a port that answered but not as this step's leader */
        }
        double patience = f.ever_heard ? f.lost_after_s : fmax(f.lost_after_s, FIRST_CONTACT_S);
        if (!f.ended && mono() - f.heard > patience)
            start_fallback(&f, f.state == UP ? "no word from the leader" : "cannot reach the leader");
        struct pollfd p[4] = {{h->ctl, POLLIN, 0},
                              {f.sigfd, POLLIN, 0},
                              {chase_progress_fd(f.progress), POLLIN, 0},
                              {f.fd, (short)(POLLIN | (f.out_n ? POLLOUT : 0)), 0}};
        double wait = 0.25;
        if (f.state == DOWN && !f.ended)
            wait = fmin(wait, fmax(0, f.next_try - mono()));
        int r = poll(p, 4, (int)ceil(wait * 1000));
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        if (p[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(f.sigfd, &si, sizeof si) == (ssize_t)sizeof si)
                signal_seen = (int)si.ssi_signo;
            if (signal_seen)
                break;
        }
        if (p[0].revents)
            break; /* the step ended (the plugin spoke or closed), or slurmstepd is gone */
        if (p[2].revents & POLLIN)
            chase_progress_drain(f.progress, chase_slurm_now(), NULL);
        if (f.fd >= 0 && (p[3].revents & POLLIN))
            link_read(&f);
        if (f.fd >= 0 && (p[3].revents & POLLOUT) && link_flush(&f)) {
            link_close(&f);
            start_fallback(&f, "lost the connection to the leader");
        }
        if (f.fd >= 0 && (p[3].revents & (POLLERR | POLLHUP)) && !(p[3].revents & POLLIN))
            link_lost(&f, "lost the connection to the leader");
    }
    int status = 0;
    if (f.refused[0]) {
        char why[700];
        snprintf(why, sizeof why, "the leader's node refused the step: %s", f.refused);
        chase_slurm_ctl_line(h, "error", why);
        status = 1;
    } else {
        status = finish(&f, signal_seen);
    }
    chase_gpu_group_free(f.g);
    chase_progress_close(f.progress);
    chase_slurm_wire_free(f.wire);
    free(f.in);
    free(f.out);
    if (f.sigfd >= 0)
        close(f.sigfd);
    return status;
}
