/* The one table of signal sources: each row says what a source is called, how its spec reads, which keys and
 * environment variables hold its credentials, and how to open it. The spec reader, `chase signal --help`,
 * chase_provider_known, the spec redaction and the list of credential variables all read this table; nothing else
 * names a source. Private to src/signal. */
#ifndef CHASE_SIGNAL_REGISTRY_H
#define CHASE_SIGNAL_REGISTRY_H

#include "chase/signal.h"
#include "signal/keys.h"

/* How a source is being opened. */
typedef struct chase_source_ctx {
    const chase_signal_open_opts_t *opts; /* never NULL */
    double wait_s;                        /* live: how long a query waits for its fetch (< 0: until it ends) */
    int prefetch;                         /* live: start fetching the history at once */
} chase_source_ctx_t;

/* Opens a source from its spec items (already checked against the row's keys). */
typedef int (*chase_source_open_fn)(chase_keys_t *k, const chase_source_ctx_t *ctx, chase_signal_t **out,
                                    chase_err_t *err);

typedef struct chase_source_row {
    chase_signal_source_t info;
    const char *lead;               /* what the first item is when taken whole ("FILE"), or NULL: all key=value */
    const char *keys;               /* the keys the source reads, comma-separated, as shown in messages */
    const char *const *secret_keys; /* keys whose values are credentials, NULL-terminated */
    chase_source_open_fn open;
} chase_source_row_t;

/* The row named name, or NULL. */
const chase_source_row_t *chase_source_find(const char *name);

/* Reads args (the spec after "NAME:", may be NULL) with the one key reader, refuses keys the row does not list
 * (before anything is opened), and opens the source. */
int chase_source_open(const chase_source_row_t *row, const char *args, const chase_source_ctx_t *ctx,
                      chase_signal_t **out, chase_err_t *err);

/* 1 when a spec key may hold a credential: a row's secret key, or a name like token, password, secret, api_key. */
int chase_source_secret_key(const char *key);

/* The openers of the rows, each in its source's own file. */
int chase_source_trace_open(chase_keys_t *k, const chase_source_ctx_t *ctx, chase_signal_t **out, chase_err_t *err);
int chase_source_static_open(chase_keys_t *k, const chase_source_ctx_t *ctx, chase_signal_t **out, chase_err_t *err);
int chase_provider_electricitymaps_open(chase_keys_t *k, const chase_source_ctx_t *ctx, chase_signal_t **out,
                                        chase_err_t *err);
int chase_provider_watttime_open(chase_keys_t *k, const chase_source_ctx_t *ctx, chase_signal_t **out,
                                 chase_err_t *err);
int chase_provider_ukci_open(chase_keys_t *k, const chase_source_ctx_t *ctx, chase_signal_t **out, chase_err_t *err);

#endif
