/*
 * Unit tests for src/security/throttle.c: the delay schedule, lockout and ageing, with a
 * fake clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "security/throttle.h"

#define S INT64_C(1000000)

static const struct sec_throttle_policy account = {
    .free_failures = 3,
    .base_delay_us = S,
    .max_delay_us = 900 * S,
    .lock_after = 10,
    .lock_duration_us = 900 * S,
    .reset_after_us = 86400 * S,
};

static void test_throttle_schedule_free_then_doubling_then_capped(void **state)
{
    (void)state;
    const int64_t want[] = {0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900};
    for (int64_t n = 0; n < (int64_t)(sizeof(want) / sizeof(want[0])); n++)
        assert_int_equal(sec_throttle_delay_us(&account, n), want[n] * S);
    assert_int_equal(sec_throttle_delay_us(&account, 1000000), 900 * S);
}

static void test_throttle_delays_then_locks_after_ten_failures(void **state)
{
    (void)state;
    struct sec_throttle t = {0};
    int64_t now = 1000 * S, wait = -1;
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(sec_throttle_check(&t, &account, now, &wait), SEC_THROTTLE_OPEN);
        sec_throttle_fail(&t, &account, now);
    }
    assert_int_equal(sec_throttle_check(&t, &account, now, &wait), SEC_THROTTLE_OPEN);
    sec_throttle_fail(&t, &account, now); /* 4th: 1 s */
    assert_int_equal(sec_throttle_check(&t, &account, now, &wait), SEC_THROTTLE_DELAYED);
    assert_int_equal(wait, S);
    assert_int_equal(sec_throttle_check(&t, &account, now + S, &wait), SEC_THROTTLE_OPEN);
    for (int i = 5; i <= 9; i++) {
        now = t.next_allowed_us;
        sec_throttle_fail(&t, &account, now);
        assert_int_equal(sec_throttle_check(&t, &account, now, &wait), SEC_THROTTLE_DELAYED);
    }
    assert_int_equal(wait, 32 * S); /* after the 9th failure */
    now = t.next_allowed_us;
    sec_throttle_fail(&t, &account, now); /* 10th: locked for 15 minutes */
    assert_int_equal(sec_throttle_check(&t, &account, now, &wait), SEC_THROTTLE_LOCKED);
    assert_int_equal(wait, 900 * S);
    assert_int_equal(sec_throttle_check(&t, &account, now + 899 * S, &wait), SEC_THROTTLE_LOCKED);
    assert_int_equal(sec_throttle_check(&t, &account, now + 900 * S, &wait), SEC_THROTTLE_OPEN);
    /* Every further failure locks again at once. */
    now += 901 * S;
    sec_throttle_fail(&t, &account, now);
    assert_int_equal(sec_throttle_check(&t, &account, now + 10 * S, &wait), SEC_THROTTLE_LOCKED);
}

static void test_throttle_failures_age_out(void **state)
{
    (void)state;
    struct sec_throttle t = {0};
    int64_t now = 5 * S;
    for (int i = 0; i < 6; i++)
        sec_throttle_fail(&t, &account, now);
    assert_int_equal(sec_throttle_check(&t, &account, now, NULL), SEC_THROTTLE_DELAYED);
    now += 86400 * S;
    assert_int_equal(sec_throttle_check(&t, &account, now, NULL), SEC_THROTTLE_OPEN);
    sec_throttle_fail(&t, &account, now);
    assert_int_equal(t.failures, 1); /* started over */
    assert_int_equal(sec_throttle_check(&t, &account, now, NULL), SEC_THROTTLE_OPEN);
}

static void test_throttle_without_lockout_never_locks(void **state)
{
    (void)state;
    struct sec_throttle_policy addr = account;
    addr.lock_after = 0;
    addr.free_failures = 20;
    struct sec_throttle t = {0};
    for (int i = 0; i < 20; i++)
        sec_throttle_fail(&t, &addr, 7 * S);
    assert_int_equal(sec_throttle_check(&t, &addr, 7 * S, NULL), SEC_THROTTLE_OPEN);
    for (int i = 0; i < 100; i++)
        sec_throttle_fail(&t, &addr, 7 * S);
    int64_t wait;
    assert_int_equal(sec_throttle_check(&t, &addr, 7 * S, &wait), SEC_THROTTLE_DELAYED);
    assert_int_equal(wait, 900 * S);
    assert_int_equal(t.locked_until_us, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_throttle_schedule_free_then_doubling_then_capped),
        cmocka_unit_test(test_throttle_delays_then_locks_after_ten_failures),
        cmocka_unit_test(test_throttle_failures_age_out),
        cmocka_unit_test(test_throttle_without_lockout_never_locks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
