/* The NVML GPU backend, loaded with dlopen at run time (CHASE_NVML_LIBRARY overrides libnvidia-ml.so.1). */
#ifndef CHASE_NVML_H
#define CHASE_NVML_H

#include "chase/gpu.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads NVML and initialises it. CHASE_ENOTFOUND when the library is missing, CHASE_EGPU when the driver is not
 * loaded; err says which, and what to do. */
int chase_gpu_nvml_open(chase_gpu_t **out, chase_err_t *err);

/* The minor number of GPU idx's device file (/dev/nvidiaN), as NVML reports it; -1 when it does not, or when g is
 * not the NVML backend. */
int chase_gpu_nvml_minor(const chase_gpu_t *g, int idx);

#ifdef __cplusplus
}
#endif
#endif
