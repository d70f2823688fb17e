/* What chase changes on a GPU: a setting is a value and its kind (the knob). Power limits in watts are the one knob
 * today; locked SM clocks in MHz would be the next (docs/architecture.md says where it goes). Profiles, policy
 * decisions, ledger rows and the GPU backends carry settings, so only the backends and online profiling need to
 * know which knob they turn. */
#ifndef CHASE_SETTING_H
#define CHASE_SETTING_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum chase_knob {
    CHASE_KNOB_POWER_LIMIT = 0 /* the GPU's power management limit, in W */
} chase_knob_t;

/* One value of one knob. */
typedef struct chase_setting {
    chase_knob_t knob;
    double value;
} chase_setting_t;

/* What a GPU allows for one knob: the value in force, the driver's default and the range it accepts (NAN where the
 * backend cannot say). */
typedef struct chase_setting_range {
    double current, default_value, min, max;
} chase_setting_range_t;

/* "power limit" */
const char *chase_knob_name(chase_knob_t knob);

/* The unit of the knob's values: "W". */
const char *chase_knob_unit(chase_knob_t knob);

/* The field name reports use for a value of the knob: "power_limit_w". */
const char *chase_knob_key(chase_knob_t knob);

#ifdef __cplusplus
}
#endif
#endif
