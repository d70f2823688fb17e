/* Private: the derived statistics of each built-in grid model (the table is generated, see gridmodel_data.c). */
#ifndef CHASE_SIGNAL_GRIDMODEL_DATA_H
#define CHASE_SIGNAL_GRIDMODEL_DATA_H

#include <stddef.h>

/* CI(t) = level(t, hour) + sd(t, hour) * z(t), clamped to [floor_g, ceil_g]; level and sd are interpolated between
 * mid-month knots. z is a unit-variance residual: sqrt(w_slow) * slow + sqrt(1 - w_slow) * fast, slow an AR(2)
 * with real roots slow_root1 > slow_root2, fast an AR(1) with coefficient fast_phi; both processes' innovations
 * are scaled by |h|^(vol_power/2) / sqrt(E|h|^vol_power), h a unit AR(1) with coefficient vol_psi. */
typedef struct chase_gridmodel_def {
    const char *name;
    const char *summary;
    const char *source_file;   /* the shared trace the statistics were derived from, relative to the data folder */
    const char *source_column; /* its CI column */
    const char *licence;       /* the source's origin and licence */
    const char *source_start;  /* first hour of the source, ISO-8601 UTC */
    size_t source_hours;       /* hours covered by the source */
    double floor_g, ceil_g;    /* clamping bounds, g/kWh; floor_g > 0 */
    double w_slow, slow_root1, slow_root2, fast_phi;
    double vol_power, vol_psi;
    double level[12][24]; /* knots by month (mid-month) and UTC hour, g/kWh */
    double sd[12][24];    /* residual standard deviation by month and UTC hour, g/kWh */
} chase_gridmodel_def_t;

extern const chase_gridmodel_def_t chase_gridmodel_defs[];
extern const size_t chase_gridmodel_count;
extern const char *const chase_gridmodel_name_list[]; /* NULL-terminated */

#endif
