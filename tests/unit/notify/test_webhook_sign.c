/*
 * Unit tests for src/notify/webhook_sign.c: the X-Medhub-Signature value matches an HMAC
 * computed independently (Python's hmac module), covers the timestamp, and the header lines
 * of an attempt carry the event, delivery id, attempt id and timestamp.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "notify/webhook.h"

#include <string.h>

static const char body[] = "{\"event\":\"webhook.test\"}";

static void test_webhook_sign_matches_reference(void **state)
{
    (void)state;
    char sig[WEBHOOK_SIG_LEN];
    /* python3: hmac.new(b"s3cr3t-key", b"1800000000." + body, hashlib.sha256).hexdigest() */
    assert_int_equal(webhook_sign("s3cr3t-key", 1800000000, body, strlen(body), sig), 0);
    assert_string_equal(sig,
                        "sha256=e2268a85336a6c65e54ab5555477e6a5333c255d34b126771183d9c3bc6bdda8");
    assert_int_equal(strlen(sig), WEBHOOK_SIG_LEN - 1);
    /* The timestamp is signed: one second later is a different signature. */
    assert_int_equal(webhook_sign("s3cr3t-key", 1800000001, body, strlen(body), sig), 0);
    assert_string_equal(sig,
                        "sha256=684a15d9e807eef12cf3ebb368f00b66b5e2c6f33cc0042e50cac258870b2418");
}

static void test_webhook_headers_of_an_attempt(void **state)
{
    (void)state;
    struct webhook_headers h;
    assert_int_equal(webhook_headers_build(&h, "webhook.test", 42, 3, 1800000000, "s3cr3t-key",
                                           body, strlen(body)),
                     0);
    assert_string_equal(h.line[0], "Content-Type: application/json");
    assert_string_equal(h.line[1], "User-Agent: medhub/" MEDHUB_VERSION);
    assert_string_equal(h.line[2], "X-Medhub-Event: webhook.test");
    assert_string_equal(h.line[3], "X-Medhub-Delivery: 42");
    assert_string_equal(h.line[4], "X-Medhub-Attempt: 42.3");
    assert_string_equal(h.line[5], "X-Medhub-Timestamp: 1800000000");
    assert_string_equal(h.line[6],
                        "X-Medhub-Signature: "
                        "sha256=e2268a85336a6c65e54ab5555477e6a5333c255d34b126771183d9c3bc6bdda8");
    /* An event name that could break the header is refused. */
    assert_int_equal(webhook_headers_build(&h, "x\r\nInjected: 1", 1, 1, 0, "k", body, 1),
                     HX_EINVAL);
    assert_int_equal(webhook_headers_build(&h, "", 1, 1, 0, "k", body, 1), HX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_webhook_sign_matches_reference),
        cmocka_unit_test(test_webhook_headers_of_an_attempt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
