/*
 * MQTT session state machine: one struct mqtt_session per accepted connection. Buffers
 * input, frames packets with mqtt_frame (limit: the server's Maximum Packet Size), enforces
 * CONNECT-first and the CONNECT deadline, dispatches to handle_*.c, runs the keep alive timer
 * and owns the ack FIFO that sends PUBACK/PUBREC in PUBLISH order once each is ready.
 * Lifetime: refcounted. The connection holds one reference (dropped in net's on_close), the
 * timer one (dropped in its close callback), each pending store completion one; after
 * on_close the session is a tombstone that completions only release.
 * Layer: mqtt (front end). Thread: loop.
 */
#include "core/err.h"
#include "core/hxtime.h"
#include "core/mem.h"
#include "ingest/registry.h"
#include "mqtt/session_int.h"

#include <string.h>

void mqtt__sanitize(char *dst, size_t dst_len, struct slice s)
{
    size_t n = 0;
    for (size_t i = 0; i < s.len && n + 1 < dst_len; i++) {
        uint8_t c = s.ptr[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("/_.:+#$-", c) != NULL;
        dst[n++] = ok && c ? (char)c : '?';
    }
    if (dst_len)
        dst[n] = '\0';
}

static void session_free(struct mqtt_session *s)
{
    for (uint32_t i = 0; i < s->n_acks; i++)
        HX_FREE(s->acks[(s->ack_head + i) % MQTT_ACK_SLOTS].reason_string);
    free(s->acks);
    free(s->in);
    if (s->aliases)
        for (int i = 0; i < MQTT_TOPIC_ALIAS_MAX; i++)
            free((void *)s->aliases[i].ptr);
    free(s->aliases);
    s->srv->stats.sessions--;
    free(s);
}

void mqtt__session_unref(struct mqtt_session *s)
{
    assert(s->refs > 0);
    if (--s->refs == 0)
        session_free(s);
}

static void on_timer_closed(uv_handle_t *h)
{
    mqtt__session_unref(h->data);
}

int mqtt__send(struct mqtt_session *s, const uint8_t *p, size_t len)
{
    if (!s->conn)
        return HX_ESHUTDOWN;
    int rc = net_conn_write(s->conn, p, len);
    if (rc == HX_ETOOBIG) {
        log_warn(&s->lc, "mqtt", "closing connection: write queue full", NULL);
        s->state = MQTT__CLOSING;
        net_conn_abort(s->conn);
    }
    return rc;
}

void mqtt__session_close(struct mqtt_session *s, uint8_t reason)
{
    if (s->state >= MQTT__CLOSING)
        return;
    bool connected = s->state == MQTT__CONNECTED;
    s->state = MQTT__CLOSING;
    uv_timer_stop(&s->timer);
    ingest_waiter_cancel(s->srv->ig, &s->waiter);
    if (connected && s->version == MQTT_V5 && reason >= 0x80)
        mqtt__send_disconnect(s, reason);
    if (s->conn)
        net_conn_close(s->conn);
}

int mqtt__session_fail(struct mqtt_session *s, uint8_t reason, const char *why)
{
    if (s->state < MQTT__CLOSING) {
        s->srv->stats.protocol_errors++;
        log_warn(&s->lc, "mqtt", "closing connection: protocol violation",
                 "why=\"%s\" reason=0x%02x", why, reason);
    }
    mqtt__session_close(s, reason);
    return MQTT__RC_CLOSED;
}

/* ---- ack FIFO ----------------------------------------------------------------------------- */

uint32_t mqtt__inflight(const struct mqtt_session *s)
{
    return s->n_acks + s->n_rel;
}

bool mqtt__ack_push(struct mqtt_session *s, uint16_t packet_id, uint8_t qos, uint64_t *seq)
{
    if (s->n_acks == MQTT_ACK_SLOTS)
        return false;
    if (!s->acks)
        s->acks = hx_alloc_array(MQTT_ACK_SLOTS, sizeof(*s->acks));
    struct mqtt__ack_slot *a = &s->acks[(s->ack_head + s->n_acks) % MQTT_ACK_SLOTS];
    *a = (struct mqtt__ack_slot){.packet_id = packet_id, .qos = qos};
    *seq = s->ack_seq_head + s->n_acks;
    s->n_acks++;
    return true;
}

void mqtt__ack_pop_tail(struct mqtt_session *s)
{
    assert(s->n_acks > 0);
    s->n_acks--;
    HX_FREE(s->acks[(s->ack_head + s->n_acks) % MQTT_ACK_SLOTS].reason_string);
}

/* Sends every ready ack at the head of the FIFO, in order, gathered into as few writes as
 * fit in a 4 KiB buffer: one commit completes many acks of a busy device at once, and one
 * write per ack made the socket writes the gateway's largest cost (bench/README.md). */
static void ack_flush(struct mqtt_session *s)
{
    bool freed = false;
    uint8_t out[4096];
    size_t used = 0;
    while (s->n_acks && s->acks[s->ack_head].ready) {
        struct mqtt__ack_slot *a = &s->acks[s->ack_head];
        if (a->close_instead) {
            if (used) /* acks before this one were earned: send them first */
                mqtt__send(s, out, used);
            /* 3.1.1 has no failure ack: close so that the device resends on reconnect. */
            log_warn(&s->lc, "mqtt", "closing connection without ack: storing failed",
                     "packet_id=%u", a->packet_id);
            mqtt__session_close(s, MQTT_RC_UNSPECIFIED);
            return;
        }
        if (s->state != MQTT__CLOSED) {
            uint8_t type = a->qos == 2 ? MQTT_PUBREC : MQTT_PUBACK;
            /* Method B: a PUBREC Success starts the wait for PUBREL. */
            if (type == MQTT_PUBREC && a->reason < 0x80 && !mqtt__rel_has(s, a->packet_id))
                mqtt__rel_add(s, a->packet_id);
            if (used + 256 > sizeof(out)) {
                mqtt__send(s, out, used);
                used = 0;
            }
            size_t len;
            if (mqtt__encode_ack(s, type, a->packet_id, a->reason, a->reason_string, out + used,
                                 sizeof(out) - used, &len) == 0)
                used += len;
        }
        HX_FREE(a->reason_string);
        s->ack_head = (s->ack_head + 1) % MQTT_ACK_SLOTS;
        s->ack_seq_head++;
        s->n_acks--;
        freed = true;
    }
    if (used && s->state != MQTT__CLOSED)
        mqtt__send(s, out, used);
    if (freed && s->stalled && s->state == MQTT__CONNECTED && !s->waiter.linked)
        mqtt__session_unstall(s);
}

void mqtt__ack_complete(struct mqtt_session *s, uint64_t seq, uint8_t reason, char *reason_string,
                        bool close_instead)
{
    if (HX_UNLIKELY_BUG(seq < s->ack_seq_head || seq >= s->ack_seq_head + s->n_acks)) {
        free(reason_string);
        return;
    }
    struct mqtt__ack_slot *a = &s->acks[(s->ack_head + (seq - s->ack_seq_head)) % MQTT_ACK_SLOTS];
    a->ready = true;
    a->reason = reason;
    a->reason_string = reason_string;
    a->close_instead = close_instead;
    ack_flush(s);
}

int mqtt__ack_now(struct mqtt_session *s, uint16_t packet_id, uint8_t qos, uint8_t reason,
                  const char *reason_string)
{
    uint64_t seq;
    if (!mqtt__ack_push(s, packet_id, qos, &seq))
        return MQTT__RC_STALL;
    mqtt__ack_complete(s, seq, reason, reason_string ? hx_xstrdup(reason_string) : NULL, false);
    return s->state < MQTT__CLOSING ? 0 : MQTT__RC_CLOSED;
}

bool mqtt__rel_has(const struct mqtt_session *s, uint16_t id)
{
    for (uint32_t i = 0; i < s->n_rel; i++)
        if (s->rel[i] == id)
            return true;
    return false;
}

bool mqtt__rel_add(struct mqtt_session *s, uint16_t id)
{
    if (s->n_rel == MQTT_RECEIVE_MAX)
        return false;
    s->rel[s->n_rel++] = id;
    return true;
}

bool mqtt__rel_remove(struct mqtt_session *s, uint16_t id)
{
    for (uint32_t i = 0; i < s->n_rel; i++) {
        if (s->rel[i] == id) {
            s->rel[i] = s->rel[--s->n_rel];
            return true;
        }
    }
    return false;
}

/* ---- timers ------------------------------------------------------------------------------- */

static void on_connect_timeout(uv_timer_t *t)
{
    struct mqtt_session *s = t->data;
    if (s->state != MQTT__AWAIT_CONNECT)
        return;
    s->srv->stats.connect_timeouts++;
    log_warn(&s->lc, "mqtt", "closing connection: no CONNECT in time", "timeout_ms=%u",
             s->srv->connect_timeout_ms);
    mqtt__session_close(s, 0);
}

static uint64_t keepalive_ms(const struct mqtt_session *s)
{
    return (uint64_t)s->keep_alive * 1500; /* MQTT-3.1.2-24: 1.5 x Keep Alive */
}

static void on_keepalive(uv_timer_t *t)
{
    struct mqtt_session *s = t->data;
    if (s->state != MQTT__CONNECTED)
        return;
    uint64_t now = uv_now(s->srv->loop);
    uint64_t limit = keepalive_ms(s);
    if (s->stalled) {
        /* We stopped reading, not the client: do not blame it for the silence. */
        s->last_rx_ms = now;
    } else if (now - s->last_rx_ms >= limit) {
        s->srv->stats.keepalive_timeouts++;
        log_warn(&s->lc, "mqtt", "closing connection: keep alive expired", "keep_alive=%u",
                 s->keep_alive);
        mqtt__session_close(s, MQTT_RC_KEEP_ALIVE_TIMEOUT);
        return;
    }
    uv_timer_start(&s->timer, on_keepalive, s->last_rx_ms + limit - now, 0);
}

void mqtt__session_keepalive_start(struct mqtt_session *s)
{
    uv_timer_stop(&s->timer);
    if (s->keep_alive == 0)
        return;
    s->last_rx_ms = uv_now(s->srv->loop);
    uv_timer_start(&s->timer, on_keepalive, keepalive_ms(s), 0);
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static int dispatch(struct mqtt_session *s, const struct mqtt_frame *f)
{
    if (s->state == MQTT__AWAIT_CONNECT) {
        if (f->type != MQTT_CONNECT) /* MQTT-3.1.0-1 */
            return mqtt__session_fail(s, MQTT_RC_PROTOCOL_ERROR, "first packet is not CONNECT");
        return mqtt__handle_connect(s, f);
    }
    if (f->type == MQTT_CONNECT) /* MQTT-3.1.0-2 */
        return mqtt__session_fail(s, MQTT_RC_PROTOCOL_ERROR, "second CONNECT");
    struct mqtt_packet pkt;
    if (mqtt_packet_decode(f, s->version, &pkt) < 0)
        return mqtt__session_fail(s, pkt.reason, "malformed packet");
    switch (pkt.type) {
    case MQTT_PUBLISH:
        return mqtt__handle_publish(s, &pkt.u.publish);
    case MQTT_PUBREL:
        return mqtt__handle_pubrel(s, &pkt.u.ack);
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBCOMP:
        return mqtt__out_handle_ack(s, &pkt.u.ack);
    case MQTT_SUBSCRIBE:
        return mqtt__handle_subscribe(s, &pkt.u.subscribe);
    case MQTT_UNSUBSCRIBE:
        return mqtt__handle_unsubscribe(s, &pkt.u.unsubscribe);
    case MQTT_PINGREQ:
        return mqtt__handle_ping(s);
    case MQTT_DISCONNECT:
        return mqtt__handle_disconnect(s, &pkt.u.disconnect);
    case MQTT_AUTH:
        /* No Authentication Method was negotiated (5.0 §4.12). */
        return mqtt__session_fail(s, MQTT_RC_PROTOCOL_ERROR, "AUTH without a method");
    default:
        return mqtt__session_fail(s, MQTT_RC_PROTOCOL_ERROR, "unexpected packet type");
    }
}

static void process(struct mqtt_session *s)
{
    if (s->processing)
        return;
    s->processing = true;
    size_t off = 0;
    while (s->state < MQTT__CLOSING && !s->stalled && !s->srv->stopping) {
        struct mqtt_frame f;
        int rc = mqtt_frame(s->in + off, s->in_len - off, s->srv->max_packet, &f);
        if (rc == HX_ENEEDMORE)
            break;
        if (rc < 0) {
            if (rc == HX_ETOOBIG && s->state == MQTT__AWAIT_CONNECT)
                log_warn(&s->lc, "mqtt", "closing connection: packet too large", "max=%zu",
                         s->srv->max_packet);
            mqtt__session_fail(s, f.reason,
                               rc == HX_ETOOBIG ? "packet too large" : "malformed fixed header");
            break;
        }
        s->last_rx_ms = uv_now(s->srv->loop);
        rc = dispatch(s, &f);
        if (rc == MQTT__RC_STALL) {
            s->stalled = true;
            s->srv->stats.backpressure++;
            if (s->conn)
                net_conn_pause(s->conn);
            break;
        }
        off += f.total_len;
    }
    if (off > 0) {
        memmove(s->in, s->in + off, s->in_len - off);
        s->in_len -= off;
    }
    s->processing = false;
}

void mqtt__session_unstall(struct mqtt_session *s)
{
    if (!s->stalled || s->state != MQTT__CONNECTED)
        return;
    s->stalled = false;
    if (s->conn)
        net_conn_resume(s->conn);
    process(s);
}

static void on_space(void *arg)
{
    mqtt__session_unstall(arg);
}

/* ---- net callbacks ------------------------------------------------------------------------ */

static void on_data(struct net_conn *c, void *user, const uint8_t *p, size_t len)
{
    struct mqtt_session *s = user;
    if (s->state >= MQTT__CLOSING || s->srv->stopping)
        return;
    /* Room for one maximum packet plus one read that may start the next. */
    size_t limit = s->srv->max_packet + 64 * 1024;
    if (s->in_len + len > s->in_cap) {
        size_t cap = s->in_cap ? s->in_cap : 4096;
        while (cap < s->in_len + len)
            cap *= 2;
        if (cap > limit)
            cap = limit;
        if (s->in_len + len > cap) {
            s->srv->stats.protocol_errors++;
            log_warn(&s->lc, "mqtt", "closing connection: input buffer limit reached", "limit=%zu",
                     limit);
            mqtt__session_close(s, MQTT_RC_PACKET_TOO_LARGE);
            return;
        }
        void *n;
        if (hx_try_alloc(&n, cap, limit) < 0) {
            log_warn(&s->lc, "mqtt", "closing connection: out of memory", NULL);
            mqtt__session_close(s, MQTT_RC_SERVER_BUSY);
            return;
        }
        if (s->in_len)
            memcpy(n, s->in, s->in_len);
        free(s->in);
        s->in = n;
        s->in_cap = cap;
    }
    memcpy(s->in + s->in_len, p, len);
    s->in_len += len;
    if (!s->stalled)
        process(s);
    /* A device between packets holds no bytes: give the buffer back, or 10,000 idle devices
     * would keep 40 MiB of empty buffers (bench/README.md, scenario d). */
    if (s->in_len == 0 && s->in && !s->processing) {
        HX_FREE(s->in);
        s->in_cap = 0;
    }
}

static void on_close(struct net_conn *c, void *user, int status)
{
    struct mqtt_session *s = user;
    if (s->state < MQTT__CLOSING && s->in_len > 0) {
        /* The peer went away in the middle of a packet (3.1.1 §4.8: a network failure with
         * a partial packet is a protocol error on its side). */
        s->srv->stats.protocol_errors++;
        log_warn(&s->lc, "mqtt", "connection closed in the middle of a packet", "buffered=%zu",
                 s->in_len);
    }
    if (s->state == MQTT__CONNECTED || s->state == MQTT__CLOSING)
        log_info(&s->lc, "mqtt", "connection closed", "status=\"%s\" pending_acks=%u",
                 status == 0 ? "ok" : hx_strerror(status), s->n_acks);
    /* It had connected and was not taken over by a newer connection of the same device:
     * persisted as the device's disconnect time. */
    if (s->device_id && hx_idmap_del(&s->srv->live, s->device_id, s)) {
        reg_note_disconnect(s->srv->reg, s->device_id, hx_time_now_us());
        mqtt__dev_disconnected(s);
    }
    s->conn = NULL;
    s->state = MQTT__CLOSED;
    ingest_waiter_cancel(s->srv->ig, &s->waiter);
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
    HX_FREE(s->in);
    s->in_len = s->in_cap = 0;
    mqtt__session_unref(s); /* the connection's reference */
}

static const struct net_handler session_handler = {
    .on_data = on_data,
    .on_close = on_close,
    .on_drain = NULL,
};

void mqtt__session_accept(void *arg, struct net_conn *c)
{
    struct mqtt_server *srv = arg;
    if (srv->stopping) {
        net_conn_abort(c);
        return;
    }
    struct mqtt_session *s = hx_xcalloc(1, sizeof(*s));
    s->srv = srv;
    s->conn = c;
    s->lc.conn = net_conn_id(c);
    s->refs = 2; /* the connection and the timer */
    s->problem_info = true;
    s->waiter.cb = on_space;
    s->waiter.arg = s;
    uv_timer_init(srv->loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, on_connect_timeout, srv->connect_timeout_ms, 0);
    srv->stats.accepted++;
    srv->stats.sessions++;
    net_conn_set_handler(c, &session_handler, s);
    log_debug(&s->lc, "mqtt", "connection accepted", "peer=%s tls=%d", net_conn_peer(c),
              net_conn_is_tls(c));
}
