/*
 * Wall/monotonic clocks, RFC 3339 formatting and the forgiving time parser used by the CLI.
 * Pure apart from reading the clocks. Layer: core. Thread: any.
 */
#include "core/hxtime.h"
#include "core/err.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t hx_time_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * HX_USEC_PER_SEC + ts.tv_nsec / 1000;
}

int64_t hx_time_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * HX_USEC_PER_SEC + ts.tv_nsec / 1000;
}

void hx_time_format_rfc3339(int64_t t_us, char *buf, size_t len)
{
    if (!len)
        return;
    /* Floor division so that times before 1970 format correctly; adjusting the truncated
     * quotient (rather than multiplying it back) cannot overflow, even at INT64_MIN. */
    int64_t secs = t_us / HX_USEC_PER_SEC;
    int64_t usec = t_us % HX_USEC_PER_SEC;
    if (usec < 0) {
        secs--;
        usec += HX_USEC_PER_SEC;
    }
    time_t tt = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) {
        snprintf(buf, len, "invalid-time");
        return;
    }
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)usec);
}

/* Reads exactly n digits at *p into *out and advances. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's algorithm. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int parse_relative(const char *s, int64_t now_us, int64_t *out)
{
    const char *p = s + 1;
    if (!isdigit((unsigned char)*p))
        return HX_EMALFORMED;
    int64_t n = 0;
    while (isdigit((unsigned char)*p)) {
        n = n * 10 + (*p - '0');
        if (n > INT64_C(1000000000))
            return HX_EMALFORMED;
        p++;
    }
    int64_t unit;
    switch (*p) {
    case 's':
        unit = 1;
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    default:
        return HX_EMALFORMED;
    }
    if (p[1] != '\0')
        return HX_EMALFORMED;
    /* n <= 1e9 and unit <= 86400, so n * unit fits; the microseconds and the subtraction
     * may not (e.g. "-999999999d"), and signed overflow is undefined. */
    int64_t delta, t;
    if (__builtin_mul_overflow(n * unit, HX_USEC_PER_SEC, &delta) ||
        __builtin_sub_overflow(now_us, delta, &t))
        return HX_EMALFORMED;
    *out = t;
    return 0;
}

int hx_time_parse(const char *s, int64_t now_us, int64_t *out)
{
    if (!s || !*s)
        return HX_EMALFORMED;
    if (strcmp(s, "now") == 0) {
        *out = now_us;
        return 0;
    }
    if (s[0] == '-')
        return parse_relative(s, now_us, out);

    const char *p = s;
    int y, mo, d, h = 0, mi = 0, se = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return HX_EMALFORMED;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return HX_EMALFORMED;
    int64_t frac_us = 0, offset_s = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
            return HX_EMALFORMED;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &se))
                return HX_EMALFORMED;
            if (*p == '.') {
                p++;
                if (!isdigit((unsigned char)*p))
                    return HX_EMALFORMED;
                int64_t scale = 100000;
                while (isdigit((unsigned char)*p)) {
                    frac_us += (*p - '0') * scale;
                    scale /= 10;
                    p++;
                }
            }
        }
        if (h > 23 || mi > 59 || se > 60)
            return HX_EMALFORMED;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1, oh, om;
            p++;
            if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59)
                return HX_EMALFORMED;
            offset_s = sign * (oh * 3600 + om * 60);
        } else {
            return HX_EMALFORMED; /* a time of day needs an explicit zone: no local-time guesses */
        }
    }
    if (*p != '\0')
        return HX_EMALFORMED;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset_s;
    *out = secs * HX_USEC_PER_SEC + frac_us;
    return 0;
}
