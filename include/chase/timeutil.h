/* Time stamps (UTC, seconds since the Unix epoch) and durations. */
#ifndef CHASE_TIMEUTIL_H
#define CHASE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "chase/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The times chase reads and writes: years 0 to 9999, as four-digit ISO-8601 years allow. */
#define CHASE_TIME_MIN INT64_C(-62167219200) /* 0000-01-01T00:00:00Z */
#define CHASE_TIME_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

/* Parses an ISO-8601 UTC time: "2020-01-01T00:00:00Z", "2020-01-01 00:00:00", "2020-01-01T00:00Z",
 * "2020-01-01T00:00:00+00:00" (any offset is applied), or a date "2020-01-01"; CHASE_EFORMAT for anything else,
 * including a time that an offset moves outside CHASE_TIME_MIN..CHASE_TIME_MAX. */
int chase_time_parse(const char *text, int64_t *out, chase_err_t *err);

/* Writes t as "YYYY-MM-DDTHH:MM:SSZ" into buf (at least 21 bytes), or "(out of range)" when t is outside
 * CHASE_TIME_MIN..CHASE_TIME_MAX; returns buf. */
char *chase_time_format(int64_t t, char *buf, size_t size);

/* Parses a duration: a number with an optional suffix s, m, h or d ("30m", "1.5h", "90"); plain numbers are seconds. */
int chase_duration_parse(const char *text, double *out_s, chase_err_t *err);

/* Calendar date (proleptic Gregorian) of day number `days` since 1970-01-01. */
void chase_date_from_days(int64_t days, int *year, int *month, int *day);

/* Number of days in month (1..12) of year. */
int chase_days_in_month(int year, int month);

/* Seconds of the UTC day (0..86399) and day of week (0 = Monday) of t. */
int chase_time_second_of_day(int64_t t);
int chase_time_weekday(int64_t t);

#ifdef __cplusplus
}
#endif
#endif
