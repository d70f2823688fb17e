/* `chase signal`: shows what a carbon-intensity source returns (history, forecast), through the same signal, cache
 * and fallback chain that `chase run` uses, so a user can check a spec and credentials before a long job. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "chase/provider.h"
#include "chase/signal.h"
#include "chase/timeutil.h"
#include "cli/cli_util.h"
#include "cli/commands.h"

#define MAX_SAMPLES 20000

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: chase signal --signal SPEC [--history 24h] [--forecast 24h] [--json FILE|-] [--cache PATH]\n"
            "\n"
            "Shows what a carbon-intensity source returns: its recent observations and its own forecast, in g/kWh.\n"
            "Everything fetched is kept in the cache (default $XDG_CACHE_HOME/chase/cache.sqlite), and repeated calls\n"
            "within 5 minutes are answered from it, so trying this does not spend your API quota.\n"
            "\n"
            "Options:\n"
            "  --signal SPEC    the source (below); required\n"
            "  --history DUR    how far back to show observations (default 24h; 0 to skip)\n"
            "  --forecast DUR   how far ahead to show the source's forecast (default 24h; 0 to skip)\n"
            "  --json FILE      write the samples as JSON to FILE ('-' for stdout) instead of the table\n"
            "  --cache PATH     SQLite cache file (same as the key cache=PATH)\n"
            "\n"
            "Sources (SPEC is NAME:key=value,key=value; several sources separated by commas form a fallback chain):\n"
            "  ukci                          UK Carbon Intensity API, national; no account needed\n"
            "  ukci:region=13                one of the 17 GB regions (13 = London); or ukci:postcode=RG10\n"
            "  electricitymaps:zone=DE       Electricity Maps v3; token from ELECTRICITYMAPS_TOKEN\n"
            "  electricitymaps:lat=48.1,lon=11.6,emission=direct   by place; emission=direct|lifecycle\n"
            "  watttime:region=CAISO_NORTH   WattTime v3 MOER (lbs/MWh shown as g/kWh); WATTTIME_USERNAME/PASSWORD\n"
            "  watttime:lat=37.8,lon=-122.3  region found with /v3/region-from-loc\n"
            "  electricitymaps:zone=GB,ukci  a chain: Electricity Maps first, the UK API when it fails\n"
            "Keys for every live source: url= (base URL), cache=, fresh= (cache freshness, 5m), timeout= (20s),\n"
            "retries= (3), backoff= (1s); for the chain: max_stale= (2h): how long the last good value may stand in\n"
            "(flagged stale) before chase reports no data and the controller falls back to its safe policy.\n"
            "Credentials are read from the environment; never put them in the spec (it shows in process listings).\n"
            "\n"
            "Examples:\n"
            "  chase signal --signal ukci --history 6h --forecast 12h\n"
            "  ELECTRICITYMAPS_TOKEN=... chase signal --signal electricitymaps:zone=FR --json -\n"
            "  WATTTIME_USERNAME=me WATTTIME_PASSWORD=... chase signal --signal watttime:region=PJM --forecast 2h\n"
            "  chase signal --signal electricitymaps:zone=GB,max_stale=1h,ukci:region=13\n"
            "See docs/providers.md for each provider's details and what happens when it fails.\n");
}

static void on_warning(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "chase signal: warning: %s\n", msg);
}

static cJSON *samples_json(const chase_sample_t *s, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) {
        char when[32];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "time", chase_time_format(s[i].t, when, sizeof when));
        cJSON_AddNumberToObject(o, "step_s", (double)s[i].step_s);
        cJSON_AddNumberToObject(o, "ci_g_per_kwh", round(s[i].ci * 1000) / 1000);
        cJSON_AddBoolToObject(o, "forecast", (s[i].flags & CHASE_SAMPLE_FORECAST) != 0);
        cJSON_AddBoolToObject(o, "stale", (s[i].flags & CHASE_SAMPLE_STALE) != 0);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static void print_table(FILE *out, const char *title, const chase_sample_t *s, size_t n)
{
    fprintf(out, "%s: %zu sample%s\n", title, n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        char when[32];
        fprintf(out, "  %s  %6.0f min  %8.1f g/kWh%s%s\n", chase_time_format(s[i].t, when, sizeof when),
                (double)s[i].step_s / 60, s[i].ci, (s[i].flags & CHASE_SAMPLE_FORECAST) ? "  forecast" : "",
                (s[i].flags & CHASE_SAMPLE_STALE) ? "  STALE" : "");
    }
}

int chase_cmd_signal(int argc, char **argv)
{
    const char *spec = NULL, *json = NULL, *cache = NULL;
    double hist_s = 86400, fc_s = 86400;
    chase_err_t err;
    chase_err_clear(&err);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "chase signal: %s needs a value (see --help)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--signal")) {
            spec = v;
        } else if (!strcmp(a, "--json")) {
            json = v;
        } else if (!strcmp(a, "--cache")) {
            cache = v;
        } else if (!strcmp(a, "--history") || !strcmp(a, "--forecast")) {
            double d;
            if (chase_duration_parse(v, &d, &err) != CHASE_OK || d > 14 * 86400.0) {
                fprintf(stderr, "chase signal: %s %s: %s\n", a, v, err.msg[0] ? err.msg : "at most 14 days");
                return 2;
            }
            *(!strcmp(a, "--history") ? &hist_s : &fc_s) = d;
        } else {
            fprintf(stderr, "chase signal: unknown option '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (!spec) {
        fprintf(stderr, "chase signal: --signal SPEC is required, e.g. --signal ukci (see --help)\n");
        return 2;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    /* A one-shot look: each query may wait for its fetch (bounded by the source's timeout= and retries=). */
    chase_signal_open_opts_t opts = {.cache_path = cache, .now = now, .on_warning = on_warning, .wait_s = -1};
    chase_signal_t *sig = NULL;
    int rc = chase_signal_open(spec, &opts, &sig, &err);
    if (rc != CHASE_OK) {
        fprintf(stderr, "chase signal: %s\n", err.msg);
        return chase_exit_status(rc);
    }
    chase_sample_t *hist = calloc(MAX_SAMPLES, sizeof *hist), *fc = calloc(MAX_SAMPLES, sizeof *fc);
    size_t nh = 0, nf = 0;
    int hrc = CHASE_OK, frc = CHASE_OK;
    chase_err_t herr, ferr;
    chase_err_clear(&herr);
    chase_err_clear(&ferr);
    if (!hist || !fc) {
        fprintf(stderr, "chase signal: out of memory\n");
        rc = CHASE_ENOMEM;
        goto out;
    }
    if (hist_s > 0)
        hrc = chase_signal_history(sig, now, (int64_t)floor(now - hist_s), hist, MAX_SAMPLES, &nh, &herr);
    if (fc_s > 0)
        frc = chase_signal_forecast(sig, now, (int64_t)ceil(now + fc_s), fc, MAX_SAMPLES, &nf, &ferr);
    if (json) {
        cJSON *root = cJSON_CreateObject();
        char when[32];
        const char *src = chase_signal_fallback_source(sig);
        cJSON_AddStringToObject(root, "source", src ? src : chase_provider_name(sig));
        cJSON_AddStringToObject(root, "now", chase_time_format((int64_t)floor(now), when, sizeof when));
        if (hist_s > 0) {
            cJSON_AddItemToObject(root, "history", samples_json(hist, nh));
            if (hrc != CHASE_OK)
                cJSON_AddStringToObject(root, "history_error", herr.msg);
        }
        if (fc_s > 0) {
            cJSON_AddItemToObject(root, "forecast", samples_json(fc, nf));
            if (frc != CHASE_OK)
                cJSON_AddStringToObject(root, "forecast_error", ferr.msg);
        }
        if (cli_write_json("chase signal", json, root))
            rc = CHASE_EIO;
    } else {
        if (hist_s > 0 && hrc == CHASE_OK)
            print_table(stdout, "history", hist, nh);
        if (fc_s > 0 && frc == CHASE_OK)
            print_table(stdout, "forecast", fc, nf);
    }
    if (hist_s > 0 && hrc != CHASE_OK)
        fprintf(stderr, "chase signal: history: %s\n", herr.msg);
    if (fc_s > 0 && frc != CHASE_OK)
        fprintf(stderr, "chase signal: forecast: %s\n", ferr.msg);
    /* The command succeeds when the source answered what was asked of it; a source without forecasts is fine. */
    if (rc == CHASE_OK && hist_s > 0 && hrc != CHASE_OK)
        rc = hrc;
    if (rc == CHASE_OK && hist_s <= 0 && fc_s > 0 && frc != CHASE_OK)
        rc = frc;
out:
    free(hist);
    free(fc);
    chase_signal_free(sig);
    return chase_exit_status(rc);
}
