/*
 * Unit tests for src/security/totp.c: RFC 4226 and RFC 6238 test vectors, the +-1 step
 * window, replay refusal, Base32 (RFC 4648 vectors), the otpauth:// URI and the QR SVG.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "security/totp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t rfc_key[] = "12345678901234567890"; /* 20 bytes (the NUL is not used) */

static void code_at(int64_t t, char out[7])
{
    snprintf(out, 7, "%06u", sec_hotp(rfc_key, 20, (uint64_t)sec_totp_step(t), 6));
}

static void test_hotp_rfc4226_appendix_d(void **state)
{
    (void)state;
    static const uint32_t want[] = {755224, 287082, 359152, 969429, 338314,
                                    254676, 287922, 162583, 399871, 520489};
    for (uint64_t c = 0; c < 10; c++)
        assert_int_equal(sec_hotp(rfc_key, 20, c, 6), want[c]);
}

static void test_totp_rfc6238_appendix_b_sha1(void **state)
{
    (void)state;
    static const struct {
        int64_t t;
        uint32_t code;
    } v[] = {
        {59, 94287082},         {1111111109, 7081804},  {1111111111, 14050471},
        {1234567890, 89005924}, {2000000000, 69279037}, {20000000000, 65353130},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint64_t step = (uint64_t)sec_totp_step(v[i].t);
        assert_int_equal(sec_hotp(rfc_key, 20, step, 8), v[i].code);
        assert_int_equal(sec_hotp(rfc_key, 20, step, 6), v[i].code % 1000000);
    }
}

static void test_totp_verify_accepts_one_step_either_side(void **state)
{
    (void)state;
    const int64_t now = 1234567890;
    char c[7];
    int64_t step = 0;
    for (int d = -1; d <= 1; d++) {
        code_at(now + d * 30, c);
        assert_int_equal(sec_totp_verify(rfc_key, 20, c, now, 0, &step), SEC_TOTP_OK);
        assert_int_equal(step, sec_totp_step(now) + d);
    }
    for (int d = -3; d <= 3; d += 6) {
        code_at(now + d * 30, c);
        assert_int_equal(sec_totp_verify(rfc_key, 20, c, now, 0, &step), SEC_TOTP_BAD);
    }
    code_at(now + 2 * 30, c);
    assert_int_equal(sec_totp_verify(rfc_key, 20, c, now, 0, &step), SEC_TOTP_BAD);
}

static void test_totp_verify_refuses_replay(void **state)
{
    (void)state;
    const int64_t now = 1111111111;
    int64_t step = 0, cur = sec_totp_step(now);
    char c[7];
    code_at(now, c);
    assert_int_equal(sec_totp_verify(rfc_key, 20, c, now, cur - 1, &step), SEC_TOTP_OK);
    assert_int_equal(step, cur);
    /* The same code again, with its step recorded: refused, also 20 s later. */
    assert_int_equal(sec_totp_verify(rfc_key, 20, c, now, cur, &step), SEC_TOTP_REPLAY);
    assert_int_equal(sec_totp_verify(rfc_key, 20, c, now + 20, cur, &step), SEC_TOTP_REPLAY);
    /* An older code after a newer one was used: refused too. */
    code_at(now - 30, c);
    assert_int_equal(sec_totp_verify(rfc_key, 20, c, now, cur, &step), SEC_TOTP_REPLAY);
    /* The next step's code is fresh. */
    code_at(now + 30, c);
    assert_int_equal(sec_totp_verify(rfc_key, 20, c, now, cur, &step), SEC_TOTP_OK);
    assert_int_equal(step, cur + 1);
}

static void test_totp_verify_rejects_malformed_codes(void **state)
{
    (void)state;
    const int64_t now = 59;
    int64_t step;
    assert_int_equal(sec_totp_verify(rfc_key, 20, "287082", now, -1, &step), SEC_TOTP_OK);
    assert_int_equal(sec_totp_verify(rfc_key, 20, "287 082", now, -1, &step), SEC_TOTP_OK);
    const char *bad[] = {"", "28708", "2870822", "28708a", "-28708", "287082\n", "９87082"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sec_totp_verify(rfc_key, 20, bad[i], now, -1, &step), SEC_TOTP_BAD);
    assert_int_equal(sec_totp_verify(rfc_key, 20, NULL, now, -1, &step), SEC_TOTP_BAD);
}

static void test_base32_rfc4648_vectors_and_roundtrip(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } v[] = {{"", ""},
             {"f", "MY"},
             {"fo", "MZXQ"},
             {"foo", "MZXW6"},
             {"foob", "MZXW6YQ"},
             {"fooba", "MZXW6YTB"},
             {"foobar", "MZXW6YTBOI"}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char out[32];
        assert_int_equal(
            sec_base32_encode((const uint8_t *)v[i].in, strlen(v[i].in), out, sizeof(out)), 0);
        assert_string_equal(out, v[i].out);
        uint8_t back[32];
        size_t n = 0;
        assert_int_equal(sec_base32_decode(v[i].out, back, sizeof(back), &n), 0);
        assert_int_equal(n, strlen(v[i].in));
        assert_memory_equal(back, v[i].in, n);
    }
    uint8_t back[32];
    size_t n;
    assert_int_equal(sec_base32_decode("gezd gnbv gy3t qojq gezd gnbv gy3t qojq", back, 32, &n), 0);
    assert_int_equal(n, 20);
    assert_memory_equal(back, rfc_key, 20);
    assert_int_equal(sec_base32_decode("MZ1W", back, 32, &n), HX_EMALFORMED);
    char small[4];
    assert_int_equal(sec_base32_encode(rfc_key, 20, small, sizeof(small)), HX_ETOOBIG);
}

static void test_totp_secret_is_160_bits_and_random(void **state)
{
    (void)state;
    uint8_t a[SEC_TOTP_SECRET_BYTES], b[SEC_TOTP_SECRET_BYTES];
    char ta[SEC_TOTP_B32_MAX], tb[SEC_TOTP_B32_MAX];
    assert_int_equal(sec_totp_secret_generate(a, ta), 0);
    assert_int_equal(sec_totp_secret_generate(b, tb), 0);
    assert_int_equal(strlen(ta), 32);
    assert_memory_not_equal(a, b, sizeof(a));
    uint8_t back[32];
    size_t n;
    assert_int_equal(sec_base32_decode(ta, back, sizeof(back), &n), 0);
    assert_int_equal(n, 20);
    assert_memory_equal(back, a, 20);
}

static void test_totp_uri_has_every_parameter(void **state)
{
    (void)state;
    char uri[SEC_TOTP_URI_MAX];
    assert_int_equal(sec_totp_uri("alice@example.org", "JBSWY3DPEHPK3PXP", uri, sizeof(uri)), 0);
    assert_string_equal(uri, "otpauth://totp/medhub:alice%40example.org?secret=JBSWY3DPEHPK3PXP"
                             "&issuer=medhub&algorithm=SHA1&digits=6&period=30");
    char tiny[40];
    assert_int_equal(sec_totp_uri("alice", "JBSWY3DPEHPK3PXP", tiny, sizeof(tiny)), HX_ETOOBIG);
}

static void test_totp_qr_svg_is_a_plain_svg(void **state)
{
    (void)state;
    char *svg = NULL;
    size_t len = 0;
    assert_int_equal(sec_totp_qr_svg("otpauth://totp/medhub:alice?secret=JBSWY3DPEHPK3PXP&issuer="
                                     "medhub&algorithm=SHA1&digits=6&period=30",
                                     &svg, &len),
                     0);
    assert_non_null(svg);
    assert_int_equal(strlen(svg), len);
    assert_true(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
    assert_non_null(strstr(svg, "</svg>"));
    assert_null(strstr(svg, "script"));
    assert_null(strstr(svg, "href"));
    assert_non_null(strstr(svg, "M4 4h7v1h-7z")); /* the top-left finder pattern's first row */
    free(svg);
    /* Text too long for any QR code. */
    char *big = calloc(8000, 1);
    memset(big, 'a', 7999);
    assert_int_equal(sec_totp_qr_svg(big, &svg, &len), HX_ETOOBIG);
    assert_null(svg);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hotp_rfc4226_appendix_d),
        cmocka_unit_test(test_totp_rfc6238_appendix_b_sha1),
        cmocka_unit_test(test_totp_verify_accepts_one_step_either_side),
        cmocka_unit_test(test_totp_verify_refuses_replay),
        cmocka_unit_test(test_totp_verify_rejects_malformed_codes),
        cmocka_unit_test(test_base32_rfc4648_vectors_and_roundtrip),
        cmocka_unit_test(test_totp_secret_is_160_bits_and_random),
        cmocka_unit_test(test_totp_uri_has_every_parameter),
        cmocka_unit_test(test_totp_qr_svg_is_a_plain_svg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
