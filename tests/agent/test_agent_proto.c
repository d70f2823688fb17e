/* The agent's wire protocol: requests decoded exactly as docs/agent-protocol.md says, every malformed one refused
 * with its reason, and the client's encoding and reply decoding agreeing with the server's. */
#include <math.h>

#include "gpu/agent_proto.h"
#include "check.h"

static chase_agent_request_t q;
static chase_err_t err;

static int parse(const char *line)
{
    chase_err_clear(&err);
    return chase_agent_request_parse(line, strlen(line), &q, &err);
}

static void check_bad(const char *line, int code, const char *words)
{
    int rc = parse(line);
    CHECK(rc == code);
    CHECK(strstr(err.msg, words) != NULL);
    if (rc != code || !strstr(err.msg, words))
        fprintf(stderr, "  for %s  got %d: %s\n", line, rc, err.msg);
}

static void test_requests(void)
{
    CHECK(parse("{\"v\":1,\"op\":\"hello\"}") == CHASE_OK);
    CHECK(q.op == CHASE_AGENT_OP_HELLO && q.id == -1);
    CHECK(parse(" {\"op\":\"devices\",\"id\":7,\"v\":1}\r") == CHASE_OK);
    CHECK(q.op == CHASE_AGENT_OP_DEVICES && q.id == 7);
    CHECK(parse("{\"v\":1,\"id\":9007199254740991,\"op\":\"info\",\"gpu\":3}") == CHASE_OK);
    CHECK(q.op == CHASE_AGENT_OP_INFO && q.gpu == 3 && q.id == 9007199254740991LL);
    CHECK(parse("{\"v\":1,\"op\":\"energy\",\"gpu\":0,\"id\":null}") == CHASE_OK);
    CHECK(q.op == CHASE_AGENT_OP_ENERGY && q.gpu == 0 && q.id == -1);
    CHECK(parse("{\"v\":1,\"op\":\"claim\",\"gpus\":[2,0,1]}") == CHASE_OK);
    CHECK(q.op == CHASE_AGENT_OP_CLAIM && q.n_gpus == 3 && q.gpus[0] == 2 && q.gpus[2] == 1);
    CHECK(parse("{\"v\":1,\"op\":\"set\",\"gpu\":1,\"power_limit_w\":212.5}") == CHASE_OK);
    CHECK(q.op == CHASE_AGENT_OP_SET && q.gpu == 1 && q.setting.knob == CHASE_KNOB_POWER_LIMIT);
    CHECK_NEAR(q.setting.value, 212.5, 0);
    CHECK(parse("{\"v\":1,\"op\":\"release\"}") == CHASE_OK);
    CHECK(q.op == CHASE_AGENT_OP_RELEASE);
}

static void test_malformed(void)
{
    check_bad("", CHASE_EFORMAT, "not JSON");
    check_bad("hello", CHASE_EFORMAT, "not JSON");
    check_bad("[1,2]", CHASE_EFORMAT, "one JSON object");
    check_bad("{\"v\":1,\"op\":\"hello\"} {}", CHASE_EFORMAT, "text after the JSON object");
    check_bad("{\"op\":\"hello\"}", CHASE_EFORMAT, "no protocol version");
    check_bad("{\"v\":\"1\",\"op\":\"hello\"}", CHASE_EFORMAT, "\"v\" must be a whole number");
    check_bad("{\"v\":2,\"op\":\"hello\"}", CHASE_ENOTSUP, "protocol version 2 is not spoken here");
    check_bad("{\"v\":1}", CHASE_EFORMAT, "no \"op\"");
    check_bad("{\"v\":1,\"op\":\"reboot\"}", CHASE_ENOTSUP, "unknown op \"reboot\"");
    check_bad("{\"v\":1,\"op\":\"hello\",\"x\":1}", CHASE_EFORMAT, "unknown field \"x\"");
    check_bad("{\"v\":1,\"op\":\"hello\",\"op\":\"set\"}", CHASE_EFORMAT, "given twice");
    check_bad("{\"v\":1,\"op\":\"hello\",\"gpu\":0}", CHASE_EFORMAT, "does not belong in a \"hello\" request");
    check_bad("{\"v\":1,\"op\":\"info\"}", CHASE_EFORMAT, "needs \"gpu\"");
    check_bad("{\"v\":1,\"op\":\"info\",\"gpu\":-1}", CHASE_EFORMAT, "\"gpu\" must be a GPU index");
    check_bad("{\"v\":1,\"op\":\"info\",\"gpu\":1.5}", CHASE_EFORMAT, "\"gpu\" must be a GPU index");
    check_bad("{\"v\":1,\"op\":\"info\",\"gpu\":4096}", CHASE_EFORMAT, "\"gpu\" must be a GPU index");
    check_bad("{\"v\":1,\"op\":\"set\",\"gpu\":0}", CHASE_EFORMAT, "needs \"power_limit_w\"");
    check_bad("{\"v\":1,\"op\":\"set\",\"gpu\":0,\"power_limit_w\":-5}", CHASE_EFORMAT, "above 0");
    check_bad("{\"v\":1,\"op\":\"set\",\"gpu\":0,\"power_limit_w\":1e999}", CHASE_EFORMAT, "above 0");
    check_bad("{\"v\":1,\"op\":\"set\",\"gpu\":0,\"power_limit_w\":\"250\"}", CHASE_EFORMAT, "above 0");
    check_bad("{\"v\":1,\"op\":\"claim\",\"gpus\":[]}", CHASE_EFORMAT, "is empty");
    check_bad("{\"v\":1,\"op\":\"claim\",\"gpus\":[0,0]}", CHASE_EFORMAT, "names GPU 0 twice");
    check_bad("{\"v\":1,\"op\":\"claim\",\"gpus\":0}", CHASE_EFORMAT, "must be an array");
    check_bad("{\"v\":1,\"op\":\"claim\",\"gpus\":[\"0\"]}", CHASE_EFORMAT, "item 0 is not a GPU index");
    check_bad("{\"v\":1,\"id\":-3,\"op\":\"hello\"}", CHASE_EFORMAT, "\"id\" must be a whole number");
    /* A NUL inside the line, and a line at the size limit. */
    char nul[] = "{\"v\":1,\"op\":\"hello\"}\0";
    chase_err_clear(&err);
    CHECK(chase_agent_request_parse(nul, sizeof nul - 1, &q, &err) == CHASE_EFORMAT);
    CHECK(strstr(err.msg, "NUL") != NULL);
    static char big[CHASE_AGENT_REQUEST_MAX + 10];
    memset(big, ' ', sizeof big);
    CHECK(chase_agent_request_parse(big, CHASE_AGENT_REQUEST_MAX, &q, &err) == CHASE_EFORMAT);
    CHECK(strstr(err.msg, "longer than 4095 bytes") != NULL);
    /* Too many GPUs in one claim. */
    char many[1024];
    int len = snprintf(many, sizeof many, "{\"v\":1,\"op\":\"claim\",\"gpus\":[");
    for (int i = 0; i <= CHASE_AGENT_CLAIM_MAX; i++)
        len += snprintf(many + len, sizeof many - (size_t)len, "%s%d", i ? "," : "", i);
    snprintf(many + len, sizeof many - (size_t)len, "]}");
    check_bad(many, CHASE_EFORMAT, "more than 64 GPUs");
    /* Even a refused request gives back its id, so the error reply can name it. */
    CHECK(parse("{\"v\":1,\"id\":42,\"op\":\"nope\"}") == CHASE_ENOTSUP && q.id == 42);
    /* Deep nesting is just malformed, not a crash. */
    char deep[3000];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = '\0';
    CHECK(parse(deep) == CHASE_EFORMAT);
}

/* What the client encodes, the server decodes to the same request. */
static void test_round_trip(void)
{
    chase_agent_request_t r = {
        .op = CHASE_AGENT_OP_SET, .id = 12, .gpu = 2, .setting = {CHASE_KNOB_POWER_LIMIT, 187.25}};
    char line[CHASE_AGENT_REQUEST_MAX];
    int n = chase_agent_request_format(&r, line, sizeof line);
    CHECK(n > 0 && line[n - 1] == '\n');
    CHECK(chase_agent_request_parse(line, (size_t)n - 1, &q, &err) == CHASE_OK);
    CHECK(q.op == CHASE_AGENT_OP_SET && q.id == 12 && q.gpu == 2);
    CHECK_NEAR(q.setting.value, 187.25, 0);
    r = (chase_agent_request_t){.op = CHASE_AGENT_OP_CLAIM, .id = 0, .n_gpus = 3, .gpus = {4, 1, 7}};
    n = chase_agent_request_format(&r, line, sizeof line);
    CHECK(chase_agent_request_parse(line, (size_t)n - 1, &q, &err) == CHASE_OK);
    CHECK(q.op == CHASE_AGENT_OP_CLAIM && q.n_gpus == 3 && q.gpus[0] == 4 && q.gpus[2] == 7 && q.id == 0);
    char small[8];
    CHECK(chase_agent_request_format(&r, small, sizeof small) == -1);
}

static void test_replies(void)
{
    size_t len;
    cJSON *out;
    char *line = chase_agent_reply_print(chase_agent_reply_error(5, CHASE_ESTATE, "GPU 0 is in use"), &len);
    CHECK(line && line[len - 1] == '\n');
    CHECK(chase_agent_reply_parse(line, len - 1, 5, &out, &err) == CHASE_ESTATE);
    CHECK_STR(err.msg, "GPU 0 is in use");
    CHECK(out == NULL);
    free(line);

    cJSON *r = chase_agent_reply_new(6);
    cJSON_AddNumberToObject(r, "energy_j", 12.5);
    line = chase_agent_reply_print(r, &len);
    CHECK(chase_agent_reply_parse(line, len - 1, 6, &out, &err) == CHASE_OK);
    CHECK_NEAR(cJSON_GetObjectItem(out, "energy_j")->valuedouble, 12.5, 0);
    cJSON_Delete(out);
    /* A reply to another request, or not a reply at all, is refused. */
    CHECK(chase_agent_reply_parse(line, len - 1, 7, &out, &err) == CHASE_EFORMAT && out == NULL);
    free(line);
    CHECK(chase_agent_reply_parse("{\"v\":2,\"ok\":true}", 17, -1, &out, &err) == CHASE_EFORMAT);
    CHECK(chase_agent_reply_parse("nope", 4, -1, &out, &err) == CHASE_EFORMAT);
    /* Every chase code survives the wire; an unknown name reads as an I/O error. */
    int codes[] = {CHASE_EINVAL, CHASE_EPERM, CHASE_ERANGE, CHASE_ESTATE, CHASE_ENOTFOUND, CHASE_EGPU, CHASE_ENOTSUP};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        CHECK(chase_agent_code_parse(chase_agent_code_name(codes[i])) == codes[i]);
    CHECK(chase_agent_code_parse("EWHATEVER") == CHASE_EIO);
}

static void test_gpu_json(void)
{
    chase_agent_gpu_t g = {.gpu_min_w = 100, .gpu_max_w = 300, .managed = 1, .holder_uid = 1000};
    g.info = (chase_gpu_info_t){.index = 1,
                                .pl_w = 250,
                                .default_pl_w = 300,
                                .min_pl_w = 150,
                                .max_pl_w = 280,
                                .power_w = NAN,
                                .energy_j = 1e6};
    snprintf(g.info.name, sizeof g.info.name, "NVIDIA A40");
    snprintf(g.device, sizeof g.device, "/dev/nvidia0");
    cJSON *o = cJSON_CreateObject();
    chase_agent_gpu_to_json(&g, o);
    chase_agent_gpu_t back;
    CHECK(chase_agent_gpu_from_json(o, &back, &err) == CHASE_OK);
    CHECK(back.info.index == 1 && back.managed == 1 && back.holder_uid == 1000);
    CHECK_STR(back.info.name, "NVIDIA A40");
    CHECK_STR(back.device, "/dev/nvidia0");
    CHECK_NEAR(back.info.min_pl_w, 150, 0);
    CHECK_NEAR(back.gpu_max_w, 300, 0);
    CHECK(isnan(back.info.power_w)); /* unknown stays unknown */
    cJSON_DeleteItemFromObject(o, "managed");
    CHECK(chase_agent_gpu_from_json(o, &back, &err) == CHASE_EFORMAT);
    cJSON_Delete(o);
}

int main(void)
{
    RUN(test_requests);
    RUN(test_malformed);
    RUN(test_round_trip);
    RUN(test_replies);
    RUN(test_gpu_json);
    CHECK_DONE();
}
