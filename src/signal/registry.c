/* The table of signal sources and the few questions asked of it. A new source is one row here and one file with its
 * opener; the spec reader, the help text, the secret redaction and the credential list follow from the row. */
#include "signal/registry.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "chase/provider.h"
#include "signal/provider_common.h"

static const char *const no_names[] = {NULL};
static const char *const em_envs[] = {"ELECTRICITYMAPS_TOKEN", NULL};
static const char *const em_secrets[] = {"token", NULL};
static const char *const wt_envs[] = {"WATTTIME_USERNAME", "WATTTIME_PASSWORD", NULL};
static const char *const wt_secrets[] = {"username", "password", NULL};

static const chase_source_row_t rows[] = {
    {{"trace", "trace:FILE[,start=TIME][,speed=N][,column=NAME][,lca=1][,max_gap=DURATION]",
      "replays a CI trace (CSV: time,ci; an Electricity Maps export; a named column)", no_names, 0},
     "FILE",
     "start, speed, column, lca, max_gap",
     no_names,
     chase_source_trace_open},
    {{"static", "static:VALUE[,step=DURATION]", "a constant CI in g/kWh", no_names, 0},
     "VALUE",
     "step",
     no_names,
     chase_source_static_open},
    {{"electricitymaps", "electricitymaps:zone=DE|lat=..,lon=..[,emission=direct|lifecycle]",
      "Electricity Maps v3; token from ELECTRICITYMAPS_TOKEN", em_envs, 1},
     NULL,
     "zone, lat, lon, emission, token, " CHASE_LIVE_KEYS,
     em_secrets,
     chase_provider_electricitymaps_open},
    {{"watttime", "watttime:region=CAISO_NORTH|lat=..,lon=..[,signal_type=co2_moer|co2_aoer]",
      "WattTime v3 (lbs/MWh shown as g/kWh); WATTTIME_USERNAME, WATTTIME_PASSWORD", wt_envs, 1},
     NULL,
     "region, lat, lon, signal_type, username, password, " CHASE_LIVE_KEYS,
     wt_secrets,
     chase_provider_watttime_open},
    {{"ukci", "ukci[:region=1..17|postcode=RG10]", "UK Carbon Intensity API (GB); no account needed", no_names, 1},
     NULL,
     "region, postcode, " CHASE_LIVE_KEYS,
     no_names,
     chase_provider_ukci_open},
};

#define N_ROWS (sizeof rows / sizeof rows[0])

const chase_signal_source_t *chase_signal_source(size_t i)
{
    return i < N_ROWS ? &rows[i].info : NULL;
}

const chase_source_row_t *chase_source_find(const char *name)
{
    for (size_t i = 0; name && i < N_ROWS; i++)
        if (!strcmp(rows[i].info.name, name))
            return &rows[i];
    return NULL;
}

const char *chase_signal_secret_env(size_t i)
{
    for (size_t r = 0; r < N_ROWS; r++)
        for (const char *const *e = rows[r].info.secret_envs; *e; e++)
            if (i-- == 0)
                return *e;
    return NULL;
}

int chase_source_secret_key(const char *key)
{
    for (size_t r = 0; r < N_ROWS; r++)
        for (const char *const *s = rows[r].secret_keys; *s; s++)
            if (!strcmp(*s, key))
                return 1;
    /* Keys no source reads are refused, but a refused spec may still be shown: judge them by their name. */
    static const char *const words[] = {"token",  "password", "passwd", "secret",
                                        "apikey", "api_key",  "auth",   "credential"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t wl = strlen(words[i]);
        for (const char *p = key; *p; p++)
            if (!strncasecmp(p, words[i], wl))
                return 1;
    }
    return 0;
}

int chase_provider_known(const char *name)
{
    const chase_source_row_t *row = chase_source_find(name);
    return row && row->info.live;
}

int chase_source_open(const chase_source_row_t *row, const char *args, const chase_source_ctx_t *ctx,
                      chase_signal_t **out, chase_err_t *err)
{
    chase_keys_t k;
    *out = NULL;
    int rc = row->lead ? chase_keys_parse_lead(row->info.name, args, &k, err)
                       : chase_keys_parse(row->info.name, args, &k, err);
    if (rc != CHASE_OK)
        return rc;
    if ((rc = chase_keys_check(&k, row->keys, err)) == CHASE_OK)
        rc = row->open(&k, ctx, out, err);
    chase_keys_free(&k);
    return rc;
}

int chase_provider_open(const char *name, const char *keys, const chase_signal_open_opts_t *opts, chase_signal_t **out,
                        chase_err_t *err)
{
    *out = NULL;
    const chase_source_row_t *row = chase_source_find(name);
    if (!row || !row->info.live) {
        char live[200] = "";
        for (size_t i = 0; i < N_ROWS; i++)
            if (rows[i].info.live)
                snprintf(live + strlen(live), sizeof live - strlen(live), "%s%s", live[0] ? ", " : "",
                         rows[i].info.name);
        return chase_err_set(err, CHASE_EINVAL, "unknown signal provider '%.40s' (live providers: %s)",
                             name ? name : "", live);
    }
    chase_signal_open_opts_t defaults = {0};
    chase_source_ctx_t ctx = {opts ? opts : &defaults, -1, 0};
    return chase_source_open(row, keys, &ctx, out, err);
}

void chase_signal_secret_envs(const char **out, size_t cap)
{
    size_t n = 0;
    for (const char *v; cap && n + 1 < cap && (v = chase_signal_secret_env(n));)
        out[n++] = v;
    if (cap)
        out[n] = NULL;
}
