/*
 * PUBLISH from a device: v5 property checks (Topic Alias, Retain), the topic ACL (a device
 * publishes only to medhub/v1/devices/{its id}/telemetry|status|events), flow control
 * (Receive Maximum), QoS 2 Method B duplicate detection, SenML decoding and normalization,
 * then telemetry and device events into the ingest pipeline with the PUBACK/PUBREC held until
 * they are durable. Status updates go to the registry, which persists them on a worker. The
 * RETAIN flag is accepted and has no further effect: nothing may subscribe to a device's
 * publish topics, so there is no one to retain a message for.
 * Layer: mqtt (front end). Thread: loop.
 */
#include "core/err.h"
#include "core/hxtime.h"
#include "core/mem.h"
#include "ingest/registry.h"
#include "mqtt/session_int.h"

#include <string.h>

/* One telemetry or events message waiting for the store. */
struct pub_req {
    struct mqtt_session *s; /* holds a reference */
    uint64_t seq;           /* ack FIFO slot, when qos > 0 */
    uint8_t qos;            /* of the PUBLISH */
    uint16_t packet_id;     /* of the PUBLISH */
    bool events;            /* device events (ingest_submit_events), else telemetry */
    uint32_t n;             /* observations or events in the message (for logs) */
};

static void on_stored(void *arg, int status)
{
    struct pub_req *r = arg;
    struct mqtt_session *s = r->s;
    /* Telemetry counters; the pipeline counts events (events_stored, events_failed). */
    if (!r->events && status == 0)
        s->srv->stats.stored++;
    else if (!r->events)
        s->srv->stats.store_failed++;
    if (s->state == MQTT__CLOSED) {
        /* Tombstone: the connection is gone; the data is stored (or not) all the same, and
         * the device resends unacknowledged messages when it reconnects. */
        log_debug(&s->lc, "mqtt", "completion after close", "status=%d", status);
    } else if (status != 0) {
        log_warn(&s->lc, "mqtt", r->events ? "storing events failed" : "storing telemetry failed",
                 "packet_id=%u qos=%u err=\"%s\"", r->packet_id, r->qos, hx_strerror(status));
        if (r->qos > 0) {
            bool v5 = s->version == MQTT_V5;
            mqtt__ack_complete(s, r->seq, MQTT_RC_UNSPECIFIED,
                               v5 && s->problem_info ? hx_xstrdup("storage unavailable") : NULL,
                               !v5);
        }
    } else {
        log_debug(&s->lc, "mqtt", r->events ? "events durable" : "telemetry durable",
                  "packet_id=%u qos=%u %s=%u", r->packet_id, r->qos, r->events ? "events" : "obs",
                  r->n);
        if (r->qos > 0)
            mqtt__ack_complete(s, r->seq, MQTT_RC_SUCCESS, NULL, false);
    }
    free(r);
    mqtt__session_unref(s);
}

/* Rejects the message for its payload. v5: PUBACK/PUBREC 0x99 with the device-facing reason
 * (unless Request Problem Information = 0). 3.1.1 has no negative ack: QoS 1/2 are
 * acknowledged anyway so the device does not resend a message that can never succeed. */
static int reject_payload(struct mqtt_session *s, const struct mqtt_publish *p,
                          const struct senml_error *e, int rc)
{
    s->srv->stats.invalid_payload++;
    log_warn(&s->lc, "mqtt", "rejecting publish: invalid payload",
             "packet_id=%u qos=%u err=\"%s\" reason=\"%s\"", p->packet_id, p->qos, hx_strerror(rc),
             e->log_reason);
    if (p->qos == 0)
        return 0;
    if (s->version == MQTT_V5)
        return mqtt__ack_now(s, p->packet_id, p->qos, MQTT_RC_PAYLOAD_FORMAT_INVALID,
                             s->problem_info ? e->reason : NULL);
    return mqtt__ack_now(s, p->packet_id, p->qos, MQTT_RC_SUCCESS, NULL);
}

/* The events of srv->events[0..n) on info lines: type and time only, since an event's text
 * may be PHI (a medication label). */
static void log_events(struct mqtt_session *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char when[40];
        hx_time_format_rfc3339(s->srv->events[i].time_us, when, sizeof(when));
        log_info(&s->lc, "mqtt", "device event", "event=%s at=%s",
                 dev_event_name(s->srv->events[i].type), when);
    }
}

/* Hands the message's n observations (srv->obs) or events (srv->events) to the pipeline with
 * an ack slot reserved; on_stored sends the PUBACK/PUBREC once they are durable. */
static int submit_message(struct mqtt_session *s, const struct mqtt_publish *p, bool events,
                          size_t n, int64_t now)
{
    struct mqtt_server *srv = s->srv;
    uint64_t seq = 0;
    if (p->qos > 0 && !mqtt__ack_push(s, p->packet_id, p->qos, &seq))
        return MQTT__RC_STALL;
    struct pub_req *r = hx_xmalloc(sizeof(*r));
    *r = (struct pub_req){.s = s,
                          .seq = seq,
                          .qos = p->qos,
                          .packet_id = p->packet_id,
                          .events = events,
                          .n = (uint32_t)n};
    int rc = events ? ingest_submit_events(srv->ig, s->device_id, srv->events, n, now, on_stored, r)
                    : ingest_submit(srv->ig, s->device_id, srv->obs, n, now, on_stored, r);
    if (rc == 0) {
        s->refs++;
        if (events)
            log_events(s, n);
        return 0;
    }
    free(r);
    if (p->qos > 0)
        mqtt__ack_pop_tail(s);
    if (rc == -EAGAIN) {
        ingest_wait_space(srv->ig, &s->waiter);
        return MQTT__RC_STALL;
    }
    if (rc == HX_ETOOBIG || rc == HX_EINVAL) {
        struct senml_error e = {.index = -1, .code = rc};
        snprintf(e.reason, sizeof(e.reason), "%s",
                 rc == HX_ETOOBIG ? "too many records in one message" : "no usable records");
        snprintf(e.log_reason, sizeof(e.log_reason), "%s", e.reason);
        return reject_payload(s, p, &e, rc);
    }
    if (rc == HX_ENOTFOUND) {
        log_warn(&s->lc, "mqtt", "closing connection: device no longer registered", NULL);
        mqtt__session_close(s, MQTT_RC_NOT_AUTHORIZED);
        return MQTT__RC_CLOSED;
    }
    log_warn(&s->lc, "mqtt",
             events ? "closing connection: cannot submit events"
                    : "closing connection: cannot submit telemetry",
             "err=\"%s\"", hx_strerror(rc));
    mqtt__session_close(s, rc == HX_ESHUTDOWN ? MQTT_RC_SERVER_SHUTTING_DOWN : MQTT_RC_UNSPECIFIED);
    return MQTT__RC_CLOSED;
}

static int handle_status(struct mqtt_session *s, const struct mqtt_publish *p, size_t n_recs,
                         int64_t now)
{
    struct dev_status_update u;
    struct senml_error e;
    int rc = senml_to_status(s->srv->recs, n_recs, &u, &e);
    if (rc < 0)
        return reject_payload(s, p, &e, rc);
    reg_note_status(s->srv->reg, s->device_id, &u, now);
    log_info(&s->lc, "mqtt", "device status", "battery=%d firmware=%d rssi=%d", u.has_battery,
             u.has_firmware, u.has_rssi);
    return p->qos ? mqtt__ack_now(s, p->packet_id, p->qos, MQTT_RC_SUCCESS, NULL) : 0;
}

static int handle_events(struct mqtt_session *s, const struct mqtt_publish *p, size_t n_recs,
                         int64_t now)
{
    size_t n_ev = 0;
    struct senml_error e;
    int rc = senml_to_events(s->srv->recs, n_recs, now, s->srv->events, &n_ev, &e);
    if (rc < 0)
        return reject_payload(s, p, &e, rc);
    if (n_ev == 0) {
        snprintf(e.reason, sizeof(e.reason), "pack has no records");
        snprintf(e.log_reason, sizeof(e.log_reason), "pack has no records");
        return reject_payload(s, p, &e, HX_EMALFORMED);
    }
    return submit_message(s, p, true, n_ev, now);
}

/* 5.0 Topic Alias (§3.3.2.3.4): a topic with an alias sets it, an empty topic uses it. */
static int resolve_alias(struct mqtt_session *s, uint16_t alias, struct slice *topic)
{
    if (alias == 0 || alias > MQTT_TOPIC_ALIAS_MAX)
        return mqtt__session_fail(s, MQTT_RC_TOPIC_ALIAS_INVALID, "topic alias out of range");
    if (!s->aliases)
        s->aliases = hx_xcalloc(MQTT_TOPIC_ALIAS_MAX, sizeof(*s->aliases));
    struct slice *slot = &s->aliases[alias - 1];
    if (topic->len == 0) {
        if (!slot->ptr)
            return mqtt__session_fail(s, MQTT_RC_PROTOCOL_ERROR, "unknown topic alias");
        *topic = *slot;
        return 0;
    }
    free((void *)slot->ptr);
    uint8_t *copy = hx_xmalloc(topic->len);
    memcpy(copy, topic->ptr, topic->len);
    *slot = slice_make(copy, topic->len);
    return 0;
}

int mqtt__handle_publish(struct mqtt_session *s, const struct mqtt_publish *p)
{
    struct mqtt_server *srv = s->srv;
    bool v5 = s->version == MQTT_V5;

    struct slice topic = p->topic;
    if (v5 && mqtt_props_has(&p->props, MQTT_PROP_TOPIC_ALIAS)) {
        int rc = resolve_alias(s, p->props.topic_alias, &topic);
        if (rc)
            return rc;
    }

    /* Flow control: in-flight QoS 1/2 over our Receive Maximum. */
    bool repeat = p->qos == 2 && mqtt__rel_has(s, p->packet_id);
    if (p->qos > 0 && !repeat && mqtt__inflight(s) >= MQTT_RECEIVE_MAX) {
        if (v5)
            return mqtt__session_fail(s, MQTT_RC_RECEIVE_MAX_EXCEEDED, "receive maximum exceeded");
        if (s->n_acks == 0) /* 3.1.1: every slot awaits a PUBREL that the client withholds */
            return mqtt__session_fail(s, MQTT_RC_RECEIVE_MAX_EXCEEDED,
                                      "too many QoS 2 messages awaiting PUBREL");
        return MQTT__RC_STALL; /* 3.1.1: wait for acks to drain */
    }
    if (p->qos > 0 && s->n_acks == MQTT_ACK_SLOTS)
        return MQTT__RC_STALL;
    srv->stats.publishes++;

    /* Device still allowed? The registry refreshes every 2 s. */
    const struct reg_device *d = reg_find_id(srv->reg, s->device_id);
    if (!d || d->status != DEV_STATUS_ACTIVE) {
        srv->stats.acl_denied++;
        log_warn(&s->lc, "mqtt", "closing connection: device disabled or removed", NULL);
        mqtt__session_close(s, MQTT_RC_NOT_AUTHORIZED);
        return MQTT__RC_CLOSED;
    }

    enum mqtt__leaf leaf = mqtt__topic_leaf(s->device_uid, topic);
    if (leaf == MQTT__LEAF_NONE) {
        char shown[128];
        mqtt__sanitize(shown, sizeof(shown), topic);
        srv->stats.acl_denied++;
        log_warn(&s->lc, "mqtt", "refusing publish: topic not allowed for this device",
                 "topic=\"%s\" qos=%u", shown, p->qos);
        if (!v5)
            return mqtt__session_fail(s, MQTT_RC_NOT_AUTHORIZED, "publish to a foreign topic");
        if (p->qos == 0)
            return 0;
        return mqtt__ack_now(s, p->packet_id, p->qos, MQTT_RC_NOT_AUTHORIZED,
                             s->problem_info ? "topic not allowed for this device" : NULL);
    }

    /* QoS 2 Method B: already stored and PUBREC'd, waiting for PUBREL: answer again. */
    if (repeat)
        return mqtt__ack_now(s, p->packet_id, 2, MQTT_RC_SUCCESS, NULL);

    /* Per-device token bucket (mqtt.publish_rate, bursts of twice the rate). */
    int64_t now = hx_time_now_us();
    if (!reg_rate_allow(srv->reg, s->device_id, now, srv->publish_rate)) {
        srv->stats.rate_limited++;
        if (!v5) { /* 3.1.1 has no negative ack: close, the device retries later */
            log_warn(&s->lc, "mqtt", "closing connection: message rate too high", "rate=%u",
                     srv->publish_rate);
            mqtt__session_close(s, MQTT_RC_MESSAGE_RATE_TOO_HIGH);
            return MQTT__RC_CLOSED;
        }
        log_debug(&s->lc, "mqtt", "refusing publish: message rate too high",
                  "packet_id=%u qos=%u rate=%u", p->packet_id, p->qos, srv->publish_rate);
        if (p->qos == 0)
            return 0;
        return mqtt__ack_now(s, p->packet_id, p->qos, MQTT_RC_MESSAGE_RATE_TOO_HIGH,
                             s->problem_info ? "message rate too high" : NULL);
    }
    reg_note_seen(srv->reg, s->device_id, now);
    struct slice ct = v5 && mqtt_props_has(&p->props, MQTT_PROP_CONTENT_TYPE)
                          ? p->props.content_type
                          : slice_make(NULL, 0);
    struct senml_out o = {.recs = srv->recs,
                          .max_recs = srv->max_recs,
                          .scratch = srv->scratch,
                          .scratch_len = MQTT_SENML_SCRATCH};
    struct senml_opts opts = {.now_us = now, .max_payload = srv->max_packet};
    struct senml_error e;
    memset(&e, 0, sizeof(e));
    int rc = senml_decode(ct, p->payload, &opts, &o, &e);
    if (rc < 0)
        return reject_payload(s, p, &e, rc);
    if (leaf == MQTT__LEAF_STATUS)
        return handle_status(s, p, o.n_recs, now);
    if (leaf == MQTT__LEAF_EVENTS)
        return handle_events(s, p, o.n_recs, now);

    size_t n_obs = 0;
    struct senml_obs_stats st;
    rc = senml_to_obs(srv->recs, o.n_recs, now, srv->obs, &n_obs, &st, &e);
    if (rc < 0)
        return reject_payload(s, p, &e, rc);
    if (n_obs == 0) {
        snprintf(e.reason, sizeof(e.reason), "pack has no records");
        snprintf(e.log_reason, sizeof(e.log_reason), "pack has no records");
        return reject_payload(s, p, &e, HX_EMALFORMED);
    }
    if (st.n_nonconformant)
        log_debug(&s->lc, "mqtt", "non-conformant units tolerated", "records=%zu",
                  st.n_nonconformant);
    return submit_message(s, p, false, n_obs, now);
}
