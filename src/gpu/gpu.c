/* What every GPU backend shares: freeing a backend through its ops. */
#include "chase/gpu.h"

#include <stdlib.h>

void chase_gpu_free(chase_gpu_t *g)
{
    if (!g)
        return;
    if (g->ops && g->ops->destroy)
        g->ops->destroy(g->self);
    free(g);
}
