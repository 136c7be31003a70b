/*
 * The HTTP/1.1 request parser (see parse.h) over libhttp-parser 2.9. libhttp-parser does the
 * grammar, chunked decoding and the Content-Length / Transfer-Encoding conflict; around it
 * this file copies the target and header fields into one fixed buffer, counts and bounds
 * everything, scans the raw header section for obs-fold and bare CR/LF (which libhttp-parser
 * tolerates), and pauses the parser at the end of the header section (to check and size the
 * body before any of it is read) and at the end of the request (so a pipelined request that
 * follows in the same buffer is left unconsumed).
 * Layer: http (pure codec: no I/O, no globals). Thread: any.
 */
#include "http/parse.h"
#include "core/err.h"
#include "core/mem.h"

#include <errno.h>
#include <http_parser.h>
#include <string.h>

/* A body buffer larger than this is released between requests. */
#define HTTP_BODY_KEEP (64 * 1024)

enum last_cb {
    LAST_NONE = 0, /* nothing yet */
    LAST_URL,      /* the request target */
    LAST_FIELD,    /* a header name */
    LAST_VALUE,    /* a header value */
};

struct http_req_parser {
    http_parser hp;           /* libhttp-parser state; hp.data points back here */
    struct http_limits lim;   /* copied at creation */
    char *hbuf;               /* owned: target, header names and values, back to back */
    uint32_t hcap;            /* size of hbuf */
    uint32_t hlen;            /* bytes used in hbuf */
    struct http_header *hdrs; /* owned: lim.max_headers entries */
    uint32_t n_hdrs;          /* headers used */
    enum last_cb last;        /* what the previous data callback delivered */
    uint32_t url_off;         /* the target in hbuf */
    uint32_t url_len;         /* ... its length */
    uint8_t *body;            /* owned: the body, body_cap bytes */
    size_t body_len;          /* body bytes received */
    size_t body_cap;          /* size of body */
    size_t header_bytes;      /* raw bytes of the header section so far */
    size_t trailer_bytes;     /* bytes of chunked trailer fields (ignored, but bounded) */
    uint32_t n_host;          /* Host fields seen */
    uint32_t n_te;            /* Transfer-Encoding fields seen */
    struct slice te;          /* the last Transfer-Encoding value */
    uint8_t prev;             /* last raw header-section byte scanned (0 at start) */
    bool line_started;        /* the request line began (blank lines before it skipped) */
    bool line_done;           /* the request line ended */
    uint32_t line_len;        /* bytes of the request line so far, CRLF excluded */
    char tail[9];             /* its last 9 bytes: " HTTP/1.1" */
    bool headers_done;        /* header section complete and checked */
    bool complete;            /* the whole request is in */
    enum http_parse_err err;  /* why it failed; HTTP_PERR_NONE while fine */
    struct http_request req;  /* the result */
};

static const struct slice slash = {(const uint8_t *)"/", 1};

bool http_slice_eq_nocase(struct slice s, const char *c)
{
    size_t n = strlen(c);
    if (s.len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t a = s.ptr[i], b = (uint8_t)c[i];
        if (a >= 'A' && a <= 'Z')
            a = (uint8_t)(a + 32);
        if (b >= 'A' && b <= 'Z')
            b = (uint8_t)(b + 32);
        if (a != b)
            return false;
    }
    return true;
}

static int fail(struct http_req_parser *p, enum http_parse_err e)
{
    if (p->err == HTTP_PERR_NONE)
        p->err = e;
    return -1; /* non-zero stops libhttp-parser */
}

/* Appends a piece of the target or a header field to hbuf. */
static int append(struct http_req_parser *p, const char *at, size_t len, enum http_parse_err over)
{
    if (len > p->hcap - p->hlen)
        return fail(p, over);
    memcpy(p->hbuf + p->hlen, at, len);
    p->hlen += (uint32_t)len;
    return 0;
}

static int on_url(http_parser *hp, const char *at, size_t len)
{
    struct http_req_parser *p = hp->data;
    if (p->last == LAST_NONE) {
        p->url_off = p->hlen;
        p->last = LAST_URL;
    }
    int rc = append(p, at, len, HTTP_PERR_TARGET_TOO_LONG);
    p->url_len = p->hlen - p->url_off;
    return rc;
}

/* Chunked trailer fields arrive through the same callbacks after the header section: they
 * are not kept, only bounded. */
static int trailer(struct http_req_parser *p, size_t len)
{
    p->trailer_bytes += len;
    return p->trailer_bytes > p->lim.max_header_bytes ? fail(p, HTTP_PERR_HEADERS_TOO_LARGE) : 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
    struct http_req_parser *p = hp->data;
    if (p->headers_done)
        return trailer(p, len);
    if (p->last != LAST_FIELD) {
        if (p->n_hdrs == p->lim.max_headers)
            return fail(p, HTTP_PERR_TOO_MANY_HEADERS);
        struct http_header *h = &p->hdrs[p->n_hdrs++];
        h->name = slice_make(p->hbuf + p->hlen, 0);
        h->value = slice_make(p->hbuf + p->hlen, 0);
        p->last = LAST_FIELD;
    }
    if (append(p, at, len, HTTP_PERR_HEADERS_TOO_LARGE))
        return -1;
    p->hdrs[p->n_hdrs - 1].name.len += len;
    return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
    struct http_req_parser *p = hp->data;
    if (p->headers_done)
        return trailer(p, len);
    if (HX_UNLIKELY_BUG(p->n_hdrs == 0))
        return fail(p, HTTP_PERR_MALFORMED);
    struct http_header *h = &p->hdrs[p->n_hdrs - 1];
    if (p->last != LAST_VALUE) {
        h->value = slice_make(p->hbuf + p->hlen, 0);
        p->last = LAST_VALUE;
    }
    if (append(p, at, len, HTTP_PERR_HEADERS_TOO_LARGE))
        return -1;
    h->value.len += len;
    return 0;
}

static bool is_ows(uint8_t c)
{
    return c == ' ' || c == '\t';
}

static struct slice trim(struct slice s)
{
    while (s.len && is_ows(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len && is_ows(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

/* RFC 9110 5.6.2: tchar. */
static bool is_tchar(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* token = 1*tchar. libhttp-parser (built non-strict) lets some non-tokens through. */
static bool is_token(struct slice s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (!is_tchar(s.ptr[i]))
            return false;
    return true;
}

static int map_method(unsigned m, enum http_meth *out)
{
    switch (m) {
    case HTTP_GET:
        *out = HTTP_METH_GET;
        return 0;
    case HTTP_HEAD:
        *out = HTTP_METH_HEAD;
        return 0;
    case HTTP_POST:
        *out = HTTP_METH_POST;
        return 0;
    case HTTP_PUT:
        *out = HTTP_METH_PUT;
        return 0;
    case HTTP_PATCH:
        *out = HTTP_METH_PATCH;
        return 0;
    case HTTP_DELETE:
        *out = HTTP_METH_DELETE;
        return 0;
    case HTTP_OPTIONS:
        *out = HTTP_METH_OPTIONS;
        return 0;
    default:
        return HX_EINVAL;
    }
}

/* Splits the request target into path and query: origin-form ("/p?q") or absolute-form
 * ("http://host/p?q", RFC 9112 3.2.2). The authority and asterisk forms are refused. */
static int split_target(struct http_req_parser *p)
{
    struct http_request *r = &p->req;
    const char *u = p->hbuf + p->url_off;
    size_t n = p->url_len;
    r->target = slice_make(u, n);
    if (n > 0 && u[0] == '/') {
        const char *end = memchr(u, '#', n);
        if (end)
            n = (size_t)(end - u);
        const char *q = memchr(u, '?', n);
        r->path = slice_make(u, q ? (size_t)(q - u) : n);
        if (q) {
            r->has_query = true;
            r->query = slice_make(q + 1, n - (size_t)(q + 1 - u));
        }
        return 0;
    }
    struct http_parser_url pu;
    http_parser_url_init(&pu);
    if (n == 0 || http_parser_parse_url(u, n, 0, &pu) != 0)
        return HX_EMALFORMED;
    if (!(pu.field_set & (1u << UF_SCHEMA)) || !(pu.field_set & (1u << UF_HOST)))
        return HX_EMALFORMED;
    struct slice scheme =
        slice_make(u + pu.field_data[UF_SCHEMA].off, pu.field_data[UF_SCHEMA].len);
    if (!http_slice_eq_nocase(scheme, "http") && !http_slice_eq_nocase(scheme, "https"))
        return HX_EMALFORMED;
    if (pu.field_set & (1u << UF_PATH))
        r->path = slice_make(u + pu.field_data[UF_PATH].off, pu.field_data[UF_PATH].len);
    else
        r->path = slash;
    if (pu.field_set & (1u << UF_QUERY)) {
        r->has_query = true;
        r->query = slice_make(u + pu.field_data[UF_QUERY].off, pu.field_data[UF_QUERY].len);
    } else if (memchr(u, '?', n)) {
        r->has_query = true; /* "?" with nothing after it */
        r->query = slice_make(u + n, 0);
    }
    return 0;
}

/* RFC 9112 6.1: a server receiving a transfer coding it does not understand answers 501;
 * only a single "chunked" is understood here. */
static int check_framing(struct http_req_parser *p)
{
    struct http_request *r = &p->req;
    if (p->n_te == 0)
        return 0;
    if (r->version_minor == 0)
        return fail(p, HTTP_PERR_AMBIGUOUS_LENGTH); /* RFC 9112 6.1: faulty framing */
    if (p->n_te > 1 || !http_slice_eq_nocase(trim(p->te), "chunked"))
        return fail(p, HTTP_PERR_TRANSFER_CODING);
    return 0;
}

static int reserve_body(struct http_req_parser *p, size_t need)
{
    if (need <= p->body_cap)
        return 0;
    size_t cap = p->body_cap * 2 > need ? p->body_cap * 2 : need;
    if (cap < 4096)
        cap = 4096;
    if (cap > p->lim.max_body)
        cap = p->lim.max_body;
    void *mem;
    int rc = hx_try_alloc(&mem, cap, p->lim.max_body);
    if (rc < 0)
        return fail(p, rc == HX_ETOOBIG ? HTTP_PERR_BODY_TOO_LARGE : HTTP_PERR_NOMEM);
    if (p->body_len)
        memcpy(mem, p->body, p->body_len);
    free(p->body);
    p->body = mem;
    p->body_cap = cap;
    return 0;
}

static int on_headers_complete(http_parser *hp)
{
    struct http_req_parser *p = hp->data;
    struct http_request *r = &p->req;
    /* Major 0 is what libhttp-parser makes of a request line without a version ("GET /"):
     * malformed, as the request line check says when it runs first. */
    if (hp->http_major == 0)
        return fail(p, HTTP_PERR_MALFORMED);
    if (hp->http_major != 1)
        return fail(p, HTTP_PERR_VERSION);
    r->version_minor = hp->http_minor > 1 ? 1 : (uint8_t)hp->http_minor;
    if (map_method(hp->method, &r->method) < 0)
        return fail(p, HTTP_PERR_METHOD);
    r->headers = p->hdrs;
    r->n_headers = p->n_hdrs;
    for (uint32_t i = 0; i < p->n_hdrs; i++) {
        struct http_header *h = &p->hdrs[i];
        if (!is_token(h->name))
            return fail(p, HTTP_PERR_MALFORMED);
        h->value = trim(h->value);
        if (http_slice_eq_nocase(h->name, "host")) {
            p->n_host++;
        } else if (http_slice_eq_nocase(h->name, "transfer-encoding")) {
            p->n_te++;
            p->te = h->value;
        } else if (http_slice_eq_nocase(h->name, "expect")) {
            r->has_expect = true;
            r->expect_continue = http_slice_eq_nocase(h->value, "100-continue");
        }
    }
    /* RFC 9112 3.2: HTTP/1.1 needs exactly one Host; more than one is always an error. */
    if (p->n_host > 1 || (r->version_minor == 1 && p->n_host == 0))
        return fail(p, HTTP_PERR_HOST);
    if (check_framing(p))
        return -1;
    if (split_target(p) < 0)
        return fail(p, HTTP_PERR_TARGET);
    r->chunked = (hp->flags & F_CHUNKED) != 0;
    r->content_length = (hp->flags & F_CONTENTLENGTH) ? hp->content_length : UINT64_MAX;
    if (r->content_length != UINT64_MAX) {
        if (r->content_length > p->lim.max_body)
            return fail(p, HTTP_PERR_BODY_TOO_LARGE);
        if (reserve_body(p, (size_t)r->content_length))
            return -1;
    }
    r->keep_alive = http_should_keep_alive(hp) != 0;
    p->headers_done = true;
    http_parser_pause(hp, 1); /* http_req_parse resumes it */
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
    struct http_req_parser *p = hp->data;
    if (len > p->lim.max_body - p->body_len)
        return fail(p, HTTP_PERR_BODY_TOO_LARGE);
    if (reserve_body(p, p->body_len + len))
        return -1;
    memcpy(p->body + p->body_len, at, len);
    p->body_len += len;
    return 0;
}

static int on_chunk_header(http_parser *hp)
{
    struct http_req_parser *p = hp->data;
    /* hp->content_length is this chunk's declared size: refuse early rather than read it. */
    if (hp->content_length > p->lim.max_body - p->body_len)
        return fail(p, HTTP_PERR_BODY_TOO_LARGE);
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    struct http_req_parser *p = hp->data;
    p->req.body = slice_make(p->body, p->body_len);
    p->req.keep_alive = http_should_keep_alive(hp) != 0;
    p->complete = true;
    http_parser_pause(hp, 1); /* stop here: what follows is the next request */
    return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_header = on_chunk_header,
    .on_message_complete = on_message_complete,
};

/* RFC 9112 3: request-line = method SP request-target SP HTTP-version, with exactly one space
 * between them. libhttp-parser, built non-strict, accepts "HTTQ/1.1" and extra spaces. */
static int check_request_line(struct http_req_parser *p)
{
    const char *m = http_method_str((enum http_method)p->hp.method);
    const char *t = p->tail;
    bool version_ok = t[0] == ' ' && memcmp(t + 1, "HTTP/", 5) == 0 && t[6] >= '0' && t[6] <= '9' &&
                      t[7] == '.' && t[8] >= '0' && t[8] <= '9';
    if (!version_ok || p->line_len != strlen(m) + 1 + p->url_len + sizeof(p->tail))
        return fail(p, HTTP_PERR_MALFORMED);
    return 0;
}

/* Checks the raw header section bytes: every LF follows a CR, every CR precedes an LF, no
 * line starts with a space or tab (obs-fold, RFC 9112 5.2), and the request line is exact.
 * State carries across calls. */
static int scan_header_bytes(struct http_req_parser *p, const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (p->prev == '\r' && c != '\n')
            return fail(p, HTTP_PERR_LINE_ENDING);
        if (c == '\n' && p->prev != '\r')
            return fail(p, HTTP_PERR_LINE_ENDING);
        if (p->prev == '\n' && is_ows(c))
            return fail(p, HTTP_PERR_OBS_FOLD);
        p->prev = c;
        if (p->line_done)
            continue;
        if (c == '\r' || c == '\n') {
            if (p->line_started) {
                p->line_done = true;
                if (check_request_line(p))
                    return -1;
            }
            continue; /* blank lines before the request line are ignored (RFC 9112 2.2) */
        }
        p->line_started = true;
        p->line_len++;
        memmove(p->tail, p->tail + 1, sizeof(p->tail) - 1);
        p->tail[sizeof(p->tail) - 1] = (char)c;
    }
    return 0;
}

static enum http_parse_err map_errno(const struct http_req_parser *p, enum http_errno e)
{
    switch (e) {
    case HPE_HEADER_OVERFLOW:
        return HTTP_PERR_HEADERS_TOO_LARGE;
    case HPE_INVALID_METHOD:
        return HTTP_PERR_METHOD;
    case HPE_INVALID_URL:
    case HPE_INVALID_HOST:
    case HPE_INVALID_PORT:
    case HPE_INVALID_PATH:
    case HPE_INVALID_QUERY_STRING:
    case HPE_INVALID_FRAGMENT:
        return HTTP_PERR_TARGET;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        return HTTP_PERR_AMBIGUOUS_LENGTH;
    case HPE_INVALID_CHUNK_SIZE:
        return HTTP_PERR_CHUNK;
    case HPE_INVALID_CONTENT_LENGTH:
        /* Also a chunk size that overflows. */
        return p->headers_done ? HTTP_PERR_CHUNK : HTTP_PERR_MALFORMED;
    case HPE_INVALID_TRANSFER_ENCODING:
        return HTTP_PERR_TRANSFER_CODING;
    case HPE_LF_EXPECTED:
    case HPE_STRICT:
        return p->headers_done ? HTTP_PERR_CHUNK : HTTP_PERR_LINE_ENDING;
    default:
        return HTTP_PERR_MALFORMED;
    }
}

static int failed_rc(const struct http_req_parser *p)
{
    switch (p->err) {
    case HTTP_PERR_TARGET_TOO_LONG:
    case HTTP_PERR_HEADERS_TOO_LARGE:
    case HTTP_PERR_TOO_MANY_HEADERS:
    case HTTP_PERR_BODY_TOO_LARGE:
        return HX_ETOOBIG;
    default:
        return HX_EMALFORMED;
    }
}

int http_req_parse(struct http_req_parser *p, const uint8_t *data, size_t len, size_t *consumed)
{
    *consumed = 0;
    if (p->err != HTTP_PERR_NONE)
        return failed_rc(p);
    if (p->complete)
        return 0;
    size_t off = 0;
    while (off < len) {
        bool in_headers = !p->headers_done;
        size_t n = http_parser_execute(&p->hp, &settings, (const char *)data + off, len - off);
        enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
        if (in_headers && p->err == HTTP_PERR_NONE) {
            /* Paused at the end of the header section, the parser stands on its last LF:
             * scan that byte too (it is not consumed until the parser resumes). */
            size_t scan = p->headers_done && off + n < len ? n + 1 : n;
            scan_header_bytes(p, data + off, scan);
            p->header_bytes += n;
            if (p->header_bytes > p->lim.max_header_bytes)
                fail(p,
                     p->last <= LAST_URL ? HTTP_PERR_TARGET_TOO_LONG : HTTP_PERR_HEADERS_TOO_LARGE);
        }
        off += n;
        if (p->err == HTTP_PERR_NONE && e != HPE_OK && e != HPE_PAUSED) {
            p->err = map_errno(p, e);
            /* An unknown method is a token that names no method we know (501); a request
             * line broken inside its first token ("GET\r\n", "/ HTTP/1.1") is malformed. */
            if (e == HPE_INVALID_METHOD && off < len && !is_tchar(data[off]))
                p->err = HTTP_PERR_MALFORMED;
        }
        if (p->err != HTTP_PERR_NONE) {
            *consumed = off;
            return failed_rc(p);
        }
        if (e == HPE_PAUSED) {
            if (p->complete)
                break;
            http_parser_pause(&p->hp, 0); /* paused after the header section: go on */
        }
    }
    *consumed = off;
    return p->complete ? 0 : HX_ENEEDMORE;
}

struct http_req_parser *http_req_parser_new(const struct http_limits *lim)
{
    struct http_req_parser *p = hx_xcalloc(1, sizeof(*p));
    p->lim = *lim;
    if (p->lim.max_header_bytes == 0)
        p->lim.max_header_bytes = HTTP_DEFAULT_MAX_HEADER_BYTES;
    if (p->lim.max_header_bytes > HTTP_MAX_HEADER_BYTES_CEILING)
        p->lim.max_header_bytes = HTTP_MAX_HEADER_BYTES_CEILING;
    if (p->lim.max_headers == 0)
        p->lim.max_headers = HTTP_DEFAULT_MAX_HEADERS;
    p->hcap = p->lim.max_header_bytes;
    p->hbuf = hx_xmalloc(p->hcap);
    p->hdrs = hx_alloc_array(p->lim.max_headers, sizeof(*p->hdrs));
    http_req_parser_reset(p);
    return p;
}

void http_req_parser_free(struct http_req_parser *p)
{
    if (!p)
        return;
    free(p->hbuf);
    free(p->hdrs);
    free(p->body);
    free(p);
}

void http_req_parser_reset(struct http_req_parser *p)
{
    http_parser_init(&p->hp, HTTP_REQUEST);
    p->hp.data = p;
    p->hlen = 0;
    p->n_hdrs = 0;
    p->last = LAST_NONE;
    p->url_off = p->url_len = 0;
    p->body_len = 0;
    if (p->body_cap > HTTP_BODY_KEEP) {
        HX_FREE(p->body);
        p->body_cap = 0;
    }
    p->header_bytes = 0;
    p->trailer_bytes = 0;
    p->n_host = p->n_te = 0;
    p->te = slice_make(NULL, 0);
    p->prev = 0;
    p->line_started = p->line_done = false;
    p->line_len = 0;
    memset(p->tail, 0, sizeof(p->tail));
    p->headers_done = p->complete = false;
    p->err = HTTP_PERR_NONE;
    memset(&p->req, 0, sizeof(p->req));
    p->req.content_length = UINT64_MAX;
}

bool http_req_parser_headers_done(const struct http_req_parser *p)
{
    return p->headers_done;
}

bool http_req_parser_started(const struct http_req_parser *p)
{
    return p->line_started || p->headers_done;
}

const struct http_request *http_req_parser_request(const struct http_req_parser *p)
{
    return &p->req;
}

enum http_parse_err http_req_parser_error(const struct http_req_parser *p)
{
    return p->err;
}

/* The one place parse errors become status codes (STYLE.md 3). */
int http_parse_err_status(enum http_parse_err e)
{
    switch (e) {
    case HTTP_PERR_NONE:
        return 200;
    case HTTP_PERR_TARGET_TOO_LONG:
        return 414;
    case HTTP_PERR_HEADERS_TOO_LARGE:
    case HTTP_PERR_TOO_MANY_HEADERS:
        return 431;
    case HTTP_PERR_BODY_TOO_LARGE:
        return 413;
    case HTTP_PERR_METHOD:
    case HTTP_PERR_TRANSFER_CODING:
        return 501;
    case HTTP_PERR_VERSION:
        return 505;
    case HTTP_PERR_NOMEM:
        return 503;
    default:
        return 400;
    }
}

const char *http_parse_err_code(enum http_parse_err e)
{
    switch (e) {
    case HTTP_PERR_NONE:
        return "ok";
    case HTTP_PERR_LINE_ENDING:
        return "bad_line_ending";
    case HTTP_PERR_OBS_FOLD:
        return "obsolete_line_folding";
    case HTTP_PERR_AMBIGUOUS_LENGTH:
        return "ambiguous_length";
    case HTTP_PERR_HOST:
        return "bad_host";
    case HTTP_PERR_TARGET:
        return "bad_request_target";
    case HTTP_PERR_CHUNK:
        return "bad_chunk";
    case HTTP_PERR_TARGET_TOO_LONG:
        return "uri_too_long";
    case HTTP_PERR_HEADERS_TOO_LARGE:
        return "headers_too_large";
    case HTTP_PERR_TOO_MANY_HEADERS:
        return "too_many_headers";
    case HTTP_PERR_BODY_TOO_LARGE:
        return "body_too_large";
    case HTTP_PERR_METHOD:
        return "method_not_implemented";
    case HTTP_PERR_TRANSFER_CODING:
        return "transfer_coding_not_implemented";
    case HTTP_PERR_VERSION:
        return "http_version_not_supported";
    case HTTP_PERR_NOMEM:
        return "server_busy";
    case HTTP_PERR_MALFORMED:
        break;
    }
    return "bad_request";
}

const char *http_parse_err_message(enum http_parse_err e)
{
    switch (e) {
    case HTTP_PERR_NONE:
        return "ok";
    case HTTP_PERR_LINE_ENDING:
        return "lines must end with CRLF";
    case HTTP_PERR_OBS_FOLD:
        return "header fields must not be folded over several lines";
    case HTTP_PERR_AMBIGUOUS_LENGTH:
        return "the message length is ambiguous (Transfer-Encoding with Content-Length, or "
               "Content-Length twice)";
    case HTTP_PERR_HOST:
        return "an HTTP/1.1 request needs exactly one Host header";
    case HTTP_PERR_TARGET:
        return "the request target must be a path starting with '/'";
    case HTTP_PERR_CHUNK:
        return "malformed chunked body";
    case HTTP_PERR_TARGET_TOO_LONG:
        return "the request target is too long";
    case HTTP_PERR_HEADERS_TOO_LARGE:
        return "the request header section is too large";
    case HTTP_PERR_TOO_MANY_HEADERS:
        return "the request has too many header fields";
    case HTTP_PERR_BODY_TOO_LARGE:
        return "the request body is too large";
    case HTTP_PERR_METHOD:
        return "this method is not implemented";
    case HTTP_PERR_TRANSFER_CODING:
        return "only the chunked transfer coding is implemented";
    case HTTP_PERR_VERSION:
        return "only HTTP/1.0 and HTTP/1.1 are supported";
    case HTTP_PERR_NOMEM:
        return "the server cannot take this request now";
    case HTTP_PERR_MALFORMED:
        break;
    }
    return "malformed request";
}

const struct http_header *http_request_header(const struct http_request *r, const char *name)
{
    for (uint32_t i = 0; i < r->n_headers; i++)
        if (http_slice_eq_nocase(r->headers[i].name, name))
            return &r->headers[i];
    return NULL;
}

static const char *const meth_names[HTTP_METH_COUNT] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
};

const char *http_meth_name(enum http_meth m)
{
    return (unsigned)m < HTTP_METH_COUNT ? meth_names[m] : "?";
}

int http_meth_parse(const char *s, size_t len, enum http_meth *out)
{
    for (unsigned i = 0; i < HTTP_METH_COUNT; i++) {
        if (strlen(meth_names[i]) == len && memcmp(meth_names[i], s, len) == 0) {
            *out = (enum http_meth)i;
            return 0;
        }
    }
    return HX_EINVAL;
}
