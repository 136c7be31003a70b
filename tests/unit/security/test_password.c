/*
 * Unit tests for src/security/password.c: Argon2id hashing and verification (cheap test
 * parameters, plus one hash with the real ones), rehash detection, the policy and
 * one-time passwords.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "security/password.h"

#include <string.h>

static void test_password_real_parameters_are_owasp_argon2id(void **state)
{
    (void)state;
    char h[SEC_PASSWORD_HASH_MAX];
    assert_int_equal(sec_password_hash("correct horse battery", 21, h), 0);
    assert_true(strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    assert_true(sec_password_verify(h, "correct horse battery", 21));
    assert_false(sec_password_needs_rehash(h));
}

static int cheap(void **state)
{
    (void)state;
    sec_password_set_cost_for_tests(1, 8192);
    return 0;
}

static int real(void **state)
{
    (void)state;
    sec_password_set_cost_for_tests(SEC_ARGON2_OPS, SEC_ARGON2_MEM);
    return 0;
}

static void test_password_hash_verify_and_salt(void **state)
{
    (void)state;
    char a[SEC_PASSWORD_HASH_MAX], b[SEC_PASSWORD_HASH_MAX];
    assert_int_equal(sec_password_hash("tr0ub4dor&3 horse", 17, a), 0);
    assert_int_equal(sec_password_hash("tr0ub4dor&3 horse", 17, b), 0);
    assert_string_not_equal(a, b); /* random salt */
    assert_true(sec_password_verify(a, "tr0ub4dor&3 horse", 17));
    assert_false(sec_password_verify(a, "tr0ub4dor&3 hors", 16));
    assert_false(sec_password_verify(a, "Tr0ub4dor&3 horse", 17));
    assert_false(sec_password_verify("", "x", 1));
    assert_false(sec_password_verify("$2y$10$notargon", "x", 1));
    assert_false(sec_password_verify(NULL, "x", 1));
    char long_pw[SEC_PASSWORD_MAX + 1];
    memset(long_pw, 'x', sizeof(long_pw));
    assert_int_equal(sec_password_hash(long_pw, sizeof(long_pw), a), HX_EINVAL);
    sec_password_verify_dummy("anything at all", 15); /* must not crash, always fails */
}

static void test_password_needs_rehash_after_parameter_change(void **state)
{
    (void)state;
    char h[SEC_PASSWORD_HASH_MAX];
    assert_int_equal(sec_password_hash("a perfectly good one", 20, h), 0);
    assert_false(sec_password_needs_rehash(h));
    sec_password_set_cost_for_tests(2, 16384);
    assert_true(sec_password_needs_rehash(h));
    assert_true(sec_password_verify(h, "a perfectly good one", 20)); /* old hashes still work */
    sec_password_set_cost_for_tests(1, 8192);
    assert_true(sec_password_needs_rehash("plaintext"));
}

static void test_password_policy(void **state)
{
    (void)state;
    struct {
        const char *pw, *name;
        enum sec_pw_policy want;
    } v[] = {
        {"short", "alice", SEC_PW_TOO_SHORT},
        {"elevenchars", "alice", SEC_PW_TOO_SHORT},
        {"twelve chars", "alice", SEC_PW_OK},
        {"ü-ü-ü-ü-ü-ü", "alice", SEC_PW_TOO_SHORT}, /* 11 characters, 16 bytes */
        {"ü-ü-ü-ü-ü-ü-", "alice", SEC_PW_OK},
        {"aliceanderson", "aliceanderson", SEC_PW_IS_NAME},
        {"my name is Alice!!", "alice", SEC_PW_IS_NAME},
        {"bob is short enough", "bob", SEC_PW_OK}, /* short names are not matched inside */
        {"Password1234", "alice", SEC_PW_COMMON},
        {"123456789012", "alice", SEC_PW_COMMON},
        {"zzzzzzzzzzzzzzzz", "alice", SEC_PW_COMMON},
        {"tab\there is bad", "alice", SEC_PW_CONTROL},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        assert_int_equal(sec_password_policy_check(v[i].pw, strlen(v[i].pw), v[i].name), v[i].want);
    char longer[SEC_PASSWORD_MAX + 1];
    memset(longer, 'q', sizeof(longer));
    longer[5] = 'x';
    assert_int_equal(sec_password_policy_check(longer, sizeof(longer), "alice"), SEC_PW_TOO_LONG);
    assert_int_equal(sec_password_policy_check("with\0nul inside", 15, NULL), SEC_PW_CONTROL);
    assert_non_null(strstr(sec_password_policy_message(SEC_PW_TOO_SHORT), "12"));
}

static void test_password_generate_is_long_and_unambiguous(void **state)
{
    (void)state;
    char a[SEC_PASSWORD_GEN_LEN + 1], b[SEC_PASSWORD_GEN_LEN + 1];
    assert_int_equal(sec_password_generate(a), 0);
    assert_int_equal(sec_password_generate(b), 0);
    assert_int_equal(strlen(a), SEC_PASSWORD_GEN_LEN);
    assert_string_not_equal(a, b);
    assert_int_equal(strcspn(a, "01lIoO"), SEC_PASSWORD_GEN_LEN);
    assert_int_equal(sec_password_policy_check(a, strlen(a), "admin"), SEC_PW_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_password_real_parameters_are_owasp_argon2id, real),
        cmocka_unit_test_setup(test_password_hash_verify_and_salt, cheap),
        cmocka_unit_test_setup(test_password_needs_rehash_after_parameter_change, cheap),
        cmocka_unit_test(test_password_policy),
        cmocka_unit_test(test_password_generate_is_long_and_unambiguous),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
