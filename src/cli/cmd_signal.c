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

#define PROG "chase signal"
#define MAX_SAMPLES 20000
#define MAX_SPAN_S (14 * 86400.0)

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: chase signal --signal SPEC [--history 24h] [--forecast 24h] [--json FILE|-] [--cache PATH]\n"
            "\n"
            "Shows what a carbon-intensity source returns: its recent observations and its own forecast, in g/kWh.\n"
            "Everything fetched is kept in the cache (default $XDG_CACHE_HOME/chase/cache.sqlite), and repeated calls\n"
            "within 5 minutes are answered from it, so trying this does not spend your API quota. A trace is shown\n"
            "in its own time, up to its replay start.\n"
            "\n"
            "Options:\n"
            "  --signal SPEC    the source (below); required\n"
            "  --history DUR    how far back to show observations (default 24h; 0 to skip; at most 14d)\n"
            "  --forecast DUR   how far ahead to show the source's forecast (default 24h; 0 to skip; at most 14d)\n"
            "  --json FILE      write the samples as JSON to FILE ('-' for stdout) instead of the table\n"
            "  --cache PATH     SQLite cache file (same as the key cache=PATH)\n"
            "  -h, --help       this help\n"
            "\n"
            "Sources (SPEC is NAME:key=value,key=value; several sources separated by commas form a fallback chain):\n");
    for (size_t i = 0; chase_signal_source(i); i++) {
        const chase_signal_source_t *s = chase_signal_source(i);
        fprintf(out, "  %s\n      %s\n", s->usage, s->summary);
    }
    fprintf(out,
            "Keys for every live source: url= (base URL), cache=, fresh= (cache freshness, 5m), timeout= (20s),\n"
            "retries= (3), backoff= (1s), retry_wait= (1m); for the chain: max_stale= (2h): how long the last good\n"
            "value may stand in (flagged stale) before chase reports no data and the controller falls back to its\n"
            "safe policy. Credentials are read from the environment; never put them in the spec (it shows in process\n"
            "listings).\n"
            "\n"
            "Examples:\n"
            "  chase signal --signal ukci --history 6h --forecast 12h\n"
            "  chase signal --signal ukci:region=13 --forecast 0\n"
            "  ELECTRICITYMAPS_TOKEN=... chase signal --signal electricitymaps:zone=FR --json -\n"
            "  WATTTIME_USERNAME=me WATTTIME_PASSWORD=... chase signal --signal watttime:region=PJM --forecast 2h\n"
            "  chase signal --signal electricitymaps:zone=GB,max_stale=1h,ukci:region=13\n"
            "  chase signal --signal trace:ci.csv,start=2022-06-01 --history 2d\n"
            "See docs/providers.md for each provider's details and what happens when it fails.\n"
            "\n"
            "Exit status: 0 when the source answered, 2 for bad input, 1 for other failures.\n");
}

static void on_warning(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, PROG ": warning: %s\n", msg);
}

/* A trace is replayed on the caller's clock: give its samples back their own times. */
static void to_own_time(chase_sample_t *s, size_t n, const chase_replay_t *map)
{
    for (size_t i = 0; i < n; i++) {
        s[i].t = map->start + (int64_t)llround((double)(s[i].t - map->origin) * map->speed);
        s[i].step_s = (int64_t)llround((double)s[i].step_s * map->speed);
    }
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

typedef struct options {
    const char *spec, *json, *cache;
    double hist_s, fc_s;
} options_t;

/* Returns 0 to go on, 1 after --help, 2 for bad input (already said). */
static int parse_opts(int argc, char **argv, options_t *o)
{
    enum { O_SIGNAL = 256, O_HISTORY, O_FORECAST, O_JSON, O_CACHE };
    static const struct option longopts[] = {
        {"signal", required_argument, 0, O_SIGNAL},
        {"history", required_argument, 0, O_HISTORY},
        {"forecast", required_argument, 0, O_FORECAST},
        {"json", required_argument, 0, O_JSON},
        {"cache", required_argument, 0, O_CACHE},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    *o = (options_t){.hist_s = 86400, .fc_s = 86400};
    int c;
    optind = 0;
    while ((c = cli_getopt(PROG, argc, argv, "h", longopts)) != -1) {
        switch (c) {
        case O_SIGNAL: o->spec = optarg; break;
        case O_JSON: o->json = optarg; break;
        case O_CACHE: o->cache = optarg; break;
        case O_HISTORY:
            if (cli_parse_duration(PROG, "--history", optarg, 0, MAX_SPAN_S, &o->hist_s))
                return 2;
            break;
        case O_FORECAST:
            if (cli_parse_duration(PROG, "--forecast", optarg, 0, MAX_SPAN_S, &o->fc_s))
                return 2;
            break;
        case 'h': usage(stdout); return 1;
        default: return 2;
        }
    }
    if (optind < argc)
        return cli_bad(PROG, "unexpected argument '%s' (see " PROG " --help)", argv[optind]);
    if (!o->spec)
        return cli_bad(PROG, "--signal SPEC is required, e.g. --signal ukci (see " PROG " --help)");
    return 0;
}

int chase_cmd_signal(int argc, char **argv)
{
    options_t o;
    int pr = parse_opts(argc, argv, &o);
    if (pr)
        return pr == 1 ? 0 : 2;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec; /* whole seconds: a replayed trace then shows its own times exactly */
    /* A one-shot look: each query may wait for its fetch (bounded by the source's timeout= and retries=). */
    chase_signal_open_opts_t opts = {.cache_path = o.cache, .now = now, .on_warning = on_warning, .wait_s = -1};
    chase_signal_t *sig = NULL;
    chase_err_t err, herr, ferr;
    chase_err_clear(&herr);
    chase_err_clear(&ferr);
    int rc = chase_signal_open(o.spec, &opts, &sig, &err);
    if (rc != CHASE_OK)
        return cli_fail(PROG, rc, &err);
    chase_replay_t map = {0, 0, 1};
    int replay = chase_signal_trace_map(sig, &map, NULL) == CHASE_OK;
    chase_sample_t *hist = calloc(MAX_SAMPLES, sizeof *hist), *fc = calloc(MAX_SAMPLES, sizeof *fc);
    size_t nh = 0, nf = 0;
    int hrc = CHASE_OK, frc = CHASE_OK;
    if (!hist || !fc) {
        rc = chase_err_set(&err, CHASE_ENOMEM, "out of memory");
        goto out;
    }
    /* --history and --forecast count in the source's own time: a replayed trace runs map.speed times faster. */
    if (o.hist_s > 0)
        hrc = chase_signal_history(sig, now, (int64_t)floor(now - o.hist_s / map.speed), hist, MAX_SAMPLES, &nh, &herr);
    if (o.fc_s > 0)
        frc = chase_signal_forecast(sig, now, (int64_t)ceil(now + o.fc_s / map.speed), fc, MAX_SAMPLES, &nf, &ferr);
    double shown_now = now;
    if (replay) {
        to_own_time(hist, nh, &map);
        to_own_time(fc, nf, &map);
        shown_now = (double)map.start + (now - (double)map.origin) * map.speed;
    }
    if (o.json) {
        cJSON *root = cJSON_CreateObject();
        char when[32];
        const char *src = chase_signal_fallback_source(sig);
        cJSON_AddStringToObject(root, "source", src ? src : chase_provider_name(sig));
        cJSON_AddStringToObject(root, "now", chase_time_format((int64_t)floor(shown_now), when, sizeof when));
        if (o.hist_s > 0) {
            cJSON_AddItemToObject(root, "history", samples_json(hist, nh));
            if (hrc != CHASE_OK)
                cJSON_AddStringToObject(root, "history_error", herr.msg);
        }
        if (o.fc_s > 0) {
            cJSON_AddItemToObject(root, "forecast", samples_json(fc, nf));
            if (frc != CHASE_OK)
                cJSON_AddStringToObject(root, "forecast_error", ferr.msg);
        }
        if (cli_write_json(PROG, o.json, root))
            rc = chase_err_set(&err, CHASE_EIO, "writing %s failed", o.json);
    } else {
        if (replay) {
            char when[32];
            printf("trace replayed up to %s (its own time)\n",
                   chase_time_format((int64_t)floor(shown_now), when, sizeof when));
        }
        if (o.hist_s > 0 && hrc == CHASE_OK)
            print_table(stdout, "history", hist, nh);
        if (o.fc_s > 0 && frc == CHASE_OK)
            print_table(stdout, "forecast", fc, nf);
    }
    if (o.hist_s > 0 && hrc != CHASE_OK)
        fprintf(stderr, PROG ": history: %s\n", herr.msg);
    /* A trace or a static value makes no forecast of its own: not worth a message unless asked for alone. */
    if (o.fc_s > 0 && frc != CHASE_OK && (frc != CHASE_ENOTSUP || o.hist_s <= 0))
        fprintf(stderr, PROG ": forecast: %s\n", ferr.msg);
    /* The command succeeds when the source answered what was asked of it; a source without forecasts is fine. */
    if (rc == CHASE_OK && o.hist_s > 0 && hrc != CHASE_OK)
        rc = hrc;
    if (rc == CHASE_OK && o.hist_s <= 0 && o.fc_s > 0 && frc != CHASE_OK)
        rc = frc;
out:
    if (rc == CHASE_ENOMEM)
        fprintf(stderr, PROG ": %s\n", err.msg);
    free(hist);
    free(fc);
    chase_signal_free(sig);
    return chase_exit_status(rc);
}
