/* The GPU backend "agent" (chase/agent_client.h): every call is one request to chased and its reply, on one
 * connection that lives as long as the backend. The connection is close-on-exec, so that the training command chase
 * run starts does not inherit it: when chase run dies, the kernel closes it, and chased ends the session and puts
 * the GPUs back at once, whatever the training command does. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gpu/agent_proto.h"
#include "chase/agent_client.h"

#define REPLY_TIMEOUT_MS 30000 /* chased answers at once; restoring GPUs takes it at most a fraction of a second */

typedef struct agent_client {
    int fd;
    char path[108];
    long long next_id;
    int require_device_access;
    int n;
    chase_agent_gpu_t *gpus; /* as described when the backend opened (device files, ranges) */
    char *buf;               /* bytes read past the last reply */
    size_t len;
} agent_client_t;

static int lost(agent_client_t *ac, const char *what, chase_err_t *err)
{
    return chase_err_set(err, CHASE_EIO,
                         "the node agent at %s %s (chased stopped or restarted?); it puts back what it changed for "
                         "this run itself",
                         ac->path, what);
}

static int send_all(agent_client_t *ac, const char *line, size_t len, const int *fds, int n_fds, chase_err_t *err)
{
    size_t off = 0;
    while (off < len) {
        struct iovec iov = {(char *)line + off, len - off};
        union {
            char buf[CMSG_SPACE(sizeof(int) * CHASE_AGENT_CLAIM_MAX)];
            struct cmsghdr align;
        } control;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (off == 0 && n_fds > 0) {
            /* The descriptors travel with the request's first byte. */
            mh.msg_control = control.buf;
            mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n_fds);
            struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n_fds);
            memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n_fds);
        }
        ssize_t n = sendmsg(ac->fd, &mh, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return lost(ac, "closed the connection", err);
        off += (size_t)n;
    }
    return CHASE_OK;
}

/* Reads up to the next '\n'; *line is the reply without it (valid until the next call), *len its length. */
static int read_line(agent_client_t *ac, char **line, size_t *len, chase_err_t *err)
{
    size_t scanned = 0;
    for (;;) {
        char *nl = memchr(ac->buf + scanned, '\n', ac->len - scanned);
        if (nl) {
            *nl = '\0';
            *line = ac->buf;
            *len = (size_t)(nl - ac->buf);
            return CHASE_OK;
        }
        scanned = ac->len;
        if (ac->len >= CHASE_AGENT_REPLY_MAX)
            return chase_err_set(err, CHASE_EFORMAT, "the node agent's reply is longer than %d bytes",
                                 CHASE_AGENT_REPLY_MAX);
        struct pollfd p = {ac->fd, POLLIN, 0};
        int pr = poll(&p, 1, REPLY_TIMEOUT_MS);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            return chase_err_set(err, CHASE_ETIMEOUT, "the node agent at %s did not answer within %d s", ac->path,
                                 REPLY_TIMEOUT_MS / 1000);
        ssize_t n = recv(ac->fd, ac->buf + ac->len, CHASE_AGENT_REPLY_MAX - ac->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return lost(ac, "closed the connection", err);
        ac->len += (size_t)n;
    }
}

/* Sends request q (with descriptors fds, for a claim) and reads its reply into *reply (the caller frees it). An
 * error the agent answers keeps its code, its message prefixed with "chased: ". */
static int call(agent_client_t *ac, chase_agent_request_t *q, const int *fds, int n_fds, cJSON **reply,
                chase_err_t *err)
{
    *reply = NULL;
    char out[CHASE_AGENT_REQUEST_MAX];
    q->id = ac->next_id++;
    int len = chase_agent_request_format(q, out, sizeof out);
    if (len < 0)
        return chase_err_set(err, CHASE_EINVAL, "request too long for the node agent");
    int rc = send_all(ac, out, (size_t)len, fds, n_fds, err);
    char *line = NULL;
    size_t n = 0;
    if (rc != CHASE_OK || (rc = read_line(ac, &line, &n, err)) != CHASE_OK)
        return rc;
    chase_err_t e;
    chase_err_clear(&e);
    rc = chase_agent_reply_parse(line, n, q->id, reply, &e);
    ac->len -= n + 1;
    memmove(ac->buf, ac->buf + n + 1, ac->len);
    if (rc != CHASE_OK)
        return chase_err_set(err, rc, "chased: %s", e.msg);
    return CHASE_OK;
}

static int check_index(const agent_client_t *ac, int idx, chase_err_t *err)
{
    if (idx < 0 || idx >= ac->n)
        return chase_err_set(err, CHASE_ENOTFOUND, "no GPU %d: the node agent reports %d GPU%s (indices 0..%d)", idx,
                             ac->n, ac->n == 1 ? "" : "s", ac->n - 1);
    return CHASE_OK;
}

static int agent_count(void *self, int *n, chase_err_t *err)
{
    (void)err;
    *n = ((agent_client_t *)self)->n;
    return CHASE_OK;
}

/* GPU idx as the agent describes it now. */
static int describe(agent_client_t *ac, int idx, chase_agent_gpu_t *g, chase_err_t *err)
{
    int rc = check_index(ac, idx, err);
    if (rc != CHASE_OK)
        return rc;
    chase_agent_request_t q = {.op = CHASE_AGENT_OP_INFO, .gpu = idx};
    cJSON *r;
    if ((rc = call(ac, &q, NULL, 0, &r, err)) != CHASE_OK)
        return rc;
    rc = chase_agent_gpu_from_json(cJSON_GetObjectItemCaseSensitive(r, "gpu"), g, err);
    cJSON_Delete(r);
    return rc;
}

static int agent_info(void *self, int idx, chase_gpu_info_t *out, chase_err_t *err)
{
    chase_agent_gpu_t g;
    int rc = describe(self, idx, &g, err);
    if (rc == CHASE_OK)
        *out = g.info;
    return rc;
}

static int agent_get(void *self, int idx, chase_knob_t knob, chase_setting_range_t *out, chase_err_t *err)
{
    *out = (chase_setting_range_t){NAN, NAN, NAN, NAN};
    if (knob != CHASE_KNOB_POWER_LIMIT)
        return chase_err_set(err, CHASE_ENOTSUP, "the node agent sets only power limits, not the %s",
                             chase_knob_name(knob));
    chase_agent_gpu_t g;
    int rc = describe(self, idx, &g, err);
    if (rc == CHASE_OK)
        *out = (chase_setting_range_t){g.info.pl_w, g.info.default_pl_w, g.info.min_pl_w, g.info.max_pl_w};
    return rc;
}

static int agent_set(void *self, int idx, const chase_setting_t *s, chase_err_t *err)
{
    agent_client_t *ac = self;
    int rc = check_index(ac, idx, err);
    if (rc != CHASE_OK)
        return rc;
    chase_agent_request_t q = {.op = CHASE_AGENT_OP_SET, .gpu = idx, .setting = *s};
    cJSON *r;
    rc = call(ac, &q, NULL, 0, &r, err);
    cJSON_Delete(r);
    return rc;
}

static int agent_energy(void *self, int idx, double *joules, chase_err_t *err)
{
    agent_client_t *ac = self;
    int rc = check_index(ac, idx, err);
    if (rc != CHASE_OK)
        return rc;
    chase_agent_request_t q = {.op = CHASE_AGENT_OP_ENERGY, .gpu = idx};
    cJSON *r;
    if ((rc = call(ac, &q, NULL, 0, &r, err)) != CHASE_OK)
        return rc;
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(r, "energy_j");
    if (cJSON_IsNumber(j) && isfinite(j->valuedouble))
        *joules = j->valuedouble;
    else
        rc = chase_err_set(err, CHASE_EFORMAT, "the node agent's energy reply has no \"energy_j\"");
    cJSON_Delete(r);
    return rc;
}

/* Opens each GPU's device file: the proof, for an agent that asks for it, that this process may use the GPU. */
static int open_devices(agent_client_t *ac, const int *idx, int n, int *fds, chase_err_t *err)
{
    for (int i = 0; i < n; i++) {
        const char *path = ac->gpus[idx[i]].device;
        fds[i] = path[0] ? open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC) : -1;
        if (fds[i] < 0) {
            int e = errno;
            for (int k = 0; k < i; k++)
                close(fds[k]);
            if (!path[0])
                return chase_err_set(err, CHASE_EINVAL, "the node agent did not say which device file is GPU %d's",
                                     idx[i]);
            return chase_err_set(err, CHASE_EINVAL,
                                 "GPU %d: cannot open its device file %s (%s): the node agent lets a process set "
                                 "only GPUs it may use; name your job's GPUs with --gpus",
                                 idx[i], path, strerror(e));
        }
    }
    return CHASE_OK;
}

static int agent_claim(void *self, const int *idx, int n, chase_err_t *err)
{
    agent_client_t *ac = self;
    int rc;
    if (n < 1 || n > CHASE_AGENT_CLAIM_MAX)
        return chase_err_set(err, CHASE_EINVAL, "the node agent takes 1 to %d GPUs in one session",
                             CHASE_AGENT_CLAIM_MAX);
    chase_agent_request_t q = {.op = CHASE_AGENT_OP_CLAIM, .n_gpus = n};
    for (int i = 0; i < n; i++) {
        if ((rc = check_index(ac, idx[i], err)) != CHASE_OK)
            return rc;
        q.gpus[i] = idx[i];
    }
    int fds[CHASE_AGENT_CLAIM_MAX], n_fds = 0;
    if (ac->require_device_access) {
        if ((rc = open_devices(ac, idx, n, fds, err)) != CHASE_OK)
            return rc;
        n_fds = n;
    }
    cJSON *r;
    rc = call(ac, &q, fds, n_fds, &r, err);
    for (int i = 0; i < n_fds; i++)
        close(fds[i]);
    cJSON_Delete(r);
    return rc;
}

static void agent_destroy(void *self)
{
    agent_client_t *ac = self;
    if (!ac)
        return;
    if (ac->fd >= 0)
        close(ac->fd);
    free(ac->gpus);
    free(ac->buf);
    free(ac);
}

static const chase_gpu_ops_t agent_ops = {
    .name = "agent",
    .count = agent_count,
    .info = agent_info,
    .get_setting = agent_get,
    .set_setting = agent_set,
    .energy = agent_energy,
    .claim = agent_claim,
    .destroy = agent_destroy,
};

static int connect_to(agent_client_t *ac, const char *path, chase_err_t *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!path[0] || strlen(path) >= sizeof sa.sun_path)
        return chase_err_set(err, CHASE_EINVAL, "node agent socket '%.120s' is empty or longer than %zu bytes", path,
                             sizeof sa.sun_path - 1);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    snprintf(ac->path, sizeof ac->path, "%s", path);
    if ((ac->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return chase_err_set(err, CHASE_EIO, "socket: %s", strerror(errno));
    if (connect(ac->fd, (struct sockaddr *)&sa, sizeof sa) == 0)
        return CHASE_OK;
    int e = errno;
    if (e == ENOENT || e == ECONNREFUSED || e == ENOTSOCK)
        return chase_err_set(err, CHASE_ENOTFOUND,
                             "no node agent answers at %s (%s): start chased (systemctl start chased), or name "
                             "another socket with --agent / CHASE_AGENT (CHASE_AGENT=none: use NVML directly)",
                             path, strerror(e));
    return chase_err_set(err, e == EACCES ? CHASE_EPERM : CHASE_EIO, "cannot connect to the node agent at %s: %s", path,
                         strerror(e));
}

/* Says hello (the protocol version) and reads the GPUs. */
static int greet(agent_client_t *ac, chase_err_t *err)
{
    chase_agent_request_t q = {.op = CHASE_AGENT_OP_HELLO};
    cJSON *r;
    int rc = call(ac, &q, NULL, 0, &r, err);
    if (rc != CHASE_OK)
        return rc;
    ac->require_device_access = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "require_device_access"));
    cJSON_Delete(r);
    q = (chase_agent_request_t){.op = CHASE_AGENT_OP_DEVICES};
    if ((rc = call(ac, &q, NULL, 0, &r, err)) != CHASE_OK)
        return rc;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(r, "gpus");
    int n = cJSON_GetArraySize(arr);
    if (!cJSON_IsArray(arr) || n > CHASE_AGENT_GPU_INDEX_MAX + 1) {
        cJSON_Delete(r);
        return chase_err_set(err, CHASE_EFORMAT, "the node agent's device list is not one this chase reads");
    }
    if (!(ac->gpus = calloc(n > 0 ? (size_t)n : 1, sizeof *ac->gpus))) {
        cJSON_Delete(r);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    ac->n = n;
    int i = 0;
    for (const cJSON *o = arr->child; o; o = o->next, i++) {
        /* A GPU the agent could not read now keeps its place (index) and no device file; its calls will say why. */
        if (chase_agent_gpu_from_json(o, &ac->gpus[i], NULL) != CHASE_OK)
            ac->gpus[i].info.index = i;
    }
    cJSON_Delete(r);
    return CHASE_OK;
}

int chase_gpu_agent_open(const char *socket_path, chase_gpu_t **out, chase_err_t *err)
{
    *out = NULL;
    agent_client_t *ac = calloc(1, sizeof *ac);
    chase_gpu_t *g = calloc(1, sizeof *g);
    if (ac) {
        ac->fd = -1;
        ac->buf = malloc(CHASE_AGENT_REPLY_MAX);
    }
    if (!ac || !g || !ac->buf) {
        agent_destroy(ac);
        free(g);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    int rc = connect_to(ac, socket_path ? socket_path : CHASE_AGENT_DEFAULT_SOCKET, err);
    if (rc == CHASE_OK)
        rc = greet(ac, err);
    if (rc != CHASE_OK) {
        agent_destroy(ac);
        free(g);
        return rc;
    }
    g->ops = &agent_ops;
    g->self = ac;
    *out = g;
    return CHASE_OK;
}
