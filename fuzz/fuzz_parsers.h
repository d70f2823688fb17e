/* Shared checks for the parser fuzz targets: whatever the body, a parser either fails with a message or returns
 * samples that obey the contract (sorted, distinct, in range, within cap). Anything else aborts the run. */
#ifndef CHASE_FUZZ_PARSERS_H
#define CHASE_FUZZ_PARSERS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chase/provider.h"

typedef int (*parser_fn)(const char *body, size_t len, int flags, chase_sample_t *out, size_t cap, size_t *n,
                         chase_parse_info_t *info, chase_err_t *err);

static void check_parser(parser_fn parse, const uint8_t *data, size_t size)
{
    enum { CAP = 16 };
    chase_sample_t out[CAP + 1];
    chase_parse_info_t info;
    chase_err_t err;
    size_t n = 12345;
    out[CAP].t = 0x5A5A; /* a guard after the cap: must stay untouched */
    err.msg[0] = '\0';
    int rc = parse((const char *)data, size, CHASE_SAMPLE_FORECAST, out, CAP, &n, &info, &err);
    if (out[CAP].t != 0x5A5A)
        abort();
    if (rc != CHASE_OK) {
        if (rc > 0 || n != 0 || err.msg[0] == '\0' || strlen(err.msg) >= sizeof err.msg)
            abort();
        return;
    }
    if (n == 0 || n > CAP || info.step_s <= 0)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (!(out[i].ci >= 0 && out[i].ci <= CHASE_CI_MAX) || out[i].step_s <= 0 ||
            !(out[i].flags & CHASE_SAMPLE_FORECAST) || (out[i].flags & ~(CHASE_SAMPLE_FORECAST | CHASE_SAMPLE_FILLED)))
            abort();
        if (i && out[i].t <= out[i - 1].t)
            abort();
    }
}

#endif
