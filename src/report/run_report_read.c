/* Reading a run report back (the JSON chase_report_run_json writes, docs/run.md): every field chase report uses is
 * checked where it enters, and an error names the file and the field ("run.json: periods[3].energy_j: ..."). What
 * the report derives (total, savings) is not read: it is recomputed from the periods and the profile, so a report
 * cut by hand to a span of its periods is still a valid report of that span. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/report.h"
#include "util/escape.h"

/* A week of 1-s periods is ~200 MB of JSON; anything larger is not a run report of this world. */
#define MAX_REPORT_BYTES (512u << 20)

struct chase_run_report {
    chase_run_record_t rec;
    cJSON *root; /* owns every string the record points to */
    chase_ledger_t ledger;
    chase_profile_t *profile;
    chase_run_gpu_t *gpus;
    char **command;
};

static const char *type_name(const cJSON *it)
{
    return !it                  ? "nothing"
           : cJSON_IsNull(it)   ? "null"
           : cJSON_IsBool(it)   ? "a boolean"
           : cJSON_IsNumber(it) ? "a number"
           : cJSON_IsString(it) ? "a string"
           : cJSON_IsArray(it)  ? "an array"
                                : "an object";
}

typedef struct reader {
    const char *file;
    chase_err_t *err;
} reader_t;

/* Sets err to "FILE: PATH.KEY: expected WHAT (got ...)" and returns CHASE_EFORMAT. */
static int wrong(const reader_t *r, const char *path, const char *key, const char *what, const cJSON *it)
{
    char got[64];
    if (it && cJSON_IsNumber(it))
        snprintf(got, sizeof got, "%.10g", it->valuedouble);
    else
        snprintf(got, sizeof got, "%s", type_name(it));
    return chase_err_set(r->err, CHASE_EFORMAT, "%s: %s%s%s: expected %s (got %s)", r->file, path, *path ? "." : "",
                         key, what, got);
}

/* A number member in [lo, hi]; absent or null is NAN when null_ok, else an error. */
static int get_num(const reader_t *r, const cJSON *obj, const char *path, const char *key, int null_ok, double lo,
                   double hi, double *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NAN;
    if ((!it || cJSON_IsNull(it)) && null_ok)
        return CHASE_OK;
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble < lo || it->valuedouble > hi) {
        char what[96];
        if (lo == -INFINITY && hi == INFINITY)
            snprintf(what, sizeof what, "a number%s", null_ok ? " or null" : "");
        else if (hi == INFINITY)
            snprintf(what, sizeof what, "a number >= %g%s", lo, null_ok ? " or null" : "");
        else
            snprintf(what, sizeof what, "a number in %g..%g%s", lo, hi, null_ok ? " or null" : "");
        return wrong(r, path, key, what, it);
    }
    *out = it->valuedouble;
    return CHASE_OK;
}

/* A string member; absent or null gives NULL when optional. */
static int get_str(const reader_t *r, const cJSON *obj, const char *path, const char *key, int optional,
                   const char **out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if ((!it || cJSON_IsNull(it)) && optional)
        return CHASE_OK;
    if (!cJSON_IsString(it))
        return wrong(r, path, key, optional ? "a string or null" : "a string", it);
    *out = it->valuestring;
    return CHASE_OK;
}

/* A boolean member; absent is 0 (every boolean of the report defaults to false). */
static int get_bool(const reader_t *r, const cJSON *obj, const char *path, const char *key, int *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = 0;
    if (!it)
        return CHASE_OK;
    if (!cJSON_IsBool(it))
        return wrong(r, path, key, "true or false", it);
    *out = cJSON_IsTrue(it);
    return CHASE_OK;
}

/* An array member (required). */
static int get_array(const reader_t *r, const cJSON *obj, const char *path, const char *key, const cJSON **out)
{
    *out = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsArray(*out) ? CHASE_OK : wrong(r, path, key, "an array", *out);
}

/* The knob the report's settings are in: the one whose key ("power_limit_w") its rows or GPUs carry. */
static chase_knob_t find_knob(const cJSON *periods, const cJSON *gpus)
{
    static const chase_knob_t knobs[] = {CHASE_KNOB_POWER_LIMIT};
    const cJSON *row = cJSON_GetArrayItem(periods, 0), *gpu = cJSON_GetArrayItem(gpus, 0);
    for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++) {
        char original[96];
        snprintf(original, sizeof original, "original_%s", chase_knob_key(knobs[i]));
        if (cJSON_GetObjectItemCaseSensitive(row, chase_knob_key(knobs[i])) ||
            cJSON_GetObjectItemCaseSensitive(gpu, original))
            return knobs[i];
    }
    return CHASE_KNOB_POWER_LIMIT;
}

static int read_period(const reader_t *r, const cJSON *it, size_t i, chase_knob_t knob, double prev_end,
                       chase_period_t *p)
{
    char path[48], decided[96];
    snprintf(path, sizeof path, "periods[%zu]", i);
    if (!cJSON_IsObject(it))
        return chase_err_set(r->err, CHASE_EFORMAT, "%s: %s: expected an object (got %s)", r->file, path,
                             type_name(it));
    memset(p, 0, sizeof *p);
    p->knob = knob;
    const char *phase;
    int rc;
    /* Times are UTC seconds; beyond the year 9999 nothing can be shown. */
    if ((rc = get_num(r, it, path, "start", 0, 0, 253402300800.0, &p->start)) ||
        (rc = get_num(r, it, path, "end", 0, 0, 253402300800.0, &p->end)) ||
        (rc = get_str(r, it, path, "phase", 0, &phase)))
        return rc;
    if (p->end < p->start)
        return chase_err_set(r->err, CHASE_EFORMAT, "%s: %s.end: %.3f is before the period's start (%.3f)", r->file,
                             path, p->end, p->start);
    if (strcmp(phase, "control") && strcmp(phase, "profile")) {
        char shown[64];
        return chase_err_set(r->err, CHASE_EFORMAT, "%s: %s.phase: expected \"control\" or \"profile\" (got \"%s\")",
                             r->file, path, chase_escape(phase, shown, sizeof shown));
    }
    p->phase = strcmp(phase, "profile") ? CHASE_PHASE_CONTROL : CHASE_PHASE_PROFILE;
    if (p->start < prev_end - 0.5)
        return chase_err_set(r->err, CHASE_EFORMAT,
                             "%s: %s.start: %.3f is before the previous period's end (%.3f): periods must be in order",
                             r->file, path, p->start, prev_end);
    snprintf(decided, sizeof decided, "decided_%s", chase_knob_key(knob));
    if ((rc = get_num(r, it, path, "ci_g_per_kwh", 1, 0, 1e5, &p->ci)) ||
        (rc = get_num(r, it, path, "forecast_g_per_kwh", 1, -1e5, 1e5, &p->ci_forecast)) ||
        (rc = get_num(r, it, path, chase_knob_key(knob), 1, 0, 1e6, &p->setting)) ||
        (rc = get_num(r, it, path, decided, 1, 0, 1e6, &p->decided)) ||
        (rc = get_num(r, it, path, "energy_j", 0, 0, INFINITY, &p->energy_j)) ||
        (rc = get_num(r, it, path, "carbon_g", 1, 0, INFINITY, &p->carbon_g)) ||
        (rc = get_num(r, it, path, "steps", 0, 0, INFINITY, &p->work)) ||
        (rc = get_bool(r, it, path, "stale", &p->stale)))
        return rc;
    return CHASE_OK;
}

static int read_gpus(const reader_t *r, const cJSON *gpus, chase_knob_t knob, chase_run_report_t *rep)
{
    int n = cJSON_GetArraySize(gpus);
    rep->gpus = calloc(n > 0 ? (size_t)n : 1, sizeof *rep->gpus);
    if (!rep->gpus)
        return chase_err_set(r->err, CHASE_ENOMEM, "out of memory");
    char keys[3][96];
    const char *prefix[3] = {"original_", "min_", "max_"};
    for (int k = 0; k < 3; k++)
        snprintf(keys[k], sizeof keys[k], "%s%s", prefix[k], chase_knob_key(knob));
    for (int i = 0; i < n; i++) {
        const cJSON *it = cJSON_GetArrayItem(gpus, i);
        chase_run_gpu_t *g = &rep->gpus[i];
        char path[32];
        snprintf(path, sizeof path, "gpus[%d]", i);
        if (!cJSON_IsObject(it))
            return chase_err_set(r->err, CHASE_EFORMAT, "%s: %s: expected an object (got %s)", r->file, path,
                                 type_name(it));
        double index;
        const char *name, *uuid, *bus;
        int rc;
        if ((rc = get_num(r, it, path, "index", 0, 0, 1e6, &index)) || (rc = get_str(r, it, path, "name", 1, &name)) ||
            (rc = get_str(r, it, path, "uuid", 1, &uuid)) || (rc = get_str(r, it, path, "pci_bus_id", 1, &bus)) ||
            (rc = get_num(r, it, path, keys[0], 1, 0, 1e6, &g->original)) ||
            (rc = get_num(r, it, path, keys[1], 1, 0, 1e6, &g->min)) ||
            (rc = get_num(r, it, path, keys[2], 1, 0, 1e6, &g->max)) ||
            (rc = get_bool(r, it, path, "restored", &g->restored)))
            return rc;
        g->info.index = (int)index;
        snprintf(g->info.name, sizeof g->info.name, "%s", name ? name : "");
        snprintf(g->info.uuid, sizeof g->info.uuid, "%s", uuid ? uuid : "");
        snprintf(g->info.pci_bus_id, sizeof g->info.pci_bus_id, "%s", bus ? bus : "");
    }
    rep->rec.gpus = rep->gpus;
    rep->rec.n_gpus = n;
    return CHASE_OK;
}

/* The profile object is chase's profile format less the fields a run does not keep: the profile reader checks it. */
static int read_profile(const reader_t *r, const cJSON *root, chase_run_report_t *rep)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "profile");
    if (!p || cJSON_IsNull(p))
        return CHASE_OK;
    if (!cJSON_IsObject(p))
        return wrong(r, "", "profile", "an object", p);
    char *text = cJSON_PrintUnformatted(p);
    if (!text)
        return chase_err_set(r->err, CHASE_ENOMEM, "out of memory");
    char where[320];
    snprintf(where, sizeof where, "%.300s: profile", r->file);
    int rc = chase_profile_parse_json(text, strlen(text), where, &rep->profile, r->err);
    free(text);
    rep->rec.profile = rep->profile;
    return rc;
}

static int read_progress(const reader_t *r, const cJSON *root, chase_run_record_t *rec)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "progress");
    if (!p)
        return CHASE_OK;
    if (!cJSON_IsObject(p))
        return wrong(r, "", "progress", "an object", p);
    double ranks;
    int rc;
    if ((rc = get_num(r, p, "progress", "steps", 1, 0, INFINITY, &rec->steps)) ||
        (rc = get_num(r, p, "progress", "samples", 1, 0, INFINITY, &rec->samples)) ||
        (rc = get_num(r, p, "progress", "messages", 1, 0, INFINITY, &rec->messages)) ||
        (rc = get_num(r, p, "progress", "malformed", 1, 0, INFINITY, &rec->malformed)) ||
        (rc = get_num(r, p, "progress", "ranks", 1, 0, 1e9, &ranks)))
        return rc;
    rec->ranks = isfinite(ranks) ? (int)ranks : 0;
    return CHASE_OK;
}

static int read_command(const reader_t *r, const cJSON *root, chase_run_report_t *rep)
{
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(root, "command");
    if (!cmd)
        return CHASE_OK;
    if (!cJSON_IsArray(cmd))
        return wrong(r, "", "command", "an array of strings", cmd);
    int n = cJSON_GetArraySize(cmd);
    rep->command = calloc((size_t)n + 1, sizeof *rep->command);
    if (!rep->command)
        return chase_err_set(r->err, CHASE_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        const cJSON *a = cJSON_GetArrayItem(cmd, i);
        if (!cJSON_IsString(a))
            return chase_err_set(r->err, CHASE_EFORMAT, "%s: command[%d]: expected a string (got %s)", r->file, i,
                                 type_name(a));
        rep->command[i] = a->valuestring;
    }
    rep->rec.command = rep->command;
    return CHASE_OK;
}

static int read_record(const reader_t *r, const cJSON *root, chase_run_report_t *rep)
{
    chase_run_record_t *rec = &rep->rec;
    if (!cJSON_IsObject(root))
        return chase_err_set(r->err, CHASE_EFORMAT, "%s: expected a run report (a JSON object), got %s", r->file,
                             type_name(root));
    const cJSON *periods, *gpus;
    double exit_status;
    int rc;
    if ((rc = get_array(r, root, "", "periods", &periods)) || (rc = get_array(r, root, "", "gpus", &gpus)) ||
        (rc = get_str(r, root, "", "signal", 0, &rec->signal)) ||
        (rc = get_str(r, root, "", "policy", 0, &rec->policy)) ||
        (rc = get_str(r, root, "", "policy_requested", 1, &rec->policy_requested)) ||
        (rc = get_str(r, root, "", "profile_source", 0, &rec->profile_source)) ||
        (rc = get_str(r, root, "", "backend", 1, &rec->backend)) ||
        (rc = get_num(r, root, "", "period_s", 0, 1e-3, 1e9, &rec->period_s)) ||
        (rc = get_num(r, root, "", "budget_pct", 0, 0, 1000, &rec->budget_pct)) ||
        (rc = get_num(r, root, "", "total_steps", 1, 1, 1e15, &rec->total_steps)) ||
        (rc = get_bool(r, root, "", "dry_run", &rec->dry_run)) ||
        (rc = get_num(r, root, "", "exit_status", 1, -1e9, 1e9, &exit_status)) ||
        (rc = get_str(r, root, "", "interrupted_by", 1, &rec->interrupted_by)) ||
        (rc = get_str(r, root, "", "error", 1, &rec->error)))
        return rc;
    rec->exit_status = isfinite(exit_status) ? (int)exit_status : 0;
    if (!rec->policy_requested)
        rec->policy_requested = rec->policy;
    rec->knob = find_knob(periods, gpus);
    if ((rc = read_gpus(r, gpus, rec->knob, rep)) || (rc = read_profile(r, root, rep)) ||
        (rc = read_progress(r, root, rec)) || (rc = read_command(r, root, rep)))
        return rc;
    if (rep->profile && rep->profile->knob != rec->knob)
        return chase_err_set(r->err, CHASE_EFORMAT, "%s: profile: its settings are %s, the periods' %s", r->file,
                             chase_knob_name(rep->profile->knob), chase_knob_name(rec->knob));
    double prev_end = -INFINITY;
    for (int i = 0; i < cJSON_GetArraySize(periods); i++) {
        chase_period_t p;
        if ((rc = read_period(r, cJSON_GetArrayItem(periods, i), (size_t)i, rec->knob, prev_end, &p)))
            return rc;
        if (chase_ledger_append(&rep->ledger, &p) != CHASE_OK)
            return chase_err_set(r->err, CHASE_ENOMEM, "out of memory");
        prev_end = p.end;
    }
    rec->ledger = &rep->ledger;
    return CHASE_OK;
}

static size_t line_of(const char *text, size_t len, const char *at)
{
    size_t line = 1;
    for (const char *c = text; c < at && c < text + len; c++)
        line += *c == '\n';
    return line;
}

int chase_report_run_parse(const char *text, size_t len, const char *name, chase_run_report_t **out, chase_err_t *err)
{
    *out = NULL;
    chase_run_report_t *rep = calloc(1, sizeof *rep);
    if (!rep)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    chase_ledger_init(&rep->ledger);
    rep->rec.total_steps = NAN;
    /* The file's name reaches messages and terminals: escaped once here. */
    char shown[300];
    chase_escape(name, shown, sizeof shown);
    const char *end = NULL;
    rep->root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!rep->root) {
        chase_report_run_free(rep);
        return chase_err_set(err, CHASE_EFORMAT, "%s:%zu: not valid JSON", shown, line_of(text, len, end));
    }
    reader_t r = {shown, err};
    int rc = read_record(&r, rep->root, rep);
    if (rc != CHASE_OK) {
        chase_report_run_free(rep);
        return rc;
    }
    *out = rep;
    return CHASE_OK;
}

int chase_report_run_read(const char *path, chase_run_report_t **out, chase_err_t *err)
{
    *out = NULL;
    char shown[300];
    chase_escape(path, shown, sizeof shown);
    FILE *f = fopen(path, "rb");
    if (!f)
        return chase_err_set(err, errno == ENOENT ? CHASE_ENOTFOUND : CHASE_EIO, "%s: cannot open: %s", shown,
                             strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = CHASE_OK;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? 2 * cap : 1 << 16;
            char *nb = ncap <= MAX_REPORT_BYTES + 1 ? realloc(buf, ncap) : NULL;
            if (!nb) {
                rc = ncap > MAX_REPORT_BYTES + 1
                         ? chase_err_set(err, CHASE_EFORMAT, "%s: larger than %u MB: not a run report", shown,
                                         MAX_REPORT_BYTES >> 20)
                         : chase_err_set(err, CHASE_ENOMEM, "%s: out of memory", shown);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (rc == CHASE_OK && ferror(f))
        rc = chase_err_set(err, CHASE_EIO, "%s: read error: %s", shown, strerror(errno));
    fclose(f);
    if (rc == CHASE_OK && len == 0)
        rc = chase_err_set(err, CHASE_EFORMAT, "%s: empty file: not a run report", shown);
    if (rc == CHASE_OK)
        rc = chase_report_run_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}

const chase_run_record_t *chase_report_run_record(const chase_run_report_t *r)
{
    return &r->rec;
}

void chase_report_run_free(chase_run_report_t *r)
{
    if (!r)
        return;
    cJSON_Delete(r->root);
    chase_ledger_free(&r->ledger);
    chase_profile_free(r->profile);
    free(r->gpus);
    free(r->command);
    free(r);
}
