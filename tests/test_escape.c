/* Escaping input before it reaches a terminal: controls, C1 controls and broken UTF-8 come out as \xNN, text that is
 * fine (including non-ASCII letters) comes out unchanged, and nothing is ever cut in half. */
#include <string.h>

#include "check.h"
#include "util/escape.h"

static const char *esc(const char *text, size_t len, size_t size)
{
    static char buf[512];
    return chase_escape_bytes(text, len, buf, size);
}

static void test_plain_text_unchanged(void)
{
    char buf[64];
    CHECK_STR(chase_escape("eia-PJM-2022.csv", buf, sizeof buf), "eia-PJM-2022.csv");
    CHECK_STR(chase_escape("Carbon Intensity gCO\xe2\x82\x82"
                           "eq/kWh (direct)",
                           buf, sizeof buf),
              "Carbon Intensity gCO\xe2\x82\x82"
              "eq/kWh (direct)"); /* U+2082 stays a subscript two */
    CHECK_STR(chase_escape("Z\xc3\xbcrich \xf0\x9f\x8c\x8d", buf, sizeof buf), "Z\xc3\xbcrich \xf0\x9f\x8c\x8d");
    CHECK(!chase_escape_needed("Z\xc3\xbcrich", 7));
    CHECK_STR(chase_escape(NULL, buf, sizeof buf), "(null)");
}

static void test_controls_escaped(void)
{
    /* The classic attack: a file name that sets the terminal title and turns the screen red. */
    CHECK_STR(esc("x\x1b]0;pwned\x07\x1b[31m.csv", 20, 512), "x\\x1b]0;pwned\\x07\\x1b[31m.csv");
    CHECK_STR(esc("a\nb\rc\td\x7f", 8, 512), "a\\x0ab\\x0dc\\x09d\\x7f");
    CHECK_STR(esc("12\0abc", 6, 512), "12\\x00abc"); /* a NUL inside a field is shown, not a string end */
    CHECK_STR(esc("\xc2\x9b"
                  "31m",
                  5, 512),
              "\\xc2\\x9b31m"); /* U+009B, the 8-bit CSI, in UTF-8 */
    CHECK_STR(esc("\x9b"
                  "31m",
                  4, 512),
              "\\x9b31m");                                     /* a lone C1 byte is not UTF-8 */
    CHECK_STR(esc("\xc0\xaf", 2, 512), "\\xc0\\xaf");          /* overlong '/' */
    CHECK_STR(esc("\xed\xa0\x80", 3, 512), "\\xed\\xa0\\x80"); /* a UTF-16 surrogate */
    CHECK_STR(esc("\xe2\x82", 2, 512), "\\xe2\\x82");          /* cut off */
    CHECK_STR(esc("a\\b", 3, 512), "a\\\\b");                  /* backslash doubled: reads back unambiguously */
    CHECK(chase_escape_needed("x\x1b", 2));
    CHECK(chase_escape_needed("\xff", 1));
    CHECK(!chase_escape_needed("a\\b", 3));
}

static void test_never_cut_in_half(void)
{
    /* 6 bytes of room: "ab" fits, "\x1b" (4) does not after it, so the output stops at "ab". */
    CHECK_STR(esc("ab\x1b"
                  "cd",
                  5, 6),
              "ab");
    CHECK_STR(esc("ab\x1b"
                  "cd",
                  5, 7),
              "ab\\x1b");
    CHECK_STR(esc("a\xc3\xbc", 3, 3), "a"); /* no half of a two-byte letter */
    CHECK_STR(esc("abc", 3, 1), "");
    char one[1] = {'x'};
    chase_escape_bytes("abc", 3, one, 1);
    CHECK(one[0] == '\0');
}

int main(void)
{
    RUN(test_plain_text_unchanged);
    RUN(test_controls_escaped);
    RUN(test_never_cut_in_half);
    CHECK_DONE();
}
