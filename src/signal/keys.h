/* The one key=value reader of signal specs. Every source (trace, static and the live APIs) reads the items after
 * its "NAME:" with it, so that spelling, blanks, repeats and errors behave the same for all of them. Private to
 * src/signal. */
#ifndef CHASE_SIGNAL_KEYS_H
#define CHASE_SIGNAL_KEYS_H

#include <stddef.h>

#include "chase/signal.h"

#define CHASE_KEYS_MAX 24

/* The items of one source's spec. */
typedef struct chase_keys {
    const char *provider; /* the source's name, for messages */
    const char *lead;     /* the first item taken whole when the source has one (a trace's FILE), else NULL */
    size_t n;
    char *key[CHASE_KEYS_MAX];
    char *value[CHASE_KEYS_MAX];
    char *store;
} chase_keys_t;

/* Splits "a=1,b=2" ("" or NULL gives none). Blanks around keys and values are dropped, empty items skipped.
 * CHASE_EINVAL names provider and the fault: an item without '=', no key, an empty value, a repeated key. */
int chase_keys_parse(const char *provider, const char *text, chase_keys_t *k, chase_err_t *err);

/* Like chase_keys_parse, but the first item is taken whole, '=' and all, as k->lead ("" when text is empty). */
int chase_keys_parse_lead(const char *provider, const char *text, chase_keys_t *k, chase_err_t *err);

/* Frees what chase_keys_parse kept (k may be zeroed). */
void chase_keys_free(chase_keys_t *k);

/* The value of key, or NULL when it is not given. */
const char *chase_keys_get(chase_keys_t *k, const char *key);

/* CHASE_EINVAL naming the first key that is not in known (a comma-separated list such as "zone, lat, lon"). */
int chase_keys_check(const chase_keys_t *k, const char *known, chase_err_t *err);

/* The value of a credential: the environment variable env when set, else key from the spec, with a warning through
 * warn (which may be NULL) that a spec shows in process listings. The warning never repeats the value. NULL when
 * neither is set. */
const char *chase_keys_secret(chase_keys_t *k, const char *key, const char *env, chase_warn_fn warn, void *warn_arg);

/* key as a finite number in [lo, hi] into *out when given (else *out is left alone); CHASE_EINVAL names it. */
int chase_keys_number(chase_keys_t *k, const char *key, double lo, double hi, double *out, chase_err_t *err);

/* key as a duration ("90s", "30m", "2h", "1d") in [lo_s, hi_s] seconds into *out when given. */
int chase_keys_duration(chase_keys_t *k, const char *key, double lo_s, double hi_s, double *out, chase_err_t *err);

/* key as 1/true/yes or 0/false/no into *out when given. */
int chase_keys_bool(chase_keys_t *k, const char *key, int *out, chase_err_t *err);

/* Reads lat= and lon= as a pair: *given is 0 when neither is there; CHASE_EINVAL for one alone or a bad number. */
int chase_keys_latlon(chase_keys_t *k, double *lat, double *lon, int *given, chase_err_t *err);

/* 1 when the len bytes at s look like a pasted credential (16 or more, letters and digits, no blank): such text is
 * never quoted in a message. */
int chase_keys_secret_like(const char *s, size_t len);

/* 1 when s is a code of letters, digits, '-' and '_' shorter than max ("DE", "US-CAL-CISO", "CAISO_NORTH"): safe
 * to put in a URL and a cache key. */
int chase_keys_code_ok(const char *s, size_t max);

#endif
