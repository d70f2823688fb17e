/* The fake NVML's simulated GPUs, kept in a file (FAKE_NVML_STATE) that every process maps, so that a limit set by
 * one process (chase run) is seen by another (a test, chase devices, fake_nvml_state).
 *
 * File layout (native endianness, this struct as is): a header, then FAKE_NVML_MAX_GPUS GPU records of which the
 * first n_gpus are live. Change FAKE_STATE_VERSION with the layout. Always access under fake_state_lock. */
#ifndef CHASE_TESTS_FAKE_STATE_H
#define CHASE_TESTS_FAKE_STATE_H

#include <stdint.h>

#define FAKE_NVML_MAX_GPUS 16
#define FAKE_STATE_MAGIC "CHFAKENV"
#define FAKE_STATE_VERSION 2u
#define FAKE_CURVE_MAX 32

enum { FAKE_GPU_LOST = 1u }; /* flags */

typedef struct fake_gpu_state {
    uint32_t limit_mw;   /* current power limit */
    uint32_t default_mw; /* the limit the GPU boots with */
    uint32_t min_mw;
    uint32_t max_mw;
    uint32_t set_calls; /* successful nvmlDeviceSetPowerManagementLimit calls, over all processes */
    uint32_t flags;
    double energy_mj;      /* energy drawn from creation up to since_ns */
    int64_t since_ns;      /* CLOCK_MONOTONIC time of the last limit change (or creation) */
    double energy_base_mj; /* subtracted from the counter NVML reports: raised when a reset is simulated */
} fake_gpu_state_t;

typedef struct fake_state {
    char magic[8];
    uint32_t version;
    uint32_t n_gpus;
    double draw_cap_w; /* what a GPU draws when its limit does not bind */
    double load;       /* fraction of min(limit, draw_cap_w) drawn */
    int64_t created_ns;
    fake_gpu_state_t gpu[FAKE_NVML_MAX_GPUS];
    /* Optional power curve (FAKE_NVML_POWER_CURVE): draw per limit, linear between points; replaces draw_cap_w. */
    uint32_t curve_n;
    uint32_t reserved;
    double curve_limit_w[FAKE_CURVE_MAX];
    double curve_power_w[FAKE_CURVE_MAX];
} fake_state_t;

/* The offsets docs/nvml.md gives to readers in other languages (a Python test can mmap the file). */
_Static_assert(sizeof(fake_gpu_state_t) == 48, "fake_gpu_state_t layout changed: update docs/nvml.md");
_Static_assert(__builtin_offsetof(fake_state_t, n_gpus) == 12, "fake_state_t layout changed: update docs/nvml.md");
_Static_assert(__builtin_offsetof(fake_state_t, gpu) == 40, "fake_state_t layout changed: update docs/nvml.md");

typedef struct fake_state_handle {
    fake_state_t *state;
    int fd; /* -1: process-local state (FAKE_NVML_STATE unset) */
} fake_state_handle_t;

/* Maps the state of path (NULL or "": process-local memory), creating it from the environment when the file is
 * new or empty: FAKE_NVML_GPUS (default 2), FAKE_NVML_DRAW_W (default 235), FAKE_NVML_LOAD (default 1),
 * FAKE_NVML_POWER_CURVE ("LIMIT_W:POWER_W,..." ascending limits; default none).
 * Returns 0, or -1 after printing why on stderr. */
int fake_state_open(const char *path, fake_state_handle_t *h);
void fake_state_close(fake_state_handle_t *h);
void fake_state_lock(fake_state_handle_t *h);
void fake_state_unlock(fake_state_handle_t *h);

/* Now on the clock the state uses (CLOCK_MONOTONIC, ns). */
int64_t fake_state_now_ns(void);
/* What GPU i draws now (mW), from its limit: the curve at the limit when there is one, else min(limit, draw cap),
 * times the load. */
double fake_state_power_mw(const fake_state_t *s, int i);
/* GPU i's counter value now (mJ), before energy_base_mj is taken off. */
double fake_state_energy_mj(const fake_state_t *s, int i, int64_t now_ns);
/* Sets GPU i's limit, first banking the energy drawn at the old one. */
void fake_state_set_limit(fake_state_t *s, int i, uint32_t limit_mw, int64_t now_ns);

#endif
