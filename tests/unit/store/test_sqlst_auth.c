/*
 * Unit tests for src/store/sqlite/sqlst_user.c and sqlst_session.c: the users, sessions,
 * tickets, tokens and throttle rows of schema 5 (store_auth.h contracts).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "store/store_auth.h"
#include "store/store_testutil.h"

#include <stdlib.h>

struct fx {
    struct tdir dir;
    struct store *st;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    tdir_init(&fx->dir);
    char err[256];
    if (store_open(&fx->st, &fx->dir.cfg, STORE_OPEN_CREATE, err, sizeof(err)) < 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    store_close(fx->st);
    tdir_release(&fx->dir);
    free(fx);
    return 0;
}

static struct store_user user(const char *name, const char *role)
{
    struct store_user u = {0};
    snprintf(u.name, sizeof(u.name), "%s", name);
    snprintf(u.role, sizeof(u.role), "%s", role);
    snprintf(u.password_hash, sizeof(u.password_hash), "$argon2id$x");
    return u;
}

static void test_user_add_get_update_mask(void **state)
{
    struct fx *fx = *state;
    struct store_user u = user("amy", "nurse"), got;
    assert_int_equal(store_user_add(fx->st, &u), 0);
    assert_true(u.id > 0 && u.created_us > 0);
    struct store_user dup = user("amy", "admin");
    assert_int_equal(store_user_add(fx->st, &dup), HX_EEXIST);
    assert_int_equal(store_user_get(fx->st, "amy", &got), 0);
    assert_string_equal(got.role, "nurse");
    assert_int_equal(store_user_get(fx->st, "nobody", &got), HX_ENOTFOUND);

    /* Only the masked fields change. */
    struct store_user w = got;
    snprintf(w.role, sizeof(w.role), "clinician");
    snprintf(w.display_name, sizeof(w.display_name), "ignored");
    w.disabled = true;
    assert_int_equal(store_user_update(fx->st, &w, STORE_USER_ROLE | STORE_USER_DISABLED, 77), 0);
    assert_int_equal(store_user_get_by_id(fx->st, u.id, &got), 0);
    assert_string_equal(got.role, "clinician");
    assert_true(got.disabled);
    assert_string_equal(got.display_name, "");
    assert_string_equal(got.password_hash, "$argon2id$x");
    assert_int_equal(got.updated_us, 77);
    w.id = 9999;
    assert_int_equal(store_user_update(fx->st, &w, STORE_USER_ROLE, 78), HX_ENOTFOUND);

    int64_t n = -1;
    assert_int_equal(store_user_count_role(fx->st, "clinician", false, &n), 0);
    assert_int_equal(n, 0); /* disabled */
    assert_int_equal(store_user_count_role(fx->st, "clinician", true, &n), 0);
    assert_int_equal(n, 1);
}

static void test_user_mfa_step_is_compare_and_set(void **state)
{
    struct fx *fx = *state;
    struct store_user u = user("bea", "clinician");
    assert_int_equal(store_user_add(fx->st, &u), 0);
    assert_int_equal(store_user_use_mfa_step(fx->st, u.id, 100), 0);
    assert_int_equal(store_user_use_mfa_step(fx->st, u.id, 100), HX_EEXIST);
    assert_int_equal(store_user_use_mfa_step(fx->st, u.id, 99), HX_EEXIST);
    assert_int_equal(store_user_use_mfa_step(fx->st, u.id, 101), 0);
    assert_int_equal(store_user_use_mfa_step(fx->st, 4242, 5), HX_ENOTFOUND);
}

static int count_cb(void *arg, const char *ward)
{
    (void)ward;
    ++*(int *)arg;
    return 0;
}

static void test_wards_and_caseload(void **state)
{
    struct fx *fx = *state;
    struct store_user u = user("cal", "clinician");
    assert_int_equal(store_user_add(fx->st, &u), 0);
    assert_int_equal(store_user_ward_add(fx->st, u.id, "7A"), 0);
    assert_int_equal(store_user_ward_add(fx->st, u.id, "7A"), HX_EEXIST);
    assert_int_equal(store_user_ward_add(fx->st, 4242, "7A"), HX_ENOTFOUND);
    assert_int_equal(store_user_ward_add(fx->st, u.id, "7B"), 0);
    int n = 0;
    assert_int_equal(store_user_ward_list(fx->st, u.id, count_cb, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(store_user_ward_remove(fx->st, u.id, "7B"), 0);
    assert_int_equal(store_user_ward_remove(fx->st, u.id, "7B"), HX_ENOTFOUND);

    struct patient p = tpatient("M1", "x", "", "");
    assert_int_equal(store_patient_add(fx->st, &p), 0);
    assert_int_equal(store_user_patient_add(fx->st, u.id, p.id), 0);
    assert_int_equal(store_user_patient_add(fx->st, u.id, p.id), HX_EEXIST);
    assert_int_equal(store_user_patient_add(fx->st, u.id, 4242), HX_ENOTFOUND);
    bool has = false;
    assert_int_equal(store_user_has_patient(fx->st, u.id, p.id, &has), 0);
    assert_true(has);
    assert_int_equal(store_user_patient_remove(fx->st, u.id, p.id), 0);
    assert_int_equal(store_user_has_patient(fx->st, u.id, p.id, &has), 0);
    assert_false(has);
}

static void test_tickets_attempts_and_single_use(void **state)
{
    struct fx *fx = *state;
    struct store_user u = user("dan", "nurse");
    assert_int_equal(store_user_add(fx->st, &u), 0);
    struct store_ticket t = {
        .user_id = u.id, .kind = STORE_TICKET_MFA, .created_us = 1, .expires_us = 100};
    snprintf(t.token_hash, sizeof(t.token_hash), "%064d", 1);
    assert_int_equal(store_ticket_add(fx->st, &t), 0);
    int attempts = 0;
    assert_int_equal(store_ticket_attempt(fx->st, t.token_hash, &attempts), 0);
    assert_int_equal(attempts, 1);
    assert_int_equal(store_ticket_attempt(fx->st, t.token_hash, &attempts), 0);
    assert_int_equal(attempts, 2);
    struct store_ticket got;
    assert_int_equal(store_ticket_get(fx->st, t.token_hash, &got), 0);
    assert_int_equal(got.attempts, 2);
    assert_int_equal(got.kind, STORE_TICKET_MFA);
    assert_int_equal(store_ticket_delete(fx->st, t.token_hash), 0);
    assert_int_equal(store_ticket_delete(fx->st, t.token_hash), HX_ENOTFOUND);
    assert_int_equal(store_ticket_attempt(fx->st, t.token_hash, &attempts), HX_ENOTFOUND);
}

static void test_sessions_delete_and_purge(void **state)
{
    struct fx *fx = *state;
    struct store_user u = user("eli", "nurse"), v = user("fay", "nurse");
    assert_int_equal(store_user_add(fx->st, &u), 0);
    assert_int_equal(store_user_add(fx->st, &v), 0);
    struct store_session s[4];
    for (int i = 0; i < 4; i++) {
        s[i] = (struct store_session){.user_id = i < 3 ? u.id : v.id,
                                      .created_us = 10,
                                      .last_seen_us = 10 + i * 100,
                                      .expires_us = i == 2 ? 50 : 10000};
        snprintf(s[i].token_hash, sizeof(s[i].token_hash), "%064d", 10 + i);
        assert_int_equal(store_session_add(fx->st, &s[i]), 0);
    }
    /* Deleting another user's session by id fails. */
    assert_int_equal(store_session_delete(fx->st, s[3].id, u.id), HX_ENOTFOUND);
    assert_int_equal(store_session_touch(fx->st, s[0].id, 500), 0);
    assert_int_equal(store_session_touch(fx->st, s[0].id, 400), 0); /* never moves back */
    struct store_session got;
    assert_int_equal(store_session_get(fx->st, s[0].token_hash, &got), 0);
    assert_int_equal(got.last_seen_us, 500);
    /* Purge at 60 with idle cutoff 150: s[1] (seen 110) idle, s[2] expired (50). */
    size_t n = 0;
    assert_int_equal(store_session_purge(fx->st, 60, 150, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(store_session_get(fx->st, s[1].token_hash, &got), HX_ENOTFOUND);
    assert_int_equal(store_session_delete_user(fx->st, u.id, s[0].id, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_session_delete_user(fx->st, u.id, 0, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(store_session_get(fx->st, s[3].token_hash, &got), 0);
}

static void test_throttle_rows(void **state)
{
    struct fx *fx = *state;
    struct store_throttle t = {.failures = 4,
                               .last_failure_us = 5,
                               .next_allowed_us = 6,
                               .locked_until_us = 7},
                          got;
    assert_int_equal(store_throttle_get(fx->st, "user:x", &got), HX_ENOTFOUND);
    assert_int_equal(store_throttle_put(fx->st, "user:x", &t), 0);
    t.failures = 5;
    assert_int_equal(store_throttle_put(fx->st, "user:x", &t), 0);
    assert_int_equal(store_throttle_get(fx->st, "user:x", &got), 0);
    assert_int_equal(got.failures, 5);
    assert_int_equal(got.locked_until_us, 7);
    assert_int_equal(store_throttle_delete(fx->st, "user:x"), 0);
    assert_int_equal(store_throttle_delete(fx->st, "user:x"), 0);
    assert_int_equal(store_throttle_get(fx->st, "user:x", &got), HX_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_user_add_get_update_mask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_mfa_step_is_compare_and_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wards_and_caseload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tickets_attempts_and_single_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions_delete_and_purge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throttle_rows, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
