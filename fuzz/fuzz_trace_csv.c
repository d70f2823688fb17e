/* libFuzzer target: the trace CSV reader. Whatever the text, the reader either fails with a message that quotes
 * input only escaped, or returns a trace that keeps docs/traces.md's promises: a step of 5 to 60 min, every value
 * finite and >= 0, filled flags that add up, labels safe to print. The first byte picks the options. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chase/trace.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    chase_trace_read_opts_t o = {0};
    if (size > 0) {
        uint8_t k = data[0];
        o.lca = k & 1;
        o.max_gap_s = (k & 6) == 2 ? 60 : (k & 6) == 4 ? 7 * 86400 : 0;
        o.column = (k & 8) ? "actual" : NULL;
        data++, size--;
    }
    chase_trace_t *t = (chase_trace_t *)&o; /* must come back NULL on failure */
    chase_err_t err = {0};
    int rc = chase_trace_parse_csv((const char *)data, size, "fuzz.csv", &o, &t, &err);
    if (rc != CHASE_OK) {
        if (rc > 0 || t != NULL || !err.msg[0] || !fuzz_msg_safe(&err))
            abort();
        return 0;
    }
    if (!t || t->n == 0 || t->step_s < CHASE_TRACE_MIN_STEP_S || t->step_s > CHASE_TRACE_MAX_STEP_S)
        abort();
    size_t filled = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (!isfinite(t->ci[i]) || t->ci[i] < 0)
            abort();
        filled += t->filled && t->filled[i];
    }
    if (filled != t->n_filled || (t->n_filled && !t->filled))
        abort();
    if (!fuzz_label_ok(t->name) || !fuzz_label_ok(t->column) || !fuzz_label_ok(t->note))
        abort();
    /* The step-hold integral over the whole trace is the sum of the samples times the step. */
    double sum = 0;
    for (size_t i = 0; i < t->n; i++)
        sum += t->ci[i];
    double whole = chase_trace_integral(t, (double)t->start, (double)chase_trace_end(t));
    if (!(fabs(whole - sum * (double)t->step_s) <= 1e-9 * (fabs(whole) + 1)))
        abort();
    if (chase_trace_index(t, t->start) != 0 || chase_trace_index(t, chase_trace_end(t)) != -1)
        abort();
    chase_trace_free(t);
    return 0;
}
