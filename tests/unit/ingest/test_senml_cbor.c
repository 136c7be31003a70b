/*
 * Unit tests for src/ingest/senml_cbor.c: CBOR packs built byte by byte (a literal encoding of
 * the REFERENCE 3.2 example, and a small test-side encoder for the rest), integer and text
 * labels, every number encoding, and rejection of tags, indefinite lengths, truncation,
 * trailing bytes, duplicate labels, bad UTF-8 and too-deep nesting. Each CBOR pack that has
 * a JSON twin must resolve to identical records.
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
#include <string.h>

#define MAXR 8
#define SEC  INT64_C(1000000)

static const int64_t NOW = INT64_C(1720000100) * SEC;

static struct senml_record recs[MAXR], jrecs[MAXR];
static uint8_t scratch[1024], jscratch[1024];
static struct senml_out out, jout;
static struct senml_error err;

/* ---- test-side CBOR encoder ------------------------------------------------------------- */

static uint8_t buf[512];
static size_t blen;

static void put(uint8_t x)
{
    assert_true(blen < sizeof(buf));
    buf[blen++] = x;
}

static void head(int major, uint64_t v)
{
    uint8_t m = (uint8_t)(major << 5);
    int n = v < 24 ? 0 : v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
    put((uint8_t)(m | (n == 0 ? v : n == 1 ? 24 : n == 2 ? 25 : n == 4 ? 26 : 27)));
    for (int i = n - 1; i >= 0; i--)
        put((uint8_t)(v >> (8 * i)));
}

static void cb_int(int64_t i)
{
    if (i >= 0)
        head(0, (uint64_t)i);
    else
        head(1, (uint64_t)(-1 - i));
}

static void cb_text(const char *s)
{
    head(3, strlen(s));
    for (size_t i = 0; s[i]; i++)
        put((uint8_t)s[i]);
}

static void cb_f64(double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof(bits));
    put(0xfb);
    for (int i = 7; i >= 0; i--)
        put((uint8_t)(bits >> (8 * i)));
}

static void cb_start(void)
{
    blen = 0;
}

/* ---- decode helpers --------------------------------------------------------------------- */

static int decode_bytes(const uint8_t *p, size_t len, size_t max_recs)
{
    memset(recs, 0xa5, sizeof(recs));
    memset(&err, 0, sizeof(err));
    out = (struct senml_out){
        .recs = recs, .max_recs = max_recs, .scratch = scratch, .scratch_len = sizeof(scratch)};
    struct senml_opts o = {.now_us = NOW};
    return senml_decode_cbor(slice_make(p, len), &o, &out, &err);
}

static int decode_buf(void)
{
    return decode_bytes(buf, blen, MAXR);
}

static void decode_json_twin(const char *json)
{
    jout = (struct senml_out){
        .recs = jrecs, .max_recs = MAXR, .scratch = jscratch, .scratch_len = sizeof(jscratch)};
    struct senml_opts o = {.now_us = NOW};
    struct senml_error e;
    assert_int_equal(
        senml_decode(slice_cstr("application/senml+json"), slice_cstr(json), &o, &jout, &e), 0);
}

static bool slice_same(struct slice a, struct slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* The CBOR records in recs must equal the JSON records in jrecs, field by field. */
static void assert_same_as_json(void)
{
    assert_int_equal(out.n_recs, jout.n_recs);
    for (size_t i = 0; i < out.n_recs; i++) {
        const struct senml_record *c = &recs[i], *j = &jrecs[i];
        if (!slice_same(c->name, j->name) || !slice_same(c->unit, j->unit) ||
            !slice_same(c->str, j->str))
            fail_msg("record %zu: name/unit/str differ", i);
        assert_int_equal(c->time_us, j->time_us);
        assert_int_equal(c->kind, j->kind);
        assert_true(c->value == j->value);
        assert_int_equal(c->vb, j->vb);
        assert_int_equal(c->has_sum, j->has_sum);
        assert_true(c->sum == j->sum);
        assert_int_equal(c->bver, j->bver);
    }
}

static void assert_slice(struct slice s, const char *want)
{
    if (!slice_eq_cstr(s, want))
        fail_msg("got '%.*s', want '%s'", (int)s.len, s.ptr ? (const char *)s.ptr : "", want);
}

static void assert_fails(int code, int index, const char *reason)
{
    int rc = decode_buf();
    if (rc != code)
        fail_msg("rc %d, want %d (reason '%s')", rc, code, err.reason);
    assert_int_equal(out.n_recs, 0);
    assert_int_equal(err.index, index);
    assert_string_equal(err.reason, reason);
    assert_string_equal(err.log_reason, reason);
}

/* ---- tests ------------------------------------------------------------------------------ */

/* REFERENCE 3.2, encoded by hand: bt as a float32 (1.72e9 is exact in binary32), v 97 as a
 * one-byte uint, v 1.2 as a float64, t -1 as a negative int. */
static const uint8_t ref_pack[] = {
    0x82,                                                      /* array(2) */
    0xa5,                                                      /* map(5) */
    0x21, 0x78, 0x1d, 'u',  'r',  'n',  ':',  'd',  'e',  'v', /* -2 bn: text(29) */
    ':',  'm',  'a',  'c',  ':',  '0',  '0',  '2',  '4',  'b',  'e',
    'f',  'f',  'f',  'e',  '8',  '0',  '4',  'f',  'f',  '1',  '/', /* "...0024befffe804ff1/" */
    0x22, 0xfa, 0x4e, 0xcd, 0x0a, 0x3c,                              /* -3 bt: float32 1.72e9 */
    0x23, 0x61, '%',                                                 /* -4 bu: "%" */
    0x00, 0x64, 's',  'p',  'o',  '2',                               /* 0 n: "spo2" */
    0x02, 0x18, 0x61,                                                /* 2 v: 97 */
    0xa4,                                                            /* map(4) */
    0x00, 0x62, 'p',  'r',                                           /* 0 n: "pr" */
    0x01, 0x63, '1',  '/',  's',                                     /* 1 u: "1/s" */
    0x02, 0xfb, 0x3f, 0xf3, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33,      /* 2 v: 1.2 */
    0x06, 0x20,                                                      /* 6 t: -1 */
};

static const char ref_json[] =
    "[{\"bn\":\"urn:dev:mac:0024befffe804ff1/\",\"bt\":1.72e9,\"bu\":\"%\",\"n\":\"spo2\","
    "\"v\":97},{\"n\":\"pr\",\"u\":\"1/s\",\"v\":1.2,\"t\":-1}]";

static void test_senml_cbor_reference_example(void **state)
{
    (void)state;
    assert_int_equal(decode_bytes(ref_pack, sizeof(ref_pack), MAXR), 0);
    assert_int_equal(out.n_recs, 2);
    assert_slice(recs[0].name, "urn:dev:mac:0024befffe804ff1/spo2");
    assert_slice(recs[0].unit, "%");
    assert_true(recs[0].value == 97);
    assert_int_equal(recs[0].time_us, INT64_C(1720000000) * SEC);
    assert_slice(recs[1].name, "urn:dev:mac:0024befffe804ff1/pr");
    assert_slice(recs[1].unit, "1/s");
    assert_true(recs[1].value == 1.2);
    assert_int_equal(recs[1].time_us, INT64_C(1719999999) * SEC);
    decode_json_twin(ref_json);
    assert_same_as_json();

    struct obs o[2];
    size_t n = 0;
    assert_int_equal(senml_to_obs(recs, out.n_recs, NOW, o, &n, NULL, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(o[0].code, OBS_CODE_SPO2);
    assert_true(o[0].value == 97);
    assert_int_equal(o[1].code, OBS_CODE_PULSE_RATE);
    assert_true(fabs(o[1].value - 72) < 1e-9);

    /* The encoder produces the same bytes, so the other tests can trust it. */
    cb_start();
    head(4, 2);
    head(5, 5);
    cb_int(-2);
    cb_text("urn:dev:mac:0024befffe804ff1/");
    cb_int(-3);
    put(0xfa), put(0x4e), put(0xcd), put(0x0a), put(0x3c);
    cb_int(-4);
    cb_text("%");
    cb_int(0);
    cb_text("spo2");
    cb_int(2);
    cb_int(97);
    head(5, 4);
    cb_int(0);
    cb_text("pr");
    cb_int(1);
    cb_text("1/s");
    cb_int(2);
    cb_f64(1.2);
    cb_int(6);
    cb_int(-1);
    assert_int_equal(blen, sizeof(ref_pack));
    assert_memory_equal(buf, ref_pack, sizeof(ref_pack));
}

/* Text labels, every value kind, base value/sum, half and single floats. */
static void test_senml_cbor_text_labels_and_kinds(void **state)
{
    (void)state;
    cb_start();
    head(4, 5);
    head(5, 5); /* {"bn":"d/","bv":10,"bs":1,"n":"a","v":1.5 (half)} */
    cb_text("bn");
    cb_text("d/");
    cb_text("bv");
    cb_int(10);
    cb_text("bs");
    cb_int(1);
    cb_text("n");
    cb_text("a");
    cb_text("v");
    put(0xf9), put(0x3e), put(0x00);
    head(5, 2); /* {0:"b", 3:"on"} */
    cb_int(0);
    cb_text("b");
    cb_int(3);
    cb_text("on");
    head(5, 2); /* {0:"c", 4:true} */
    cb_int(0);
    cb_text("c");
    cb_int(4);
    put(0xf5);
    head(5, 2); /* {0:"d", 8:h'6869'} */
    cb_int(0);
    cb_text("d");
    cb_int(8);
    head(2, 2);
    put('h'), put('i');
    head(5, 3); /* {0:"e", 5:2 , 6: -0.5 (float32)} */
    cb_int(0);
    cb_text("e");
    cb_int(5);
    cb_int(2);
    cb_int(6);
    put(0xfa), put(0xbf), put(0x00), put(0x00), put(0x00);
    assert_int_equal(decode_buf(), 0);
    decode_json_twin("[{\"bn\":\"d/\",\"bv\":10,\"bs\":1,\"n\":\"a\",\"v\":1.5},"
                     "{\"n\":\"b\",\"vs\":\"on\"},{\"n\":\"c\",\"vb\":true},"
                     "{\"n\":\"d\",\"vd\":\"aGk\"},{\"n\":\"e\",\"s\":2,\"t\":-0.5}]");
    assert_same_as_json();
    assert_true(recs[0].value == 11.5);
    assert_int_equal(recs[1].kind, SENML_KIND_STRING);
    assert_slice(recs[1].str, "on");
    assert_true(recs[2].vb);
    assert_slice(recs[3].str, "hi");
    assert_true(recs[4].sum == 3);
    assert_int_equal(recs[4].time_us, NOW - SEC / 2);
}

static void test_senml_cbor_unknown_labels_skipped(void **state)
{
    (void)state;
    cb_start();
    head(4, 1);
    head(5, 4);
    cb_int(0);
    cb_text("hr");
    cb_int(99); /* unknown int label with a nested value */
    head(4, 2);
    head(5, 1);
    cb_int(1);
    head(2, 1);
    put(0);
    cb_f64(1);
    cb_text("foo"); /* unknown text label */
    put(0xf6);      /* null */
    cb_int(2);
    cb_int(60);
    assert_int_equal(decode_buf(), 0);
    assert_int_equal(out.n_recs, 1);
    assert_true(recs[0].value == 60);

    cb_start();
    head(4, 1);
    head(5, 2);
    cb_text("x_");
    cb_int(1);
    cb_int(2);
    cb_int(1);
    assert_fails(HX_EMALFORMED, 0, "record 0: unknown must-understand label 'x_'");
}

static void test_senml_cbor_bver(void **state)
{
    (void)state;
    cb_start();
    head(4, 1);
    head(5, 3);
    cb_int(-1);
    cb_int(9);
    cb_int(0);
    cb_text("a");
    cb_int(2);
    cb_int(1);
    assert_fails(HX_EMALFORMED, 0, "record 0: bver 9 is below 10");
    assert_int_equal(buf[3], 0x09); /* the bver value byte */
    buf[3] = 0x0a;
    assert_int_equal(decode_buf(), 0);
    assert_int_equal(recs[0].bver, 10);
}

static void test_senml_cbor_structure_errors(void **state)
{
    (void)state;
    static const uint8_t indef[] = {0x9f, 0xa1, 0x00, 0x61, 'a', 0xff};
    assert_int_equal(decode_bytes(indef, sizeof(indef), MAXR), HX_EMALFORMED);
    assert_string_equal(err.reason, "CBOR indefinite lengths are not supported");
    static const uint8_t indef_map[] = {0x81, 0xbf, 0xff};
    assert_int_equal(decode_bytes(indef_map, sizeof(indef_map), MAXR), HX_EMALFORMED);
    assert_string_equal(err.reason, "record 0: CBOR indefinite lengths are not supported");
    static const uint8_t tag_top[] = {0xd9, 0xd9, 0xf7, 0x80};
    assert_int_equal(decode_bytes(tag_top, sizeof(tag_top), MAXR), HX_EMALFORMED);
    assert_string_equal(err.reason, "a SenML pack must be a CBOR array");
    static const uint8_t tag_val[] = {0x81, 0xa2, 0x00, 0x61, 'a', 0x02, 0xc1, 0x01};
    assert_int_equal(decode_bytes(tag_val, sizeof(tag_val), MAXR), HX_EMALFORMED);
    assert_string_equal(err.reason, "record 0: CBOR tags are not supported");
    static const uint8_t trunc[] = {0x81, 0xa2, 0x00, 0x63, 'a'};
    assert_int_equal(decode_bytes(trunc, sizeof(trunc), MAXR), HX_EMALFORMED);
    assert_string_equal(err.reason, "record 0: CBOR item is truncated");
    static const uint8_t trailing[] = {0x81, 0xa2, 0x00, 0x61, 'a', 0x02, 0x01, 0x00};
    assert_int_equal(decode_bytes(trailing, sizeof(trailing), MAXR), HX_EMALFORMED);
    assert_string_equal(err.reason, "1 bytes follow the CBOR array");
    assert_int_equal(decode_bytes(trailing, sizeof(trailing) - 1, MAXR), 0);
    static const uint8_t reserved[] = {0x81, 0xbc};
    assert_int_equal(decode_bytes(reserved, sizeof(reserved), MAXR), HX_EMALFORMED);
    assert_string_equal(err.reason, "record 0: CBOR uses a reserved additional-information value");
    static const uint8_t not_map[] = {0x81, 0x01};
    assert_int_equal(decode_bytes(not_map, sizeof(not_map), MAXR), HX_EMALFORMED);
    assert_string_equal(err.reason, "record 0: is not a CBOR map");
    static const uint8_t bytes_key[] = {0x81, 0xa1, 0x41, 'n', 0x01};
    assert_int_equal(decode_bytes(bytes_key, sizeof(bytes_key), MAXR), HX_EMALFORMED);
    assert_string_equal(err.reason, "record 0: map keys must be integers or text strings");
    static const uint8_t huge[] = {0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(decode_bytes(huge, sizeof(huge), MAXR), HX_ETOOBIG);
    assert_string_equal(err.reason, "pack has more than 8 records");
    static const uint8_t huge_map[] = {0x81, 0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(decode_bytes(huge_map, sizeof(huge_map), MAXR), HX_EMALFORMED);
    assert_string_equal(err.reason, "record 0: CBOR item is truncated");
    assert_int_equal(decode_bytes(buf, 0, MAXR), HX_EMALFORMED);
    assert_string_equal(err.reason, "CBOR item is truncated");
}

static void test_senml_cbor_value_errors(void **state)
{
    (void)state;
    static const uint8_t dup[] = {0x81, 0xa3, 0x00, 0x61, 'a', 0x02, 0x01, 0x02, 0x02};
    assert_int_equal(decode_bytes(dup, sizeof(dup), MAXR), HX_EMALFORMED);
    assert_string_equal(err.reason, "record 0: duplicate label 'v'");
    static const uint8_t dup_mixed[] = {0x81, 0xa3, 0x00, 0x61, 'a', 0x02, 0x01, 0x61, 'v', 0x02};
    assert_int_equal(decode_bytes(dup_mixed, sizeof(dup_mixed), MAXR), HX_EMALFORMED);
    assert_string_equal(err.reason, "record 0: duplicate label 'v'");
    static const uint8_t n_int[] = {0x81, 0xa2, 0x00, 0x01, 0x02, 0x01};
    assert_int_equal(decode_bytes(n_int, sizeof(n_int), MAXR), HX_EMALFORMED);
    assert_string_equal(err.reason, "record 0: n must be a text string");
    static const uint8_t vd_text[] = {0x81, 0xa2, 0x00, 0x61, 'a', 0x08, 0x61, 'x'};
    assert_int_equal(decode_bytes(vd_text, sizeof(vd_text), MAXR), HX_EMALFORMED);
    assert_string_equal(err.reason, "record 0: vd must be a byte string");
    static const uint8_t vb_null[] = {0x81, 0xa2, 0x00, 0x61, 'a', 0x04, 0xf6};
    assert_int_equal(decode_bytes(vb_null, sizeof(vb_null), MAXR), HX_EMALFORMED);
    assert_string_equal(err.reason, "record 0: vb must be a boolean");
    static const uint8_t bad_utf8[] = {0x81, 0xa2, 0x00, 0x61, 'a', 0x03, 0x62, 0xc0, 0xaf};
    assert_int_equal(decode_bytes(bad_utf8, sizeof(bad_utf8), MAXR), HX_EMALFORMED);
    assert_string_equal(err.reason,
                        "record 0: CBOR text string is not valid UTF-8 or contains NUL");
    static const uint8_t nul[] = {0x81, 0xa2, 0x00, 0x61, 'a', 0x03, 0x62, 'x', 0x00};
    assert_int_equal(decode_bytes(nul, sizeof(nul), MAXR), HX_EMALFORMED);
    static const uint8_t utf8_ok[] = {0x81, 0xa2, 0x00, 0x61, 'a', 0x03, 0x62, 0xc3, 0xa9};
    assert_int_equal(decode_bytes(utf8_ok, sizeof(utf8_ok), MAXR), 0);
    static const uint8_t nan_v[] = {0x81, 0xa2, 0x00, 0x61, 'a', 0x02, 0xf9, 0x7e, 0x00};
    assert_int_equal(decode_bytes(nan_v, sizeof(nan_v), MAXR), HX_EMALFORMED);
    assert_string_equal(err.reason, "record 0: value is not finite");
    static const uint8_t inf_t[] = {0x81, 0xa3, 0x00, 0x61, 'a', 0x02,
                                    0x01, 0x06, 0xf9, 0x7c, 0x00};
    assert_int_equal(decode_bytes(inf_t, sizeof(inf_t), MAXR), HX_EMALFORMED);
    assert_string_equal(err.reason, "record 0: t is out of range");
    /* A uint beyond INT64_MAX is a (finite) double value. */
    static const uint8_t big[] = {0x81, 0xa2, 0x00, 0x61, 'a',  0x02, 0x1b, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(decode_bytes(big, sizeof(big), MAXR), 0);
    assert_true(recs[0].value == 18446744073709551615.0);
    static const uint8_t bigneg[] = {0x81, 0xa2, 0x00, 0x61, 'a',  0x02, 0x3b, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(decode_bytes(bigneg, sizeof(bigneg), MAXR), 0);
    assert_true(recs[0].value == -18446744073709551616.0);
}

/* {0:"a", 2:1, 50: [[...[0]...]]} with `levels` nested arrays as the unknown label's value. */
static void build_nested(int levels)
{
    cb_start();
    head(4, 1);
    head(5, 3);
    cb_int(0);
    cb_text("a");
    cb_int(2);
    cb_int(1);
    cb_int(50);
    for (int i = 0; i < levels; i++)
        head(4, 1);
    cb_int(0);
}

static void test_senml_cbor_too_deep(void **state)
{
    (void)state;
    build_nested(9);
    assert_fails(HX_EMALFORMED, 0, "record 0: CBOR value nests too deeply");
    build_nested(8);
    assert_int_equal(decode_buf(), 0);
    assert_int_equal(out.n_recs, 1);
}

static void test_senml_cbor_limits_and_detect(void **state)
{
    (void)state;
    assert_int_equal(decode_bytes(ref_pack, sizeof(ref_pack), 1), HX_ETOOBIG);
    assert_string_equal(err.reason, "pack has more than 1 records");
    struct senml_opts o = {.now_us = NOW, .max_payload = sizeof(ref_pack) - 1};
    out = (struct senml_out){
        .recs = recs, .max_recs = MAXR, .scratch = scratch, .scratch_len = sizeof(scratch)};
    struct slice p = slice_make(ref_pack, sizeof(ref_pack));
    assert_int_equal(senml_decode(slice_make(NULL, 0), p, &o, &out, &err), HX_ETOOBIG);
    o.max_payload = sizeof(ref_pack);
    assert_int_equal(senml_decode(slice_make(NULL, 0), p, &o, &out, &err), 0);
    assert_int_equal(out.n_recs, 2);
    /* The base name + name concatenation needs scratch: 29 + 4 and 29 + 2 bytes. */
    out.scratch_len = 64;
    assert_int_equal(senml_decode(slice_cstr("application/senml+cbor"), p, &o, &out, &err), 0);
    assert_int_equal(out.scratch_used, 64);
    out.scratch_len = 63;
    assert_int_equal(senml_decode(slice_cstr("application/senml+cbor"), p, &o, &out, &err),
                     HX_ETOOBIG);
    assert_int_equal(err.index, 1);
    /* Explicit JSON content type on CBOR bytes is a JSON syntax error, not a guess. */
    out.scratch_len = sizeof(scratch);
    assert_int_equal(senml_decode(slice_cstr("application/json"), p, &o, &out, &err),
                     HX_EMALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_senml_cbor_reference_example),
        cmocka_unit_test(test_senml_cbor_text_labels_and_kinds),
        cmocka_unit_test(test_senml_cbor_unknown_labels_skipped),
        cmocka_unit_test(test_senml_cbor_bver),
        cmocka_unit_test(test_senml_cbor_structure_errors),
        cmocka_unit_test(test_senml_cbor_value_errors),
        cmocka_unit_test(test_senml_cbor_too_deep),
        cmocka_unit_test(test_senml_cbor_limits_and_detect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
