/*
 * Private to src/http/: the server, connection, exchange and route structs, and the functions
 * the module's files share (server.c: listeners and counters; conn.c: input, timers and
 * dispatch; respond.c: responses and streams; router.c; static.c).
 * Thread: loop, every function, unless marked.
 */
#ifndef MEDHUB_HTTP_INT_H
#define MEDHUB_HTTP_INT_H

#include "http/http.h"
#include "net/net.h"

/* Distinct statuses counted per route; more fall into the last slot's status 0 ("other"). */
#define HTTP__COUNT_SLOTS 12
/* Bytes of pipelined input held while a response is in progress before reading pauses. */
#define HTTP__IN_HOLD (64 * 1024)
/* A body larger than the write queue leaves in pieces of at most this size. */
#define HTTP__SEND_PIECE (256 * 1024)
/* The most a single fixed response may be (bodies held for sending in pieces). */
#define HTTP__RESPONSE_MAX (256u * 1024 * 1024)

/* Request counts by status for one route (or pseudo-route). */
struct http__counts {
    int status[HTTP__COUNT_SLOTS]; /* 0: unused (or, in the last slot, "other") */
    uint64_t n[HTTP__COUNT_SLOTS]; /* requests answered with that status */
};

struct http_route {
    int method;                                /* enum http_meth, or -1 for any */
    char *pattern;                             /* owned copy, for logs and duplicates */
    char *name;                                /* owned: metrics label */
    char *perm;                                /* owned, NULL when none */
    unsigned flags;                            /* enum http_route_flags */
    http_handler_fn *fn;                       /* the handler */
    void *arg;                                 /* for fn */
    uint32_t n_segs;                           /* pattern segments (not counting a prefix's rest) */
    char *seg[HTTP_ROUTE_MAX_SEGS];            /* owned: literal text, or the param name */
    bool is_param[HTTP_ROUTE_MAX_SEGS];        /* seg[i] is a {param} */
    bool trailing_slash;                       /* exact pattern ends with '/' */
    uint32_t n_params;                         /* params in the pattern */
    uint32_t param_pos[HTTP_ROUTE_MAX_PARAMS]; /* segment index of each param */
    struct http__counts counts;                /* requests answered through this route */
};

struct http_router {
    struct http_route **routes; /* owned, in registration order */
    uint32_t n_routes;          /* used */
    uint32_t cap;               /* allocated */
};

/* What the exchange is waiting for. */
enum http__x_state {
    HTTP__X_IDLE = 0,      /* no request dispatched */
    HTTP__X_AUTH = 1,      /* the authenticator holds it */
    HTTP__X_HANDLER = 2,   /* the handler holds it; nothing sent yet */
    HTTP__X_STREAMING = 3, /* stream headers sent; the handler writes pieces */
    HTTP__X_SENDING = 4,   /* a fixed body is leaving in pieces (on_drain) */
};

/* A piece of arena memory (http_exchange_alloc). */
struct http__chunk {
    struct http__chunk *next; /* older chunks */
    size_t used;              /* bytes handed out */
    size_t cap;               /* bytes in data */
    max_align_t data[];       /* the memory */
};

struct http__conn;

struct http_exchange {
    struct http__conn *c;           /* owner; the exchange holds a reference while live */
    enum http__x_state state;       /* see enum http__x_state */
    const struct http_request *req; /* the parser's; valid until finished */
    struct http_path path;          /* decoded path (owned buffer) */
    struct http_route_match match;  /* route and params */
    const struct http_route *route; /* match.route once routed, else NULL */
    struct http__counts *counts;    /* where the response is counted */
    struct http_query query;        /* parsed on first http_exchange_query */
    bool query_parsed;              /* query is set */
    int query_rc;                   /* its result */
    struct http__chunk *arena;      /* http_exchange_alloc memory */
    struct http_buf extra;          /* extra response header lines ("Name: v\r\n") */
    bool has_cache_control;         /* extra has a Cache-Control */
    http_close_fn *on_close;        /* the client went away (may be NULL) */
    void *on_close_arg;             /* for on_close */
    void *principal;                /* owned by free_principal; NULL when public */
    void (*free_principal)(void *); /* may be NULL */
    bool closed;                    /* the client is gone: responses are dropped */
    bool head;                      /* HEAD: headers only */
    bool close_after;               /* close the connection after this response */
    bool chunked;                   /* the stream uses chunked framing */
    int status;                     /* response status (metrics, logs) */
    uint64_t start_ns;              /* uv_hrtime when the request was complete */
    uint8_t *rest;                  /* SENDING: owned copy of the body still to queue */
    size_t rest_len;                /* bytes in rest */
    size_t rest_off;                /* bytes of rest already queued */
    struct log_ctx lc;              /* conn and request ids */
};

/* Per-listener facts a connection needs. */
struct http__lctx {
    struct http_server *hs; /* owner */
    bool tls;               /* HTTPS listener */
    bool loopback;          /* bound to a loopback address */
};

/* Timer phases of a connection. */
enum http__phase {
    HTTP__PH_IDLE = 0,    /* keep-alive: waiting for the next request (idle_timeout_ms) */
    HTTP__PH_HEADERS = 1, /* a request started: whole header section due (header_timeout_ms) */
    HTTP__PH_BODY = 2,    /* header section in: whole body due (body_timeout_ms) */
    HTTP__PH_BUSY = 3,    /* a request is being answered: no timeout */
    HTTP__PH_SEND = 4,    /* a large response leaves in pieces: progress due (idle_timeout_ms) */
};

struct http__conn {
    struct http_server *hs;         /* borrowed; outlives every connection */
    const struct http__lctx *lctx;  /* the listener it came from */
    struct net_conn *nc;            /* NULL once net's on_close ran */
    int refs;                       /* net, timer, live exchange, callbacks in progress */
    uv_timer_t timer;               /* phase deadlines, and the deferred next request */
    enum http__phase phase;         /* what the timer is guarding */
    bool kick;                      /* the timer fires at 0 to process held input */
    struct http_req_parser *parser; /* owned; one buffer set per connection */
    uint8_t *in;                    /* owned: input not parsed yet (pipelined requests) */
    size_t in_off;                  /* bytes of in already parsed */
    size_t in_len;                  /* bytes held (parsed ones included) */
    size_t in_cap;                  /* allocated */
    struct http_buf hdr;            /* response header scratch, reused */
    struct http_exchange x;         /* the one exchange in progress (requests are sequential) */
    bool closing;                   /* no more requests: closing or closed */
    bool paused;                    /* reading paused (input held, or write queue full) */
    bool processing;                /* inside process_input (no re-entry) */
    bool wait_drain;                /* the write queue is high: next request after on_drain */
    bool sent_continue;             /* 100 Continue sent for the current request */
    struct log_ctx lc;              /* conn id */
};

struct http_server {
    uv_loop_t *loop;                      /* borrowed */
    const struct cfg *cfg;                /* borrowed */
    struct http_limits lim;               /* parser limits */
    uint32_t header_timeout_ms;           /* http.header_timeout_ms */
    uint32_t body_timeout_ms;             /* http.body_timeout_ms */
    uint32_t idle_timeout_ms;             /* http.idle_timeout_ms */
    size_t write_queue;                   /* http.write_queue_bytes: net's per-connection cap */
    size_t stream_queue;                  /* http.stream_queue_bytes: congested beyond this */
    struct http_router *router;           /* owned */
    http_authenticate_fn *auth;           /* may be NULL: public routes only */
    void *auth_arg;                       /* for auth */
    struct net_tls *tls_ctx;              /* owned; NULL without HTTPS */
    struct net_listener *plain;           /* NULL when not listening */
    struct net_listener *tls;             /* NULL when not listening */
    struct http__lctx lplain;             /* facts for the plain listener */
    struct http__lctx ltls;               /* facts for the HTTPS listener */
    struct http__static *st;              /* owned static file cache, NULL when none */
    struct http_stats stats;              /* counters */
    uint64_t refused_at_stop;             /* listeners' refusals, kept across stop */
    struct http__counts counts_none;      /* refused before routing */
    struct http__counts counts_unmatched; /* 404/405 without a route */
    struct hx_hist latency;               /* request durations, microseconds */
    uint64_t next_req;                    /* request ids */
    uint32_t live_conns;                  /* http__conn objects not yet freed */
    bool stopping;                        /* http_server_stop was called */
    int64_t date_sec;                     /* second of the cached Date */
    char date[40];                        /* "Date: ...\r\n" text */
};

/* conn.c */
void http__accept(void *arg, struct net_conn *nc);
void http__conn_ref(struct http__conn *c);
/* Starts the timer for phase ph (HTTP__PH_BUSY stops it). */
void http__conn_arm(struct http__conn *c, enum http__phase ph);
void http__conn_unref(struct http__conn *c);
/* The exchange is done (response queued, stream ended, or the client gone): counts it,
 * releases its memory and the connection's reference, and moves on to the next request. */
void http__x_finish(struct http_exchange *x);
/* Routes and runs the handler of the request the parser completed. */
void http__dispatch(struct http__conn *c);

/* respond.c */
/* Builds the status line and headers into c->hdr. body_len < 0: no Content-Length (streams,
 * 304); stream: chunked framing when x->chunked. */
void http__build_headers(struct http__conn *c, struct http_exchange *x, int status,
                         const char *content_type, long long body_len, bool stream);
/* Sends an error response for a request refused before dispatch (parse errors, timeouts),
 * closes the connection after it and counts it under "none". */
void http__conn_error_close(struct http__conn *c, int status, const char *code,
                            const char *message);
/* Continues a SENDING exchange after the write queue drained. */
void http__x_send_more(struct http_exchange *x);
/* Appends the JSON error body to b. */
void http__error_body(struct http_buf *b, const char *code, const char *message);
const char *http__reason(int status);

/* server.c */
void http__count(struct http__counts *k, int status);
/* "Date: <IMF-fixdate>\r\n" for now, cached per second. */
const char *http__date(struct http_server *hs);

/* static.c */
struct http__static;
void http__static_free(struct http__static *st);

/* router.c */
const struct http_route *http__route_at(const struct http_router *r, uint32_t i);

#endif
