/* libFuzzer target: the node agent's message decoders on arbitrary bytes. The request decoder (what chased reads from
 * any local user) must either refuse with a message or return a request that obeys the protocol's limits and that
 * encodes back to itself; the reply decoder and the GPU reader (what a client reads) must never crash.
 *
 * Built like every fuzz/fuzz_*.c (fuzz/CMakeLists.txt: seed replay in ctest, libFuzzer with fuzz/run.sh); its seeds
 * are fuzz/seeds/agent_msg. tests/agent also runs it on 200000 deterministic mutations of the seeds in every ctest
 * run (tests/agent/fuzz_replay.c), since a request line is what any local user can send to a root daemon. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/agent_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const chase_agent_request_t *a, const chase_agent_request_t *b)
{
    if (a->op != b->op || a->id != b->id)
        return 0;
    switch (a->op) {
    case CHASE_AGENT_OP_INFO:
    case CHASE_AGENT_OP_ENERGY: return a->gpu == b->gpu;
    case CHASE_AGENT_OP_SET:
        return a->gpu == b->gpu && a->setting.knob == b->setting.knob && a->setting.value == b->setting.value;
    case CHASE_AGENT_OP_CLAIM:
        return a->n_gpus == b->n_gpus && !memcmp(a->gpus, b->gpus, sizeof a->gpus[0] * (size_t)a->n_gpus);
    default: return 1;
    }
}

static void check_request(const char *text, size_t size)
{
    chase_agent_request_t q;
    chase_err_t err;
    err.msg[0] = '\0';
    int rc = chase_agent_request_parse(text, size, &q, &err);
    if (q.id < -1)
        abort();
    if (rc != CHASE_OK) {
        if ((rc != CHASE_EFORMAT && rc != CHASE_ENOTSUP) || !err.msg[0] || strlen(err.msg) >= sizeof err.msg)
            abort();
        return;
    }
    if ((unsigned)q.op >= CHASE_AGENT_OP_N || q.gpu < 0 || q.gpu > CHASE_AGENT_GPU_INDEX_MAX)
        abort();
    if (q.op == CHASE_AGENT_OP_CLAIM) {
        if (q.n_gpus < 1 || q.n_gpus > CHASE_AGENT_CLAIM_MAX)
            abort();
        for (int i = 0; i < q.n_gpus; i++)
            for (int j = 0; j < i; j++)
                if (q.gpus[i] == q.gpus[j] || q.gpus[i] < 0 || q.gpus[i] > CHASE_AGENT_GPU_INDEX_MAX)
                    abort();
    }
    if (q.op == CHASE_AGENT_OP_SET && !(isfinite(q.setting.value) && q.setting.value > 0 && q.setting.value <= 1e6))
        abort();
    /* What the client would send for this request decodes to the same request. */
    char line[CHASE_AGENT_REQUEST_MAX];
    chase_agent_request_t back;
    int n = chase_agent_request_format(&q, line, sizeof line);
    if (n <= 0 || line[n - 1] != '\n' || chase_agent_request_parse(line, (size_t)n - 1, &back, &err) != CHASE_OK ||
        !same(&q, &back))
        abort();
}

static void check_reply(const char *text, size_t size)
{
    cJSON *r = NULL;
    chase_err_t err;
    int rc = chase_agent_reply_parse(text, size, 7, &r, &err);
    if ((rc == CHASE_OK) != (r != NULL))
        abort();
    if (!r)
        return;
    chase_agent_gpu_t g;
    if (chase_agent_gpu_from_json(cJSON_GetObjectItemCaseSensitive(r, "gpu"), &g, &err) == CHASE_OK &&
        (g.info.index < 0 || g.info.index > CHASE_AGENT_GPU_INDEX_MAX || g.holder_uid < -1))
        abort();
    cJSON_Delete(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_request((const char *)data, size);
    check_reply((const char *)data, size);
    return 0;
}
