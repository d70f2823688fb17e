/* The sending side of the progress channel, for C/C++ training code.
 *
 * A step costs a counter increment and a coarse clock read; a datagram goes out at most every interval_s, carrying
 * cumulative totals, so the ~1-2 us of a sendto is paid a few times a second rather than once per step. */
#include "chase/progress.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct chase_progress_client {
    int fd;
    int64_t rank; /* -1: not sent */
    long pid;
    int64_t interval_ns;
    int64_t next_send_ns;    /* coarse-clock time at which the next step may send */
    uint64_t steps, samples; /* cumulative */
    uint64_t sent_steps;     /* steps in the last datagram that went out */
    uint64_t dropped;
};

static int64_t coarse_now_ns(void)
{
    struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int chase_progress_client_open(const char *address, int rank, double interval_s, chase_progress_client_t **out,
                               chase_err_t *err)
{
    *out = NULL;
    if (!address)
        address = getenv(CHASE_PROGRESS_ENV);
    if (!address || !*address)
        return chase_err_set(err, CHASE_ENOTFOUND, "%s is not set: not running under chase run", CHASE_PROGRESS_ENV);
    if (strncmp(address, "unix:", 5) != 0)
        return chase_err_set(err, CHASE_EINVAL, "%s=%s: expected unix:/path", CHASE_PROGRESS_ENV, address);
    const char *path = address + 5;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t plen = strlen(path);
    if (plen == 0 || plen >= sizeof sa.sun_path)
        return chase_err_set(err, CHASE_EINVAL, "%s=%s: path empty or longer than %zu bytes", CHASE_PROGRESS_ENV,
                             address, sizeof sa.sun_path - 1);
    memcpy(sa.sun_path, path, plen);
    socklen_t salen = (socklen_t)sizeof sa;
    if (path[0] == '@') { /* abstract namespace: no trailing NUL counted */
        sa.sun_path[0] = '\0';
        salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
    }

    if (rank < 0) {
        const char *r = getenv("RANK");
        char *end = NULL;
        long v = r && *r ? strtol(r, &end, 10) : -1;
        rank = (r && *r && end && *end == '\0' && v >= 0 && v < 1L << 30) ? (int)v : -1;
    }
    if (interval_s < 0) {
        const char *iv = getenv("CHASE_PROGRESS_INTERVAL");
        char *end = NULL;
        double v = iv && *iv ? strtod(iv, &end) : -1;
        interval_s = (iv && *iv && end && *end == '\0' && v >= 0 && v <= 60) ? v : 0.1;
    }

    chase_progress_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return chase_err_set(err, CHASE_ENOMEM, "progress client: out of memory");
    c->rank = rank;
    c->pid = (long)getpid();
    c->interval_ns = (int64_t)(interval_s * 1e9);
    c->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        int e = errno;
        free(c);
        return chase_err_set(err, CHASE_EIO, "progress client: socket: %s", strerror(e));
    }
    if (connect(c->fd, (struct sockaddr *)&sa, salen) != 0) {
        int e = errno;
        close(c->fd);
        free(c);
        return chase_err_set(err, CHASE_EIO, "progress client: connect %s: %s", address, strerror(e));
    }
    *out = c;
    return CHASE_OK;
}

/* Sends the totals; with patience_s > 0 a full queue (chase busy) is retried for that long, but a chase that is
 * gone (refused, no socket) is never waited for. Returns 0 when sent. */
static int send_totals_within(chase_progress_client_t *c, double patience_s);

static void send_totals(chase_progress_client_t *c)
{
    (void)send_totals_within(c, 0);
}

static int send_totals_within(chase_progress_client_t *c, double patience_s)
{
    char msg[CHASE_PROGRESS_MAX_MSG];
    int n;
    if (c->rank >= 0)
        n = snprintf(msg, sizeof msg, "chase1 step=%llu samples=%llu rank=%lld pid=%ld\n", (unsigned long long)c->steps,
                     (unsigned long long)c->samples, (long long)c->rank, c->pid);
    else
        n = snprintf(msg, sizeof msg, "chase1 step=%llu samples=%llu pid=%ld\n", (unsigned long long)c->steps,
                     (unsigned long long)c->samples, c->pid);
    if (n <= 0 || (size_t)n >= sizeof msg)
        return -1;
    int64_t give_up = coarse_now_ns() + (int64_t)(patience_s * 1e9);
    for (;;) {
        if (send(c->fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == n) {
            c->sent_steps = c->steps;
            return 0;
        }
        /* EAGAIN: chase's queue is full, it is busy and will read; anything else: chase is gone. */
        if ((errno != EAGAIN && errno != EWOULDBLOCK) || coarse_now_ns() >= give_up) {
            c->dropped++; /* the next datagram carries the totals anyway */
            return -1;
        }
        struct timespec ts = {0, 2000000}; /* 2 ms */
        nanosleep(&ts, NULL);
    }
}

void chase_progress_client_step(chase_progress_client_t *c, uint64_t samples)
{
    if (!c)
        return;
    c->steps++;
    c->samples += samples;
    int64_t now = coarse_now_ns();
    if (now >= c->next_send_ns) {
        c->next_send_ns = now + c->interval_ns;
        send_totals(c);
    }
}

void chase_progress_client_flush(chase_progress_client_t *c)
{
    /* The last totals are the ones that count: wait a little for a busy chase rather than lose them. */
    if (c && c->steps != c->sent_steps)
        (void)send_totals_within(c, CHASE_PROGRESS_FLUSH_PATIENCE_S);
}

uint64_t chase_progress_client_dropped(const chase_progress_client_t *c)
{
    return c ? c->dropped : 0;
}

void chase_progress_client_close(chase_progress_client_t *c)
{
    if (!c)
        return;
    chase_progress_client_flush(c);
    close(c->fd);
    free(c);
}
