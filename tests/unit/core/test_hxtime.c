/*
 * Unit tests for src/core/hxtime.c: the RFC 3339 formatter, the forgiving time parser
 * (RFC 3339 with Z or offsets, fractions, date only, "now", relative -90s/-15m/-8h/-7d) and
 * every malformed form we know of, plus the clocks. Pure, no loop. Thread: main.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/hxtime.h"

#include <string.h>

#define SEC HX_USEC_PER_SEC
/* 2026-11-24T10:00:00Z (calendar.timegm). */
#define T_2026_11_24_10 (INT64_C(1795514400) * SEC)
#define NOW             (INT64_C(1795514400) * SEC + 123456)

static int64_t parse_ok(const char *s)
{
    int64_t out = INT64_MIN;
    int rc = hx_time_parse(s, NOW, &out);
    if (rc != 0)
        fail_msg("hx_time_parse('%s') = %d, expected 0", s, rc);
    return out;
}

static void test_hxtime_parse_utc_z(void **state)
{
    (void)state;
    assert_true(parse_ok("2026-11-24T10:00:00Z") == T_2026_11_24_10);
    assert_true(parse_ok("2026-11-24t10:00:00z") == T_2026_11_24_10);
    assert_true(parse_ok("2026-11-24 10:00:00Z") == T_2026_11_24_10);
    assert_true(parse_ok("2026-11-24T10:00Z") == T_2026_11_24_10); /* seconds optional */
    assert_true(parse_ok("1970-01-01T00:00:00Z") == 0);
    assert_true(parse_ok("1969-07-20T20:17:40Z") == INT64_C(-14182940) * SEC);
}

static void test_hxtime_parse_offsets(void **state)
{
    (void)state;
    assert_true(parse_ok("2026-11-24T15:30:00+05:30") == T_2026_11_24_10);
    assert_true(parse_ok("2026-11-24T02:00:00-08:00") == T_2026_11_24_10);
    assert_true(parse_ok("2026-11-24T10:00:00+00:00") == T_2026_11_24_10);
    assert_true(parse_ok("2026-11-24T10:00:00-00:00") == T_2026_11_24_10);
    /* An offset can move the instant to another day. */
    assert_true(parse_ok("2026-11-25T09:00:00+23:00") == T_2026_11_24_10);
}

static void test_hxtime_parse_fractions(void **state)
{
    (void)state;
    assert_true(parse_ok("2026-11-24T10:00:00.5Z") == T_2026_11_24_10 + 500000);
    assert_true(parse_ok("2026-11-24T10:00:00.123456Z") == T_2026_11_24_10 + 123456);
    assert_true(parse_ok("2026-11-24T10:00:00.000001Z") == T_2026_11_24_10 + 1);
    /* Digits past microseconds are dropped, not rounded. */
    assert_true(parse_ok("2026-11-24T10:00:00.1234569Z") == T_2026_11_24_10 + 123456);
    assert_true(parse_ok("2026-11-24T11:00:00.25+01:00") == T_2026_11_24_10 + 250000);
}

static void test_hxtime_parse_date_only(void **state)
{
    (void)state;
    assert_true(parse_ok("2026-11-24") == T_2026_11_24_10 - 10 * 3600 * SEC);
    assert_true(parse_ok("2024-02-29") == INT64_C(1709164800) * SEC); /* leap year */
    assert_true(parse_ok("2000-02-29") == INT64_C(951782400) * SEC);  /* 400-year rule */
    assert_true(parse_ok("0001-01-01") == INT64_C(-62135596800) * SEC);
    assert_true(parse_ok("9999-12-31T23:59:59Z") == INT64_C(253402300799) * SEC);
}

static void test_hxtime_parse_relative_and_now(void **state)
{
    (void)state;
    assert_true(parse_ok("now") == NOW);
    assert_true(parse_ok("-90s") == NOW - 90 * SEC);
    assert_true(parse_ok("-15m") == NOW - 15 * 60 * SEC);
    assert_true(parse_ok("-8h") == NOW - 8 * 3600 * SEC);
    assert_true(parse_ok("-7d") == NOW - 7 * 86400 * SEC);
    assert_true(parse_ok("-0s") == NOW);
    assert_true(parse_ok("-007d") == NOW - 7 * 86400 * SEC);
    assert_true(parse_ok("-1000000000s") == NOW - INT64_C(1000000000) * SEC);
}

static void test_hxtime_parse_rejects_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "2026-13-01",                 /* month 13 */
        "2026-00-10",                 /* month 0 */
        "2026-11-31",                 /* November has 30 days */
        "2026-11-00",                 /* day 0 */
        "2026-01-32",                 /* day 32 */
        "2026-02-29",                 /* not a leap year */
        "1900-02-29",                 /* century, not a leap year */
        "2026-11-24T10:00:00",        /* a time needs a zone */
        "2026-11-24T10:00",           /* a time needs a zone */
        "2026-11-24T10",              /* no minutes */
        "2026-11-24T",                /* T and nothing */
        "2026-11-24Tjunk",            /* not a time */
        "2026-11-24T24:00:00Z",       /* hour 24 */
        "2026-11-24T10:60:00Z",       /* minute 60 */
        "2026-11-24T10:00:61Z",       /* second 61 */
        "2026-11-24T10:00:00.Z",      /* dot without digits */
        "2026-11-24T1:00:00Z",        /* one-digit hour */
        "2026-11-24T10:00:00+5:00",   /* one-digit offset hour */
        "2026-11-24T10:00:00+05",     /* offset without minutes */
        "2026-11-24T10:00:00+0500",   /* offset without colon */
        "2026-11-24T10:00:00+24:00",  /* offset hour 24 */
        "2026-11-24T10:00:00+05:60",  /* offset minute 60 */
        "2026-11-24T10:00:00Zjunk",   /* trailing junk */
        "2026-11-24T10:00:00Z ",      /* trailing space */
        "2026-11-24T10:00:00+05:00x", /* trailing junk after an offset */
        "2026-11-24x",                /* trailing junk after a date */
        "2026-11-24Z",                /* a zone without a time */
        " 2026-11-24",                /* leading space */
        "26-11-24",                   /* two-digit year */
        "2026/11/24",                 /* wrong separator */
        "2026-1-24",                  /* one-digit month */
        "20261124",                   /* basic format */
        "Now",                        /* case matters */
        "now ",                       /* trailing space */
        "-",                          /* sign only */
        "-15",                        /* no unit */
        "-15x",                       /* unknown unit */
        "-15mm",                      /* trailing junk after the unit */
        "-m",                         /* no number */
        "--15m",                      /* double sign */
        "-1.5h",                      /* fractional count */
        "-15 m",                      /* space */
        "+15m",                       /* the future is not relative syntax */
        "-10000000000s",              /* count above 1e9 */
        "-99999999999999999999999d",  /* count that would overflow int64 */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t out = 42;
        int rc = hx_time_parse(bad[i], NOW, &out);
        if (rc != HX_EMALFORMED)
            fail_msg("hx_time_parse('%s') = %d, expected HX_EMALFORMED", bad[i], rc);
        assert_true(out == 42); /* untouched on failure */
    }
    int64_t out;
    assert_int_equal(hx_time_parse(NULL, NOW, &out), HX_EMALFORMED);
}

/* Regression: "-999999999d" is 8.6e19 microseconds; the subtraction used to overflow int64
 * (undefined behaviour, caught by UBSan) and produce a time in the future. */
static void test_hxtime_parse_relative_rejects_overflow(void **state)
{
    int64_t out = 42;
    (void)state;
    assert_int_equal(hx_time_parse("-999999999d", NOW, &out), HX_EMALFORMED);
    assert_int_equal(hx_time_parse("-200000000d", NOW, &out), HX_EMALFORMED);
    /* Overflow in the final subtraction alone. */
    assert_int_equal(hx_time_parse("-1s", INT64_MIN, &out), HX_EMALFORMED);
    assert_true(out == 42);
    /* Large but representable. */
    assert_int_equal(hx_time_parse("-100000000d", NOW, &out), 0);
    assert_true(out == NOW - INT64_C(100000000) * 86400 * SEC);
    assert_int_equal(hx_time_parse("-1000000000h", NOW, &out), 0);
    assert_true(out == NOW - INT64_C(1000000000) * 3600 * SEC);
}

static void test_hxtime_format_known_values(void **state)
{
    char buf[40];
    (void)state;
    hx_time_format_rfc3339(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
    hx_time_format_rfc3339(-1, buf, sizeof(buf));
    assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
    hx_time_format_rfc3339(-SEC, buf, sizeof(buf));
    assert_string_equal(buf, "1969-12-31T23:59:59.000000Z");
    hx_time_format_rfc3339(-SEC - 1, buf, sizeof(buf));
    assert_string_equal(buf, "1969-12-31T23:59:58.999999Z");
    hx_time_format_rfc3339(T_2026_11_24_10 + 123456, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-24T10:00:00.123456Z");
    hx_time_format_rfc3339(INT64_C(-14182940) * SEC, buf, sizeof(buf));
    assert_string_equal(buf, "1969-07-20T20:17:40.000000Z");
    /* Exactly the documented minimum buffer. */
    char small[28];
    hx_time_format_rfc3339(T_2026_11_24_10, small, sizeof(small));
    assert_string_equal(small, "2026-11-24T10:00:00.000000Z");
}

static void test_hxtime_format_round_trip(void **state)
{
    static const int64_t times[] = {
        0,
        1,
        -1,
        999999,
        -999999,
        SEC,
        -SEC,
        -SEC - 1,
        INT64_C(-86400000001),
        T_2026_11_24_10 + 123456,
        INT64_C(1709164800) * SEC + 1,        /* 2024-02-29 */
        INT64_C(951782399) * SEC + 999999,    /* 2000-02-28T23:59:59.999999Z */
        INT64_C(-14182940) * SEC + 500000,    /* 1969 */
        INT64_C(-62135596800) * SEC,          /* 0001-01-01 */
        INT64_C(-62135596800) * SEC + 7,      /* 0001-01-01 plus a little */
        INT64_C(253402300799) * SEC + 999999, /* 9999-12-31T23:59:59.999999Z */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        char buf[40];
        int64_t back = 0;
        hx_time_format_rfc3339(times[i], buf, sizeof(buf));
        int rc = hx_time_parse(buf, NOW, &back);
        if (rc != 0 || back != times[i])
            fail_msg("round trip of %lld via '%s' gave rc %d, %lld", (long long)times[i], buf, rc,
                     (long long)back);
    }
}

/* Regression: the formatter multiplied the floored seconds back by 1e6, which overflows int64
 * for times near INT64_MIN (undefined behaviour, caught by UBSan). */
static void test_hxtime_format_extremes(void **state)
{
    char buf[40];
    (void)state;
    hx_time_format_rfc3339(INT64_MIN, buf, sizeof(buf));
    size_t n = strlen(buf);
    assert_true(n > 8);
    assert_string_equal(buf + n - 8, ".224192Z"); /* INT64_MIN = ...854775808 us, floored */
    hx_time_format_rfc3339(INT64_MAX, buf, sizeof(buf));
    n = strlen(buf);
    assert_true(n > 8);
    assert_string_equal(buf + n - 8, ".775807Z");
}

static void test_hxtime_format_truncates_safely(void **state)
{
    char buf[10];
    (void)state;
    memset(buf, 'x', sizeof(buf));
    hx_time_format_rfc3339(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-0");
    buf[0] = 'q';
    hx_time_format_rfc3339(0, buf, 0); /* len 0 writes nothing */
    assert_int_equal(buf[0], 'q');
}

static void test_hxtime_clocks(void **state)
{
    (void)state;
    int64_t now = hx_time_now_us();
    assert_true(now > INT64_C(1577836800) * SEC); /* after 2020-01-01 */
    int64_t a = hx_time_mono_us(), b = hx_time_mono_us();
    assert_true(b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hxtime_parse_utc_z),
        cmocka_unit_test(test_hxtime_parse_offsets),
        cmocka_unit_test(test_hxtime_parse_fractions),
        cmocka_unit_test(test_hxtime_parse_date_only),
        cmocka_unit_test(test_hxtime_parse_relative_and_now),
        cmocka_unit_test(test_hxtime_parse_rejects_malformed),
        cmocka_unit_test(test_hxtime_parse_relative_rejects_overflow),
        cmocka_unit_test(test_hxtime_format_known_values),
        cmocka_unit_test(test_hxtime_format_round_trip),
        cmocka_unit_test(test_hxtime_format_extremes),
        cmocka_unit_test(test_hxtime_format_truncates_safely),
        cmocka_unit_test(test_hxtime_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
