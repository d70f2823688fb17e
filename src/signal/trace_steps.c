/* Traces whose step changes part way: ENTSO-E series went from 60- or 30-minute to 15-minute values, and a file that
 * spans the change holds both. Each part is a run of equal spacings; the rows are resampled to the finest step that
 * fits every part, each value held over its own step, which keeps the step-hold integral of every row exact (a
 * 30-min average is two 15-min samples of the same value; averaging 15-min values into 30 would lose what they say). */
#include "signal/trace_steps.h"

#include <stdio.h>
#include <stdlib.h>

#include "chase/timeutil.h"
#include "chase/trace.h"

typedef struct part {
    size_t first;  /* first row of the part (rows before the first run belong to part 0) */
    size_t anchor; /* a row on the part's grid: the first row of the run that started it */
    int64_t step;
} part_t;

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

const char *chase_trace_dur_text(int64_t s, char *buf, size_t size)
{
    if (s % 3600 == 0)
        snprintf(buf, size, "%lld h", (long long)(s / 3600));
    else if (s % 60 == 0)
        snprintf(buf, size, "%lld min", (long long)(s / 60));
    else
        snprintf(buf, size, "%lld s", (long long)s);
    return buf;
}

/* The parts: a new one starts at each run of CHASE_TRACE_STEP_RUN or more equal spacings in 5..60 min whose spacing
 * differs from the part before. Returns their number (0 when there is no such run), or -1 when out of memory. */
static long find_parts(const chase_trace_rows_t *r, part_t **out)
{
    part_t *p = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 1; i < r->n;) {
        int64_t d = r->t[i] - r->t[i - 1];
        size_t j = i;
        while (j < r->n && r->t[j] - r->t[j - 1] == d)
            j++;
        if (j - i >= CHASE_TRACE_STEP_RUN && d >= CHASE_TRACE_MIN_STEP_S && d <= CHASE_TRACE_MAX_STEP_S &&
            (n == 0 || p[n - 1].step != d)) {
            if (n == cap) {
                cap = cap ? 2 * cap : 8;
                part_t *more = realloc(p, cap * sizeof *p);
                if (!more) {
                    free(p);
                    return -1;
                }
                p = more;
            }
            p[n] = (part_t){n ? i - 1 : 0, i - 1, d};
            n++;
        }
        i = j;
    }
    *out = p;
    return (long)n;
}

/* Where row i's value stops: after its part's step, or at the next row if that comes first. *k is the part of the
 * previous row (rows are visited in order). */
static int64_t row_end(const chase_trace_rows_t *r, const part_t *parts, long np, size_t i, long *k)
{
    while (*k + 1 < np && i >= parts[*k + 1].first)
        (*k)++;
    int64_t end = r->t[i] + parts[*k].step;
    return i + 1 < r->n && r->t[i + 1] < end ? r->t[i + 1] : end;
}

int chase_trace_rows_unify_step(chase_trace_rows_t *r, const char *name, size_t max_samples, int64_t *step, char *note,
                                size_t note_size, chase_err_t *err)
{
    note[0] = '\0';
    part_t *parts = NULL;
    long np = find_parts(r, &parts);
    if (np < 0)
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    if (np < 2) { /* one step throughout: the caller's grid check and messages apply as they always did */
        free(parts);
        return CHASE_OK;
    }
    /* Every row on the grid of its part; the finest common step of all rows. */
    int64_t g = 0;
    for (long k = 0; k < np; k++) {
        size_t end = k + 1 < np ? parts[k + 1].first : r->n;
        const part_t *p = &parts[k];
        for (size_t i = p->first; i < end; i++) {
            if ((r->t[i] - r->t[p->anchor]) % p->step) {
                char a[32], b[32], d[32];
                int rc = chase_err_set(err, CHASE_EFORMAT,
                                       "%s:%ld: time %s is off the %s grid of this part of the file (which has that "
                                       "step from %s on line %ld)",
                                       name, r->line[i], chase_time_format(r->t[i], a, sizeof a),
                                       chase_trace_dur_text(p->step, d, sizeof d),
                                       chase_time_format(r->t[p->anchor], b, sizeof b), r->line[p->anchor]);
                free(parts);
                return rc;
            }
        }
    }
    for (size_t i = 1; i < r->n; i++)
        g = gcd64(g, r->t[i] - r->t[i - 1]);
    if (g < CHASE_TRACE_MIN_STEP_S) {
        char a[32], b[32];
        int rc = chase_err_set(err, CHASE_EFORMAT,
                               "%s:%ld: the step changes here from %s to %s, and the two parts share no grid of 5 "
                               "minutes or more; chase cannot read them as one series",
                               name, r->line[parts[1].anchor], chase_trace_dur_text(parts[0].step, a, sizeof a),
                               chase_trace_dur_text(parts[1].step, b, sizeof b));
        free(parts);
        return rc;
    }
    /* Count, then expand: each row holds its value over its own step, cut short by the next row. */
    size_t total = 0;
    long k = 0;
    for (size_t i = 0; i < r->n; i++) {
        total += (size_t)((row_end(r, parts, np, i, &k) - r->t[i]) / g);
        if (total > max_samples) {
            int rc = chase_err_set(err, CHASE_EFORMAT, "%s: resampled to one step the rows make over %zu samples", name,
                                   max_samples);
            free(parts);
            return rc;
        }
    }
    chase_trace_rows_t s = {malloc(total * sizeof *s.t), malloc(total * sizeof *s.v), malloc(total * sizeof *s.line), 0,
                            total};
    if (!s.t || !s.v || !s.line) {
        free(s.t), free(s.v), free(s.line), free(parts);
        return chase_err_set(err, CHASE_ENOMEM, "out of memory");
    }
    k = 0;
    for (size_t i = 0; i < r->n; i++) {
        int64_t end = row_end(r, parts, np, i, &k);
        for (int64_t u = r->t[i]; u < end; u += g) {
            s.t[s.n] = u;
            s.v[s.n] = r->v[i];
            s.line[s.n] = r->line[i];
            s.n++;
        }
    }
    char a[32], b[32], c[32], when[32];
    const part_t *p1 = &parts[1];
    if (np == 2)
        snprintf(note, note_size,
                 "the step changes part way, from %s to %s at line %ld (%s); read at %s, each row's value held over "
                 "its own step",
                 chase_trace_dur_text(parts[0].step, a, sizeof a), chase_trace_dur_text(p1->step, b, sizeof b),
                 r->line[p1->anchor], chase_time_format(r->t[p1->anchor], when, sizeof when),
                 chase_trace_dur_text(g, c, sizeof c));
    else
        snprintf(note, note_size,
                 "the step changes %ld times, first from %s to %s at line %ld (%s); read at %s, each row's value held "
                 "over its own step",
                 np - 1, chase_trace_dur_text(parts[0].step, a, sizeof a), chase_trace_dur_text(p1->step, b, sizeof b),
                 r->line[p1->anchor], chase_time_format(r->t[p1->anchor], when, sizeof when),
                 chase_trace_dur_text(g, c, sizeof c));
    free(parts);
    free(r->t), free(r->v), free(r->line);
    *r = s;
    *step = g;
    return CHASE_OK;
}
