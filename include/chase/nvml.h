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

#ifdef __cplusplus
}
#endif
#endif
