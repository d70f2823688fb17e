/* Names and units of the knobs chase can turn. */
#include "chase/setting.h"

const char *chase_knob_name(chase_knob_t knob)
{
    switch (knob) {
    case CHASE_KNOB_POWER_LIMIT: return "power limit";
    }
    return "?";
}

const char *chase_knob_unit(chase_knob_t knob)
{
    switch (knob) {
    case CHASE_KNOB_POWER_LIMIT: return "W";
    }
    return "?";
}

const char *chase_knob_key(chase_knob_t knob)
{
    switch (knob) {
    case CHASE_KNOB_POWER_LIMIT: return "power_limit_w";
    }
    return "setting";
}
