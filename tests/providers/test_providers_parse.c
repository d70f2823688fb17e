/* The response parsers on bodies in each API's real format, and on the ways bodies go wrong. No network. */
#include <string.h>

#include "chase/provider.h"
#include "chase/timeutil.h"
#include "check.h"

static chase_sample_t s[64];
static size_t n;
static chase_parse_info_t info;
static chase_err_t err;

static int64_t T(const char *iso)
{
    int64_t t = 0;
    chase_time_parse(iso, &t, NULL);
    return t;
}

#define EM(body) chase_parse_electricitymaps(body, strlen(body), 0, s, 64, &n, &info, &err)
#define WT(body) chase_parse_watttime(body, strlen(body), 0, s, 64, &n, &info, &err)
#define UK(body) chase_parse_ukci(body, strlen(body), 0, s, 64, &n, &info, &err)

static void test_em_latest(void)
{
    const char *b = "{\"zone\":\"DE\",\"carbonIntensity\":302,\"datetime\":\"2019-05-21T00:00:00.000Z\","
                    "\"updatedAt\":\"2019-05-20T23:27:20.000Z\",\"createdAt\":\"2019-05-17T23:00:00.000Z\","
                    "\"emissionFactorType\":\"lifecycle\",\"isEstimated\":false,\"estimationMethod\":null}";
    CHECK(EM(b) == CHASE_OK);
    CHECK(n == 1);
    CHECK(s[0].t == T("2019-05-21T00:00:00Z"));
    CHECK_NEAR(s[0].ci, 302, 1e-9);
    CHECK(s[0].step_s == 3600);
    CHECK(s[0].flags == 0);
    CHECK_STR(info.zone, "DE");
}

static void test_em_history_and_forecast(void)
{
    const char *b = "{\"zone\":\"FR\",\"history\":["
                    "{\"zone\":\"FR\",\"carbonIntensity\":50,\"datetime\":\"2024-01-01T01:00:00.000Z\"},"
                    "{\"zone\":\"FR\",\"carbonIntensity\":40,\"datetime\":\"2024-01-01T00:00:00.000Z\"},"
                    "{\"zone\":\"FR\",\"carbonIntensity\":60.5,\"datetime\":\"2024-01-01T02:00:00.000Z\"}]}";
    CHECK(EM(b) == CHASE_OK);
    CHECK(n == 3);
    CHECK(s[0].t == T("2024-01-01T00:00:00Z") && s[2].t == T("2024-01-01T02:00:00Z")); /* sorted */
    CHECK_NEAR(s[1].ci, 50, 1e-9);
    CHECK_NEAR(s[2].ci, 60.5, 1e-9);
    const char *f = "{\"zone\":\"FR\",\"forecast\":[{\"carbonIntensity\":70,\"datetime\":\"2024-01-01T03:00:00.000Z\"},"
                    "{\"carbonIntensity\":71,\"datetime\":\"2024-01-01T03:15:00.000Z\"}],"
                    "\"updatedAt\":\"2024-01-01T02:50:00.000Z\"}";
    CHECK(chase_parse_electricitymaps(f, strlen(f), CHASE_SAMPLE_FORECAST, s, 64, &n, &info, &err) == CHASE_OK);
    CHECK(n == 2 && s[0].flags == CHASE_SAMPLE_FORECAST);
    CHECK(s[0].step_s == 900); /* inferred from the spacing */
}

static void test_em_bad_values(void)
{
    const char *b = "{\"history\":[{\"carbonIntensity\":null,\"datetime\":\"2024-01-01T00:00:00Z\"},"
                    "{\"carbonIntensity\":-12,\"datetime\":\"2024-01-01T01:00:00Z\"},"
                    "{\"carbonIntensity\":\"high\",\"datetime\":\"2024-01-01T02:00:00Z\"},"
                    "{\"carbonIntensity\":200,\"datetime\":\"not a time\"},"
                    "{\"carbonIntensity\":90000,\"datetime\":\"2024-01-01T04:00:00Z\"},"
                    "{\"carbonIntensity\":123,\"datetime\":\"2024-01-01T05:00:00Z\"}]}";
    CHECK(EM(b) == CHASE_OK);
    CHECK(n == 1 && s[0].ci == 123);
    CHECK(info.skipped == 5);
    CHECK(strstr(info.first_skip, "null") != NULL);
    const char *allneg = "{\"history\":[{\"carbonIntensity\":-1,\"datetime\":\"2024-01-01T00:00:00Z\"}]}";
    CHECK(EM(allneg) == CHASE_ENODATA);
    CHECK(strstr(err.msg, "negative") != NULL);
    CHECK(EM("{\"zone\":\"DE\",\"history\":[]}") == CHASE_ENODATA);
    CHECK(strstr(err.msg, "no data points") != NULL);
}

static void test_em_malformed(void)
{
    const char *good = "{\"zone\":\"DE\",\"history\":[{\"carbonIntensity\":1,\"datetime\":\"2024-01-01T00:00:00Z\"}]}";
    CHECK(chase_parse_electricitymaps(good, strlen(good) / 2, 0, s, 64, &n, &info, &err) == CHASE_EFORMAT);
    CHECK(strstr(err.msg, "truncated") != NULL);
    CHECK(EM("[1,2,3]") == CHASE_EFORMAT);
    CHECK(EM("") == CHASE_EFORMAT);
    CHECK(EM("{\"zone\":\"DE\"}") == CHASE_EFORMAT);
    CHECK(EM("{\"history\":{\"a\":1}}") == CHASE_EFORMAT);
    CHECK(EM("{\"error\":\"Zone 'XX' does not exist\"}") == CHASE_EFORMAT);
    CHECK(strstr(err.msg, "does not exist") != NULL);
    CHECK(EM("{\"unit\":\"lbs/MWh\",\"carbonIntensity\":900,\"datetime\":\"2024-01-01T00:00:00Z\"}") == CHASE_EFORMAT);
    CHECK(strstr(err.msg, "lbs/MWh") != NULL);
    CHECK(EM("{\"unit\":\"gCO2eq/kWh\",\"carbonIntensity\":90,\"datetime\":\"2024-01-01T00:00:00Z\"}") == CHASE_OK);
}

static void test_em_cap_keeps_newest(void)
{
    chase_sample_t two[2];
    const char *b = "{\"history\":[{\"carbonIntensity\":1,\"datetime\":\"2024-01-01T00:00:00Z\"},"
                    "{\"carbonIntensity\":2,\"datetime\":\"2024-01-01T01:00:00Z\"},"
                    "{\"carbonIntensity\":3,\"datetime\":\"2024-01-01T02:00:00Z\"},"
                    "{\"carbonIntensity\":4,\"datetime\":\"2024-01-01T02:00:00Z\"}]}";
    CHECK(chase_parse_electricitymaps(b, strlen(b), 0, two, 2, &n, &info, &err) == CHASE_OK);
    CHECK(n == 2);
    CHECK_NEAR(two[0].ci, 2, 0);
    CHECK_NEAR(two[1].ci, 4, 0); /* a repeated time: the later entry wins */
}

static void test_watttime(void)
{
    const char *b = "{\"data\":[{\"point_time\":\"2023-07-15T00:00:00+00:00\",\"value\":1000.0,\"version\":\"1.0\"},"
                    "{\"point_time\":\"2023-07-15T00:05:00+00:00\",\"value\":500}],"
                    "\"meta\":{\"data_point_period_seconds\":300,\"region\":\"CAISO_NORTH\",\"warnings\":[],"
                    "\"signal_type\":\"co2_moer\",\"model\":{\"date\":\"2023-03-01\"},\"units\":\"lbs_co2_per_mwh\"}}";
    CHECK(WT(b) == CHASE_OK);
    CHECK(n == 2);
    CHECK_NEAR(s[0].ci, 453.592, 1e-9);
    CHECK_NEAR(s[1].ci, 226.796, 1e-9);
    CHECK(s[0].step_s == 300 && s[0].t == T("2023-07-15T00:00:00Z"));
    CHECK_STR(info.zone, "CAISO_NORTH");
    const char *idx = "{\"data\":[{\"point_time\":\"2023-07-15T00:00:00+00:00\",\"value\":64}],"
                      "\"meta\":{\"region\":\"CAISO_NORTH\",\"units\":\"percentile\"}}";
    CHECK(WT(idx) == CHASE_EFORMAT);
    CHECK(strstr(err.msg, "percentile") != NULL);
    CHECK(WT("{\"data\":[{\"point_time\":\"2023-07-15T00:00:00Z\",\"value\":1}]}") == CHASE_EFORMAT);
    CHECK(strstr(err.msg, "units") != NULL);
    const char *kg = "{\"data\":[{\"point_time\":\"2023-07-15T00:00:00Z\",\"value\":400}],\"meta\":{\"units\":"
                     "\"kg_co2_per_mwh\"}}";
    CHECK(WT(kg) == CHASE_OK && n == 1);
    CHECK_NEAR(s[0].ci, 400, 1e-9);
    CHECK(WT("{\"data\":[],\"meta\":{\"units\":\"lbs_co2_per_mwh\"}}") == CHASE_ENODATA);
    CHECK(WT("{\"detail\":\"oops\"}") == CHASE_EFORMAT);
    char tok[64], region[64];
    const char *login = "{\"token\":\"abc.def.ghi\"}";
    CHECK(chase_parse_watttime_token(login, strlen(login), tok, sizeof tok, &err) == CHASE_OK);
    CHECK_STR(tok, "abc.def.ghi");
    CHECK(chase_parse_watttime_token("{}", 2, tok, sizeof tok, &err) == CHASE_EFORMAT);
    CHECK(chase_parse_watttime_token(login, strlen(login), tok, 4, &err) == CHASE_ERANGE);
    const char *reg = "{\"region\":\"PJM_DC\",\"region_full_name\":\"PJM DC\",\"signal_type\":\"co2_moer\"}";
    CHECK(chase_parse_watttime_region(reg, strlen(reg), region, sizeof region, &err) == CHASE_OK);
    CHECK_STR(region, "PJM_DC");
    const char *evil = "{\"region\":\"A&b=c\"}";
    CHECK(chase_parse_watttime_region(evil, strlen(evil), region, sizeof region, &err) == CHASE_EFORMAT);
}

static void test_ukci_national(void)
{
    const char *b = "{\"data\":[{\"from\":\"2018-01-20T12:00Z\",\"to\":\"2018-01-20T12:30Z\","
                    "\"intensity\":{\"forecast\":266,\"actual\":263,\"index\":\"moderate\"}},"
                    "{\"from\":\"2018-01-20T12:30Z\",\"to\":\"2018-01-20T13:00Z\","
                    "\"intensity\":{\"forecast\":270,\"actual\":null,\"index\":\"moderate\"}}]}";
    CHECK(UK(b) == CHASE_OK);
    CHECK(n == 2);
    CHECK(s[0].t == T("2018-01-20T12:00:00Z") && s[0].step_s == 1800);
    CHECK_NEAR(s[0].ci, 263, 0);
    CHECK(s[0].flags == 0);
    CHECK_NEAR(s[1].ci, 270, 0);
    CHECK(s[1].flags == CHASE_SAMPLE_FORECAST);
}

static void test_ukci_regional(void)
{
    const char *arr = "{\"data\":[{\"regionid\":3,\"dnoregion\":\"Electricity North West\",\"shortname\":\"North "
                      "West England\",\"data\":[{\"from\":\"2018-01-20T12:00Z\",\"to\":\"2018-01-20T12:30Z\","
                      "\"intensity\":{\"forecast\":266,\"index\":\"moderate\"},\"generationmix\":[{\"fuel\":\"gas\","
                      "\"perc\":43.6}]}]}]}";
    CHECK(UK(arr) == CHASE_OK);
    CHECK(n == 1 && s[0].flags == CHASE_SAMPLE_FORECAST);
    CHECK_NEAR(s[0].ci, 266, 0);
    CHECK_STR(info.zone, "North West England");
    const char *obj = "{\"data\":{\"regionid\":13,\"shortname\":\"London\",\"postcode\":\"SW1\",\"data\":["
                      "{\"from\":\"2018-01-20T12:00Z\",\"to\":\"2018-01-20T12:30Z\",\"intensity\":{\"forecast\":1}},"
                      "{\"from\":\"2018-01-20T12:30Z\",\"to\":\"2018-01-20T13:00Z\",\"intensity\":{\"forecast\":2}}]}}";
    CHECK(UK(obj) == CHASE_OK && n == 2);
    CHECK_NEAR(s[1].ci, 2, 0);
    CHECK(UK("{\"error\":{\"code\":\"400 Bad Request\",\"message\":\"Please enter a valid postcode\"}}") ==
          CHASE_EFORMAT);
    CHECK(strstr(err.msg, "valid postcode") != NULL);
    CHECK(UK("{\"data\":[]}") == CHASE_ENODATA);
    CHECK(UK("{\"data\":[{\"from\":\"2018-01-20T12:00Z\",\"to\":\"2018-01-20T11:30Z\",\"intensity\":"
             "{\"actual\":5}}]}") == CHASE_ENODATA); /* a period that ends before it starts */
    CHECK(UK("{\"data\":[{\"from\":\"2018-01-20T12:00Z\",\"to\":\"2018-01-20T12:30Z\",\"intensity\":"
             "{\"forecast\":null,\"actual\":null}}]}") == CHASE_ENODATA);
    CHECK(strstr(err.msg, "null") != NULL);
}

int main(void)
{
    RUN(test_em_latest);
    RUN(test_em_history_and_forecast);
    RUN(test_em_bad_values);
    RUN(test_em_malformed);
    RUN(test_em_cap_keeps_newest);
    RUN(test_watttime);
    RUN(test_ukci_national);
    RUN(test_ukci_regional);
    CHECK_DONE();
}
