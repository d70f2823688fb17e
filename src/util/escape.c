/* Escaping text from input before it reaches a message (see escape.h). A file or column name can carry ESC [ ...
 * sequences that repaint or retitle a terminal; every message that quotes input goes through here. */
#include "util/escape.h"

#include <stdio.h>
#include <string.h>

/* Length of the valid, printable UTF-8 character at p (1 for printable ASCII), or 0 when the byte at p must be
 * escaped: a control, a C1 control, or the start of an invalid, overlong or truncated sequence. */
static size_t printable_at(const unsigned char *p, size_t left)
{
    unsigned char c = p[0];
    if (c >= 0x20 && c < 0x7f)
        return 1;
    size_t n;
    unsigned min;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0; /* ASCII control, DEL, a continuation byte or 0xc0, 0xc1, 0xf5-0xff */
    }
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
        return 0;
    return n;
}

char *chase_escape_bytes(const char *text, size_t len, char *buf, size_t size)
{
    if (!buf || !size)
        return buf;
    const unsigned char *p = (const unsigned char *)text;
    size_t o = 0;
    for (size_t i = 0; p && i < len;) {
        size_t n = printable_at(p + i, len - i);
        char esc[5];
        const char *piece = (const char *)p + i;
        size_t plen = n;
        if (n == 0) {
            snprintf(esc, sizeof esc, "\\x%02x", p[i]);
            piece = esc, plen = 4, n = 1;
        } else if (p[i] == '\\') {
            piece = "\\\\", plen = 2;
        }
        if (o + plen >= size)
            break; /* never half an escape or half a character */
        memcpy(buf + o, piece, plen);
        o += plen;
        i += n;
    }
    buf[o] = '\0';
    return buf;
}

char *chase_escape(const char *text, char *buf, size_t size)
{
    if (!text)
        text = "(null)";
    return chase_escape_bytes(text, strlen(text), buf, size);
}

int chase_escape_needed(const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; p && i < len;) {
        size_t n = printable_at(p + i, len - i);
        if (n == 0)
            return 1;
        i += n;
    }
    return 0;
}
