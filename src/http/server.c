/*
 * HTTP server start/stop: the plain listener on http.listen and the HTTPS listener on
 * http.tls_listen (certificate and key from [tls], no client certificates: browsers would
 * prompt for one), the limits and timeouts from [http], the counters behind /metrics and the
 * cached Date header. Connections live in conn.c.
 * Layer: http (front end). Thread: loop.
 */
#include "core/err.h"
#include "core/mem.h"
#include "http/http_int.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

void http_server_new(struct http_server **out, uv_loop_t *loop, const struct cfg *cfg)
{
    struct http_server *hs = hx_xcalloc(1, sizeof(*hs));
    const struct cfg_http_opts *o = &cfg->http_opts;
    hs->loop = loop;
    hs->cfg = cfg;
    hs->lim = (struct http_limits){
        .max_header_bytes =
            o->max_header_bytes ? o->max_header_bytes : HTTP_DEFAULT_MAX_HEADER_BYTES,
        .max_headers = o->max_headers ? o->max_headers : HTTP_DEFAULT_MAX_HEADERS,
        .max_body = o->max_body_bytes ? o->max_body_bytes : HTTP_DEFAULT_MAX_BODY,
    };
    hs->header_timeout_ms = o->header_timeout_ms ? o->header_timeout_ms : 10000;
    hs->body_timeout_ms = o->body_timeout_ms ? o->body_timeout_ms : 30000;
    hs->idle_timeout_ms = o->idle_timeout_ms ? o->idle_timeout_ms : 60000;
    hs->write_queue = o->write_queue_bytes ? o->write_queue_bytes : 4u * 1024 * 1024;
    hs->stream_queue = o->stream_queue_bytes ? o->stream_queue_bytes : 256u * 1024;
    hs->router = http_router_new();
    *out = hs;
}

struct http_router *http_server_router(struct http_server *hs)
{
    return hs->router;
}

void http_server_set_authenticator(struct http_server *hs, http_authenticate_fn *fn, void *arg)
{
    hs->auth = fn;
    hs->auth_arg = arg;
}

static void log_listening(const char *proto, const struct cfg_addr *a, uint16_t port)
{
    bool v6 = strchr(a->host, ':') != NULL;
    log_info(NULL, "http", "listening", "proto=%s addr=%s%s%s:%u", proto, v6 ? "[" : "", a->host,
             v6 ? "]" : "", port);
}

static int start_listener(struct http_server *hs, struct net_listener **out, const char *name,
                          const struct cfg_addr *a, struct net_tls *tls, struct http__lctx *lctx,
                          char *err, size_t err_len)
{
    lctx->hs = hs;
    lctx->tls = tls != NULL;
    lctx->loopback = a->is_loopback;
    struct net_listener_opts o = {
        .name = name,
        .addr = a,
        .tls = tls,
        .on_accept = http__accept,
        .arg = lctx,
        .max_conns = hs->cfg->http_opts.max_connections,
        .max_write_queue = hs->write_queue,
    };
    int rc = net_listener_start(out, hs->loop, &o, err, err_len);
    if (rc < 0)
        return rc;
    log_listening(name, a, net_listener_port(*out));
    return 0;
}

/* The HTTPS listener, unless its files are missing (warned and skipped, like MQTT's). */
static int start_tls(struct http_server *hs, char *err, size_t err_len)
{
    const struct cfg *cfg = hs->cfg;
    if (access(cfg->tls.cert, R_OK) != 0 || access(cfg->tls.key, R_OK) != 0) {
        log_warn(NULL, "http", "HTTPS listener skipped: certificate or key missing",
                 "cert=\"%s\" key=\"%s\" addr=%s:%u", cfg->tls.cert, cfg->tls.key,
                 cfg->http.tls_listen.host, cfg->http.tls_listen.port);
        return 0;
    }
    int rc = net_tls_new(&hs->tls_ctx, cfg->tls.cert, cfg->tls.key, NULL, err, err_len);
    if (rc < 0)
        return rc;
    return start_listener(hs, &hs->tls, "https", &cfg->http.tls_listen, hs->tls_ctx, &hs->ltls, err,
                          err_len);
}

int http_server_start(struct http_server *hs, char *err, size_t err_len)
{
    const struct cfg *cfg = hs->cfg;
    int rc = 0;
    if (cfg->http.listen.is_set)
        rc = start_listener(hs, &hs->plain, "http", &cfg->http.listen, NULL, &hs->lplain, err,
                            err_len);
    if (rc == 0 && cfg->http.tls_listen.is_set)
        rc = start_tls(hs, err, err_len);
    if (rc < 0)
        http_server_stop(hs);
    return rc;
}

static uint64_t refused(const struct http_server *hs)
{
    uint64_t n = hs->refused_at_stop;
    if (hs->plain)
        n += net_listener_refused(hs->plain);
    if (hs->tls)
        n += net_listener_refused(hs->tls);
    return n;
}

void http_server_stop(struct http_server *hs)
{
    if (!hs || hs->stopping)
        return;
    hs->stopping = true;
    hs->refused_at_stop = refused(hs);
    if (hs->plain)
        net_listener_stop(hs->plain);
    if (hs->tls)
        net_listener_stop(hs->tls);
    hs->plain = hs->tls = NULL;
    log_info(NULL, "http", "listeners stopped",
             "connections=%llu requests=%llu parse_errors=%llu timeouts=%llu",
             (unsigned long long)hs->stats.connections, (unsigned long long)hs->stats.requests,
             (unsigned long long)hs->stats.parse_errors, (unsigned long long)hs->stats.timeouts);
}

void http_server_free(struct http_server *hs)
{
    if (!hs)
        return;
    if (hs->live_conns)
        log_warn(NULL, "http",
                 "connections still referenced at exit (a handler kept an "
                 "exchange)",
                 "n=%u", hs->live_conns);
    net_tls_free(hs->tls_ctx);
    http_router_free(hs->router);
    http__static_free(hs->st);
    free(hs);
}

uint16_t http_server_port(const struct http_server *hs, bool tls)
{
    const struct net_listener *l = tls ? hs->tls : hs->plain;
    return l ? net_listener_port(l) : 0;
}

void http_server_get_stats(const struct http_server *hs, struct http_stats *out)
{
    *out = hs->stats;
    out->conn_refused = refused(hs);
}

bool http_server_is_stopping(const struct http_server *hs)
{
    return hs->stopping;
}

const struct hx_hist *http_server_latency(const struct http_server *hs)
{
    return &hs->latency;
}

void http__count(struct http__counts *k, int status)
{
    for (int i = 0; i < HTTP__COUNT_SLOTS; i++) {
        if (k->status[i] == status || (k->status[i] == 0 && k->n[i] == 0)) {
            k->status[i] = status;
            k->n[i]++;
            return;
        }
    }
    /* Out of slots: the last one counts every other status as 0 ("other"). */
    k->status[HTTP__COUNT_SLOTS - 1] = 0;
    k->n[HTTP__COUNT_SLOTS - 1]++;
}

static void each(const struct http__counts *k, const char *route, http_count_fn *fn, void *arg)
{
    for (int i = 0; i < HTTP__COUNT_SLOTS; i++)
        if (k->n[i])
            fn(arg, route, k->status[i], k->n[i]);
}

void http_server_each_count(const struct http_server *hs, http_count_fn *fn, void *arg)
{
    each(&hs->counts_none, "none", fn, arg);
    each(&hs->counts_unmatched, "unmatched", fn, arg);
    for (uint32_t i = 0;; i++) {
        const struct http_route *rt = http__route_at(hs->router, i);
        if (!rt)
            break;
        each(&rt->counts, rt->name, fn, arg);
    }
}

const char *http__date(struct http_server *hs)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    if ((int64_t)now != hs->date_sec || !hs->date[0]) {
        struct tm tm;
        gmtime_r(&now, &tm);
        /* RFC 9110 5.6.7 IMF-fixdate. */
        snprintf(hs->date, sizeof(hs->date), "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                 days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        hs->date_sec = (int64_t)now;
    }
    return hs->date;
}
