/* libFuzzer target: the signal spec splitter and the providers' key reader on arbitrary specs, without opening
 * anything (the opener only parses keys). Also the WattTime token and region readers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chase/provider.h"
#include "signal/provider_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const chase_signal_ops_t dummy_ops = {.name = "dummy"};

static int open_dummy(const char *name, const char *keys, const chase_signal_open_opts_t *opts, chase_signal_t **out,
                      chase_err_t *err)
{
    (void)opts;
    if (!name || !keys)
        abort();
    chase_keys_t k;
    int rc = chase_keys_parse(name, keys, &k, err);
    if (rc != CHASE_OK)
        return rc;
    for (size_t i = 0; i < k.n; i++)
        if (!k.key[i][0] || strchr(k.key[i], ',') || strchr(k.value[i], ','))
            abort();
    chase_keys_get(&k, "zone");
    rc = chase_keys_check(&k, "zone", err);
    chase_keys_free(&k);
    if (rc != CHASE_OK)
        return rc;
    *out = calloc(1, sizeof **out);
    if (!*out)
        return CHASE_ENOMEM;
    (*out)->ops = &dummy_ops;
    (*out)->step_s = 3600;
    return CHASE_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *spec = malloc(size + 1);
    if (!spec)
        return 0;
    memcpy(spec, data, size);
    spec[size] = '\0';
    chase_signal_t *s = NULL;
    chase_err_t err;
    int rc = chase_signal_open_chain(spec, NULL, open_dummy, &s, &err);
    if (rc == CHASE_OK) {
        if (!s)
            abort();
        chase_signal_free(s);
    } else if (s || err.msg[0] == '\0') {
        abort();
    }
    char buf[64];
    chase_parse_watttime_token((const char *)data, size, buf, sizeof buf, &err);
    chase_parse_watttime_region((const char *)data, size, buf, sizeof buf, &err);
    free(spec);
    return 0;
}
