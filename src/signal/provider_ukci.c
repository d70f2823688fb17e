/* The UK Carbon Intensity API (api.carbonintensity.org.uk, National Grid ESO): national or regional half-hourly
 * intensity, no account. National periods carry an actual value once measured; until then (and always for
 * regions) the forecast stands in, flagged CHASE_SAMPLE_FORECAST. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signal/provider_common.h"

#define UKCI_URL "https://api.carbonintensity.org.uk"

typedef struct ukci {
    char where[48]; /* "" national, "/regionid/3", "/postcode/RG10" */
} ukci_t;

static int ukci_fetch(chase_live_t *lv, int kind, double now, int64_t since, int64_t until, chase_sample_t *out,
                      size_t cap, size_t *n, chase_err_t *err)
{
    (void)until;
    ukci_t *u = lv->impl;
    char url[800] = "", a[32], b[32];
    int regional = u->where[0] != '\0';
    int64_t t_now = (int64_t)floor(now);
    int range = 0;
    if (kind == CHASE_CACHE_FORECAST) {
        chase_live_time(t_now, 0, a, sizeof a);
        if (regional)
            chase_live_append(url, sizeof url, "%s/regional/intensity/%s/fw48h%s", lv->url, a, u->where);
        else
            chase_live_append(url, sizeof url, "%s/intensity/%s/fw48h", lv->url, a);
    } else if (lv->fetched_history && now - (double)since < 3600) {
        /* The cache holds the previous half hour: only the current one is new, which the plain endpoints answer. */
        if (regional)
            chase_live_append(url, sizeof url, "%s/regional%s", lv->url, u->where);
        else
            chase_live_append(url, sizeof url, "%s/intensity", lv->url);
    } else {
        range = 1;
        chase_live_time(since, 0, a, sizeof a);
        chase_live_time(t_now, 0, b, sizeof b);
        if (regional)
            chase_live_append(url, sizeof url, "%s/regional/intensity/%s/%s%s", lv->url, a, b, u->where);
        else
            chase_live_append(url, sizeof url, "%s/intensity/%s/%s", lv->url, a, b);
    }
    const char *path = url + strlen(lv->url);
    char what[160];
    snprintf(what, sizeof what, "ukci %.120s", path);
    const char *headers[] = {"Accept: application/json", NULL};
    chase_http_resp_t r;
    int rc = chase_http_get(&lv->http, url, what, headers, NULL, NULL, &r, err);
    if (rc == CHASE_OK) {
        chase_parse_info_t info;
        rc = chase_parse_ukci(r.body, r.len, kind == CHASE_CACHE_FORECAST ? CHASE_SAMPLE_FORECAST : 0, out, cap, n,
                              &info, err);
        if (rc == CHASE_OK && info.skipped)
            chase_live_warn(lv, "%s: %zu point%s dropped (first: %s)", what, info.skipped, info.skipped == 1 ? "" : "s",
                            info.first_skip);
        if (rc == CHASE_OK && range)
            lv->fetched_history = 1;
    }
    chase_http_resp_free(&r);
    return rc;
}

static const chase_live_ops_t ukci_ops = {.name = "ukci", .fetch = ukci_fetch, .destroy = free};

int chase_provider_ukci_open(chase_keys_t *k, const chase_source_ctx_t *ctx, chase_signal_t **out, chase_err_t *err)
{
    chase_live_t *lv;
    int rc = chase_live_new(&ukci_ops, sizeof(ukci_t), &lv, err);
    if (rc != CHASE_OK)
        return rc;
    ukci_t *u = lv->impl;
    rc = chase_live_setup(lv, k, UKCI_URL, ctx, err);
    const char *region = chase_keys_get(k, "region"), *postcode = chase_keys_get(k, "postcode");
    if (rc == CHASE_OK && region && postcode)
        rc = chase_err_set(err, CHASE_EINVAL, "ukci: give region= or postcode=, not both");
    if (rc == CHASE_OK && region) {
        char *end;
        long id = strtol(region, &end, 10);
        if (end == region || *end || id < 1 || id > 17)
            rc = chase_err_set(err, CHASE_EINVAL,
                               "ukci: region=%.20s must be a region id from 1 to 17 (e.g. 13 is "
                               "London)",
                               region);
        else
            snprintf(u->where, sizeof u->where, "/regionid/%ld", id);
    } else if (rc == CHASE_OK && postcode) {
        /* The API wants the outward code only ("RG10"); keep what precedes a space and check it. */
        char pc[16];
        size_t j = 0;
        for (const char *s = postcode; *s && *s != ' ' && j + 1 < sizeof pc; s++)
            pc[j++] = (char)toupper((unsigned char)*s);
        pc[j] = '\0';
        int ok = j >= 2 && j <= 4 && isalpha((unsigned char)pc[0]);
        for (size_t i = 0; i < j; i++)
            ok = ok && isalnum((unsigned char)pc[i]);
        if (!ok)
            rc = chase_err_set(err, CHASE_EINVAL, "ukci: postcode=%.20s is not an outward postcode (e.g. RG10, SW1A)",
                               postcode);
        else
            snprintf(u->where, sizeof u->where, "/postcode/%s", pc);
    }
    if (rc != CHASE_OK) {
        chase_live_free(lv);
        return rc;
    }
    snprintf(lv->zone, sizeof lv->zone, "%s", u->where[0] ? u->where + 1 : "national");
    return chase_live_signal(lv, 1800, ctx, out, err);
}
