/*
 * Unit tests for src/ingest/senml.c and senml_json.c: RFC 8428 JSON examples, base-field
 * carry-over, relative times, bver and must-understand rules, value-field rules, name
 * characters, limits, content-type detection, and the telemetry/status/event normalizers with
 * their exact reason texts (device-facing and log-safe).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "domain/codes.h"
#include "ingest/senml.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAXR 16
#define SEC  INT64_C(1000000)

/* Receiver clock: 100 s after the REFERENCE 3.2 example's base time. */
static const int64_t NOW = INT64_C(1720000100) * SEC;

static struct senml_record recs[MAXR];
static uint8_t scratch[2048];
static struct senml_out out;
static struct senml_error err;
static struct obs obs[MAXR];

static int decode_lim(const char *json, size_t max_recs, size_t scratch_len, size_t max_payload)
{
    memset(recs, 0xa5, sizeof(recs));
    memset(&err, 0, sizeof(err));
    out = (struct senml_out){
        .recs = recs, .max_recs = max_recs, .scratch = scratch, .scratch_len = scratch_len};
    struct senml_opts o = {.now_us = NOW, .max_payload = max_payload};
    return senml_decode_json(slice_cstr(json), &o, &out, &err);
}

static int decode(const char *json)
{
    return decode_lim(json, MAXR, sizeof(scratch), 0);
}

static void assert_slice(struct slice s, const char *want)
{
    if (!slice_eq_cstr(s, want))
        fail_msg("got '%.*s', want '%s'", (int)s.len, s.ptr ? (const char *)s.ptr : "", want);
}

static void assert_close(double got, double want)
{
    if (!(fabs(got - want) <= 1e-9 * fmax(1.0, fabs(want))))
        fail_msg("got %.17g, want %.17g", got, want);
}

/* Decoding must fail with code and this exact reason, identical in both forms. */
static void assert_decode_fails(const char *json, int code, int index, const char *reason)
{
    int rc = decode(json);
    if (rc != code)
        fail_msg("%s: rc %d, want %d (reason '%s')", json, rc, code, err.reason);
    assert_int_equal(out.n_recs, 0);
    assert_int_equal(err.code, code);
    assert_int_equal(err.index, index);
    assert_string_equal(err.reason, reason);
    assert_string_equal(err.log_reason, reason);
}

static size_t to_obs(const char *json, int want_rc, struct senml_obs_stats *st)
{
    assert_int_equal(decode(json), 0);
    size_t n = 99;
    memset(&err, 0, sizeof(err));
    int rc = senml_to_obs(recs, out.n_recs, NOW, obs, &n, st, &err);
    if (rc != want_rc)
        fail_msg("%s: rc %d, want %d (reason '%s')", json, rc, want_rc, err.reason);
    if (rc < 0)
        assert_int_equal(n, 0);
    return n;
}

/* ---- decode ----------------------------------------------------------------------------- */

static void test_senml_json_reference_example(void **state)
{
    (void)state;
    const char *pack = "[{\"bn\":\"urn:dev:mac:0024befffe804ff1/\",\"bt\":1.72e9,\"bu\":\"%\","
                       "\"n\":\"spo2\",\"v\":97},{\"n\":\"pr\",\"u\":\"1/s\",\"v\":1.2,\"t\":-1}]";
    assert_int_equal(decode(pack), 0);
    assert_int_equal(out.n_recs, 2);
    assert_slice(recs[0].name, "urn:dev:mac:0024befffe804ff1/spo2");
    assert_slice(recs[0].unit, "%");
    assert_int_equal(recs[0].kind, SENML_KIND_NUMBER);
    assert_close(recs[0].value, 97);
    assert_int_equal(recs[0].time_us, INT64_C(1720000000) * SEC);
    assert_int_equal(recs[0].bver, 10);
    assert_slice(recs[1].name, "urn:dev:mac:0024befffe804ff1/pr");
    assert_slice(recs[1].unit, "1/s");
    assert_close(recs[1].value, 1.2);
    assert_int_equal(recs[1].time_us, INT64_C(1719999999) * SEC);

    size_t n = 0;
    struct senml_obs_stats st = {.n_nonconformant = 77};
    assert_int_equal(senml_to_obs(recs, out.n_recs, NOW, obs, &n, &st, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(obs[0].code, OBS_CODE_SPO2);
    assert_close(obs[0].value, 97);
    assert_int_equal(obs[0].effective_us, INT64_C(1720000000) * SEC);
    assert_int_equal(obs[0].received_us, NOW);
    assert_int_equal(obs[0].status, OBS_STATUS_FINAL);
    assert_int_equal(obs[0].patient_id, 0);
    assert_int_equal(obs[0].device_id, 0);
    assert_int_equal(obs[1].code, OBS_CODE_PULSE_RATE);
    assert_close(obs[1].value, 72);
    assert_int_equal(obs[1].effective_us, INT64_C(1719999999) * SEC);
    assert_int_equal(st.n_nonconformant, 0);
}

/* RFC 8428 §5.1.1: one datapoint, no time: "roughly now". */
static void test_senml_json_rfc_single_datapoint(void **state)
{
    (void)state;
    assert_int_equal(decode("[{\"n\":\"urn:dev:ow:10e2073a01080063\",\"u\":\"Cel\",\"v\":23.1}]"),
                     0);
    assert_int_equal(out.n_recs, 1);
    assert_slice(recs[0].name, "urn:dev:ow:10e2073a01080063");
    assert_slice(recs[0].unit, "Cel");
    assert_close(recs[0].value, 23.1);
    assert_int_equal(recs[0].time_us, NOW);
    assert_false(recs[0].has_sum);
}

/* RFC 8428 §5.1.3 (multiple measurements): bn, bt, bu carry over; u and t override. */
static void test_senml_json_base_carry_over(void **state)
{
    (void)state;
    const char *pack = "[{\"bn\":\"urn:dev:ow:10e2073a01080063:\",\"bt\":1.320067464e+09,"
                       "\"bu\":\"%RH\",\"v\":20},"
                       "{\"u\":\"lon\",\"v\":24.30621},{\"u\":\"lat\",\"v\":60.07965},"
                       "{\"t\":60,\"v\":20.3},{\"u\":\"lon\",\"t\":60,\"v\":24.30622},"
                       "{\"bn\":\"other/\",\"n\":\"x\",\"t\":120,\"v\":1}]";
    assert_int_equal(decode(pack), 0);
    assert_int_equal(out.n_recs, 6);
    const int64_t bt = INT64_C(1320067464) * SEC;
    assert_slice(recs[0].name, "urn:dev:ow:10e2073a01080063:");
    assert_slice(recs[0].unit, "%RH");
    assert_int_equal(recs[0].time_us, bt);
    assert_slice(recs[1].unit, "lon");
    assert_slice(recs[2].unit, "lat");
    assert_slice(recs[3].unit, "%RH");
    assert_int_equal(recs[3].time_us, bt + 60 * SEC);
    assert_close(recs[3].value, 20.3);
    assert_slice(recs[4].name, "urn:dev:ow:10e2073a01080063:");
    assert_int_equal(recs[4].time_us, bt + 60 * SEC);
    assert_slice(recs[5].name, "other/x");
    assert_slice(recs[5].unit, "%RH");
    assert_int_equal(recs[5].time_us, bt + 120 * SEC);
}

static void test_senml_json_base_value_and_sum(void **state)
{
    (void)state;
    assert_int_equal(decode("[{\"bn\":\"d/\",\"bv\":100,\"bs\":10,\"n\":\"a\",\"v\":1,\"s\":2},"
                            "{\"n\":\"b\",\"v\":-1.5},{\"n\":\"c\",\"s\":5,\"ut\":30}]"),
                     0);
    assert_int_equal(out.n_recs, 3);
    assert_close(recs[0].value, 101);
    assert_true(recs[0].has_sum);
    assert_close(recs[0].sum, 12);
    assert_close(recs[1].value, 98.5);
    assert_false(recs[1].has_sum);
    assert_int_equal(recs[2].kind, SENML_KIND_SUM_ONLY);
    assert_close(recs[2].sum, 15);
    assert_true(recs[2].has_update_time);
    assert_close(recs[2].update_time_s, 30);
}

static void test_senml_json_relative_times(void **state)
{
    (void)state;
    assert_int_equal(decode("[{\"n\":\"a\",\"v\":1,\"t\":-60},{\"n\":\"b\",\"v\":1,\"t\":-0.5},"
                            "{\"bt\":-10,\"n\":\"c\",\"v\":1,\"t\":2},"
                            "{\"bt\":1720000000.123456,\"n\":\"d\",\"v\":1},"
                            "{\"bt\":0,\"n\":\"e\",\"v\":1,\"t\":268435455},"
                            "{\"n\":\"f\",\"v\":1,\"t\":268435456}]"),
                     0);
    assert_int_equal(recs[0].time_us, NOW - 60 * SEC);
    assert_int_equal(recs[1].time_us, NOW - SEC / 2);
    assert_int_equal(recs[2].time_us, NOW - 8 * SEC);
    assert_int_equal(recs[3].time_us, INT64_C(1720000000123456));
    /* 2^28 - 1 is still relative; 2^28 is absolute (RFC 8428 §4.5.3). */
    assert_int_equal(recs[4].time_us, NOW + INT64_C(268435455) * SEC);
    assert_int_equal(recs[5].time_us, INT64_C(268435456) * SEC);
}

static void test_senml_json_bver(void **state)
{
    (void)state;
    assert_int_equal(decode("[{\"bver\":10,\"n\":\"a\",\"v\":1},{\"n\":\"b\",\"v\":2}]"), 0);
    assert_int_equal(recs[1].bver, 10);
    assert_int_equal(
        decode("[{\"bver\":26,\"n\":\"a\",\"v\":1},{\"bver\":26,\"n\":\"b\",\"v\":2}]"), 0);
    assert_int_equal(recs[0].bver, 26);
    assert_int_equal(recs[1].bver, 26);
    assert_decode_fails("[{\"bver\":9,\"n\":\"a\",\"v\":1}]", HX_EMALFORMED, 0,
                        "record 0: bver 9 is below 10");
    assert_decode_fails("[{\"bver\":10.5,\"n\":\"a\",\"v\":1}]", HX_EMALFORMED, 0,
                        "record 0: bver must be an integer");
    assert_decode_fails("[{\"n\":\"a\",\"v\":1},{\"bver\":12,\"n\":\"b\",\"v\":1}]", HX_EMALFORMED,
                        1, "record 1: bver changes within the pack");
}

static void test_senml_json_must_understand(void **state)
{
    (void)state;
    assert_int_equal(decode("[{\"n\":\"a\",\"v\":1,\"foo\":{\"x\":[1]},\"bar\":\"_\"}]"), 0);
    assert_int_equal(out.n_recs, 1);
    assert_decode_fails("[{\"n\":\"a\",\"v\":1},{\"n\":\"b\",\"v\":1,\"foo_\":1}]", HX_EMALFORMED,
                        1, "record 1: unknown must-understand label 'foo_'");
}

static void test_senml_json_duplicate_keys(void **state)
{
    (void)state;
    assert_int_equal(decode("[{\"n\":\"a\",\"v\":1,\"v\":2}]"), HX_EMALFORMED);
    assert_int_equal(err.index, -1);
    assert_int_equal(out.n_recs, 0);
    assert_non_null(strstr(err.reason, "duplicate"));
    /* jansson's text may quote input: it stays out of the log form. */
    assert_string_equal(err.log_reason, "JSON syntax error at line 1 column 19");
}

static void test_senml_json_syntax_error_log_safe(void **state)
{
    (void)state;
    assert_int_equal(decode("[{\"n\":\"spo2\",\"v\":97x}]"), HX_EMALFORMED);
    assert_null(strstr(err.log_reason, "97"));
    assert_non_null(strstr(err.reason, "JSON error at line 1"));
}

static void test_senml_json_value_fields(void **state)
{
    (void)state;
    assert_decode_fails("[{\"n\":\"a\",\"v\":1,\"vs\":\"x\"}]", HX_EMALFORMED, 0,
                        "record 0: has more than one value field (v, vs, vb, vd)");
    assert_decode_fails("[{\"n\":\"a\",\"vb\":true,\"vd\":\"aGk\"}]", HX_EMALFORMED, 0,
                        "record 0: has more than one value field (v, vs, vb, vd)");
    assert_decode_fails("[{\"n\":\"a\",\"v\":1},{\"n\":\"b\",\"u\":\"%\"}]", HX_EMALFORMED, 1,
                        "record 1: has no value (v, vs, vb, vd) and no sum (s)");
    /* bv alone is not a value. */
    assert_decode_fails("[{\"n\":\"a\",\"bv\":1}]", HX_EMALFORMED, 0,
                        "record 0: has no value (v, vs, vb, vd) and no sum (s)");

    assert_int_equal(decode("[{\"n\":\"a\",\"vs\":\"h\\u00e9\"},{\"n\":\"b\",\"vb\":false},"
                            "{\"n\":\"c\",\"vd\":\"aGk\"},{\"n\":\"d\",\"vd\":\"\"}]"),
                     0);
    assert_int_equal(recs[0].kind, SENML_KIND_STRING);
    assert_slice(recs[0].str, "h\xc3\xa9");
    assert_int_equal(recs[1].kind, SENML_KIND_BOOL);
    assert_false(recs[1].vb);
    assert_int_equal(recs[2].kind, SENML_KIND_DATA);
    assert_slice(recs[2].str, "hi");
    assert_int_equal(recs[3].kind, SENML_KIND_DATA);
    assert_int_equal(recs[3].str.len, 0);
}

static void test_senml_json_types(void **state)
{
    (void)state;
    assert_decode_fails("[{\"n\":1,\"v\":1}]", HX_EMALFORMED, 0, "record 0: n must be a string");
    assert_decode_fails("[{\"n\":\"a\",\"v\":\"1\"}]", HX_EMALFORMED, 0,
                        "record 0: v must be a number");
    assert_decode_fails("[{\"n\":\"a\",\"v\":true}]", HX_EMALFORMED, 0,
                        "record 0: v must be a number");
    assert_decode_fails("[{\"n\":\"a\",\"vb\":1}]", HX_EMALFORMED, 0,
                        "record 0: vb must be a boolean");
    assert_decode_fails("[{\"n\":\"a\",\"vd\":\"a\"}]", HX_EMALFORMED, 0,
                        "record 0: vd is not unpadded base64url");
    assert_decode_fails("[{\"n\":\"a\",\"vd\":\"aGk=\"}]", HX_EMALFORMED, 0,
                        "record 0: vd is not unpadded base64url");
    assert_decode_fails("[{\"n\":\"a\",\"vd\":\"aGl\"}]", HX_EMALFORMED, 0,
                        "record 0: vd is not unpadded base64url"); /* non-zero pad bits */
    assert_decode_fails("[{\"n\":\"a\",\"t\":1e300,\"v\":1}]", HX_EMALFORMED, 0,
                        "record 0: t is out of range");
    assert_decode_fails("[{\"n\":\"a\",\"bv\":1e308,\"v\":1e308}]", HX_EMALFORMED, 0,
                        "record 0: value is not finite");
    assert_decode_fails("{\"n\":\"a\",\"v\":1}", HX_EMALFORMED, -1,
                        "a SenML pack must be a JSON array");
    assert_decode_fails("[[1]]", HX_EMALFORMED, 0, "record 0: is not a JSON object");
}

static void test_senml_json_name_rules(void **state)
{
    (void)state;
    assert_int_equal(decode("[{\"bn\":\"urn:dev:x/\",\"v\":1},{\"n\":\"A0:b.c/d_e-f\",\"v\":1}]"),
                     0);
    assert_slice(recs[0].name, "urn:dev:x/");
    assert_slice(recs[1].name, "urn:dev:x/A0:b.c/d_e-f");
    assert_decode_fails("[{\"n\":\"-a\",\"v\":1}]", HX_EMALFORMED, 0,
                        "record 0: name '-a' must start with a letter or digit");
    assert_decode_fails("[{\"n\":\"a b\",\"v\":1}]", HX_EMALFORMED, 0,
                        "record 0: name 'a b' has a character outside A-Z a-z 0-9 - : . / _");
    assert_decode_fails(
        "[{\"bn\":\"dev/\",\"n\":\"caf\\u00e9\",\"v\":1}]", HX_EMALFORMED, 0,
        "record 0: name 'dev/caf?\?' has a character outside A-Z a-z 0-9 - : . / _");
    assert_decode_fails("[{\"v\":1}]", HX_EMALFORMED, 0, "record 0: has no name (n or bn)");
    assert_decode_fails("[{\"bn\":\"\",\"n\":\"\",\"v\":1}]", HX_EMALFORMED, 0,
                        "record 0: has no name (n or bn)");
}

static void test_senml_json_limits(void **state)
{
    (void)state;
    const char *two = "[{\"n\":\"abc\",\"v\":1},{\"n\":\"def\",\"v\":2}]";
    assert_int_equal(decode_lim(two, 2, sizeof(scratch), 0), 0);
    assert_int_equal(decode_lim(two, 1, sizeof(scratch), 0), HX_ETOOBIG);
    assert_string_equal(err.reason, "pack has more than 1 records");
    assert_int_equal(out.n_recs, 0);
    assert_int_equal(decode_lim(two, 2, sizeof(scratch), strlen(two)), 0);
    assert_int_equal(decode_lim(two, 2, sizeof(scratch), strlen(two) - 1), HX_ETOOBIG);
    assert_int_equal(err.index, -1);
    /* Scratch: the JSON strings "abc" and "def" need 6 bytes (used as names without a copy). */
    assert_int_equal(decode_lim(two, 2, 6, 0), 0);
    assert_int_equal(out.scratch_used, 6);
    assert_int_equal(decode_lim(two, 2, 5, 0), HX_ETOOBIG);
    assert_int_equal(err.index, 1);
    /* bn + n is concatenated into scratch: 2 + 1 + 1 + 3 bytes. */
    const char *bn = "[{\"bn\":\"d/\",\"n\":\"a\",\"v\":1}]";
    assert_int_equal(decode_lim(bn, 2, 6, 0), 0);
    assert_int_equal(out.scratch_used, 6);
    assert_slice(recs[0].name, "d/a");
    assert_int_equal(decode_lim(bn, 2, 5, 0), HX_ETOOBIG);
    assert_string_equal(err.reason, "record 0: names exceed the scratch space");
    assert_int_equal(out.n_recs, 0);
    assert_int_equal(decode_lim("[{\"n\":\"a\",\"vs\":\"0123456789\"}]", 2, 5, 0), HX_ETOOBIG);
    assert_string_equal(err.reason, "record 0: strings exceed the scratch space");
    assert_int_equal(decode_lim("[]", 0, 0, 0), 0);
    assert_int_equal(out.n_recs, 0);
}

static void test_senml_format_detect(void **state)
{
    (void)state;
    enum senml_format f = 0;
    struct slice none = slice_make(NULL, 0);
    struct slice js = slice_cstr(" \r\n\t[{}]");
    const uint8_t cb[] = {0x81, 0xa0};
    struct slice cbs = slice_make(cb, sizeof(cb));

    assert_int_equal(senml_format_detect(slice_cstr("application/senml+json"), cbs, &f), 0);
    assert_int_equal(f, SENML_FORMAT_JSON);
    assert_int_equal(senml_format_detect(slice_cstr(" Application/SenML+CBOR ; x=y"), js, &f), 0);
    assert_int_equal(f, SENML_FORMAT_CBOR);
    assert_int_equal(senml_format_detect(slice_cstr("application/json"), cbs, &f), 0);
    assert_int_equal(f, SENML_FORMAT_JSON);
    f = 0;
    assert_int_equal(senml_format_detect(slice_cstr("text/plain"), js, &f), HX_EINVAL);
    assert_int_equal(f, 0);
    assert_int_equal(senml_format_detect(none, js, &f), 0);
    assert_int_equal(f, SENML_FORMAT_JSON);
    assert_int_equal(senml_format_detect(none, cbs, &f), 0);
    assert_int_equal(f, SENML_FORMAT_CBOR);
    const uint8_t top[] = {0x9f}, map[] = {0xa1};
    assert_int_equal(senml_format_detect(none, slice_make(top, 1), &f), 0);
    assert_int_equal(f, SENML_FORMAT_CBOR);
    assert_int_equal(senml_format_detect(none, slice_make(map, 1), &f), HX_EMALFORMED);
    assert_int_equal(senml_format_detect(none, slice_cstr("  {}"), &f), HX_EMALFORMED);
    assert_int_equal(senml_format_detect(none, none, &f), HX_EMALFORMED);

    struct senml_opts o = {.now_us = NOW};
    out = (struct senml_out){
        .recs = recs, .max_recs = MAXR, .scratch = scratch, .scratch_len = sizeof(scratch)};
    assert_int_equal(senml_decode(slice_cstr("text/plain"), js, &o, &out, &err), HX_EINVAL);
    assert_string_equal(err.reason, "unsupported content type 'text/plain'");
    assert_int_equal(senml_decode(none, slice_cstr("{}"), &o, &out, &err), HX_EMALFORMED);
    assert_string_equal(err.reason, "payload is neither a SenML JSON nor a CBOR array");
    assert_int_equal(senml_decode(none, slice_cstr(" [{\"n\":\"hr\",\"v\":60}]"), &o, &out, &err),
                     0);
    assert_int_equal(out.n_recs, 1);
    assert_slice(recs[0].name, "hr");
}

/* ---- telemetry -------------------------------------------------------------------------- */

static void assert_reasons(int index, int code, const char *device, const char *log)
{
    assert_int_equal(err.index, index);
    assert_int_equal(err.code, code);
    assert_string_equal(err.reason, device);
    assert_string_equal(err.log_reason, log);
}

static void test_senml_obs_unknown_name(void **state)
{
    (void)state;
    to_obs("[{\"n\":\"hr\",\"u\":\"1/min\",\"v\":70},{\"n\":\"spo2\",\"u\":\"%\",\"v\":97},"
           "{\"n\":\"heart_rat\",\"u\":\"1/min\",\"v\":70}]",
           HX_EUNKNOWN_CODE, NULL);
    assert_reasons(2, HX_EUNKNOWN_CODE, "record 2: unknown name 'heart_rat'",
                   "record 2: unknown name 'heart_rat'");
}

static void test_senml_obs_bad_unit(void **state)
{
    (void)state;
    to_obs("[{\"n\":\"hr\",\"u\":\"kg\",\"v\":70}]", HX_EUNIT, NULL);
    assert_reasons(0, HX_EUNIT, "record 0: unit 'kg' cannot be converted to /min for Heart rate",
                   "record 0: unit 'kg' cannot be converted to /min for Heart rate");
    /* bu applies when u is absent. */
    to_obs("[{\"bu\":\"Cel\",\"n\":\"weight\",\"v\":70}]", HX_EUNIT, NULL);
    assert_string_equal(err.reason,
                        "record 0: unit 'Cel' cannot be converted to kg for Body weight");
}

static void test_senml_obs_implausible(void **state)
{
    (void)state;
    to_obs("[{\"n\":\"hr\",\"u\":\"1/min\",\"v\":70},{\"n\":\"spo2\",\"u\":\"/\",\"v\":0.36}]",
           HX_ERANGE, NULL);
    assert_reasons(1, HX_ERANGE, "record 1: spo2 36 % is outside the plausible range 50-100",
                   "record 1: spo2 is outside the plausible range 50-100");
    assert_null(strstr(err.log_reason, "36"));
    to_obs("[{\"n\":\"temp\",\"u\":\"Cel\",\"v\":45.5}]", HX_ERANGE, NULL);
    assert_reasons(0, HX_ERANGE,
                   "record 0: temperature 45.5 Cel is outside the plausible range 25-45",
                   "record 0: temperature is outside the plausible range 25-45");
}

static void test_senml_obs_future_time(void **state)
{
    (void)state;
    char pack[256];
    /* NOW + 300 s is the last accepted instant. */
    snprintf(pack, sizeof(pack), "[{\"n\":\"hr\",\"u\":\"1/min\",\"v\":70,\"t\":%lld}]",
             (long long)(NOW / SEC + 300));
    assert_int_equal(to_obs(pack, 0, NULL), 1);
    snprintf(pack, sizeof(pack),
             "[{\"bn\":\"d/\",\"bu\":\"1/min\",\"bt\":%lld,\"n\":\"hr\",\"v\":70},"
             "{\"n\":\"hr\",\"v\":71,\"t\":1},{\"n\":\"hr\",\"v\":72,\"t\":2},"
             "{\"n\":\"hr\",\"v\":73,\"t\":500}]",
             (long long)(NOW / SEC - 100));
    to_obs(pack, HX_ERANGE, NULL);
    assert_reasons(3, HX_ERANGE, "record 3: time is 400 s in the future",
                   "record 3: time is 400 s in the future");
    /* Relative times count from now: 300.5 s ahead rounds up to 301. */
    to_obs("[{\"n\":\"hr\",\"u\":\"1/min\",\"v\":70,\"t\":300.5}]", HX_ERANGE, NULL);
    assert_string_equal(err.reason, "record 0: time is 301 s in the future");
}

static void test_senml_obs_needs_number(void **state)
{
    (void)state;
    to_obs("[{\"n\":\"hr\",\"vs\":\"70\"}]", HX_EMALFORMED, NULL);
    assert_reasons(0, HX_EMALFORMED, "record 0: heart_rate needs a numeric value (v)",
                   "record 0: heart_rate needs a numeric value (v)");
    to_obs("[{\"n\":\"steps\",\"u\":\"count\",\"s\":100}]", HX_EMALFORMED, NULL);
    assert_string_equal(err.reason, "record 0: steps needs a numeric value (v)");
}

static void test_senml_obs_unit_conversions(void **state)
{
    (void)state;
    struct senml_obs_stats st;
    size_t n = to_obs("[{\"bn\":\"urn:dev:mac:01/\",\"n\":\"bp/sys\",\"u\":\"Pa\",\"v\":16000},"
                      "{\"n\":\"hr\",\"u\":\"1/s\",\"v\":1.25},"
                      "{\"n\":\"glu\",\"u\":\"kg/m3\",\"v\":1.1},"
                      "{\"n\":\"spo2\",\"u\":\"/\",\"v\":0.97},"
                      "{\"n\":\"urn:loinc:8310-5\",\"u\":\"K\",\"v\":310.15},"
                      "{\"n\":\"rr\",\"v\":16}]",
                      0, &st);
    assert_int_equal(n, 6);
    assert_int_equal(obs[0].code, OBS_CODE_BP_SYS);
    assert_close(obs[0].value, 16000 / 133.322387415);
    assert_int_equal(obs[1].code, OBS_CODE_HEART_RATE);
    assert_close(obs[1].value, 75);
    assert_int_equal(obs[2].code, OBS_CODE_GLUCOSE);
    assert_close(obs[2].value, 110);
    assert_int_equal(obs[3].code, OBS_CODE_SPO2);
    assert_close(obs[3].value, 97);
    assert_int_equal(obs[4].code, OBS_CODE_TEMPERATURE);
    assert_close(obs[4].value, 37);
    assert_int_equal(obs[5].code, OBS_CODE_RESP_RATE); /* no unit: already canonical */
    assert_close(obs[5].value, 16);
    assert_int_equal(st.n_nonconformant, 0);
}

static void test_senml_obs_nonconformant_count(void **state)
{
    (void)state;
    struct senml_obs_stats st = {.n_nonconformant = 99};
    to_obs("[{\"n\":\"bp_sys\",\"u\":\"mmHg\",\"v\":120},{\"n\":\"hr\",\"u\":\"bpm\",\"v\":70},"
           "{\"n\":\"bp_dia\",\"u\":\"mm[Hg]\",\"v\":80},{\"n\":\"glu\",\"u\":\"mg/dL\",\"v\":90},"
           "{\"n\":\"height\",\"u\":\"cm\",\"v\":170},{\"n\":\"pr\",\"u\":\"1/s\",\"v\":1}]",
           0, &st);
    assert_int_equal(st.n_nonconformant, 5);
    assert_close(obs[0].value, 120);
    assert_close(obs[4].value, 170);
    /* bver 26 enables RFC 8798 secondary units: cm is then conformant. */
    to_obs("[{\"bver\":26,\"n\":\"height\",\"u\":\"cm\",\"v\":170},"
           "{\"n\":\"hr\",\"u\":\"bpm\",\"v\":70}]",
           0, &st);
    assert_int_equal(st.n_nonconformant, 1);
    /* A rejected pack leaves the counters alone. */
    st.n_nonconformant = 42;
    to_obs("[{\"n\":\"hr\",\"u\":\"bpm\",\"v\":70},{\"n\":\"nope\",\"v\":1}]", HX_EUNKNOWN_CODE,
           &st);
    assert_int_equal(st.n_nonconformant, 42);
}

/* ---- status ----------------------------------------------------------------------------- */

static int status(const char *json, struct dev_status_update *st)
{
    assert_int_equal(decode(json), 0);
    memset(&err, 0, sizeof(err));
    return senml_to_status(recs, out.n_recs, st, &err);
}

static void test_senml_status_ok(void **state)
{
    (void)state;
    struct dev_status_update st;
    memset(&st, 0x5a, sizeof(st));
    assert_int_equal(status("[{\"bn\":\"urn:dev:mac:01/\",\"n\":\"battery\",\"u\":\"%EL\","
                            "\"v\":86.6},{\"n\":\"firmware\",\"vs\":\"2.4.1-rc1\"},"
                            "{\"n\":\"rssi\",\"u\":\"dBm\",\"v\":-71}]",
                            &st),
                     0);
    assert_true(st.has_battery);
    assert_int_equal(st.battery_pct, 87);
    assert_true(st.has_firmware);
    assert_string_equal(st.firmware, "2.4.1-rc1");
    assert_true(st.has_rssi);
    assert_int_equal(st.rssi_dbm, -71);
    assert_int_equal(status("[{\"n\":\"battery\",\"u\":\"%EL\",\"v\":0},"
                            "{\"n\":\"battery\",\"u\":\"%EL\",\"v\":100}]",
                            &st),
                     0);
    assert_int_equal(st.battery_pct, 100); /* later record wins */
    assert_false(st.has_firmware);
    assert_false(st.has_rssi);
}

static void test_senml_status_errors(void **state)
{
    (void)state;
    struct dev_status_update st;
    assert_int_equal(status("[{\"n\":\"temp\",\"u\":\"Cel\",\"v\":20}]", &st), HX_EUNKNOWN_CODE);
    assert_reasons(0, HX_EUNKNOWN_CODE, "record 0: unknown status name 'temp'",
                   "record 0: unknown status name 'temp'");
    assert_false(st.has_battery);
    assert_int_equal(status("[{\"n\":\"battery\",\"u\":\"%EL\",\"v\":101}]", &st), HX_ERANGE);
    assert_string_equal(err.reason, "record 0: battery 101 is outside 0..100");
    assert_false(st.has_battery);
    assert_int_equal(status("[{\"n\":\"rssi\",\"u\":\"dBm\",\"v\":-151}]", &st), HX_ERANGE);
    assert_string_equal(err.reason, "record 0: rssi -151 is outside -150..0");
    assert_int_equal(status("[{\"n\":\"rssi\",\"u\":\"dBm\",\"v\":3}]", &st), HX_ERANGE);
    assert_int_equal(status("[{\"n\":\"battery\",\"u\":\"V\",\"v\":3.7}]", &st), HX_EUNIT);
    assert_string_equal(err.reason, "record 0: unit 'V' is not allowed for battery");
    assert_int_equal(status("[{\"n\":\"battery\",\"vs\":\"full\"}]", &st), HX_EMALFORMED);
    assert_string_equal(err.reason, "record 0: battery needs a numeric value (v)");
    assert_int_equal(status("[{\"n\":\"firmware\",\"v\":2}]", &st), HX_EMALFORMED);
    assert_string_equal(err.reason, "record 0: firmware needs a string value (vs)");
    assert_int_equal(status("[{\"n\":\"firmware\",\"vs\":\"\"}]", &st), HX_EMALFORMED);
    assert_string_equal(err.reason, "record 0: firmware must be 1-63 printable ASCII characters");
    assert_int_equal(status("[{\"n\":\"firmware\",\"vs\":\"1.0\\n\"}]", &st), HX_EMALFORMED);
    char pack[200];
    snprintf(pack, sizeof(pack), "[{\"n\":\"firmware\",\"vs\":\"%064d\"}]", 1);
    assert_int_equal(status(pack, &st), HX_EMALFORMED);
    snprintf(pack, sizeof(pack), "[{\"n\":\"firmware\",\"vs\":\"%063d\"}]", 1);
    assert_int_equal(status(pack, &st), 0);
    assert_int_equal(strlen(st.firmware), 63);
}

/* ---- events ----------------------------------------------------------------------------- */

static struct senml_event events[MAXR];

static int evs(const char *json, size_t *n)
{
    assert_int_equal(decode(json), 0);
    memset(&err, 0, sizeof(err));
    *n = 99;
    return senml_to_events(recs, out.n_recs, NOW, events, n, &err);
}

static void test_senml_events_ok(void **state)
{
    (void)state;
    size_t n;
    assert_int_equal(
        evs("[{\"bn\":\"urn:dev:mac:02/\",\"n\":\"pill_taken\",\"vs\":\"am-dose\","
            "\"t\":-30},{\"n\":\"button\",\"vs\":\"sos\"},{\"n\":\"fall\",\"vb\":true},"
            "{\"n\":\"dose_missed\",\"vb\":true}]",
            &n),
        0);
    assert_int_equal(n, 4);
    assert_int_equal(events[0].type, DEV_EVENT_PILL_TAKEN);
    assert_true(events[0].has_text);
    assert_string_equal(events[0].text, "am-dose");
    assert_int_equal(events[0].time_us, NOW - 30 * SEC);
    assert_int_equal(events[1].type, DEV_EVENT_BUTTON);
    assert_string_equal(events[1].text, "sos");
    assert_int_equal(events[2].type, DEV_EVENT_FALL);
    assert_false(events[2].has_text);
    assert_true(events[2].flag);
    assert_int_equal(events[3].type, DEV_EVENT_DOSE_MISSED);
    assert_string_equal(dev_event_name(DEV_EVENT_FALL), "fall");
    assert_string_equal(dev_event_name(0), "unknown");
}

static void test_senml_events_connection_lost(void **state)
{
    (void)state;
    size_t n;
    /* As a Will message: no time, so it is the time medhub receives it. */
    assert_int_equal(evs("[{\"bn\":\"urn:dev:mac:02/\",\"n\":\"connection_lost\",\"vb\":true},"
                         "{\"n\":\"connection_lost\",\"vs\":\"battery-low\",\"t\":-5}]",
                         &n),
                     0);
    assert_int_equal(n, 2);
    assert_int_equal(events[0].type, DEV_EVENT_CONNECTION_LOST);
    assert_false(events[0].has_text);
    assert_true(events[0].flag);
    assert_int_equal(events[0].time_us, NOW);
    assert_int_equal(events[1].type, DEV_EVENT_CONNECTION_LOST);
    assert_true(events[1].has_text);
    assert_string_equal(events[1].text, "battery-low");
    assert_int_equal(events[1].time_us, NOW - 5 * SEC);
    assert_int_equal(evs("[{\"n\":\"connection_lost\",\"v\":1}]", &n), HX_EMALFORMED);
    assert_string_equal(
        err.reason, "record 0: event connection_lost needs a string (vs) or boolean (vb) value");
    assert_string_equal(dev_event_name(DEV_EVENT_CONNECTION_LOST), "connection_lost");
    assert_string_equal(senml_event_name(DEV_EVENT_CONNECTION_LOST), "connection_lost");
    assert_string_equal(senml_event_name((enum dev_event_type)0), "unknown");
}

static void test_senml_events_errors(void **state)
{
    (void)state;
    size_t n;
    assert_int_equal(evs("[{\"n\":\"fall\",\"vb\":true},{\"n\":\"explode\",\"vb\":true}]", &n),
                     HX_EUNKNOWN_CODE);
    assert_int_equal(n, 0);
    assert_reasons(1, HX_EUNKNOWN_CODE, "record 1: unknown event name 'explode'",
                   "record 1: unknown event name 'explode'");
    assert_int_equal(evs("[{\"n\":\"fall\",\"vs\":\"yes\"}]", &n), HX_EMALFORMED);
    assert_string_equal(err.reason, "record 0: event fall needs a boolean value (vb)");
    assert_int_equal(evs("[{\"n\":\"dose_missed\",\"v\":1}]", &n), HX_EMALFORMED);
    assert_string_equal(err.reason,
                        "record 0: event dose_missed needs a string (vs) or boolean (vb) value");
    assert_int_equal(evs("[{\"n\":\"pill_taken\",\"vs\":\"warfarin\\t5mg\"}]", &n), HX_EMALFORMED);
    assert_reasons(0, HX_EMALFORMED,
                   "record 0: text of event pill_taken must be 1-63 printable ASCII characters",
                   "record 0: text of event pill_taken must be 1-63 printable ASCII characters");
    assert_null(strstr(err.log_reason, "warfarin"));
    assert_int_equal(evs("[{\"n\":\"button\",\"vb\":true,\"t\":400}]", &n), HX_ERANGE);
    assert_string_equal(err.reason, "record 0: time is 400 s in the future");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_senml_json_reference_example),
        cmocka_unit_test(test_senml_json_rfc_single_datapoint),
        cmocka_unit_test(test_senml_json_base_carry_over),
        cmocka_unit_test(test_senml_json_base_value_and_sum),
        cmocka_unit_test(test_senml_json_relative_times),
        cmocka_unit_test(test_senml_json_bver),
        cmocka_unit_test(test_senml_json_must_understand),
        cmocka_unit_test(test_senml_json_duplicate_keys),
        cmocka_unit_test(test_senml_json_syntax_error_log_safe),
        cmocka_unit_test(test_senml_json_value_fields),
        cmocka_unit_test(test_senml_json_types),
        cmocka_unit_test(test_senml_json_name_rules),
        cmocka_unit_test(test_senml_json_limits),
        cmocka_unit_test(test_senml_format_detect),
        cmocka_unit_test(test_senml_obs_unknown_name),
        cmocka_unit_test(test_senml_obs_bad_unit),
        cmocka_unit_test(test_senml_obs_implausible),
        cmocka_unit_test(test_senml_obs_future_time),
        cmocka_unit_test(test_senml_obs_needs_number),
        cmocka_unit_test(test_senml_obs_unit_conversions),
        cmocka_unit_test(test_senml_obs_nonconformant_count),
        cmocka_unit_test(test_senml_status_ok),
        cmocka_unit_test(test_senml_status_errors),
        cmocka_unit_test(test_senml_events_ok),
        cmocka_unit_test(test_senml_events_connection_lost),
        cmocka_unit_test(test_senml_events_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
