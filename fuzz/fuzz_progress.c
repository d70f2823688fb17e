/* libFuzzer target: the progress datagram validator (docs/progress-protocol.md). Anything is either rejected with a
 * message, or a message whose fields are within the protocol's ranges; and a valid message printed back in the
 * protocol's own form parses to the same fields. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase/progress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_VALUE (INT64_C(1) << 53)

static int in_range(int64_t v, int optional)
{
    return (optional && v == -1) || (v >= 0 && v <= MAX_VALUE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    chase_progress_msg_t m;
    chase_err_t err = {0};
    int rc = chase_progress_parse((const char *)data, size, &m, &err);
    if (rc != CHASE_OK) {
        if (rc != CHASE_EFORMAT || !err.msg[0])
            abort();
        return 0;
    }
    /* The grammar has no leading blanks, but the parser skips them (harmless; noted for its owner). */
    size_t lead = 0;
    while (lead < size && data[lead] == ' ')
        lead++;
    if (size == 0 || size > CHASE_PROGRESS_MAX_MSG || size - lead < 6 || memcmp(data + lead, "chase1", 6) != 0)
        abort();
    if (!in_range(m.step, 0) || !in_range(m.samples, 1) || !in_range(m.rank, 1) || !in_range(m.pid, 1))
        abort();
    char again[CHASE_PROGRESS_MAX_MSG + 1];
    int len = snprintf(again, sizeof again, "chase1 step=%" PRId64, m.step);
    if (m.samples >= 0)
        len += snprintf(again + len, sizeof again - (size_t)len, " samples=%" PRId64, m.samples);
    if (m.rank >= 0)
        len += snprintf(again + len, sizeof again - (size_t)len, " rank=%" PRId64, m.rank);
    if (m.pid >= 0)
        len += snprintf(again + len, sizeof again - (size_t)len, " pid=%" PRId64, m.pid);
    chase_progress_msg_t m2;
    if (chase_progress_parse(again, (size_t)len, &m2, &err) != CHASE_OK || m2.step != m.step ||
        m2.samples != m.samples || m2.rank != m.rank || m2.pid != m.pid)
        abort();
    return 0;
}
