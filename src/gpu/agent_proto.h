/* The agent's wire protocol, version 1 (docs/agent-protocol.md): one JSON object a line, requests of at most
 * CHASE_AGENT_REQUEST_MAX bytes, one reply a request, in order. Both sides use this file: chased decodes requests and
 * encodes replies, the "agent" GPU backend encodes requests and decodes replies. Decoding checks everything (types,
 * ranges, unknown or repeated fields), so that the rest of the agent only ever sees valid requests. It lives with the
 * GPU backends because the client is one, and the agent (a layer above) uses it too. */
#ifndef CHASE_GPU_AGENT_PROTO_H
#define CHASE_GPU_AGENT_PROTO_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "chase/error.h"
#include "chase/gpu.h"
#include "chase/setting.h"

#define CHASE_AGENT_PROTOCOL 1
#define CHASE_AGENT_REQUEST_MAX 4096   /* bytes of one request line, its '\n' included */
#define CHASE_AGENT_REPLY_MAX 262144   /* bytes of one reply line, its '\n' included */
#define CHASE_AGENT_CLAIM_MAX 64       /* GPUs in one claim (and descriptors with it) */
#define CHASE_AGENT_GPU_INDEX_MAX 4095 /* the highest GPU index a request may name */

typedef enum chase_agent_op {
    CHASE_AGENT_OP_HELLO,
    CHASE_AGENT_OP_DEVICES,
    CHASE_AGENT_OP_INFO,
    CHASE_AGENT_OP_ENERGY,
    CHASE_AGENT_OP_CLAIM,
    CHASE_AGENT_OP_SET,
    CHASE_AGENT_OP_RELEASE,
    CHASE_AGENT_OP_N
} chase_agent_op_t;

/* One request, as decoded. Only the fields of its op mean anything. */
typedef struct chase_agent_request {
    chase_agent_op_t op;
    long long id;                    /* echoed in the reply; -1 when the request has none */
    int gpu;                         /* info, energy, set */
    int gpus[CHASE_AGENT_CLAIM_MAX]; /* claim: distinct indices */
    int n_gpus;
    chase_setting_t setting; /* set */
} chase_agent_request_t;

/* What the agent says of one GPU (devices, info). Its min/max are the range the agent allows; a value it cannot
 * read is NAN. */
typedef struct chase_agent_gpu {
    chase_gpu_info_t info;
    double gpu_min_w, gpu_max_w; /* the GPU's own range */
    int managed;                 /* users may claim it (config gpus) */
    char device[256];            /* its device file, "" when unknown */
    long long holder_uid;        /* uid of the session holding it, -1 when free */
} chase_agent_gpu_t;

/* The op's name on the wire ("hello", "set", ...); "?" for another value. */
const char *chase_agent_op_name(chase_agent_op_t op);

/* A chase error code's name on the wire ("EPERM", ...), and back (an unknown name is CHASE_EIO). */
const char *chase_agent_code_name(int code);
int chase_agent_code_parse(const char *name);

/* Decodes one request line of len bytes (its '\n' excluded). CHASE_EFORMAT for anything malformed (not JSON, not
 * an object, a field of the wrong type or out of range, a field unknown or given twice, a NUL byte), CHASE_ENOTSUP
 * for another protocol version or an unknown op; err says what and where. out->id is set whenever the line had a
 * readable id, so that even an error reply can be matched to its request. */
int chase_agent_request_parse(const char *line, size_t len, chase_agent_request_t *out, chase_err_t *err);

/* Encodes r as one line, '\n' included, into buf; returns its length, or -1 when it does not fit. */
int chase_agent_request_format(const chase_agent_request_t *r, char *buf, size_t size);

/* A successful reply to request id (-1: none), to which the caller adds its fields. NULL when out of memory. */
cJSON *chase_agent_reply_new(long long id);

/* An error reply: {"v":1,"id":..,"ok":false,"error":NAME,"message":msg}. NULL when out of memory. */
cJSON *chase_agent_reply_error(long long id, int code, const char *msg);

/* Prints reply r as one line, '\n' included, and frees r; *len is its length. NULL when out of memory. */
char *chase_agent_reply_print(cJSON *r, size_t *len);

/* Decodes one reply line (its '\n' excluded) to request id: CHASE_OK with *out the reply object (the caller
 * frees it), the agent's own error code with err its message when the reply says "ok": false, CHASE_EFORMAT when
 * the line is not a version-1 reply to that request. */
int chase_agent_reply_parse(const char *line, size_t len, long long id, cJSON **out, chase_err_t *err);

/* Adds g's fields to the JSON object o (see docs/agent-protocol.md). */
void chase_agent_gpu_to_json(const chase_agent_gpu_t *g, cJSON *o);

/* Reads a GPU object; CHASE_EFORMAT when a field is missing or of the wrong type. */
int chase_agent_gpu_from_json(const cJSON *o, chase_agent_gpu_t *out, chase_err_t *err);

#endif
