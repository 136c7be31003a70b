/*
 * Unit tests for src/security/session.c and apitoken.c: sessions with idle and absolute
 * expiry on a fake clock, logout, the derived CSRF token; API tokens' format, expiry,
 * revocation and last use.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "security/apitoken.h"
#include "security/auth_testutil.h"
#include "security/session.h"

static const struct sec_session_policy pol = {.idle_us = 15 * T_MIN, .absolute_us = 720 * T_MIN};

static void test_session_idle_timeout(void **state)
{
    (void)state;
    struct tdb t;
    tdb_open(&t);
    struct store_user u = tdb_user(&t, "nina", "nurse");
    int64_t now = 1000 * T_SEC;
    char token[SEC_SECRET_STR];
    struct store_session s, got;
    assert_int_equal(
        sec_session_create(t.st, t.key, u.id, "10.0.0.9", "Firefox", &pol, now, token, &s), 0);
    assert_int_equal(strlen(token), 43);
    assert_null(strstr(s.token_hash, token));
    enum sec_session_state st;
    assert_int_equal(
        sec_session_validate(t.st, t.key, token, strlen(token), &pol, now + 14 * T_MIN, &got, &st),
        0);
    assert_int_equal(st, SEC_SESSION_VALID);
    assert_int_equal(got.id, s.id);
    assert_string_equal(got.address, "10.0.0.9");
    /* 15 minutes without a request: gone, and stays gone. */
    assert_int_equal(
        sec_session_validate(t.st, t.key, token, strlen(token), &pol, now + 15 * T_MIN, &got, &st),
        0);
    assert_int_equal(st, SEC_SESSION_IDLE);
    assert_int_equal(sec_session_validate(t.st, t.key, token, strlen(token), &pol, now, &got, &st),
                     0);
    assert_int_equal(st, SEC_SESSION_UNKNOWN);
    tdb_close(&t);
}

static void test_session_absolute_timeout_despite_activity(void **state)
{
    (void)state;
    struct tdb t;
    tdb_open(&t);
    struct store_user u = tdb_user(&t, "carl", "clinician");
    int64_t now = 1000 * T_SEC;
    char token[SEC_SECRET_STR];
    struct store_session s, got;
    assert_int_equal(sec_session_create(t.st, t.key, u.id, NULL, NULL, &pol, now, token, &s), 0);
    enum sec_session_state st;
    int64_t t_now = now;
    /* Active every 10 minutes for 12 hours. */
    while (t_now + 10 * T_MIN < now + 720 * T_MIN) {
        t_now += 10 * T_MIN;
        assert_int_equal(
            sec_session_validate(t.st, t.key, token, strlen(token), &pol, t_now, &got, &st), 0);
        assert_int_equal(st, SEC_SESSION_VALID);
        assert_true(sec_session_needs_touch(&got, t_now));
        assert_int_equal(store_session_touch(t.st, got.id, t_now), 0);
    }
    assert_int_equal(
        sec_session_validate(t.st, t.key, token, strlen(token), &pol, now + 720 * T_MIN, &got, &st),
        0);
    assert_int_equal(st, SEC_SESSION_EXPIRED);
    tdb_close(&t);
}

static void test_session_pure_state_and_touch(void **state)
{
    (void)state;
    struct store_session s = {.created_us = 0, .last_seen_us = 0, .expires_us = 720 * T_MIN};
    assert_int_equal(sec_session_state(&s, &pol, 0), SEC_SESSION_VALID);
    assert_int_equal(sec_session_state(&s, &pol, 15 * T_MIN - 1), SEC_SESSION_VALID);
    assert_int_equal(sec_session_state(&s, &pol, 15 * T_MIN), SEC_SESSION_IDLE);
    s.last_seen_us = 719 * T_MIN;
    assert_int_equal(sec_session_state(&s, &pol, 720 * T_MIN), SEC_SESSION_EXPIRED);
    /* A shorter absolute limit configured later applies to old sessions too. */
    struct sec_session_policy tight = {.idle_us = 15 * T_MIN, .absolute_us = 60 * T_MIN};
    assert_int_equal(sec_session_state(&s, &tight, 719 * T_MIN + 1), SEC_SESSION_EXPIRED);
    s.last_seen_us = 100 * T_SEC;
    assert_false(sec_session_needs_touch(&s, 159 * T_SEC));
    assert_true(sec_session_needs_touch(&s, 160 * T_SEC));
    assert_string_equal(sec_session_state_name(SEC_SESSION_IDLE), "idle");
}

static void test_session_logout_and_unknown_tokens(void **state)
{
    (void)state;
    struct tdb t;
    tdb_open(&t);
    struct store_user u = tdb_user(&t, "al", "admin");
    char token[SEC_SECRET_STR];
    struct store_session s, got;
    enum sec_session_state st;
    assert_int_equal(sec_session_create(t.st, t.key, u.id, NULL, NULL, &pol, 0, token, &s), 0);
    assert_int_equal(sec_session_logout(t.st, t.key, token, strlen(token)), 0);
    assert_int_equal(sec_session_logout(t.st, t.key, token, strlen(token)), HX_ENOTFOUND);
    assert_int_equal(sec_session_validate(t.st, t.key, token, strlen(token), &pol, 1, &got, &st),
                     0);
    assert_int_equal(st, SEC_SESSION_UNKNOWN);
    assert_int_equal(sec_session_validate(t.st, t.key, "", 0, &pol, 1, &got, &st), 0);
    assert_int_equal(st, SEC_SESSION_UNKNOWN);
    /* Another server key does not find the session. */
    char t2[SEC_SECRET_STR];
    assert_int_equal(sec_session_create(t.st, t.key, u.id, NULL, NULL, &pol, 0, t2, &s), 0);
    uint8_t other[SEC_KEY_LEN];
    memset(other, 1, sizeof(other));
    assert_int_equal(sec_session_validate(t.st, other, t2, strlen(t2), &pol, 1, &got, &st), 0);
    assert_int_equal(st, SEC_SESSION_UNKNOWN);
    tdb_close(&t);
}

static void test_csrf_token_is_derived_and_checked(void **state)
{
    (void)state;
    uint8_t key[SEC_KEY_LEN];
    memset(key, 9, sizeof(key));
    const char *tok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
    char csrf[SEC_HASH_HEX], again[SEC_HASH_HEX], other[SEC_HASH_HEX];
    sec_csrf_token(key, tok, strlen(tok), csrf);
    sec_csrf_token(key, tok, strlen(tok), again);
    assert_string_equal(csrf, again);
    assert_int_equal(strlen(csrf), 64);
    /* Not the session hash: a leaked sessions table gives no CSRF tokens. */
    char hash[SEC_HASH_HEX];
    sec_secret_hash(key, tok, strlen(tok), hash);
    assert_string_not_equal(csrf, hash);
    assert_true(sec_csrf_verify(key, tok, strlen(tok), csrf, 64));
    assert_false(sec_csrf_verify(key, tok, strlen(tok), csrf, 63));
    sec_csrf_token(key, "another token", 13, other);
    assert_false(sec_csrf_verify(key, tok, strlen(tok), other, 64));
    csrf[5] = csrf[5] == '0' ? '1' : '0';
    assert_false(sec_csrf_verify(key, tok, strlen(tok), csrf, 64));
    assert_false(sec_csrf_verify(key, tok, strlen(tok), NULL, 0));
}

static void test_apitoken_lifecycle(void **state)
{
    (void)state;
    struct tdb t;
    tdb_open(&t);
    struct store_apitoken at = {0}, got;
    snprintf(at.name, sizeof(at.name), "lab-gateway");
    snprintf(at.role, sizeof(at.role), "integration");
    snprintf(at.ward, sizeof(at.ward), "7A");
    int64_t now = 2000 * T_SEC;
    at.expires_us = now + 10 * T_MIN;
    char token[SEC_APITOKEN_STR];
    assert_int_equal(sec_apitoken_create(t.st, t.key, &at, token), 0);
    assert_int_equal(strlen(token), SEC_APITOKEN_LEN);
    assert_true(strncmp(token, "mhk_", 4) == 0);
    assert_true(sec_apitoken_is_wellformed(token, strlen(token)));
    assert_false(sec_apitoken_is_wellformed("mhk_short", 9));
    enum sec_apitoken_state st;
    assert_int_equal(sec_apitoken_validate(t.st, t.key, token, strlen(token), now, &got, &st), 0);
    assert_int_equal(st, SEC_APITOKEN_VALID);
    assert_string_equal(got.ward, "7A");
    assert_int_equal(got.last_used_us, now);
    assert_int_equal(store_apitoken_get(t.st, "lab-gateway", &got), 0);
    assert_int_equal(got.last_used_us, now);
    /* A wrong token of the right shape, and one from another key. */
    char wrong[SEC_APITOKEN_STR];
    memcpy(wrong, token, sizeof(wrong));
    wrong[10] = wrong[10] == 'A' ? 'B' : 'A';
    assert_int_equal(sec_apitoken_validate(t.st, t.key, wrong, strlen(wrong), now, &got, &st), 0);
    assert_int_equal(st, SEC_APITOKEN_UNKNOWN);
    assert_int_equal(
        sec_apitoken_validate(t.st, t.key, token, strlen(token), now + 10 * T_MIN, &got, &st), 0);
    assert_int_equal(st, SEC_APITOKEN_EXPIRED);
    assert_int_equal(store_apitoken_revoke(t.st, "lab-gateway", now), 0);
    assert_int_equal(store_apitoken_revoke(t.st, "lab-gateway", now), HX_ENOTFOUND);
    assert_int_equal(sec_apitoken_validate(t.st, t.key, token, strlen(token), now, &got, &st), 0);
    assert_int_equal(st, SEC_APITOKEN_REVOKED);
    /* The name stays taken. */
    struct store_apitoken dup = at;
    assert_int_equal(sec_apitoken_create(t.st, t.key, &dup, token), HX_EEXIST);
    tdb_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_idle_timeout),
        cmocka_unit_test(test_session_absolute_timeout_despite_activity),
        cmocka_unit_test(test_session_pure_state_and_touch),
        cmocka_unit_test(test_session_logout_and_unknown_tokens),
        cmocka_unit_test(test_csrf_token_is_derived_and_checked),
        cmocka_unit_test(test_apitoken_lifecycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
