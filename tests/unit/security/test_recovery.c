/*
 * Unit tests for src/security/recovery.c: code format and entropy, normalization of what
 * people type, keyed hashing, and single use through the store.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "security/auth_testutil.h"
#include "security/recovery.h"

static void test_recovery_codes_format_and_uniqueness(void **state)
{
    (void)state;
    char codes[SEC_RECOVERY_N][SEC_RECOVERY_LEN];
    assert_int_equal(sec_recovery_generate(codes), 0);
    for (int i = 0; i < SEC_RECOVERY_N; i++) {
        assert_int_equal(strlen(codes[i]), 14);
        assert_int_equal(codes[i][4], '-');
        assert_int_equal(codes[i][9], '-');
        char norm[SEC_RECOVERY_CHARS + 1];
        assert_true(sec_recovery_normalize(codes[i], norm));
        assert_int_equal(strspn(norm, "0123456789abcdefghjkmnpqrstvwxyz"), 12);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(codes[i], codes[j]);
    }
}

static void test_recovery_normalize_what_people_type(void **state)
{
    (void)state;
    char n[SEC_RECOVERY_CHARS + 1];
    assert_true(sec_recovery_normalize("ab12-cd34-ef56", n));
    assert_string_equal(n, "ab12cd34ef56");
    assert_true(sec_recovery_normalize("AB12 CD34 EF56", n));
    assert_string_equal(n, "ab12cd34ef56");
    assert_true(sec_recovery_normalize("abI2-cdl4-eFO6", n)); /* i, l -> 1; o -> 0 */
    assert_string_equal(n, "ab12cd14ef06");
    assert_false(sec_recovery_normalize("ab12-cd34-ef5", n));
    assert_false(sec_recovery_normalize("ab12-cd34-ef567", n));
    assert_false(sec_recovery_normalize("ab12-cd34-efu6", n)); /* u is not in the alphabet */
    assert_false(sec_recovery_normalize("", n));
}

static void test_recovery_hash_and_verify(void **state)
{
    (void)state;
    uint8_t key[SEC_KEY_LEN];
    memset(key, 2, sizeof(key));
    char h1[SEC_HASH_HEX], h2[SEC_HASH_HEX];
    assert_true(sec_recovery_hash(key, "ab12-cd34-ef56", h1));
    assert_true(sec_recovery_hash(key, "AB12CD34EF56", h2));
    assert_string_equal(h1, h2);
    assert_true(sec_recovery_verify(key, "ab12 cd34 ef56", h1));
    assert_false(sec_recovery_verify(key, "ab12-cd34-ef57", h1));
    assert_false(sec_recovery_verify(key, "nonsense", h1));
    assert_false(sec_recovery_hash(key, "nonsense", h2));
    key[0] ^= 1;
    assert_false(sec_recovery_verify(key, "ab12-cd34-ef56", h1));
}

static void test_recovery_code_works_once(void **state)
{
    (void)state;
    struct tdb t;
    tdb_open(&t);
    struct store_user u = tdb_user(&t, "rita", "nurse");
    char codes[SEC_RECOVERY_N][SEC_RECOVERY_LEN];
    char hashes[SEC_RECOVERY_N][STORE_HASH_MAX];
    assert_int_equal(sec_recovery_generate(codes), 0);
    for (int i = 0; i < SEC_RECOVERY_N; i++)
        assert_true(sec_recovery_hash(t.key, codes[i], hashes[i]));
    assert_int_equal(store_recovery_set(t.st, u.id, (const char(*)[STORE_HASH_MAX])hashes, 10), 0);
    int64_t left = 0;
    assert_int_equal(store_recovery_count(t.st, u.id, &left), 0);
    assert_int_equal(left, 10);
    char h[SEC_HASH_HEX];
    sec_recovery_hash(t.key, codes[3], h);
    assert_int_equal(store_recovery_use(t.st, u.id, h, 100), 0);
    assert_int_equal(store_recovery_use(t.st, u.id, h, 101), HX_ENOTFOUND);
    assert_int_equal(store_recovery_count(t.st, u.id, &left), 0);
    assert_int_equal(left, 9);
    /* Another user's code does not work for this one. */
    struct store_user v = tdb_user(&t, "vic", "nurse");
    sec_recovery_hash(t.key, codes[4], h);
    assert_int_equal(store_recovery_use(t.st, v.id, h, 100), HX_ENOTFOUND);
    /* A new set replaces the old one. */
    assert_int_equal(store_recovery_set(t.st, u.id, NULL, 0), 0);
    assert_int_equal(store_recovery_use(t.st, u.id, h, 100), HX_ENOTFOUND);
    tdb_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recovery_codes_format_and_uniqueness),
        cmocka_unit_test(test_recovery_normalize_what_people_type),
        cmocka_unit_test(test_recovery_hash_and_verify),
        cmocka_unit_test(test_recovery_code_works_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
