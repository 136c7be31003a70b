/*
 * The HTTP/1.1 server that the REST API, FHIR, the live stream (SSE), the web UI and the
 * operations endpoints sit on. Listeners come from [http] (plain on loopback, HTTPS with the
 * data dir's server certificate); connections run on the loop over src/net; requests are
 * parsed by http/parse.h, routed by method and path pattern, authenticated through a seam
 * that the security module fills in, and handed to handlers that answer at once or later.
 * See docs/http.md (operators and contributors) and docs/internals/http.md (invariants).
 *
 * For a module that serves HTTP:
 *   - register:     http_router_add(http_server_router(hs), "GET", "/api/v1/patients/{id}",
 *                                   patients_show, api, "patients.show");
 *   - read:         http_exchange_param(x, "id"), http_exchange_query(x, &q),
 *                   http_exchange_request(x)->body, http_exchange_principal(x)
 *   - answer:       http_respond_json(x, 200, obj) / http_error(x, 404, "not_found", "...")
 *                   now, or later from an after-work callback on the loop;
 *   - stream (SSE): http_stream_begin(x, 200, "text/event-stream"), http_stream_write(...),
 *                   http_exchange_on_close(x, gone, arg), http_stream_end(x).
 * Every exchange a handler receives must be finished exactly once: by one http_respond*,
 * http_error or http_stream_end/abort call. Until then it stays valid even if the client has
 * gone (those calls then only release it).
 * Thread: loop, every function, except the pure helpers marked "Thread: any".
 */
#ifndef MEDHUB_HTTP_HTTP_H
#define MEDHUB_HTTP_HTTP_H

#include "core/cfg.h"
#include "core/hist.h"
#include "core/log.h"
#include "http/parse.h"
#include "http/query.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct http_server;
struct http_router;
struct http_route;
struct http_exchange;

/* ---- A growable text buffer (response bodies, metrics) ---------------------------------- */

struct http_buf {
    char *ptr;  /* owned; NUL-terminated when len > 0; NULL until the first append */
    size_t len; /* bytes used, without the NUL */
    size_t cap; /* bytes allocated */
};

/* Appends (aborts on OOM: sizes here come from our own code, not from the network).
 * Thread: any. */
void http_buf_append(struct http_buf *b, const void *p, size_t len);
void http_buf_printf(struct http_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void http_buf_release(struct http_buf *b);

/* ---- Handlers ------------------------------------------------------------------------------ */

/* Runs on the loop for a routed, authenticated request. x is owned by the handler until it
 * finishes it (see the top of this file); arg is the route's. */
typedef void http_handler_fn(struct http_exchange *x, void *arg);
/* The client went away (or the server is draining) while a handler still holds x: called
 * once, on the loop; x stays valid and must still be finished (e.g. http_stream_end). */
typedef void http_close_fn(struct http_exchange *x, void *arg);

/* ---- Router --------------------------------------------------------------------------------- */

#define HTTP_ROUTE_MAX_SEGS   16 /* segments in a pattern */
#define HTTP_ROUTE_MAX_PARAMS 8  /* {params} in a pattern */

enum http_route_flags {
    /* The pattern ends with '/' and matches that path and everything below it ("/fhir/"). */
    HTTP_ROUTE_PREFIX = 1u << 0,
    /* No authentication (health checks, the login page, static files). */
    HTTP_ROUTE_PUBLIC = 1u << 1,
    /* Public on the plain listener when it is bound to loopback; elsewhere (HTTPS, or a plain
     * listener opened up with insecure = true) it needs the route's permission (/metrics). */
    HTTP_ROUTE_LOOPBACK_PUBLIC = 1u << 2,
    /* A catch-all (the static files at "/"): it never turns a 404 into a 405. */
    HTTP_ROUTE_FALLBACK = 1u << 3,
};

struct http_route_def {
    const char *method;  /* "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", or "*" */
    const char *pattern; /* "/api/v1/patients/{id}": literal segments and whole-segment
                          * {params}; with HTTP_ROUTE_PREFIX it ends with '/' */
    http_handler_fn *fn; /* required */
    void *arg;           /* for fn; borrowed, must outlive the server */
    const char *name;    /* required: the metrics `route` label and log field ("patients.show") */
    const char *perm;    /* permission the authenticator checks; NULL: any authenticated caller */
    unsigned flags;      /* enum http_route_flags */
};

/*
 * Registers a route. Strings are copied. When several routes match a path, the most specific
 * wins: compared segment by segment from the left, a literal beats a {param}, which beats
 * the rest of a prefix route; an exact route beats a prefix route with the same segments.
 * GET routes also answer HEAD (the body is dropped). A path that matches only routes of other
 * methods gets 405 with Allow (OPTIONS gets 204 with Allow), one that matches none gets 404.
 * Errors: HX_EINVAL (bad method or pattern, missing fn or name, more than
 * HTTP_ROUTE_MAX_SEGS segments or HTTP_ROUTE_MAX_PARAMS params, a repeated param name),
 * HX_EEXIST (same method and pattern already registered). Thread: loop, before
 * http_server_start (routes are not added while requests are served).
 */
int http_router_add_route(struct http_router *r, const struct http_route_def *d);
/* Shorthand: an authenticated route (any authenticated caller; the authenticator sees the
 * route name and can decide per route). */
int http_router_add(struct http_router *r, const char *method, const char *pattern,
                    http_handler_fn *fn, void *arg, const char *name);
/* Shorthand: a public route (HTTP_ROUTE_PUBLIC). */
int http_router_add_public(struct http_router *r, const char *method, const char *pattern,
                           http_handler_fn *fn, void *arg, const char *name);

const char *http_route_name(const struct http_route *rt);
const char *http_route_perm(const struct http_route *rt); /* NULL when none */
unsigned http_route_flags(const struct http_route *rt);

/* The router on its own (the server owns one; tests make their own). Thread: any. */
struct http_router *http_router_new(void);
void http_router_free(struct http_router *r);

enum http_match {
    HTTP_MATCH_FOUND = 0,       /* out->route is set */
    HTTP_MATCH_NOT_FOUND = 1,   /* no route for this path: 404 */
    HTTP_MATCH_NOT_ALLOWED = 2, /* routes for this path, none for the method: 405, out->allow */
};

struct http_route_match {
    const struct http_route *route;            /* the winner (FOUND) */
    uint32_t param_seg[HTTP_ROUTE_MAX_PARAMS]; /* path segment of each {param}, in order */
    uint32_t rest_seg;                         /* prefix routes: first segment after it */
    unsigned allow;                            /* NOT_ALLOWED: 1u << enum http_meth */
};

/* Matches a decoded path (http_path_split). Borrows r and path. Thread: any. */
enum http_match http_router_match(const struct http_router *r, enum http_meth m,
                                  const struct http_path *path, struct http_route_match *out);
/* Writes "GET, HEAD, OPTIONS" for an allow mask into out (NUL-terminated, truncated to
 * out_len). Thread: any. */
void http_allow_format(unsigned allow, char *out, size_t out_len);

/* ---- Authentication seam ------------------------------------------------------------------- */

#define HTTP_AUTH_OK      0 /* let the request through to the handler */
#define HTTP_AUTH_PENDING 1 /* the authenticator calls http_auth_resume later */

/*
 * Runs before the handler of every route that is not public (see HTTP_ROUTE_PUBLIC and
 * HTTP_ROUTE_LOOPBACK_PUBLIC). It reads the request (Authorization, Cookie), may attach the
 * caller with http_exchange_set_principal, and returns HTTP_AUTH_OK, an error status (401:
 * the server adds WWW-Authenticate: Bearer; 403; 503 ...) that the server answers with a JSON
 * error, or HTTP_AUTH_PENDING after starting work (a session lookup on a worker) whose
 * completion calls http_auth_resume. It must not respond itself. route is borrowed.
 * Without an authenticator installed, only public routes are served: others get 401.
 */
typedef int http_authenticate_fn(void *arg, struct http_exchange *x,
                                 const struct http_route *route);
/* Installs the authenticator (one per server; NULL removes it). Thread: loop. */
void http_server_set_authenticator(struct http_server *hs, http_authenticate_fn *fn, void *arg);
/* Finishes an HTTP_AUTH_PENDING decision: status HTTP_AUTH_OK runs the handler, anything else
 * is answered as an error. If the client went away meanwhile, this only releases x. */
void http_auth_resume(struct http_exchange *x, int status);
/* Attaches the authenticated caller. principal is taken: free_fn (may be NULL) runs when the
 * exchange is finished. Replaces (and frees) an earlier one. */
void http_exchange_set_principal(struct http_exchange *x, void *principal, void (*free_fn)(void *));
/* The caller attached by the authenticator, or NULL (public routes). Borrowed from x. */
void *http_exchange_principal(const struct http_exchange *x);

/* ---- The exchange: reading the request -------------------------------------------------- */

/* The parsed request (method, headers, body ...). Borrowed: valid until x is finished. */
const struct http_request *http_exchange_request(const struct http_exchange *x);
/* The decoded path segments. Borrowed like the request. */
const struct http_path *http_exchange_path(const struct http_exchange *x);
/* A {param} of the route, decoded and NUL-terminated ("%2F" stays a '/' inside the value), or
 * NULL when the route has no such param. Borrowed like the request. */
const char *http_exchange_param(const struct http_exchange *x, const char *name);
/* The query string, parsed on first use. OUT: *out borrowed like the request.
 * Errors: HX_EMALFORMED (bad escape, %00), HX_ETOOBIG (too many params): answer 400. */
int http_exchange_query(struct http_exchange *x, const struct http_query **out);
/* The route that matched (NULL while no route did, e.g. in error responses). */
const struct http_route *http_exchange_route(const struct http_exchange *x);
bool http_exchange_is_tls(const struct http_exchange *x);
/* True when the request came in on the plain listener bound to loopback. */
bool http_exchange_is_loopback_plain(const struct http_exchange *x);
const char *http_exchange_peer(const struct http_exchange *x); /* "127.0.0.1:53422" */
/* The log context (conn and request ids): pass it to log_*(). Borrowed from x. */
const struct log_ctx *http_exchange_log_ctx(const struct http_exchange *x);
/* Memory that lives until x is finished (an arena: never free it). Aborts on OOM; size comes
 * from the caller, who bounds what it takes from the request. */
void *http_exchange_alloc(struct http_exchange *x, size_t size);
/* True once the client has gone: responses are dropped; finish x to release it. */
bool http_exchange_is_closed(const struct http_exchange *x);
/* Sets (or clears, fn NULL) the callback for the client going away. */
void http_exchange_on_close(struct http_exchange *x, http_close_fn *fn, void *arg);

/* ---- The exchange: responding -------------------------------------------------------------- */

/* Adds a response header (copied) to the response not yet sent: Location, ETag, Allow...
 * Every response already carries Date, Server, the security headers (docs/http.md) and, unless
 * a Cache-Control is added here, "Cache-Control: no-store".
 * Errors: HX_EINVAL (a CR, LF or NUL in name or value, or an empty name; the header is not
 * added), HX_ESHUTDOWN (already responded). */
int http_add_header(struct http_exchange *x, const char *name, const char *value);

/*
 * Sends a complete response and finishes x. body[0..len) is borrowed for the call (copied);
 * content_type may be NULL (no body expected: 204, 304). HEAD requests get the headers only.
 * A body larger than the connection's write queue is sent in pieces as the client reads.
 * Returns 0, or HX_ESHUTDOWN when the client has gone (x is released all the same).
 */
int http_respond(struct http_exchange *x, int status, const char *content_type, const void *body,
                 size_t len);
/* Sends json (borrowed) as application/json and finishes x; returns as http_respond. */
int http_respond_json(struct http_exchange *x, int status, const json_t *json);
/* Sends {"error": {"code": code, "message": message}} with status and finishes x. code and
 * message are borrowed for the call; no PHI in them (they may be logged). */
int http_error(struct http_exchange *x, int status, const char *code, const char *message);

/*
 * Starts a streaming response (server-sent events: "text/event-stream"): headers now, body
 * pieces later with http_stream_write. HTTP/1.1 clients get chunked framing and the
 * connection stays usable after http_stream_end; HTTP/1.0 clients get the body up to the
 * connection's close. Request timeouts stop while a stream is open.
 * Returns 0, HX_ESHUTDOWN (the client has gone: still call http_stream_end) or HX_EINVAL
 * (already responded).
 */
int http_stream_begin(struct http_exchange *x, int status, const char *content_type);
/*
 * Queues one piece (copied; one chunk). Returns 0, HX_ESHUTDOWN (the client has gone),
 * HX_ETOOBIG (the connection's write queue is full: nothing was queued; drop the client
 * with http_stream_abort) or HX_EINVAL (no stream begun). A HEAD request's stream accepts
 * and drops everything.
 */
int http_stream_write(struct http_exchange *x, const void *p, size_t len);
/* Bytes queued to this client and not yet sent (0 once it has gone). */
size_t http_stream_queued(const struct http_exchange *x);
/* True when more than http.stream_queue_bytes are queued: the client does not keep up, and
 * a live stream should drop it (http_stream_abort) rather than buffer without bound. */
bool http_stream_is_congested(const struct http_exchange *x);
/* Ends the stream in order (the last chunk) and finishes x. */
void http_stream_end(struct http_exchange *x);
/* Closes the connection at once (a slow or misbehaving client) and finishes x. */
void http_stream_abort(struct http_exchange *x);

/* ---- The server --------------------------------------------------------------------------- */

struct http_stats {
    uint64_t connections;  /* connections accepted (both listeners) */
    uint64_t conn_refused; /* connections refused over http.max_connections */
    uint32_t open_plain;   /* connections open now on the plain listener */
    uint32_t open_tls;     /* connections open now on the HTTPS listener */
    uint64_t requests;     /* requests answered (any status) */
    uint64_t parse_errors; /* requests refused by the parser (4xx/5xx, connection closed) */
    uint64_t timeouts;     /* connections closed by the header, body or idle timeout */
    uint64_t streams;      /* streams begun */
    uint64_t client_gone;  /* exchanges whose client went away before the response */
};

/* Creates the server (no listener yet) with its router and the limits from cfg ([http]);
 * cfg and loop are borrowed and must outlive it. OUT: *out returns owned. Thread: loop. */
void http_server_new(struct http_server **out, uv_loop_t *loop, const struct cfg *cfg);
/* The router, for modules registering routes before http_server_start. Borrowed. */
struct http_router *http_server_router(struct http_server *hs);
/*
 * Starts the plain listener (cfg http.listen, when set) and the HTTPS listener (http.tls_listen,
 * when set; certificate and key from [tls]; skipped with a warning when they are missing), and
 * logs msg="listening" proto=http|https addr=HOST:PORT with the bound port.
 * Errors: negative libuv/errno codes from binding, TLS context errors; detail in err. On error
 * whatever started is stopped again; run the loop, then http_server_free.
 */
int http_server_start(struct http_server *hs, char *err, size_t err_len);
/* Drain: stops accepting and closes every connection (queued responses are flushed; handlers
 * still holding an exchange get their on_close). Idempotent. */
void http_server_stop(struct http_server *hs);
/* Frees the server once the loop has run to completion. NULL is a no-op. */
void http_server_free(struct http_server *hs);
/* The bound port of a listener (tls false: plain), 0 when not listening. */
uint16_t http_server_port(const struct http_server *hs, bool tls);
void http_server_get_stats(const struct http_server *hs, struct http_stats *out);
/* Calls fn for each (route name, status) pair with its request count. Requests refused before
 * routing count under route "none", unrouted ones (404, 405) under "unmatched". */
typedef void http_count_fn(void *arg, const char *route, int status, uint64_t n);
void http_server_each_count(const struct http_server *hs, http_count_fn *fn, void *arg);
/* The request duration histogram (microseconds from the complete request to the last response
 * byte queued). Borrowed. */
const struct hx_hist *http_server_latency(const struct http_server *hs);
/* True once http_server_stop was called. */
bool http_server_is_stopping(const struct http_server *hs);

/* ---- Static files (static.c) --------------------------------------------------------------- */

/* Largest file served from the web root, and the most bytes held for all of them. */
#define HTTP_STATIC_FILE_MAX  (8 * 1024 * 1024)
#define HTTP_STATIC_TOTAL_MAX (64 * 1024 * 1024)

/*
 * Loads every regular file under root into memory (blocking: call before the loop runs),
 * with its ETag, MIME type and, for text types, a gzip copy, and registers the public
 * catch-all route "/" (GET, HEAD; name "static"). Files whose real path leaves root (symlinks
 * out), dotfiles and files over HTTP_STATIC_FILE_MAX are skipped and logged. Restart to pick
 * up changes. Errors: -ENOENT / -ENOTDIR (root), HX_ETOOBIG (over HTTP_STATIC_TOTAL_MAX),
 * detail in err.
 */
int http_static_register(struct http_server *hs, const char *root, char *err, size_t err_len);
/* Finds the web root: configured (when not empty: it must be a directory) or, when empty, the
 * first of <dir of the executable>/../web (a build tree: build/medhub -> web/) and
 * <dir of the executable>/../share/medhub/web (an installed tree) that exists.
 * OUT: out (NUL-terminated). Errors: -ENOENT (nothing found), -ENOTDIR, HX_ETOOBIG.
 * Thread: any. */
int http_web_root_find(const char *configured, char *out, size_t out_len);
/*
 * Maps a raw request path (still percent-encoded, no query) to a file key relative to the
 * web root: "/" -> "index.html", "/portal/" -> "portal/index.html", "/app.js" -> "app.js".
 * Errors: HX_EMALFORMED (bad escape, NUL, a backslash, a "." or ".." segment encoded or not,
 * an empty segment: 400), HX_ENOTFOUND (a dotfile or dot directory: 404), HX_ETOOBIG (longer
 * than out_len). OUT: out. Thread: any.
 */
int http_static_resolve(const char *raw, size_t len, char *out, size_t out_len);
/* The Content-Type for a file name, by extension ("application/octet-stream" when unknown).
 * Thread: any. */
const char *http_mime_type(const char *name);

#endif
