/* The fake NVML's shared state file: mapping, locking, and the power/energy model of its GPUs. */
#include "fake_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t fake_state_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double env_double(const char *name, double dflt, double lo, double hi)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return dflt;
    char *end;
    double v = strtod(s, &end);
    if (*end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "fake NVML: %s=%s is not a number in [%g, %g]; using %g\n", name, s, lo, hi, dflt);
        return dflt;
    }
    return v;
}

/* Reads FAKE_NVML_POWER_CURVE ("100:98.5,150:140,...", limits ascending) into s; a bad curve is reported and
 * ignored, leaving the min(limit, draw cap) model. */
static void parse_curve(fake_state_t *s)
{
    const char *text = getenv("FAKE_NVML_POWER_CURVE");
    if (!text || !*text)
        return;
    const char *p = text;
    uint32_t n = 0;
    while (*p) {
        char *end;
        double l = strtod(p, &end);
        if (end == p || *end != ':')
            break;
        p = end + 1;
        double w = strtod(p, &end);
        if (end == p || !(l > 0 && w > 0) || n == FAKE_CURVE_MAX || (n > 0 && l <= s->curve_limit_w[n - 1]))
            break;
        s->curve_limit_w[n] = l;
        s->curve_power_w[n] = w;
        n++;
        p = end;
        if (*p == ',')
            p++;
        else if (*p)
            break;
    }
    if (*p || n == 0) {
        fprintf(stderr,
                "fake NVML: FAKE_NVML_POWER_CURVE=%s should be LIMIT_W:POWER_W pairs, limits ascending, at most %d; "
                "ignored\n",
                text, FAKE_CURVE_MAX);
        return;
    }
    s->curve_n = n;
}

/* An A40-like board: limits 100..300 W, boots at 300 W. */
static void init_state(fake_state_t *s)
{
    memset(s, 0, sizeof *s);
    memcpy(s->magic, FAKE_STATE_MAGIC, sizeof s->magic);
    s->version = FAKE_STATE_VERSION;
    s->n_gpus = (uint32_t)env_double("FAKE_NVML_GPUS", 2, 0, FAKE_NVML_MAX_GPUS);
    s->draw_cap_w = env_double("FAKE_NVML_DRAW_W", 235, 1, 1000);
    s->load = env_double("FAKE_NVML_LOAD", 1, 0, 1);
    s->created_ns = fake_state_now_ns();
    parse_curve(s);
    for (int i = 0; i < FAKE_NVML_MAX_GPUS; i++) {
        fake_gpu_state_t *g = &s->gpu[i];
        g->min_mw = 100000;
        g->max_mw = 300000;
        g->default_mw = g->limit_mw = 300000;
        g->since_ns = s->created_ns;
    }
}

int fake_state_open(const char *path, fake_state_handle_t *h)
{
    h->state = NULL;
    h->fd = -1;
    if (!path || !*path) {
        h->state = malloc(sizeof *h->state);
        if (!h->state)
            return -1;
        init_state(h->state);
        return 0;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "fake NVML: cannot open state file %s: %s\n", path, strerror(errno));
        return -1;
    }
    flock(fd, LOCK_EX);
    struct stat st;
    if (fstat(fd, &st) != 0 || (st.st_size < (off_t)sizeof(fake_state_t) && ftruncate(fd, sizeof(fake_state_t)))) {
        fprintf(stderr, "fake NVML: cannot size state file %s: %s\n", path, strerror(errno));
        goto fail;
    }
    fake_state_t *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (s == MAP_FAILED) {
        fprintf(stderr, "fake NVML: cannot map state file %s: %s\n", path, strerror(errno));
        goto fail;
    }
    static const char zero[8];
    if (!memcmp(s->magic, zero, sizeof zero)) {
        init_state(s);
    } else if (memcmp(s->magic, FAKE_STATE_MAGIC, sizeof s->magic) || s->version != FAKE_STATE_VERSION ||
               s->n_gpus > FAKE_NVML_MAX_GPUS) {
        fprintf(stderr, "fake NVML: %s is not a fake NVML state file of version %u; delete it\n", path,
                FAKE_STATE_VERSION);
        munmap(s, sizeof *s);
        goto fail;
    }
    flock(fd, LOCK_UN);
    h->state = s;
    h->fd = fd;
    return 0;
fail:
    flock(fd, LOCK_UN);
    close(fd);
    return -1;
}

void fake_state_close(fake_state_handle_t *h)
{
    if (!h->state)
        return;
    if (h->fd >= 0) {
        munmap(h->state, sizeof *h->state);
        close(h->fd);
    } else {
        free(h->state);
    }
    h->state = NULL;
    h->fd = -1;
}

void fake_state_lock(fake_state_handle_t *h)
{
    if (h->fd >= 0)
        flock(h->fd, LOCK_EX);
}

void fake_state_unlock(fake_state_handle_t *h)
{
    if (h->fd >= 0)
        flock(h->fd, LOCK_UN);
}

double fake_state_power_mw(const fake_state_t *s, int i)
{
    double lim = s->gpu[i].limit_mw;
    if (s->curve_n > 0) {
        const double *L = s->curve_limit_w, *P = s->curve_power_w;
        uint32_t n = s->curve_n;
        double w = lim / 1000.0, p;
        if (w <= L[0])
            p = P[0];
        else if (w >= L[n - 1])
            p = P[n - 1];
        else {
            uint32_t k = 1;
            while (L[k] < w)
                k++;
            p = P[k - 1] + (P[k] - P[k - 1]) * (w - L[k - 1]) / (L[k] - L[k - 1]);
        }
        return p * 1000.0 * s->load;
    }
    double cap_mw = s->draw_cap_w * 1000.0;
    return (lim < cap_mw ? lim : cap_mw) * s->load;
}

double fake_state_energy_mj(const fake_state_t *s, int i, int64_t now_ns)
{
    const fake_gpu_state_t *g = &s->gpu[i];
    double dt = (double)(now_ns - g->since_ns) * 1e-9;
    return g->energy_mj + fake_state_power_mw(s, i) * (dt > 0 ? dt : 0);
}

void fake_state_set_limit(fake_state_t *s, int i, uint32_t limit_mw, int64_t now_ns)
{
    fake_gpu_state_t *g = &s->gpu[i];
    g->energy_mj = fake_state_energy_mj(s, i, now_ns);
    g->since_ns = now_ns;
    g->limit_mw = limit_mw;
}
