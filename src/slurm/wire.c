/* Munge-sealed JSON lines between a step's helpers (see wire.h). */
#include "slurm/wire.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <munge.h>

struct chase_slurm_wire {
    munge_ctx_t enc, dec;
    uint32_t job, step;
    int node;
    uid_t peer_uid;
};

int chase_slurm_wire_open(const char *munge_socket, uint32_t job, uint32_t step, int node_id, uid_t peer_uid,
                          chase_slurm_wire_t **out, chase_err_t *err)
{
    *out = NULL;
    chase_slurm_wire_t *w = calloc(1, sizeof *w);
    if (!w || !(w->enc = munge_ctx_create()) || !(w->dec = munge_ctx_create())) {
        chase_slurm_wire_free(w);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    w->job = job;
    w->step = step;
    w->node = node_id;
    w->peer_uid = peer_uid;
    munge_err_t e = EMUNGE_SUCCESS;
    if (munge_socket && (e = munge_ctx_set(w->enc, MUNGE_OPT_SOCKET, munge_socket)) == EMUNGE_SUCCESS)
        e = munge_ctx_set(w->dec, MUNGE_OPT_SOCKET, munge_socket);
    /* Only the peer's user may open what this node sends. */
    if (e == EMUNGE_SUCCESS)
        e = munge_ctx_set(w->enc, MUNGE_OPT_UID_RESTRICTION, peer_uid);
    if (e != EMUNGE_SUCCESS) {
        chase_err_set(err, CHASE_EINVAL, "munge: %s", munge_strerror(e));
        chase_slurm_wire_free(w);
        return CHASE_EINVAL;
    }
    *out = w;
    return CHASE_OK;
}

void chase_slurm_wire_free(chase_slurm_wire_t *w)
{
    if (!w)
        return;
    if (w->enc)
        munge_ctx_destroy(w->enc);
    if (w->dec)
        munge_ctx_destroy(w->dec);
    free(w);
}

int chase_slurm_wire_encode(chase_slurm_wire_t *w, const char *type, int to, cJSON *msg, char **line, chase_err_t *err)
{
    *line = NULL;
    cJSON_DeleteItemFromObject(msg, "v");
    cJSON_AddNumberToObject(msg, "v", CHASE_SLURM_WIRE_VERSION);
    cJSON_AddNumberToObject(msg, "job", w->job);
    cJSON_AddNumberToObject(msg, "step", w->step);
    cJSON_AddNumberToObject(msg, "from", w->node);
    cJSON_AddNumberToObject(msg, "to", to);
    cJSON_AddStringToObject(msg, "type", type);
    char *text = cJSON_PrintUnformatted(msg);
    if (!text)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    char *cred = NULL;
    munge_err_t e = munge_encode(&cred, w->enc, text, (int)strlen(text));
    free(text);
    if (e != EMUNGE_SUCCESS) {
        free(cred);
        return chase_err_set(err, CHASE_EAUTH, "munge: cannot seal a message: %s", munge_ctx_strerror(w->enc));
    }
    size_t n = strlen(cred);
    if (n + 2 > CHASE_SLURM_WIRE_MAX_LINE) {
        free(cred);
        return chase_err_set(err, CHASE_ERANGE, "message too long for the wire (%zu bytes)", n);
    }
    *line = malloc(n + 2);
    if (!*line) {
        free(cred);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    memcpy(*line, cred, n);
    (*line)[n] = '\n';
    (*line)[n + 1] = '\0';
    free(cred);
    return CHASE_OK;
}

/* A whole number in [lo, hi] from obj[key]; -1 when absent or not one. */
static int whole(const cJSON *obj, const char *key, double lo, double hi, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return -1;
    *out = v->valuedouble;
    return 0;
}

int chase_slurm_wire_decode(chase_slurm_wire_t *w, const char *line, cJSON **msg, const char **type, int *from,
                            chase_err_t *err)
{
    *msg = NULL;
    void *buf = NULL;
    int len = 0;
    uid_t uid;
    gid_t gid;
    munge_err_t e = munge_decode(line, w->dec, &buf, &len, &uid, &gid);
    if (e != EMUNGE_SUCCESS) {
        free(buf);
        return chase_err_set(err, CHASE_EAUTH, "munge refused a message: %s", munge_ctx_strerror(w->dec));
    }
    if (uid != w->peer_uid) {
        free(buf);
        return chase_err_set(err, CHASE_EAUTH, "a message sealed by uid %u, not %u", (unsigned)uid,
                             (unsigned)w->peer_uid);
    }
    cJSON *o = buf && len > 0 ? cJSON_ParseWithLength(buf, (size_t)len) : NULL;
    free(buf);
    double v, job, step, f, to;
    const cJSON *t = o ? cJSON_GetObjectItemCaseSensitive(o, "type") : NULL;
    if (!cJSON_IsObject(o) || whole(o, "v", 0, 1e9, &v) || v != CHASE_SLURM_WIRE_VERSION ||
        whole(o, "job", 0, 4294967295.0, &job) || whole(o, "step", 0, 4294967295.0, &step) ||
        whole(o, "from", 0, 1e6, &f) || whole(o, "to", 0, 1e6, &to) || !cJSON_IsString(t)) {
        cJSON_Delete(o);
        return chase_err_set(err, CHASE_EFORMAT, "a message that is not a chase step message of version %d",
                             CHASE_SLURM_WIRE_VERSION);
    }
    if ((uint32_t)job != w->job || (uint32_t)step != w->step || (int)to != w->node || (int)f == w->node) {
        cJSON_Delete(o);
        return chase_err_set(err, CHASE_EFORMAT, "a message for step %.0f.%.0f node %.0f, not %u.%u node %d", job, step,
                             to, w->job, w->step, w->node);
    }
    *msg = o;
    *type = t->valuestring;
    *from = (int)f;
    return CHASE_OK;
}

int chase_slurm_wire_flush(int fd, char *buf, size_t *n)
{
    while (*n) {
        ssize_t w = send(fd, buf, *n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (w <= 0)
            return -1;
        memmove(buf, buf + w, *n - (size_t)w);
        *n -= (size_t)w;
    }
    return 0;
}
