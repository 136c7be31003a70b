/*
 * Unit tests for src/http/query.c: percent-decoding, query strings (order, repeats, '+',
 * empty pairs, the parameter limit, refused escapes) and the path segment splitter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "http/query.h"

#include <stdio.h>
#include <string.h>

static int parse(const char *raw, struct http_query *q)
{
    return http_query_parse(raw, strlen(raw), q);
}

static void test_query_decode(void **state)
{
    char out[64];
    size_t n;
    assert_int_equal(http_pct_decode("a%20b+c%2B%e2%82%ac", 19, true, out, &n), 0);
    assert_string_equal(out, "a b c+\xe2\x82\xac");
    assert_int_equal(n, 9);
    assert_int_equal(http_pct_decode("a+b", 3, false, out, &n), 0);
    assert_string_equal(out, "a+b");
    assert_int_equal(http_pct_decode("%41%4a%4A", 9, false, out, &n), 0);
    assert_string_equal(out, "AJJ");
    static const char *const bad[] = {"%", "%4", "a%", "%zz", "%4g", "%00", "a%00b", "%%41"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (http_pct_decode(bad[i], strlen(bad[i]), true, out, &n) != HX_EMALFORMED)
            fail_msg("accepted '%s'", bad[i]);
    /* A raw NUL inside the input is refused too. */
    assert_int_equal(http_pct_decode("a\0b", 3, true, out, &n), HX_EMALFORMED);
}

static void test_query_pairs_in_order(void **state)
{
    struct http_query q;
    assert_int_equal(parse("code=8867-4&code=2708-6&&date=ge2024-01-01&flag&_count=10&=x", &q), 0);
    assert_int_equal(q.n_params, 6);
    assert_string_equal(q.params[0].name, "code");
    assert_string_equal(q.params[0].value, "8867-4");
    assert_string_equal(q.params[1].value, "2708-6");
    assert_string_equal(q.params[2].name, "date");
    assert_string_equal(q.params[3].name, "flag");
    assert_string_equal(q.params[3].value, "");
    assert_false(q.params[3].has_value);
    assert_true(q.params[4].has_value);
    assert_string_equal(q.params[5].name, "");
    assert_string_equal(q.params[5].value, "x");
    /* Lookup and iteration. */
    assert_string_equal(http_query_get(&q, "code")->value, "8867-4");
    assert_null(http_query_get(&q, "missing"));
    uint32_t pos = 0;
    const struct http_param *p = http_query_next(&q, "code", &pos);
    assert_string_equal(p->value, "8867-4");
    p = http_query_next(&q, "code", &pos);
    assert_string_equal(p->value, "2708-6");
    assert_null(http_query_next(&q, "code", &pos));
    pos = 0;
    int n = 0;
    while (http_query_next(&q, NULL, &pos))
        n++;
    assert_int_equal(n, 6);
    http_query_release(&q);
}

static void test_query_decoding_and_errors(void **state)
{
    struct http_query q;
    assert_int_equal(parse("name=Ada+Lovelace&q=a%26b%3Dc&x=%2B", &q), 0);
    assert_string_equal(http_query_get(&q, "name")->value, "Ada Lovelace");
    assert_string_equal(http_query_get(&q, "q")->value, "a&b=c");
    assert_string_equal(http_query_get(&q, "x")->value, "+");
    assert_int_equal(http_query_get(&q, "q")->value_len, 5);
    http_query_release(&q);
    /* Errors, and release is safe after them. */
    assert_int_equal(parse("a=%00", &q), HX_EMALFORMED);
    http_query_release(&q);
    assert_int_equal(parse("a%zz=1", &q), HX_EMALFORMED);
    http_query_release(&q);
    assert_int_equal(parse("a=1&b=%4", &q), HX_EMALFORMED);
    http_query_release(&q);
    /* Empty. */
    assert_int_equal(parse("", &q), 0);
    assert_int_equal(q.n_params, 0);
    http_query_release(&q);
    assert_int_equal(parse("&&&", &q), 0);
    assert_int_equal(q.n_params, 0);
    http_query_release(&q);
    /* Not NUL-terminated input: the parser stops at len. */
    assert_int_equal(http_query_parse("a=1&b=2XXXX", 7, &q), 0);
    assert_string_equal(http_query_get(&q, "b")->value, "2");
    http_query_release(&q);
}

static void test_query_param_limit(void **state)
{
    char raw[2048] = "";
    size_t o = 0;
    for (int i = 0; i < HTTP_QUERY_MAX_PARAMS; i++)
        o += (size_t)snprintf(raw + o, sizeof(raw) - o, "%sp%d=%d", i ? "&" : "", i, i);
    struct http_query q;
    assert_int_equal(http_query_parse(raw, o, &q), 0);
    assert_int_equal(q.n_params, HTTP_QUERY_MAX_PARAMS);
    assert_string_equal(q.params[63].name, "p63");
    http_query_release(&q);
    o += (size_t)snprintf(raw + o, sizeof(raw) - o, "&one=more");
    assert_int_equal(http_query_parse(raw, o, &q), HX_ETOOBIG);
    http_query_release(&q);
}

static void test_path_split(void **state)
{
    struct http_path p;
    assert_int_equal(http_path_split("/", 1, &p), 0);
    assert_int_equal(p.n_segs, 0);
    assert_true(p.trailing_slash);
    http_path_release(&p);

    const char *raw = "/fhir/Patient/a%20b%2Fc/";
    assert_int_equal(http_path_split(raw, strlen(raw), &p), 0);
    assert_int_equal(p.n_segs, 3);
    assert_string_equal(p.seg[0], "fhir");
    assert_string_equal(p.seg[2], "a b/c");
    assert_int_equal(p.seg_len[2], 5);
    assert_true(p.trailing_slash);
    http_path_release(&p);

    raw = "/a//b+c";
    assert_int_equal(http_path_split(raw, strlen(raw), &p), 0);
    assert_int_equal(p.n_segs, 3);
    assert_string_equal(p.seg[1], "");
    assert_string_equal(p.seg[2], "b+c");
    assert_false(p.trailing_slash);
    http_path_release(&p);

    static const char *const bad[] = {"",      "a/b",   "/a/../b", "/..",   "/a/.", "/%2e%2e/x",
                                      "/%2E/", "/.%2e", "/a%00",   "/a%G1", "/x/%"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (http_path_split(bad[i], strlen(bad[i]), &p) != HX_EMALFORMED)
            fail_msg("accepted '%s'", bad[i]);
        http_path_release(&p);
    }
    /* Dots inside a segment are fine. */
    raw = "/app.js/..x/x..";
    assert_int_equal(http_path_split(raw, strlen(raw), &p), 0);
    assert_int_equal(p.n_segs, 3);
    http_path_release(&p);

    char many[256] = "";
    size_t o = 0;
    for (int i = 0; i <= HTTP_PATH_MAX_SEGS; i++)
        o += (size_t)snprintf(many + o, sizeof(many) - o, "/s");
    assert_int_equal(http_path_split(many, o, &p), HX_ETOOBIG);
    http_path_release(&p);
    assert_int_equal(http_path_split(many, o - 2, &p), 0);
    assert_int_equal(p.n_segs, HTTP_PATH_MAX_SEGS);
    http_path_release(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_decode),
        cmocka_unit_test(test_query_pairs_in_order),
        cmocka_unit_test(test_query_decoding_and_errors),
        cmocka_unit_test(test_query_param_limit),
        cmocka_unit_test(test_path_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
