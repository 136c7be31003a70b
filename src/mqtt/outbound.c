/*
 * Commands to devices: each device's FIFO of commands (struct mqtt__out), sent on its
 * commands topic while it is connected and subscribed, at min(command QoS, granted QoS),
 * at most MQTT_OUT_WINDOW (and the device's Receive Maximum) unacknowledged at once, with the
 * full QoS 1 and QoS 2 flows (PUBACK; PUBREC, PUBREL, PUBCOMP). Every state a command reaches
 * is recorded in the store through commands.c: QUEUED when the gateway holds it, SENT when
 * published at QoS 1/2, DELIVERED when written at QoS 0 or acknowledged (PUBACK, PUBREC),
 * EXPIRED when its time ran out first.
 * Layer: mqtt (session layer). Thread: loop.
 */
#include "core/hxtime.h"
#include "core/mem.h"
#include "mqtt/session_int.h"
#include "store/store.h"

#include <string.h>

void mqtt__out_free(struct mqtt__out *o)
{
    free(o);
}

static struct mqtt_session *live_session(struct mqtt_server *srv, const struct mqtt__dev *d)
{
    struct mqtt_session *s = hx_idmap_get(&srv->live, d->device_id);
    return s && s->state == MQTT__CONNECTED ? s : NULL;
}

static void fifo_append(struct mqtt__dev *d, struct mqtt__out *o)
{
    o->next = NULL;
    if (d->out_tail)
        d->out_tail->next = o;
    else
        d->out_head = o;
    d->out_tail = o;
    d->n_out++;
}

/* Unlinks o (prev is its predecessor or NULL) and frees it. */
static void fifo_remove(struct mqtt__dev *d, struct mqtt__out *prev, struct mqtt__out *o)
{
    if (prev)
        prev->next = o->next;
    else
        d->out_head = o->next;
    if (d->out_tail == o)
        d->out_tail = prev;
    d->n_out--;
    free(o);
}

static void note(struct mqtt_server *srv, const struct mqtt__out *o, enum store_cmd_state st)
{
    if (!o->retain_copy)
        mqtt__cmds_note(srv, o->cmd_id, (uint8_t)st);
}

void mqtt__out_add(struct mqtt_server *srv, int64_t device_id, struct mqtt__out *o)
{
    struct mqtt__dev *d = mqtt__dev_get_or_add(srv, device_id);
    for (struct mqtt__out *x = d->out_head; x; x = x->next) {
        if (x->cmd_id == o->cmd_id && !x->retain_copy) { /* already held */
            free(o);
            return;
        }
    }
    if (d->n_out >= MQTT_OUT_QUEUE_MAX) {
        /* The oldest command still waiting gives way. */
        struct mqtt__out *prev = NULL;
        for (struct mqtt__out *x = d->out_head; x; prev = x, x = x->next) {
            if (x->phase == MQTT__OUT_QUEUED) {
                log_warn(NULL, "mqtt", "command queue full: oldest command expired",
                         "device_id=%lld command=%lld", (long long)device_id, (long long)x->cmd_id);
                note(srv, x, STORE_CMD_EXPIRED);
                fifo_remove(d, prev, x);
                break;
            }
        }
    }
    o->phase = MQTT__OUT_QUEUED;
    fifo_append(d, o);
    note(srv, o, STORE_CMD_QUEUED);
    mqtt__out_pump(srv, d);
}

void mqtt__out_set_retained(struct mqtt_server *srv, int64_t device_id, struct mqtt__out *o)
{
    struct mqtt__dev *d = mqtt__dev_get_or_add(srv, device_id);
    if (d->retained && d->retained->cmd_id >= o->cmd_id) {
        free(o);
        return;
    }
    free(d->retained);
    d->retained = NULL;
    if (o->len == 0) /* an empty retained message clears it (MQTT-3.3.1-6) */
        free(o);
    else
        d->retained = o;
}

void mqtt__out_subscribed(struct mqtt_server *srv, struct mqtt__dev *d)
{
    const struct mqtt__out *r = d->retained;
    if (!r)
        return;
    for (struct mqtt__out *x = d->out_head; x; x = x->next) {
        if (x->cmd_id == r->cmd_id) { /* still on its way as a new command: once is enough */
            if (x->phase == MQTT__OUT_QUEUED)
                x->as_retained = true;
            return;
        }
    }
    struct mqtt__out *c = hx_xmalloc(sizeof(*c) + r->len);
    memcpy(c, r, sizeof(*c) + r->len);
    c->retain_copy = true;
    c->as_retained = true;
    c->phase = MQTT__OUT_QUEUED;
    /* Ahead of everything waiting (MQTT-3.8.4-4: retained messages follow SUBACK). */
    struct mqtt__out *prev = NULL, *x = d->out_head;
    while (x && x->phase != MQTT__OUT_QUEUED) {
        prev = x;
        x = x->next;
    }
    c->next = x;
    if (prev)
        prev->next = c;
    else
        d->out_head = c;
    if (!x)
        d->out_tail = c;
    d->n_out++;
}

static uint32_t in_flight(const struct mqtt__dev *d)
{
    uint32_t n = 0;
    for (const struct mqtt__out *o = d->out_head; o; o = o->next)
        n += o->phase != MQTT__OUT_QUEUED;
    return n;
}

/* A packet id not used by any command in flight to d. */
static uint16_t next_packet_id(struct mqtt__dev *d)
{
    for (;;) {
        uint16_t id = d->next_packet_id++;
        if (d->next_packet_id == 0)
            d->next_packet_id = 1;
        bool used = false;
        for (const struct mqtt__out *o = d->out_head; o && !used; o = o->next)
            used = o->phase != MQTT__OUT_QUEUED && o->packet_id == id;
        if (!used && id != 0)
            return id;
    }
}

/* Bytes of the PUBLISH that would carry o (for the client's Maximum Packet Size). */
static size_t publish_size(const struct mqtt_session *s, const struct mqtt__out *o)
{
    size_t body = 2 + strlen(MQTT_TOPIC_PREFIX) + strlen(s->device_uid) + strlen("/commands") +
                  (o->sent_qos ? 2 : 0) + (s->version == MQTT_V5 ? 1 : 0) + o->len;
    return 1 + mqtt_varint_size((uint32_t)body) + body;
}

void mqtt__out_pump(struct mqtt_server *srv, struct mqtt__dev *d)
{
    struct mqtt_session *s = live_session(srv, d);
    if (!s || !d->subscribed)
        return;
    uint32_t window = MQTT_OUT_WINDOW;
    if (s->client_receive_max && s->client_receive_max < window)
        window = s->client_receive_max;
    uint32_t flying = in_flight(d);
    int64_t now = hx_time_now_us();
    struct mqtt__out *prev = NULL, *o = d->out_head;
    while (o && s->state == MQTT__CONNECTED) {
        struct mqtt__out *next = o->next;
        if (o->phase != MQTT__OUT_QUEUED) {
            prev = o;
            o = next;
            continue;
        }
        if (!o->retain_copy && o->expires_us <= now) {
            log_info(&s->lc, "mqtt", "command expired before delivery", "command=%lld",
                     (long long)o->cmd_id);
            note(srv, o, STORE_CMD_EXPIRED);
            fifo_remove(d, prev, o);
            o = next;
            continue;
        }
        o->sent_qos = o->qos < d->sub_qos ? o->qos : d->sub_qos;
        if (o->sent_qos > 0 && flying >= window)
            break;
        if (s->client_max_packet && publish_size(s, o) > s->client_max_packet) {
            /* MQTT-3.1.2-25: never send it; it counts as gone. */
            log_warn(&s->lc, "mqtt", "command larger than the device accepts: dropped",
                     "command=%lld bytes=%zu max=%u", (long long)o->cmd_id, o->len,
                     s->client_max_packet);
            note(srv, o, STORE_CMD_EXPIRED);
            fifo_remove(d, prev, o);
            o = next;
            continue;
        }
        if (o->sent_qos > 0)
            o->packet_id = next_packet_id(d);
        if (mqtt__send_command(s, o, false, o->as_retained) < 0)
            return;
        srv->stats.commands_sent++;
        log_info(&s->lc, "mqtt", "command sent", "command=%lld qos=%u retained=%d",
                 (long long)o->cmd_id, o->sent_qos, o->as_retained);
        if (o->sent_qos == 0) {
            note(srv, o, STORE_CMD_DELIVERED);
            fifo_remove(d, prev, o);
        } else {
            o->phase = MQTT__OUT_WAIT_ACK;
            note(srv, o, STORE_CMD_SENT);
            flying++;
            prev = o;
        }
        o = next;
    }
}

/* The in-flight command with this packet id in phase, and its predecessor. */
static struct mqtt__out *find(struct mqtt__dev *d, uint16_t packet_id, uint8_t phase, uint8_t qos,
                              struct mqtt__out **prev_out)
{
    struct mqtt__out *prev = NULL;
    for (struct mqtt__out *o = d->out_head; o; prev = o, o = o->next) {
        if (o->phase == phase && o->packet_id == packet_id && (!qos || o->sent_qos == qos)) {
            *prev_out = prev;
            return o;
        }
    }
    return NULL;
}

int mqtt__out_handle_ack(struct mqtt_session *s, const struct mqtt_ack *a)
{
    struct mqtt_server *srv = s->srv;
    struct mqtt__dev *d = mqtt__dev_get(srv, s->device_id);
    struct mqtt__out *prev = NULL, *o = NULL;
    bool refused = s->version == MQTT_V5 && a->reason >= 0x80;
    switch (a->type) {
    case MQTT_PUBACK:
        o = d ? find(d, a->packet_id, MQTT__OUT_WAIT_ACK, 1, &prev) : NULL;
        if (!o)
            break;
        log_info(&s->lc, "mqtt", "command acknowledged", "command=%lld reason=0x%02x",
                 (long long)o->cmd_id, a->reason);
        note(srv, o, STORE_CMD_DELIVERED);
        fifo_remove(d, prev, o);
        break;
    case MQTT_PUBREC:
        o = d ? find(d, a->packet_id, MQTT__OUT_WAIT_ACK, 2, &prev) : NULL;
        if (!o) {
            /* A PUBREC for nothing we sent: answer so the client can let go (5.0 0x92). */
            return mqtt__send_ack(s, MQTT_PUBREL, a->packet_id,
                                  s->version == MQTT_V5 ? MQTT_RC_PACKET_ID_NOT_FOUND : 0, NULL) < 0
                       ? MQTT__RC_CLOSED
                       : 0;
        }
        log_info(&s->lc, "mqtt", "command received", "command=%lld reason=0x%02x",
                 (long long)o->cmd_id, a->reason);
        note(srv, o, STORE_CMD_DELIVERED);
        if (refused) { /* 5.0 §4.3.3: a PUBREC >= 0x80 ends the exchange */
            fifo_remove(d, prev, o);
            break;
        }
        o->phase = MQTT__OUT_WAIT_COMP;
        if (mqtt__send_ack(s, MQTT_PUBREL, a->packet_id, MQTT_RC_SUCCESS, NULL) < 0)
            return MQTT__RC_CLOSED;
        return 0; /* the window frees at PUBCOMP */
    case MQTT_PUBCOMP:
        o = d ? find(d, a->packet_id, MQTT__OUT_WAIT_COMP, 0, &prev) : NULL;
        if (o)
            fifo_remove(d, prev, o);
        break;
    default:
        break;
    }
    if (!o)
        log_debug(&s->lc, "mqtt", "ignoring an ack for a packet id not in flight",
                  "type=%u packet_id=%u", a->type, a->packet_id);
    else
        mqtt__out_pump(srv, d);
    return 0;
}

void mqtt__out_reset(struct mqtt_server *srv, struct mqtt__dev *d, bool requeue)
{
    struct mqtt__out *prev = NULL, *o = d->out_head;
    while (o) {
        struct mqtt__out *next = o->next;
        /* A replayed retained copy belongs to the subscription; a command past PUBREC is
         * delivered already: neither goes back in the queue. */
        if (!requeue || o->retain_copy || o->phase == MQTT__OUT_WAIT_COMP) {
            fifo_remove(d, prev, o);
        } else {
            if (o->phase == MQTT__OUT_WAIT_ACK)
                note(srv, o, STORE_CMD_QUEUED);
            o->phase = MQTT__OUT_QUEUED;
            o->packet_id = 0;
            prev = o;
        }
        o = next;
    }
}
