/* Electricity Maps v3: carbon-intensity/latest, /history (24 h) and /forecast, by zone or by lat/lon, direct or
 * lifecycle emission factors. The token travels only in the auth-token header. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signal/provider_common.h"

#define EM_URL "https://api.electricitymaps.com"

typedef struct em {
    char where[160]; /* query part naming the place: "zone=DE" or "lat=..&lon=.." */
    char emission[16];
    char header[600]; /* "auth-token: ..." */
} em_t;

static int em_get(chase_live_t *lv, const char *endpoint, int flags, chase_sample_t *out, size_t cap, size_t *n,
                  chase_err_t *err)
{
    em_t *em = lv->impl;
    char url[1024] = "", what[96];
    snprintf(what, sizeof what, "electricitymaps /v3/carbon-intensity/%s", endpoint);
    if (chase_live_append(url, sizeof url, "%s/v3/carbon-intensity/%s?%s&emissionFactorType=%s", lv->url, endpoint,
                          em->where, em->emission))
        return chase_err_set(err, CHASE_ERANGE, "%s: URL too long", what);
    const char *headers[] = {em->header, "Accept: application/json", NULL};
    chase_http_resp_t r;
    int rc = chase_http_get(&lv->http, url, what, headers, NULL, NULL, &r, err);
    if (rc == CHASE_EAUTH && err)
        chase_live_append(err->msg, sizeof err->msg, " (check ELECTRICITYMAPS_TOKEN and that it covers this zone)");
    if (rc == CHASE_OK) {
        chase_parse_info_t info;
        rc = chase_parse_electricitymaps(r.body, r.len, flags, out, cap, n, &info, err);
        if (rc == CHASE_OK && info.skipped)
            chase_live_warn(lv, "%s: %zu point%s dropped (first: %s)", what, info.skipped, info.skipped == 1 ? "" : "s",
                            info.first_skip);
    }
    chase_http_resp_free(&r);
    return rc;
}

static int em_fetch(chase_live_t *lv, int kind, double now, int64_t since, int64_t until, chase_sample_t *out,
                    size_t cap, size_t *n, chase_err_t *err)
{
    (void)until;
    if (kind == CHASE_CACHE_FORECAST)
        return em_get(lv, "forecast", CHASE_SAMPLE_FORECAST, out, cap, n, err);
    /* /history once per process (it fills the cache's past), then the cheaper /latest while the cache holds the
     * previous hour (since is the newest cached hour): only the current hour can be new. */
    if (!lv->fetched_history || now - (double)since >= 2 * 3600) {
        int rc = em_get(lv, "history", 0, out, cap, n, err);
        if (rc == CHASE_OK)
            lv->fetched_history = 1;
        return rc;
    }
    return em_get(lv, "latest", 0, out, cap, n, err);
}

static void em_destroy(void *impl)
{
    chase_live_wipe(impl, sizeof(em_t)); /* the token sat here */
}

static const chase_live_ops_t em_ops = {.name = "electricitymaps", .fetch = em_fetch, .destroy = em_destroy};

int chase_provider_electricitymaps_open(chase_keys_t *k, const chase_source_ctx_t *ctx, chase_signal_t **out,
                                        chase_err_t *err)
{
    chase_live_t *lv;
    int rc = chase_live_new(&em_ops, sizeof(em_t), &lv, err);
    if (rc != CHASE_OK)
        return rc;
    em_t *em = lv->impl;
    double lat = 0, lon = 0;
    int by_place = 0;
    rc = chase_live_setup(lv, k, EM_URL, ctx, err);
    const char *zone = chase_keys_get(k, "zone"), *emission = chase_keys_get(k, "emission");
    const char *token =
        chase_keys_secret(k, "token", "ELECTRICITYMAPS_TOKEN", rc == CHASE_OK ? lv->warn : NULL, lv->warn_arg);
    if (rc == CHASE_OK)
        rc = chase_keys_latlon(k, &lat, &lon, &by_place, err);
    if (rc == CHASE_OK && !emission)
        emission = "lifecycle";
    if (rc == CHASE_OK && strcmp(emission, "direct") && strcmp(emission, "lifecycle"))
        rc = chase_err_set(err, CHASE_EINVAL, "electricitymaps: emission=%.20s must be direct or lifecycle", emission);
    if (rc == CHASE_OK && zone && by_place)
        rc = chase_err_set(err, CHASE_EINVAL, "electricitymaps: give zone= or lat=,lon=, not both");
    if (rc == CHASE_OK && zone && !chase_keys_code_ok(zone, 40))
        rc = chase_err_set(err, CHASE_EINVAL, "electricitymaps: zone=%.40s is not a zone code (e.g. DE, US-CAL-CISO)",
                           zone);
    if (rc == CHASE_OK && !zone && !by_place)
        rc = chase_err_set(err, CHASE_EINVAL,
                           "electricitymaps: say where: zone=DE or lat=52.5,lon=13.4 (e.g. electricitymaps:zone=DE)");
    if (rc == CHASE_OK && !token)
        rc = chase_err_set(err, CHASE_EAUTH, "electricitymaps: no API token: set ELECTRICITYMAPS_TOKEN");
    if (rc == CHASE_OK && (strlen(token) > 400 || strpbrk(token, "\r\n")))
        rc = chase_err_set(err, CHASE_EINVAL, "electricitymaps: the API token is malformed (too long or a newline)");
    if (rc != CHASE_OK) {
        chase_live_free(lv);
        return rc;
    }
    if (zone)
        snprintf(em->where, sizeof em->where, "zone=%s", zone);
    else
        snprintf(em->where, sizeof em->where, "lat=%.4f&lon=%.4f", lat, lon);
    snprintf(em->emission, sizeof em->emission, "%s", emission);
    snprintf(em->header, sizeof em->header, "auth-token: %s", token);
    snprintf(lv->zone, sizeof lv->zone, "%s/%s", em->where, emission);
    return chase_live_signal(lv, 3600, ctx, out, err);
}
