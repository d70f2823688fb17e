/* The receiving side of the progress channel: a Unix datagram socket in a private directory, and the validation of
 * every datagram that arrives on it (senders are other programs: nothing they send may crash chase). */
#include "chase/progress.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "util/grow.h"

/* Largest count accepted: counts travel through doubles on the way to the ledger. */
#define MAX_COUNT (INT64_C(1) << 53)

typedef struct sender {
    int has_rank;
    int64_t rank;
    int64_t pid;
    /* Totals of earlier processes that held this rank (a restarted rank counts from 0 again). */
    double base_steps, base_samples;
    double steps, samples;
} sender_t;

struct chase_progress {
    int fd;
    char dir[96];
    char path[128];
    char address[136];
    sender_t *senders;
    size_t n_senders, cap_senders;
    uint64_t messages, malformed;
    double last_report;
};

/* Parses a decimal count of 1..16 digits into *out; 0 on success. */
static int parse_count(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 16)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > MAX_COUNT)
        return -1;
    *out = v;
    return 0;
}

int chase_progress_parse(const char *data, size_t len, chase_progress_msg_t *out, chase_err_t *err)
{
    if (!data || !out)
        return chase_err_set(err, CHASE_EINVAL, "progress message: NULL argument");
    if (len == 0 || len > CHASE_PROGRESS_MAX_MSG)
        return chase_err_set(err, CHASE_EFORMAT, "progress message: length %zu outside 1..%d bytes", len,
                             CHASE_PROGRESS_MAX_MSG);
    if (data[len - 1] == '\n')
        len--;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)data[i] < 0x20 || (unsigned char)data[i] > 0x7e)
            return chase_err_set(err, CHASE_EFORMAT,
                                 "progress message: byte 0x%02x at offset %zu is not printable "
                                 "ASCII",
                                 (unsigned)(unsigned char)data[i], i);
    out->step = out->samples = out->rank = out->pid = -1;
    size_t i = 0, ntok = 0;
    while (i < len) {
        while (i < len && data[i] == ' ')
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && data[i] != ' ')
            i++;
        const char *tok = data + start;
        size_t tlen = i - start;
        if (ntok++ == 0) {
            if (tlen != 6 || memcmp(tok, "chase1", 6) != 0)
                return chase_err_set(err, CHASE_EFORMAT, "progress message: does not start with \"chase1\" (%.*s)",
                                     (int)(tlen > 16 ? 16 : tlen), tok);
            continue;
        }
        const char *eq = memchr(tok, '=', tlen);
        if (!eq || eq == tok)
            return chase_err_set(err, CHASE_EFORMAT, "progress message: token %zu (%.*s) is not key=value", ntok,
                                 (int)(tlen > 32 ? 32 : tlen), tok);
        size_t klen = (size_t)(eq - tok);
        for (size_t k = 0; k < klen; k++)
            if (!((tok[k] >= 'a' && tok[k] <= 'z') || tok[k] == '_'))
                return chase_err_set(err, CHASE_EFORMAT, "progress message: key %.*s is not [a-z_]+", (int)klen, tok);
        int64_t *slot = NULL;
        if (klen == 4 && !memcmp(tok, "step", 4))
            slot = &out->step;
        else if (klen == 7 && !memcmp(tok, "samples", 7))
            slot = &out->samples;
        else if (klen == 4 && !memcmp(tok, "rank", 4))
            slot = &out->rank;
        else if (klen == 3 && !memcmp(tok, "pid", 3))
            slot = &out->pid;
        if (!slot)
            continue; /* a field from a newer sender: ignored, so the protocol can grow */
        if (*slot != -1)
            return chase_err_set(err, CHASE_EFORMAT, "progress message: key %.*s given twice", (int)klen, tok);
        if (parse_count(eq + 1, tlen - klen - 1, slot) != 0)
            return chase_err_set(err, CHASE_EFORMAT,
                                 "progress message: %.*s is not a count (0..2^53, at most 16 decimal digits)",
                                 (int)(tlen > 40 ? 40 : tlen), tok);
    }
    if (ntok == 0)
        return chase_err_set(err, CHASE_EFORMAT, "progress message: empty");
    if (out->step < 0)
        return chase_err_set(err, CHASE_EFORMAT, "progress message: no step=N field");
    return CHASE_OK;
}

int chase_progress_open(const char *dir, chase_progress_t **out, chase_err_t *err)
{
    *out = NULL;
    if (!dir || !*dir)
        dir = getenv("XDG_RUNTIME_DIR");
    if (!dir || !*dir)
        dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    chase_progress_t *p = calloc(1, sizeof *p);
    if (!p)
        return chase_err_set(err, CHASE_ENOMEM, "progress channel: out of memory");
    p->fd = -1;
    p->last_report = NAN;
    /* A private directory keeps other users from sending fake progress (a datagram socket has no peer check). */
    int n = snprintf(p->dir, sizeof p->dir, "%s/chase-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof p->dir ||
        (size_t)n + sizeof "/progress.sock" > sizeof(struct sockaddr_un) - offsetof(struct sockaddr_un, sun_path)) {
        free(p);
        return chase_err_set(err, CHASE_EINVAL,
                             "progress channel: directory %s is too long for a Unix socket path "
                             "(set XDG_RUNTIME_DIR or TMPDIR to a shorter one)",
                             dir);
    }
    if (!mkdtemp(p->dir)) {
        int e = errno;
        free(p);
        return chase_err_set(err, CHASE_EIO, "progress channel: cannot create a directory in %s: %s", dir, strerror(e));
    }
    snprintf(p->path, sizeof p->path, "%s/progress.sock", p->dir);
    snprintf(p->address, sizeof p->address, "unix:%s", p->path);
    p->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
        int e = errno;
        chase_progress_close(p);
        return chase_err_set(err, CHASE_EIO, "progress channel: socket: %s", strerror(e));
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, p->path, strlen(p->path) + 1);
    if (bind(p->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        chase_progress_close(p);
        return chase_err_set(err, CHASE_EIO, "progress channel: bind %s: %s", sa.sun_path, strerror(e));
    }
    /* Room for bursts from many ranks between two drains; failure only means a smaller queue. */
    int rcvbuf = 1 << 20;
    (void)setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    *out = p;
    return CHASE_OK;
}

const char *chase_progress_address(const chase_progress_t *p)
{
    return p->address;
}

int chase_progress_fd(const chase_progress_t *p)
{
    return p->fd;
}

static sender_t *find_sender(chase_progress_t *p, const chase_progress_msg_t *m)
{
    int has_rank = m->rank >= 0;
    for (size_t i = 0; i < p->n_senders; i++) {
        sender_t *s = &p->senders[i];
        if (s->has_rank == has_rank && (has_rank ? s->rank == m->rank : s->pid == m->pid))
            return s;
    }
    if (p->n_senders >= CHASE_PROGRESS_MAX_RANKS)
        return NULL;
    sender_t *grown = chase_grow(p->senders, &p->cap_senders, p->n_senders + 1, sizeof *grown, 8);
    if (!grown)
        return NULL;
    p->senders = grown;
    sender_t *s = &p->senders[p->n_senders++];
    memset(s, 0, sizeof *s);
    s->has_rank = has_rank;
    s->rank = m->rank;
    s->pid = m->pid;
    return s;
}

void chase_progress_record(chase_progress_t *p, const chase_progress_msg_t *m, double now)
{
    sender_t *s = find_sender(p, m);
    if (!s) {
        p->malformed++;
        return;
    }
    double steps = (double)m->step, samples = m->samples >= 0 ? (double)m->samples : 0;
    if (s->has_rank && m->pid >= 0 && s->pid >= 0 && m->pid != s->pid) {
        /* The rank was restarted by a new process (elastic training): keep what the old one did. */
        s->base_steps += s->steps;
        s->base_samples += s->samples;
        s->steps = s->samples = 0;
        s->pid = m->pid;
    } else if (m->pid >= 0) {
        s->pid = m->pid;
    }
    /* Counts are cumulative; a smaller one is older news (e.g. from a second thread of the same rank). */
    if (steps > s->steps)
        s->steps = steps;
    if (samples > s->samples)
        s->samples = samples;
    p->messages++;
    p->last_report = now;
}

int chase_progress_drain(chase_progress_t *p, double now, chase_err_t *err)
{
    char buf[CHASE_PROGRESS_MAX_MSG + 64];
    int valid = 0;
    for (;;) {
        ssize_t n = recv(p->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return valid;
            if (errno == EINTR)
                continue;
            return chase_err_set(err, CHASE_EIO, "progress channel %s: recv: %s", p->path, strerror(errno));
        }
        chase_progress_msg_t m;
        /* MSG_TRUNC makes n the datagram's real length, so an oversized one is rejected, not cut. */
        if ((size_t)n > sizeof buf || chase_progress_parse(buf, (size_t)n, &m, NULL) != CHASE_OK) {
            p->malformed++;
            continue;
        }
        chase_progress_record(p, &m, now);
        valid++;
    }
}

void chase_progress_stats(const chase_progress_t *p, chase_progress_stats_t *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < p->n_senders; i++) {
        const sender_t *s = &p->senders[i];
        double steps = s->base_steps + s->steps;
        if (steps > out->steps)
            out->steps = steps;
        out->samples += s->base_samples + s->samples;
    }
    out->messages = p->messages;
    out->malformed = p->malformed;
    out->ranks = (int)p->n_senders;
    out->last_report = p->last_report;
}

void chase_progress_close(chase_progress_t *p)
{
    if (!p)
        return;
    if (p->fd >= 0) {
        close(p->fd);
        unlink(p->path);
    }
    if (p->dir[0] && !strstr(p->dir, "XXXXXX"))
        rmdir(p->dir);
    free(p->senders);
    free(p);
}
