/*
 * Unit tests for src/security/seal.c: AES-256-GCM sealing under purpose keys, bound to
 * associated data; anything altered or misplaced does not open.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "security/seal.h"

#include <string.h>

static void test_seal_roundtrip_and_fresh_nonce(void **state)
{
    (void)state;
    uint8_t key[SEC_KEY_LEN];
    memset(key, 3, sizeof(key));
    const uint8_t secret[20] = "0123456789abcdefghij";
    char a[SEC_SEAL_TEXT_MAX], b[SEC_SEAL_TEXT_MAX];
    assert_int_equal(sec_seal(key, "totp", "alice", secret, 20, a), 0);
    assert_int_equal(sec_seal(key, "totp", "alice", secret, 20, b), 0);
    assert_true(strncmp(a, "v1.", 3) == 0);
    assert_string_not_equal(a, b);
    assert_null(strstr(a, "0123456789"));
    uint8_t out[64];
    size_t n = 0;
    assert_int_equal(sec_unseal(key, "totp", "alice", a, out, sizeof(out), &n), 0);
    assert_int_equal(n, 20);
    assert_memory_equal(out, secret, 20);
}

static void test_seal_refuses_other_key_purpose_aad_or_tampering(void **state)
{
    (void)state;
    uint8_t key[SEC_KEY_LEN], other[SEC_KEY_LEN];
    memset(key, 3, sizeof(key));
    memset(other, 4, sizeof(other));
    char t[SEC_SEAL_TEXT_MAX];
    assert_int_equal(sec_seal(key, "totp", "alice", (const uint8_t *)"secret", 6, t), 0);
    uint8_t out[64];
    size_t n;
    assert_int_equal(sec_unseal(other, "totp", "alice", t, out, sizeof(out), &n), HX_ECORRUPT);
    assert_int_equal(sec_unseal(key, "other", "alice", t, out, sizeof(out), &n), HX_ECORRUPT);
    assert_int_equal(sec_unseal(key, "totp", "mallory", t, out, sizeof(out), &n), HX_ECORRUPT);
    char bad[SEC_SEAL_TEXT_MAX];
    memcpy(bad, t, sizeof(bad));
    bad[10] = bad[10] == 'A' ? 'B' : 'A';
    assert_int_equal(sec_unseal(key, "totp", "alice", bad, out, sizeof(out), &n), HX_ECORRUPT);
    assert_int_equal(sec_unseal(key, "totp", "alice", "v2.abc", out, sizeof(out), &n), HX_ECORRUPT);
    assert_int_equal(sec_unseal(key, "totp", "alice", "v1.!!", out, sizeof(out), &n), HX_ECORRUPT);
    assert_int_equal(sec_unseal(key, "totp", "alice", t, out, 3, &n), HX_ETOOBIG);
    uint8_t big[SEC_SEAL_MAX_PLAIN + 1] = {0};
    assert_int_equal(sec_seal(key, "totp", "alice", big, sizeof(big), t), HX_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_roundtrip_and_fresh_nonce),
        cmocka_unit_test(test_seal_refuses_other_key_purpose_aad_or_tampering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
