/* The simulated job: fixed work on simulated GPUs and a virtual clock. A data-parallel job waits for its slowest
 * GPU, so it advances at the lowest throughput over its GPUs' settings (chase_gpu_sim_throughput). */
#include <math.h>
#include <stdlib.h>

#include "chase/control.h"

struct chase_sim_job {
    chase_gpu_t *gpu;
    double work_total, work_done, now;
    int finished;
    chase_job_t job;
};

static double sim_now(void *self) { return ((chase_sim_job_t *)self)->now; }

static double sim_work_done(void *self) { return ((chase_sim_job_t *)self)->work_done; }

static int sim_run_until(void *self, double t_end, int *finished, chase_err_t *err)
{
    chase_sim_job_t *s = self;
    (void)err;
    if (s->finished || t_end <= s->now) {
        *finished = s->finished;
        return CHASE_OK;
    }
    double x = chase_gpu_sim_throughput(s->gpu);
    double dt = t_end - s->now, left = s->work_total - s->work_done;
    if (x * dt >= left) {
        dt = left / x;
        s->finished = 1;
    }
    chase_gpu_sim_advance(s->gpu, dt);
    s->work_done = s->finished ? s->work_total : s->work_done + x * dt;
    s->now = s->finished ? s->now + dt : t_end;
    if (s->finished)
        chase_gpu_sim_idle(s->gpu);
    *finished = s->finished;
    return CHASE_OK;
}

static const chase_job_ops_t sim_job_ops = {sim_now, sim_run_until, sim_work_done};

int chase_sim_job_create(chase_gpu_t *sim_gpu, double work_total, double start, chase_sim_job_t **out,
                         chase_err_t *err)
{
    *out = NULL;
    if (!(work_total > 0) || !isfinite(work_total))
        return chase_err_set(err, CHASE_EINVAL, "a simulated job needs a positive amount of work");
    if (isnan(chase_gpu_sim_throughput(sim_gpu)))
        return chase_err_set(err, CHASE_EINVAL, "a simulated job needs simulated GPUs (chase_gpu_sim_open)");
    chase_sim_job_t *s = calloc(1, sizeof *s);
    if (!s)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    s->gpu = sim_gpu;
    s->work_total = work_total;
    s->now = start;
    s->job = (chase_job_t){&sim_job_ops, s};
    *out = s;
    return CHASE_OK;
}

chase_job_t *chase_sim_job_job(chase_sim_job_t *sim) { return &sim->job; }

void chase_sim_job_free(chase_sim_job_t *sim) { free(sim); }
