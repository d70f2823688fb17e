/* The node agent (chased) as a library: its configuration, and the server that owns the GPU settings of a machine
 * for users who may not set them themselves. The daemon's main (src/chased) only parses its options, reads the
 * configuration, opens NVML, and hands them to chase_agent_open / chase_agent_serve.
 *
 * Promises: who may do what is decided from the kernel's word about the client (SO_PEERCRED, SO_PEERGROUPS), never
 * from what the client says; a GPU belongs to at most one session; every GPU a session changed is put back when the
 * session ends, however it ends (release, the connection closed, the client killed); each GPU's original setting is
 * written to the state directory before its first change, so that a restart of a killed agent puts it back. The
 * protocol is docs/agent-protocol.md; what administrators and users see is docs/agent.md. */
#ifndef CHASE_AGENT_H
#define CHASE_AGENT_H

#include <stddef.h>
#include <sys/types.h>

#include "chase/agent_client.h"
#include "chase/error.h"
#include "chase/gpu.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CHASE_AGENT_DEFAULT_CONFIG "/etc/chase/chased.conf"
#define CHASE_AGENT_DEFAULT_STATE_DIR "/var/lib/chase"

/* Hard limits of the configuration. */
#define CHASE_AGENT_CONFIG_MAX_IDS 256 /* entries of allow_users, allow_groups */
#define CHASE_AGENT_CONFIG_MAX_GPUS 256

/* What /etc/chase/chased.conf says (chase_agent_config_load). Numbers the file leaves out are NAN (no limit of
 * chased's own: the GPU's range holds). */
typedef struct chase_agent_config {
    char path[512];                               /* the file read, for messages ("" for defaults) */
    uid_t allow_uids[CHASE_AGENT_CONFIG_MAX_IDS]; /* allow_users, names resolved */
    size_t n_allow_uids;
    gid_t allow_gids[CHASE_AGENT_CONFIG_MAX_IDS]; /* allow_groups, names resolved */
    size_t n_allow_gids;
    int all_gpus;                          /* gpus = all (the default) */
    int gpus[CHASE_AGENT_CONFIG_MAX_GPUS]; /* else these NVML indices */
    size_t n_gpus;
    int gpus_line;                   /* where gpus was set (0: not set), for errors found at open */
    double min_power_w, max_power_w; /* the range users may set, inside each GPU's own */
    int range_line;                  /* where min_power_w or max_power_w was set last */
    int require_device_access;       /* a claim must carry descriptors of the GPUs' device files */
    char dev_dir[201];               /* where the device files are (/dev) */
    int dev_dir_line;
    int max_clients;          /* connections at once (default 128) */
    int max_clients_per_user; /* connections of one uid at once (default 32) */
} chase_agent_config_t;

/* Sets the defaults: nobody but root may set, all GPUs, their own range, no device proof, /dev. */
void chase_agent_config_init(chase_agent_config_t *c);

/* Reads the configuration file at path into c (defaults first). A missing file is CHASE_ENOTFOUND; an unknown key,
 * a key given twice, a bad value or an unknown user or group name is CHASE_EFORMAT with err "path:line: ...". */
int chase_agent_config_load(const char *path, chase_agent_config_t *c, chase_err_t *err);

/* The same for text already in memory; name stands for the file in messages. */
int chase_agent_config_parse(const char *text, size_t len, const char *name, chase_agent_config_t *c, chase_err_t *err);

/* How loud a log line is. */
typedef enum chase_agent_log_level {
    CHASE_AGENT_INFO = 0,    /* sessions opened and ended, the agent started and stopped */
    CHASE_AGENT_WARNING = 1, /* refused requests, dropped clients, GPUs put back after a crash */
    CHASE_AGENT_ERROR = 2    /* a GPU that could not be put back */
} chase_agent_log_level_t;

typedef struct chase_agent_opts {
    const chase_agent_config_t *config; /* required (kept by reference) */
    chase_gpu_t *gpu;                   /* the machine's GPUs (NVML), borrowed; required */
    const char *socket_path;            /* NULL: CHASE_AGENT_DEFAULT_SOCKET */
    const char *state_dir;              /* NULL: CHASE_AGENT_DEFAULT_STATE_DIR */
    /* Every log line, without a prefix; may be NULL. */
    void (*on_log)(void *arg, chase_agent_log_level_t level, const char *msg);
    void *log_arg;
} chase_agent_opts_t;

typedef struct chase_agent chase_agent_t;

/* Checks the configuration against the GPUs (an index NVML does not have, or a range no GPU allows, is
 * CHASE_EFORMAT naming the file and line), takes the state directory (CHASE_ESTATE when another agent holds it),
 * puts back every GPU a killed agent left changed (its journal in the state directory), and listens on the socket
 * (CHASE_ESTATE when a live agent answers there; a stale socket file is replaced). */
int chase_agent_open(const chase_agent_opts_t *opts, chase_agent_t **out, chase_err_t *err);

/* Serves clients until stop_fd becomes readable (the daemon's signalfd; -1: never). One thread, non-blocking
 * sockets: a client that is idle, slow or misbehaving never delays another. */
int chase_agent_serve(chase_agent_t *a, int stop_fd, chase_err_t *err);

/* Number of sessions open and connections now (for tests and logs). */
size_t chase_agent_sessions(const chase_agent_t *a);
size_t chase_agent_clients(const chase_agent_t *a);

/* Ends every session (their GPUs put back), closes every connection, removes the socket and frees a (NULL is
 * fine). */
void chase_agent_free(chase_agent_t *a);

#ifdef __cplusplus
}
#endif
#endif
