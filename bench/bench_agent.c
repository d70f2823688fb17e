/* bench_agent: the round trip of a power-limit set and of an energy read through the node agent, as chase run makes
 * them (the "agent" GPU backend, one request and its reply on the Unix socket), against the same calls made on NVML
 * directly. The agent runs in a child process on the fake NVML, kept in process memory so that it answers at once:
 * what is left is the agent's own cost (socket, protocol, session checks). Issue 11's target: under 200 us.
 *
 *   CHASE_NVML_LIBRARY=build/tests/nvml/libnvidia-ml-fake.so build/bench_agent [N]
 *
 * Prints the median, 90th and 99th percentile of N (default 20000) calls of each kind, after 500 to warm up. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chase/agent.h"
#include "chase/nvml.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, by_value);
    printf("%-34s median %7.1f us   p90 %7.1f us   p99 %7.1f us\n", what, t[n / 2], t[n * 9 / 10], t[n * 99 / 100]);
}

/* Times n sets (alternating two values, so that each one changes the GPU) and n energy reads on gpu. */
static int measure(chase_gpu_t *gpu, int n, double *set_us, double *energy_us)
{
    chase_err_t err;
    for (int i = -500; i < n; i++) {
        chase_setting_t s = {CHASE_KNOB_POWER_LIMIT, i % 2 ? 200 : 250};
        double t0 = now_us();
        if (chase_gpu_set_setting(gpu, 0, &s, &err) != CHASE_OK) {
            fprintf(stderr, "bench_agent: set: %s\n", err.msg);
            return -1;
        }
        double t1 = now_us(), j;
        if (chase_gpu_energy(gpu, 0, &j, &err) != CHASE_OK) {
            fprintf(stderr, "bench_agent: energy: %s\n", err.msg);
            return -1;
        }
        if (i >= 0) {
            set_us[i] = t1 - t0;
            energy_us[i] = now_us() - t1;
        }
    }
    return 0;
}

/* The agent, in the child: serves until the parent closes the pipe. */
static void serve(const char *dir, const char *sock, int stop_fd)
{
    char text[64], state[300];
    snprintf(text, sizeof text, "allow_users = %u\n", (unsigned)getuid());
    snprintf(state, sizeof state, "%s/state", dir);
    chase_agent_config_t cfg;
    chase_gpu_t *gpu;
    chase_agent_t *a;
    chase_err_t err;
    chase_agent_opts_t o = {&cfg, NULL, sock, state, NULL, NULL};
    if (chase_agent_config_parse(text, strlen(text), "bench", &cfg, &err) != CHASE_OK ||
        chase_gpu_nvml_open(&gpu, &err) != CHASE_OK || (o.gpu = gpu, chase_agent_open(&o, &a, &err)) != CHASE_OK ||
        chase_agent_serve(a, stop_fd, &err) != CHASE_OK) {
        fprintf(stderr, "bench_agent: the agent: %s\n", err.msg);
        _exit(1);
    }
    chase_agent_free(a);
    chase_gpu_free(gpu);
    _exit(0);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    if (!getenv("CHASE_NVML_LIBRARY") || n < 100) {
        fprintf(stderr, "usage: CHASE_NVML_LIBRARY=build/tests/nvml/libnvidia-ml-fake.so bench_agent [N >= 100]\n");
        return 2;
    }
    unsetenv("FAKE_NVML_STATE"); /* the fake's GPUs in process memory: NVML answers at once */
    char dir[] = "/tmp/chase-bench-agent-XXXXXX", sock[100], cmd[200];
    if (!mkdtemp(dir))
        return 1;
    snprintf(sock, sizeof sock, "%s/chased.sock", dir);
    int stop[2];
    if (pipe(stop) != 0)
        return 1;
    pid_t pid = fork();
    if (pid == 0) {
        close(stop[1]);
        serve(dir, sock, stop[0]);
    }
    close(stop[0]);
    chase_gpu_t *agent = NULL, *nvml = NULL;
    chase_err_t err;
    int rc = 1;
    for (int tries = 0; tries < 500 && chase_gpu_agent_open(sock, &agent, &err) != CHASE_OK; tries++)
        usleep(10000);
    double *a_set = calloc((size_t)n, sizeof(double)), *a_energy = calloc((size_t)n, sizeof(double)),
           *d_set = calloc((size_t)n, sizeof(double)), *d_energy = calloc((size_t)n, sizeof(double));
    int gpu0 = 0;
    if (!agent)
        fprintf(stderr, "bench_agent: %s\n", err.msg);
    else if (chase_gpu_claim(agent, &gpu0, 1, &err) != CHASE_OK)
        fprintf(stderr, "bench_agent: claim: %s\n", err.msg);
    else if (chase_gpu_nvml_open(&nvml, &err) != CHASE_OK)
        fprintf(stderr, "bench_agent: %s\n", err.msg);
    else if (a_set && d_set && measure(agent, n, a_set, a_energy) == 0 && measure(nvml, n, d_set, d_energy) == 0) {
        printf("bench_agent: %d calls of each kind, GPU 0 of the fake NVML (in memory)\n", n);
        report("set through the agent", a_set, n);
        report("energy read through the agent", a_energy, n);
        report("set on NVML directly", d_set, n);
        report("energy read on NVML directly", d_energy, n);
        printf("agent's own cost (medians, NVML time taken off): set %.1f us, energy read %.1f us\n",
               a_set[n / 2] - d_set[n / 2], a_energy[n / 2] - d_energy[n / 2]);
        rc = 0;
    }
    chase_gpu_free(agent);
    chase_gpu_free(nvml);
    free(a_set);
    free(a_energy);
    free(d_set);
    free(d_energy);
    close(stop[1]);
    waitpid(pid, NULL, 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_agent: could not remove %s\n", dir);
    return rc;
}
