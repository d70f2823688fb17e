/* Text from input made safe to print: names, file names and values that reach messages, tables and terminals. */
#ifndef CHASE_UTIL_ESCAPE_H
#define CHASE_UTIL_ESCAPE_H

#include <stddef.h>

/* Copies len bytes of text into buf (size bytes, always NUL-terminated, cut before an escape or a UTF-8 character
 * that does not fit), writing as \xNN every byte a terminal could act on or that is not text: controls (0x00-0x1f,
 * 0x7f), UTF-8 C1 controls (U+0080-U+009F, e.g. the 8-bit CSI) and bytes that are not valid UTF-8; a backslash
 * becomes \\ so that the result reads back unambiguously. Returns buf. */
char *chase_escape_bytes(const char *text, size_t len, char *buf, size_t size);

/* chase_escape_bytes on a NUL-terminated string (NULL prints as "(null)"). */
char *chase_escape(const char *text, char *buf, size_t size);

/* 1 when text (len bytes) holds a byte chase_escape_bytes would write as \xNN (a backslash does not count). */
int chase_escape_needed(const char *text, size_t len);

#endif
