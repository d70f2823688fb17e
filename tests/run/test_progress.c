/* The progress channel: message validation, and datagrams from the C client through the socket into the stats. */
#include <errno.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "chase/progress.h"
#include "check.h"

static int parses(const char *s)
{
    chase_progress_msg_t m;
    return chase_progress_parse(s, strlen(s), &m, NULL) == CHASE_OK;
}

static void test_parse_valid(void)
{
    chase_progress_msg_t m;
    chase_err_t err;
    const char *s = "chase1 step=120 samples=30720 rank=3 pid=4242\n";
    CHECK(chase_progress_parse(s, strlen(s), &m, &err) == CHASE_OK);
    CHECK(m.step == 120 && m.samples == 30720 && m.rank == 3 && m.pid == 4242);
    s = "chase1 step=7";
    CHECK(chase_progress_parse(s, strlen(s), &m, &err) == CHASE_OK);
    CHECK(m.step == 7 && m.samples == -1 && m.rank == -1 && m.pid == -1);
    /* Fields in any order, extra spaces, and unknown fields (from a newer sender) are accepted. */
    CHECK(parses("chase1  rank=0   step=1 loss_x=3\n"));
    CHECK(parses("chase1 step=9007199254740992"));
}

static void test_parse_rejects(void)
{
    const char *bad[] = {
        "",                              /* empty */
        "\n",                            /* only a newline */
        "chase1\n",                      /* no step */
        "chase2 step=1\n",               /* other version */
        "chase1step=1",                  /* no separator */
        "CHASE1 step=1",                 /* case matters */
        "chase1 step=-1",                /* negative */
        "chase1 step=1.5",               /* not an integer */
        "chase1 step=",                  /* empty value */
        "chase1 step=1 step=2",          /* duplicate */
        "chase1 step=1 rank",            /* not key=value */
        "chase1 step=1 =4",              /* empty key */
        "chase1 step=1 Rank=4",          /* key not [a-z_] */
        "chase1 step=99999999999999999", /* 17 digits */
        "chase1 step=9007199254740993",  /* above 2^53 */
        "chase1 step=1\n\n",             /* a second newline is a control byte */
        "chase1 step=1\tsamples=2",      /* tab */
        "chase1 step=1 samples=0x10",    /* hex */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        chase_progress_msg_t m;
        chase_err_t err;
        int rc = chase_progress_parse(bad[i], strlen(bad[i]), &m, &err);
        CHECK(rc == CHASE_EFORMAT || (bad[i][0] == '\0' && rc == CHASE_EFORMAT));
        if (rc == CHASE_OK)
            fprintf(stderr, "  accepted: \"%s\"\n", bad[i]);
        else
            CHECK(strstr(err.msg, "progress message") != NULL);
    }
    /* Embedded NUL and high bytes. */
    chase_progress_msg_t m;
    CHECK(chase_progress_parse("chase1 step=1\0x", 15, &m, NULL) == CHASE_EFORMAT);
    CHECK(chase_progress_parse("chase1 step=1 \xff", 15, &m, NULL) == CHASE_EFORMAT);
    char longmsg[CHASE_PROGRESS_MAX_MSG + 10];
    memset(longmsg, ' ', sizeof longmsg);
    memcpy(longmsg, "chase1 step=1", 13);
    CHECK(chase_progress_parse(longmsg, CHASE_PROGRESS_MAX_MSG, &m, NULL) == CHASE_OK);
    CHECK(chase_progress_parse(longmsg, CHASE_PROGRESS_MAX_MSG + 1, &m, NULL) == CHASE_EFORMAT);
}

/* Ranks step together: the job's steps are the most any rank reported; samples add up; a restarted rank (new pid)
 * keeps what its predecessor did; older (smaller) counts do not move the totals back. */
static void test_record(void)
{
    chase_progress_t *p;
    chase_err_t err;
    CHECK(chase_progress_open(NULL, &p, &err) == CHASE_OK);
    if (!p)
        return;
    chase_progress_msg_t a = {10, 100, 0, 11}, b = {8, 80, 1, 12};
    chase_progress_record(p, &a, 1.0);
    chase_progress_record(p, &b, 2.0);
    chase_progress_stats_t st;
    chase_progress_stats(p, &st);
    CHECK_NEAR(st.steps, 10, 0);
    CHECK_NEAR(st.samples, 180, 0);
    CHECK(st.ranks == 2 && st.messages == 2);
    CHECK_NEAR(st.last_report, 2.0, 0);
    chase_progress_msg_t old = {5, 50, 0, 11};
    chase_progress_record(p, &old, 3.0);
    chase_progress_stats(p, &st);
    CHECK_NEAR(st.steps, 10, 0);
    CHECK_NEAR(st.samples, 180, 0);
    chase_progress_msg_t restarted = {3, 30, 1, 99};
    chase_progress_record(p, &restarted, 4.0);
    chase_progress_stats(p, &st);
    CHECK_NEAR(st.steps, 11, 0); /* rank 1: 8 before the restart + 3 after */
    CHECK_NEAR(st.samples, 100 + 80 + 30, 0);
    chase_progress_close(p);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_socket_roundtrip(void)
{
    chase_progress_t *p;
    chase_err_t err;
    CHECK(chase_progress_open(NULL, &p, &err) == CHASE_OK);
    if (!p)
        return;
    char addr[160]; /* a copy: the test uses it after the channel is closed */
    snprintf(addr, sizeof addr, "%s", chase_progress_address(p));
    CHECK(strncmp(addr, "unix:/", 6) == 0);

    /* interval 0: every step is a datagram. Linux queues only net.unix.max_dgram_qlen (default 10) datagrams per
     * socket, so drain between small bursts as chase's poll loop does. */
    chase_progress_client_t *c0, *c1;
    CHECK(chase_progress_client_open(addr, 0, 0, &c0, &err) == CHASE_OK);
    CHECK(chase_progress_client_open(addr, 1, 0, &c1, &err) == CHASE_OK);
    int got = 0;
    for (int i = 0; i < 25; i++) {
        chase_progress_client_step(c0, 32);
        if (i < 20)
            chase_progress_client_step(c1, 32);
        if (i % 4 == 3)
            got += chase_progress_drain(p, 10.0, &err);
    }
    got += chase_progress_drain(p, 10.0, &err);
    CHECK(got == 45);
    CHECK(chase_progress_client_dropped(c0) == 0 && chase_progress_client_dropped(c1) == 0);
    chase_progress_stats_t st;
    chase_progress_stats(p, &st);
    CHECK_NEAR(st.steps, 25, 0);
    CHECK_NEAR(st.samples, 45 * 32, 0);
    CHECK(st.ranks == 2);
    CHECK(st.malformed == 0);

    /* Garbage from another sender is counted and ignored; valid messages still count. */
    int raw = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t plen = strlen(addr + 5);
    CHECK(plen < sizeof sa.sun_path);
    memcpy(sa.sun_path, addr + 5, plen < sizeof sa.sun_path ? plen : sizeof sa.sun_path - 1);
    const char *junk[] = {"hello", "chase1 step=abc", "chase1 step=1 step=1"};
    for (size_t i = 0; i < 3; i++)
        sendto(raw, junk[i], strlen(junk[i]), 0, (struct sockaddr *)&sa, sizeof sa);
    char big[4000];
    memset(big, 'a', sizeof big);
    sendto(raw, big, sizeof big, 0, (struct sockaddr *)&sa, sizeof sa);
    sendto(raw, "", 0, 0, (struct sockaddr *)&sa, sizeof sa);
    const char *ok = "chase1 step=40 rank=7\n";
    sendto(raw, ok, strlen(ok), 0, (struct sockaddr *)&sa, sizeof sa);
    close(raw);
    CHECK(chase_progress_drain(p, 11.0, &err) == 1);
    chase_progress_stats(p, &st);
    CHECK(st.malformed == 5);
    CHECK_NEAR(st.steps, 40, 0);
    CHECK(st.ranks == 3);

    /* Batching: with a long interval only the first step goes out at once; flush sends the rest. */
    chase_progress_client_t *cb;
    CHECK(chase_progress_client_open(addr, 2, 60.0, &cb, &err) == CHASE_OK);
    for (int i = 0; i < 1000; i++)
        chase_progress_client_step(cb, 1);
    CHECK(chase_progress_drain(p, 12.0, &err) == 1);
    chase_progress_client_flush(cb);
    CHECK(chase_progress_drain(p, 12.0, &err) == 1);
    chase_progress_stats(p, &st);
    CHECK_NEAR(st.samples, 45 * 32 + 1000, 0);
    chase_progress_client_close(cb);

    /* A short interval lets later steps through again. */
    chase_progress_client_t *cs;
    CHECK(chase_progress_client_open(addr, 3, 0.02, &cs, &err) == CHASE_OK);
    chase_progress_client_step(cs, 0);
    sleep_ms(60);
    chase_progress_client_step(cs, 0);
    CHECK(chase_progress_drain(p, 13.0, &err) == 2);

    /* A full queue drops datagrams instead of blocking; the cumulative totals of the next one make up for them. */
    for (int i = 0; i < 50; i++)
        chase_progress_client_step(c1, 1);
    CHECK(chase_progress_client_dropped(c1) > 0);
    chase_progress_drain(p, 14.0, &err);
    chase_progress_client_step(c1, 1);
    chase_progress_drain(p, 14.0, &err);
    chase_progress_stats(p, &st);
    CHECK_NEAR(st.samples, 45 * 32 + 1000 + 51, 0);

    /* chase gone: steps neither block nor crash; the client counts what it dropped. */
    chase_progress_close(p);
    for (int i = 0; i < 10; i++)
        chase_progress_client_step(c0, 1);
    CHECK(chase_progress_client_dropped(c0) == 10);
    chase_progress_client_t *cg;
    CHECK(chase_progress_client_open(addr, 0, 0, &cg, &err) == CHASE_EIO); /* nobody listens any more */
    chase_progress_client_close(c0);
    chase_progress_client_close(c1);
    chase_progress_client_close(cs);
}

static void test_client_without_chase(void)
{
    chase_progress_client_t *c = (chase_progress_client_t *)1;
    chase_err_t err;
    unsetenv(CHASE_PROGRESS_ENV);
    CHECK(chase_progress_client_open(NULL, -1, -1, &c, &err) == CHASE_ENOTFOUND);
    CHECK(c == NULL);
    chase_progress_client_step(c, 1); /* NULL is a no-op */
    chase_progress_client_close(c);
    CHECK(chase_progress_client_open("tcp:1.2.3.4", -1, -1, &c, &err) == CHASE_EINVAL);
    CHECK(chase_progress_client_open("unix:/nonexistent/dir/sock", -1, -1, &c, &err) == CHASE_EIO);
    CHECK(strstr(err.msg, "/nonexistent/dir/sock") != NULL);
}

static void test_open_bad_dir(void)
{
    chase_progress_t *p;
    chase_err_t err;
    CHECK(chase_progress_open("/nonexistent-chase-dir", &p, &err) == CHASE_EIO);
    CHECK(p == NULL);
    char longdir[200];
    memset(longdir, 'd', sizeof longdir - 1);
    longdir[0] = '/';
    longdir[sizeof longdir - 1] = '\0';
    CHECK(chase_progress_open(longdir, &p, &err) == CHASE_EINVAL);
}

/* Senders without a rank are told apart by pid; past CHASE_PROGRESS_MAX_RANKS distinct senders, further ones are
 * counted as malformed (a bounded table: a flood of fake senders cannot grow chase without limit). */
static void test_senders_by_pid_and_cap(void)
{
    chase_progress_t *p;
    CHECK(chase_progress_open(NULL, &p, NULL) == CHASE_OK);
    if (!p)
        return;
    chase_progress_msg_t a = {7, 70, -1, 100}, b = {9, 90, -1, 200};
    chase_progress_record(p, &a, 1.0);
    chase_progress_record(p, &b, 1.0);
    chase_progress_stats_t st;
    chase_progress_stats(p, &st);
    CHECK(st.ranks == 2 && st.steps == 9 && st.samples == 160);
    for (int64_t i = 0; i < CHASE_PROGRESS_MAX_RANKS + 10; i++) {
        chase_progress_msg_t m = {1, 0, i, -1};
        chase_progress_record(p, &m, 2.0);
    }
    chase_progress_stats(p, &st);
    CHECK(st.ranks == CHASE_PROGRESS_MAX_RANKS);
    CHECK(st.malformed == 12); /* 4096 tracked: the two pids and 4094 ranks; the last 12 ranks did not fit */
    chase_progress_close(p);
}

/* The socket's directory is private (0700): no other user can send progress into it. */
static void test_private_dir(void)
{
    chase_progress_t *p;
    CHECK(chase_progress_open(NULL, &p, NULL) == CHASE_OK);
    if (!p)
        return;
    char dir[160];
    snprintf(dir, sizeof dir, "%s", chase_progress_address(p) + 5);
    *strrchr(dir, '/') = '\0';
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    chase_progress_close(p);
    CHECK(stat(dir, &st) != 0); /* removed with the channel */
}

/* "unix:@name" reaches a socket in the abstract namespace. */
static void test_abstract_address(void)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    char name[64];
    snprintf(name, sizeof name, "chase-test-%d", (int)getpid());
    memcpy(sa.sun_path + 1, name, strlen(name));
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
    CHECK(bind(fd, (struct sockaddr *)&sa, len) == 0);
    char addr[80];
    snprintf(addr, sizeof addr, "unix:@%s", name);
    chase_progress_client_t *c;
    CHECK(chase_progress_client_open(addr, 5, 0, &c, NULL) == CHASE_OK);
    chase_progress_client_step(c, 3);
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    CHECK(n > 0);
    buf[n > 0 ? n : 0] = '\0';
    chase_progress_msg_t m;
    CHECK(chase_progress_parse(buf, (size_t)(n > 0 ? n : 0), &m, NULL) == CHASE_OK && m.step == 1 && m.rank == 5);
    chase_progress_client_close(c);
    close(fd);
}

/* The final flush waits for a busy chase (its queue full) rather than lose the last totals; for a chase that is
 * gone it does not wait at all. */
static void test_flush_waits_for_busy_chase(void)
{
    chase_progress_t *p;
    CHECK(chase_progress_open(NULL, &p, NULL) == CHASE_OK);
    if (!p)
        return;
    char addr[160];
    snprintf(addr, sizeof addr, "%s", chase_progress_address(p));
    chase_progress_client_t *c;
    CHECK(chase_progress_client_open(addr, 0, 0, &c, NULL) == CHASE_OK);
    for (int i = 0; i < 100; i++) /* fills the queue; most of these are dropped */
        chase_progress_client_step(c, 1);
    CHECK(chase_progress_client_dropped(c) > 0);
    pid_t pid = fork();
    if (pid == 0) { /* chase, busy for 0.3 s, then draining */
        sleep_ms(300);
        for (int i = 0; i < 100; i++) {
            chase_progress_drain(p, 1.0, NULL);
            sleep_ms(10);
        }
        chase_progress_stats_t st;
        chase_progress_stats(p, &st);
        _exit(st.steps == 101 ? 0 : 1);
    }
    /* One more step, not sent (the queue is full), then the flush at exit. */
    chase_progress_client_step(c, 1);
    chase_progress_client_close(c);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* chase saw the final total */
    chase_progress_close(p);
}

int main(void)
{
    RUN(test_parse_valid);
    RUN(test_parse_rejects);
    RUN(test_record);
    RUN(test_socket_roundtrip);
    RUN(test_client_without_chase);
    RUN(test_open_bad_dir);
    RUN(test_senders_by_pid_and_cap);
    RUN(test_private_dir);
    RUN(test_abstract_address);
    RUN(test_flush_waits_for_busy_chase);
    CHECK_DONE();
}
