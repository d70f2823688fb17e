/* agent_probe: a raw client of chased for the tests, run as other users through setpriv. It does what its arguments
 * say, in order, on one connection, and prints every reply line (or EOF, TIMEOUT) to stdout:
 *
 *   agent_probe SOCKET [repeat:N] ACTION...
 *     send:TEXT     send TEXT and a newline, then print the reply
 *     fd:PATH       open PATH and pass its descriptor with the next send (SCM_RIGHTS)
 *     raw:TEXT      send TEXT as it is (no newline), print nothing
 *     bytes:N       send N bytes of 'x' (no newline)
 *     read          print the next reply line, EOF when the agent closed the connection, TIMEOUT after 5 s
 *     sleep:MS      wait
 *     hold          wait until standard input ends (the test closes it), keeping the connection open
 *
 * repeat:N runs the actions N times, each on a new connection, printing nothing but the first reply that is not
 * "ok": true (exit 1); it ends with "repeat: N ok". Exit 2 for bad arguments or no connection. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 19];
static size_t buf_len;
static int quiet;

static int connect_to(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, "agent_probe: cannot connect to %s: %s\n", path, strerror(errno));
        exit(2);
    }
    return fd;
}

static void send_bytes(int fd, const char *data, size_t len, const int *fds, int n_fds)
{
    union {
        char b[CMSG_SPACE(sizeof(int) * 250)];
        struct cmsghdr align;
    } control;
    struct iovec iov = {(void *)data, len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (n_fds > 0) {
        mh.msg_control = control.b;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n_fds);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n_fds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n_fds);
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (n <= 0) {
            if (!quiet)
                printf("SEND FAILED: %s\n", strerror(errno));
            return;
        }
        off += (size_t)n;
        iov.iov_base = (char *)data + off;
        iov.iov_len = len - off;
        mh.msg_control = NULL;
        mh.msg_controllen = 0;
    }
}

/* Reads the next reply line into line (without '\n'); 0, or -1 at EOF, -2 on timeout. */
static int read_reply(int fd, char *line, size_t size)
{
    for (;;) {
        char *nl = memchr(buf, '\n', buf_len);
        if (nl) {
            size_t n = (size_t)(nl - buf);
            snprintf(line, size, "%.*s", (int)n, buf);
            buf_len -= n + 1;
            memmove(buf, nl + 1, buf_len);
            return 0;
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 5000) == 0)
            return -2;
        ssize_t n = recv(fd, buf + buf_len, sizeof buf - buf_len, 0);
        if (n <= 0)
            return -1;
        buf_len += (size_t)n;
    }
}

/* Runs the actions on one connection; 0 when every reply was ok (in repeat mode), else 1. */
static int run(const char *path, int argc, char **argv)
{
    int fd = connect_to(path), fds[250], n_fds = 0, status = 0;
    buf_len = 0;
    static char line[1 << 19];
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "send:", 5)) {
            size_t len = strlen(a + 5);
            char *msg = malloc(len + 2);
            memcpy(msg, a + 5, len);
            msg[len] = '\n';
            send_bytes(fd, msg, len + 1, fds, n_fds);
            free(msg);
            for (int k = 0; k < n_fds; k++)
                close(fds[k]);
            n_fds = 0;
            int rc = read_reply(fd, line, sizeof line);
            if (quiet && (rc != 0 || !strstr(line, "\"ok\":true"))) {
                printf("%s\n", rc == -1 ? "EOF" : rc == -2 ? "TIMEOUT" : line);
                status = 1;
                break;
            }
            if (!quiet)
                printf("%s\n", rc == -1 ? "EOF" : rc == -2 ? "TIMEOUT" : line);
        } else if (!strncmp(a, "fd:", 3)) {
            int f = open(a + 3, O_RDONLY | O_CLOEXEC | O_NOCTTY);
            if (f < 0) {
                printf("OPEN FAILED: %s: %s\n", a + 3, strerror(errno));
                continue;
            }
            if (n_fds < 250)
                fds[n_fds++] = f;
        } else if (!strncmp(a, "raw:", 4)) {
            send_bytes(fd, a + 4, strlen(a + 4), NULL, 0);
        } else if (!strncmp(a, "bytes:", 6)) {
            size_t n = strtoul(a + 6, NULL, 10);
            char *x = malloc(n ? n : 1);
            memset(x, 'x', n);
            send_bytes(fd, x, n, NULL, 0);
            free(x);
        } else if (!strcmp(a, "read")) {
            int rc = read_reply(fd, line, sizeof line);
            printf("%s\n", rc == -1 ? "EOF" : rc == -2 ? "TIMEOUT" : line);
        } else if (!strncmp(a, "sleep:", 6)) {
            long ms = strtol(a + 6, NULL, 10);
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        } else if (!strcmp(a, "hold")) {
            fflush(stdout);
            char c;
            while (read(0, &c, 1) > 0)
                ;
        } else {
            fprintf(stderr, "agent_probe: unknown action '%s'\n", a);
            exit(2);
        }
        fflush(stdout);
    }
    close(fd);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: agent_probe SOCKET [repeat:N] ACTION...\n");
        return 2;
    }
    if (!strncmp(argv[2], "repeat:", 7)) {
        long n = strtol(argv[2] + 7, NULL, 10);
        quiet = 1;
        for (long k = 0; k < n; k++)
            if (run(argv[1], argc - 3, argv + 3) != 0)
                return 1;
        printf("repeat: %ld ok\n", n);
        return 0;
    }
    return run(argv[1], argc - 2, argv + 2);
}
