/*
 * Unit tests for src/notify/webhook_policy.c: severity names, webhook and event names, and
 * the exponential backoff with jitter between attempts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "notify/webhook.h"

#include <string.h>

static void test_webhook_severity_names(void **state)
{
    (void)state;
    /* Webhooks share the alert severities (domain/alert.h). */
    static const char *const names[] = {"info", "low", "medium", "high", "critical"};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(alert_severity_parse(names[i]), i + 1);
        assert_string_equal(alert_severity_name(i + 1), names[i]);
    }
    assert_int_equal(alert_severity_parse("High"), ALERT_SEV_NONE);
    assert_int_equal(alert_severity_parse("4"), ALERT_SEV_NONE);
    assert_string_equal(alert_severity_name(6), "?");
    assert_int_equal(ALERT_SEV_CRITICAL, 5);
}

static void test_webhook_names_and_events(void **state)
{
    (void)state;
    assert_true(webhook_name_is_valid("ehr-bridge_2.prod"));
    assert_false(webhook_name_is_valid(""));
    assert_false(webhook_name_is_valid("has space"));
    assert_false(webhook_name_is_valid("slash/y"));
    char long_name[70];
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    assert_false(webhook_name_is_valid(long_name));
    long_name[63] = '\0';
    assert_true(webhook_name_is_valid(long_name));

    assert_true(webhook_event_is_valid("alert.raised"));
    assert_true(webhook_event_is_valid("webhook.test"));
    assert_false(webhook_event_is_valid("Alert.raised"));
    assert_false(webhook_event_is_valid(".raised"));
    assert_false(webhook_event_is_valid("alert raised"));
    assert_false(webhook_event_is_valid("a\r\nX: 1"));
    assert_false(webhook_event_is_valid(""));
    assert_false(webhook_event_is_valid(NULL));
}

static void test_webhook_backoff_doubles_caps_and_jitters(void **state)
{
    (void)state;
    /* Without jitter (rnd 0): 1 s, 2 s, 4 s ... capped at 300 s. */
    assert_int_equal(webhook_backoff_ms(1, 1000, 300000, 0), 1000);
    assert_int_equal(webhook_backoff_ms(2, 1000, 300000, 0), 2000);
    assert_int_equal(webhook_backoff_ms(3, 1000, 300000, 0), 4000);
    assert_int_equal(webhook_backoff_ms(9, 1000, 300000, 0), 256000);
    assert_int_equal(webhook_backoff_ms(10, 1000, 300000, 0), 300000);
    assert_int_equal(webhook_backoff_ms(4000000000u, 1000, 300000, 0), 300000); /* no overflow */
    assert_int_equal(webhook_backoff_ms(0, 1000, 300000, 0), 1000);
    /* Jitter takes off at most a quarter, never adds. */
    for (uint32_t rnd = 0; rnd < 5000; rnd += 7) {
        uint64_t d = webhook_backoff_ms(3, 1000, 300000, rnd * 2654435761u);
        assert_true(d >= 3000 && d <= 4000);
        d = webhook_backoff_ms(20, 1000, 300000, rnd * 2654435761u);
        assert_true(d >= 225000 && d <= 300000);
    }
    assert_int_equal(webhook_backoff_ms(1, 3, 3, 12345), 3); /* jitter of 0 ms */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_webhook_severity_names),
        cmocka_unit_test(test_webhook_names_and_events),
        cmocka_unit_test(test_webhook_backoff_doubles_caps_and_jitters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
