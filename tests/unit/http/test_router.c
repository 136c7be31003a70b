/*
 * Unit tests for src/http/router.c: registration checks, literal and {param} segments, prefix
 * routes, the most specific route winning, HEAD through GET, 404, 405 with its Allow set, and
 * the catch-all that never turns a 404 into a 405.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "http/http.h"

#include <string.h>

static void h(struct http_exchange *x, void *arg)
{
}

static struct http_router *make(void)
{
    struct http_router *r = http_router_new();
    assert_int_equal(http_router_add(r, "GET", "/api/v1/patients", h, NULL, "patients.list"), 0);
    assert_int_equal(http_router_add(r, "POST", "/api/v1/patients", h, NULL, "patients.add"), 0);
    assert_int_equal(http_router_add(r, "GET", "/api/v1/patients/{id}", h, NULL, "patients.show"),
                     0);
    assert_int_equal(
        http_router_add(r, "DELETE", "/api/v1/patients/{id}", h, NULL, "patients.delete"), 0);
    assert_int_equal(
        http_router_add(r, "GET", "/api/v1/patients/search", h, NULL, "patients.search"), 0);
    assert_int_equal(
        http_router_add(r, "GET", "/api/v1/patients/{id}/obs/{code}", h, NULL, "patients.obs"), 0);
    assert_int_equal(http_router_add(r, "GET", "/fhir/Observation/{id}", h, NULL, "fhir.obs.read"),
                     0);
    struct http_route_def fhir = {
        .method = "*", .pattern = "/fhir/", .fn = h, .name = "fhir", .flags = HTTP_ROUTE_PREFIX};
    assert_int_equal(http_router_add_route(r, &fhir), 0);
    assert_int_equal(http_router_add_public(r, "GET", "/healthz", h, NULL, "healthz"), 0);
    struct http_route_def fallback = {.method = "GET",
                                      .pattern = "/",
                                      .fn = h,
                                      .name = "static",
                                      .flags = HTTP_ROUTE_PREFIX | HTTP_ROUTE_PUBLIC |
                                               HTTP_ROUTE_FALLBACK};
    assert_int_equal(http_router_add_route(r, &fallback), 0);
    return r;
}

/* Matches raw and returns the route name, "404" or "405:<allow>". */
static const char *match(struct http_router *r, enum http_meth m, const char *raw,
                         struct http_route_match *out, char *buf, size_t len)
{
    struct http_path p;
    assert_int_equal(http_path_split(raw, strlen(raw), &p), 0);
    enum http_match res = http_router_match(r, m, &p, out);
    const char *name;
    if (res == HTTP_MATCH_FOUND) {
        name = http_route_name(out->route);
    } else if (res == HTTP_MATCH_NOT_FOUND) {
        name = "404";
    } else {
        char allow[96];
        http_allow_format(out->allow, allow, sizeof(allow));
        snprintf(buf, len, "405:%s", allow);
        name = buf;
    }
    http_path_release(&p);
    return name;
}

static void test_router_specific_wins(void **state)
{
    struct http_router *r = make();
    struct http_route_match m;
    char b[128];
    assert_string_equal(match(r, HTTP_METH_GET, "/api/v1/patients", &m, b, sizeof(b)),
                        "patients.list");
    assert_string_equal(match(r, HTTP_METH_POST, "/api/v1/patients", &m, b, sizeof(b)),
                        "patients.add");
    assert_string_equal(match(r, HTTP_METH_GET, "/api/v1/patients/42", &m, b, sizeof(b)),
                        "patients.show");
    assert_int_equal(m.param_seg[0], 3);
    /* A literal beats a {param} in the same position, whatever the registration order. */
    assert_string_equal(match(r, HTTP_METH_GET, "/api/v1/patients/search", &m, b, sizeof(b)),
                        "patients.search");
    assert_string_equal(match(r, HTTP_METH_GET, "/api/v1/patients/7/obs/8867-4", &m, b, sizeof(b)),
                        "patients.obs");
    assert_int_equal(m.param_seg[0], 3);
    assert_int_equal(m.param_seg[1], 5);
    /* An exact route beats the prefix route around it; the prefix takes the rest. */
    assert_string_equal(match(r, HTTP_METH_GET, "/fhir/Observation/1", &m, b, sizeof(b)),
                        "fhir.obs.read");
    assert_string_equal(match(r, HTTP_METH_GET, "/fhir/Patient/1", &m, b, sizeof(b)), "fhir");
    assert_int_equal(m.rest_seg, 1);
    assert_string_equal(match(r, HTTP_METH_POST, "/fhir/Observation/1", &m, b, sizeof(b)), "fhir");
    assert_string_equal(match(r, HTTP_METH_GET, "/fhir/", &m, b, sizeof(b)), "fhir");
    /* "/fhir" (no slash) is not under the prefix: the static catch-all gets it. */
    assert_string_equal(match(r, HTTP_METH_GET, "/fhir", &m, b, sizeof(b)), "static");
    /* Trailing slashes are significant for exact routes. */
    assert_string_equal(match(r, HTTP_METH_GET, "/healthz/", &m, b, sizeof(b)), "static");
    assert_string_equal(match(r, HTTP_METH_GET, "/", &m, b, sizeof(b)), "static");
    assert_string_equal(match(r, HTTP_METH_GET, "/portal/", &m, b, sizeof(b)), "static");
    /* A {param} never matches an empty segment. */
    assert_string_equal(match(r, HTTP_METH_DELETE, "/api/v1/patients/", &m, b, sizeof(b)), "404");
    http_router_free(r);
}

static void test_router_head_404_405(void **state)
{
    struct http_router *r = make();
    struct http_route_match m;
    char b[128];
    assert_string_equal(match(r, HTTP_METH_HEAD, "/healthz", &m, b, sizeof(b)), "healthz");
    assert_string_equal(match(r, HTTP_METH_HEAD, "/app.js", &m, b, sizeof(b)), "static");
    assert_string_equal(match(r, HTTP_METH_POST, "/healthz", &m, b, sizeof(b)),
                        "405:GET, HEAD, OPTIONS");
    assert_string_equal(match(r, HTTP_METH_PUT, "/api/v1/patients/9", &m, b, sizeof(b)),
                        "405:GET, HEAD, DELETE, OPTIONS");
    assert_string_equal(match(r, HTTP_METH_PUT, "/api/v1/patients", &m, b, sizeof(b)),
                        "405:GET, HEAD, POST, OPTIONS");
    /* The catch-all neither answers other methods nor turns their 404 into a 405. */
    assert_string_equal(match(r, HTTP_METH_POST, "/nothing/here", &m, b, sizeof(b)), "404");
    assert_string_equal(match(r, HTTP_METH_DELETE, "/", &m, b, sizeof(b)), "404");
    /* Without the catch-all, unknown paths are 404. */
    struct http_router *bare = http_router_new();
    assert_int_equal(http_router_add(bare, "GET", "/a", h, NULL, "a"), 0);
    assert_string_equal(match(bare, HTTP_METH_GET, "/b", &m, b, sizeof(b)), "404");
    assert_string_equal(match(bare, HTTP_METH_GET, "/", &m, b, sizeof(b)), "404");
    http_router_free(bare);
    http_router_free(r);
}

static void test_router_registration_errors(void **state)
{
    struct http_router *r = http_router_new();
    static const char *const bad[] = {
        "", "x", "/a//b", "/{}", "/{a", "/a}", "/x{a}", "/{a-b}", "/{a}/{a}", "/a{b}c",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (http_router_add(r, "GET", bad[i], h, NULL, "x") != HX_EINVAL)
            fail_msg("accepted pattern '%s'", bad[i]);
    assert_int_equal(http_router_add(r, "get", "/a", h, NULL, "x"), HX_EINVAL);
    assert_int_equal(http_router_add(r, "BREW", "/a", h, NULL, "x"), HX_EINVAL);
    assert_int_equal(http_router_add(r, "GET", "/a", NULL, NULL, "x"), HX_EINVAL);
    assert_int_equal(http_router_add(r, "GET", "/a", h, NULL, NULL), HX_EINVAL);
    struct http_route_def pre = {
        .method = "GET", .pattern = "/a", .fn = h, .name = "x", .flags = HTTP_ROUTE_PREFIX};
    assert_int_equal(http_router_add_route(r, &pre), HX_EINVAL); /* prefix needs a '/' end */
    char many[128] = "";
    for (int i = 0; i <= HTTP_ROUTE_MAX_SEGS; i++)
        memcpy(many + 2 * i, "/s", 3);
    assert_int_equal(http_router_add(r, "GET", many, h, NULL, "x"), HX_EINVAL);
    assert_int_equal(http_router_add(r, "GET", "/a/{x}", h, NULL, "x"), 0);
    assert_int_equal(http_router_add(r, "GET", "/a/{x}", h, NULL, "y"), HX_EEXIST);
    assert_int_equal(http_router_add(r, "POST", "/a/{x}", h, NULL, "y"), 0);
    struct http_route_def d = {.method = "GET",
                               .pattern = "/m",
                               .fn = h,
                               .name = "metrics",
                               .perm = "metrics",
                               .flags = HTTP_ROUTE_LOOPBACK_PUBLIC};
    assert_int_equal(http_router_add_route(r, &d), 0);
    struct http_path p;
    struct http_route_match m;
    assert_int_equal(http_path_split("/m", 2, &p), 0);
    assert_int_equal(http_router_match(r, HTTP_METH_GET, &p, &m), HTTP_MATCH_FOUND);
    assert_string_equal(http_route_perm(m.route), "metrics");
    assert_int_equal(http_route_flags(m.route), HTTP_ROUTE_LOOPBACK_PUBLIC);
    http_path_release(&p);
    http_router_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_specific_wins),
        cmocka_unit_test(test_router_head_404_405),
        cmocka_unit_test(test_router_registration_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
