/*
 * Unit tests for src/notify/webhook_url.c: the strict webhook URL parser accepts http and
 * https URLs with DNS, IPv4 and IPv6 hosts and normalizes them, and refuses everything a URL
 * library might read differently, without quoting the URL in its explanation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "notify/webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct webhook_url u;
static char why[256];

static void expect_ok(const char *s, bool tls, const char *host, unsigned port, const char *target,
                      const char *normalized)
{
    int rc = webhook_url_parse(s, &u, why, sizeof(why));
    if (rc != 0)
        fail_msg("'%s' refused: %s", s, why);
    assert_int_equal(u.tls, tls);
    assert_string_equal(u.host, host);
    assert_int_equal(u.port, port);
    assert_string_equal(u.target, target);
    assert_string_equal(u.normalized, normalized);
}

static void expect_refused(const char *s, const char *because)
{
    why[0] = '\0';
    int rc = webhook_url_parse(s, &u, why, sizeof(why));
    if (rc != HX_EINVAL)
        fail_msg("'%s' accepted (rc %d)", s, rc);
    if (!strstr(why, because))
        fail_msg("'%s': expected '%s' in '%s'", s, because, why);
}

static void test_webhook_url_accepts_and_normalizes(void **state)
{
    (void)state;
    expect_ok("http://127.0.0.1:8080/hook", false, "127.0.0.1", 8080, "/hook",
              "http://127.0.0.1:8080/hook");
    assert_true(u.host_is_ip);
    expect_ok("HTTPS://Example.ORG", true, "example.org", 443, "/", "https://example.org/");
    assert_false(u.host_is_ip);
    expect_ok("https://[::1]:8443/a?b=c&d=%2F", true, "::1", 8443, "/a?b=c&d=%2F",
              "https://[::1]:8443/a?b=c&d=%2F");
    assert_true(u.host_is_ip);
    expect_ok("http://h?x=1", false, "h", 80, "/?x=1", "http://h/?x=1");
    expect_ok("http://a-b.c-d.example:1/x/y;z=1/~u@v:w", false, "a-b.c-d.example", 1,
              "/x/y;z=1/~u@v:w", "http://a-b.c-d.example:1/x/y;z=1/~u@v:w");
    expect_ok("https://hooks.example.com:443/services/T0/B1/xyz", true, "hooks.example.com", 443,
              "/services/T0/B1/xyz", "https://hooks.example.com:443/services/T0/B1/xyz");
    expect_ok("http://[2001:db8::1]/", false, "2001:db8::1", 80, "/", "http://[2001:db8::1]/");
    expect_ok("http://1.2.3.4.example/", false, "1.2.3.4.example", 80, "/",
              "http://1.2.3.4.example/");
}

static void test_webhook_url_refuses_schemes_and_authority_tricks(void **state)
{
    (void)state;
    expect_refused("", "http:// or https://");
    expect_refused("ftp://example.org/", "http:// or https://");
    expect_refused("http:/example.org/", "http:// or https://");
    expect_refused("httpx://example.org/", "http:// or https://");
    expect_refused(" http://example.org/", "space");
    expect_refused("http://", "no host");
    expect_refused("http://:80/", "no host");
    expect_refused("http://user:secret@example.org/", "user information");
    assert_null(strstr(why, "secret")); /* the URL is never quoted back */
    expect_refused("http://example.org/#frag", "fragment");
    expect_refused("http://example.org\\@evil.example/", "backslash");
    expect_refused("http://example.org/a b", "space");
    expect_refused("http://example.org/\x01", "control");
    expect_refused("http://example.org/caf\xc3\xa9", "non-ASCII");
}

static void test_webhook_url_refuses_bad_hosts_and_ports(void **state)
{
    (void)state;
    expect_refused("http://example.org:0/", "port from 1 to 65535");
    expect_refused("http://example.org:65536/", "port from 1 to 65535");
    expect_refused("http://example.org:/", "port from 1 to 65535");
    expect_refused("http://example.org:8a/", "port from 1 to 65535");
    expect_refused("http://example.org:000080/", "port from 1 to 65535");
    expect_refused("http://127.1/", "dotted-quad");
    expect_refused("http://0x7f.0.0.1/", "dotted-quad");
    expect_refused("http://1.2.3.04/", "dotted-quad");
    expect_refused("http://256.1.1.1/", "dotted-quad");
    expect_refused("http://2130706433/", "dotted-quad");
    expect_refused("http://-a.example/", "starts or ends with '-'");
    expect_refused("http://a-.example/", "starts or ends with '-'");
    expect_refused("http://a..example/", "empty label");
    expect_refused("http://example.org./", "empty label");
    expect_refused("http://exa_mple.org/", "letters, digits");
    expect_refused("http://[::1/", "closing ']'");
    expect_refused("http://[zz::1]/", "not a valid IPv6");
    expect_refused("http://[]/", "not a valid IPv6");
    expect_refused("http://[::1]x/", "':PORT'");
    expect_refused("http://[fe80::1%25eth0]/", "not a valid IPv6");
    char label[80];
    memset(label, 'a', 64);
    label[64] = '\0';
    char s[200];
    snprintf(s, sizeof(s), "http://%s.example/", label);
    expect_refused(s, "longer than 63");
}

static void test_webhook_url_refuses_bad_targets_and_length(void **state)
{
    (void)state;
    expect_refused("http://example.org/%zz", "two hex digits");
    expect_refused("http://example.org/%4", "two hex digits");
    expect_refused("http://example.org/<x>", "percent-encoded");
    expect_refused("http://example.org/a\"b", "percent-encoded");
    expect_refused("http://example.org/a{b}", "percent-encoded");
    expect_refused("http://example.org/a|b", "percent-encoded");
    char *big = malloc(3000);
    snprintf(big, 3000, "http://example.org/");
    memset(big + strlen(big), 'a', 2100);
    big[2119] = '\0';
    expect_refused(big, "longer than 2047");
    /* Just fits: 2047 bytes. */
    big[2047] = '\0';
    assert_int_equal(webhook_url_parse(big, &u, why, sizeof(why)), 0);
    assert_int_equal(strlen(u.normalized), 2047);
    free(big);
    char host[301];
    memset(host, 0, sizeof(host));
    for (int i = 0; i < 5; i++)
        memcpy(host + i * 60, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.", 60);
    char s[400];
    snprintf(s, sizeof(s), "http://%sexample/", host);
    expect_refused(s, "longer than 253");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_webhook_url_accepts_and_normalizes),
        cmocka_unit_test(test_webhook_url_refuses_schemes_and_authority_tricks),
        cmocka_unit_test(test_webhook_url_refuses_bad_hosts_and_ports),
        cmocka_unit_test(test_webhook_url_refuses_bad_targets_and_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
