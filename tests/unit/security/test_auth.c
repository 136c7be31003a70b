/*
 * Unit tests for src/security/auth.c: the login state machine on a temporary store with a
 * fake clock: password then TOTP, recovery codes, MFA enrolment at login, throttling and
 * lockout, identical answers for unknown names, disabled users, sessions and tokens as
 * principals, password changes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/hxtime.h"
#include "security/auth.h"
#include "security/auth_testutil.h"

#include <stdlib.h>

#define PW "a long and good password"

static struct auth_policy pol;
static const struct auth_client client = {.address = "192.0.2.7", .user_agent = "test"};
static const int64_t T0 = INT64_C(1700000000) * T_SEC; /* a multiple of 30 s */

static int setup(void **state)
{
    (void)state;
    sec_password_set_cost_for_tests(1, 8192);
    auth_policy_default(&pol);
    return 0;
}

/* Adds user name with role and PW; with mfa, a provisioned TOTP secret. */
static struct store_user add_user(struct tdb *t, const char *name, const char *role, bool mfa)
{
    struct store_user u = {0};
    snprintf(u.name, sizeof(u.name), "%s", name);
    snprintf(u.role, sizeof(u.role), "%s", role);
    assert_int_equal(sec_password_hash(PW, strlen(PW), u.password_hash), 0);
    if (mfa) {
        struct auth_enrolment e;
        assert_int_equal(auth_mfa_provision(t->st, t->key, &u, T0, &e), 0);
        assert_int_equal(strlen(e.secret), 32);
        assert_non_null(e.svg);
        auth_enrolment_release(&e);
    }
    assert_int_equal(store_user_add(t->st, &u), 0);
    return u;
}

/* The TOTP code of u at time now (+ d steps). */
static void code_for(struct tdb *t, const struct store_user *u, int64_t now, int d, char out[7])
{
    uint8_t raw[SEC_TOTP_SECRET_BYTES];
    assert_int_equal(auth_mfa_secret(t->key, u, raw), 0);
    int64_t step = sec_totp_step(now / T_SEC) + d;
    snprintf(out, 7, "%06u", sec_hotp(raw, sizeof(raw), (uint64_t)step, 6));
}

static void login_pw(struct tdb *t, const char *name, const char *pw, int64_t now,
                     struct auth_login *l)
{
    assert_int_equal(
        auth_login_password(t->st, t->key, &pol, name, pw, strlen(pw), &client, now, l), 0);
}

static void test_auth_password_then_totp(void **state)
{
    (void)state;
    struct tdb t;
    tdb_open(&t);
    struct store_user u = add_user(&t, "nora", "nurse", true);
    struct auth_login l;
    login_pw(&t, "nora", PW, T0, &l);
    assert_int_equal(l.result, AUTH_MFA_REQUIRED);
    assert_int_equal(strlen(l.ticket), 43);
    assert_int_equal(l.session_token[0], '\0');
    char code[7];
    code_for(&t, &u, T0, 0, code);
    struct auth_login l2;
    assert_int_equal(auth_login_totp(t.st, t.key, &pol, l.ticket, code, &client, T0 + T_SEC, &l2),
                     0);
    assert_int_equal(l2.result, AUTH_OK);
    assert_int_equal(l2.role, RBAC_ROLE_NURSE);
    assert_int_equal(strlen(l2.session_token), 43);
    assert_true(auth_csrf_check(t.key, l2.session_token, 43, l2.csrf_token, 64));
    /* The ticket is spent. */
    struct auth_login l3;
    assert_int_equal(auth_login_totp(t.st, t.key, &pol, l.ticket, code, &client, T0 + T_SEC, &l3),
                     0);
    assert_int_equal(l3.result, AUTH_TICKET_INVALID);
    /* The session works as a principal. */
    struct principal p;
    enum sec_session_state st;
    assert_int_equal(
        auth_session_principal(t.st, t.key, &pol, l2.session_token, 43, T0 + 2 * T_SEC, &p, &st),
        0);
    assert_int_equal(st, SEC_SESSION_VALID);
    assert_int_equal(p.user_id, u.id);
    assert_int_equal(p.role, RBAC_ROLE_NURSE);
    assert_string_equal(p.name, "nora");
    assert_int_equal(p.session_id, l2.session.id);
    /* Replay: the same code in a new login is refused, and flagged. */
    login_pw(&t, "nora", PW, T0 + 10 * T_SEC, &l);
    assert_int_equal(l.result, AUTH_MFA_REQUIRED);
    assert_int_equal(
        auth_login_totp(t.st, t.key, &pol, l.ticket, code, &client, T0 + 10 * T_SEC, &l3), 0);
    assert_int_equal(l3.result, AUTH_BAD_CREDENTIALS);
    assert_true(l3.replayed);
    /* The next step's code works on the same ticket. */
    code_for(&t, &u, T0, 1, code);
    assert_int_equal(
        auth_login_totp(t.st, t.key, &pol, l.ticket, code, &client, T0 + 31 * T_SEC, &l3), 0);
    assert_int_equal(l3.result, AUTH_OK);
    /* Logout ends the session. */
    assert_int_equal(auth_logout(t.st, t.key, l2.session_token, 43), 0);
    assert_int_equal(
        auth_session_principal(t.st, t.key, &pol, l2.session_token, 43, T0 + 3 * T_SEC, &p, &st),
        0);
    assert_int_equal(st, SEC_SESSION_UNKNOWN);
    tdb_close(&t);
}

static void test_auth_unknown_user_and_wrong_password_look_alike(void **state)
{
    (void)state;
    struct tdb t;
    tdb_open(&t);
    add_user(&t, "ursula", "clinician", true);
    struct auth_login a, b;
    login_pw(&t, "ursula", "wrong password!!", T0, &a);
    login_pw(&t, "nobody", "wrong password!!", T0, &b);
    assert_int_equal(a.result, AUTH_BAD_CREDENTIALS);
    assert_int_equal(b.result, AUTH_BAD_CREDENTIALS);
    assert_int_equal(a.user_id, 0);
    assert_int_equal(b.user_id, 0);
    assert_int_equal(a.retry_after_us, b.retry_after_us);
    /* Throttling treats both names alike too. */
    for (int i = 0; i < 3; i++) {
        login_pw(&t, "ursula", "wrong password!!", T0, &a);
        login_pw(&t, "nobody", "wrong password!!", T0, &b);
    }
    assert_int_equal(a.result, AUTH_BAD_CREDENTIALS);
    login_pw(&t, "ursula", PW, T0, &a);
    login_pw(&t, "nobody", PW, T0, &b);
    assert_int_equal(a.result, AUTH_THROTTLED);
    assert_int_equal(b.result, AUTH_THROTTLED);
    assert_int_equal(a.retry_after_us, b.retry_after_us);
    tdb_close(&t);
}

/* Milliseconds one failed login of name takes: the least of a few tries (robust against a
 * busy machine). Each try is a day apart so throttling never answers instead. */
static double fastest_ms(struct tdb *t, const char *name, int64_t *clock)
{
    double best = 1e9;
    for (int i = 0; i < 4; i++) {
        struct auth_login l;
        struct auth_client none = {0};
        *clock += 25 * 3600 * T_SEC;
        int64_t t0 = hx_time_mono_us();
        assert_int_equal(auth_login_password(t->st, t->key, &pol, name, "wrong password!!", 16,
                                             &none, *clock, &l),
                         0);
        double ms = (double)(hx_time_mono_us() - t0) / 1000.0;
        assert_int_equal(l.result, AUTH_BAD_CREDENTIALS);
        if (ms < best)
            best = ms;
    }
    return best;
}

static void test_auth_unknown_user_spends_argon2id_time(void **state)
{
    (void)state;
    sec_password_set_cost_for_tests(SEC_ARGON2_OPS, SEC_ARGON2_MEM); /* the real cost */
    struct tdb t;
    tdb_open(&t);
    add_user(&t, "kim", "clinician", false);
    int64_t clock = T0;
    fastest_ms(&t, "ghost", &clock); /* builds the dummy hash at this cost */
    double known = fastest_ms(&t, "kim", &clock), unknown = fastest_ms(&t, "ghost", &clock);
    /* Both pay one Argon2id verification (tens of ms); without the dummy, an unknown name
     * would answer a hundred times faster. */
    assert_true(known > 5.0);
    assert_true(unknown > known * 0.5);
    assert_true(known > unknown * 0.5);
    tdb_close(&t);
    sec_password_set_cost_for_tests(1, 8192);
}

static void test_auth_lockout_after_ten_failures_and_success_resets(void **state)
{
    (void)state;
    struct tdb t;
    tdb_open(&t);
    add_user(&t, "lee", "patient", false); /* no MFA: the password completes the login */
    struct auth_login l;
    struct auth_client no_addr = {0};
    int64_t now = T0;
    /* One failure, then a success: the count is forgotten. */
    assert_int_equal(
        auth_login_password(t.st, t.key, &pol, "lee", "not the password", 16, &no_addr, now, &l),
        0);
    assert_int_equal(l.result, AUTH_BAD_CREDENTIALS);
    assert_int_equal(
        auth_login_password(t.st, t.key, &pol, "lee", PW, strlen(PW), &no_addr, now, &l), 0);
    assert_int_equal(l.result, AUTH_OK);
    /* Ten failures in a row, each after the delay the one before imposed. An attempt made
     * during a delay is refused without a check and does not count. */
    for (int i = 1; i <= 10; i++) {
        assert_int_equal(auth_login_password(t.st, t.key, &pol, "lee", "not the password", 16,
                                             &no_addr, now, &l),
                         0);
        assert_int_equal(l.result, AUTH_BAD_CREDENTIALS);
        if (i >= 4 && i < 10) {
            struct auth_login w;
            assert_int_equal(
                auth_login_password(t.st, t.key, &pol, "lee", PW, strlen(PW), &no_addr, now, &w),
                0);
            assert_int_equal(w.result, AUTH_THROTTLED);
            assert_int_equal(w.retry_after_us, (INT64_C(1) << (i - 4)) * T_SEC);
            now += w.retry_after_us;
        }
    }
    /* Locked: even the right password is refused for 15 minutes. */
    assert_int_equal(
        auth_login_password(t.st, t.key, &pol, "lee", PW, strlen(PW), &no_addr, now, &l), 0);
    assert_int_equal(l.result, AUTH_LOCKED);
    assert_int_equal(l.retry_after_us, 15 * T_MIN);
    now += 15 * T_MIN;
    assert_int_equal(
        auth_login_password(t.st, t.key, &pol, "lee", PW, strlen(PW), &no_addr, now, &l), 0);
    assert_int_equal(l.result, AUTH_OK);
    char key[STORE_THROTTLE_KEY_MAX];
    struct store_throttle th;
    auth_throttle_key_user("lee", key);
    assert_int_equal(store_throttle_get(t.st, key, &th), HX_ENOTFOUND);
    tdb_close(&t);
}

static void test_auth_address_throttle_spans_accounts(void **state)
{
    (void)state;
    struct tdb t;
    tdb_open(&t);
    add_user(&t, "pam", "patient", false);
    struct auth_login l;
    char name[32];
    for (int i = 0; i < 20; i++) { /* password spraying: one guess per name */
        snprintf(name, sizeof(name), "user%d", i);
        login_pw(&t, name, "Summer2026!!", T0, &l);
        assert_int_equal(l.result, AUTH_BAD_CREDENTIALS);
    }
    login_pw(&t, "user99", "Summer2026!!", T0, &l);
    assert_int_equal(l.result, AUTH_BAD_CREDENTIALS); /* the 21st failure sets a delay */
    login_pw(&t, "pam", PW, T0, &l);
    assert_int_equal(l.result, AUTH_THROTTLED);
    /* Another address is not affected. */
    struct auth_client other = {.address = "198.51.100.1"};
    assert_int_equal(auth_login_password(t.st, t.key, &pol, "pam", PW, strlen(PW), &other, T0, &l),
                     0);
    assert_int_equal(l.result, AUTH_OK);
    tdb_close(&t);
}

static void test_auth_disabled_user(void **state)
{
    (void)state;
    struct tdb t;
    tdb_open(&t);
    struct store_user u = add_user(&t, "dora", "patient", false);
    struct auth_login l;
    login_pw(&t, "dora", PW, T0, &l);
    assert_int_equal(l.result, AUTH_OK);
    u.disabled = true;
    assert_int_equal(store_user_update(t.st, &u, STORE_USER_DISABLED, T0), 0);
    struct principal p;
    enum sec_session_state st;
    assert_int_equal(
        auth_session_principal(t.st, t.key, &pol, l.session_token, 43, T0 + T_SEC, &p, &st), 0);
    assert_int_equal(st, SEC_SESSION_UNKNOWN);
    login_pw(&t, "dora", PW, T0, &l);
    assert_int_equal(l.result, AUTH_DISABLED);
    login_pw(&t, "dora", "wrong password!!", T0, &l);
    assert_int_equal(l.result, AUTH_BAD_CREDENTIALS); /* no hint without the password */
    tdb_close(&t);
}

static void test_auth_recovery_code_login(void **state)
{
    (void)state;
    struct tdb t;
    tdb_open(&t);
    struct store_user u = add_user(&t, "rosa", "clinician", true);
    char codes[SEC_RECOVERY_N][SEC_RECOVERY_LEN];
    assert_int_equal(auth_recovery_regenerate(t.st, t.key, u.id, codes), 0);
    struct auth_login l, l2;
    login_pw(&t, "rosa", PW, T0, &l);
    assert_int_equal(l.result, AUTH_MFA_REQUIRED);
    assert_int_equal(
        auth_login_recovery(t.st, t.key, &pol, l.ticket, "zzzz-zzzz-zzzz", &client, T0, &l2), 0);
    assert_int_equal(l2.result, AUTH_BAD_CREDENTIALS);
    assert_int_equal(auth_login_recovery(t.st, t.key, &pol, l.ticket, codes[2], &client, T0, &l2),
                     0);
    assert_int_equal(l2.result, AUTH_OK);
    assert_true(l2.used_recovery_code);
    assert_int_equal(l2.recovery_codes_left, 9);
    login_pw(&t, "rosa", PW, T0, &l);
    assert_int_equal(auth_login_recovery(t.st, t.key, &pol, l.ticket, codes[2], &client, T0, &l2),
                     0);
    assert_int_equal(l2.result, AUTH_BAD_CREDENTIALS); /* used once already */
    tdb_close(&t);
}

static void test_auth_ticket_expires_and_wears_out(void **state)
{
    (void)state;
    struct tdb t;
    tdb_open(&t);
    struct store_user u = add_user(&t, "tom", "clinician", true);
    struct auth_login l, l2;
    char code[7];
    login_pw(&t, "tom", PW, T0, &l);
    code_for(&t, &u, T0 + 5 * T_MIN, 0, code);
    assert_int_equal(
        auth_login_totp(t.st, t.key, &pol, l.ticket, code, &client, T0 + 5 * T_MIN, &l2), 0);
    assert_int_equal(l2.result, AUTH_TICKET_INVALID); /* 5 minutes: expired */
    struct auth_client no_addr = {0};
    assert_int_equal(
        auth_login_password(t.st, t.key, &pol, "tom", PW, strlen(PW), &no_addr, T0, &l), 0);
    int64_t now = T0;
    for (int i = 0; i < AUTH_TICKET_MAX_ATTEMPTS;) {
        assert_int_equal(auth_login_totp(t.st, t.key, &pol, l.ticket, "000000", &no_addr, now, &l2),
                         0);
        if (l2.result == AUTH_THROTTLED) { /* wait: attempts during a delay do not count */
            now += l2.retry_after_us;
            continue;
        }
        assert_int_equal(l2.result, AUTH_BAD_CREDENTIALS);
        i++;
    }
    code_for(&t, &u, now, 0, code);
    assert_int_equal(auth_login_totp(t.st, t.key, &pol, l.ticket, code, &no_addr, now, &l2), 0);
    assert_int_equal(l2.result, AUTH_TICKET_INVALID); /* spent after five wrong codes */
    tdb_close(&t);
}

static void test_auth_must_enrol_then_login(void **state)
{
    (void)state;
    struct tdb t;
    tdb_open(&t);
    add_user(&t, "eve", "security", false); /* MFA required by role, none enrolled */
    struct auth_login l, l2;
    login_pw(&t, "eve", PW, T0, &l);
    assert_int_equal(l.result, AUTH_MUST_ENROL_MFA);
    /* A ticket for enrolment does not accept TOTP login codes. */
    assert_int_equal(auth_login_totp(t.st, t.key, &pol, l.ticket, "123456", &client, T0, &l2), 0);
    assert_int_equal(l2.result, AUTH_TICKET_INVALID);
    struct auth_enrolment e;
    enum auth_result r;
    assert_int_equal(auth_enrol_start(t.st, t.key, &pol, l.ticket, T0, &e, &r), 0);
    assert_int_equal(r, AUTH_OK);
    assert_non_null(strstr(e.uri, "otpauth://totp/medhub:eve?secret="));
    assert_non_null(strstr(e.svg, "<svg"));
    uint8_t raw[32];
    size_t n;
    assert_int_equal(sec_base32_decode(e.secret, raw, sizeof(raw), &n), 0);
    char code[7];
    snprintf(code, 7, "%06u", sec_hotp(raw, n, (uint64_t)sec_totp_step(T0 / T_SEC), 6));
    char codes[SEC_RECOVERY_N][SEC_RECOVERY_LEN];
    assert_int_equal(
        auth_enrol_confirm(t.st, t.key, &pol, l.ticket, "999999", &client, T0, &l2, codes), 0);
    assert_true(l2.result == AUTH_BAD_CREDENTIALS || strcmp(code, "999999") == 0);
    assert_int_equal(auth_enrol_confirm(t.st, t.key, &pol, l.ticket, code, &client, T0, &l2, codes),
                     0);
    assert_int_equal(l2.result, AUTH_OK);
    assert_int_equal(strlen(codes[0]), 14);
    auth_enrolment_release(&e);
    struct store_user u;
    assert_int_equal(store_user_get(t.st, "eve", &u), 0);
    assert_true(u.mfa_enrolled);
    assert_int_equal(u.mfa_pending[0], '\0');
    /* The next login asks for a code, and the enrolment code cannot be replayed. */
    login_pw(&t, "eve", PW, T0 + T_SEC, &l);
    assert_int_equal(l.result, AUTH_MFA_REQUIRED);
    assert_int_equal(auth_login_totp(t.st, t.key, &pol, l.ticket, code, &client, T0 + T_SEC, &l2),
                     0);
    assert_int_equal(l2.result, AUTH_BAD_CREDENTIALS);
    tdb_close(&t);
}

static void test_auth_password_change_and_must_change(void **state)
{
    (void)state;
    struct tdb t;
    tdb_open(&t);
    struct store_user u = add_user(&t, "pia", "patient", false);
    u.must_change_password = true;
    assert_int_equal(store_user_update(t.st, &u, STORE_USER_PASSWORD, T0), 0);
    struct auth_login l, other;
    login_pw(&t, "pia", PW, T0, &l);
    login_pw(&t, "pia", PW, T0, &other);
    assert_int_equal(l.result, AUTH_OK);
    assert_true(l.must_change_password);
    struct principal p;
    enum sec_session_state st;
    assert_int_equal(auth_session_principal(t.st, t.key, &pol, l.session_token, 43, T0, &p, &st),
                     0);
    assert_true(p.must_change_password);
    assert_false(rbac_principal_allows(&p, RBAC_PERM_OBS_READ));
    assert_true(rbac_principal_allows(&p, RBAC_PERM_SELF));
    enum sec_pw_policy why;
    assert_int_equal(auth_password_change(t.st, u.id, "bad old password", 16, "new and better one",
                                          18, l.session.id, T0, &why),
                     HX_EDENIED);
    assert_int_equal(
        auth_password_change(t.st, u.id, PW, strlen(PW), "short", 5, l.session.id, T0, &why),
        HX_EINVAL);
    assert_int_equal(why, SEC_PW_TOO_SHORT);
    assert_int_equal(auth_password_change(t.st, u.id, PW, strlen(PW), "new and better one", 18,
                                          l.session.id, T0, &why),
                     0);
    /* This session stays and may now do everything; the other one ended. */
    assert_int_equal(auth_session_principal(t.st, t.key, &pol, l.session_token, 43, T0, &p, &st),
                     0);
    assert_int_equal(st, SEC_SESSION_VALID);
    assert_false(p.must_change_password);
    assert_int_equal(
        auth_session_principal(t.st, t.key, &pol, other.session_token, 43, T0, &p, &st), 0);
    assert_int_equal(st, SEC_SESSION_UNKNOWN);
    login_pw(&t, "pia", "new and better one", T0, &l);
    assert_int_equal(l.result, AUTH_OK);
    tdb_close(&t);
}

static void test_auth_token_principal(void **state)
{
    (void)state;
    struct tdb t;
    tdb_open(&t);
    struct store_apitoken at = {0};
    snprintf(at.name, sizeof(at.name), "fhir-export");
    snprintf(at.role, sizeof(at.role), "integration");
    snprintf(at.scopes, sizeof(at.scopes), "fhir.read");
    char token[SEC_APITOKEN_STR];
    assert_int_equal(sec_apitoken_create(t.st, t.key, &at, token), 0);
    struct principal p;
    enum sec_apitoken_state st;
    assert_int_equal(auth_token_principal(t.st, t.key, token, strlen(token), T0, &p, &st), 0);
    assert_int_equal(st, SEC_APITOKEN_VALID);
    assert_true(p.is_token);
    assert_int_equal(p.token_id, at.id);
    assert_true(rbac_principal_allows(&p, RBAC_PERM_FHIR_READ));
    assert_false(rbac_principal_allows(&p, RBAC_PERM_INGEST));
    assert_int_equal(auth_token_principal(t.st, t.key, "mhk_nope", 8, T0, &p, &st), 0);
    assert_int_equal(st, SEC_APITOKEN_UNKNOWN);
    tdb_close(&t);
}

static void test_auth_policy_from_config(void **state)
{
    (void)state;
    struct cfg cfg;
    const char *sets[] = {"auth.mfa_roles=admin,patient", "auth.session_idle_s=600"};
    struct cfg_sources src = {.data_dir = "/tmp/nowhere", .overrides = sets, .n_overrides = 2};
    char err[256];
    assert_int_equal(cfg_load(&cfg, &src, err, sizeof(err)), 0);
    struct auth_policy p;
    auth_policy_from_cfg(&cfg, &p);
    assert_true(auth_mfa_required(&p, RBAC_ROLE_ADMIN));
    assert_true(auth_mfa_required(&p, RBAC_ROLE_PATIENT));
    assert_false(auth_mfa_required(&p, RBAC_ROLE_CLINICIAN));
    assert_int_equal(p.session.idle_us, 600 * T_SEC);
    /* The defaults are those of auth_policy_default. */
    struct cfg_sources none = {.data_dir = "/tmp/nowhere"};
    assert_int_equal(cfg_load(&cfg, &none, err, sizeof(err)), 0);
    struct auth_policy d;
    auth_policy_from_cfg(&cfg, &p);
    auth_policy_default(&d);
    assert_memory_equal(&p, &d, sizeof(p));
    for (int r = RBAC_ROLE_ADMIN; r <= RBAC_ROLE_AUDITOR; r++)
        assert_true(auth_mfa_required(&d, (enum rbac_role)r));
    assert_false(auth_mfa_required(&d, RBAC_ROLE_PATIENT));
    assert_false(auth_mfa_required(&d, RBAC_ROLE_INTEGRATION));
    const char *bad[] = {"auth.mfa_roles=admin,doctor"};
    struct cfg_sources b = {.data_dir = "/tmp/nowhere", .overrides = bad, .n_overrides = 1};
    assert_int_equal(cfg_load(&cfg, &b, err, sizeof(err)), HX_ECONFIG);
    assert_non_null(strstr(err, "doctor"));
}

/* User and token names, ward names: the rules `medhub user`, `medhub token` and the REST
 * API share. */
static void test_auth_names_and_wards(void **state)
{
    (void)state;
    assert_true(auth_name_is_valid("nina.w-2_x", false));
    assert_true(auth_name_is_valid("nina@ward", true));
    assert_false(auth_name_is_valid("nina@ward", false));
    const char *bad[] = {"", "a b", "x';--", "\xc3\xbc", "a/b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(auth_name_is_valid(bad[i], true));
    char longname[STORE_USER_NAME_MAX + 1];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[STORE_USER_NAME_MAX] = '\0';
    assert_false(auth_name_is_valid(longname, true));
    longname[STORE_USER_NAME_MAX - 1] = '\0';
    assert_true(auth_name_is_valid(longname, true));
    assert_true(auth_ward_is_valid("Ward 7 (East)"));
    assert_false(auth_ward_is_valid(""));
    assert_false(auth_ward_is_valid("a,b"));
    assert_false(auth_ward_is_valid("a\nb"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_password_then_totp),
        cmocka_unit_test(test_auth_unknown_user_and_wrong_password_look_alike),
        cmocka_unit_test(test_auth_unknown_user_spends_argon2id_time),
        cmocka_unit_test(test_auth_lockout_after_ten_failures_and_success_resets),
        cmocka_unit_test(test_auth_address_throttle_spans_accounts),
        cmocka_unit_test(test_auth_disabled_user),
        cmocka_unit_test(test_auth_recovery_code_login),
        cmocka_unit_test(test_auth_ticket_expires_and_wears_out),
        cmocka_unit_test(test_auth_must_enrol_then_login),
        cmocka_unit_test(test_auth_password_change_and_must_change),
        cmocka_unit_test(test_auth_token_principal),
        cmocka_unit_test(test_auth_policy_from_config),
        cmocka_unit_test(test_auth_names_and_wards),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
