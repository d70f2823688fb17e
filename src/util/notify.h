/* How the library speaks without printing: a message formatted here and handed to the caller's callback. */
#ifndef CHASE_UTIL_NOTIFY_H
#define CHASE_UTIL_NOTIFY_H

#include <stdarg.h>

/* A callback that takes one line of text (no prefix, no newline). */
typedef void (*chase_notify_fn)(void *arg, const char *msg);

/* Formats fmt (at most 1 KiB is kept) and hands it to fn; nothing happens when fn is NULL. */
void chase_notify(chase_notify_fn fn, void *arg, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The same with a va_list. */
void chase_notify_v(chase_notify_fn fn, void *arg, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

#endif
