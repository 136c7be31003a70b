/*
 * Time helpers. Times are int64 microseconds since the Unix epoch (UTC) everywhere in medhub.
 * Thread: any.
 */
#ifndef MEDHUB_CORE_HXTIME_H
#define MEDHUB_CORE_HXTIME_H

#include <stddef.h>
#include <stdint.h>

#define HX_USEC_PER_SEC INT64_C(1000000)

/* Wall clock (CLOCK_REALTIME) in microseconds. */
int64_t hx_time_now_us(void);
/* Monotonic clock in microseconds, for durations and timeouts. */
int64_t hx_time_mono_us(void);

/* Formats t as RFC 3339 UTC with microseconds: 2026-11-24T21:39:42.123456Z.
 * buf needs at least 28 bytes; the output is always NUL-terminated when len > 0. */
void hx_time_format_rfc3339(int64_t t_us, char *buf, size_t len);

/* Parses a user-supplied time: RFC 3339 ("2026-11-24T10:00:00Z", fractional seconds and
 * +hh:mm offsets allowed), a date ("2026-11-24", midnight UTC), "now", or a relative time
 * before now_us ("-90s", "-15m", "-8h", "-7d"). OUT: *out in microseconds.
 * Returns 0 or HX_EMALFORMED. */
int hx_time_parse(const char *s, int64_t now_us, int64_t *out);

#endif
