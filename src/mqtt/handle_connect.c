/*
 * CONNECT: protocol level, device authentication (username = device id + password = device
 * secret checked in constant time against the registry's keyed hash, or a verified TLS
 * client certificate whose CN is the device id), client id = device id (an empty
 * client id is assigned the device id), device status, the will (only to the device's own
 * topics), the session (resumed or new, dev.c), then CONNACK with our limits and decisions
 * (5.0 properties), then whatever the resumed session still owes the device. Refusals get a
 * CONNACK reason and a close.
 * Layer: mqtt (front end). Thread: loop.
 */
#include "core/err.h"
#include "core/hxtime.h"
#include "ingest/registry.h"
#include "mqtt/session_int.h"

#include <string.h>

/* A hash that matches no secret, compared against when the device is unknown so that an
 * unknown id costs the same time as a wrong secret. */
static const char dummy_hash[] = "0000000000000000000000000000000000000000000000000000000000000000";

/* Sends the refusal CONNACK (if the version has a code for it) and closes. */
static int refuse(struct mqtt_session *s, uint8_t version, uint8_t reason, const char *why,
                  struct slice who)
{
    char dev[DEV_ID_MAX];
    mqtt__sanitize(dev, sizeof(dev), who);
    s->srv->stats.refused++;
    log_warn(&s->lc, "mqtt", "refusing connection", "why=\"%s\" device=\"%s\" reason=0x%02x", why,
             dev, reason);
    if (version == MQTT_V5) {
        mqtt__send_connack(s, MQTT_V5, reason, NULL);
    } else {
        uint8_t code = mqtt_reason_to_v311_connack(reason);
        if (code != MQTT_V311_CONNACK_NONE)
            mqtt__send_connack(s, MQTT_V311, code, NULL);
    }
    s->version = version;
    mqtt__session_close(s, 0);
    return MQTT__RC_CLOSED;
}

int mqtt__handle_connect(struct mqtt_session *s, const struct mqtt_frame *f)
{
    struct mqtt_connect c;
    uint8_t reason = 0;
    memset(&c, 0, sizeof(c));
    if (mqtt_connect_decode(f, &c, &reason) < 0) {
        if (c.level != MQTT_V311 && c.level != MQTT_V5 && reason != MQTT_RC_UNSUPPORTED_VERSION)
            return mqtt__session_fail(s, reason, "malformed CONNECT");
        /* Answered with a CONNACK refusal, and still a protocol violation to count. */
        s->srv->stats.protocol_errors++;
        if (reason == MQTT_RC_UNSUPPORTED_VERSION) /* MQTT-3.1.2-1/2 */
            return refuse(s, c.level >= MQTT_V5 ? MQTT_V5 : MQTT_V311, reason,
                          "unsupported protocol name or version", slice_make(NULL, 0));
        return refuse(s, c.level, reason, "malformed CONNECT", slice_make(NULL, 0));
    }
    uint8_t v = c.level;
    s->version = v;

    /* Who is it? A verified certificate names the device; otherwise the username does. */
    const char *cn = s->conn ? net_conn_peer_cn(s->conn) : NULL;
    struct slice who = cn ? slice_cstr(cn) : c.username;
    if (cn && c.has_username && !slice_eq_cstr(c.username, cn))
        return refuse(s, v, MQTT_RC_BAD_USERNAME_PASSWORD, "username differs from certificate",
                      c.username);
    if (!cn && !c.has_username)
        return refuse(s, v, MQTT_RC_BAD_USERNAME_PASSWORD, "no credentials", who);

    const struct reg_device *d = reg_find(s->srv->reg, who);
    if (!cn) {
        const char *hash = d && d->secret_hash[0] ? d->secret_hash : dummy_hash;
        bool ok = c.has_password && sec_secret_verify(s->srv->key, (const char *)c.password.ptr,
                                                      c.password.len, hash);
        if (!d)
            return refuse(s, v, MQTT_RC_BAD_USERNAME_PASSWORD, "unknown device", who);
        if (!ok || !d->secret_hash[0])
            return refuse(s, v, MQTT_RC_BAD_USERNAME_PASSWORD, "wrong secret", who);
    } else if (!d) {
        return refuse(s, v, MQTT_RC_BAD_USERNAME_PASSWORD, "certificate names an unknown device",
                      who);
    }
    /* medhub policy: client id = device id. An empty one (5.0 §3.1.3.1; 3.1.1 only with a
     * clean session, MQTT-3.1.3-7) is given the device id. */
    bool assign = c.client_id.len == 0 && (v == MQTT_V5 || c.clean_start);
    if (!assign && !slice_eq_cstr(c.client_id, d->uid))
        return refuse(s, v, MQTT_RC_CLIENT_ID_INVALID, "client id is not the device id", who);
    if (d->status != DEV_STATUS_ACTIVE)
        return refuse(
            s, v, MQTT_RC_NOT_AUTHORIZED,
            d->status == DEV_STATUS_QUARANTINED ? "device quarantined" : "device disabled", who);

    /* Accepted. Copy what outlives the packet. */
    s->device_id = d->id;
    memcpy(s->device_uid, d->uid, sizeof(s->device_uid));
    s->lc.device = s->device_uid;
    s->cert_auth = cn != NULL;
    s->keep_alive = c.keep_alive;
    s->clean_start = c.clean_start;
    s->client_receive_max = 0xFFFF;
    struct mqtt__connack_info info = {.assigned_id = assign && v == MQTT_V5 ? d->uid : NULL};
    bool persistent = v == MQTT_V311 && !c.clean_start;
    uint32_t expiry = persistent ? MQTT_SESSION_EXPIRY_MAX_S : 0;
    if (v == MQTT_V5) {
        if (mqtt_props_has(&c.props, MQTT_PROP_RECEIVE_MAXIMUM))
            s->client_receive_max = c.props.receive_maximum;
        if (mqtt_props_has(&c.props, MQTT_PROP_SESSION_EXPIRY)) {
            expiry = c.props.session_expiry;
            if (expiry > MQTT_SESSION_EXPIRY_MAX_S) { /* 0xFFFFFFFF (never) included */
                expiry = MQTT_SESSION_EXPIRY_MAX_S;
                info.send_expiry = true;
                info.session_expiry = expiry;
            }
            persistent = expiry > 0;
        }
        if (c.keep_alive == 0 || c.keep_alive > MQTT_KEEP_ALIVE_MAX_S) {
            s->keep_alive = MQTT_KEEP_ALIVE_MAX_S;
            info.server_keep_alive = MQTT_KEEP_ALIVE_MAX_S;
        }
        if (mqtt_props_has(&c.props, MQTT_PROP_REQUEST_PROBLEM_INFO))
            s->problem_info = c.props.request_problem_info != 0;
        if (mqtt_props_has(&c.props, MQTT_PROP_MAXIMUM_PACKET_SIZE))
            s->client_max_packet = c.props.maximum_packet_size;
        s->connect_expiry_zero =
            !mqtt_props_has(&c.props, MQTT_PROP_SESSION_EXPIRY) || c.props.session_expiry == 0;
    }
    uint8_t will_reason;
    struct mqtt__will *will = mqtt__will_from_connect(s, &c, &will_reason);
    if (will_reason != MQTT_RC_SUCCESS)
        return refuse(s, v, will_reason,
                      will_reason == MQTT_RC_NOT_AUTHORIZED ? "will topic not allowed"
                                                            : "will payload is not valid SenML",
                      who);
    /* MQTT-3.1.4-2 (5.0: reason 0x8E): a device connected twice keeps only its newest
     * connection. */
    struct mqtt_session *old = hx_idmap_get(&s->srv->live, s->device_id);
    if (old && old != s) {
        s->srv->stats.takeovers++;
        log_info(&old->lc, "mqtt", "session taken over by a new connection", "new_conn=%llu",
                 (unsigned long long)s->lc.conn);
        mqtt__session_close(old, MQTT_RC_SESSION_TAKEN_OVER);
    }
    hx_idmap_put(&s->srv->live, s->device_id, s);
    s->state = MQTT__CONNECTED;
    info.session_present = mqtt__dev_connect(s, c.clean_start, persistent, expiry);
    if (will)
        mqtt__dev_set_will(s, will);
    s->will_on_close = will != NULL;
    if (mqtt__send_connack(s, v, MQTT_RC_SUCCESS, &info) < 0)
        return MQTT__RC_CLOSED;
    s->srv->stats.connected++;
    reg_note_connect(s->srv->reg, s->device_id, hx_time_now_us());
    mqtt__session_keepalive_start(s);
    log_info(&s->lc, "mqtt", "device connected",
             "version=%s auth=%s keep_alive=%u clean=%d will=%d session_present=%d",
             v == MQTT_V5 ? "5.0" : "3.1.1", s->cert_auth ? "certificate" : "secret", s->keep_alive,
             c.clean_start, c.will, info.session_present);
    mqtt__dev_resume(s);
    return 0;
}
