/*
 * Unit tests for the topic part of src/mqtt/codec.c: topic name and filter syntax, $share
 * splitting and the matching table with '+', '#', parent matches and $-topics.
 * Thread: main.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/err.h"
#include "mqtt/codec.h"

#include <stdio.h>
#include <string.h>

static struct slice S(const char *s) {
    return slice_cstr(s);
}

struct match_case {
    const char *filter;
    const char *topic;
    bool want;
};

static void test_mqtt_topic_matches_table(void **state)
{
    (void)state;
    static const struct match_case cases[] = {
        {"a/b", "a/b", true},
        {"a/b", "a/c", false},
        {"a/b", "A/b", false}, /* case-sensitive (3.1.1 §4.7.3) */
        {"a/+", "a/b", true},
        {"a/+", "a/b/c", false},
        {"a/+", "a", false},
        {"a/+", "a/", true},
        {"a/#", "a", true}, /* 3.1.1 §4.7.1.2: "sport/#" matches "sport" */
        {"a/#", "a/b/c", true},
        {"a/#", "ab", false},
        {"a/#", "b/a", false},
        {"#", "a/b", true},
        {"#", "/", true},
        {"+", "a", true},
        {"+", "/a", false},
        {"+/+", "/a", true},
        {"/+", "/a", true},
        {"+/#", "a", true},
        {"sport/tennis/+", "sport/tennis/player1", true},
        {"sport/tennis/+", "sport/tennis/player1/ranking", false},
        {"sport/+", "sport", false},
        {"sport/+/player1", "sport/tennis/player1", true},
        {"a//b", "a//b", true},
        {"a/+/b", "a//b", true},
        {"a/b/", "a/b", false},
        {"a/b", "a/b/", false},
        {"a/b/c", "a/b", false},
        /* MQTT-4.7.2-1: leading wildcards never match $-topics. */
        {"#", "$SYS/broker", false},
        {"+/broker", "$SYS/broker", false},
        {"+/monitor/Clients", "$SYS/monitor/Clients", false},
        {"+", "$SYS", false},
        {"$SYS/#", "$SYS/broker/load", true},
        {"$SYS/#", "$SYS", true},
        {"$SYS/+", "$SYS/broker", true},
        {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
        {"$SYS", "$SYS", true},
        {"a/$x", "a/$x", true},
        {"a/+", "a/$x", true}, /* only a *leading* '$' is special */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool got = mqtt_topic_matches(S(cases[i].filter), S(cases[i].topic));
        if (got != cases[i].want)
            fail_msg("filter '%s' topic '%s': got %d want %d", cases[i].filter, cases[i].topic, got,
                     cases[i].want);
    }
}

static void test_mqtt_topic_filter_validates_wildcards(void **state)
{
    (void)state;
    const char *good[] = {"#",  "+",    "a/#",    "a/+/b",          "+/+", "/",
                          "//", "a//#", "$SYS/#", "sport/tennis/+", "+/#"};
    const char *bad[] = {"",   "a#",   "a/#/b",  "#/a", "a/b#", "a+",
                         "+a", "a/+b", "a/b+/c", "##",  "++"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!mqtt_topic_filter_is_valid(S(good[i])))
            fail_msg("filter '%s' should be valid", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (mqtt_topic_filter_is_valid(S(bad[i])))
            fail_msg("filter '%s' should be invalid", bad[i]);
    /* Ill-formed UTF-8 (an overlong '/') is not a valid filter either. */
    const uint8_t overlong[] = {'a', 0xC0, 0xAF, 'b'};
    assert_false(mqtt_topic_filter_is_valid(slice_make(overlong, sizeof overlong)));
}

static void test_mqtt_topic_name_rejects_wildcards_and_empty(void **state)
{
    (void)state;
    assert_true(mqtt_topic_name_is_valid(S("a/b")));
    assert_true(mqtt_topic_name_is_valid(S("/")));
    assert_true(mqtt_topic_name_is_valid(S("$SYS/x")));
    assert_false(mqtt_topic_name_is_valid(S("")));
    assert_false(mqtt_topic_name_is_valid(S("a/+")));
    assert_false(mqtt_topic_name_is_valid(S("a/#")));
    assert_false(mqtt_topic_name_is_valid(S("a+b")));
    const uint8_t nul[] = {'a', 0x00, 'b'};
    assert_false(mqtt_topic_name_is_valid(slice_make(nul, sizeof nul)));
}

static void test_mqtt_topic_shared_split(void **state)
{
    (void)state;
    bool shared = true;
    struct slice name, filter;

    assert_int_equal(mqtt_shared_split(S("a/b"), &shared, &name, &filter), 0);
    assert_false(shared);
    assert_true(slice_eq_cstr(filter, "a/b"));

    assert_int_equal(mqtt_shared_split(S("$share/grp/a/+"), &shared, &name, &filter), 0);
    assert_true(shared);
    assert_true(slice_eq_cstr(name, "grp"));
    assert_true(slice_eq_cstr(filter, "a/+"));

    assert_int_equal(mqtt_shared_split(S("$share/g/#"), &shared, &name, &filter), 0);
    assert_true(shared);
    assert_true(slice_eq_cstr(filter, "#"));

    /* MQTT-4.8.2-1/2 (5.0): ShareName non-empty, no '+', '#'; a filter must follow. */
    const char *bad[] = {"$share//a", "$share/g+/a", "$share/#/a",
                         "$share/g",  "$share/g/",   "$share/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (mqtt_shared_split(S(bad[i]), &shared, &name, &filter) != HX_EMALFORMED)
            fail_msg("'%s' should be rejected", bad[i]);

    /* "$sharefoo/x" and "$SHARE/g/x" are ordinary filters. */
    assert_int_equal(mqtt_shared_split(S("$sharefoo/x"), &shared, &name, &filter), 0);
    assert_false(shared);
    assert_int_equal(mqtt_shared_split(S("$SHARE/g/x"), &shared, &name, &filter), 0);
    assert_false(shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mqtt_topic_matches_table),
        cmocka_unit_test(test_mqtt_topic_filter_validates_wildcards),
        cmocka_unit_test(test_mqtt_topic_name_rejects_wildcards_and_empty),
        cmocka_unit_test(test_mqtt_topic_shared_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
