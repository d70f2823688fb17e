/* The savings of a live run (see chase/savings.h): measured run against profile-based estimates of the same work
 * at the top setting and at the best fixed setting with the run's slowdown. */
#include "chase/savings.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "chase/policy.h"

/* Throughput and per-GPU power of one setting, or of a mix of settings by time share. */
typedef struct rate {
    double x, p_w;
} rate_t;

static int rate_at(const chase_profile_t *p, double setting, rate_t *out)
{
    /* A setting a hair outside the measured range (a GPU that reads back 299.99 W) is priced at the nearest end. */
    double lo = chase_profile_min_setting(p), hi = chase_profile_max_setting(p);
    if (!(setting >= lo - 1e-6 * fabs(lo) && setting <= hi + 1e-6 * fabs(hi)))
        return CHASE_ERANGE;
    return chase_profile_at(p, fmin(hi, fmax(lo, setting)), &out->x, &out->p_w);
}

/* The static policy's decision with the given budget, as chase simulate would run it. */
static int fixed_rate(const chase_profile_t *p, double budget_pct, double *setting, rate_t *out, chase_err_t *err)
{
    chase_policy_params_t params;
    chase_policy_params_init(&params);
    params.budget_pct = budget_pct;
    chase_policy_t *pol = NULL;
    chase_hull_t hull = {0, NULL};
    int rc = chase_policy_create("static", &params, &pol, err);
    if (rc == CHASE_OK)
        rc = chase_hull_build(p, &hull, err);
    chase_decision_t d;
    if (rc == CHASE_OK) {
        chase_policy_ctx_t ctx;
        memset(&ctx, 0, sizeof ctx);
        ctx.work_total = NAN;
        ctx.deadline = INFINITY;
        ctx.hull = &hull;
        ctx.profile = p;
        rc = chase_policy_decide(pol, &ctx, &d, err);
    }
    *setting = 0;
    *out = (rate_t){0, 0};
    for (int i = 0; rc == CHASE_OK && i < d.n; i++) {
        rate_t r;
        if ((rc = rate_at(p, d.value[i], &r)) != CHASE_OK)
            break;
        *setting += d.share[i] * d.value[i];
        out->x += d.share[i] * r.x;
        out->p_w += d.share[i] * r.p_w;
    }
    chase_hull_free(&hull);
    chase_policy_free(pol);
    return rc;
}

/* Integral of the recorded CI over [t0, t0 + span), in (g/kWh)*s: each period holds its own CI, and the last
 * one's carries on past the run's end (*held_s says how long). NAN when a period inside has no CI. */
static double ci_integral(const chase_ledger_t *l, double span, double *held_s)
{
    double t0 = l->rows[0].start, end = t0 + span, sum = 0, last_ci = NAN, covered = t0;
    for (size_t i = 0; i < l->n && covered < end; i++) {
        const chase_period_t *r = &l->rows[i];
        double a = fmax(r->start, covered), b = fmin(r->end, end);
        if (b > a) {
            if (!isfinite(r->ci))
                return NAN;
            sum += r->ci * (b - a);
            covered = b;
        }
        if (isfinite(r->ci))
            last_ci = r->ci;
    }
    *held_s = fmax(0, end - covered);
    if (*held_s > 0) {
        if (!isfinite(last_ci))
            return NAN;
        sum += last_ci * *held_s;
    }
    return sum;
}

/* The counterfactual at rate c: every period's time and energy scaled by the profile's ratios between the rate it
 * ran at and c (time by throughput, energy by energy per unit of work), then priced over its own span. */
typedef struct scaled {
    double time_s, energy_j;
} scaled_t;

static void finish_case(const chase_ledger_t *l, double setting, scaled_t s, chase_savings_case_t *c, double *held)
{
    c->setting = setting;
    c->time_s = s.time_s;
    c->energy_j = s.energy_j;
    /* A fixed setting draws constant power, so its carbon is its mean power times the CI integral. */
    c->carbon_g = s.time_s > 0 ? s.energy_j / s.time_s * ci_integral(l, s.time_s, held) / 3.6e6 : NAN;
}

/* Adds a caveat to out->note ("; " between two). */
static void add_note(chase_savings_t *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_note(chase_savings_t *out, const char *fmt, ...)
{
    size_t len = strlen(out->note);
    if (len && len + 2 < sizeof out->note)
        len += (size_t)snprintf(out->note + len, sizeof out->note - len, "; ");
    va_list ap;
    va_start(ap, fmt);
    if (len < sizeof out->note)
        vsnprintf(out->note + len, sizeof out->note - len, fmt, ap);
    va_end(ap);
}

static void set_nan(chase_savings_case_t *c)
{
    c->setting = c->time_s = c->energy_j = c->carbon_g = NAN;
}

int chase_savings_estimate(const chase_profile_t *profile, const chase_ledger_t *ledger, int n_gpus,
                           chase_savings_t *out, chase_err_t *err)
{
    memset(out, 0, sizeof *out);
    set_nan(&out->max);
    set_nan(&out->fixed);
    out->slowdown_pct = out->carbon_saving_pct = out->energy_saving_pct = NAN;
    out->carbon_saved_g = out->energy_saved_j = out->efficiency_pp = out->timing_pp = out->profiling_pp = NAN;
    out->time_fit = out->power_fit = out->ci_held_s = NAN;
    if (ledger)
        chase_ledger_totals(ledger, &out->run);
    const char *why = NULL;
    char buf[sizeof out->reason];
    if (!profile || profile->n == 0)
        why = "no profile of the job";
    else if (!ledger || ledger->n == 0 || !(out->run.time_s > 0))
        why = "no period was recorded";
    else if (n_gpus < 1)
        why = "the run names no GPU";
    rate_t top = {0, 0};
    if (!why && rate_at(profile, chase_profile_max_setting(profile), &top) != CHASE_OK)
        why = "the profile has no top setting";
    /* The measured run, and what the profile predicts for it: its work at the settings it held, and the power of
     * those settings over its time. */
    double pred_time = 0, pred_energy = 0;
    scaled_t at_max = {0, 0};
    for (size_t i = 0; !why && i < ledger->n; i++) {
        const chase_period_t *r = &ledger->rows[i];
        double d = r->end - r->start;
        rate_t q;
        if (!(d >= 0) || !isfinite(r->energy_j) || !(r->work >= 0)) {
            snprintf(buf, sizeof buf, "period %zu has no valid time, energy or steps", i + 1);
            why = buf;
        } else if (d > 0 && !isfinite(r->setting)) {
            snprintf(buf, sizeof buf, "period %zu has no known setting (the GPUs could not say)", i + 1);
            why = buf;
        } else if (d > 0 && rate_at(profile, r->setting, &q) != CHASE_OK) {
            snprintf(buf, sizeof buf, "period %zu ran at %g %s, outside the profile's %g..%g", i + 1, r->setting,
                     chase_knob_unit(profile->knob), chase_profile_min_setting(profile),
                     chase_profile_max_setting(profile));
            why = buf;
        } else if (d > 0) {
            pred_time += r->work / q.x;
            pred_energy += q.p_w * n_gpus * d;
            at_max.time_s += d * q.x / top.x;
            at_max.energy_j += r->energy_j * (top.p_w / top.x) / (q.p_w / q.x);
        }
    }
    if (why) {
        snprintf(out->reason, sizeof out->reason, "%s", why);
        return chase_err_set(err, CHASE_ENODATA, "no estimate of the savings: %s", why);
    }
    out->estimated = 1;
    out->time_fit = pred_time > 0 ? out->run.time_s / pred_time : NAN;
    out->power_fit = pred_energy > 0 ? out->run.energy_j / pred_energy : NAN;
    double held_max = 0, held_fixed = 0;
    finish_case(ledger, chase_profile_max_setting(profile), at_max, &out->max, &held_max);
    out->slowdown_pct = 100 * (out->run.time_s / out->max.time_s - 1);

    /* The efficiency part, as chase simulate defines it: what the static policy saves with the run's slowdown as
     * its budget. */
    double fixed_setting;
    rate_t f;
    int rc = fixed_rate(profile, fmax(0, out->slowdown_pct), &fixed_setting, &f, err);
    if (rc != CHASE_OK) {
        out->estimated = 0;
        snprintf(out->reason, sizeof out->reason, "%.190s", err && err->msg[0] ? err->msg : chase_strerror(rc));
        return rc;
    }
    scaled_t at_fixed = {0, 0};
    double profiling_g = 0; /* profiling periods' carbon beyond the same work at the fixed setting and CI */
    for (size_t i = 0; i < ledger->n; i++) {
        const chase_period_t *r = &ledger->rows[i];
        rate_t q;
        double d = r->end - r->start;
        if (d > 0 && rate_at(profile, r->setting, &q) == CHASE_OK) {
            double e_fixed = r->energy_j * (f.p_w / f.x) / (q.p_w / q.x);
            at_fixed.time_s += d * q.x / f.x;
            at_fixed.energy_j += e_fixed;
            if (r->phase == CHASE_PHASE_PROFILE && isfinite(r->ci))
                profiling_g += (r->energy_j - e_fixed) * r->ci / 3.6e6;
        }
    }
    finish_case(ledger, fixed_setting, at_fixed, &out->fixed, &held_fixed);
    out->ci_held_s = fmax(held_max, held_fixed);

    /* A higher limit never makes a GPU slower; a profile that says so measured noise, and the baseline inherits it. */
    const chase_profile_point_t *fastest = &profile->pts[0];
    for (size_t i = 1; i < profile->n; i++)
        if (profile->pts[i].throughput > fastest->throughput)
            fastest = &profile->pts[i];
    if (fastest->throughput > 1.02 * top.x)
        add_note(out,
                 "the profile measures %g %s %.0f %% faster than the top limit (noise in its measurement), "
                 "which the estimate inherits",
                 fastest->setting, chase_knob_unit(profile->knob), 100 * (fastest->throughput / top.x - 1));
    out->energy_saving_pct = 100 * (1 - out->run.energy_j / out->max.energy_j);
    out->energy_saved_j = out->max.energy_j - out->run.energy_j;
    if (out->run.unpriced_s > 0 || !isfinite(out->max.carbon_g) || !isfinite(out->fixed.carbon_g)) {
        out->max.carbon_g = out->fixed.carbon_g = NAN;
        add_note(out, "no carbon estimate: the CI was unknown for %.0f s of the run", out->run.unpriced_s);
        return CHASE_OK;
    }
    out->carbon_saving_pct = 100 * (1 - out->run.carbon_g / out->max.carbon_g);
    out->carbon_saved_g = out->max.carbon_g - out->run.carbon_g;
    out->efficiency_pp = 100 * (1 - out->fixed.carbon_g / out->max.carbon_g);
    out->timing_pp = out->carbon_saving_pct - out->efficiency_pp;
    out->profiling_pp = -100 * profiling_g / out->max.carbon_g;
    if (out->ci_held_s > 0.01 * out->run.time_s)
        add_note(out, "a counterfactual ran %.0f s past the run's end, priced there at the last period's CI",
                 out->ci_held_s);
    return CHASE_OK;
}

int chase_savings_of_run(const chase_run_record_t *r, chase_savings_t *out, chase_err_t *err)
{
    if (r->profile_source && !strncmp(r->profile_source, "none", 4)) {
        /* Keep the measured totals and the shape of an estimate, with the reason there is none. */
        chase_savings_estimate(NULL, r->ledger, r->n_gpus, out, NULL);
        snprintf(out->reason, sizeof out->reason, "no measured profile: %.150s", r->profile_source);
        return chase_err_set(err, CHASE_ENODATA, "no estimate of the savings: %s", out->reason);
    }
    return chase_savings_estimate(r->profile, r->ledger, r->n_gpus, out, err);
}
