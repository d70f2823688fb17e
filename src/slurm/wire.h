/* The messages between a step's helpers on different nodes (leader and followers): one JSON object per line, sealed
 * in a munge credential. munge (Slurm's own authentication) proves that a message comes from the expected user
 * (root, or the job's user when the node agent sets the GPUs) on a host sharing the cluster's key, that it is recent
 * (its time to live) and unchanged, and it refuses a credential decoded twice on one host. Each message also names
 * its job, step, sender and receiver, so a credential cannot be reused for another step or node.
 *
 * Not thread-safe: one wire per thread. */
#ifndef CHASE_SLURM_WIRE_H
#define CHASE_SLURM_WIRE_H

#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "chase/error.h"

#define CHASE_SLURM_WIRE_VERSION 1
#define CHASE_SLURM_WIRE_MAX_LINE 65536 /* a longer line is a broken or hostile peer */

typedef struct chase_slurm_wire chase_slurm_wire_t;

/* Opens a wire for job.step: messages are sent as node_id, decodable only by peer_uid, and accepted only from
 * peer_uid. munge_socket NULL: munge's default. */
int chase_slurm_wire_open(const char *munge_socket, uint32_t job, uint32_t step, int node_id, uid_t peer_uid,
                          chase_slurm_wire_t **out, chase_err_t *err);
void chase_slurm_wire_free(chase_slurm_wire_t *w);

/* Seals msg (a JSON object; the wire adds v, job, step, from, to and type) for node to: *line is "CRED\n",
 * malloc'ed. */
int chase_slurm_wire_encode(chase_slurm_wire_t *w, const char *type, int to, cJSON *msg, char **line, chase_err_t *err);

/* Opens one line (without its newline): a valid credential from peer_uid carrying a JSON object of this version,
 * job and step, addressed to this node. *msg is the object (free with cJSON_Delete); *type and *from point into
 * it. CHASE_EAUTH for a credential munge refuses or from another user, CHASE_EFORMAT for anything else wrong. */
int chase_slurm_wire_decode(chase_slurm_wire_t *w, const char *line, cJSON **msg, const char **type, int *from,
                            chase_err_t *err);

/* Sends what it can of buf[0 .. *n) on a non-blocking socket without waiting, keeping the rest at the front of
 * buf; -1 when the connection is broken. */
int chase_slurm_wire_flush(int fd, char *buf, size_t *n);

#endif
