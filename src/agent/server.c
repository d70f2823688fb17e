/* The agent's server (chase/agent.h): one thread, one epoll loop, non-blocking sockets, as redis's ae.c and anet.c.
 *
 * Each connection has a fixed input buffer of one request (CHASE_AGENT_REQUEST_MAX bytes) and at most one reply in
 * flight: while a reply waits for the client to read it, that client's further requests wait in the kernel. So a
 * client that sends nothing, sends slowly or never reads costs one slot and a few kilobytes, and never delays
 * another. A connection's session ends the moment the kernel says the connection is gone (EOF, HUP, an error):
 * that is how a killed client's GPUs come back within the loop's next turn. */
/* accept4 and MSG_CMSG_CLOEXEC are Linux extensions. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/access.h"
#include "agent/listen.h"
#include "agent/log.h"
#include "agent/state.h"
#include "agent/table.h"
#include "chase/agent.h"
#include "gpu/agent_proto.h"

#ifndef CHASE_VERSION
#define CHASE_VERSION "?"
#endif

#define PARTIAL_TIMEOUT_S 10.0 /* a request begun and not finished within this is dropped (slowloris) */
#define TICK_MS 1000
#define TOKEN_LISTEN 0
#define TOKEN_STOP 1
#define TOKEN_CLIENT 2

typedef struct client {
    int fd; /* -1: a free slot */
    chase_agent_peer_t peer;
    char in[CHASE_AGENT_REQUEST_MAX];
    size_t in_len;
    double partial_since; /* when the unfinished request in `in` began (0: none) */
    char *out;            /* the reply in flight */
    size_t out_len, out_off;
    int fds[CHASE_AGENT_CLAIM_MAX]; /* descriptors received, for the next claim */
    int n_fds;
    chase_agent_session_t *session;
    int closing;        /* close once the reply in flight is sent */
    int said_malformed; /* log a client's malformed requests once */
    unsigned events;    /* what epoll watches for it */
} client_t;

struct chase_agent {
    const chase_agent_config_t *cfg;
    chase_gpu_t *gpu;
    chase_agent_table_t *table;
    int lock_fd, listen_fd, ep;
    char socket_path[128];
    dev_t socket_dev;
    ino_t socket_ino;
    client_t *clients;
    int cap;
    size_t n_clients;
    double last_sweep, last_full_warning;
    void (*on_log)(void *arg, chase_agent_log_level_t level, const char *msg);
    void *log_arg;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void table_log(void *arg, chase_agent_log_level_t level, const char *msg)
{
    chase_agent_t *a = arg;
    chase_agent_logf(a->on_log, a->log_arg, level, "%s", msg);
}

static void close_fds(client_t *c)
{
    for (int i = 0; i < c->n_fds; i++)
        close(c->fds[i]);
    c->n_fds = 0;
}

/* Ends the connection: its session first, so that its GPUs are back before anything else happens. */
static void drop(chase_agent_t *a, client_t *c, const char *why)
{
    if (c->session) {
        (void)chase_agent_table_release(a->table, c->session, why, NULL);
        c->session = NULL;
    }
    close_fds(c);
    epoll_ctl(a->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    c->fd = -1;
    a->n_clients--;
}

static void watch(chase_agent_t *a, client_t *c, unsigned events)
{
    if (c->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.u64 = TOKEN_CLIENT + (uint64_t)(c - a->clients)};
    epoll_ctl(a->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = events;
}

/* Sends what it can of the reply in flight; 0, or -1 when the client was dropped. */
static int flush(chase_agent_t *a, client_t *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            watch(a, c, EPOLLOUT | EPOLLRDHUP); /* read nothing more until the client takes its reply */
            return 0;
        } else {
            drop(a, c, "connection lost");
            return -1;
        }
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    if (c->closing) {
        drop(a, c, "connection closed by chased");
        return -1;
    }
    watch(a, c, EPOLLIN | EPOLLRDHUP);
    return 0;
}

/* Makes reply r the reply in flight (r freed); on failure to print, the client is told nothing and dropped. */
static int put_reply(chase_agent_t *a, client_t *c, cJSON *r)
{
    size_t len = 0;
    char *line = chase_agent_reply_print(r, &len);
    if (!line) {
        drop(a, c, "out of memory");
        return -1;
    }
    free(c->out);
    c->out = line;
    c->out_len = len;
    c->out_off = 0;
    return flush(a, c);
}

static int put_error(chase_agent_t *a, client_t *c, long long id, int code, const char *msg)
{
    return put_reply(a, c, chase_agent_reply_error(id, code, msg));
}

static cJSON *reply_hello(chase_agent_t *a, client_t *c, long long id)
{
    cJSON *r = chase_agent_reply_new(id);
    if (!r)
        return NULL;
    cJSON_AddStringToObject(r, "agent", "chased " CHASE_VERSION);
    cJSON_AddNumberToObject(r, "protocol", CHASE_AGENT_PROTOCOL);
    cJSON_AddNumberToObject(r, "uid", (double)c->peer.uid);
    cJSON_AddNumberToObject(r, "gid", (double)c->peer.gid);
    cJSON_AddNumberToObject(r, "pid", (double)c->peer.pid);
    cJSON_AddBoolToObject(r, "may_set", c->peer.may_set);
    cJSON_AddBoolToObject(r, "require_device_access", a->cfg->require_device_access);
    cJSON_AddNumberToObject(r, "gpus", chase_agent_table_size(a->table));
    cJSON_AddNumberToObject(r, "request_max", CHASE_AGENT_REQUEST_MAX);
    return r;
}

static cJSON *reply_devices(chase_agent_t *a, long long id)
{
    cJSON *r = chase_agent_reply_new(id), *arr = cJSON_AddArrayToObject(r, "gpus");
    for (int i = 0; arr && i < chase_agent_table_size(a->table); i++) {
        cJSON *o = cJSON_CreateObject();
        chase_agent_gpu_t g;
        chase_err_t e;
        chase_err_clear(&e);
        int rc = chase_agent_table_describe(a->table, i, &g, &e);
        if (rc == CHASE_OK) {
            chase_agent_gpu_to_json(&g, o);
        } else {
            cJSON_AddNumberToObject(o, "index", i);
            cJSON_AddStringToObject(o, "error", chase_agent_code_name(rc));
            cJSON_AddStringToObject(o, "message", e.msg);
        }
        cJSON_AddItemToArray(arr, o);
    }
    return r;
}

static cJSON *reply_claim(chase_agent_t *a, client_t *c, const chase_agent_request_t *q, chase_err_t *err)
{
    if (c->session) {
        chase_err_set(err, CHASE_ESTATE, "this connection already holds session %llu: release it first",
                      chase_agent_session_id(c->session));
        return NULL;
    }
    if (chase_agent_table_claim(a->table, &c->peer, q->gpus, q->n_gpus, c->fds, c->n_fds, &c->session, err) !=
        CHASE_OK) {
        chase_agent_logf(a->on_log, a->log_arg, CHASE_AGENT_WARNING, "uid %u (pid %d): claim refused: %s",
                         (unsigned)c->peer.uid, (int)c->peer.pid, err->msg);
        return NULL;
    }
    cJSON *r = chase_agent_reply_new(q->id), *arr = cJSON_AddArrayToObject(r, "gpus");
    cJSON_AddNumberToObject(r, "session", (double)chase_agent_session_id(c->session));
    for (int i = 0; arr && i < chase_agent_session_size(c->session); i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", chase_agent_session_gpu(c->session, i));
        cJSON_AddNumberToObject(o, "original_power_limit_w", chase_agent_session_original(c->session, i));
        cJSON_AddItemToArray(arr, o);
    }
    return r;
}

/* Answers one request; NULL with err set for an error reply. */
static cJSON *answer(chase_agent_t *a, client_t *c, const chase_agent_request_t *q, chase_err_t *err)
{
    cJSON *r;
    chase_agent_gpu_t g;
    double j;
    int rc;
    switch (q->op) {
    case CHASE_AGENT_OP_HELLO: return reply_hello(a, c, q->id);
    case CHASE_AGENT_OP_DEVICES: return reply_devices(a, q->id);
    case CHASE_AGENT_OP_INFO:
        if (chase_agent_table_describe(a->table, q->gpu, &g, err) != CHASE_OK)
            return NULL;
        r = chase_agent_reply_new(q->id);
        chase_agent_gpu_to_json(&g, cJSON_AddObjectToObject(r, "gpu"));
        return r;
    case CHASE_AGENT_OP_ENERGY:
        if (chase_agent_table_energy(a->table, q->gpu, &j, err) != CHASE_OK)
            return NULL;
        r = chase_agent_reply_new(q->id);
        cJSON_AddNumberToObject(r, "energy_j", j);
        return r;
    case CHASE_AGENT_OP_CLAIM: return reply_claim(a, c, q, err);
    case CHASE_AGENT_OP_SET:
        if (!c->session) {
            if (!c->peer.may_set)
                chase_err_set(err, CHASE_EPERM, "uid %u may not set GPU settings on this machine",
                              (unsigned)c->peer.uid);
            else
                chase_err_set(err, CHASE_ESTATE, "no session: claim GPU %d first", q->gpu);
            return NULL;
        }
        if (chase_agent_table_set(a->table, c->session, q->gpu, &q->setting, err) != CHASE_OK)
            return NULL;
        return chase_agent_reply_new(q->id);
    case CHASE_AGENT_OP_RELEASE:
        if (!c->session) {
            chase_err_set(err, CHASE_ESTATE, "no session to release");
            return NULL;
        }
        rc = chase_agent_table_release(a->table, c->session, "released", err);
        c->session = NULL;
        return rc == CHASE_OK ? chase_agent_reply_new(q->id) : NULL;
    default: chase_err_set(err, CHASE_ENOTSUP, "unknown op"); return NULL;
    }
}

/* Handles one complete request line; 0, or -1 when the client was dropped. */
static int handle_line(chase_agent_t *a, client_t *c, const char *line, size_t len)
{
    chase_agent_request_t q;
    chase_err_t err;
    chase_err_clear(&err);
    int rc = chase_agent_request_parse(line, len, &q, &err);
    if (rc != CHASE_OK) {
        if (!c->said_malformed++)
            chase_agent_logf(a->on_log, a->log_arg, CHASE_AGENT_WARNING, "uid %u (pid %d): bad request: %s",
                             (unsigned)c->peer.uid, (int)c->peer.pid, err.msg);
        return put_error(a, c, q.id, rc, err.msg);
    }
    cJSON *r = answer(a, c, &q, &err);
    if (q.op == CHASE_AGENT_OP_CLAIM)
        close_fds(c); /* a claim consumes the descriptors sent before it, whatever its outcome */
    if (!r)
        return put_error(a, c, q.id, err.code ? err.code : CHASE_ENOMEM, err.msg);
    return put_reply(a, c, r);
}

/* Answers the complete requests in the buffer, one reply in flight at a time; 0, or -1 when dropped. */
static int process(chase_agent_t *a, client_t *c)
{
    int consumed = 0;
    while (!c->out_len) {
        char *nl = memchr(c->in, '\n', c->in_len);
        if (!nl)
            break;
        size_t len = (size_t)(nl - c->in);
        char line[CHASE_AGENT_REQUEST_MAX];
        memcpy(line, c->in, len);
        c->in_len -= len + 1;
        memmove(c->in, nl + 1, c->in_len);
        consumed = 1;
        if (handle_line(a, c, line, len) != 0)
            return -1;
    }
    if (c->in_len == sizeof c->in && !c->out_len && !memchr(c->in, '\n', c->in_len)) {
        chase_agent_logf(a->on_log, a->log_arg, CHASE_AGENT_WARNING,
                         "uid %u (pid %d): request longer than %d bytes: connection closed", (unsigned)c->peer.uid,
                         (int)c->peer.pid, CHASE_AGENT_REQUEST_MAX - 1);
        c->closing = 1;
        c->in_len = 0;
        char msg[120];
        snprintf(msg, sizeof msg, "request longer than %d bytes: the connection is closed",
                 CHASE_AGENT_REQUEST_MAX - 1);
        return put_error(a, c, -1, CHASE_EFORMAT, msg);
    }
    /* The clock of an unfinished request starts with its first byte. */
    if (c->in_len == 0)
        c->partial_since = 0;
    else if (consumed || c->partial_since == 0)
        c->partial_since = now_s();
    return 0;
}

/* Keeps descriptors that came with the bytes just read; 0, or -1 when they are more than a claim may carry. */
static int take_fds(client_t *c, struct msghdr *mh)
{
    int over = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
            if (c->n_fds < CHASE_AGENT_CLAIM_MAX)
                c->fds[c->n_fds++] = fd;
            else {
                close(fd);
                over = 1;
            }
        }
    }
    return over || (mh->msg_flags & MSG_CTRUNC) ? -1 : 0;
}

static void client_read(chase_agent_t *a, client_t *c)
{
    if (c->out_len || c->closing)
        return;
    struct iovec iov = {c->in + c->in_len, sizeof c->in - c->in_len};
    union {
        char buf[CMSG_SPACE(sizeof(int) * CHASE_AGENT_CLAIM_MAX)];
        struct cmsghdr align;
    } control;
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n > 0 && take_fds(c, &mh) != 0) {
        chase_agent_logf(a->on_log, a->log_arg, CHASE_AGENT_WARNING,
                         "uid %u (pid %d): more descriptors than a claim may carry: connection closed",
                         (unsigned)c->peer.uid, (int)c->peer.pid);
        c->closing = 1;
        (void)put_error(a, c, -1, CHASE_EFORMAT, "more descriptors than a claim may carry: the connection is closed");
        return;
    }
    if (n <= 0) {
        if (n == 0)
            (void)take_fds(c, &mh); /* closed by drop */
        drop(a, c, n == 0 ? "connection closed" : "connection lost");
        return;
    }
    c->in_len += (size_t)n;
    (void)process(a, c);
}

static void client_event(chase_agent_t *a, client_t *c, unsigned events)
{
    if (events & EPOLLOUT) {
        if (flush(a, c) != 0)
            return;
        if (process(a, c) != 0) /* requests that waited for the reply to go */
            return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        if (c->out_len || c->closing) {
            /* Not reading now: only a connection that is gone matters. */
            if (events & (EPOLLHUP | EPOLLERR))
                drop(a, c, "connection closed");
            return;
        }
        client_read(a, c);
    }
}

/* Refuses a connection with one error line, sent without waiting. */
static void refuse(int fd, const char *msg)
{
    size_t len = 0;
    char *line = chase_agent_reply_print(chase_agent_reply_error(-1, CHASE_ESTATE, msg), &len);
    if (line)
        (void)send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    free(line);
    close(fd);
}

static void accept_clients(chase_agent_t *a)
{
    for (int k = 0; k < 64; k++) {
        int fd = accept4(a->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a connection that went away before it was taken */
        chase_agent_peer_t peer;
        chase_err_t err;
        if (chase_agent_peer_read(fd, a->cfg, &peer, &err) != CHASE_OK) {
            chase_agent_logf(a->on_log, a->log_arg, CHASE_AGENT_WARNING, "%s: connection refused", err.msg);
            close(fd);
            continue;
        }
        size_t mine = 0;
        for (int i = 0; i < a->cap; i++)
            mine += a->clients[i].fd >= 0 && a->clients[i].peer.uid == peer.uid;
        char msg[200];
        if ((int)a->n_clients >= a->cfg->max_clients || (int)mine >= a->cfg->max_clients_per_user) {
            int all = (int)a->n_clients >= a->cfg->max_clients;
            snprintf(msg, sizeof msg, "chased serves %d connections at once%s (%s): try again later",
                     all ? a->cfg->max_clients : a->cfg->max_clients_per_user, all ? "" : " per user",
                     all ? "max_clients" : "max_clients_per_user");
            if (now_s() - a->last_full_warning > 10) {
                chase_agent_logf(a->on_log, a->log_arg, CHASE_AGENT_WARNING, "uid %u (pid %d): %s", (unsigned)peer.uid,
                                 (int)peer.pid, msg);
                a->last_full_warning = now_s();
            }
            refuse(fd, msg);
            continue;
        }
        int slot = 0;
        while (a->clients[slot].fd >= 0)
            slot++;
        client_t *c = &a->clients[slot];
        memset(c, 0, sizeof *c);
        c->fd = fd;
        c->peer = peer;
        c->events = EPOLLIN | EPOLLRDHUP;
        struct epoll_event ev = {.events = c->events, .data.u64 = TOKEN_CLIENT + (uint64_t)slot};
        if (epoll_ctl(a->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            c->fd = -1;
            continue;
        }
        a->n_clients++;
    }
}

/* Drops clients that began a request and did not finish it in time. */
static void sweep(chase_agent_t *a, double now)
{
    if (now - a->last_sweep < 1.0)
        return;
    a->last_sweep = now;
    for (int i = 0; i < a->cap; i++) {
        client_t *c = &a->clients[i];
        if (c->fd < 0 || !c->partial_since || now - c->partial_since < PARTIAL_TIMEOUT_S || c->out_len)
            continue;
        chase_agent_logf(a->on_log, a->log_arg, CHASE_AGENT_WARNING,
                         "uid %u (pid %d): a request not finished within %.0f s: connection closed",
                         (unsigned)c->peer.uid, (int)c->peer.pid, PARTIAL_TIMEOUT_S);
        c->closing = 1;
        c->in_len = 0;
        c->partial_since = 0;
        (void)put_error(a, c, -1, CHASE_ETIMEOUT, "a request must arrive whole within 10 s: the connection is closed");
    }
}

int chase_agent_open(const chase_agent_opts_t *o, chase_agent_t **out, chase_err_t *err)
{
    *out = NULL;
    if (!o || !o->config || !o->gpu)
        return chase_err_set(err, CHASE_EINVAL, "chase_agent_open: a configuration and a GPU backend are required");
    chase_agent_t *a = calloc(1, sizeof *a);
    if (!a)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    a->cfg = o->config;
    a->gpu = o->gpu;
    a->on_log = o->on_log;
    a->log_arg = o->log_arg;
    a->lock_fd = a->listen_fd = a->ep = -1;
    a->cap = o->config->max_clients;
    snprintf(a->socket_path, sizeof a->socket_path, "%s", o->socket_path ? o->socket_path : CHASE_AGENT_DEFAULT_SOCKET);
    const char *state = o->state_dir ? o->state_dir : CHASE_AGENT_DEFAULT_STATE_DIR;
    int rc;
    if (!(a->clients = calloc((size_t)(a->cap > 0 ? a->cap : 1), sizeof *a->clients))) {
        free(a);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    for (int i = 0; i < a->cap; i++)
        a->clients[i].fd = -1;
    /* The GPUs first: even a configuration that stops the daemon must not keep a killed agent's changes. */
    if ((rc = chase_agent_state_lock(state, &a->lock_fd, err)) != CHASE_OK)
        goto fail;
    chase_agent_state_recover(a->gpu, state, table_log, a);
    if ((rc = chase_agent_table_open(a->cfg, a->gpu, state, table_log, a, &a->table, err)) != CHASE_OK)
        goto fail;
    if ((a->ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        rc = chase_err_set(err, CHASE_EIO, "epoll_create1: %s", strerror(errno));
        goto fail;
    }
    if ((rc = chase_agent_listen(a->socket_path, &a->listen_fd, &a->socket_dev, &a->socket_ino, err)) != CHASE_OK)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TOKEN_LISTEN};
    if (epoll_ctl(a->ep, EPOLL_CTL_ADD, a->listen_fd, &ev) != 0) {
        rc = chase_err_set(err, CHASE_EIO, "epoll_ctl: %s", strerror(errno));
        goto fail;
    }
    *out = a;
    return CHASE_OK;
fail:
    chase_agent_free(a);
    return rc;
}

int chase_agent_serve(chase_agent_t *a, int stop_fd, chase_err_t *err)
{
    if (stop_fd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TOKEN_STOP};
        if (epoll_ctl(a->ep, EPOLL_CTL_ADD, stop_fd, &ev) != 0 && errno != EEXIST)
            return chase_err_set(err, CHASE_EIO, "epoll_ctl: %s", strerror(errno));
    }
    struct epoll_event events[64];
    int stop = 0;
    while (!stop) {
        int n = epoll_wait(a->ep, events, 64, TICK_MS);
        if (n < 0 && errno != EINTR)
            return chase_err_set(err, CHASE_EIO, "epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            uint64_t token = events[i].data.u64;
            if (token == TOKEN_LISTEN)
                accept_clients(a);
            else if (token == TOKEN_STOP)
                stop = 1;
            else if (token - TOKEN_CLIENT < (uint64_t)a->cap && a->clients[token - TOKEN_CLIENT].fd >= 0)
                client_event(a, &a->clients[token - TOKEN_CLIENT], events[i].events);
        }
        sweep(a, now_s());
    }
    if (stop_fd >= 0)
        epoll_ctl(a->ep, EPOLL_CTL_DEL, stop_fd, NULL);
    return CHASE_OK;
}

size_t chase_agent_sessions(const chase_agent_t *a)
{
    return chase_agent_table_sessions(a->table);
}
size_t chase_agent_clients(const chase_agent_t *a)
{
    return a->n_clients;
}

void chase_agent_free(chase_agent_t *a)
{
    if (!a)
        return;
    for (int i = 0; a->clients && i < a->cap; i++)
        if (a->clients[i].fd >= 0)
            drop(a, &a->clients[i], "chased is stopping");
    chase_agent_table_free(a->table);
    if (a->listen_fd >= 0) {
        close(a->listen_fd);
        chase_agent_unlisten(a->socket_path, a->socket_dev, a->socket_ino);
    }
    if (a->ep >= 0)
        close(a->ep);
    if (a->lock_fd >= 0)
        close(a->lock_fd);
    free(a->clients);
    free(a);
}
