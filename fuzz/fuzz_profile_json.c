/* libFuzzer target: chase's JSON profile reader. Either a message that quotes input only escaped, or a profile that
 * keeps docs/profiles.md's promises: sorted distinct limits, positive finite numbers, printable names, a hull whose
 * vertices get faster-to-cheaper, and interpolation that stays between its neighbours' times and energies. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chase/profile.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    chase_profile_t *p = (chase_profile_t *)&size; /* must come back NULL on failure */
    chase_err_t err = {0};
    int rc = chase_profile_parse_json((const char *)data, size, "fuzz.json", &p, &err);
    if (rc != CHASE_OK) {
        if (rc > 0 || p != NULL || !err.msg[0] || !fuzz_msg_safe(&err))
            abort();
        return 0;
    }
    if (!p || p->n == 0 || !p->name[0] || !p->unit[0])
        abort();
    if (!fuzz_label_ok(p->name) || !fuzz_label_ok(p->gpu) || !fuzz_label_ok(p->unit))
        abort();
    for (size_t i = 0; i < p->n; i++) {
        const chase_profile_point_t *q = &p->pts[i];
        if (!(isfinite(q->setting) && q->setting > 0 && isfinite(q->throughput) && q->throughput > 0 &&
              isfinite(q->power_w) && q->power_w > 0))
            abort();
        if (i && !(p->pts[i - 1].setting < q->setting))
            abort();
    }
    chase_hull_t h;
    if (chase_hull_build(p, &h, &err) != CHASE_OK || h.n == 0 || h.n > p->n)
        abort();
    for (size_t i = 1; i < h.n; i++)
        if (!(h.v[i].t_s > h.v[i - 1].t_s && h.v[i].e_j < h.v[i - 1].e_j))
            abort();
    chase_hull_free(&h);
    if (p->n >= 2) {
        double lo = p->pts[0].setting, hi = p->pts[1].setting, mid = lo + (hi - lo) / 2, x, w;
        if (chase_profile_at(p, mid, &x, &w) != CHASE_OK || !(x > 0) || !(w > 0))
            abort();
        double t = 1 / x, ta = 1 / p->pts[0].throughput, tb = 1 / p->pts[1].throughput;
        if (!(t >= fmin(ta, tb) * (1 - 1e-12) && t <= fmax(ta, tb) * (1 + 1e-12)))
            abort();
    }
    if (chase_profile_at(p, p->pts[0].setting * 0.5, NULL, NULL) != CHASE_ERANGE)
        abort();
    chase_profile_free(p);
    return 0;
}
