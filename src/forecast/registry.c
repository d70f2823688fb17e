/* The list of forecasting models `--forecaster NAME` can select: the yardsticks first, then chase (the default), its
 * blend with a published forecast, and the choice among them by what their errors cost the decisions. */
#include "forecast/models.h"

static const chase_forecaster_ops_t *const models[] = {
    &chase_model_persistence, &chase_model_seasonal, &chase_model_seasonal_week,
    &chase_model_svr_paper,   &chase_model_chase,    &chase_model_blend, &chase_model_select, 0,
};

const chase_forecaster_ops_t *const *chase_forecaster_models(void)
{
    return models;
}
