/* UTC time stamps and durations, without the C library's local-time machinery. */
#include "chase/timeutil.h"

#include "util/escape.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void chase_date_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

int chase_days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* Reads exactly n digits at *p. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int chase_time_parse(const char *text, int64_t *out, chase_err_t *err)
{
    const char *p = text;
    int y, mo, d, h = 0, mi = 0, s = 0;
    if (!text)
        return chase_err_set(err, CHASE_EINVAL, "missing time");
    while (*p == ' ')
        p++;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        goto bad;
    if (mo < 1 || mo > 12 || d < 1 || d > chase_days_in_month(y, mo))
        goto bad;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
            goto bad;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &s))
                goto bad;
            if (*p == '.') { /* fractional seconds are dropped */
                p++;
                while (isdigit((unsigned char)*p))
                    p++;
            }
        }
        if (h > 23 || mi > 59 || s > 60)
            goto bad;
    }
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om = 0;
        p++;
        if (digits(&p, 2, &oh))
            goto bad;
        if (*p == ':')
            p++;
        if (isdigit((unsigned char)*p) && digits(&p, 2, &om))
            goto bad;
        if (oh > 23 || om > 59)
            goto bad;
        t -= sign * (oh * 3600 + om * 60);
    }
    while (*p == ' ' || *p == '\r' || *p == '\n')
        p++;
    if (*p)
        goto bad;
    if (t < CHASE_TIME_MIN || t > CHASE_TIME_MAX) { /* "0000-01-01T00:00+01:00" and "9999-12-31T23:59-01:00" */
        char shown[256];
        return chase_err_set(err, CHASE_EFORMAT, "'%s' is outside the years 0 to 9999",
                             chase_escape_bytes(text, strnlen(text, 60), shown, sizeof shown));
    }
    *out = t;
    return CHASE_OK;
bad:;
    char shown[256];
    return chase_err_set(err, CHASE_EFORMAT, "'%s' is not an ISO-8601 UTC time (expected e.g. 2020-01-01T00:00:00Z)",
                         chase_escape_bytes(text, strnlen(text, 60), shown, sizeof shown));
}

char *chase_time_format(int64_t t, char *buf, size_t size)
{
    if (t < CHASE_TIME_MIN || t > CHASE_TIME_MAX) { /* a year of five digits or a negative one: not ISO-8601 */
        snprintf(buf, size, "(out of range)");
        return buf;
    }
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t sec = t - days * 86400;
    int y, m, d;
    chase_date_from_days(days, &y, &m, &d);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, (int)(sec / 3600), (int)(sec / 60 % 60),
             (int)(sec % 60));
    return buf;
}

int chase_duration_parse(const char *text, double *out_s, chase_err_t *err)
{
    char *end;
    if (!text || !*text)
        return chase_err_set(err, CHASE_EINVAL, "missing duration");
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno || !isfinite(v) || v < 0)
        goto bad;
    double mult = 1;
    if (*end) {
        switch (*end) {
        case 's': mult = 1; break;
        case 'm': mult = 60; break;
        case 'h': mult = 3600; break;
        case 'd': mult = 86400; break;
        default: goto bad;
        }
        if (end[1])
            goto bad;
    }
    *out_s = v * mult;
    return CHASE_OK;
bad:;
    char shown[256];
    return chase_err_set(err, CHASE_EINVAL, "'%s' is not a duration (expected e.g. 90s, 30m, 1.5h, 2d)",
                         chase_escape_bytes(text, strnlen(text, 60), shown, sizeof shown));
}

int chase_time_second_of_day(int64_t t)
{
    int64_t r = t % 86400;
    return (int)(r < 0 ? r + 86400 : r);
}

int chase_time_weekday(int64_t t)
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    /* 1970-01-01 was a Thursday (3 with Monday = 0). */
    int64_t w = (days + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}
