/* Starts and stops fake_api.py (the loopback stand-in for the carbon APIs) for one test program. */
#ifndef CHASE_TEST_FAKE_H
#define CHASE_TEST_FAKE_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#endif
