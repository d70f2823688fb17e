/* The agent's wire protocol (see gpu/agent_proto.h and docs/agent-protocol.md). */
#include "gpu/agent_proto.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[CHASE_AGENT_OP_N] = {"hello", "devices", "info", "energy", "claim", "set", "release"};

const char *chase_agent_op_name(chase_agent_op_t op)
{
    return (unsigned)op < CHASE_AGENT_OP_N ? op_names[op] : "?";
}

static const struct {
    int code;
    const char *name;
} codes[] = {{CHASE_EINVAL, "EINVAL"},     {CHASE_ENOMEM, "ENOMEM"}, {CHASE_EIO, "EIO"},
             {CHASE_EFORMAT, "EFORMAT"},   {CHASE_ERANGE, "ERANGE"}, {CHASE_ENOTSUP, "ENOTSUP"},
             {CHASE_ENODATA, "ENODATA"},   {CHASE_EPERM, "EPERM"},   {CHASE_ENOTFOUND, "ENOTFOUND"},
             {CHASE_ETIMEOUT, "ETIMEOUT"}, {CHASE_EGPU, "EGPU"},     {CHASE_ESTATE, "ESTATE"}};

const char *chase_agent_code_name(int code)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].code == code)
            return codes[i].name;
    return "EIO";
}

int chase_agent_code_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof codes / sizeof codes[0]; i++)
        if (!strcmp(codes[i].name, name))
            return codes[i].code;
    return CHASE_EIO;
}

/* The fields a request may have, and which op allows which. */
enum { F_V, F_ID, F_OP, F_GPU, F_GPUS, F_SETTING, F_N };
static const char *const field_names[F_N] = {"v", "id", "op", "gpu", "gpus", NULL /* a knob's key */};
#define BIT(f) (1u << (f))
static const unsigned op_fields[CHASE_AGENT_OP_N] = {
    [CHASE_AGENT_OP_HELLO] = 0,           [CHASE_AGENT_OP_DEVICES] = 0,
    [CHASE_AGENT_OP_INFO] = BIT(F_GPU),   [CHASE_AGENT_OP_ENERGY] = BIT(F_GPU),
    [CHASE_AGENT_OP_CLAIM] = BIT(F_GPUS), [CHASE_AGENT_OP_SET] = BIT(F_GPU) | BIT(F_SETTING),
    [CHASE_AGENT_OP_RELEASE] = 0,
};

/* A JSON number that is a whole number in [lo, hi]. */
static int whole(const cJSON *v, double lo, double hi, double *out)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < lo || v->valuedouble > hi)
        return -1;
    *out = v->valuedouble;
    return 0;
}

/* The knob whose key names this field ("power_limit_w"), or -1. */
static int knob_of(const char *key)
{
    return !strcmp(key, chase_knob_key(CHASE_KNOB_POWER_LIMIT)) ? (int)CHASE_KNOB_POWER_LIMIT : -1;
}

static int read_gpus(const cJSON *arr, chase_agent_request_t *out, chase_err_t *err)
{
    if (!cJSON_IsArray(arr))
        return chase_err_set(err, CHASE_EFORMAT, "\"gpus\" must be an array of GPU indices");
    out->n_gpus = 0;
    for (const cJSON *e = arr->child; e; e = e->next) {
        double d;
        if (out->n_gpus == CHASE_AGENT_CLAIM_MAX)
            return chase_err_set(err, CHASE_EFORMAT, "\"gpus\" names more than %d GPUs", CHASE_AGENT_CLAIM_MAX);
        if (whole(e, 0, CHASE_AGENT_GPU_INDEX_MAX, &d) != 0)
            return chase_err_set(err, CHASE_EFORMAT, "\"gpus\" item %d is not a GPU index (0..%d)", out->n_gpus,
                                 CHASE_AGENT_GPU_INDEX_MAX);
        for (int i = 0; i < out->n_gpus; i++)
            if (out->gpus[i] == (int)d)
                return chase_err_set(err, CHASE_EFORMAT, "\"gpus\" names GPU %d twice", (int)d);
        out->gpus[out->n_gpus++] = (int)d;
    }
    if (out->n_gpus == 0)
        return chase_err_set(err, CHASE_EFORMAT, "\"gpus\" is empty: name at least one GPU");
    return CHASE_OK;
}

/* Sorts the object's members into fields (each at most once); CHASE_EFORMAT for an unknown or repeated one. */
static int collect(const cJSON *o, const cJSON *f[F_N], int *knob, chase_err_t *err)
{
    for (const cJSON *m = o->child; m; m = m->next) {
        int k = 0;
        while (k < F_SETTING && strcmp(m->string, field_names[k]) != 0)
            k++;
        if (k == F_SETTING && knob_of(m->string) < 0)
            return chase_err_set(err, CHASE_EFORMAT, "unknown field \"%.40s\"", m->string);
        if (f[k])
            return chase_err_set(err, CHASE_EFORMAT, "field \"%.40s\" given twice", m->string);
        f[k] = m;
        if (k == F_SETTING)
            *knob = knob_of(m->string);
    }
    return CHASE_OK;
}

static int decode(const cJSON *o, chase_agent_request_t *out, chase_err_t *err)
{
    if (!cJSON_IsObject(o))
        return chase_err_set(err, CHASE_EFORMAT, "a request is one JSON object");
    const cJSON *f[F_N] = {0};
    int knob = -1, rc = collect(o, f, &knob, err);
    double d;
    if (f[F_ID] && !cJSON_IsNull(f[F_ID])) {
        if (whole(f[F_ID], 0, 9007199254740991.0, &d) != 0)
            return chase_err_set(err, CHASE_EFORMAT, "\"id\" must be a whole number from 0 to 2^53-1");
        out->id = (long long)d;
    }
    if (rc != CHASE_OK)
        return rc;
    if (!f[F_V])
        return chase_err_set(err, CHASE_EFORMAT, "no protocol version: a request starts {\"v\":%d,",
                             CHASE_AGENT_PROTOCOL);
    if (whole(f[F_V], 0, 1e9, &d) != 0)
        return chase_err_set(err, CHASE_EFORMAT, "\"v\" must be a whole number");
    if (d != CHASE_AGENT_PROTOCOL)
        return chase_err_set(err, CHASE_ENOTSUP, "protocol version %.0f is not spoken here (this agent speaks %d)", d,
                             CHASE_AGENT_PROTOCOL);
    if (!cJSON_IsString(f[F_OP]))
        return chase_err_set(err, CHASE_EFORMAT, "no \"op\" string");
    int op = 0;
    while (op < CHASE_AGENT_OP_N && strcmp(f[F_OP]->valuestring, op_names[op]) != 0)
        op++;
    if (op == CHASE_AGENT_OP_N)
        return chase_err_set(err, CHASE_ENOTSUP,
                             "unknown op \"%.40s\" (known: hello, devices, info, energy, claim, set, release)",
                             f[F_OP]->valuestring);
    out->op = (chase_agent_op_t)op;
    unsigned wanted = op_fields[op];
    for (int k = F_GPU; k < F_N; k++) {
        const char *name = k == F_SETTING ? chase_knob_key(CHASE_KNOB_POWER_LIMIT) : field_names[k];
        if (f[k] && !(wanted & BIT(k)))
            return chase_err_set(err, CHASE_EFORMAT, "field \"%s\" does not belong in a \"%s\" request", f[k]->string,
                                 op_names[op]);
        if (!f[k] && (wanted & BIT(k)))
            return chase_err_set(err, CHASE_EFORMAT, "a \"%s\" request needs \"%s\"", op_names[op], name);
    }
    if (f[F_GPU]) {
        if (whole(f[F_GPU], 0, CHASE_AGENT_GPU_INDEX_MAX, &d) != 0)
            return chase_err_set(err, CHASE_EFORMAT, "\"gpu\" must be a GPU index (0..%d)", CHASE_AGENT_GPU_INDEX_MAX);
        out->gpu = (int)d;
    }
    if (f[F_GPUS] && (rc = read_gpus(f[F_GPUS], out, err)) != CHASE_OK)
        return rc;
    if (f[F_SETTING]) {
        const cJSON *v = f[F_SETTING];
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || !(v->valuedouble > 0) || v->valuedouble > 1e6)
            return chase_err_set(err, CHASE_EFORMAT, "\"%s\" must be a number above 0 and at most 1e6", v->string);
        out->setting = (chase_setting_t){(chase_knob_t)knob, v->valuedouble};
    }
    return CHASE_OK;
}

int chase_agent_request_parse(const char *line, size_t len, chase_agent_request_t *out, chase_err_t *err)
{
    memset(out, 0, sizeof *out);
    out->id = -1;
    if (len >= CHASE_AGENT_REQUEST_MAX)
        return chase_err_set(err, CHASE_EFORMAT, "request longer than %d bytes", CHASE_AGENT_REQUEST_MAX - 1);
    if (memchr(line, '\0', len))
        return chase_err_set(err, CHASE_EFORMAT, "a NUL byte in the request");
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    if (!o)
        return chase_err_set(err, CHASE_EFORMAT, "not JSON (near byte %ld)",
                             end && end >= line ? (long)(end - line) : 0L);
    for (const char *p = end; p && p < line + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r') {
            cJSON_Delete(o);
            return chase_err_set(err, CHASE_EFORMAT, "text after the JSON object (byte %ld)", (long)(p - line));
        }
    int rc = decode(o, out, err);
    cJSON_Delete(o);
    return rc;
}

int chase_agent_request_format(const chase_agent_request_t *r, char *buf, size_t size)
{
    char extra[CHASE_AGENT_REQUEST_MAX] = "";
    size_t len = 0;
    switch (r->op) {
    case CHASE_AGENT_OP_INFO:
    case CHASE_AGENT_OP_ENERGY: snprintf(extra, sizeof extra, ",\"gpu\":%d", r->gpu); break;
    case CHASE_AGENT_OP_SET:
        snprintf(extra, sizeof extra, ",\"gpu\":%d,\"%s\":%.17g", r->gpu, chase_knob_key(r->setting.knob),
                 r->setting.value);
        break;
    case CHASE_AGENT_OP_CLAIM:
        len = (size_t)snprintf(extra, sizeof extra, ",\"gpus\":[");
        for (int i = 0; i < r->n_gpus && len < sizeof extra; i++)
            len += (size_t)snprintf(extra + len, sizeof extra - len, "%s%d", i ? "," : "", r->gpus[i]);
        if (len < sizeof extra)
            snprintf(extra + len, sizeof extra - len, "]");
        break;
    default: break;
    }
    char id[32] = "";
    if (r->id >= 0)
        snprintf(id, sizeof id, ",\"id\":%lld", r->id);
    int n = snprintf(buf, size, "{\"v\":%d%s,\"op\":\"%s\"%s}\n", CHASE_AGENT_PROTOCOL, id, chase_agent_op_name(r->op),
                     extra);
    return n < 0 || (size_t)n >= size || n >= CHASE_AGENT_REQUEST_MAX ? -1 : n;
}

cJSON *chase_agent_reply_new(long long id)
{
    cJSON *r = cJSON_CreateObject();
    if (!r)
        return NULL;
    cJSON_AddNumberToObject(r, "v", CHASE_AGENT_PROTOCOL);
    if (id >= 0)
        cJSON_AddNumberToObject(r, "id", (double)id);
    else
        cJSON_AddNullToObject(r, "id");
    cJSON_AddBoolToObject(r, "ok", 1);
    return r;
}

cJSON *chase_agent_reply_error(long long id, int code, const char *msg)
{
    cJSON *r = chase_agent_reply_new(id);
    if (!r)
        return NULL;
    cJSON_ReplaceItemInObjectCaseSensitive(r, "ok", cJSON_CreateBool(0));
    cJSON_AddStringToObject(r, "error", chase_agent_code_name(code));
    cJSON_AddStringToObject(r, "message", msg && *msg ? msg : chase_strerror(code));
    return r;
}

char *chase_agent_reply_print(cJSON *r, size_t *len)
{
    char *text = r ? cJSON_PrintUnformatted(r) : NULL;
    cJSON_Delete(r);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    *len = n + 1;
    return line;
}

int chase_agent_reply_parse(const char *line, size_t len, long long id, cJSON **out, chase_err_t *err)
{
    *out = NULL;
    if (memchr(line, '\0', len))
        return chase_err_set(err, CHASE_EFORMAT, "the agent's reply holds a NUL byte");
    cJSON *r = cJSON_ParseWithLength(line, len);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "v"), *rid = cJSON_GetObjectItemCaseSensitive(r, "id"),
                *ok = cJSON_GetObjectItemCaseSensitive(r, "ok");
    if (!cJSON_IsObject(r) || !cJSON_IsNumber(v) || v->valuedouble != CHASE_AGENT_PROTOCOL || !cJSON_IsBool(ok)) {
        cJSON_Delete(r);
        return chase_err_set(err, CHASE_EFORMAT, "the agent's reply is not a protocol-%d reply", CHASE_AGENT_PROTOCOL);
    }
    int id_ok = id < 0 ? (!rid || cJSON_IsNull(rid)) : (cJSON_IsNumber(rid) && rid->valuedouble == (double)id);
    if (!id_ok && cJSON_IsTrue(ok)) {
        cJSON_Delete(r);
        return chase_err_set(err, CHASE_EFORMAT, "the agent answered another request than %lld", id);
    }
    if (cJSON_IsFalse(ok)) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(r, "error"),
                    *msg = cJSON_GetObjectItemCaseSensitive(r, "message");
        int code = chase_agent_code_parse(cJSON_IsString(name) ? name->valuestring : NULL);
        chase_err_set(err, code, "%.480s", cJSON_IsString(msg) ? msg->valuestring : chase_strerror(code));
        cJSON_Delete(r);
        return code;
    }
    *out = r;
    return CHASE_OK;
}

static void add_number(cJSON *o, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

void chase_agent_gpu_to_json(const chase_agent_gpu_t *g, cJSON *o)
{
    const chase_gpu_info_t *in = &g->info;
    cJSON_AddNumberToObject(o, "index", in->index);
    cJSON_AddStringToObject(o, "name", in->name);
    cJSON_AddStringToObject(o, "uuid", in->uuid);
    cJSON_AddStringToObject(o, "pci_bus_id", in->pci_bus_id);
    cJSON_AddStringToObject(o, "device", g->device);
    cJSON_AddBoolToObject(o, "managed", g->managed);
    add_number(o, "power_limit_w", in->pl_w);
    add_number(o, "default_power_limit_w", in->default_pl_w);
    add_number(o, "min_power_limit_w", in->min_pl_w);
    add_number(o, "max_power_limit_w", in->max_pl_w);
    add_number(o, "gpu_min_power_limit_w", g->gpu_min_w);
    add_number(o, "gpu_max_power_limit_w", g->gpu_max_w);
    add_number(o, "power_w", in->power_w);
    add_number(o, "energy_j", in->energy_j);
    if (g->holder_uid >= 0)
        cJSON_AddNumberToObject(o, "holder_uid", (double)g->holder_uid);
    else
        cJSON_AddNullToObject(o, "holder_uid");
}

/* A number or null (NAN); -1 for anything else. */
static int number_or_null(const cJSON *o, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNull(v)) {
        *out = NAN;
        return 0;
    }
    if (!cJSON_IsNumber(v))
        return -1;
    *out = v->valuedouble;
    return 0;
}

static int text(const cJSON *o, const char *key, char *buf, size_t size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= size)
        return -1;
    snprintf(buf, size, "%s", v->valuestring);
    return 0;
}

int chase_agent_gpu_from_json(const cJSON *o, chase_agent_gpu_t *out, chase_err_t *err)
{
    memset(out, 0, sizeof *out);
    chase_gpu_info_t *in = &out->info;
    double index, holder;
    const cJSON *managed = cJSON_GetObjectItemCaseSensitive(o, "managed");
    int ok = cJSON_IsObject(o) && number_or_null(o, "index", &index) == 0 && isfinite(index) && index >= 0 &&
             index <= CHASE_AGENT_GPU_INDEX_MAX && index == floor(index) &&
             text(o, "name", in->name, sizeof in->name) == 0 && text(o, "uuid", in->uuid, sizeof in->uuid) == 0 &&
             text(o, "pci_bus_id", in->pci_bus_id, sizeof in->pci_bus_id) == 0 &&
             text(o, "device", out->device, sizeof out->device) == 0 && cJSON_IsBool(managed) &&
             number_or_null(o, "power_limit_w", &in->pl_w) == 0 &&
             number_or_null(o, "default_power_limit_w", &in->default_pl_w) == 0 &&
             number_or_null(o, "min_power_limit_w", &in->min_pl_w) == 0 &&
             number_or_null(o, "max_power_limit_w", &in->max_pl_w) == 0 &&
             number_or_null(o, "gpu_min_power_limit_w", &out->gpu_min_w) == 0 &&
             number_or_null(o, "gpu_max_power_limit_w", &out->gpu_max_w) == 0 &&
             number_or_null(o, "power_w", &in->power_w) == 0 && number_or_null(o, "energy_j", &in->energy_j) == 0 &&
             number_or_null(o, "holder_uid", &holder) == 0 && (isnan(holder) || (holder >= 0 && holder < 4294967296.0));
    if (!ok)
        return chase_err_set(err, CHASE_EFORMAT, "the agent described a GPU in a form this chase does not read");
    in->index = (int)index;
    out->managed = cJSON_IsTrue(managed);
    out->holder_uid = isnan(holder) ? -1 : (long long)holder;
    return CHASE_OK;
}
