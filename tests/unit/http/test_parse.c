/*
 * Unit tests for src/http/parse.c: the request parser over libhttp-parser. Every request is
 * also fed split at every byte position (and one byte at a time) and must parse the same;
 * pipelined requests stop exactly at their end; the limits (431, 414, 413), the request
 * smuggling basics (Transfer-Encoding with Content-Length, two lengths, obs-fold, bare CR/LF,
 * bad chunk sizes, unknown codings) and the version and method checks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "http/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct http_limits lim = {.max_header_bytes = 1024, .max_headers = 8, .max_body = 64};

/* Parses all of text in one call. Returns the parse result; OUT: *consumed. */
static int parse_all(struct http_req_parser *p, const char *text, size_t len, size_t *consumed)
{
    return http_req_parse(p, (const uint8_t *)text, len, consumed);
}

/* Feeds text in pieces cut at the given positions (cuts sorted, within len): every byte
 * must be consumed before the request completes or fails. Returns the last result. */
static int parse_cut(struct http_req_parser *p, const char *text, size_t len, size_t cut)
{
    size_t used = 0, total = 0;
    int rc = http_req_parse(p, (const uint8_t *)text, cut, &used);
    total += used;
    if (rc != HX_ENEEDMORE)
        return rc;
    assert_int_equal(used, cut);
    rc = http_req_parse(p, (const uint8_t *)text + cut, len - cut, &used);
    return rc;
}

static int parse_bytewise(struct http_req_parser *p, const char *text, size_t len)
{
    int rc = HX_ENEEDMORE;
    for (size_t i = 0; i < len && rc == HX_ENEEDMORE; i++) {
        size_t used = 0;
        rc = http_req_parse(p, (const uint8_t *)text + i, 1, &used);
        if (rc == HX_ENEEDMORE)
            assert_int_equal(used, 1);
    }
    return rc;
}

static bool slice_is(struct slice s, const char *c)
{
    return s.len == strlen(c) && (s.len == 0 || memcmp(s.ptr, c, s.len) == 0);
}

static void expect_slice(struct slice s, const char *c)
{
    if (!slice_is(s, c))
        fail_msg("expected '%s', got '%.*s'", c, (int)s.len, (const char *)s.ptr);
}

/* The same request parsed whole and cut everywhere must give the same result. */
struct expect {
    enum http_meth method;
    const char *path;
    const char *query; /* NULL: no query */
    const char *body;
    bool keep_alive;
    uint32_t n_headers;
};

static void check_request(const struct http_req_parser *p, const struct expect *e)
{
    const struct http_request *r = http_req_parser_request(p);
    assert_int_equal(r->method, e->method);
    expect_slice(r->path, e->path);
    if (e->query) {
        assert_true(r->has_query);
        expect_slice(r->query, e->query);
    } else {
        assert_false(r->has_query);
    }
    expect_slice(r->body, e->body);
    assert_int_equal(r->keep_alive, e->keep_alive);
    assert_int_equal(r->n_headers, e->n_headers);
}

static void check_every_split(const char *text, const struct expect *e)
{
    size_t len = strlen(text);
    struct http_req_parser *p = http_req_parser_new(&lim);
    size_t used;
    assert_int_equal(parse_all(p, text, len, &used), 0);
    assert_int_equal(used, len);
    check_request(p, e);
    for (size_t cut = 0; cut <= len; cut++) {
        http_req_parser_reset(p);
        int rc = parse_cut(p, text, len, cut);
        if (rc != 0)
            fail_msg("cut at %zu: rc %d err %d", cut, rc, http_req_parser_error(p));
        check_request(p, e);
    }
    http_req_parser_reset(p);
    assert_int_equal(parse_bytewise(p, text, len), 0);
    check_request(p, e);
    http_req_parser_free(p);
}

static void test_parse_get_every_split(void **state)
{
    const char *req = "GET /api/v1/patients/7?x=1&y=%20 HTTP/1.1\r\n"
                      "Host: example\r\n"
                      "Accept:   application/json  \r\n"
                      "X-Empty:\r\n"
                      "\r\n";
    struct expect e = {.method = HTTP_METH_GET,
                       .path = "/api/v1/patients/7",
                       .query = "x=1&y=%20",
                       .body = "",
                       .keep_alive = true,
                       .n_headers = 3};
    check_every_split(req, &e);
    struct http_req_parser *p = http_req_parser_new(&lim);
    size_t used;
    assert_int_equal(parse_all(p, req, strlen(req), &used), 0);
    const struct http_request *r = http_req_parser_request(p);
    const struct http_header *h = http_request_header(r, "ACCEPT");
    assert_non_null(h);
    expect_slice(h->value, "application/json"); /* whitespace trimmed */
    h = http_request_header(r, "x-empty");
    assert_non_null(h);
    assert_int_equal(h->value.len, 0);
    assert_null(http_request_header(r, "cookie"));
    assert_int_equal(r->version_minor, 1);
    assert_int_equal(r->content_length, UINT64_MAX);
    http_req_parser_free(p);
}

static void test_parse_post_length_every_split(void **state)
{
    const char *req = "POST /api/v1/ingest HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n"
                      "Content-Type: application/json\r\n\r\n{\"a\": [1]}\n";
    struct expect e = {.method = HTTP_METH_POST,
                       .path = "/api/v1/ingest",
                       .body = "{\"a\": [1]}\n",
                       .keep_alive = true,
                       .n_headers = 3};
    check_every_split(req, &e);
}

static void test_parse_post_chunked_every_split(void **state)
{
    const char *req = "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n"
                      "1;ext=1\r\n \r\n"
                      "6\r\nworld!\r\n"
                      "0\r\nTrailer-Field: ignored\r\n\r\n";
    struct expect e = {.method = HTTP_METH_PUT,
                       .path = "/x",
                       .body = "hello world!",
                       .keep_alive = true,
                       .n_headers = 2};
    check_every_split(req, &e);
    struct http_req_parser *p = http_req_parser_new(&lim);
    size_t used;
    assert_int_equal(parse_all(p, req, strlen(req), &used), 0);
    assert_true(http_req_parser_request(p)->chunked);
    http_req_parser_free(p);
}

static void test_parse_pipelined_stops_at_end(void **state)
{
    const char *two = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                      "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok"
                      "GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t len = strlen(two), off = 0, used;
    struct http_req_parser *p = http_req_parser_new(&lim);
    const char *paths[] = {"/a", "/b", "/c"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(parse_all(p, two + off, len - off, &used), 0);
        expect_slice(http_req_parser_request(p)->path, paths[i]);
        /* Nothing of the next request was consumed. */
        off += used;
        if (i < 2)
            assert_memory_equal(two + off, i == 0 ? "POST" : "GET", i == 0 ? 4 : 3);
        /* Complete until reset: feeding more changes nothing. */
        assert_int_equal(parse_all(p, two + off, len - off, &used), 0);
        assert_int_equal(used, 0);
        http_req_parser_reset(p);
    }
    assert_int_equal(off, len);
    http_req_parser_free(p);
}

static void test_parse_leading_blank_lines_and_keepalive(void **state)
{
    struct http_req_parser *p = http_req_parser_new(&lim);
    size_t used;
    const char *r10 = "\r\nGET / HTTP/1.0\r\n\r\n";
    assert_int_equal(parse_all(p, r10, strlen(r10), &used), 0);
    assert_false(http_req_parser_request(p)->keep_alive);
    assert_int_equal(http_req_parser_request(p)->version_minor, 0);
    http_req_parser_reset(p);
    const char *r10ka = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    assert_int_equal(parse_all(p, r10ka, strlen(r10ka), &used), 0);
    assert_true(http_req_parser_request(p)->keep_alive);
    http_req_parser_reset(p);
    const char *r11c = "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    assert_int_equal(parse_all(p, r11c, strlen(r11c), &used), 0);
    assert_false(http_req_parser_request(p)->keep_alive);
    http_req_parser_free(p);
}

static void test_parse_targets(void **state)
{
    struct http_req_parser *p = http_req_parser_new(&lim);
    size_t used;
    const char *abs = "GET http://example.org:8080/p/q?a=b HTTP/1.1\r\nHost: example.org\r\n\r\n";
    assert_int_equal(parse_all(p, abs, strlen(abs), &used), 0);
    expect_slice(http_req_parser_request(p)->path, "/p/q");
    expect_slice(http_req_parser_request(p)->query, "a=b");
    http_req_parser_reset(p);
    const char *bare = "GET http://example.org HTTP/1.1\r\nHost: example.org\r\n\r\n";
    assert_int_equal(parse_all(p, bare, strlen(bare), &used), 0);
    expect_slice(http_req_parser_request(p)->path, "/");
    http_req_parser_reset(p);
    const char *empty_q = "GET /x? HTTP/1.1\r\nHost: h\r\n\r\n";
    assert_int_equal(parse_all(p, empty_q, strlen(empty_q), &used), 0);
    assert_true(http_req_parser_request(p)->has_query);
    assert_int_equal(http_req_parser_request(p)->query.len, 0);
    http_req_parser_reset(p);
    const char *star = "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n";
    assert_int_equal(parse_all(p, star, strlen(star), &used), HX_EMALFORMED);
    assert_int_equal(http_parse_err_status(http_req_parser_error(p)), 400);
    http_req_parser_reset(p);
    const char *ftp = "GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n";
    assert_int_equal(parse_all(p, ftp, strlen(ftp), &used), HX_EMALFORMED);
    http_req_parser_free(p);
}

/* A refused request: status and (for cut feeding) the same status at every split. */
static void expect_refused(const char *text, int status)
{
    size_t len = strlen(text), used;
    struct http_req_parser *p = http_req_parser_new(&lim);
    int rc = parse_all(p, text, len, &used);
    if (rc == 0 || rc == HX_ENEEDMORE)
        fail_msg("accepted (rc %d): %s", rc, text);
    assert_int_equal(http_parse_err_status(http_req_parser_error(p)), status);
    /* Stays failed. */
    assert_int_equal(parse_all(p, "x", 1, &used), rc);
    for (size_t cut = 0; cut <= len; cut++) {
        http_req_parser_reset(p);
        rc = parse_cut(p, text, len, cut);
        if (rc == 0 || rc == HX_ENEEDMORE)
            fail_msg("accepted at cut %zu: %s", cut, text);
        if (http_parse_err_status(http_req_parser_error(p)) != status)
            fail_msg("cut %zu: status %d, want %d (%s)", cut,
                     http_parse_err_status(http_req_parser_error(p)), status,
                     http_parse_err_code(http_req_parser_error(p)));
    }
    http_req_parser_reset(p);
    rc = parse_bytewise(p, text, len);
    assert_true(rc != 0 && rc != HX_ENEEDMORE);
    assert_int_equal(http_parse_err_status(http_req_parser_error(p)), status);
    http_req_parser_free(p);
}

static void test_parse_header_limits(void **state)
{
    /* 431: one huge header (over 1024 bytes in all). */
    char big[2048];
    snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: h\r\nX-Big: %0*d\r\n\r\n", 1100, 0);
    expect_refused(big, 431);
    /* 431: nine fields with a limit of eight. */
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\n"
                   "F: 1\r\nG: 1\r\nH: 1\r\n\r\n",
                   431);
    /* Eight is fine. */
    const char *eight = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\n"
                        "F: 1\r\nG: 1\r\n\r\n";
    struct http_req_parser *p = http_req_parser_new(&lim);
    size_t used;
    assert_int_equal(parse_all(p, eight, strlen(eight), &used), 0);
    http_req_parser_free(p);
    /* 414: the target alone is too long. */
    snprintf(big, sizeof(big), "GET /%0*d HTTP/1.1\r\nHost: h\r\n\r\n", 1100, 0);
    expect_refused(big, 414);
    /* 431: many blank-ish bytes of whitespace inside values still count. */
    snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: h\r\nX: a%*sb\r\n\r\n", 1100, "");
    expect_refused(big, 431);
}

static void test_parse_body_limits(void **state)
{
    /* Content-Length over the limit: refused at the headers, before any body byte. */
    const char *cl = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65\r\n\r\n";
    expect_refused(cl, 413);
    /* Chunked: a chunk size over the limit, and chunks adding up over it. */
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n", 413);
    char many[512];
    snprintf(many, sizeof(many),
             "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
             "20\r\n%032d\r\n20\r\n%032d\r\n1\r\nx\r\n0\r\n\r\n",
             0, 0);
    expect_refused(many, 413);
    /* Exactly the limit is fine. */
    char exact[256];
    snprintf(exact, sizeof(exact), "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 64\r\n\r\n%064d",
             0);
    struct http_req_parser *p = http_req_parser_new(&lim);
    size_t used;
    assert_int_equal(parse_all(p, exact, strlen(exact), &used), 0);
    assert_int_equal(http_req_parser_request(p)->body.len, 64);
    http_req_parser_free(p);
}

static void test_parse_smuggling(void **state)
{
    /* RFC 9112 6.3: Transfer-Encoding and Content-Length together. */
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                   400);
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                   "Content-Length: 3\r\n\r\n0\r\n\r\n",
                   400);
    /* Two lengths, equal or not. */
    expect_refused(
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400);
    expect_refused(
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", 400);
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc", 400);
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400);
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc", 400);
    /* Codings other than one "chunked". */
    expect_refused(
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501);
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                   501);
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 501);
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 501);
    /* HTTP/1.0 has no chunked framing. */
    expect_refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
    /* obs-fold (RFC 9112 5.2), and whitespace before the first field. */
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  folded\r\n\r\n", 400);
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\tfolded\r\n\r\n", 400);
    expect_refused("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400);
    /* Bare LF and bare CR line endings. */
    expect_refused("GET / HTTP/1.1\nHost: h\r\n\r\n", 400);
    expect_refused("GET / HTTP/1.1\r\nHost: h\n\r\n", 400);
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\n\n", 400);
    expect_refused("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400);
    /* Bad chunk sizes. */
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400);
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "ffffffffffffffffff\r\n",
                   400);
    expect_refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "3\r\nabcX\r\n",
                   400);
    /* Header names with spaces or control bytes, values with NUL. */
    expect_refused("GET / HTTP/1.1\r\nHost: h\r\nX Y: 1\r\n\r\n", 400);
    expect_refused("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400);
    static const char nul[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
    struct http_req_parser *p = http_req_parser_new(&lim);
    size_t used;
    int rc = parse_all(p, nul, sizeof(nul) - 1, &used);
    assert_true(rc != 0 && rc != HX_ENEEDMORE);
    assert_int_equal(http_parse_err_status(http_req_parser_error(p)), 400);
    http_req_parser_free(p);
}

static void test_parse_host_version_method(void **state)
{
    expect_refused("GET / HTTP/1.1\r\n\r\n", 400);                       /* no Host */
    expect_refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400); /* two */
    expect_refused("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400); /* two, 1.0 */
    expect_refused("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505);
    expect_refused("GET / HTTP/0.9\r\nHost: h\r\n\r\n", 400);
    expect_refused("GET / HTTP/3.0\r\nHost: h\r\n\r\n", 505);
    expect_refused("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    expect_refused("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400);
    expect_refused("GET / HTTP/11\r\nHost: h\r\n\r\n", 400);
    expect_refused("GET / HTTQ/1.1\r\nHost: h\r\n\r\n", 400);
    expect_refused("GET /\r\n\r\n", 400);
    expect_refused("BREW / HTTP/1.1\r\nHost: h\r\n\r\n", 501);
    expect_refused("TRACE / HTTP/1.1\r\nHost: h\r\n\r\n", 501);
    expect_refused("CONNECT example.org:443 HTTP/1.1\r\nHost: example.org\r\n\r\n", 501);
    expect_refused("get / HTTP/1.1\r\nHost: h\r\n\r\n", 501);
    expect_refused("GET\r\n\r\n", 400);                   /* broken inside the method */
    expect_refused("/ HTTP/1.1\r\nHost: h\r\n\r\n", 400); /* no method */
    /* HTTP/1.0 needs no Host; a 1.x minor above 1 is served as 1.1. */
    struct http_req_parser *p = http_req_parser_new(&lim);
    size_t used;
    const char *r = "DELETE /x HTTP/1.0\r\n\r\n";
    assert_int_equal(parse_all(p, r, strlen(r), &used), 0);
    assert_int_equal(http_req_parser_request(p)->method, HTTP_METH_DELETE);
    http_req_parser_reset(p);
    r = "PATCH /x HTTP/1.2\r\nHost: h\r\n\r\n";
    assert_int_equal(parse_all(p, r, strlen(r), &used), 0);
    assert_int_equal(http_req_parser_request(p)->version_minor, 1);
    assert_int_equal(http_req_parser_request(p)->method, HTTP_METH_PATCH);
    http_req_parser_free(p);
}

static void test_parse_expect_and_headers_done(void **state)
{
    struct http_req_parser *p = http_req_parser_new(&lim);
    const char *head = "POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
                       "Content-Length: 4\r\n\r\n";
    size_t used;
    assert_false(http_req_parser_started(p));
    assert_int_equal(parse_all(p, "\r\n\r\n", 4, &used), HX_ENEEDMORE);
    assert_false(http_req_parser_started(p)); /* blank lines between requests */
    assert_int_equal(parse_all(p, head, strlen(head), &used), HX_ENEEDMORE);
    assert_int_equal(used, strlen(head));
    assert_true(http_req_parser_started(p));
    assert_true(http_req_parser_headers_done(p));
    const struct http_request *r = http_req_parser_request(p);
    assert_true(r->has_expect);
    assert_true(r->expect_continue);
    assert_int_equal(r->content_length, 4);
    expect_slice(r->path, "/x");
    assert_int_equal(parse_all(p, "abcd", 4, &used), 0);
    expect_slice(r->body, "abcd");
    http_req_parser_reset(p);
    const char *other = "GET / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n";
    assert_int_equal(parse_all(p, other, strlen(other), &used), 0);
    assert_true(http_req_parser_request(p)->has_expect);
    assert_false(http_req_parser_request(p)->expect_continue);
    http_req_parser_free(p);
}

static void test_parse_trailers_bounded(void **state)
{
    char req[4096];
    snprintf(req, sizeof(req),
             "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
             "0\r\nX-T: %0*d\r\n\r\n",
             1100, 0);
    expect_refused(req, 431);
}

static void test_parse_err_codes(void **state)
{
    assert_int_equal(http_parse_err_status(HTTP_PERR_MALFORMED), 400);
    assert_int_equal(http_parse_err_status(HTTP_PERR_HEADERS_TOO_LARGE), 431);
    assert_int_equal(http_parse_err_status(HTTP_PERR_TOO_MANY_HEADERS), 431);
    assert_int_equal(http_parse_err_status(HTTP_PERR_BODY_TOO_LARGE), 413);
    assert_int_equal(http_parse_err_status(HTTP_PERR_TARGET_TOO_LONG), 414);
    assert_int_equal(http_parse_err_status(HTTP_PERR_METHOD), 501);
    assert_int_equal(http_parse_err_status(HTTP_PERR_VERSION), 505);
    assert_string_equal(http_parse_err_code(HTTP_PERR_HEADERS_TOO_LARGE), "headers_too_large");
    enum http_meth m;
    assert_int_equal(http_meth_parse("OPTIONS", 7, &m), 0);
    assert_int_equal(m, HTTP_METH_OPTIONS);
    assert_int_equal(http_meth_parse("GETX", 4, &m), HX_EINVAL);
    assert_string_equal(http_meth_name(HTTP_METH_DELETE), "DELETE");
    assert_true(http_slice_eq_nocase(slice_cstr("Content-TYPE"), "content-type"));
    assert_false(http_slice_eq_nocase(slice_cstr("Content-TYP"), "content-type"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_get_every_split),
        cmocka_unit_test(test_parse_post_length_every_split),
        cmocka_unit_test(test_parse_post_chunked_every_split),
        cmocka_unit_test(test_parse_pipelined_stops_at_end),
        cmocka_unit_test(test_parse_leading_blank_lines_and_keepalive),
        cmocka_unit_test(test_parse_targets),
        cmocka_unit_test(test_parse_header_limits),
        cmocka_unit_test(test_parse_body_limits),
        cmocka_unit_test(test_parse_smuggling),
        cmocka_unit_test(test_parse_host_version_method),
        cmocka_unit_test(test_parse_expect_and_headers_done),
        cmocka_unit_test(test_parse_trailers_bounded),
        cmocka_unit_test(test_parse_err_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
