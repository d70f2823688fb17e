/* GPU power-limit profiles: throughput and power per power limit, interpolation and the convex hull. */
#ifndef CHASE_PROFILE_H
#define CHASE_PROFILE_H

#include <stddef.h>

#include "chase/error.h"
#include "chase/setting.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One measured setting (a value of the profile's knob): work units per second and average power drawn at it. */
typedef struct chase_profile_point {
    double setting;
    double throughput; /* work units per second (unit: chase_profile_t.unit) */
    double power_w;
} chase_profile_point_t;

/* A profile: points sorted by ascending setting of one knob, all throughputs and powers > 0. */
typedef struct chase_profile {
    chase_knob_t knob; /* what the points' settings are (CHASE_KNOB_POWER_LIMIT: watts) */
    char name[128];
    char gpu[64];   /* e.g. "A40" */
    char unit[32];  /* what one unit of work is: "epoch", "step", "sample" */
    size_t n;
    chase_profile_point_t *pts;
} chase_profile_t;

/* One vertex of the lower convex hull of (time, energy) per unit of work. */
typedef struct chase_hull_vertex {
    double setting;  /* the value of the profile's knob */
    double t_s;       /* seconds per unit of work */
    double e_j;       /* joules per unit of work */
    double x;         /* throughput, units per second (1/t_s) */
    double p_w;       /* average power (e_j/t_s) */
} chase_hull_vertex_t;

/* Pareto-efficient lower convex hull, ordered from fastest (v[0], highest limit) to most energy-efficient (v[n-1]).
 * Mixing two adjacent vertices by time share reaches every point on the segment between them. */
typedef struct chase_hull {
    size_t n;
    chase_hull_vertex_t *v;
} chase_hull_t;

/* Allocates an empty profile with room for n points, or NULL. */
chase_profile_t *chase_profile_new(const char *name, size_t n);

/* Frees p (NULL is fine). */
void chase_profile_free(chase_profile_t *p);

/* Sorts points by limit and checks them: limits distinct and > 0, throughput and power finite and > 0. */
int chase_profile_validate(chase_profile_t *p, chase_err_t *err);

/* Reads chase's JSON profile format (docs/profiles.md). */
int chase_profile_read_json(const char *path, chase_profile_t **out, chase_err_t *err);
int chase_profile_parse_json(const char *text, size_t len, const char *name, chase_profile_t **out,
                             chase_err_t *err);

/* Writes p in chase's JSON format (atomically: temp file then rename). */
int chase_profile_write_json(const chase_profile_t *p, const char *path, chase_err_t *err);

/* Reads one workload "DATASET/NETWORK/BATCH/OPTIMIZER" from a Zeus summary_power CSV; unit is "epoch". */
int chase_profile_read_zeus_csv(const char *path, const char *workload, chase_profile_t **out, chase_err_t *err);

/* Lowest and highest measured setting. */
double chase_profile_min_setting(const chase_profile_t *p);
double chase_profile_max_setting(const chase_profile_t *p);

/* Throughput at the highest measured setting: the `max` baseline every slowdown is measured against. */
double chase_profile_top_throughput(const chase_profile_t *p);

/* Throughput and power at setting value, linearly interpolated in time and energy per unit between measured ones;
 * CHASE_ERANGE outside the measured range. */
int chase_profile_at(const chase_profile_t *p, double value, double *throughput, double *power_w);

/* Opens a profile named by spec: a chase JSON profile ("*.json"), a Zeus summary_power CSV ("*.csv", with workload
 * "DATASET/NETWORK/BATCH/OPTIMIZER"), or a built-in profile's name. */
int chase_profile_open(const char *spec, const char *workload, chase_profile_t **out, chase_err_t *err);

/* Built-in profiles (published Zeus measurements, see NOTICE): a copy of the named one ("a40-resnet50", ...). */
int chase_profile_builtin(const char *name, chase_profile_t **out, chase_err_t *err);

/* Names and one-line descriptions of the built-in profiles, NULL-terminated. */
const char *const *chase_profile_builtin_names(void);
const char *chase_profile_builtin_summary(const char *name);

/* Builds the hull of p (free with chase_hull_free). */
int chase_hull_build(const chase_profile_t *p, chase_hull_t *out, chase_err_t *err);
void chase_hull_free(chase_hull_t *h);

#ifdef __cplusplus
}
#endif
#endif
