/* What every GPU backend shares: the factory that opens one by kind, and calls through its ops. */
#include "chase/gpu.h"

#include <stdlib.h>
#include <string.h>

#include "chase/nvml.h"

static int open_nvml(const chase_gpu_open_opts_t *o, chase_gpu_t **out, chase_err_t *err)
{
    (void)o;
    return chase_gpu_nvml_open(out, err);
}

static int open_sim(const chase_gpu_open_opts_t *o, chase_gpu_t **out, chase_err_t *err)
{
    return chase_gpu_sim_open(o->profile, o->n_gpus > 0 ? o->n_gpus : 1, out, err);
}

typedef struct backend {
    const char *name;
    int (*open)(const chase_gpu_open_opts_t *o, chase_gpu_t **out, chase_err_t *err);
} backend_t;

static const backend_t backends[] = {{"nvml", open_nvml}, {"sim", open_sim}};
static const char *const backend_names[] = {"nvml", "sim", NULL};

const char *const *chase_gpu_backends(void) { return backend_names; }

int chase_gpu_open(const chase_gpu_open_opts_t *opts, chase_gpu_t **out, chase_err_t *err)
{
    *out = NULL;
    chase_gpu_open_opts_t none = {0};
    const chase_gpu_open_opts_t *o = opts ? opts : &none;
    const char *kind = o->backend ? o->backend : "nvml";
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (!strcmp(kind, backends[i].name))
            return backends[i].open(o, out, err);
    return chase_err_set(err, CHASE_EINVAL, "unknown GPU backend '%.40s' (known: nvml, sim)", kind);
}

const char *chase_gpu_backend(const chase_gpu_t *g) { return g && g->ops && g->ops->name ? g->ops->name : "?"; }

void chase_gpu_free(chase_gpu_t *g)
{
    if (!g)
        return;
    if (g->ops && g->ops->destroy)
        g->ops->destroy(g->self);
    free(g);
}

int chase_gpu_count(chase_gpu_t *g, int *n, chase_err_t *err) { return g->ops->count(g->self, n, err); }

int chase_gpu_info(chase_gpu_t *g, int idx, chase_gpu_info_t *out, chase_err_t *err)
{
    return g->ops->info(g->self, idx, out, err);
}

int chase_gpu_get_setting(chase_gpu_t *g, int idx, chase_knob_t knob, chase_setting_range_t *out, chase_err_t *err)
{
    return g->ops->get_setting(g->self, idx, knob, out, err);
}

int chase_gpu_set_setting(chase_gpu_t *g, int idx, const chase_setting_t *s, chase_err_t *err)
{
    return g->ops->set_setting(g->self, idx, s, err);
}

int chase_gpu_energy(chase_gpu_t *g, int idx, double *joules, chase_err_t *err)
{
    return g->ops->energy(g->self, idx, joules, err);
}
