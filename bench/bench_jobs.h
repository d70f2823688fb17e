/* What the policy benchmarks share: the traces they read and the jobs they cut them into, so that bench_simulate,
 * bench_logo and bench_robust score the same jobs. Header-only: each benchmark is one program. */
#ifndef CHASE_BENCH_JOBS_H
#define CHASE_BENCH_JOBS_H

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/profile.h"
#include "chase/trace.h"

static inline int bench_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The CSV traces under DIR/carbon and DIR/carbon/electricitymaps-format, sorted, at most cap (paths to free). */
static inline size_t bench_list_traces(const char *dir, char **out, size_t cap)
{
    const char *sub[] = {"", "/electricitymaps-format"};
    size_t n = 0;
    for (int s = 0; s < 2; s++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/carbon%s", dir, sub[s]);
        DIR *d = opendir(path);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) && n < cap) {
            size_t len = strlen(e->d_name);
            if (len > 4 && !strcmp(e->d_name + len - 4, ".csv")) {
                size_t sz = strlen(path) + len + 2;
                char *p = malloc(sz);
                snprintf(p, sz, "%s/%s", path, e->d_name);
                out[n++] = p;
            }
        }
        closedir(d);
    }
    qsort(out, n, sizeof *out, bench_cmp_str);
    return n;
}

/* The jobs of a trace: the first starts after a week of trace (none when the trace is under two weeks), then one
 * every EVERY_DAYS while it fits; 90 epochs, or as many as fit when the slowest policy (chase, up to 25 % slower)
 * would run past the end. *epochs, *job_s (the room a job needs) and *first (the first start) are set. */
static inline void bench_job_size(const chase_profile_t *prof, const chase_trace_t *tr, double *epochs, double *job_s,
                           double *first)
{
    double x_max = chase_profile_top_throughput(prof), t_slowest = 1.25;
    double history = 7 * 86400, trace_len = (double)(chase_trace_end(tr) - tr->start);
    if (trace_len < history * 2)
        history = 0;
    *epochs = 90;
    if (*epochs / x_max * t_slowest > trace_len - history - 3600)
        *epochs = floor((trace_len - history - 3600) / t_slowest * x_max);
    *job_s = *epochs / x_max * t_slowest;
    *first = (double)tr->start + history;
}

#endif
