/*
 * The HTTP/1.1 request parser (pure: no sockets, no loop, no globals), on top of
 * libhttp-parser. Resumable: feed bytes as they arrive, split anywhere; it stops exactly at
 * the end of one request so that pipelined requests are parsed one at a time. It copies what
 * it keeps (request target, header names and values) into one buffer per parser, sized by
 * the header limit and reused for every request: nothing is allocated per header. The body
 * goes into a second buffer, bounded by the body limit.
 *
 * Refused (RFC 9110/9112, and the request smuggling basics): header section over the limit
 * (431), too many header fields (431), request target over the header limit (414), body over
 * the limit (413), Transfer-Encoding together with Content-Length, two Content-Length fields,
 * obs-fold (a header line starting with a space or tab), bare LF or CR line endings, a bad
 * chunk size, a missing or repeated Host in HTTP/1.1, a request target that is neither an
 * origin-form path nor an absolute URL (all 400), a Transfer-Encoding other than "chunked"
 * (501), a method other than GET HEAD POST PUT PATCH DELETE OPTIONS (501), an HTTP version
 * other than 1.x (505).
 * Thread: any (one parser is used by one thread at a time).
 */
#ifndef MEDHUB_HTTP_PARSE_H
#define MEDHUB_HTTP_PARSE_H

#include "core/slice.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_DEFAULT_MAX_HEADER_BYTES (16 * 1024)
#define HTTP_DEFAULT_MAX_HEADERS      64
#define HTTP_DEFAULT_MAX_BODY         (1024 * 1024)
/* The parser's own ceiling on the header limit (libhttp-parser stops at 80 KiB itself). */
#define HTTP_MAX_HEADER_BYTES_CEILING (64 * 1024)

/* The methods medhub implements; anything else is refused with 501. */
enum http_meth {
    HTTP_METH_GET = 0,
    HTTP_METH_HEAD = 1,
    HTTP_METH_POST = 2,
    HTTP_METH_PUT = 3,
    HTTP_METH_PATCH = 4,
    HTTP_METH_DELETE = 5,
    HTTP_METH_OPTIONS = 6,
    HTTP_METH_COUNT = 7,
};

/* Why a request was refused; http_parse_err_status maps each to its status code. */
enum http_parse_err {
    HTTP_PERR_NONE = 0,
    HTTP_PERR_MALFORMED,         /* 400: syntax the parser refused */
    HTTP_PERR_LINE_ENDING,       /* 400: bare LF or CR */
    HTTP_PERR_OBS_FOLD,          /* 400: a header continued on the next line */
    HTTP_PERR_AMBIGUOUS_LENGTH,  /* 400: Transfer-Encoding with Content-Length, or two lengths */
    HTTP_PERR_HOST,              /* 400: HTTP/1.1 without exactly one Host */
    HTTP_PERR_TARGET,            /* 400: request target not a path or absolute URL */
    HTTP_PERR_CHUNK,             /* 400: bad chunk size or chunk framing */
    HTTP_PERR_TARGET_TOO_LONG,   /* 414 */
    HTTP_PERR_HEADERS_TOO_LARGE, /* 431: header section over max_header_bytes */
    HTTP_PERR_TOO_MANY_HEADERS,  /* 431: more than max_headers fields */
    HTTP_PERR_BODY_TOO_LARGE,    /* 413 */
    HTTP_PERR_METHOD,            /* 501: a method medhub does not implement */
    HTTP_PERR_TRANSFER_CODING,   /* 501: a transfer coding other than chunked */
    HTTP_PERR_VERSION,           /* 505 */
    HTTP_PERR_NOMEM,             /* 503: the body buffer could not be allocated */
};

struct http_limits {
    uint32_t max_header_bytes; /* request line + header fields, as sent; <= the ceiling */
    uint32_t max_headers;      /* header fields */
    uint32_t max_body;         /* body bytes (after chunked decoding) */
};

struct http_header {
    struct slice name;  /* as sent (compare with http_slice_eq_nocase) */
    struct slice value; /* surrounding whitespace removed */
};

/* A parsed request. Every slice points into the parser's buffers: valid until
 * http_req_parser_reset or _free. */
struct http_request {
    enum http_meth method;       /* see enum http_meth */
    struct slice target;         /* request target as sent */
    struct slice path;           /* its path, still percent-encoded; "/" at least */
    struct slice query;          /* its query without '?', still encoded; len 0 when none */
    bool has_query;              /* a '?' was present */
    uint8_t version_minor;       /* HTTP/1.<minor>: 0 or 1 */
    struct http_header *headers; /* in the order received */
    uint32_t n_headers;          /* headers used */
    struct slice body;           /* the body (chunked framing removed); len 0 when none */
    bool keep_alive;             /* the client allows another request on this connection */
    bool chunked;                /* the body came chunked */
    bool has_expect;             /* an Expect field is present */
    bool expect_continue;        /* Expect: 100-continue (and nothing else) */
    uint64_t content_length;     /* Content-Length; UINT64_MAX when absent */
};

struct http_req_parser;

/* Allocates a parser with its header buffer (lim->max_header_bytes, clamped to the ceiling)
 * and header array (lim->max_headers); the body buffer grows on demand up to lim->max_body.
 * lim is copied. Returns owned (http_req_parser_free); aborts on OOM (sizes come from config).
 * Thread: any. */
struct http_req_parser *http_req_parser_new(const struct http_limits *lim);
void http_req_parser_free(struct http_req_parser *p);

/*
 * Feeds data[0..len). OUT: *consumed, the bytes used (never past the end of one request: the
 * rest belongs to the next request and must be fed again after http_req_parser_reset).
 * Returns 0 when a request is complete (http_req_parser_request is valid until reset),
 * HX_ENEEDMORE when everything was consumed and the request is not complete yet, or
 * HX_EMALFORMED / HX_ETOOBIG on a refused request (http_req_parser_error says why; feed
 * nothing more: the connection must close after the error response).
 * Thread: any.
 */
int http_req_parse(struct http_req_parser *p, const uint8_t *data, size_t len, size_t *consumed);
/* True once the header section of the current request is complete (and passed the checks):
 * the moment to send "100 Continue" or to refuse early. */
bool http_req_parser_headers_done(const struct http_req_parser *p);
/* True once a byte of the current request's line was consumed: the blank lines (CRLF) a
 * client may send between requests do not start one. */
bool http_req_parser_started(const struct http_req_parser *p);
/* The request so far: complete after 0; after http_req_parser_headers_done its method,
 * target and headers are valid (body still empty). Borrowed from p. */
const struct http_request *http_req_parser_request(const struct http_req_parser *p);
/* Why the last http_req_parse failed (HTTP_PERR_NONE when it did not). */
enum http_parse_err http_req_parser_error(const struct http_req_parser *p);
/* Gets ready for the next request on the same connection (keeps the buffers; a body buffer
 * grown past 64 KiB is released so that idle connections stay small). */
void http_req_parser_reset(struct http_req_parser *p);

/* The status code for an error (400, 413, 414, 431, 501, 503, 505). Thread: any. */
int http_parse_err_status(enum http_parse_err e);
/* A short machine-readable code for the error body ("headers_too_large") and a one-line
 * message for people. Static strings. Thread: any. */
const char *http_parse_err_code(enum http_parse_err e);
const char *http_parse_err_message(enum http_parse_err e);

/* The first header named name (case-insensitive), or NULL. Borrows r. */
const struct http_header *http_request_header(const struct http_request *r, const char *name);
/* "GET", "HEAD" ...; "?" for an out-of-range value. */
const char *http_meth_name(enum http_meth m);
/* Parses a method name (exact, upper case). Returns 0 or HX_EINVAL. */
int http_meth_parse(const char *s, size_t len, enum http_meth *out);
/* ASCII case-insensitive comparison of a slice with a C string. */
bool http_slice_eq_nocase(struct slice s, const char *c);

#endif
