/* Built-in grid models: hourly carbon-intensity traces generated from derived statistics (gridmodel_data.c).
 *
 * The random numbers are a counter-based stream: the normals of hour H are a hash of (seed, model, H), and the
 * processes are run in from well before the requested start. So the value of a given hour does not depend on the
 * window asked for (a month cut from a generated year equals the month generated on its own, to ~1e-6 g/kWh),
 * and no state is kept between calls. */
#include "chase/gridmodel.h"
#include "chase/timeutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "signal/gridmodel_data.h"

/* Years 1..9999: the range of the ISO-8601 times chase reads and writes. */
#define START_MIN (-62135596800LL)
#define START_MAX (253402300799LL)
/* The processes are run in for this long (hours) at most; see run_in_hours. */
#define RUN_IN_MAX 20000

static const chase_gridmodel_def_t *find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < chase_gridmodel_count; i++)
        if (strcmp(chase_gridmodel_defs[i].name, name) == 0)
            return &chase_gridmodel_defs[i];
    return NULL;
}

const char *const *chase_gridmodel_names(void)
{
    return chase_gridmodel_name_list;
}

const char *chase_gridmodel_summary(const char *name)
{
    const chase_gridmodel_def_t *d = find(name);
    return d ? d->summary : NULL;
}

/* splitmix64's finaliser: a strong 64-bit mix, used as a counter-based generator. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* FNV-1a of the model name, so two models with the same seed do not share their weather. */
static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* Two independent standard normals for (key, hour, pair) by Box-Muller on two hashed uniforms. */
static void normal_pair(uint64_t key, int64_t hour, unsigned pair, double *n0, double *n1)
{
    uint64_t c = mix64(key ^ mix64((uint64_t)hour * 4u + pair * 2u));
    uint64_t d = mix64(key ^ mix64((uint64_t)hour * 4u + pair * 2u + 1u));
    double u1 = ((double)(c >> 11) + 1.0) * 0x1.0p-53; /* (0, 1]: log(u1) is finite */
    double u2 = (double)(d >> 11) * 0x1.0p-53;         /* [0, 1) */
    double r = sqrt(-2.0 * log(u1));
    *n0 = r * cos(2.0 * M_PI * u2);
    *n1 = r * sin(2.0 * M_PI * u2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Where hour H falls between the mid-month knots: knots k0, k1 (0..11) and the weight f of k1. Same formula as
 * month_position() in tools/derive_gridmodels.py, which fitted the knots for exactly this interpolation. */
static void knot_weights(int64_t hour, int *hod, int *k0, int *k1, double *f)
{
    int64_t day = floor_div(hour, 24);
    int y, m, d;
    chase_date_from_days(day, &y, &m, &d);
    *hod = (int)(hour - day * 24);
    double pos = (m - 1) + (((d - 1) * 24 + *hod) + 0.5) / (chase_days_in_month(y, m) * 24.0) - 0.5;
    double base = floor(pos);
    *f = pos - base;
    *k0 = ((int)base + 12) % 12;
    *k1 = (*k0 + 1) % 12;
}

/* Hours to run the processes in before the first output hour: until the slowest one has forgotten its (zero)
 * starting state to 1e-9, plus two days for the AR(2)'s k*a^k tail. */
static int64_t run_in_hours(const chase_gridmodel_def_t *d)
{
    double slowest = d->slow_root1;
    if (d->fast_phi > slowest)
        slowest = d->fast_phi;
    if (d->vol_psi > slowest)
        slowest = d->vol_psi;
    if (slowest <= 0.0)
        return 48;
    double h = log(1e-9) / log(slowest) + 48.0;
    return h > RUN_IN_MAX ? RUN_IN_MAX : (int64_t)ceil(h);
}

/* The residual processes of one model (see gridmodel_data.h). */
typedef struct residual {
    double p1, p2, slow_sd; /* AR(2): s = p1 s' + p2 s'' + slow_sd * e */
    double fast_sd;         /* AR(1): f = phi f' + fast_sd * e */
    double vol_sd;          /* AR(1) of the volatility driver h */
    double vol_norm;        /* 1 / sqrt(E|h|^q): the squared volatility has mean 1 */
    double w_slow, w_fast;  /* mixing weights (square roots of the variance shares) */
    double s0, s1, f, h;    /* state */
} residual_t;

static void residual_init(residual_t *r, const chase_gridmodel_def_t *d)
{
    double a = d->slow_root1, c = d->slow_root2;
    r->p1 = a + c;
    r->p2 = -a * c;
    /* Innovation variance that makes the AR(2) stationary variance 1: 1 - p1*rho1 - p2*rho2. */
    double rho1 = r->p1 / (1.0 - r->p2);
    double rho2 = r->p1 * rho1 + r->p2;
    r->slow_sd = sqrt(1.0 - r->p1 * rho1 - r->p2 * rho2);
    r->fast_sd = sqrt(1.0 - d->fast_phi * d->fast_phi);
    r->vol_sd = sqrt(1.0 - d->vol_psi * d->vol_psi);
    /* E|h|^q of a standard normal; same formula as abs_normal_moment() in tools/derive_gridmodels.py. */
    double q = d->vol_power;
    r->vol_norm = 1.0 / sqrt(pow(2.0, q / 2.0) * tgamma((q + 1.0) / 2.0) / sqrt(M_PI));
    r->w_slow = sqrt(d->w_slow);
    r->w_fast = sqrt(1.0 - d->w_slow);
    r->s0 = r->s1 = r->f = r->h = 0.0;
}

/* Advances the processes by one hour and returns the unit-variance residual z. */
static double residual_step(residual_t *r, const chase_gridmodel_def_t *d, uint64_t key, int64_t hour)
{
    double e_slow, e_fast, e_vol, unused;
    normal_pair(key, hour, 0, &e_slow, &e_fast);
    normal_pair(key, hour, 1, &e_vol, &unused);
    r->h = d->vol_psi * r->h + r->vol_sd * e_vol;
    double vol = pow(fabs(r->h), 0.5 * d->vol_power) * r->vol_norm;
    double s = r->p1 * r->s0 + r->p2 * r->s1 + r->slow_sd * vol * e_slow;
    r->s1 = r->s0;
    r->s0 = s;
    r->f = d->fast_phi * r->f + r->fast_sd * vol * e_fast;
    return r->w_slow * s + r->w_fast * r->f;
}

int chase_gridmodel_generate(const char *name, int64_t start, size_t n_hours, uint64_t seed, chase_trace_t **out,
                             chase_err_t *err)
{
    if (out)
        *out = NULL;
    if (!name || !out)
        return chase_err_set(err, CHASE_EINVAL, "grid model: missing %s", !name ? "name" : "output");
    const chase_gridmodel_def_t *d = find(name);
    if (!d) {
        char list[256] = "";
        size_t used = 0;
        for (size_t i = 0; i < chase_gridmodel_count && used < sizeof list; i++)
            used +=
                (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", chase_gridmodel_defs[i].name);
        return chase_err_set(err, CHASE_ENOTFOUND, "grid model '%s' does not exist (built-in: %s)", name, list);
    }
    if (n_hours == 0)
        return chase_err_set(err, CHASE_EINVAL, "grid model %s: 0 hours requested", name);
    if (start < START_MIN || start > START_MAX || n_hours > (size_t)((START_MAX - start) / 3600) + 1)
        return chase_err_set(err, CHASE_ERANGE, "grid model %s: start %lld + %zu hours is outside years 1..9999", name,
                             (long long)start, n_hours);

    int64_t first = floor_div(start, 3600);
    char tname[128];
    snprintf(tname, sizeof tname, "%s (model, seed %llu)", d->name, (unsigned long long)seed);
    chase_trace_t *t = chase_trace_new(tname, first * 3600, 3600, n_hours);
    if (!t)
        return chase_err_set(err, CHASE_ENOMEM, "grid model %s: out of memory for %zu hours", name, n_hours);

    uint64_t key = mix64(seed ^ name_hash(d->name));
    residual_t r;
    residual_init(&r, d);
    for (int64_t hour = first - run_in_hours(d); hour < first; hour++)
        residual_step(&r, d, key, hour);
    for (size_t i = 0; i < n_hours; i++) {
        int64_t hour = first + (int64_t)i;
        double z = residual_step(&r, d, key, hour);
        int hod, k0, k1;
        double f;
        knot_weights(hour, &hod, &k0, &k1, &f);
        double level = (1.0 - f) * d->level[k0][hod] + f * d->level[k1][hod];
        double sd = (1.0 - f) * d->sd[k0][hod] + f * d->sd[k1][hod];
        double ci = level + sd * z;
        t->ci[i] = ci < d->floor_g ? d->floor_g : ci > d->ceil_g ? d->ceil_g : ci;
    }
    *out = t;
    return CHASE_OK;
}
