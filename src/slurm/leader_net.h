/* The leader's side of a step's one decision per period: a thread that listens for the step's followers on a TCP
 * port, admits only those whose munge-sealed hello names this job, this step and a follower's node id (wire.h),
 * and sends each of them every decision (the setting the leader's GPUs were just set to), a mark at each moment
 * the leader reads its energy (each follower answers with its own energy and setting), pings so that a follower
 * can tell a lost leader from a quiet one, and, at the end, the word to put its GPUs back.
 *
 * Nothing a follower sends is trusted beyond being a follower of this step: its numbers go to the report only. */
#ifndef CHASE_SLURM_LEADER_NET_H
#define CHASE_SLURM_LEADER_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "chase/error.h"

typedef struct chase_slurm_net_opts {
    const char *munge_socket; /* NULL: munge's default */
    uint32_t job, step;
    int n_nodes;    /* followers are nodes 1 .. n_nodes - 1 */
    uid_t peer_uid; /* who the followers run as */
    int port_lo, port_hi;
    double period_s; /* the control period: pings and the followers' patience follow from it */
    /* Called from the network thread, once per kind of trouble; may be NULL. */
    void (*on_warning)(void *arg, const char *msg);
    void *arg;
} chase_slurm_net_opts_t;

/* One answer of a follower to a mark: its counters at that moment (energy and setting-seconds since it started). */
typedef struct chase_slurm_sample {
    int mark;
    double t; /* the follower's monotonic clock when it read them (s) */
    double energy_j, setting_s, steps;
} chase_slurm_sample_t;

/* What a follower told the leader. */
typedef struct chase_slurm_peer {
    int joined;     /* its hello was accepted */
    int connected;  /* and its connection is still open */
    char name[256]; /* its Slurm node name */
    cJSON *gpus;    /* its GPUs, as it described them (NULL before hello) */
    chase_slurm_sample_t *samples;
    size_t n_samples, cap;
    cJSON *final; /* its last message (restored, exit status, ...), NULL when none came */
} chase_slurm_peer_t;

typedef struct chase_slurm_net chase_slurm_net_t;

/* The k-th TCP port (k from 0) a step's leader tries, and its followers with it, within [lo, hi]. */
int chase_slurm_port(uint32_t job, uint32_t step, int lo, int hi, int k);

/* How many ports of [lo, hi] a leader tries. */
int chase_slurm_port_tries(int lo, int hi);

/* How often the leader pings, and how long a follower waits without a word before it stops trusting the last
 * decision, for a control period of period_s. */
double chase_slurm_ping_s(double period_s);
double chase_slurm_lost_after_s(double period_s);

/* Binds a port of the range and starts the thread; *port is the one bound. CHASE_EIO when no port of the range is
 * free. */
int chase_slurm_net_start(const chase_slurm_net_opts_t *o, chase_slurm_net_t **out, int *port, chase_err_t *err);

/* Followers that connect are held until the leader has opened everything: then chase_slurm_net_open greets them
 * (and those that come later), or chase_slurm_net_refuse tells them the step is refused and why, so that every
 * node refuses it before any task starts. */
void chase_slurm_net_open(chase_slurm_net_t *n);
void chase_slurm_net_refuse(chase_slurm_net_t *n, const char *why);

/* Waits until every follower has joined, or timeout_s passed. */
void chase_slurm_net_wait_joined(chase_slurm_net_t *n, double timeout_s);

/* A decision: the leader's GPUs were set to value. Never blocks. */
void chase_slurm_net_set(chase_slurm_net_t *n, double value);

/* A mark at wall-clock time t (UTC s): the leader read its energy. Never blocks. */
void chase_slurm_net_mark(chase_slurm_net_t *n, double t);

/* The leader's control is over: followers put their GPUs back and follow no more. */
void chase_slurm_net_end(chase_slurm_net_t *n);

/* Waits until every follower that joined has sent its last message, or timeout_s passed. */
void chase_slurm_net_wait_finals(chase_slurm_net_t *n, double timeout_s);

/* Stops the thread (after sending what is queued, for at most a second) and closes every connection. */
void chase_slurm_net_stop(chase_slurm_net_t *n);

/* After chase_slurm_net_stop: follower node (1 .. n_nodes - 1), and the marks' times by id. */
const chase_slurm_peer_t *chase_slurm_net_peer(const chase_slurm_net_t *n, int node);
const double *chase_slurm_net_marks(const chase_slurm_net_t *n, size_t *count);

/* Connections refused: not munge-sealed by the right user, another step's, or silent past their time. */
unsigned chase_slurm_net_refused(const chase_slurm_net_t *n);

/* Stops (if needed) and frees n (NULL is fine). */
void chase_slurm_net_free(chase_slurm_net_t *n);

#endif
