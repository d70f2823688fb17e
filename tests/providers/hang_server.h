/* A loopback HTTP server in a thread of the test program, for the faults fake_api.py does not cover: an API that
 * accepts and never answers, one that never even accepts (a black hole: its accept queue is kept full, so new
 * connections get no answer to their SYN), one that answers slowly, byte by byte, and one that answers the UK
 * API's format after a delay. It counts the connections it accepted. */
#ifndef CHASE_TEST_HANG_SERVER_H
#define CHASE_TEST_HANG_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { HANG_SILENT, HANG_BLACKHOLE, HANG_TRICKLE, HANG_ANSWER };

typedef struct hang_server {
    int mode;
    double delay_s; /* HANG_ANSWER: how long to wait before answering */
    int value;      /* HANG_ANSWER: the CI it answers (g/kWh) */
    int fd, port;
    int held[64]; /* connections kept open without an answer, and the black hole's fillers */
    size_t n_held;
    pthread_t thread;
    int has_thread;
    atomic_int stop, accepted;
} hang_server_t;

static inline void hang_sleep(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* The UK API's national answer: the four half hours before now, actual value g/kWh. */
static inline int hang_body(char *buf, size_t size, int value)
{
    time_t now = time(NULL);
    time_t half = now - now % 1800;
    size_t len = (size_t)snprintf(buf, size, "{\"data\":[");
    for (int i = 4; i >= 1; i--) {
        char from[32], to[32];
        time_t a = half - 1800 * i, b = a + 1800;
        strftime(from, sizeof from, "%Y-%m-%dT%H:%MZ", gmtime(&a));
        strftime(to, sizeof to, "%Y-%m-%dT%H:%MZ", gmtime(&b));
        len += (size_t)snprintf(buf + len, size - len,
                                "%s{\"from\":\"%s\",\"to\":\"%s\",\"intensity\":{\"forecast\":%d,\"actual\":%d}}",
                                i == 4 ? "" : ",", from, to, value + 10, value);
    }
    len += (size_t)snprintf(buf + len, size - len, "]}");
    return (int)len;
}

/* Sleeps s seconds unless told to stop; returns 1 when stopped. */
static inline int hang_wait(hang_server_t *h, double s)
{
    for (double t = 0; t < s; t += 0.02) {
        if (atomic_load(&h->stop))
            return 1;
        hang_sleep(0.02);
    }
    return atomic_load(&h->stop);
}

static inline void hang_serve(hang_server_t *h, int c)
{
    char req[4096];
    if (read(c, req, sizeof req) <= 0) { /* the request (small: one read is enough on loopback) */
        close(c);
        return;
    }
    if (h->mode == HANG_SILENT && h->n_held < 64) {
        h->held[h->n_held++] = c;
        return;
    }
    if (h->mode == HANG_TRICKLE) {
        static const char head[] =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n";
        if (write(c, head, sizeof head - 1) < 0)
            return (void)close(c);
        while (!hang_wait(h, 0.1) && write(c, " ", 1) == 1)
            ;
        close(c);
        return;
    }
    if (hang_wait(h, h->delay_s))
        return (void)close(c);
    char body[2048], head[256];
    int bl = hang_body(body, sizeof body, h->value);
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: "
                      "close\r\n\r\n",
                      bl);
    if (write(c, head, (size_t)hl) == hl && write(c, body, (size_t)bl) == bl)
        shutdown(c, SHUT_WR);
    close(c);
}

static inline void *hang_loop(void *arg)
{
    hang_server_t *h = arg;
    while (!atomic_load(&h->stop)) {
        struct pollfd p = {h->fd, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int c = accept(h->fd, NULL, NULL);
        if (c < 0)
            continue;
        atomic_fetch_add(&h->accepted, 1);
        hang_serve(h, c);
    }
    return NULL;
}

/* Starts a server of mode on a free loopback port (HANG_ANSWER: value g/kWh after delay_s); 0 on success. */
static inline int hang_start(hang_server_t *h, int mode, double delay_s, int value)
{
    memset(h, 0, sizeof *h);
    h->mode = mode;
    h->delay_s = delay_s;
    h->value = value;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (h->fd < 0 || bind(h->fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(h->fd, mode == HANG_BLACKHOLE ? 0 : 16) != 0 || getsockname(h->fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    h->port = ntohs(a.sin_port);
    if (mode == HANG_BLACKHOLE) {
        /* Fill the accept queue: from then on the kernel drops new connections' SYNs, as a firewall would. */
        for (int i = 0; i < 3; i++) {
            int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (c >= 0 && connect(c, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
                close(c);
                continue;
            }
            h->held[h->n_held++] = c;
        }
        hang_sleep(0.1);
        return 0;
    }
    if (pthread_create(&h->thread, NULL, hang_loop, h) != 0)
        return -1;
    h->has_thread = 1;
    return 0;
}

static inline void hang_stop(hang_server_t *h)
{
    atomic_store(&h->stop, 1);
    if (h->has_thread)
        pthread_join(h->thread, NULL);
    for (size_t i = 0; i < h->n_held; i++)
        close(h->held[i]);
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
}

/* "http://127.0.0.1:PORT" */
static inline const char *hang_url(const hang_server_t *h, char *buf, size_t size)
{
    snprintf(buf, size, "http://127.0.0.1:%d", h->port);
    return buf;
}

#endif
