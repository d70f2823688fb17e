/* `chase run [options] -- COMMAND ARGS...`: run a training command under carbon-aware GPU power limits.
 *
 * Order matters here: the live job (which blocks the termination signals) is created before anything that may start
 * a thread, the session checks every input before the child starts, and from the child's start on, every path goes
 * through the session's restore, then waits for the child and exits with its status. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/live.h"
#include "chase/metrics.h"
#include "chase/report.h"
#include "chase/session.h"
#include "chase/signal.h"
#include "chase/timeutil.h"
#include "cli/cli_util.h"
#include "util/atomic_file.h"
#include "cli/commands.h"
#include "cli/run_output.h"

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
            "                         live source's own forecast (Electricity Maps, WattTime, UK CI) blended with\n"
            "                         chase's model\n"
            "  --gpus LIST            NVML indices of the job's GPUs, e.g. 0,1 (default: the GPUs\n"
            "                         CUDA_VISIBLE_DEVICES names, else all); one limit for all\n"
            "  --dry-run              observe only: decide and record, never set a limit\n"
            "  --profile-file FILE    load the job's profile from FILE if it exists, else profile online and save it\n"
            "  --warmup-steps N       steps before online profiling starts (default 10)\n"
            "  --profile-steps N      steps measured at each limit while profiling (default 20)\n"
            "  --pl-step W            spacing of the profiled limits, from the top limit down (default 25)\n"
            "  --progress-timeout D   wait this long for the first progress report before falling back to the\n"
            "                         crude mode (default 5m)\n"
            "  --report FILE.json     write the per-period report (\"-\" for stdout)\n"
            "  --quiet                no per-period lines on stderr (the final summary stays)\n"
            "  --metrics-file FILE    rewrite FILE (e.g. /var/lib/node_exporter/chase.prom) every period with\n"
            "                         Prometheus metrics: CI, limits, energy, carbon, steps, estimated saving\n"
            "  --agent PATH           set the limits through the node agent chased at PATH (docs/agent.md).\n"
            "                         Default: CHASE_AGENT, else the agent at /run/chase/chased.sock when not\n"
            "                         root and it runs, else NVML directly; 'none': NVML\n"
            "  -h, --help             this text\n"
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
            "Exit status: the command's; 2 for bad input (nothing started); 1 when control failed.\n"
            "Docs: docs/run.md.\n");
}

typedef struct opts {
    chase_session_opts_t s;
    const char *report;
    const char *metrics;
    int quiet;
    int gpus[MAX_GPUS];
    char **command;
} opts_t;

static int parse_gpus(const char *text, opts_t *o)
{
    o->s.n_gpus = 0;
    const char *p = text;
    for (;;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v >= MAX_GPUS || (*end != ',' && *end != '\0'))
            return cli_bad(PROG, "--gpus expects GPU indices like 0,1,3 (got '%s')", text);
        for (int i = 0; i < o->s.n_gpus; i++)
            if (o->gpus[i] == (int)v)
                return cli_bad(PROG, "--gpus names GPU %ld twice", v);
        if (o->s.n_gpus == MAX_GPUS)
            return cli_bad(PROG, "--gpus names more than %d GPUs", MAX_GPUS);
        o->gpus[o->s.n_gpus++] = (int)v;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    o->s.gpus = o->gpus;
    return 0;
}

/* Returns -1 to go on, else the exit status (0 after --help, 2 for bad input). */
static int parse_opts(int argc, char **argv, opts_t *o)
{
    enum { O_SIGNAL = 256, O_POLICY, O_BUDGET, O_TOTAL, O_ETA, O_PERIOD, O_FORECASTER, O_GPUS, O_DRY, O_PROFILE,
           O_WARMUP, O_PSTEPS, O_PLSTEP, O_TIMEOUT, O_REPORT, O_QUIET, O_METRICS, O_AGENT };
    static const struct option longopts[] = {
        {"signal", required_argument, 0, O_SIGNAL},         {"policy", required_argument, 0, O_POLICY},
        {"budget", required_argument, 0, O_BUDGET},         {"total-steps", required_argument, 0, O_TOTAL},
        {"eta", required_argument, 0, O_ETA},               {"period", required_argument, 0, O_PERIOD},
        {"forecaster", required_argument, 0, O_FORECASTER}, {"gpus", required_argument, 0, O_GPUS},
        {"dry-run", no_argument, 0, O_DRY},                 {"profile-file", required_argument, 0, O_PROFILE},
        {"warmup-steps", required_argument, 0, O_WARMUP},   {"profile-steps", required_argument, 0, O_PSTEPS},
        {"pl-step", required_argument, 0, O_PLSTEP},        {"progress-timeout", required_argument, 0, O_TIMEOUT},
        {"report", required_argument, 0, O_REPORT},         {"quiet", no_argument, 0, O_QUIET},
        {"metrics-file", required_argument, 0, O_METRICS}, {"agent", required_argument, 0, O_AGENT},
        {"help", no_argument, 0, 'h'},                      {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    chase_session_opts_init(&o->s);
    int c, bad = 0;
    optind = 0;
    while (!bad && (c = cli_getopt(PROG, argc, argv, "h", longopts)) != -1) {
        switch (c) {
        case O_SIGNAL: o->s.signal_spec = optarg; break;
        case O_POLICY: o->s.policy = optarg; break;
        case O_FORECASTER: o->s.forecaster = optarg; break;
        case O_PROFILE: o->s.profile_file = optarg; break;
        case O_REPORT: o->report = optarg; break;
        case O_METRICS: o->metrics = optarg; break;
        case O_DRY: o->s.dry_run = 1; break;
        case O_QUIET: o->quiet = 1; break;
        case O_AGENT: o->s.gpu_open.agent_socket = optarg; break;
        case O_GPUS: bad = parse_gpus(optarg, o); break;
        case O_BUDGET: bad = cli_parse_double(PROG, "--budget", optarg, 0, 100, &o->s.budget_pct); break;
        case O_ETA: bad = cli_parse_double(PROG, "--eta", optarg, 0, 1, &o->s.eta); break;
        case O_PLSTEP: bad = cli_parse_double(PROG, "--pl-step", optarg, 1, 1000, &o->s.setting_step); break;
        case O_TOTAL: bad = cli_parse_double(PROG, "--total-steps", optarg, 1, 1e15, &o->s.total_steps); break;
        case O_PERIOD: bad = cli_parse_duration(PROG, "--period", optarg, 1, 7 * 86400, &o->s.period_s); break;
        case O_TIMEOUT:
            bad = cli_parse_duration(PROG, "--progress-timeout", optarg, 0, 7 * 86400, &o->s.progress_timeout_s);
            break;
        case O_WARMUP: bad = cli_parse_int(PROG, "--warmup-steps", optarg, 0, 1000000, &o->s.warmup_steps); break;
        case O_PSTEPS: bad = cli_parse_int(PROG, "--profile-steps", optarg, 1, 1000000, &o->s.profile_steps); break;
        case 'h': usage(stdout); return 0;
        default: return 2;
        }
    }
    if (bad)
        return 2;
    if (optind >= argc)
        return cli_bad(PROG, "no command to run: chase run [OPTIONS] -- COMMAND [ARGS...] (see --help)");
    if (strcmp(argv[optind - 1], "--") != 0)
        return cli_bad(PROG, "unexpected '%s': put the command after --, e.g. chase run --signal static:300 -- "
                             "python train.py",
                       argv[optind]);
    o->command = argv + optind;
    if (!o->s.signal_spec)
        return cli_bad(PROG, "--signal is required, e.g. --signal static:400 or --signal trace:ci.csv");
    return -1;
}

static void print_row(const char *what, const chase_period_t *r, const chase_run_status_t *st, double budget_pct)
{
    char ts[32];
    chase_time_format((int64_t)floor(r->start), ts, sizeof ts);
    fprintf(stderr, PROG ": %s %s  %5.0f s  CI %6.1f g/kWh%s  limit %5.0f %s  %10.1f J  %8.3f g  %6.0f steps",
            what, ts, r->end - r->start, r->ci, r->stale ? " (stale)" : "", r->setting, chase_knob_unit(r->knob),
            r->energy_j, r->carbon_g, r->work);
    run_output_status(stderr, st, budget_pct);
    fputc('\n', stderr);
}

typedef struct printer {
    int quiet;
    size_t profile_rows;
    chase_session_t *S; /* set once the session is open */
    chase_live_job_t *lj;
    const char *metrics; /* --metrics-file */
    char run_label[256];
    int metrics_failed; /* said once */
} printer_t;

/* The record as it stands, with the job's progress counts (the session leaves those to the front end). */
static void record_now(printer_t *p, chase_run_record_t *rec)
{
    chase_session_record(p->S, rec);
    chase_live_job_record(p->lj, rec);
}

static void write_metrics(printer_t *p, const chase_run_record_t *rec, const chase_run_status_t *st, int running)
{
    chase_metrics_t m = {p->run_label, rec, st, running};
    chase_err_t err;
    if (chase_metrics_write(p->metrics, &m, &err) != CHASE_OK && !p->metrics_failed++)
        fprintf(stderr, PROG ": warning: --metrics-file: %s (the run goes on)\n", err.msg);
}

static void on_period(void *arg, const chase_period_t *row)
{
    printer_t *p = arg;
    const char *what = "period ";
    if (row->phase == CHASE_PHASE_PROFILE)
        what = p->profile_rows++ == 0 ? "warm-up" : "profile";
    if (p->quiet && !p->metrics)
        return;
    chase_run_record_t rec;
    chase_run_status_t st;
    record_now(p, &rec);
    /* Profiling's rows are told all at once when it ends: each is shown as the run stood at its own end. */
    chase_ledger_t upto = *rec.ledger;
    while (upto.n > 1 && upto.rows[upto.n - 1].end > row->end)
        upto.n--;
    rec.ledger = &upto;
    chase_run_status(&rec, &st);
    if (!p->quiet)
        print_row(what, row, &st, rec.budget_pct);
    if (p->metrics)
        write_metrics(p, &rec, &st, 1);
}

static void on_message(void *arg, chase_session_level_t level, const char *text)
{
    printer_t *p = arg;
    if (level == CHASE_SESSION_WARNING)
        fprintf(stderr, PROG ": warning: %s\n", text);
    else if (!p->quiet)
        fprintf(stderr, PROG ": %s\n", text);
}

/* Writes the report (when asked) and the summary; returns 0, or 1 when the report could not be written. */
static int finish(printer_t *p, const opts_t *o, int exit_status, int interrupted)
{
    chase_session_t *S = p->S;
    chase_run_record_t rec;
    record_now(p, &rec);
    rec.command = o->command;
    rec.exit_status = exit_status;
    rec.interrupted_by = interrupted ? chase_signal_abbrev(interrupted) : NULL;
    chase_run_status_t st;
    chase_run_status(&rec, &st);
    if (p->metrics)
        write_metrics(p, &rec, &st, 0);
    int status = 0;
    if (o->report) {
        char *text = NULL;
        chase_err_t err;
        if (chase_report_run_json(&rec, &text, &err) != CHASE_OK || chase_report_write(o->report, text, &err)) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            status = 1;
        }
        free(text);
    }
    const chase_ledger_t *l = chase_session_ledger(S);
    chase_totals_t t;
    chase_ledger_totals(l, &t);
    size_t prof = chase_ledger_count(l, CHASE_PHASE_PROFILE);
    if (l->n == 0)
        fprintf(stderr, PROG ": no period was completed under control (policy %s)\n", rec.policy);
    else {
        fprintf(stderr,
            PROG ": %.1f s, %zu control periods + %zu profiling, %.1f J, %.3f gCO2eq, %.0f steps, mean limit %.0f %s, "
                 "policy %s%s",
            t.time_s, l->n - prof, prof, t.energy_j, t.carbon_g, t.work, t.mean_setting, chase_knob_unit(rec.knob),
            rec.policy, rec.dry_run ? " (observe only)" : "");
        run_output_savings(stderr, &st.savings);
        fputc('\n', stderr);
    }
    if (t.unpriced_s > 0)
        fprintf(stderr, PROG ": no carbon intensity was known for %.0f s of the run: its carbon is not counted\n",
                t.unpriced_s);
    if (rec.malformed > 0)
        fprintf(stderr, PROG ": %.0f malformed progress messages were ignored\n", rec.malformed);
    return status;
}

int chase_cmd_run(int argc, char **argv)
{
    opts_t *o = calloc(1, sizeof *o);
    if (!o) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    int status = parse_opts(argc, argv, o);
    if (status >= 0) {
        free(o);
        return status;
    }
    chase_err_t err;
    chase_err_clear(&err);
    chase_live_job_t *lj = NULL;
    chase_session_t *S = NULL;
    printer_t pr = {.quiet = o->quiet};
    o->s.on_period = on_period;
    o->s.on_message = on_message;
    o->s.arg = &pr;
    int rc;
    if (o->report && strcmp(o->report, "-") && (rc = chase_file_check_writable(o->report, &err)) != CHASE_OK) {
        /* Checked now, so a long job's report is not lost at its end. */
        status = cli_bad(PROG, "--report %s", err.msg);
        free(o);
        return status;
    }
    if (o->metrics && (!strcmp(o->metrics, "-") || chase_file_check_writable(o->metrics, &err) != CHASE_OK)) {
        const char *why = !strcmp(o->metrics, "-") ? "needs a file (the textfile collector reads files), not standard "
                                                     "output"
                                                   : err.msg;
        status = cli_bad(PROG, "--metrics-file %s", why);
        free(o);
        return status;
    }
    pr.metrics = o->metrics;
    if (o->metrics)
        chase_metrics_run_label(o->metrics, pr.run_label, sizeof pr.run_label);
    /* Before anything that may start a thread (the NVML library, HTTP clients of live signals). */
    if ((rc = chase_live_job_create(NULL, &lj, &err)) != CHASE_OK || (rc = chase_session_open(&o->s, &S, &err))) {
        status = cli_fail(PROG, rc, &err);
        goto out;
    }
    pr.S = S;
    pr.lj = lj;
    int early = chase_live_job_pending(lj);
    if (early) {
        fprintf(stderr, PROG ": interrupted by %s before the command started: nothing was started or changed\n",
                chase_signal_abbrev(early));
        status = 128 + early;
        goto out;
    }
    /* The carbon APIs' credentials are chase's, not the training command's. */
    const char *hide[16];
    chase_signal_secret_envs(hide, sizeof hide / sizeof hide[0]);
    if ((rc = chase_live_job_spawn(lj, o->command, hide, &err)) != CHASE_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        status = 127;
        goto out;
    }
    rc = chase_session_run(S, chase_live_job_job(lj), &err);
    int interrupted = chase_live_job_interrupted(lj);
    if (interrupted)
        fprintf(stderr, PROG ": interrupted by %s (forwarded to the command)%s; waiting for the command to exit\n",
                chase_signal_abbrev(interrupted), chase_gpu_group_all_restored(chase_session_gpus(S)) ? ": power limits restored" : "");
    if (rc != CHASE_OK)
        fprintf(stderr, PROG ": control stopped: %s; the command goes on without control\n",
                err.msg[0] ? err.msg : chase_strerror(rc));
    int exit_status = 0;
    chase_err_t werr;
    if (chase_live_job_wait(lj, &exit_status, &werr) != CHASE_OK)
        fprintf(stderr, PROG ": %s\n", werr.msg);
    int report_failed = finish(&pr, o, exit_status, interrupted);
    status = exit_status;
    if (status == 0 && (rc != CHASE_OK || report_failed))
        status = 1;
    if (exit_status != 0)
        fprintf(stderr, PROG ": the command exited with status %d\n", exit_status);
out:
    chase_session_free(S);
    chase_live_job_free(lj);
    free(o);
    return status;
}
