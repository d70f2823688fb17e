/* UTC times and durations, checked against the C library's timegm/gmtime_r as an independent reference. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "chase/timeutil.h"
#include "check.h"

static int64_t ref_time(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (int64_t)timegm(&tm);
}

static int64_t parse_ok(const char *text)
{
    int64_t t = INT64_MIN;
    chase_err_t err = {0};
    int rc = chase_time_parse(text, &t, &err);
    if (rc)
        fprintf(stderr, "  '%s' refused: %s\n", text, err.msg);
    CHECK(rc == CHASE_OK);
    return t;
}

static void test_parse_forms(void)
{
    int64_t base = ref_time(2020, 1, 1, 0, 0, 0);
    CHECK(parse_ok("2020-01-01T00:00:00Z") == base);
    CHECK(parse_ok("2020-01-01 00:00:00") == base); /* Electricity Maps export */
    CHECK(parse_ok("2020-01-01T00:00Z") == base);
    CHECK(parse_ok("2020-01-01T00:00:00+00:00") == base);
    CHECK(parse_ok("2020-01-01") == base);
    CHECK(parse_ok("2020-01-01t00:00:00z") == base);
    CHECK(parse_ok("  2020-01-01T00:00:00Z  ") == base);
    CHECK(parse_ok("2020-01-01T00:00:00.750Z") == base); /* fractions of a second are dropped */
    CHECK(parse_ok("2020-01-01T01:00:00+01:00") == base);
    CHECK(parse_ok("2020-01-01T01:00:00+0100") == base);
    CHECK(parse_ok("2020-01-01T01:00:00+01") == base);
    CHECK(parse_ok("2019-12-31T18:30:00-05:30") == base);
    CHECK(parse_ok("2022-03-13T07:15:42Z") == ref_time(2022, 3, 13, 7, 15, 42));
    CHECK(parse_ok("1969-12-31T23:59:59Z") == -1);
    CHECK(parse_ok("2020-02-29") == ref_time(2020, 2, 29, 0, 0, 0));
    CHECK(parse_ok("2000-02-29") == ref_time(2000, 2, 29, 0, 0, 0));
}

static void test_parse_rejects(void)
{
    const char *bad[] = {"",
                         "abc",
                         "2020",
                         "2020-1-1",
                         "2020-13-01",
                         "2020-00-10",
                         "2020-01-00",
                         "2020-01-32",
                         "2021-02-29",
                         "1900-02-29",
                         "2020-04-31",
                         "2020-01-01T",
                         "2020-01-01T00",
                         "2020-01-01T24:00:00Z",
                         "2020-01-01T12:60:00Z",
                         "2020-01-01T12:00:61Z",
                         "2020-01-01T12:00:00Zjunk",
                         "2020-01-01T12:00:00+25:00",
                         "2020-01-01T12:00:00+01:7",
                         "2020/01/01",
                         "2020-01-01T12:00:00 Z"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t t = 42;
        chase_err_t err = {0};
        int rc = chase_time_parse(bad[i], &t, &err);
        if (rc != CHASE_EFORMAT || t != 42 || !strstr(err.msg, bad[i]))
            fprintf(stderr, "  '%s' gave %d (%s)\n", bad[i], rc, err.msg);
        CHECK(rc == CHASE_EFORMAT && t == 42 && strstr(err.msg, bad[i]) != NULL);
    }
    int64_t t;
    CHECK(chase_time_parse(NULL, &t, NULL) == CHASE_EINVAL);
}

/* Every hour-ish instant across 1970..2100, formatted and parsed back, against the C library. */
static void test_roundtrip_against_libc(void)
{
    int bad = 0;
    char buf[32], ref[32];
    for (int64_t t = -86400LL * 365 * 2; t < 4102444800LL; t += 3607 * 11 + 13) {
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(ref, sizeof ref, "%Y-%m-%dT%H:%M:%SZ", &tm);
        chase_time_format(t, buf, sizeof buf);
        int64_t back;
        if (strcmp(buf, ref) || chase_time_parse(buf, &back, NULL) || back != t)
            bad++;
        if (chase_time_second_of_day(t) != tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec)
            bad++;
        if (chase_time_weekday(t) != (tm.tm_wday + 6) % 7) /* libc: Sunday = 0; chase: Monday = 0 */
            bad++;
    }
    CHECK(bad == 0);
    CHECK_STR(chase_time_format(0, buf, sizeof buf), "1970-01-01T00:00:00Z");
    CHECK(chase_time_weekday(0) == 3); /* a Thursday */
}

static void test_durations(void)
{
    struct {
        const char *text;
        double s;
    } ok[] = {{"90", 90}, {"90s", 90}, {"30m", 1800}, {"1.5h", 5400}, {"2d", 172800}, {"0", 0}, {"0.25m", 15}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        double v = -1;
        CHECK(chase_duration_parse(ok[i].text, &v, NULL) == CHASE_OK);
        CHECK_NEAR(v, ok[i].s, 1e-12);
    }
    const char *bad[] = {"", "m", "5x", "-5", "5mm", "5 m", "nan", "inf", "1e400", "30min"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double v = 7;
        chase_err_t err = {0};
        CHECK(chase_duration_parse(bad[i], &v, &err) == CHASE_EINVAL && v == 7);
        CHECK(bad[i][0] == '\0' || strstr(err.msg, bad[i]) != NULL);
    }
    double v;
    CHECK(chase_duration_parse(NULL, &v, NULL) == CHASE_EINVAL);
}

/* Years 0 to 9999 only: an offset cannot push a time past either end, and what is outside prints readably. */
static void test_year_bounds(void)
{
    char buf[32];
    CHECK(parse_ok("0000-01-01T00:00:00Z") == CHASE_TIME_MIN);
    CHECK(parse_ok("9999-12-31T23:59:59Z") == CHASE_TIME_MAX);
    CHECK(parse_ok("0000-01-01T01:00:00+01:00") == CHASE_TIME_MIN);
    CHECK_STR(chase_time_format(CHASE_TIME_MIN, buf, sizeof buf), "0000-01-01T00:00:00Z");
    CHECK_STR(chase_time_format(CHASE_TIME_MAX, buf, sizeof buf), "9999-12-31T23:59:59Z");
    const char *outside[] = {"0000-01-01T00:00:00+00:01", "0000-01-01T00:30:00+01:00", "9999-12-31T23:59:59-00:01",
                             "9999-12-31T23:00:00-01:00"};
    for (size_t i = 0; i < sizeof outside / sizeof *outside; i++) {
        int64_t t = 42;
        chase_err_t err = {0};
        CHECK(chase_time_parse(outside[i], &t, &err) == CHASE_EFORMAT && t == 42);
        CHECK(strstr(err.msg, outside[i]) != NULL && strstr(err.msg, "0 to 9999") != NULL);
    }
    /* Outside the range the text says so instead of a five-digit or negative year (or an overflowed one). */
    static const int64_t far[] = {CHASE_TIME_MAX + 1, CHASE_TIME_MIN - 1, INT64_MAX, INT64_MIN, INT64_C(1) << 50};
    for (size_t i = 0; i < sizeof far / sizeof *far; i++)
        CHECK_STR(chase_time_format(far[i], buf, sizeof buf), "(out of range)");
    CHECK_STR(chase_time_format(INT64_MAX, buf, 21), "(out of range)");
}

/* Input quoted in a message is escaped: a time field with terminal escapes does not reach the terminal raw. */
static void test_messages_escaped(void)
{
    int64_t t;
    chase_err_t err = {0};
    CHECK(chase_time_parse("2020\x1b[2J", &t, &err) == CHASE_EFORMAT);
    CHECK(strchr(err.msg, '\x1b') == NULL && strstr(err.msg, "2020\\x1b[2J") != NULL);
    double d;
    CHECK(chase_duration_parse("5\x1b]0;x\x07", &d, &err) == CHASE_EINVAL);
    CHECK(strchr(err.msg, '\x1b') == NULL && strchr(err.msg, '\x07') == NULL && strstr(err.msg, "5\\x1b]0;x\\x07"));
}

static void test_negative_days(void)
{
    /* Times before 1970 fall on the right day and second of day. */
    CHECK(chase_time_second_of_day(-1) == 86399);
    CHECK(chase_time_second_of_day(-86400) == 0);
    CHECK(chase_time_weekday(-1) == 2); /* 1969-12-31, a Wednesday */
    char buf[32];
    CHECK_STR(chase_time_format(-86401, buf, sizeof buf), "1969-12-30T23:59:59Z");
}

int main(void)
{
    RUN(test_parse_forms);
    RUN(test_parse_rejects);
    RUN(test_roundtrip_against_libc);
    RUN(test_durations);
    RUN(test_negative_days);
    RUN(test_year_bounds);
    RUN(test_messages_escaped);
    CHECK_DONE();
}
