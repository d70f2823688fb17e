/* libFuzzer target: ISO-8601 times and durations. A time that parses is within years 0-9999 and survives a
 * format/parse round trip; a duration that parses is finite and >= 0; a refusal quotes the input escaped. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chase/timeutil.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    int64_t t = 42;
    chase_err_t err = {0};
    if (chase_time_parse(text, &t, &err) == CHASE_OK) {
        if (t < CHASE_TIME_MIN || t > CHASE_TIME_MAX)
            abort();
        char buf[32];
        int64_t back = 0;
        chase_time_format(t, buf, sizeof buf);
        if (strlen(buf) != 20 || chase_time_parse(buf, &back, NULL) != CHASE_OK || back != t)
            abort();
    } else if (t != 42 || err.code != CHASE_EFORMAT || !fuzz_msg_safe(&err)) {
        abort();
    }
    double d = -1;
    if (chase_duration_parse(text, &d, &err) == CHASE_OK) {
        if (!(d >= 0) || !isfinite(d))
            abort();
    } else if (!fuzz_msg_safe(&err)) {
        abort();
    }
    /* Any int64 formats to something printable, in or out of range. */
    int64_t any = 0;
    memcpy(&any, data, size < sizeof any ? size : sizeof any);
    char buf[32];
    chase_time_format(any, buf, sizeof buf);
    if (!buf[0] || !fuzz_label_ok(buf))
        abort();
    free(text);
    return 0;
}
