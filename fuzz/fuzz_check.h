/* Checks shared by the fuzz targets, written independently of util/escape.c, which they check. */
#ifndef CHASE_FUZZ_CHECK_H
#define CHASE_FUZZ_CHECK_H

#include <string.h>

#include "chase/error.h"

/* 1 when s (len bytes) holds nothing a terminal acts on: no C0 control, no DEL, no C1 control (as UTF-8 \xc2\x80 to
 * \xc2\x9f, or the raw 8-bit CSI \x9b after an ASCII byte). */
static inline int fuzz_printable(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            return 0;
        if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
            return 0;
        if (p[i] == 0x9b && (i == 0 || p[i - 1] < 0x80))
            return 0;
    }
    return 1;
}

static inline int fuzz_label_ok(const char *s)
{
    return fuzz_printable(s, strlen(s));
}

/* 1 when an error message is safe to print: whatever it quotes from the input was escaped. */
static inline int fuzz_msg_safe(const chase_err_t *err)
{
    return fuzz_printable(err->msg, strlen(err->msg));
}

#endif
