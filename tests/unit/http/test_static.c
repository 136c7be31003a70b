/*
 * Unit tests for the pure parts of src/http/static.c: mapping request paths to files under
 * the web root (index.html for directories, traversal refused in every spelling, dotfiles
 * hidden), MIME types, and finding the web root.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "http/http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int resolve(const char *raw, char *out, size_t len)
{
    return http_static_resolve(raw, strlen(raw), out, len);
}

static void test_static_resolve_maps(void **state)
{
    char out[256];
    static const struct {
        const char *raw, *key;
    } ok[] = {
        {"/", "index.html"},
        {"/portal/", "portal/index.html"},
        {"/admin/", "admin/index.html"},
        {"/app.js", "app.js"},
        {"/portal", "portal"},
        {"/a%20b.css", "a b.css"},
        {"/lib/uplot/uPlot.min.js", "lib/uplot/uPlot.min.js"},
        {"/a..b/c..", "a..b/c.."},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(resolve(ok[i].raw, out, sizeof(out)), 0);
        assert_string_equal(out, ok[i].key);
    }
}

static void test_static_resolve_refuses_traversal(void **state)
{
    char out[256];
    static const char *const bad[] = {
        "/..",
        "/../etc/passwd",
        "/a/../../b",
        "/%2e%2e/etc/passwd",
        "/%2E%2E/x",
        "/.%2e/x",
        "/%2e./x",
        "/..%2fetc/passwd",
        "/a/%2e%2e%2f..",
        "/..\\etc\\passwd",
        "/a%5c..%5cb",
        "/a\\b",
        "/index.html%00",
        "/a%00.js",
        "//etc/passwd",
        "/a//b",
        "/./index.html",
        "/%2e/index.html",
        "relative",
        "",
        "/%zz",
        "/%",
        "/a/.",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = resolve(bad[i], out, sizeof(out));
        if (rc != HX_EMALFORMED)
            fail_msg("'%s': rc %d (want HX_EMALFORMED), key '%s'", bad[i], rc, rc == 0 ? out : "");
    }
    /* Dotfiles and dot directories are not served. */
    assert_int_equal(resolve("/.git/config", out, sizeof(out)), HX_ENOTFOUND);
    assert_int_equal(resolve("/.env", out, sizeof(out)), HX_ENOTFOUND);
    assert_int_equal(resolve("/a/%2ehidden", out, sizeof(out)), HX_ENOTFOUND);
    /* Too long for the caller's buffer. */
    assert_int_equal(resolve("/abcdefghij", out, 8), HX_ETOOBIG);
    assert_int_equal(resolve("/abc/", out, 12), HX_ETOOBIG);
}

static void test_static_mime(void **state)
{
    assert_string_equal(http_mime_type("index.html"), "text/html; charset=utf-8");
    assert_string_equal(http_mime_type("a/app.js"), "text/javascript; charset=utf-8");
    assert_string_equal(http_mime_type("m.mjs"), "text/javascript; charset=utf-8");
    assert_string_equal(http_mime_type("s.CSS"), "text/css; charset=utf-8");
    assert_string_equal(http_mime_type("i.svg"), "image/svg+xml");
    assert_string_equal(http_mime_type("i.png"), "image/png");
    assert_string_equal(http_mime_type("d.json"), "application/json");
    assert_string_equal(http_mime_type("f.woff2"), "font/woff2");
    assert_string_equal(http_mime_type("favicon.ico"), "image/x-icon");
    assert_string_equal(http_mime_type("README"), "application/octet-stream");
    assert_string_equal(http_mime_type("dir.js/README"), "application/octet-stream");
    assert_string_equal(http_mime_type("x.exe"), "application/octet-stream");
}

static void test_static_web_root_find(void **state)
{
    char out[4096];
    char dir[] = "/tmp/medhub-test-webroot-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(http_web_root_find(dir, out, sizeof(out)), 0);
    assert_string_equal(out, dir);
    char file[4200];
    snprintf(file, sizeof(file), "%s/f", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(http_web_root_find(file, out, sizeof(out)), -ENOTDIR);
    snprintf(file, sizeof(file), "%s/missing", dir);
    assert_int_equal(http_web_root_find(file, out, sizeof(out)), -ENOENT);
    snprintf(file, sizeof(file), "%s/f", dir);
    unlink(file);
    rmdir(dir);
    /* Empty: next to the executable (build/unit_http_test_static -> ../web, the source tree's
     * web/ when the build dir sits in it, as CMake's does here). */
    int rc = http_web_root_find("", out, sizeof(out));
    const char *src = getenv("MEDHUB_SRC");
    if (rc == 0 && src) {
        char want[4096];
        assert_non_null(realpath(src, want));
        strncat(want, "/web", sizeof(want) - strlen(want) - 1);
        assert_string_equal(out, want);
    } else {
        assert_int_equal(rc, -ENOENT); /* a build directory elsewhere */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_resolve_maps),
        cmocka_unit_test(test_static_resolve_refuses_traversal),
        cmocka_unit_test(test_static_mime),
        cmocka_unit_test(test_static_web_root_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
