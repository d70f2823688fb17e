/* Starts and stops fake_api.py (the loopback stand-in for the carbon APIs) for one test program. */
#ifndef CHASE_TEST_FAKE_H
#define CHASE_TEST_FAKE_H

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "signal/http.h"

typedef struct fake {
    pid_t pid;
    int port;
} fake_t;

/* Returns 0, or 77 (skip) when python or the script is missing, or 1 when the server does not start. */
static inline int fake_start(fake_t *f)
{
    const char *py = getenv("CHASE_PYTHON"), *script = getenv("CHASE_FAKE_API");
    if (!py)
        py = "/usr/bin/python3";
    if (!script || access(py, X_OK) != 0 || access(script, R_OK) != 0) {
        fprintf(stderr, "SKIP: %s or CHASE_FAKE_API (%s) missing\n", py, script ? script : "unset");
        return 77;
    }
    int fd[2];
    if (pipe(fd) != 0)
        return 1;
    f->pid = fork();
    if (f->pid < 0)
        return 1;
    if (f->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* a test killed by its timeout must not leave the server behind */
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execl(py, py, script, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *in = fdopen(fd[0], "r");
    char line[64] = "";
    if (!in || !fgets(line, sizeof line, in) || sscanf(line, "PORT %d", &f->port) != 1) {
        fprintf(stderr, "fake_api.py did not start\n");
        if (in)
            fclose(in);
        return 1;
    }
    fclose(in);
    return 0;
}

static inline void fake_stop(fake_t *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
        f->pid = 0;
    }
}

/* "http://127.0.0.1:PORT/MODE" */
static inline const char *fake_url(const fake_t *f, const char *mode, char *buf, size_t size)
{
    snprintf(buf, size, "http://127.0.0.1:%d/%s", f->port, mode);
    return buf;
}

/* How many requests the server saw for mode (-1 on error); the JSON stats text goes to body when not NULL. */
static inline int fake_count(const fake_t *f, const char *mode, char **body)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/_stats/%s", f->port, mode);
    chase_http_opts_t o;
    chase_http_opts_default(&o);
    chase_http_resp_t r;
    if (chase_http_get(&o, url, "stats", NULL, NULL, NULL, &r, NULL) != CHASE_OK)
        return -1;
    int n = -1;
    const char *c = strstr(r.body, "\"count\": ");
    if (c)
        n = atoi(c + 9);
    if (body)
        *body = r.body;
    else
        chase_http_resp_free(&r);
    return n;
}

/* A fresh temporary folder for caches. */
static inline const char *temp_dir(char *buf, size_t size)
{
    const char *base = getenv("TMPDIR");
    snprintf(buf, size, "%s/chase-test-XXXXXX", base ? base : "/tmp");
    return mkdtemp(buf);
}

/* Removes the folder temp_dir made, with what is in it. */
static inline void temp_dir_remove(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* Captures what the library writes to stderr between capture_start and capture_end (a file in dir). */
static int capture_saved = -1;
static char capture_path[300];
static inline void capture_start(const char *dir)
{
    snprintf(capture_path, sizeof capture_path, "%s/stderr.txt", dir);
    fflush(stderr);
    capture_saved = dup(2);
    int fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
}

static inline char *capture_end(void)
{
    static char buf[8192];
    fflush(stderr);
    dup2(capture_saved, 2);
    close(capture_saved);
    FILE *f = fopen(capture_path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    if (strstr(buf, "CHECK"))
        fputs(buf, stderr); /* a failed check inside the capture must still be seen */
    return buf;
}

/* Collects the warnings a signal hands to its callback, and whether any came from a thread other than the one that
 * set the collector up (a signal must call back on its caller's thread only). */
typedef struct said {
    char text[8192];
    int calls, wrong_thread;
    pthread_t thread;
} said_t;

static inline void said_init(said_t *s)
{
    memset(s, 0, sizeof *s);
    s->thread = pthread_self();
}

static inline void said_collect(void *arg, const char *msg)
{
    said_t *s = arg;
    size_t len = strlen(s->text);
    snprintf(s->text + len, sizeof s->text - len, "%s\n", msg);
    s->calls++;
    if (!pthread_equal(pthread_self(), s->thread))
        s->wrong_thread++;
}

/* How many times needle occurs in hay. */
static inline int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

#endif
