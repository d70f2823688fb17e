/* `chase run [options] -- COMMAND ARGS...`: run a training command under carbon-aware GPU power limits.
 *
 * Order matters here: the live job (which blocks the termination signals) is created before anything that may start
 * a thread, every input is checked before the child starts, and from the child's start on, every path goes through
 * the control loop's or the profiler's restore, then waits for the child and exits with its status. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chase/control.h"
#include "chase/forecast.h"
#include "chase/ledger.h"
#include "chase/live.h"
#include "chase/nvml.h"
#include "chase/policy.h"
#include "chase/profile.h"
#include "chase/profiling.h"
#include "chase/signal.h"
#include "chase/timeutil.h"
#include "cli/cli_util.h"
#include "cli/commands.h"

#define PROG "chase run"
#define MAX_GPUS 256

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: chase run [OPTIONS] -- COMMAND [ARGS...]\n"
            "\n"
            "Runs COMMAND (your training) as a child process and sets the power limit of its GPUs period by period\n"
            "from the grid's carbon intensity: lower when the grid is dirty, higher when it is clean, within the\n"
            "slowdown you accept. Energy comes from the GPUs' own counters (NVML); carbon = energy x CI. Every GPU\n"
            "gets its original limit back when chase ends, however it ends (child exits or crashes, Ctrl-C, SIGTERM,\n"
            "SIGHUP, chase's own errors), and chase exits with the child's status (128+N if signal N killed it).\n"
            "\n"
            "The child finds the address of chase's progress socket in CHASE_PROGRESS and reports its steps there:\n"
            "in Python, `import chase; chase.step()` once per step (python/chase; callbacks for Lightning and the\n"
            "Hugging Face Trainer), in C `chase_progress_client_step()`, in any language a one-line datagram\n"
            "(docs/progress-protocol.md). With reports chase profiles the job online; without them it cannot, and\n"
            "runs a cruder mode: a saved --profile-file if you have one, else the GPUs' top limit (policy max).\n"
            "\n"
            "Options:\n"
            "  --signal SPEC          carbon intensity source (required): trace:FILE[,start=TIME][,speed=N] replays\n"
            "                         a trace N times faster than real time; static:VALUE is a constant g/kWh;\n"
            "                         live sources (ukci, electricitymaps:zone=DE, ...): see chase signal --help\n"
            "  --policy NAME          max | fixed:W | static | chase | budget (default budget)\n"
            "  --budget PCT           slowdown budget against the top limit, percent (default 2.5)\n"
            "  --total-steps N        the job's size in steps, if known: policy budget then plans for the deadline\n"
            "                         (1 + budget) x the time at the top limit; unknown, it paces the job instead\n"
            "  --eta X                weight of carbon against time for policy chase, 0..1 (default 0.5)\n"
            "  --period DURATION      control period in real time: 30s, 30m, 1h (default 30m)\n"
            "  --forecaster NAME      CI forecaster (default: chase when built, else persistence); provider: the\n"
            "                         live source's own forecast (Electricity Maps, WattTime, UK CI)\n"
            "  --gpus LIST            NVML indices of the job's GPUs, e.g. 0,1 (default: all); one limit for all\n"
            "  --dry-run              observe only: decide and record, never set a limit\n"
            "  --profile-file FILE    load the job's profile from FILE if it exists, else profile online and save it\n"
            "  --warmup-steps N       steps before online profiling starts (default 10)\n"
            "  --profile-steps N      steps measured at each limit while profiling (default 20)\n"
            "  --pl-step W            spacing of the profiled limits, from the top limit down (default 25)\n"
            "  --progress-timeout D   wait this long for the first progress report before falling back to the\n"
            "                         crude mode (default 5m)\n"
            "  --report FILE.json     write the per-period report (\"-\" for stdout)\n"
            "  --quiet                no per-period lines on stderr (the final summary stays)\n"
            "  --help                 this text\n"
            "\n"
            "Examples:\n"
            "  # the real thing: the budget policy on the live UK grid signal, profile saved for the next run\n"
            "  chase run --signal ukci:region=13 --profile-file resnet.profile.json -- python train.py\n"
            "  # a demo: replay a day of CI in 48 s (30-min samples, 1 s periods) with the paper's policy\n"
            "  chase run --signal trace:ci.csv,start=2021-07-01,speed=1800 --period 1s --policy chase \\\n"
            "            --forecaster persistence --warmup-steps 5 --profile-steps 10 --report run.json \\\n"
            "            -- python examples/train_cnn.py\n"
            "  # watch what chase would do on a shared machine, changing nothing\n"
            "  chase run --dry-run --policy max --signal static:300 --report obs.json -- torchrun --nproc_per_node=4 "
            "train.py\n"
            "\n"
            "Multi-node: start one `chase run` per node; the ranks of a node report to their local chase.\n"
            "Docs: docs/run.md.\n");
}

typedef struct opts {
    const char *signal_spec, *policy, *forecaster, *profile_file, *report, *gpus_text;
    double budget_pct, eta, period_s, pl_step_w, progress_timeout_s;
    int warmup_steps, profile_steps, dry_run, quiet;
    double total_steps; /* NAN: unknown */
    int gpus[MAX_GPUS], n_gpus;
    char **command;
} opts_t;

static int parse_int(const char *name, const char *text, int lo, int hi, int *out)
{
    double v;
    if (cli_parse_double(PROG, name, text, lo, hi, &v) != 0)
        return -1;
    if (v != floor(v)) {
        fprintf(stderr, "chase: %s expects a whole number (got '%s')\n", name, text);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_duration(const char *name, const char *text, double lo, double *out)
{
    chase_err_t err;
    if (chase_duration_parse(text, out, &err) != CHASE_OK) {
        fprintf(stderr, "chase: %s: %s\n", name, err.msg);
        return -1;
    }
    if (!(*out >= lo) || !isfinite(*out)) {
        fprintf(stderr, "chase: %s must be at least %gs (got '%s')\n", name, lo, text);
        return -1;
    }
    return 0;
}

static int parse_gpus(const char *text, opts_t *o)
{
    o->n_gpus = 0;
    const char *p = text;
    for (;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v >= MAX_GPUS || (*end != ',' && *end != '\0')) {
            fprintf(stderr, "chase: --gpus expects GPU indices like 0,1,3 (got '%s')\n", text);
            return -1;
        }
        for (int i = 0; i < o->n_gpus; i++)
            if (o->gpus[i] == (int)v) {
                fprintf(stderr, "chase: --gpus names GPU %ld twice\n", v);
                return -1;
            }
        if (o->n_gpus == MAX_GPUS) {
            fprintf(stderr, "chase: --gpus names more than %d GPUs\n", MAX_GPUS);
            return -1;
        }
        o->gpus[o->n_gpus++] = (int)v;
        if (*end == '\0')
            return 0;
        p = end + 1;
    }
}

/* Returns 0 to go on, 1 after --help, -1 on bad input (message printed). */
static int parse_opts(int argc, char **argv, opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->policy = "budget";
    o->budget_pct = 2.5;
    o->eta = 0.5;
    o->period_s = 1800;
    o->pl_step_w = 25;
    o->warmup_steps = 10;
    o->profile_steps = 20;
    o->progress_timeout_s = 300;
    o->total_steps = NAN;
    int i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(a, "--dry-run")) {
            o->dry_run = 1;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr,
                    "chase: unexpected '%s': put the command after --, e.g. chase run --signal static:300 "
                    "-- python train.py\n",
                    a);
            return -1;
        }
        /* --name VALUE or --name=VALUE */
        char name[64];
        const char *val = NULL, *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        if (nlen >= sizeof name) {
            fprintf(stderr, "chase: unknown option '%s' (see chase run --help)\n", a);
            return -1;
        }
        memcpy(name, a, nlen);
        name[nlen] = '\0';
        static const char *const with_value[] = {
            "--signal",       "--policy",        "--budget",           "--eta",         "--period",
            "--forecaster",   "--gpus",          "--profile-file",     "--report",      "--pl-step",
            "--warmup-steps", "--profile-steps", "--progress-timeout", "--total-steps", NULL};
        int known = 0;
        for (int k = 0; with_value[k]; k++)
            known |= !strcmp(name, with_value[k]);
        if (!known) {
            fprintf(stderr, "chase: unknown option '%s' (see chase run --help)\n", a);
            return -1;
        }
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc && strcmp(argv[i + 1], "--") != 0)
            val = argv[++i];
        if (!val || !*val) {
            fprintf(stderr, "chase: %s needs a value\n", name);
            return -1;
        }
        int bad = 0;
        if (!strcmp(name, "--signal"))
            o->signal_spec = val;
        else if (!strcmp(name, "--policy"))
            o->policy = val;
        else if (!strcmp(name, "--forecaster"))
            o->forecaster = val;
        else if (!strcmp(name, "--profile-file"))
            o->profile_file = val;
        else if (!strcmp(name, "--report"))
            o->report = val;
        else if (!strcmp(name, "--gpus"))
            bad = parse_gpus(val, o), o->gpus_text = val;
        else if (!strcmp(name, "--budget"))
            bad = cli_parse_double(PROG, name, val, 0, 100, &o->budget_pct);
        else if (!strcmp(name, "--eta"))
            bad = cli_parse_double(PROG, name, val, 0, 1, &o->eta);
        else if (!strcmp(name, "--pl-step"))
            bad = cli_parse_double(PROG, name, val, 1, 1000, &o->pl_step_w);
        else if (!strcmp(name, "--period"))
            bad = parse_duration(name, val, 1, &o->period_s);
        else if (!strcmp(name, "--progress-timeout"))
            bad = parse_duration(name, val, 0, &o->progress_timeout_s);
        else if (!strcmp(name, "--warmup-steps"))
            bad = parse_int(name, val, 0, 1000000, &o->warmup_steps);
        else if (!strcmp(name, "--total-steps"))
            bad = cli_parse_double(PROG, name, val, 1, 1e15, &o->total_steps);
        else if (!strcmp(name, "--profile-steps"))
            bad = parse_int(name, val, 1, 1000000, &o->profile_steps);
        if (bad)
            return -1;
    }
    if (i >= argc) {
        fprintf(stderr, "chase: no command to run: chase run [OPTIONS] -- COMMAND [ARGS...] (see --help)\n");
        return -1;
    }
    o->command = argv + i;
    if (!o->signal_spec) {
        fprintf(stderr, "chase: --signal is required, e.g. --signal static:400 or --signal trace:ci.csv\n");
        return -1;
    }
    return 0;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Everything one run holds, so that one cleanup path frees it. */
typedef struct run {
    opts_t o;
    chase_live_job_t *lj;
    chase_gpu_t *gpu;
    chase_signal_t *signal;
    chase_forecaster_t *forecaster;
    chase_policy_t *policy;
    chase_profile_t *profile;
    chase_ledger_t ledger;
    size_t n_profile_rows;
    int n_gpus;
    int gpu_idx[MAX_GPUS];
    chase_gpu_info_t info[MAX_GPUS];
    double range_lo, range_hi;
    const char *mode; /* how the profile came about */
    char policy_used[64];
    char error[600];
    int exit_status;
    int warned;
} run_t;

static void on_warning(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, PROG ": warning: %s\n", msg);
}

static void print_row(const char *what, const chase_period_t *r)
{
    char ts[32];
    chase_time_format((int64_t)floor(r->start), ts, sizeof ts);
    fprintf(stderr, PROG ": %s %s  %5.0f s  CI %6.1f g/kWh%s  limit %5.0f W  %10.1f J  %8.3f g  %6.0f steps\n", what,
            ts, r->end - r->start, r->ci, r->stale ? " (stale)" : "", r->setting, r->energy_j, r->carbon_g, r->work);
}

static void on_period(void *arg, const chase_period_t *row)
{
    run_t *R = arg;
    if (!R->o.quiet)
        print_row("period ", row);
}

/* A stand-in profile for policies that need none (max, fixed) or when the job cannot be profiled: the GPUs' range
 * with no claim about speed (equal throughput), so only the limits themselves mean anything. */
static chase_profile_t *range_profile(const run_t *R)
{
    int two = R->range_hi > R->range_lo;
    chase_profile_t *p = chase_profile_new("gpu-range (no measurements)", two ? 2 : 1);
    if (!p)
        return NULL;
    snprintf(p->gpu, sizeof p->gpu, "%.63s", R->info[0].name);
    snprintf(p->unit, sizeof p->unit, "step");
    p->pts[0] = (chase_profile_point_t){R->range_lo, 1, R->range_lo};
    if (two)
        p->pts[1] = (chase_profile_point_t){R->range_hi, 1, R->range_hi};
    if (chase_profile_validate(p, NULL) != CHASE_OK) {
        chase_profile_free(p);
        return NULL;
    }
    return p;
}

static int policy_needs_profile(const char *spec)
{
    return !(strcmp(spec, "max") == 0 || strncmp(spec, "fixed", 5) == 0);
}

static int open_gpus(run_t *R, chase_err_t *err)
{
    int rc = chase_gpu_nvml_open(&R->gpu, err);
    if (rc != CHASE_OK)
        return rc;
    int count = 0;
    if ((rc = R->gpu->ops->count(R->gpu->self, &count, err)) != CHASE_OK)
        return rc;
    if (count < 1)
        return chase_err_set(err, CHASE_ENOTFOUND, "NVML reports no GPU");
    if (R->o.n_gpus) {
        R->n_gpus = R->o.n_gpus;
        for (int i = 0; i < R->n_gpus; i++) {
            if (R->o.gpus[i] >= count)
                return chase_err_set(err, CHASE_ENOTFOUND, "--gpus %s: GPU %d does not exist (found %d: 0..%d)",
                                     R->o.gpus_text, R->o.gpus[i], count, count - 1);
            R->gpu_idx[i] = R->o.gpus[i];
        }
    } else {
        R->n_gpus = count < MAX_GPUS ? count : MAX_GPUS;
        for (int i = 0; i < R->n_gpus; i++)
            R->gpu_idx[i] = i;
    }
    R->range_lo = -INFINITY;
    R->range_hi = INFINITY;
    for (int i = 0; i < R->n_gpus; i++) {
        if ((rc = R->gpu->ops->info(R->gpu->self, R->gpu_idx[i], &R->info[i], err)) != CHASE_OK)
            return rc;
        const chase_gpu_info_t *g = &R->info[i];
        if (!isfinite(g->pl_w) || !isfinite(g->min_pl_w) || !isfinite(g->max_pl_w))
            return chase_err_set(err, CHASE_ENOTSUP,
                                 "GPU %d (%s) does not report its power limits: chase cannot "
                                 "control it",
                                 g->index, g->name);
        R->range_lo = fmax(R->range_lo, g->min_pl_w);
        R->range_hi = fmin(R->range_hi, g->max_pl_w);
    }
    if (!(R->range_lo <= R->range_hi))
        return chase_err_set(err, CHASE_ERANGE, "the GPUs share no power limit range: give --gpus of one model");
    return CHASE_OK;
}

static int open_forecaster(run_t *R, chase_err_t *err)
{
    const char *name = R->o.forecaster;
    if (!name) {
        name = "persistence";
        for (const chase_forecaster_ops_t *const *m = chase_forecaster_models(); *m; m++)
            if (!strcmp((*m)->name, "chase"))
                name = "chase";
    }
    int64_t step = R->signal->step_s > 0 ? R->signal->step_s : 3600;
    int rc = !strcmp(name, "provider") ? chase_forecaster_create_provider(R->signal, step, &R->forecaster, err)
                                       : chase_forecaster_create(name, step, NULL, &R->forecaster, err);
    if (rc != CHASE_OK && rc != CHASE_ENOMEM) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
        return chase_err_set(err, CHASE_EINVAL, "--forecaster %s: %s", name, msg);
    }
    return rc;
}

/* Loads --profile-file when it exists; checks its limits fit the GPUs. */
static int load_profile(run_t *R, int *loaded, chase_err_t *err)
{
    *loaded = 0;
    if (!R->o.profile_file || access(R->o.profile_file, F_OK) != 0)
        return CHASE_OK;
    int rc = chase_profile_read_json(R->o.profile_file, &R->profile, err);
    if (rc != CHASE_OK)
        return rc;
    double lo = chase_profile_min_setting(R->profile), hi = chase_profile_max_setting(R->profile);
    if (lo < R->range_lo - 1e-6 || hi > R->range_hi + 1e-6)
        return chase_err_set(err, CHASE_ERANGE,
                             "--profile-file %s covers %.0f..%.0f W but the GPUs accept %.0f..%.0f W: it was "
                             "measured on other GPUs (delete it to profile again)",
                             R->o.profile_file, lo, hi, R->range_lo, R->range_hi);
    *loaded = 1;
    return CHASE_OK;
}

static int write_report(run_t *R, const chase_progress_stats_t *ps, int interrupted)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *cmd = cJSON_AddArrayToObject(root, "command");
    for (char **a = R->o.command; *a; a++)
        cJSON_AddItemToArray(cmd, cJSON_CreateString(*a));
    cJSON_AddStringToObject(root, "signal", R->o.signal_spec);
    cJSON_AddStringToObject(root, "policy", R->policy_used);
    cJSON_AddStringToObject(root, "policy_requested", R->o.policy);
    cli_json_number(root, "period_s", R->o.period_s);
    cli_json_number(root, "budget_pct", R->o.budget_pct);
    cli_json_number(root, "total_steps", R->o.total_steps);
    cJSON_AddBoolToObject(root, "dry_run", R->o.dry_run);
    cJSON_AddStringToObject(root, "profile_source", R->mode ? R->mode : "none");
    cJSON *gpus = cJSON_AddArrayToObject(root, "gpus");
    for (int i = 0; i < R->n_gpus; i++) {
        cJSON *g = cJSON_CreateObject();
        cJSON_AddNumberToObject(g, "index", R->info[i].index);
        cJSON_AddStringToObject(g, "name", R->info[i].name);
        cJSON_AddStringToObject(g, "uuid", R->info[i].uuid);
        cli_json_number(g, "original_power_limit_w", R->info[i].pl_w);
        cli_json_number(g, "min_power_limit_w", R->info[i].min_pl_w);
        cli_json_number(g, "max_power_limit_w", R->info[i].max_pl_w);
        cJSON_AddItemToArray(gpus, g);
    }
    if (R->profile) {
        cJSON *pr = cJSON_AddObjectToObject(root, "profile");
        cJSON_AddStringToObject(pr, "name", R->profile->name);
        cJSON_AddStringToObject(pr, "unit", R->profile->unit);
        cJSON *pts = cJSON_AddArrayToObject(pr, "points");
        for (size_t i = 0; i < R->profile->n; i++) {
            cJSON *p = cJSON_CreateObject();
            cli_json_number(p, "power_limit_w", R->profile->pts[i].setting);
            cli_json_number(p, "throughput", R->profile->pts[i].throughput);
            cli_json_number(p, "power_w", R->profile->pts[i].power_w);
            cJSON_AddItemToArray(pts, p);
        }
    }
    cJSON *prog = cJSON_AddObjectToObject(root, "progress");
    cli_json_number(prog, "steps", ps->steps);
    cli_json_number(prog, "samples", ps->samples);
    cJSON_AddNumberToObject(prog, "messages", (double)ps->messages);
    cJSON_AddNumberToObject(prog, "malformed", (double)ps->malformed);
    cJSON_AddNumberToObject(prog, "ranks", ps->ranks);
    cJSON *periods = cJSON_AddArrayToObject(root, "periods");
    for (size_t i = 0; i < R->ledger.n; i++) {
        const chase_period_t *r = &R->ledger.rows[i];
        cJSON *p = cJSON_CreateObject();
        char ts[32];
        cli_json_number(p, "start", r->start);
        cli_json_number(p, "end", r->end);
        chase_time_format((int64_t)floor(r->start), ts, sizeof ts);
        cJSON_AddStringToObject(p, "start_time", ts);
        cJSON_AddStringToObject(p, "phase", i < R->n_profile_rows ? "profile" : "control");
        cli_json_number(p, "ci_g_per_kwh", r->ci);
        cli_json_number(p, "forecast_g_per_kwh", r->ci_forecast);
        cli_json_number(p, "power_limit_w", r->setting);
        cli_json_number(p, "energy_j", r->energy_j);
        cli_json_number(p, "carbon_g", r->carbon_g);
        cli_json_number(p, "steps", r->work);
        cJSON_AddBoolToObject(p, "stale", r->stale);
        cJSON_AddItemToArray(periods, p);
    }
    chase_totals_t t;
    chase_ledger_totals(&R->ledger, &t);
    cJSON *tot = cJSON_AddObjectToObject(root, "total");
    cli_json_number(tot, "time_s", t.time_s);
    cli_json_number(tot, "energy_j", t.energy_j);
    cli_json_number(tot, "carbon_g", t.carbon_g);
    cli_json_number(tot, "steps", t.work);
    cli_json_number(tot, "mean_power_limit_w", t.mean_setting);
    cJSON_AddNumberToObject(root, "exit_status", R->exit_status);
    if (interrupted)
        cJSON_AddStringToObject(root, "interrupted_by",
                                interrupted == SIGINT    ? "SIGINT"
                                : interrupted == SIGTERM ? "SIGTERM"
                                                         : "SIGHUP");
    else
        cJSON_AddNullToObject(root, "interrupted_by");
    if (R->error[0])
        cJSON_AddStringToObject(root, "error", R->error);
    else
        cJSON_AddNullToObject(root, "error");
    return cli_write_json(PROG, R->o.report, root);
}

static void summary(run_t *R, const chase_progress_stats_t *ps)
{
    chase_totals_t t;
    chase_ledger_totals(&R->ledger, &t);
    fprintf(stderr,
            PROG ": %.1f s, %zu control periods + %zu profiling, %.1f J, %.3f gCO2eq, %.0f steps, mean limit %.0f W, "
                 "policy %s%s\n",
            t.time_s, R->ledger.n - R->n_profile_rows, R->n_profile_rows, t.energy_j, t.carbon_g, t.work, t.mean_setting,
            R->policy_used, R->o.dry_run ? " (dry run)" : "");
    if (ps->malformed)
        fprintf(stderr, PROG ": %llu malformed progress messages were ignored\n", (unsigned long long)ps->malformed);
}

/* The job as the profiler and the control loop see it: the live job, except that an interruption (SIGINT,
 * SIGTERM, SIGHUP, already forwarded to the child) ends it like the child's exit would. So the period under way is
 * closed and accounted like any other (its energy was spent) before the limits are restored. */
static double stop_now(void *self)
{
    chase_job_t *j = chase_live_job_job(self);
    return j->ops->now(j->self);
}

static int stop_run_until(void *self, double t_end, int *finished, chase_err_t *err)
{
    chase_job_t *j = chase_live_job_job(self);
    int rc = j->ops->run_until(j->self, t_end, finished, err);
    if (rc == CHASE_ESTATE && chase_live_job_interrupted(self)) {
        *finished = 1;
        return CHASE_OK;
    }
    return rc;
}

static double stop_work_done(void *self)
{
    chase_job_t *j = chase_live_job_job(self);
    return j->ops->work_done(j->self);
}

static const chase_job_ops_t stop_job_ops = {stop_now, stop_run_until, stop_work_done};

/* Profiles online, or explains why not and falls back. Returns CHASE_OK to go on with R->profile set, or the
 * error that ends the control (interruption, GPU failure); *finished when the job ended while profiling. */
static int profile_online(run_t *R, chase_job_t *job, int *finished, chase_err_t *err)
{
    chase_profiling_opts_t po;
    chase_profiling_opts_init(&po);
    po.warmup_steps = R->o.warmup_steps;
    po.profile_steps = R->o.profile_steps;
    po.setting_step = R->o.pl_step_w;
    po.gpus = R->gpu_idx;
    po.n_gpus = R->n_gpus;
    po.first_report_timeout_s = R->o.progress_timeout_s;
    po.signal = R->signal;
    po.ledger = &R->ledger;
    if (!R->o.quiet)
        fprintf(stderr,
                PROG ": profiling the job: %d warm-up steps, then %d steps at each limit from %.0f W down "
                     "to %.0f W in %.0f W steps\n",
                R->o.warmup_steps, R->o.profile_steps, R->range_hi, R->range_lo, R->o.pl_step_w);
    size_t before = R->ledger.n;
    int rc = chase_profiling_run(&po, R->gpu, job, &R->profile, finished, err);
    R->n_profile_rows = R->ledger.n;
    if (!R->o.quiet)
        for (size_t i = before; i < R->ledger.n; i++)
            print_row(i == before ? "warm-up" : "profile", &R->ledger.rows[i]);
    if (rc == CHASE_OK) {
        R->mode = "online";
        if (R->profile && R->o.profile_file) {
            chase_err_t e;
            if (chase_profile_write_json(R->profile, R->o.profile_file, &e) != CHASE_OK)
                fprintf(stderr, PROG ": warning: could not save the profile: %s\n", e.msg);
            else if (!R->o.quiet)
                fprintf(stderr, PROG ": profile saved to %s\n", R->o.profile_file);
        }
        return CHASE_OK;
    }
    if (rc == CHASE_ETIMEOUT || rc == CHASE_EPERM) {
        fprintf(stderr, PROG ": warning: %s\n", err->msg);
        fprintf(stderr,
                PROG ": warning: %s: running at the GPUs' top limit (policy max) and measuring energy "
                     "only\n",
                rc == CHASE_EPERM ? "cannot set power limits here, so cannot profile"
                                  : "without progress reports chase cannot profile the job");
        if (rc == CHASE_EPERM)
            R->o.dry_run = 1; /* observe only from now on */
        R->mode = rc == CHASE_EPERM ? "none (no permission)" : "none (no progress reports)";
        chase_policy_free(R->policy);
        R->policy = NULL;
        chase_policy_params_t params;
        chase_policy_params_init(&params);
        if ((rc = chase_policy_create("max", &params, &R->policy, err)) != CHASE_OK)
            return rc;
        snprintf(R->policy_used, sizeof R->policy_used, "max");
        return CHASE_OK;
    }
    return rc;
}

int chase_cmd_run(int argc, char **argv)
{
    run_t *R = calloc(1, sizeof *R);
    if (!R) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    int pr = parse_opts(argc, argv, &R->o);
    if (pr != 0) {
        free(R);
        return pr > 0 ? 0 : 2;
    }
    chase_ledger_init(&R->ledger);
    chase_err_t err;
    chase_err_clear(&err);
    int status = 0, rc, spawned = 0, finished = 0;

    /* Before anything that may start a thread (the NVML library, HTTP clients of live signals). */
    if ((rc = chase_live_job_create(NULL, &R->lj, &err)) != CHASE_OK) {
        status = cli_fail(PROG, rc, &err);
        goto out;
    }
    chase_policy_params_t params;
    chase_policy_params_init(&params);
    params.eta = R->o.eta;
    params.budget_pct = R->o.budget_pct;
    if ((rc = chase_policy_create(R->o.policy, &params, &R->policy, &err)) != CHASE_OK) {
        fprintf(stderr, PROG ": --policy %s: %s\n", R->o.policy, err.msg);
        status = 2;
        goto out;
    }
    snprintf(R->policy_used, sizeof R->policy_used, "%s", R->o.policy);
    if (!strcmp(R->o.policy, "oracle")) {
        fprintf(stderr, PROG ": --policy oracle needs the future and exists only in chase simulate\n");
        status = 2;
        goto out;
    }
    chase_signal_open_opts_t so = {.now = wall_now()};
    if ((rc = chase_signal_open(R->o.signal_spec, &so, &R->signal, &err)) != CHASE_OK) {
        fprintf(stderr, PROG ": --signal %s: %s\n", R->o.signal_spec, err.msg);
        status = chase_exit_status(rc);
        goto out;
    }
    if ((rc = open_forecaster(R, &err)) != CHASE_OK) {
        status = cli_fail(PROG, rc, &err);
        goto out;
    }
    if ((rc = open_gpus(R, &err)) != CHASE_OK) {
        status = cli_fail(PROG, rc, &err);
        /* No NVML or no driver is this machine's state, not bad input; a wrong --gpus is. */
        if (status == 2 && !(rc == CHASE_ENOTFOUND && R->gpu))
            status = 1;
        goto out;
    }
    int loaded = 0;
    if ((rc = load_profile(R, &loaded, &err)) != CHASE_OK) {
        status = cli_fail(PROG, rc, &err);
        goto out;
    }
    int needs = policy_needs_profile(R->o.policy);
    if (loaded)
        R->mode = "file";
    else if (needs && R->o.dry_run) {
        fprintf(stderr, PROG ": --dry-run never sets a limit, so it cannot profile the job online: give "
                             "--profile-file with a saved profile, or use --policy max or fixed:W\n");
        status = 2;
        goto out;
    }
    if (!strncmp(R->o.policy, "fixed:", 6)) {
        double w = atof(R->o.policy + 6);
        if (w < R->range_lo || w > R->range_hi) {
            fprintf(stderr, PROG ": --policy %s: the GPUs accept %.0f..%.0f W\n", R->o.policy, R->range_lo,
                    R->range_hi);
            status = 2;
            goto out;
        }
    }

    if ((rc = chase_live_job_spawn(R->lj, R->o.command, &err)) != CHASE_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        status = 127;
        goto out;
    }
    spawned = 1;

    chase_job_t job = {&stop_job_ops, R->lj};
    rc = CHASE_OK;
    if (!R->profile && needs)
        rc = profile_online(R, &job, &finished, &err);
    if (rc == CHASE_OK && !R->profile) {
        R->profile = range_profile(R);
        if (!R->mode)
            R->mode = "none (policy needs no profile)";
        if (!R->profile)
            rc = chase_err_set(&err, CHASE_ENOMEM, "out of memory");
    }
    if (rc == CHASE_OK && !finished) {
        chase_control_config_t cfg;
        chase_control_config_init(&cfg);
        cfg.period_s = R->o.period_s;
        cfg.budget_pct = R->o.budget_pct;
        if (!strcmp(R->profile->unit, "step"))
            cfg.work_total = R->o.total_steps;
        else if (isfinite(R->o.total_steps))
            fprintf(stderr, PROG ": warning: --total-steps ignored: the profile counts work in %s, not steps\n",
                    R->profile->unit);
        cfg.dry_run = R->o.dry_run;
        cfg.gpus = R->gpu_idx;
        cfg.n_gpus = R->n_gpus;
        cfg.on_period = on_period;
        cfg.on_period_arg = R;
        cfg.on_warning = on_warning;
        cfg.on_warning_arg = R;
        rc = chase_control_run(&cfg, R->profile, R->signal, R->forecaster, R->policy, R->gpu, &job, &R->ledger, &err);
    }
    int interrupted = chase_live_job_interrupted(R->lj);
    if (interrupted)
        fprintf(stderr,
                PROG ": interrupted by %s (forwarded to the command): power limits restored; waiting for the "
                     "command to exit\n",
                interrupted == SIGINT    ? "SIGINT"
                : interrupted == SIGTERM ? "SIGTERM"
                                         : "SIGHUP");
    if (rc != CHASE_OK) {
        snprintf(R->error, sizeof R->error, "%s", err.msg[0] ? err.msg : chase_strerror(rc));
        fprintf(stderr, PROG ": control stopped: %s; power limits restored; the command goes on without control\n",
                R->error);
    }
    chase_err_t werr;
    if (chase_live_job_wait(R->lj, &R->exit_status, &werr) != CHASE_OK)
        fprintf(stderr, PROG ": %s\n", werr.msg);
    chase_progress_stats_t ps;
    chase_live_job_progress(R->lj, &ps);
    if (R->o.report && write_report(R, &ps, interrupted) != 0 && R->exit_status == 0)
        R->exit_status = 1;
    summary(R, &ps);
    status = R->exit_status;
    if (status == 0 && R->error[0])
        status = 1;
    if (R->exit_status != 0)
        fprintf(stderr, PROG ": the command exited with status %d\n", R->exit_status);

out:
    (void)spawned;
    chase_policy_free(R->policy);
    chase_forecaster_free(R->forecaster);
    chase_signal_free(R->signal);
    chase_gpu_free(R->gpu);
    chase_profile_free(R->profile);
    chase_ledger_free(&R->ledger);
    chase_live_job_free(R->lj);
    free(R);
    return status;
}
