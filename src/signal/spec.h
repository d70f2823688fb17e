/* Private to src/signal: the provider table behind chase_signal_open and the key=value reader its providers share.
 * A live provider adds one row to the table in signal_spec.c and parses its arguments with chase_spec_next. */
#ifndef CHASE_SIGNAL_SPEC_H
#define CHASE_SIGNAL_SPEC_H

#include <stddef.h>

#include "chase/signal.h"

/* Opens a provider from the text after "NAME:" (args, never NULL). */
typedef int (*chase_provider_open_fn)(const char *args, const chase_signal_open_opts_t *opts, chase_signal_t **out,
                                      chase_err_t *err);

typedef struct chase_provider {
    const char *name;  /* the spec prefix, e.g. "trace" */
    const char *usage; /* one line for messages and --help */
    chase_provider_open_fn open;
} chase_provider_t;

/* The providers built in, ending with a row whose name is NULL. */
const chase_provider_t *chase_signal_providers(void);

/* Reads the next "key=value" of a comma-separated list at *p into key and value and advances *p.
 * Returns 1 when a pair was read, 0 at the end of the list, or CHASE_EINVAL (naming provider and the item) for an
 * item without '=', an empty key or value, or one too long for the buffers. Blanks around keys and values are
 * dropped. */
int chase_spec_next(const char **p, const char *provider, char *key, size_t key_size, char *value, size_t value_size,
                    chase_err_t *err);

/* The error for a key the provider does not know; known is the list to show, e.g. "start, speed, column". */
int chase_spec_unknown_key(const char *provider, const char *key, const char *known, chase_err_t *err);

#endif
