/* The progress channel between a training job and `chase run` (protocol: docs/progress-protocol.md).
 *
 * chase owns a Unix datagram socket in a private directory and passes its address to the job in the environment
 * variable CHASE_PROGRESS ("unix:/path"). Each rank of the job sends small text datagrams that carry its cumulative
 * step (and sample) counts: "chase1 step=120 samples=30720 rank=0 pid=4242\n". Because the counts are cumulative, a
 * dropped datagram loses nothing but freshness, so senders can drop instead of blocking. */
#ifndef CHASE_PROGRESS_H
#define CHASE_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#include "chase/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CHASE_PROGRESS_ENV "CHASE_PROGRESS"
#define CHASE_PROGRESS_MAX_MSG 256    /* longest valid datagram, bytes */
#define CHASE_PROGRESS_MAX_RANKS 4096 /* distinct senders tracked; more are counted as malformed */
#define CHASE_PROGRESS_FLUSH_PATIENCE_S 3.0 /* how long a final flush waits for a busy chase */

/* ---- receiving side (chase) ---- */

/* One parsed message. Absent optional fields are -1. */
typedef struct chase_progress_msg {
    int64_t step;    /* cumulative steps of the sender (required) */
    int64_t samples; /* cumulative samples of the sender */
    int64_t rank;
    int64_t pid;
} chase_progress_msg_t;

/* What the job reported so far. */
typedef struct chase_progress_stats {
    double steps;       /* the job's steps: the most any rank has reported (ranks step together) */
    double samples;     /* samples summed over ranks; 0 when no rank reports samples */
    uint64_t messages;  /* valid messages received */
    uint64_t malformed; /* datagrams rejected (counted, otherwise ignored) */
    int ranks;          /* distinct ranks (or pids, for senders without a rank) seen */
    double last_report; /* wall-clock time (UTC s) of the last valid message, NAN before any */
} chase_progress_stats_t;

typedef struct chase_progress chase_progress_t;

/* Validates one datagram; CHASE_EFORMAT (err says why) when it is not a valid message. */
int chase_progress_parse(const char *data, size_t len, chase_progress_msg_t *out, chase_err_t *err);

/* Creates the socket in a new private (0700) directory under dir; dir NULL: $XDG_RUNTIME_DIR, else $TMPDIR,
 * else /tmp. */
int chase_progress_open(const char *dir, chase_progress_t **out, chase_err_t *err);

/* The address to hand to the job in CHASE_PROGRESS ("unix:/path"). */
const char *chase_progress_address(const chase_progress_t *p);

/* The socket's file descriptor, for poll(); readable when datagrams wait. */
int chase_progress_fd(const chase_progress_t *p);

/* Reads every waiting datagram without blocking and folds the valid ones into the stats; now is the wall clock
 * stamped on them. Returns the number of valid messages read, or a negative code on a socket failure. */
int chase_progress_drain(chase_progress_t *p, double now, chase_err_t *err);

/* Folds one message (already parsed) into the stats, as drain does; for tests and other transports. */
void chase_progress_record(chase_progress_t *p, const chase_progress_msg_t *msg, double now);

void chase_progress_stats(const chase_progress_t *p, chase_progress_stats_t *out);

/* Closes the socket and removes it and its directory (NULL is fine). */
void chase_progress_close(chase_progress_t *p);

/* ---- sending side (C/C++ training code; link with libchase) ---- */

typedef struct chase_progress_client chase_progress_client_t;

/* Connects to address ("unix:/path"; NULL: $CHASE_PROGRESS). rank < 0 reads $RANK (absent: no rank sent).
 * interval_s is the least time between two datagrams (steps in between are counted and sent together);
 * interval_s < 0 reads $CHASE_PROGRESS_INTERVAL, else 0.1 s. CHASE_ENOTFOUND (and *out NULL) when no address is set:
 * the job is not running under chase, and every client call below accepts NULL as a no-op. */
int chase_progress_client_open(const char *address, int rank, double interval_s, chase_progress_client_t **out,
                               chase_err_t *err);

/* Counts one step of samples samples (0: unknown) and sends the totals when interval_s has passed since the last
 * datagram. Never blocks; a datagram that cannot be sent (chase gone, queue full) is dropped. */
void chase_progress_client_step(chase_progress_client_t *c, uint64_t samples);

/* Sends the totals not yet sent. When chase's queue is full (chase busy) it retries for up to
 * CHASE_PROGRESS_FLUSH_PATIENCE_S, so the last totals of a job are not lost; when chase is gone it returns at
 * once. */
void chase_progress_client_flush(chase_progress_client_t *c);

/* Datagrams the client had to drop (chase gone or busy). */
uint64_t chase_progress_client_dropped(const chase_progress_client_t *c);

/* Flushes, then frees c (NULL is fine). */
void chase_progress_client_close(chase_progress_client_t *c);

#ifdef __cplusplus
}
#endif
#endif
