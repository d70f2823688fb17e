/* WattTime v3: /login (basic auth) gives a bearer token valid 30 minutes, renewed before then and once more on a
 * 401; /v3/historical and /v3/forecast give MOER in lbs/MWh, converted to g/kWh; /v3/region-from-loc turns lat/lon
 * into a region; /v3/signal-index (a percentile, not g/kWh) only explains what a plan without data access gives. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "signal/clock.h"
#include "signal/provider_common.h"

#define WT_URL "https://api.watttime.org"
/* Tokens last 30 minutes; renew with margin so a request never carries one that expires on the way. */
#define TOKEN_LIFE_S (25 * 60)

typedef struct wt {
    char user[256], password[256];
    char token[2048];
    double token_at; /* monotonic seconds, or -1 */
    char region[64];
    double lat, lon;
    int by_location;
    char signal[32];
    char auth[2100]; /* "Authorization: Bearer ..." */
} wt_t;

static int wt_login(chase_live_t *lv, chase_err_t *err)
{
    wt_t *wt = lv->impl;
    char url[600] = "";
    chase_live_append(url, sizeof url, "%s/login", lv->url);
    chase_http_resp_t r;
    int rc = chase_http_get(&lv->http, url, "watttime /login", NULL, wt->user, wt->password, &r, err);
    if (rc == CHASE_EAUTH && err)
        chase_live_append(err->msg, sizeof err->msg, " (check WATTTIME_USERNAME and WATTTIME_PASSWORD)");
    if (rc == CHASE_OK)
        rc = chase_parse_watttime_token(r.body, r.len, wt->token, sizeof wt->token, err);
    if (rc == CHASE_OK && strpbrk(wt->token, "\r\n"))
        rc = chase_err_set(err, CHASE_EFORMAT, "watttime /login: the token has a newline");
    chase_http_resp_free(&r);
    if (rc == CHASE_OK) {
        wt->token_at = chase_mono_s();
        snprintf(wt->auth, sizeof wt->auth, "Authorization: Bearer %s", wt->token);
    } else {
        wt->token_at = -1;
    }
    return rc;
}

/* GET with the bearer token: logs in when there is none or it is old, and once more when it is refused. */
static int wt_get(chase_live_t *lv, const char *url, const char *what, chase_http_resp_t *r, chase_err_t *err)
{
    wt_t *wt = lv->impl;
    int rc;
    memset(r, 0, sizeof *r);
    for (int round = 0;; round++) {
        if (wt->token_at < 0 || chase_mono_s() - wt->token_at > TOKEN_LIFE_S)
            if ((rc = wt_login(lv, err)) != CHASE_OK)
                return rc;
        const char *headers[] = {wt->auth, "Accept: application/json", NULL};
        rc = chase_http_get(&lv->http, url, what, headers, NULL, NULL, r, err);
        if (rc == CHASE_EAUTH && r->status == 401 && round == 0) {
            chase_http_resp_free(r);
            wt->token_at = -1; /* expired early or revoked: one new login, then give up */
            continue;
        }
        return rc;
    }
}

static int wt_region(chase_live_t *lv, chase_err_t *err)
{
    wt_t *wt = lv->impl;
    if (wt->region[0])
        return CHASE_OK;
    char url[700] = "";
    chase_live_append(url, sizeof url, "%s/v3/region-from-loc?latitude=%.4f&longitude=%.4f&signal_type=%s", lv->url,
                      wt->lat, wt->lon, wt->signal);
    chase_http_resp_t r;
    int rc = wt_get(lv, url, "watttime /v3/region-from-loc", &r, err);
    if (rc == CHASE_OK)
        rc = chase_parse_watttime_region(r.body, r.len, wt->region, sizeof wt->region, err);
    chase_http_resp_free(&r);
    return rc;
}

/* On a plan without historical data, say what the account does get, so the user knows what to change. */
static void wt_explain_plan(chase_live_t *lv, chase_err_t *err)
{
    wt_t *wt = lv->impl;
    char url[700] = "";
    chase_live_append(url, sizeof url, "%s/v3/signal-index?region=%s&signal_type=%s", lv->url, wt->region, wt->signal);
    chase_http_resp_t r;
    chase_err_t e;
    if (wt_get(lv, url, "watttime /v3/signal-index", &r, &e) == CHASE_OK && err)
        chase_live_append(err->msg, sizeof err->msg,
                          "; this account gets only /v3/signal-index, a 0-100 percentile that chase cannot use as "
                          "g/kWh: use region=CAISO_NORTH (open to every plan) or a plan with historical data");
    chase_http_resp_free(&r);
}

static int wt_fetch(chase_live_t *lv, int kind, double now, int64_t since, int64_t until, chase_sample_t *out,
                    size_t cap, size_t *n, chase_err_t *err)
{
    wt_t *wt = lv->impl;
    int rc = wt_region(lv, err);
    if (rc != CHASE_OK)
        return rc;
    char url[900] = "", what[64];
    if (kind == CHASE_CACHE_FORECAST) {
        double h = ceil(((double)until - now) / 3600);
        if (h < 1)
            h = 1;
        if (h > 72)
            h = 72;
        snprintf(what, sizeof what, "watttime /v3/forecast");
        chase_live_append(url, sizeof url, "%s/v3/forecast?region=%s&signal_type=%s&horizon_hours=%d", lv->url,
                          wt->region, wt->signal, (int)h);
    } else {
        char a[32], b[32];
        chase_live_time(since, 1, a, sizeof a);
        chase_live_time((int64_t)floor(now), 1, b, sizeof b);
        snprintf(what, sizeof what, "watttime /v3/historical");
        chase_live_append(url, sizeof url, "%s/v3/historical?region=%s&signal_type=%s&start=%s&end=%s", lv->url,
                          wt->region, wt->signal, a, b);
    }
    chase_http_resp_t r;
    rc = wt_get(lv, url, what, &r, err);
    if (rc == CHASE_EAUTH && r.status == 403 && kind == CHASE_CACHE_OBSERVED)
        wt_explain_plan(lv, err);
    if (rc == CHASE_OK) {
        chase_parse_info_t info;
        rc = chase_parse_watttime(r.body, r.len, kind == CHASE_CACHE_FORECAST ? CHASE_SAMPLE_FORECAST : 0, out, cap, n,
                                  &info, err);
        if (rc == CHASE_OK && info.skipped)
            chase_live_warn(lv, "%s: %zu point%s dropped (first: %s)", what, info.skipped, info.skipped == 1 ? "" : "s",
                            info.first_skip);
    }
    chase_http_resp_free(&r);
    return rc;
}

static void wt_destroy(void *impl)
{
    chase_live_wipe(impl, sizeof(wt_t)); /* password and token lived here */
}

static const chase_live_ops_t wt_ops = {.name = "watttime", .fetch = wt_fetch, .destroy = wt_destroy};

int chase_provider_watttime_open(chase_keys_t *k, const chase_source_ctx_t *ctx, chase_signal_t **out, chase_err_t *err)
{
    chase_live_t *lv;
    int rc = chase_live_new(&wt_ops, sizeof(wt_t), &lv, err);
    if (rc != CHASE_OK)
        return rc;
    wt_t *wt = lv->impl;
    wt->token_at = -1;
    rc = chase_live_setup(lv, k, WT_URL, ctx, err);
    const char *region = chase_keys_get(k, "region"), *signal = chase_keys_get(k, "signal_type");
    const char *user = chase_keys_secret(k, "username", "WATTTIME_USERNAME", NULL, NULL);
    const char *password =
        chase_keys_secret(k, "password", "WATTTIME_PASSWORD", rc == CHASE_OK ? lv->warn : NULL, lv->warn_arg);
    if (rc == CHASE_OK)
        rc = chase_keys_latlon(k, &wt->lat, &wt->lon, &wt->by_location, err);
    if (rc == CHASE_OK && !signal)
        signal = "co2_moer";
    if (rc == CHASE_OK && strcmp(signal, "co2_moer") && strcmp(signal, "co2_aoer"))
        rc = chase_err_set(err, CHASE_EINVAL, "watttime: signal_type=%.30s must be co2_moer or co2_aoer", signal);
    if (rc == CHASE_OK && region && wt->by_location)
        rc = chase_err_set(err, CHASE_EINVAL, "watttime: give region= or lat=,lon=, not both");
    if (rc == CHASE_OK && region && !chase_keys_code_ok(region, sizeof wt->region))
        rc = chase_err_set(err, CHASE_EINVAL, "watttime: region=%.40s is not a region code (e.g. CAISO_NORTH)", region);
    if (rc == CHASE_OK && !region && !wt->by_location)
        rc = chase_err_set(err, CHASE_EINVAL,
                           "watttime: say where: region=CAISO_NORTH or lat=37.8,lon=-122.3 (e.g. watttime:region=PJM)");
    if (rc == CHASE_OK && (!user || !password))
        rc = chase_err_set(err, CHASE_EAUTH, "watttime: no credentials: set WATTTIME_USERNAME and WATTTIME_PASSWORD");
    if (rc == CHASE_OK && (strlen(user) >= sizeof wt->user || strlen(password) >= sizeof wt->password))
        rc = chase_err_set(err, CHASE_EINVAL, "watttime: username or password longer than 255 bytes");
    if (rc != CHASE_OK) {
        chase_live_free(lv);
        return rc;
    }
    if (region)
        snprintf(wt->region, sizeof wt->region, "%s", region);
    snprintf(wt->user, sizeof wt->user, "%s", user);
    snprintf(wt->password, sizeof wt->password, "%s", password);
    snprintf(wt->signal, sizeof wt->signal, "%s", signal);
    if (wt->by_location)
        snprintf(lv->zone, sizeof lv->zone, "lat=%.4f,lon=%.4f/%s", wt->lat, wt->lon, signal);
    else
        snprintf(lv->zone, sizeof lv->zone, "%s/%s", wt->region, signal);
    return chase_live_signal(lv, 300, ctx, out, err);
}
