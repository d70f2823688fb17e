/* Cost of one progress report from C: chase_progress_client_step, median over blocks of calls.
 *
 * Three figures: the default (datagram at most every 0.1 s: a step is a counter and a coarse clock read), every step
 * sent (interval 0: the cost of a non-blocking send on a connected datagram socket), and the receiving side's cost
 * per datagram (chase_progress_drain). A chase progress socket receives, so sends take the real path.
 *
 * Usage: bench_progress [steps]   (default 2000000) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "chase/progress.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    long steps = argc > 1 ? atol(argv[1]) : 2000000;
    if (steps < 10000)
        steps = 10000;
    chase_err_t err;
    chase_progress_t *p;
    if (chase_progress_open(NULL, &p, &err) != CHASE_OK) {
        fprintf(stderr, "bench_progress: %s\n", err.msg);
        return 1;
    }
    const char *addr = chase_progress_address(p);

    /* 1. Default batching. Blocks of 1000 calls; the server is drained between blocks, outside the timing. */
    chase_progress_client_t *c;
    if (chase_progress_client_open(addr, 0, 0.1, &c, &err) != CHASE_OK) {
        fprintf(stderr, "bench_progress: %s\n", err.msg);
        return 1;
    }
    size_t nb = (size_t)(steps / 1000);
    double *per = malloc(nb * sizeof *per);
    if (!per)
        return 1;
    double total0 = now_s();
    for (size_t b = 0; b < nb; b++) {
        double t = now_s();
        for (int i = 0; i < 1000; i++)
            chase_progress_client_step(c, 256);
        per[b] = (now_s() - t) / 1000;
        chase_progress_drain(p, 0, NULL);
    }
    double total = now_s() - total0;
    double med_batched = median(per, nb);
    chase_progress_client_close(c);

    /* 2. Every step sent: blocks of 8 (the kernel queues 10 datagrams per socket by default), drained in between. */
    if (chase_progress_client_open(addr, 1, 0, &c, &err) != CHASE_OK)
        return 1;
    size_t ns = 20000;
    double *per_send = malloc(ns * sizeof *per_send), *per_recv = malloc(ns * sizeof *per_recv);
    if (!per_send || !per_recv)
        return 1;
    for (size_t b = 0; b < ns; b++) {
        double t = now_s();
        for (int i = 0; i < 8; i++)
            chase_progress_client_step(c, 256);
        per_send[b] = (now_s() - t) / 8;
        t = now_s();
        int got = chase_progress_drain(p, 0, NULL);
        per_recv[b] = got > 0 ? (now_s() - t) / got : 0;
    }
    uint64_t dropped = chase_progress_client_dropped(c);
    chase_progress_client_close(c);
    chase_progress_stats_t st;
    chase_progress_stats(p, &st);

    printf("bench_progress: C progress report (chase_progress_client_step), median of blocks\n");
    printf("  batched (default 0.1 s interval): %8.1f ns per step  (%ld steps, %.1f ns mean incl. sends)\n",
           med_batched * 1e9, steps, total / (double)steps * 1e9);
    printf("  every step sent (interval 0):     %8.1f ns per step  (non-blocking send on a connected socket)\n",
           median(per_send, ns) * 1e9);
    printf("  receiving side (drain + validate): %7.1f ns per datagram\n", median(per_recv, ns) * 1e9);
    printf("  datagrams received %llu, malformed %llu, dropped by the sender %llu\n",
           (unsigned long long)st.messages, (unsigned long long)st.malformed, (unsigned long long)dropped);
    printf("  target: < 500 ns per report: %s\n", med_batched < 500e-9 ? "met (batched)" : "NOT met");
    free(per);
    free(per_send);
    free(per_recv);
    chase_progress_close(p);
    return 0;
}
