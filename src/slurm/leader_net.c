/* The leader's network thread (see leader_net.h): one poll loop over the listening socket, the followers'
 * connections and a wake-up pipe from the control thread, with a buffer per connection and hard caps, in the manner
 * of redis's ae: a follower that misbehaves is dropped and the others never notice. */
#include "slurm/leader_net.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "slurm/wire.h"

#define MAX_PORT_TRIES 16
#define HELLO_TIMEOUT_S 5.0
#define MAX_OUT (4u << 20) /* a follower this far behind is not reading: drop it */
#define SPARE_CONNS 8      /* room for connections that have not said who they are yet */

enum { EV_SET, EV_MARK, EV_END };

typedef struct event {
    int type;
    double value;
    int id;
} event_t;

typedef struct conn {
    int fd;
    int node;        /* -1 until its hello is accepted */
    int greeted;     /* it got the leader's hello (or the refusal) */
    int closing;     /* close once what is queued is sent */
    double deadline; /* for the hello */
    char *in;
    size_t in_n;
    char *out;
    size_t out_n, out_cap;
} conn_t;

struct chase_slurm_net {
    chase_slurm_net_opts_t o;
    pthread_t thread;
    int running;
    int wake[2];
    int lfd;
    pthread_mutex_t mu; /* guards everything below that the control thread touches */
    pthread_cond_t cv;  /* a final message arrived */
    event_t *q;
    size_t qn, qcap;
    int stop;
    int go;            /* chase_slurm_net_open was called */
    char refusal[512]; /* chase_slurm_net_refuse's reason ("": none) */
    double value;
    int have_value, ended;
    double *mark_t;
    size_t n_marks, marks_cap;
    chase_slurm_peer_t *peers; /* by node id; [0] unused */
    unsigned refused;
    /* The thread's own. */
    conn_t *conns;
    size_t n_conns, max_conns;
    chase_slurm_wire_t *wire;
    double ping_s, lost_after_s, next_ping;
    unsigned warned;
};

int chase_slurm_port_tries(int lo, int hi)
{
    int span = hi - lo + 1;
    return span < MAX_PORT_TRIES ? span : MAX_PORT_TRIES;
}

int chase_slurm_port(uint32_t job, uint32_t step, int lo, int hi, int k)
{
    /* Spread concurrent steps over the range, the same way on every node of a step. */
    uint64_t h = (uint64_t)job * 2654435761u + (uint64_t)step * 40503u;
    int span = hi - lo + 1;
    return lo + (int)((h + (uint64_t)k) % (uint64_t)span);
}

double chase_slurm_ping_s(double period_s)
{
    return fmin(10, fmax(0.25, period_s / 4));
}

double chase_slurm_lost_after_s(double period_s)
{
    return fmin(period_s, fmax(3 * chase_slurm_ping_s(period_s), 2));
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void warn_once(chase_slurm_net_t *n, unsigned kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void warn_once(chase_slurm_net_t *n, unsigned kind, const char *fmt, ...)
{
    if ((n->warned & kind) || !n->o.on_warning)
        return;
    n->warned |= kind;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    n->o.on_warning(n->o.arg, msg);
}

enum { W_REFUSED = 1, W_DROPPED = 2, W_SEAL = 4 };

static void poke(chase_slurm_net_t *n)
{
    ssize_t w = write(n->wake[1], "x", 1);
    (void)w;
}

static void enqueue(chase_slurm_net_t *n, int type, double value, int id)
{
    pthread_mutex_lock(&n->mu);
    if (n->qn == n->qcap) {
        size_t cap = n->qcap ? 2 * n->qcap : 64;
        event_t *q = realloc(n->q, cap * sizeof *q);
        if (!q) {
            pthread_mutex_unlock(&n->mu);
            return; /* a lost event: the next decision or ping puts the followers right */
        }
        n->q = q;
        n->qcap = cap;
    }
    n->q[n->qn++] = (event_t){type, value, id};
    pthread_mutex_unlock(&n->mu);
    poke(n);
}

void chase_slurm_net_set(chase_slurm_net_t *n, double value)
{
    if (n)
        enqueue(n, EV_SET, value, 0);
}

void chase_slurm_net_mark(chase_slurm_net_t *n, double t)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    int id = -1;
    if (n->n_marks == n->marks_cap) {
        size_t cap = n->marks_cap ? 2 * n->marks_cap : 256;
        double *m = realloc(n->mark_t, cap * sizeof *m);
        if (m) {
            n->mark_t = m;
            n->marks_cap = cap;
        }
    }
    if (n->n_marks < n->marks_cap) {
        id = (int)n->n_marks;
        n->mark_t[n->n_marks++] = t;
    }
    pthread_mutex_unlock(&n->mu);
    if (id >= 0)
        enqueue(n, EV_MARK, 0, id);
}

void chase_slurm_net_open(chase_slurm_net_t *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    n->go = 1;
    pthread_mutex_unlock(&n->mu);
    poke(n);
}

void chase_slurm_net_refuse(chase_slurm_net_t *n, const char *why)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    snprintf(n->refusal, sizeof n->refusal, "%s", why && *why ? why : "refused");
    pthread_mutex_unlock(&n->mu);
    poke(n);
}

/* Whether a follower keeps the leader waiting (called with mu held). */
static int not_joined(const chase_slurm_peer_t *p)
{
    return !p->joined;
}

/* Only a follower still connected can send its last message. */
static int final_missing(const chase_slurm_peer_t *p)
{
    return p->connected && !p->final;
}

/* Waits until no follower is waiting(), or timeout_s passed; the network thread signals cv on every change. */
static void wait_for(chase_slurm_net_t *n, int (*waiting)(const chase_slurm_peer_t *), double timeout_s)
{
    if (!n)
        return;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    double t = (double)until.tv_sec + until.tv_nsec * 1e-9 + timeout_s;
    until.tv_sec = (time_t)floor(t);
    until.tv_nsec = (long)((t - floor(t)) * 1e9);
    pthread_mutex_lock(&n->mu);
    for (;;) {
        int any = 0;
        for (int k = 1; k < n->o.n_nodes; k++)
            any |= waiting(&n->peers[k]);
        if (!any || pthread_cond_timedwait(&n->cv, &n->mu, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&n->mu);
}

void chase_slurm_net_wait_joined(chase_slurm_net_t *n, double timeout_s)
{
    wait_for(n, not_joined, timeout_s);
}

void chase_slurm_net_end(chase_slurm_net_t *n)
{
    if (n)
        enqueue(n, EV_END, 0, 0);
}

/* ---- the thread ---- */

static void conn_close(chase_slurm_net_t *n, size_t i)
{
    conn_t *c = &n->conns[i];
    if (c->node > 0) {
        pthread_mutex_lock(&n->mu);
        n->peers[c->node].connected = 0;
        pthread_cond_broadcast(&n->cv); /* a follower gone will send no final: waiters need not wait for it */
        pthread_mutex_unlock(&n->mu);
    }
    close(c->fd);
    free(c->in);
    free(c->out);
    n->conns[i] = n->conns[--n->n_conns];
}

static int conn_queue(conn_t *c, const char *line)
{
    size_t len = strlen(line);
    if (c->out_n + len > MAX_OUT)
        return -1;
    if (c->out_n + len > c->out_cap) {
        size_t cap = (c->out_n + len) * 2;
        char *o = realloc(c->out, cap);
        if (!o)
            return -1;
        c->out = o;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_n, line, len);
    c->out_n += len;
    return 0;
}

/* Seals msg (consumed) for connection c; -1 drops c. */
static int send_msg(chase_slurm_net_t *n, conn_t *c, const char *type, cJSON *msg)
{
    char *line = NULL;
    chase_err_t e;
    int rc = chase_slurm_wire_encode(n->wire, type, c->node, msg, &line, &e);
    cJSON_Delete(msg);
    if (rc != CHASE_OK) {
        warn_once(n, W_SEAL, "cannot send to the followers: %s", e.msg);
        return 0; /* munged trouble is not the follower's fault: keep it, it will fall back on its own */
    }
    rc = conn_queue(c, line);
    free(line);
    return rc;
}

static cJSON *value_msg(const char *key, double v)
{
    cJSON *m = cJSON_CreateObject();
    if (m)
        cJSON_AddNumberToObject(m, key, v);
    return m;
}

/* What a follower that just joined needs: the timing, the decision in force, and whether control is over. */
static int greet(chase_slurm_net_t *n, conn_t *c)
{
    cJSON *h = cJSON_CreateObject();
    if (!h)
        return -1;
    cJSON_AddNumberToObject(h, "period_s", n->o.period_s);
    cJSON_AddNumberToObject(h, "ping_s", n->ping_s);
    cJSON_AddNumberToObject(h, "lost_after_s", n->lost_after_s);
    if (send_msg(n, c, "hello", h))
        return -1;
    pthread_mutex_lock(&n->mu);
    int have = n->have_value, ended = n->ended;
    double v = n->value;
    pthread_mutex_unlock(&n->mu);
    if (have && send_msg(n, c, "set", value_msg("value", v)))
        return -1;
    if (ended && send_msg(n, c, "end", cJSON_CreateObject()))
        return -1;
    return 0;
}

static int number_in(const cJSON *o, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return -1;
    *out = v->valuedouble;
    return 0;
}

static void on_hello(chase_slurm_net_t *n, size_t i, int from, cJSON *msg)
{
    conn_t *c = &n->conns[i];
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(msg, "name");
    const cJSON *gpus = cJSON_GetObjectItemCaseSensitive(msg, "gpus");
    if (from < 1 || from >= n->o.n_nodes || !cJSON_IsString(name) || strlen(name->valuestring) >= 256 ||
        !cJSON_IsArray(gpus)) {
        c->deadline = 0; /* not a follower of this step: dropped by the deadline check */
        return;
    }
    /* A follower that reconnects replaces its old connection. */
    for (size_t k = 0; k < n->n_conns; k++)
        if (k != i && n->conns[k].node == from) {
            n->conns[k].node = -1;
            n->conns[k].deadline = 0;
        }
    c->node = from;
    c->greeted = 0;
    pthread_mutex_lock(&n->mu);
    chase_slurm_peer_t *p = &n->peers[from];
    p->joined = p->connected = 1;
    snprintf(p->name, sizeof p->name, "%s", name->valuestring);
    cJSON_Delete(p->gpus);
    p->gpus = cJSON_Duplicate(gpus, 1);
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

/* Answers the followers that joined: greeted once the leader is open, told why when it refused the step. */
static void answer_joined(chase_slurm_net_t *n)
{
    pthread_mutex_lock(&n->mu);
    int go = n->go;
    char why[512];
    snprintf(why, sizeof why, "%s", n->refusal);
    pthread_mutex_unlock(&n->mu);
    for (size_t i = 0; i < n->n_conns; i++) {
        conn_t *c = &n->conns[i];
        if (c->node < 0 || c->greeted || (!go && !why[0]))
            continue;
        c->greeted = 1;
        if (why[0]) {
            cJSON *m = cJSON_CreateObject();
            if (m)
                cJSON_AddStringToObject(m, "why", why);
            c->closing = send_msg(n, c, "refuse", m) == 0;
            if (!c->closing)
                c->node = -1, c->deadline = 0;
        } else if (greet(n, c)) {
            c->node = -1;
            c->deadline = 0;
        }
    }
}

static void on_energy(chase_slurm_net_t *n, int from, cJSON *msg)
{
    double mark, t, e, s, steps = 0;
    if (number_in(msg, "mark", &mark) || number_in(msg, "t", &t) || number_in(msg, "energy_j", &e) ||
        number_in(msg, "setting_s", &s))
        return;
    number_in(msg, "steps", &steps);
    pthread_mutex_lock(&n->mu);
    chase_slurm_peer_t *p = &n->peers[from];
    if (mark >= 0 && mark < (double)n->n_marks) {
        if (p->n_samples == p->cap) {
            size_t cap = p->cap ? 2 * p->cap : 256;
            chase_slurm_sample_t *v = realloc(p->samples, cap * sizeof *v);
            if (v) {
                p->samples = v;
                p->cap = cap;
            }
        }
        if (p->n_samples < p->cap)
            p->samples[p->n_samples++] = (chase_slurm_sample_t){(int)mark, t, e, s, steps};
    }
    pthread_mutex_unlock(&n->mu);
}

static void on_final(chase_slurm_net_t *n, int from, cJSON *msg)
{
    pthread_mutex_lock(&n->mu);
    cJSON_Delete(n->peers[from].final);
    n->peers[from].final = cJSON_Duplicate(msg, 1);
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

/* One line from connection i: authenticated or the connection goes. */
static void on_line(chase_slurm_net_t *n, size_t i, const char *line)
{
    conn_t *c = &n->conns[i];
    cJSON *msg;
    const char *type;
    int from;
    chase_err_t e;
    if (chase_slurm_wire_decode(n->wire, line, &msg, &type, &from, &e) != CHASE_OK) {
        warn_once(n, W_REFUSED, "refused a connection: %s", e.msg);
        pthread_mutex_lock(&n->mu);
        n->refused++;
        pthread_mutex_unlock(&n->mu);
        c->deadline = 0;
        c->node = -1;
        return;
    }
    if (c->node < 0) {
        if (!strcmp(type, "hello"))
            on_hello(n, i, from, msg);
        else
            c->deadline = 0;
    } else if (from == c->node) {
        if (!strcmp(type, "energy"))
            on_energy(n, from, msg);
        else if (!strcmp(type, "final"))
            on_final(n, from, msg);
    }
    cJSON_Delete(msg);
}

/* Reads what connection i sent; -1 when it is to be closed. */
static int conn_read(chase_slurm_net_t *n, size_t i)
{
    conn_t *c = &n->conns[i];
    for (;;) {
        if (!c->in && !(c->in = malloc(CHASE_SLURM_WIRE_MAX_LINE)))
            return -1;
        ssize_t r = read(c->fd, c->in + c->in_n, CHASE_SLURM_WIRE_MAX_LINE - c->in_n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (r <= 0)
            return -1;
        c->in_n += (size_t)r;
        char *start = c->in, *nl;
        while ((nl = memchr(start, '\n', c->in_n - (size_t)(start - c->in)))) {
            *nl = '\0';
            on_line(n, i, start);
            c = &n->conns[i];
            if (c->deadline == 0 && c->node < 0)
                return -1;
            start = nl + 1;
        }
        size_t rest = c->in_n - (size_t)(start - c->in);
        memmove(c->in, start, rest);
        c->in_n = rest;
        if (c->in_n == CHASE_SLURM_WIRE_MAX_LINE)
            return -1; /* a line longer than any message */
    }
}

static void broadcast(chase_slurm_net_t *n, const event_t *ev)
{
    for (size_t i = 0; i < n->n_conns; i++) {
        conn_t *c = &n->conns[i];
        if (c->node < 0 || !c->greeted || c->closing)
            continue;
        int bad = 0;
        if (ev->type == EV_SET)
            bad = send_msg(n, c, "set", value_msg("value", ev->value));
        else if (ev->type == EV_MARK)
            bad = send_msg(n, c, "mark", value_msg("mark", ev->id));
        else
            bad = send_msg(n, c, "end", cJSON_CreateObject());
        if (bad) {
            warn_once(n, W_DROPPED, "dropped node %d: it does not read what the leader sends", c->node);
            c->node = -1;
            c->deadline = 0;
        }
    }
}

static void accept_all(chase_slurm_net_t *n)
{
    for (;;) {
        int fd = accept4(n->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (n->n_conns == n->max_conns) {
            close(fd); /* more than a step's followers: someone else is knocking */
            pthread_mutex_lock(&n->mu);
            n->refused++;
            pthread_mutex_unlock(&n->mu);
            continue;
        }
        n->conns[n->n_conns++] = (conn_t){.fd = fd, .node = -1, .deadline = mono_now() + HELLO_TIMEOUT_S};
    }
}

static void *net_main(void *arg)
{
    chase_slurm_net_t *n = arg;
    struct pollfd *fds = calloc(n->max_conns + 2, sizeof *fds);
    if (!fds)
        return NULL;
    double stop_by = 0;
    for (;;) {
        double now = mono_now();
        pthread_mutex_lock(&n->mu);
        event_t *q = n->q;
        size_t qn = n->qn;
        n->q = NULL;
        n->qn = n->qcap = 0;
        int stop = n->stop;
        for (size_t k = 0; k < qn; k++) {
            if (q[k].type == EV_SET) {
                n->value = q[k].value;
                n->have_value = 1;
            } else if (q[k].type == EV_END) {
                n->ended = 1;
            }
        }
        pthread_mutex_unlock(&n->mu);
        answer_joined(n); /* before the events: a follower greeted now learns the decision in force from greet */
        for (size_t k = 0; k < qn; k++)
            broadcast(n, &q[k]);
        free(q);
        if (now >= n->next_ping) {
            /* A ping carries the decision in force, so a follower that fell back finds it again at once. */
            pthread_mutex_lock(&n->mu);
            int have = n->have_value && !n->ended;
            double v = n->value;
            pthread_mutex_unlock(&n->mu);
            for (size_t i = 0; i < n->n_conns; i++)
                if (n->conns[i].node > 0 && n->conns[i].greeted && !n->conns[i].closing &&
                    send_msg(n, &n->conns[i], "ping", have ? value_msg("value", v) : cJSON_CreateObject()))
                    n->conns[i].node = -1, n->conns[i].deadline = 0;
            n->next_ping = now + n->ping_s;
        }
        if (stop && !stop_by)
            stop_by = now + 1;
        int pending = 0;
        for (size_t i = 0; i < n->n_conns; i++)
            pending |= n->conns[i].out_n > 0;
        if (stop && (!pending || now >= stop_by))
            break;
        /* Connections that did not say who they are in time go, and those told the step is refused. */
        for (size_t i = 0; i < n->n_conns;)
            if (n->conns[i].closing && !n->conns[i].out_n) {
                conn_close(n, i);
            } else if (n->conns[i].node < 0 && now >= n->conns[i].deadline) {
                if (n->conns[i].deadline > 0) {
                    pthread_mutex_lock(&n->mu);
                    n->refused++;
                    pthread_mutex_unlock(&n->mu);
                }
                conn_close(n, i);
            } else {
                i++;
            }
        nfds_t nf = 0;
        fds[nf++] = (struct pollfd){n->wake[0], POLLIN, 0};
        fds[nf++] = (struct pollfd){stop ? -1 : n->lfd, POLLIN, 0};
        double wait = n->next_ping - now;
        for (size_t i = 0; i < n->n_conns; i++) {
            fds[nf++] = (struct pollfd){n->conns[i].fd, (short)(POLLIN | (n->conns[i].out_n ? POLLOUT : 0)), 0};
            if (n->conns[i].node < 0)
                wait = fmin(wait, n->conns[i].deadline - now);
        }
        if (stop)
            wait = fmin(wait, 0.05);
        int r = poll(fds, nf, (int)ceil(fmax(0, wait) * 1000));
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        if (fds[0].revents) {
            char buf[256];
            while (read(n->wake[0], buf, sizeof buf) > 0)
                ;
        }
        size_t before = n->n_conns;
        /* Walk backwards: closing i moves the last connection into its place. */
        for (size_t i = before; i-- > 0;) {
            short rev = fds[2 + i].revents;
            int bad = 0;
            if (rev & POLLIN)
                bad = conn_read(n, i) < 0;
            if (!bad && (rev & POLLOUT))
                bad = chase_slurm_wire_flush(n->conns[i].fd, n->conns[i].out, &n->conns[i].out_n) < 0;
            if (!bad && (rev & (POLLERR | POLLHUP)) && !(rev & POLLIN))
                bad = 1;
            if (bad)
                conn_close(n, i);
        }
        if (fds[1].revents & POLLIN)
            accept_all(n);
    }
    while (n->n_conns)
        conn_close(n, n->n_conns - 1);
    free(fds);
    return NULL;
}

/* Binds the first free port of the step's sequence, on every address (followers may come over any network the
 * nodes share; munge, not the address, is what admits them). */
static int bind_port(chase_slurm_net_t *n, int *port, chase_err_t *err)
{
    int tries = chase_slurm_port_tries(n->o.port_lo, n->o.port_hi), last_errno = 0;
    for (int k = 0; k < tries; k++) {
        int p = chase_slurm_port(n->o.job, n->o.step, n->o.port_lo, n->o.port_hi, k);
        int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int v6 = fd >= 0;
        if (fd < 0)
            fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return chase_err_set(err, CHASE_EIO, "socket: %s", strerror(errno));
        int one = 1, zero = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        int rc;
        if (v6) {
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
            struct sockaddr_in6 a = {
                .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)p), .sin6_addr = IN6ADDR_ANY_INIT};
            rc = bind(fd, (struct sockaddr *)&a, sizeof a);
        } else {
            struct sockaddr_in a = {
                .sin_family = AF_INET, .sin_port = htons((uint16_t)p), .sin_addr.s_addr = htonl(INADDR_ANY)};
            rc = bind(fd, (struct sockaddr *)&a, sizeof a);
        }
        if (rc == 0 && listen(fd, 64) == 0) {
            n->lfd = fd;
            *port = p;
            return CHASE_OK;
        }
        last_errno = errno;
        close(fd);
    }
    return chase_err_set(err, CHASE_EIO,
                         "no free port among the %d this step may use in %d-%d (%s): change ports= "
                         "in plugstack.conf",
                         tries, n->o.port_lo, n->o.port_hi, strerror(last_errno));
}

int chase_slurm_net_start(const chase_slurm_net_opts_t *o, chase_slurm_net_t **out, int *port, chase_err_t *err)
{
    *out = NULL;
    chase_slurm_net_t *n = calloc(1, sizeof *n);
    if (!n)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    n->o = *o;
    n->lfd = -1;
    n->wake[0] = n->wake[1] = -1;
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    n->ping_s = chase_slurm_ping_s(o->period_s);
    n->lost_after_s = chase_slurm_lost_after_s(o->period_s);
    n->max_conns = (size_t)(o->n_nodes > 1 ? o->n_nodes - 1 : 0) + SPARE_CONNS;
    n->peers = calloc((size_t)(o->n_nodes > 0 ? o->n_nodes : 1), sizeof *n->peers);
    n->conns = calloc(n->max_conns, sizeof *n->conns);
    int rc = !n->peers || !n->conns ? chase_err_set(err, CHASE_ENOMEM, "out of memory") : CHASE_OK;
    if (rc == CHASE_OK)
        rc = chase_slurm_wire_open(o->munge_socket, o->job, o->step, 0, o->peer_uid, &n->wire, err);
    if (rc == CHASE_OK && pipe2(n->wake, O_CLOEXEC | O_NONBLOCK))
        rc = chase_err_set(err, CHASE_EIO, "pipe: %s", strerror(errno));
    if (rc == CHASE_OK)
        rc = bind_port(n, port, err);
    if (rc == CHASE_OK) {
        int e = pthread_create(&n->thread, NULL, net_main, n);
        if (e)
            rc = chase_err_set(err, CHASE_EIO, "cannot start the leader's network thread: %s", strerror(e));
        else
            n->running = 1;
    }
    if (rc != CHASE_OK) {
        chase_slurm_net_free(n);
        return rc;
    }
    *out = n;
    return CHASE_OK;
}

void chase_slurm_net_wait_finals(chase_slurm_net_t *n, double timeout_s)
{
    wait_for(n, final_missing, timeout_s);
}

void chase_slurm_net_stop(chase_slurm_net_t *n)
{
    if (!n || !n->running)
        return;
    pthread_mutex_lock(&n->mu);
    n->stop = 1;
    pthread_mutex_unlock(&n->mu);
    poke(n);
    pthread_join(n->thread, NULL);
    n->running = 0;
}

const chase_slurm_peer_t *chase_slurm_net_peer(const chase_slurm_net_t *n, int node)
{
    return n && node > 0 && node < n->o.n_nodes ? &n->peers[node] : NULL;
}

const double *chase_slurm_net_marks(const chase_slurm_net_t *n, size_t *count)
{
    *count = n ? n->n_marks : 0;
    return n ? n->mark_t : NULL;
}

unsigned chase_slurm_net_refused(const chase_slurm_net_t *n)
{
    return n ? n->refused : 0;
}

void chase_slurm_net_free(chase_slurm_net_t *n)
{
    if (!n)
        return;
    chase_slurm_net_stop(n);
    if (n->lfd >= 0)
        close(n->lfd);
    for (int i = 0; i < 2; i++)
        if (n->wake[i] >= 0)
            close(n->wake[i]);
    for (int k = 0; n->peers && k < n->o.n_nodes; k++) {
        cJSON_Delete(n->peers[k].gpus);
        cJSON_Delete(n->peers[k].final);
        free(n->peers[k].samples);
    }
    free(n->peers);
    free(n->conns);
    free(n->q);
    free(n->mark_t);
    chase_slurm_wire_free(n->wire);
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    free(n);
}
