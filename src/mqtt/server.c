/*
 * MQTT gateway start/stop: the plain listener on mqtt.listen and the TLS listener on
 * mqtt.tls_listen (certificate, key and device CA from [tls]; skipped with a warning when the
 * files are missing), the per-server SenML scratch buffers and the counters. Sessions live in
 * session.c. Layer: mqtt (front end). Thread: loop.
 */
#include "core/err.h"
#include "core/mem.h"
#include "mqtt/session_int.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

static void log_listening(const char *proto, const struct cfg_addr *a, uint16_t port)
{
    bool v6 = strchr(a->host, ':') != NULL;
    log_info(NULL, "mqtt", "listening", "proto=%s addr=%s%s%s:%u", proto, v6 ? "[" : "", a->host,
             v6 ? "]" : "", port);
}

static int start_listener(struct mqtt_server *srv, struct net_listener **out, const char *name,
                          const struct cfg_addr *a, struct net_tls *tls, char *err, size_t err_len)
{
    struct net_listener_opts o = {
        .name = name,
        .addr = a,
        .tls = tls,
        .on_accept = mqtt__session_accept,
        .arg = srv,
        .max_conns = srv->cfg->mqtt_limits.max_connections,
    };
    int rc = net_listener_start(out, srv->loop, &o, err, err_len);
    if (rc < 0)
        return rc;
    log_listening(name, a, net_listener_port(*out));
    return 0;
}

/* The TLS listener, unless its files are missing (warned and skipped). */
static int start_tls(struct mqtt_server *srv, char *err, size_t err_len)
{
    const struct cfg *cfg = srv->cfg;
    if (access(cfg->tls.cert, R_OK) != 0 || access(cfg->tls.key, R_OK) != 0) {
        log_warn(NULL, "mqtt", "TLS listener skipped: certificate or key missing",
                 "cert=\"%s\" key=\"%s\" addr=%s:%u", cfg->tls.cert, cfg->tls.key,
                 cfg->mqtt.tls_listen.host, cfg->mqtt.tls_listen.port);
        return 0;
    }
    const char *ca = access(cfg->tls.client_ca, R_OK) == 0 ? cfg->tls.client_ca : NULL;
    if (!ca)
        log_warn(NULL, "mqtt", "device CA missing: TLS clients authenticate by secret only",
                 "client_ca=\"%s\"", cfg->tls.client_ca);
    int rc = net_tls_new(&srv->tls_ctx, cfg->tls.cert, cfg->tls.key, ca, err, err_len);
    if (rc < 0)
        return rc;
    return start_listener(srv, &srv->tls, "mqtt+tls", &cfg->mqtt.tls_listen, srv->tls_ctx, err,
                          err_len);
}

int mqtt_server_start(struct mqtt_server **out, uv_loop_t *loop, const struct cfg *cfg,
                      struct registry *reg, struct ingest *ig, const uint8_t key[SEC_KEY_LEN],
                      char *err, size_t err_len)
{
    *out = NULL;
    struct mqtt_server *srv = hx_xcalloc(1, sizeof(*srv));
    srv->loop = loop;
    srv->cfg = cfg;
    srv->reg = reg;
    srv->ig = ig;
    memcpy(srv->key, key, SEC_KEY_LEN);
    srv->max_packet = cfg->mqtt_limits.max_packet_bytes ? cfg->mqtt_limits.max_packet_bytes
                                                        : MQTT_DEFAULT_MAX_PACKET;
    srv->connect_timeout_ms = cfg->mqtt_limits.connect_timeout_ms
                                  ? cfg->mqtt_limits.connect_timeout_ms
                                  : MQTT_CONNECT_TIMEOUT_MS;
    srv->publish_rate = cfg->mqtt_limits.publish_rate;
    srv->max_recs = MQTT_MAX_RECORDS;
    if (cfg->storage.batch_max && cfg->storage.batch_max < srv->max_recs)
        srv->max_recs = cfg->storage.batch_max; /* one message is one writer request */
    srv->recs = hx_alloc_array(srv->max_recs, sizeof(*srv->recs));
    srv->obs = hx_alloc_array(srv->max_recs, sizeof(*srv->obs));
    srv->events = hx_alloc_array(srv->max_recs, sizeof(*srv->events));
    srv->scratch = hx_xmalloc(MQTT_SENML_SCRATCH);

    int rc = mqtt__cmds_start(srv);
    if (rc < 0)
        snprintf(err, err_len, "command poller: %s", uv_strerror(rc));
    if (rc == 0 && cfg->mqtt.listen.is_set)
        rc = start_listener(srv, &srv->plain, "mqtt", &cfg->mqtt.listen, NULL, err, err_len);
    if (rc == 0 && cfg->mqtt.tls_listen.is_set)
        rc = start_tls(srv, err, err_len);
    if (rc < 0) {
        mqtt_server_stop(srv);
        /* Listener handles close asynchronously; the server is freed after the loop. */
        *out = srv;
        return rc;
    }
    *out = srv;
    return 0;
}

/* Connections the listeners refused over mqtt.max_connections. */
static uint64_t conn_limited(const struct mqtt_server *srv)
{
    uint64_t n = 0;
    if (srv->plain)
        n += net_listener_refused(srv->plain);
    if (srv->tls)
        n += net_listener_refused(srv->tls);
    return n;
}

void mqtt_server_stop(struct mqtt_server *srv)
{
    if (!srv || srv->stopping)
        return;
    srv->stopping = true;
    srv->stats.conn_limited = conn_limited(srv);
    if (srv->plain)
        net_listener_stop(srv->plain);
    if (srv->tls)
        net_listener_stop(srv->tls);
    srv->plain = srv->tls = NULL;
    mqtt__cmds_stop(srv);
    /* Wills waiting out their delay are not published by a shutdown. */
    for (uint32_t i = 0; i < srv->devs.cap; i++) {
        struct mqtt__dev *d = srv->devs.vals[i];
        if (d && d->pending) {
            mqtt__will_drop(d->pending);
            d->pending = NULL;
        }
    }
    mqtt__log_stats(srv, "listeners stopped");
}

void mqtt_server_free(struct mqtt_server *srv)
{
    if (!srv)
        return;
    net_tls_free(srv->tls_ctx);
    hx_idmap_release(&srv->live);
    mqtt__dev_free_all(srv);
    mqtt__cmds_free(srv);
    free(srv->recs);
    free(srv->obs);
    free(srv->events);
    free(srv->scratch);
    memset(srv->key, 0, sizeof(srv->key));
    free(srv);
}

void mqtt__log_stats(const struct mqtt_server *srv, const char *msg)
{
    const struct mqtt_stats *st = &srv->stats;
    log_info(NULL, "mqtt", msg,
             "sessions=%u accepted=%" PRIu64 " connected=%" PRIu64 " refused=%" PRIu64
             " protocol_errors=%" PRIu64 " keepalive_timeouts=%" PRIu64 " connect_timeouts=%" PRIu64
             " publishes=%" PRIu64 " stored=%" PRIu64 " store_failed=%" PRIu64
             " acl_denied=%" PRIu64 " invalid_payload=%" PRIu64 " rate_limited=%" PRIu64
             " conn_limited=%" PRIu64 " takeovers=%" PRIu64 " commands_sent=%" PRIu64
             " wills_published=%" PRIu64 " wills_failed=%" PRIu64,
             st->sessions, st->accepted, st->connected, st->refused, st->protocol_errors,
             st->keepalive_timeouts, st->connect_timeouts, st->publishes, st->stored,
             st->store_failed, st->acl_denied, st->invalid_payload, st->rate_limited,
             st->conn_limited, st->takeovers, st->commands_sent, st->wills_published,
             st->wills_failed);
}

uint16_t mqtt_server_port(const struct mqtt_server *srv, bool tls)
{
    const struct net_listener *l = tls ? srv->tls : srv->plain;
    return l ? net_listener_port(l) : 0;
}

void mqtt_server_get_stats(const struct mqtt_server *srv, struct mqtt_stats *out)
{
    *out = srv->stats;
    if (!srv->stopping)
        out->conn_limited = conn_limited(srv);
}
